// SPDX-License-Identifier: BSD-3-Clause
/// \brief Posterior sample mean and covariance, and their errors against a closed form (gaussian_linear).
#pragma once

#include <osbi/core/error.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace osbi::diagnostics {

/// Column means of `samples` (rows are samples). InvalidArgument for 0 rows or a non-finite entry.
inline Eigen::VectorXd sample_mean(const Eigen::MatrixXd& samples) {
  constexpr const char* part = "osbi::diagnostics::sample_mean";
  require(samples.rows() >= 1, part, "the samples have 0 rows");
  require(samples.allFinite(), part, "the samples contain a NaN or Inf");
  return samples.colwise().mean().transpose();
}

/// Unbiased sample covariance (divides by n − 1). InvalidArgument for fewer than 2 rows or a
/// non-finite entry.
inline Eigen::MatrixXd sample_covariance(const Eigen::MatrixXd& samples) {
  constexpr const char* part = "osbi::diagnostics::sample_covariance";
  require(samples.rows() >= 2, part, "the samples have ", samples.rows(), " rows: a covariance needs at least 2");
  require(samples.allFinite(), part, "the samples contain a NaN or Inf");
  const Eigen::MatrixXd centered = samples.rowwise() - samples.colwise().mean();
  return (centered.transpose() * centered) / static_cast<double>(samples.rows() - 1);
}

/// Errors of the sample moments against the true ones.
struct MomentErrors {
  double max_abs_mean_error = 0.0;        ///< max_i |m_i − μ_i|
  double max_abs_covariance_error = 0.0;  ///< max_ij |S_ij − Σ_ij|
  double relative_mean_error = 0.0;       ///< ‖m − μ‖₂ / ‖μ‖₂ (‖m − μ‖₂ when μ = 0)
  double relative_covariance_error = 0.0; ///< ‖S − Σ‖_F / ‖Σ‖_F
};

/// Sample mean m and covariance S of `samples` against a closed-form mean μ and covariance Σ
/// (e.g. gaussian_linear's posterior: μ = x₀/2, Σ = 0.05·I). DimensionMismatch naming the sizes when
/// μ or Σ do not match the sample dimension.
inline MomentErrors moment_errors(const Eigen::MatrixXd& samples, const Eigen::VectorXd& mean,
                                  const Eigen::MatrixXd& covariance) {
  constexpr const char* part = "osbi::diagnostics::moment_errors";
  const auto dim = static_cast<std::size_t>(samples.cols());
  require_extent(static_cast<std::size_t>(mean.size()), dim, part, "the true mean (must equal the sample dimension)");
  require_extent(static_cast<std::size_t>(covariance.rows()), dim, part, "the true covariance's row count");
  require_extent(static_cast<std::size_t>(covariance.cols()), dim, part, "the true covariance's column count");
  const Eigen::VectorXd m = sample_mean(samples);
  const Eigen::MatrixXd s = sample_covariance(samples);
  MomentErrors errors;
  errors.max_abs_mean_error = (m - mean).cwiseAbs().maxCoeff();
  errors.max_abs_covariance_error = (s - covariance).cwiseAbs().maxCoeff();
  const double mean_norm = mean.norm();
  errors.relative_mean_error = (m - mean).norm() / (mean_norm > 0.0 ? mean_norm : 1.0);
  const double covariance_norm = covariance.norm();
  require(covariance_norm > 0.0, part, "the true covariance is 0: the relative error is undefined");
  errors.relative_covariance_error = (s - covariance).norm() / covariance_norm;
  return errors;
}

} // namespace osbi::diagnostics
