// SPDX-License-Identifier: BSD-3-Clause
/// \brief BoxUniform: the uniform distribution on an axis-aligned box [low, high] ⊂ R^D.
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
 * BoxUniform — p(θ) = Π_i 1[low_i <= θ_i <= high_i] / (high_i − low_i). Models Prior.
 *
 *   BoxUniform(low, high)   Requires: low and high non-empty, of equal length (else DimensionMismatch),
 *                           finite, low_i < high_i, and low_i, high_i distinct and finite once rounded
 *                           to Scalar (else InvalidArgument). Needs an initialized Kokkos.
 *   sample                  θ_ij = low_j + (high_j − low_j)·u, u ~ U(0, 1) from rng.row(i), computed in
 *                           double and rounded to Scalar.
 *   log_prob                −Σ log(high_i − low_i) inside the closed box, −∞ outside, NaN for a row
 *                           holding a NaN.
 *   support()               the box as Scalar sees it: each bound rounded to Scalar (for double, exactly
 *                           low and high). Rounding is monotone, so every Scalar sample lies inside it,
 *                           and log_prob tests membership against these same rounded bounds.
 *   low(), high()           the bounds as given, on the host.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class BoxUniform {
  static_assert(std::floating_point<Scalar>,
                "osbi::BoxUniform<Scalar, ExecutionSpace>: Scalar must be a floating-point "
                "type (see osbi/prior/box_uniform.hpp)");

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  BoxUniform(std::vector<double> low, std::vector<double> high) : m_low(std::move(low)), m_high(std::move(high)) {
    require<DimensionMismatch>(m_low.size() == m_high.size(), "osbi::BoxUniform", "low has ", m_low.size(),
                               " entries but high has ", m_high.size());
    require(!m_low.empty(), "osbi::BoxUniform", "low and high are empty; a prior needs at least one dimension");
    double log_volume = 0.0;
    for (std::size_t i = 0; i < m_low.size(); ++i) {
      require(std::isfinite(m_low[i]), "osbi::BoxUniform", "low[", i, "] = ", m_low[i], " must be finite");
      require(std::isfinite(m_high[i]), "osbi::BoxUniform", "high[", i, "] = ", m_high[i], " must be finite");
      require(m_low[i] < m_high[i], "osbi::BoxUniform", "low[", i, "] = ", m_low[i], " must be < high[", i,
              "] = ", m_high[i]);
      require(std::isfinite(m_high[i] - m_low[i]), "osbi::BoxUniform", "high[", i, "] - low[", i, "] = ", m_high[i], " - ",
              m_low[i], " overflows double");
      const Scalar low_rounded = static_cast<Scalar>(m_low[i]);
      const Scalar high_rounded = static_cast<Scalar>(m_high[i]);
      require(std::isfinite(low_rounded) && std::isfinite(high_rounded) && low_rounded < high_rounded, "osbi::BoxUniform",
              "low[", i, "] = ", m_low[i], " and high[", i, "] = ", m_high[i],
              " are not distinct finite values of the scalar type (", sizeof(Scalar), "-byte floating point)");
      log_volume += std::log(m_high[i] - m_low[i]);
    }
    m_log_density = -log_volume;

    m_bounds = Kokkos::View<double* [2], memory_space>(label("prior", "BoxUniform", "bounds"), dim());
    m_rounded_bounds = Kokkos::View<Scalar* [2], memory_space>(label("prior", "BoxUniform", "rounded_bounds"), dim());
    auto bounds = Kokkos::create_mirror_view(m_bounds);
    auto rounded_bounds = Kokkos::create_mirror_view(m_rounded_bounds);
    for (std::size_t i = 0; i < dim(); ++i) {
      bounds(i, 0) = m_low[i];
      bounds(i, 1) = m_high[i];
      rounded_bounds(i, 0) = static_cast<Scalar>(m_low[i]);
      rounded_bounds(i, 1) = static_cast<Scalar>(m_high[i]);
    }
    Kokkos::deep_copy(m_bounds, bounds);
    Kokkos::deep_copy(m_rounded_bounds, rounded_bounds);
  }

  std::size_t dim() const { return m_low.size(); }
  const std::vector<double>& low() const { return m_low; }
  const std::vector<double>& high() const { return m_high; }

  SupportBounds support() const {
    SupportBounds bounds{std::vector<double>(dim()), std::vector<double>(dim())};
    for (std::size_t i = 0; i < dim(); ++i) {
      bounds.lower[i] = static_cast<double>(static_cast<Scalar>(m_low[i]));
      bounds.upper[i] = static_cast<double>(static_cast<Scalar>(m_high[i]));
    }
    return bounds;
  }

  void sample(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::BoxUniform", "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    const auto bounds = m_bounds;
    const std::size_t columns = dim();
    Kokkos::parallel_for(
        label("prior", "BoxUniform", "sample"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < columns; ++j)
            theta(i, j) = static_cast<Scalar>(generator.uniform(bounds(j, 0), bounds(j, 1)));
        });
  }

  void log_prob(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Vector<Scalar, ExecutionSpace>& out) const {
    require<DimensionMismatch>(theta.extent(1) == dim(), "osbi::BoxUniform", "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = ", dim());
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), "osbi::BoxUniform", "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    const auto bounds = m_rounded_bounds;
    const std::size_t columns = dim();
    const Scalar inside = static_cast<Scalar>(m_log_density);
    const Scalar outside = -std::numeric_limits<Scalar>::infinity();
    const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();
    Kokkos::parallel_for(
        label("prior", "BoxUniform", "log_prob"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          bool has_nan = false;
          bool is_inside = true;
          for (std::size_t j = 0; j < columns; ++j) {
            const Scalar value = theta(i, j);
            has_nan = has_nan || math::isnan(value);
            is_inside = is_inside && bounds(j, 0) <= value && value <= bounds(j, 1);
          }
          out(i) = has_nan ? not_a_number : (is_inside ? inside : outside);
        });
  }

private:
  std::vector<double> m_low;
  std::vector<double> m_high;
  double m_log_density = 0.0;
  Kokkos::View<double* [2], memory_space> m_bounds;         // as given: sampling
  Kokkos::View<Scalar* [2], memory_space> m_rounded_bounds; // rounded to Scalar: membership
};

} // namespace osbi
