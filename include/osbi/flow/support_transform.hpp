// SPDX-License-Identifier: BSD-3-Clause
/// \brief Bijection between R^D and a prior's support, so a density estimated on R^D never puts mass outside it.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace osbi {

/*
 * SupportTransform — θ = T(u) dimension by dimension, chosen from the support's bounds:
 *   both finite   θ = low + (high − low)·σ(u)        (logit on the way back)
 *   lower only    θ = low + exp(u)
 *   upper only    θ = high − exp(u)
 *   neither       θ = u
 *
 *   to_support(space, u, theta [, log_det])    θ = T(u); log_det(i) += Σ_j log|dθ_j/du_j| if given.
 *                                             θ is kept strictly inside finite bounds even where
 *                                             Scalar rounding would land on one.
 *   from_support(space, theta, u [, log_det])  u = T⁻¹(θ); log_det(i) += Σ_j log|du_j/dθ_j| if given —
 *                                             the term that turns log q_u(u) into log q_θ(θ). A row
 *                                             outside the support (or on a finite bound) gets
 *                                             log_det = −∞ and u = 0 (finite, so nothing downstream
 *                                             turns −∞ into NaN); a NaN row gets NaN.
 * Arithmetic in double inside the kernels.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class SupportTransform {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  enum Kind : int { identity = 0, lower_bounded = 1, upper_bounded = 2, interval = 3 };

  explicit SupportTransform(const SupportBounds& bounds)
      : m_kind("osbi::flow::SupportTransform::kind", bounds.lower.size()),
        m_lower("osbi::flow::SupportTransform::lower", bounds.lower.size()),
        m_upper("osbi::flow::SupportTransform::upper", bounds.lower.size()) {
    require<DimensionMismatch>(bounds.lower.size() == bounds.upper.size(), "osbi::SupportTransform", "lower has ",
                               bounds.lower.size(), " entries but upper has ", bounds.upper.size());
    require(!bounds.lower.empty(), "osbi::SupportTransform", "the support has no dimensions");
    auto kind = Kokkos::create_mirror_view(m_kind);
    auto lower = Kokkos::create_mirror_view(m_lower);
    auto upper = Kokkos::create_mirror_view(m_upper);
    for (std::size_t j = 0; j < bounds.lower.size(); ++j) {
      const double low = bounds.lower[j], high = bounds.upper[j];
      require(!std::isnan(low) && !std::isnan(high) && low < high, "osbi::SupportTransform", "lower[", j, "] = ", low,
              " must be < upper[", j, "] = ", high);
      const bool has_low = std::isfinite(low), has_high = std::isfinite(high);
      kind(j) = has_low && has_high ? interval : (has_low ? lower_bounded : (has_high ? upper_bounded : identity));
      lower(j) = low, upper(j) = high;
      m_is_identity = m_is_identity && kind(j) == identity;
    }
    Kokkos::deep_copy(m_kind, kind);
    Kokkos::deep_copy(m_lower, lower);
    Kokkos::deep_copy(m_upper, upper);
  }

  std::size_t dim() const { return m_kind.extent(0); }
  bool is_identity() const { return m_is_identity; }

  void to_support(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& u,
                  const Matrix<Scalar, ExecutionSpace>& theta,
                  const Vector<Scalar, ExecutionSpace>& log_det = Vector<Scalar, ExecutionSpace>()) const {
    check("to_support", u, theta, log_det);
    const auto kind = m_kind;
    const auto lower = m_lower, upper = m_upper;
    const std::size_t columns = dim();
    const bool accumulate = log_det.extent(0) != 0;
    constexpr Scalar epsilon = std::numeric_limits<Scalar>::epsilon();
    constexpr Scalar smallest = std::numeric_limits<Scalar>::min();
    Kokkos::parallel_for(
        "osbi::flow::SupportTransform::to_support", Kokkos::RangePolicy<ExecutionSpace>(space, 0, u.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double total = 0;
          for (std::size_t j = 0; j < columns; ++j) {
            const double v = static_cast<double>(u(i, j));
            double value = v;
            switch (kind(j)) {
            case interval: {
              // σ(v) and log σ'(v) = −softplus(v) − softplus(−v), stable for large |v|.
              const double width = upper(j) - lower(j);
              const double sigmoid = v >= 0 ? 1.0 / (1.0 + math::exp(-v)) : math::exp(v) / (1.0 + math::exp(v));
              value = lower(j) + width * sigmoid;
              const double abs_v = math::fabs(v);
              total += math::log(width) - abs_v - 2.0 * math::log1p(math::exp(-abs_v));
              break;
            }
            case lower_bounded:
              value = lower(j) + math::exp(v);
              total += v;
              break;
            case upper_bounded:
              value = upper(j) - math::exp(v);
              total += v;
              break;
            default:
              break;
            }
            Scalar rounded = static_cast<Scalar>(value);
            // Keep finite bounds strict in Scalar (a sample on a bound has density zero): step inward by
            // at least one ulp, |b|·ε (or the smallest normal at 0).
            if (kind(j) == interval || kind(j) == lower_bounded) {
              const Scalar low = static_cast<Scalar>(lower(j));
              if (!(rounded > low)) rounded = low + math::fmax(math::fabs(low) * epsilon, smallest);
            }
            if (kind(j) == interval || kind(j) == upper_bounded) {
              const Scalar high = static_cast<Scalar>(upper(j));
              if (!(rounded < high)) rounded = high - math::fmax(math::fabs(high) * epsilon, smallest);
            }
            theta(i, j) = math::isnan(v) ? static_cast<Scalar>(v) : rounded;
          }
          if (accumulate) log_det(i) += static_cast<Scalar>(total);
        });
  }

  void from_support(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                    const Matrix<Scalar, ExecutionSpace>& u,
                    const Vector<Scalar, ExecutionSpace>& log_det = Vector<Scalar, ExecutionSpace>()) const {
    check("from_support", theta, u, log_det);
    const auto kind = m_kind;
    const auto lower = m_lower, upper = m_upper;
    const std::size_t columns = dim();
    const bool accumulate = log_det.extent(0) != 0;
    constexpr double minus_infinity = -std::numeric_limits<double>::infinity();
    Kokkos::parallel_for(
        "osbi::flow::SupportTransform::from_support", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double total = 0;
          bool outside = false;
          for (std::size_t j = 0; j < columns; ++j) {
            const double t = static_cast<double>(theta(i, j));
            double value = t;
            switch (kind(j)) {
            case interval: {
              const double width = upper(j) - lower(j);
              const double fraction = (t - lower(j)) / width;
              if (fraction > 0.0 && fraction < 1.0) {
                value = math::log(fraction) - math::log1p(-fraction);
                total += -math::log(width) - math::log(fraction) - math::log1p(-fraction);
              } else if (!math::isnan(t)) {
                outside = true;
              }
              break;
            }
            case lower_bounded:
              if (t > lower(j)) {
                value = math::log(t - lower(j));
                total -= value;
              } else if (!math::isnan(t)) {
                outside = true;
              }
              break;
            case upper_bounded:
              if (t < upper(j)) {
                value = math::log(upper(j) - t);
                total -= value;
              } else if (!math::isnan(t)) {
                outside = true;
              }
              break;
            default:
              break;
            }
            u(i, j) = static_cast<Scalar>(value);
            if (math::isnan(t)) total = t;
          }
          if (outside && !math::isnan(total)) {
            for (std::size_t j = 0; j < columns; ++j) u(i, j) = Scalar(0);
            total = minus_infinity;
          }
          if (accumulate) log_det(i) += static_cast<Scalar>(total);
        });
  }

private:
  void check(const char* step, const ConstMatrix<Scalar, ExecutionSpace>& in, const Matrix<Scalar, ExecutionSpace>& out,
             const Vector<Scalar, ExecutionSpace>& log_det) const {
    const std::string part = std::string("SupportTransform::") + step;
    require_extent(in.extent(1), dim(), part, "the input's column count");
    require_extent(out.extent(1), dim(), part, "the output's column count");
    require_extent(out.extent(0), in.extent(0), part, "the output's row count (must equal the input's)");
    if (log_det.extent(0) != 0)
      require_extent(log_det.extent(0), in.extent(0), part, "log_det's size (must equal the input's rows)");
  }

  Kokkos::View<int*, typename ExecutionSpace::memory_space> m_kind;
  Kokkos::View<double*, typename ExecutionSpace::memory_space> m_lower;
  Kokkos::View<double*, typename ExecutionSpace::memory_space> m_upper;
  bool m_is_identity = true;
};

} // namespace osbi
