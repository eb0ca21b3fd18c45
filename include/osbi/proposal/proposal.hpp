// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Proposal`: where θ comes from — a batched sampler with a log density; every Prior models it.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace osbi {

/*
 * Proposal — the distribution the simulations' θ are drawn from (spec). The prior is the first proposal: every
 * Prior models this concept by construction (Prior refines Proposal with support(), prior/prior.hpp); truncated
 * priors, loss-driven proposals and earlier posteriors are others. Samples remember the proposal that drew them
 * (TrainingBatch::proposal_log_prob and ::round), so a loss can correct for it.
 *
 *   typename P::scalar_type, typename P::execution_space
 *   p.dim()                          D, fixed.
 *   p.sample(space, rng, theta)      const; theta N × D; row i from rng.row(i) only (as Prior::sample).
 *   p.log_prob(space, theta, out)    const; out(i) = log p̃(θ_i), −∞ where p̃ is 0, NaN rows NaN.
 *
 * Optional (VersionedProposal): p.round() — an id that changes whenever the proposal does (0 for a fixed one);
 * proposal_round(p) reads it, 0 when absent. A proposal that changes while simulations run must make sample
 * and log_prob safe against its own updates, and bump its round with every change: the pipeline's workers draw
 * again when the round moved during a draw, so each row's round, θ and log density come from one version.
 * Optional beyond that (SnapshotProposal): p.snapshot() — a frozen copy of the current version, which online
 * importance weights p/q̄ need to evaluate every version that drew rows (PipelineOptions::importance_weights).
 */
namespace proposal_requirements {

template <class P>
concept HasTypes = HasScalarAndSpace<P>;

template <class P>
concept HasDimension = requires(const P& proposal) {
  { proposal.dim() } -> std::convertible_to<std::size_t>;
};

template <class P>
concept CanSample = requires(const P& proposal, const typename P::execution_space& space, BatchRandom rng,
                             const Matrix<typename P::scalar_type, typename P::execution_space>& theta) {
  proposal.sample(space, rng, theta);
};

template <class P>
concept CanEvaluateLogProb = requires(const P& proposal, const typename P::execution_space& space,
                                      const ConstMatrix<typename P::scalar_type, typename P::execution_space>& theta,
                                      const Vector<typename P::scalar_type, typename P::execution_space>& out) {
  proposal.log_prob(space, theta, out);
};

} // namespace proposal_requirements

template <class P>
concept Proposal = proposal_requirements::HasTypes<P> && proposal_requirements::HasDimension<P> &&
                   proposal_requirements::CanSample<P> && proposal_requirements::CanEvaluateLogProb<P>;

template <class P>
concept VersionedProposal = Proposal<P> && requires(const P& proposal) {
  { proposal.round() } -> std::convertible_to<std::uint64_t>;
};

/// A VersionedProposal that hands out a copy frozen at its current version: p.snapshot(), whose round() is that
/// version's and which later changes of p do not reach (what a mixture of every version used keeps: ProposalHistory).
template <class P>
concept SnapshotProposal = VersionedProposal<P> && requires(const P& proposal) {
  { proposal.snapshot() } -> std::same_as<P>;
};

/// The proposal's current round: p.round() for a VersionedProposal, else 0.
template <Proposal P>
std::uint64_t proposal_round(const P& proposal) {
  if constexpr (VersionedProposal<P>)
    return static_cast<std::uint64_t>(proposal.round());
  else
    return 0;
}

} // namespace osbi
