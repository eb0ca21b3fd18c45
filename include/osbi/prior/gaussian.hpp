// SPDX-License-Identifier: BSD-3-Clause
/// \brief Gaussian: the multivariate normal N(μ, Σ), full or diagonal covariance, sampled through its Cholesky factor.
#pragma once

#include <osbi/prior/prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace osbi {

/*
 * Gaussian — p(θ) = N(θ; μ, Σ) on R^D, Σ = L Lᵀ (L lower triangular, positive diagonal). Models Prior.
 *
 *   Gaussian(mean, covariance)   Requires: covariance square (else InvalidArgument) with as many rows as
 *                                mean has entries (else DimensionMismatch), D > 0, all entries finite,
 *                                symmetric to a relative tolerance of 1e-10 of its largest entry, and
 *                                positive definite (Eigen::LLT succeeds); else InvalidArgument naming the
 *                                problem. The stored covariance is the symmetrized (Σ + Σᵀ)/2.
 *   Gaussian::diagonal(mean, sd) Σ = diag(sd²); requires sd_i finite and > 0. L = diag(sd) exactly.
 *   sample                       θ_i = μ + L z, z_k the k-th rng.row(i).normal(). Each z_k is drawn once and added
 *                                into every θ_ij it feeds (j ≥ k), the output row serving as the
 *                                accumulator (no run-time sized scratch in device code): O(D) normals
 *                                and O(D²) multiply-adds per row. Either way
 *                                the same z_k feed the same θ, so diagonal(μ, sd) and the full
 *                                constructor with diag(sd²) give the same draws up to rounding of L.
 *   log_prob                     −½‖L⁻¹(θ−μ)‖² − Σ log L_ii − D/2·log 2π. L⁻¹ is formed once on the host
 *                                (forward substitution by Eigen), so each row's whitening is a
 *                                scratch-free triangular mat-vec. −∞ for a row with ±∞ (and no NaN),
 *                                NaN for a row with NaN. Arithmetic in double whatever Scalar is.
 *   support()                    unbounded in every dimension.
 *   mean(), covariance()         on the host, double.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class Gaussian {
  static_assert(std::floating_point<Scalar>, "osbi::Gaussian<Scalar, ExecutionSpace>: Scalar must be a floating-point "
                                             "type (see osbi/prior/gaussian.hpp)");

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  Gaussian(std::vector<double> mean, const Eigen::MatrixXd& covariance) : m_mean(std::move(mean)) {
    require(covariance.rows() == covariance.cols(), "osbi::Gaussian", "covariance is ", covariance.rows(), " x ",
            covariance.cols(), ", it must be square");
    require<DimensionMismatch>(static_cast<std::size_t>(covariance.rows()) == m_mean.size(), "osbi::Gaussian", "mean has ",
                               m_mean.size(), " entries but covariance is ", covariance.rows(), " x ",
                               covariance.cols());
    check_mean();
    const Eigen::Index size = covariance.rows();
    double largest = 0.0;
    for (Eigen::Index i = 0; i < size; ++i)
      for (Eigen::Index j = 0; j < size; ++j) {
        require(std::isfinite(covariance(i, j)), "osbi::Gaussian", "covariance(", i, ", ", j, ") = ", covariance(i, j),
                " must be finite");
        largest = std::max(largest, std::abs(covariance(i, j)));
      }
    constexpr double symmetry_tolerance = 1e-10;
    for (Eigen::Index i = 0; i < size; ++i)
      for (Eigen::Index j = 0; j < i; ++j)
        require(std::abs(covariance(i, j) - covariance(j, i)) <= symmetry_tolerance * largest, "osbi::Gaussian",
                "covariance is not symmetric: covariance(", i, ", ", j, ") = ", covariance(i, j), " but covariance(", j,
                ", ", i, ") = ", covariance(j, i));
    m_covariance = 0.5 * (covariance + covariance.transpose());
    const Eigen::LLT<Eigen::MatrixXd> factorization(m_covariance);
    require(factorization.info() == Eigen::Success, "osbi::Gaussian", "covariance is not positive definite");
    const Eigen::MatrixXd factor = factorization.matrixL();
    for (Eigen::Index i = 0; i < size; ++i)
      require(std::isfinite(factor(i, i)) && factor(i, i) > 0.0, "osbi::Gaussian",
              "covariance is not positive definite (Cholesky pivot ", i, " = ", factor(i, i), ")");
    upload(factor, /*diagonal=*/false);
  }

  /// N(mean, diag(standard_deviation²)).
  static Gaussian diagonal(std::vector<double> mean, std::vector<double> standard_deviation) {
    return Gaussian(DiagonalTag{}, std::move(mean), std::move(standard_deviation));
  }

  std::size_t dim() const { return m_mean.size(); }
  const std::vector<double>& mean() const { return m_mean; }
  const Eigen::MatrixXd& covariance() const { return m_covariance; }
  SupportBounds support() const { return SupportBounds::unbounded(dim()); }

  void sample(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::Gaussian", "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    const auto mean = m_mean_device;
    const auto factor = m_factor;
    const std::size_t columns = dim();
    const bool diagonal = m_diagonal;
    Kokkos::parallel_for(
        label("prior", "Gaussian", "sample"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const RowRandom start = rng.row(i);
          if (diagonal) {
            RowRandom generator = start;
            for (std::size_t j = 0; j < columns; ++j)
              theta(i, j) = static_cast<Scalar>(mean(j) + factor(j, j) * generator.normal());
          } else {
            // θ_i itself is the accumulator: z_k is drawn once and added to every θ_ij it feeds (j ≥ k).
            RowRandom generator = start;
            for (std::size_t j = 0; j < columns; ++j) theta(i, j) = static_cast<Scalar>(mean(j));
            for (std::size_t k = 0; k < columns; ++k) {
              const double z = generator.normal();
              for (std::size_t j = k; j < columns; ++j)
                theta(i, j) = static_cast<Scalar>(static_cast<double>(theta(i, j)) + factor(j, k) * z);
            }
          }
        });
  }

  void log_prob(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Vector<Scalar, ExecutionSpace>& out) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::Gaussian", "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), "osbi::Gaussian", "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    const auto mean = m_mean_device;
    const auto inverse_factor = m_inverse_factor;
    const std::size_t columns = dim();
    const bool diagonal = m_diagonal;
    const double normalization = m_log_normalization;
    const Scalar minus_infinity = -std::numeric_limits<Scalar>::infinity();
    const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();
    Kokkos::parallel_for(
        label("prior", "Gaussian", "log_prob"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          bool has_nan = false;
          bool has_infinity = false;
          for (std::size_t j = 0; j < columns; ++j) {
            has_nan = has_nan || math::isnan(theta(i, j));
            has_infinity = has_infinity || math::isinf(theta(i, j));
          }
          if (has_nan) {
            out(i) = not_a_number;
            return;
          }
          if (has_infinity) {
            out(i) = minus_infinity;
            return;
          }
          double squared_norm = 0.0;
          for (std::size_t j = 0; j < columns; ++j) {
            double whitened = 0.0;
            for (std::size_t k = diagonal ? j : 0; k <= j; ++k)
              whitened += inverse_factor(j, k) * (static_cast<double>(theta(i, k)) - mean(k));
            squared_norm += whitened * whitened;
          }
          out(i) = static_cast<Scalar>(normalization - 0.5 * squared_norm);
        });
  }

private:
  struct DiagonalTag {};

  Gaussian(DiagonalTag, std::vector<double> mean, std::vector<double> standard_deviation) : m_mean(std::move(mean)) {
    require<DimensionMismatch>(standard_deviation.size() == m_mean.size(), "osbi::Gaussian", "mean has ", m_mean.size(),
                               " entries but standard_deviation has ", standard_deviation.size());
    check_mean();
    const auto size = static_cast<Eigen::Index>(m_mean.size());
    Eigen::MatrixXd factor = Eigen::MatrixXd::Zero(size, size);
    for (Eigen::Index i = 0; i < size; ++i) {
      const double deviation = standard_deviation[static_cast<std::size_t>(i)];
      require(std::isfinite(deviation) && deviation > 0.0, "osbi::Gaussian", "standard_deviation[", i, "] = ", deviation,
              " must be finite and > 0");
      factor(i, i) = deviation;
    }
    m_covariance = factor * factor.transpose();
    upload(factor, /*diagonal=*/true);
  }

  void check_mean() const {
    require(!m_mean.empty(), "osbi::Gaussian", "mean is empty; a prior needs at least one dimension");
    for (std::size_t i = 0; i < m_mean.size(); ++i)
      require(std::isfinite(m_mean[i]), "osbi::Gaussian", "mean[", i, "] = ", m_mean[i], " must be finite");
  }

  // Copies μ, L and L⁻¹ to the device and fixes the normalization −Σ log L_ii − D/2·log 2π.
  void upload(const Eigen::MatrixXd& factor, bool diagonal) {
    constexpr double log_two_pi = 1.837877066409345483560659472811;
    const std::size_t size = dim();
    const auto eigen_size = static_cast<Eigen::Index>(size);
    const Eigen::MatrixXd inverse_factor =
        factor.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(eigen_size, eigen_size));
    m_diagonal = diagonal;
    m_log_normalization = -0.5 * static_cast<double>(size) * log_two_pi;
    for (Eigen::Index i = 0; i < eigen_size; ++i)
      m_log_normalization -= std::log(factor(i, i));

    m_mean_device = Kokkos::View<double*, memory_space>(label("prior", "Gaussian", "mean"), size);
    m_factor = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>(label("prior", "Gaussian", "cholesky_factor"),
                                                                         size, size);
    m_inverse_factor = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>(
        label("prior", "Gaussian", "inverse_cholesky_factor"), size, size);
    auto mean_host = Kokkos::create_mirror_view(m_mean_device);
    auto factor_host = Kokkos::create_mirror_view(m_factor);
    auto inverse_host = Kokkos::create_mirror_view(m_inverse_factor);
    for (std::size_t i = 0; i < size; ++i) {
      mean_host(i) = m_mean[i];
      for (std::size_t j = 0; j < size; ++j) {
        const bool lower = j <= i && (!diagonal || j == i);
        factor_host(i, j) = lower ? factor(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) : 0.0;
        inverse_host(i, j) = lower ? inverse_factor(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) : 0.0;
      }
    }
    Kokkos::deep_copy(m_mean_device, mean_host);
    Kokkos::deep_copy(m_factor, factor_host);
    Kokkos::deep_copy(m_inverse_factor, inverse_host);
  }

  std::vector<double> m_mean;
  Eigen::MatrixXd m_covariance;
  bool m_diagonal = false;
  double m_log_normalization = 0.0;
  Kokkos::View<double*, memory_space> m_mean_device;
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> m_factor;         // L
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> m_inverse_factor; // L⁻¹
};

} // namespace osbi
