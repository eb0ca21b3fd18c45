// SPDX-License-Identifier: BSD-3-Clause
/// \brief LogNormal: independent log-normal coordinates, log θ_i ~ N(μ_i, σ_i²), support (0, ∞)^D.
#pragma once

#include <osbi/prior/prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace osbi {

/*
 * LogNormal — p(θ) = Π_i N(log θ_i; μ_i, σ_i²) / θ_i for θ_i > 0. Models Prior.
 *
 *   LogNormal(log_mean, log_standard_deviation)
 *                   μ and σ of log θ. Requires: equal, non-zero lengths (else DimensionMismatch /
 *                   InvalidArgument), μ_i finite, σ_i finite and > 0 (else InvalidArgument).
 *   sample          θ_ij = exp(μ_j + σ_j z_j), z_j the j-th rng.row(i).normal(); computed in double,
 *                   rounded to Scalar. (A float prior whose μ ± several σ leaves float's exponent range
 *                   can round a draw to 0 or ∞; keep log-parameters within about ±80 for float.)
 *   log_prob        Σ_i [−log θ_i − log σ_i − ½ log 2π − (log θ_i − μ_i)² / (2σ_i²)], −∞ if any θ_i <= 0,
 *                   NaN for a row with NaN. Arithmetic in double.
 *   support()       lower 0, upper +∞ in every dimension (the density is 0 at θ_i = 0 itself).
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class LogNormal {
  static_assert(std::floating_point<Scalar>, "osbi::LogNormal<Scalar, ExecutionSpace>: Scalar must be a floating-point "
                                             "type (see osbi/prior/log_normal.hpp)");

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  LogNormal(std::vector<double> log_mean, std::vector<double> log_standard_deviation)
      : m_log_mean(std::move(log_mean)), m_log_standard_deviation(std::move(log_standard_deviation)) {
    require<DimensionMismatch>(m_log_mean.size() == m_log_standard_deviation.size(), "osbi::LogNormal", "log_mean has ",
                               m_log_mean.size(), " entries but log_standard_deviation has ",
                               m_log_standard_deviation.size());
    require(!m_log_mean.empty(), "osbi::LogNormal", "log_mean is empty; a prior needs at least one dimension");
    constexpr double half_log_two_pi = 0.918938533204672741780329736406;
    m_log_normalization = 0.0;
    for (std::size_t i = 0; i < dim(); ++i) {
      require(std::isfinite(m_log_mean[i]), "osbi::LogNormal", "log_mean[", i, "] = ", m_log_mean[i], " must be finite");
      require(std::isfinite(m_log_standard_deviation[i]) && m_log_standard_deviation[i] > 0.0, "osbi::LogNormal",
              "log_standard_deviation[", i, "] = ", m_log_standard_deviation[i], " must be finite and > 0");
      m_log_normalization -= std::log(m_log_standard_deviation[i]) + half_log_two_pi;
    }
    m_parameters = Kokkos::View<double* [2], memory_space>(label("prior", "LogNormal", "parameters"), dim());
    auto parameters = Kokkos::create_mirror_view(m_parameters);
    for (std::size_t i = 0; i < dim(); ++i) {
      parameters(i, 0) = m_log_mean[i];
      parameters(i, 1) = m_log_standard_deviation[i];
    }
    Kokkos::deep_copy(m_parameters, parameters);
  }

  std::size_t dim() const { return m_log_mean.size(); }
  const std::vector<double>& log_mean() const { return m_log_mean; }
  const std::vector<double>& log_standard_deviation() const { return m_log_standard_deviation; }

  SupportBounds support() const {
    return SupportBounds{std::vector<double>(dim(), 0.0),
                         std::vector<double>(dim(), std::numeric_limits<double>::infinity())};
  }

  void sample(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::LogNormal", "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    const auto parameters = m_parameters;
    const std::size_t columns = dim();
    Kokkos::parallel_for(
        label("prior", "LogNormal", "sample"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < columns; ++j)
            theta(i, j) = static_cast<Scalar>(math::exp(generator.normal(parameters(j, 0), parameters(j, 1))));
        });
  }

  void log_prob(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Vector<Scalar, ExecutionSpace>& out) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::LogNormal", "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), "osbi::LogNormal", "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    const auto parameters = m_parameters;
    const std::size_t columns = dim();
    const double normalization = m_log_normalization;
    const Scalar minus_infinity = -std::numeric_limits<Scalar>::infinity();
    const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();
    Kokkos::parallel_for(
        label("prior", "LogNormal", "log_prob"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          bool has_nan = false;
          bool is_inside = true;
          for (std::size_t j = 0; j < columns; ++j) {
            has_nan = has_nan || math::isnan(theta(i, j));
            is_inside = is_inside && theta(i, j) > Scalar(0);
          }
          if (has_nan || !is_inside) {
            out(i) = has_nan ? not_a_number : minus_infinity;
            return;
          }
          double value = normalization;
          for (std::size_t j = 0; j < columns; ++j) {
            const double log_theta = math::log(static_cast<double>(theta(i, j)));
            const double standardized = (log_theta - parameters(j, 0)) / parameters(j, 1);
            value -= log_theta + 0.5 * standardized * standardized;
          }
          out(i) = static_cast<Scalar>(value);
        });
  }

private:
  std::vector<double> m_log_mean;
  std::vector<double> m_log_standard_deviation;
  double m_log_normalization = 0.0;
  Kokkos::View<double* [2], memory_space> m_parameters; // (μ_i, σ_i)
};

} // namespace osbi
