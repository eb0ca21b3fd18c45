// SPDX-License-Identifier: BSD-3-Clause
/// \brief ProposalArchetype: the least type that models osbi::Proposal (and is not a Prior), for compile tests of generic code.
#pragma once

#include <osbi/prior/prior.hpp>
#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

namespace osbi::testing {

/*
 * ProposalArchetype — exactly the members the Proposal concept names (proposal/proposal.hpp), const as the
 * concept asks, and nothing else: no support() (so it is not a Prior), no round() (so it is not a
 * VersionedProposal and proposal_round gives 0), no default constructor, no copy. Generic code that compiles with
 * it draws θ through the concept alone.
 *
 * It behaves as the spec says, so check_proposal passes and NPE can simulate from it: one dimension, density
 * p̃(θ) = 2θ on (0, 1] (θ = √u, u uniform from rng.row(i)), log p̃ = log 2θ, −∞ elsewhere, NaN for NaN. Its draws
 * lie inside PriorArchetype's support but are not the prior's, so a test can tell the two log densities apart.
 *
 * ProposalArchetypeOn<Space> is the same on another execution space: an online pipeline draws θ on its worker
 * threads, which with Kokkos 3.x must not be OpenMP (the default space of an OpenMP build).
 */
template <class ExecutionSpace>
class ProposalArchetypeOn {
public:
  using scalar_type = double;
  using execution_space = ExecutionSpace;

  /// The tag only says "constructed on purpose" (there is no default constructor).
  explicit ProposalArchetypeOn(std::in_place_t) {}
  ProposalArchetypeOn(const ProposalArchetypeOn&) = delete;
  ProposalArchetypeOn& operator=(const ProposalArchetypeOn&) = delete;
  ProposalArchetypeOn(ProposalArchetypeOn&&) = default;
  ProposalArchetypeOn& operator=(ProposalArchetypeOn&&) = default;

  std::size_t dim() const { return 1; }

  void sample(const execution_space& space, BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) const {
    require<DimensionMismatch>(theta.extent(1) == 1, part, "sample: theta has ", theta.extent(1),
                               " columns, expected dim() = 1");
    Kokkos::parallel_for(
        "osbi::testing::ProposalArchetype::sample", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { theta(i, 0) = math::sqrt(rng.row(i).uniform()); });
  }

  void log_prob(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                const Vector<scalar_type, execution_space>& out) const {
    require<DimensionMismatch>(theta.extent(1) == 1, part, "log_prob: theta has ", theta.extent(1),
                               " columns, expected dim() = 1");
    require<DimensionMismatch>(out.extent(0) == theta.extent(0), part, "log_prob: out has ", out.extent(0),
                               " entries but theta has ", theta.extent(0), " rows");
    constexpr double minus_infinity = -std::numeric_limits<double>::infinity();
    Kokkos::parallel_for(
        "osbi::testing::ProposalArchetype::log_prob", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double value = theta(i, 0);
          // NaN fails both comparisons, so it is tested first to come out as NaN.
          out(i) = value != value ? value : (0.0 < value && value <= 1.0 ? math::log(2.0 * value) : minus_infinity);
        });
  }

private:
  static constexpr const char* part = "osbi::testing::ProposalArchetype";
};

using ProposalArchetype = ProposalArchetypeOn<DefaultExecutionSpace>;

static_assert(Proposal<ProposalArchetype>,
              "osbi::testing::ProposalArchetype must model osbi::Proposal (osbi/proposal/proposal.hpp)");
static_assert(!Prior<ProposalArchetype> && !VersionedProposal<ProposalArchetype>,
              "osbi::testing::ProposalArchetype must not be a Prior or a VersionedProposal (no support(), no round())");
static_assert(!std::is_copy_constructible_v<ProposalArchetype> && !std::is_default_constructible_v<ProposalArchetype>,
              "osbi::testing::ProposalArchetype must stay minimal");

} // namespace osbi::testing
