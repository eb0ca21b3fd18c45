// SPDX-License-Identifier: BSD-3-Clause
/// \brief PriorArchetype: the least type that models osbi::Prior, for compile tests of generic code.
#pragma once

#include <osbi/prior/prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <limits>

namespace osbi::testing {

/// Exactly the members the Prior concept names, with exactly its signatures, and nothing else (no
/// default template arguments, no accessors, no extra overloads): generic code that compiles with
/// it uses no more than the concept promises. The members also behave as the spec says (the uniform
/// distribution on [0, 1], one dimension), so check_prior(PriorArchetype{}) passes and generic code
/// can run with it, not only compile.
class PriorArchetype {
public:
  using scalar_type = double;
  using execution_space = DefaultExecutionSpace;

  std::size_t dim() const { return 1; }

  void sample(const execution_space& space, BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == 1, "osbi::testing::PriorArchetype", "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = 1");
    Kokkos::parallel_for(
        label("testing", "PriorArchetype", "sample"), Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { theta(i, 0) = rng.row(i).uniform(); });
  }

  void log_prob(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                const Vector<scalar_type, execution_space>& out) const {
    require<DimensionMismatch>(theta.extent(1) == 1, "osbi::testing::PriorArchetype", "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = 1");
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), "osbi::testing::PriorArchetype", "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    constexpr double minus_infinity = -std::numeric_limits<double>::infinity();
    Kokkos::parallel_for(
        label("testing", "PriorArchetype", "log_prob"), Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double value = theta(i, 0);
          // NaN fails both comparisons, so it must be tested first to come out as NaN.
          out(i) = value != value ? value : (0.0 <= value && value <= 1.0 ? 0.0 : minus_infinity);
        });
  }

  SupportBounds support() const { return SupportBounds{{0.0}, {1.0}}; }
};

static_assert(Prior<PriorArchetype>, "osbi::testing::PriorArchetype must model osbi::Prior (osbi/prior/prior.hpp)");

} // namespace osbi::testing
