// SPDX-License-Identifier: BSD-3-Clause
/// \brief TrainingBatch: what a loss sees of one step's data — θ, x, per-row weights and per-row sample metadata.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace osbi {

/*
 * TrainingBatch<Scalar, ExecutionSpace> — N rows on the estimator's execution space (views, not copies):
 *
 *   theta             N × theta_dim, in the estimator's coordinates (the Posterior mapped the prior's support)
 *   x                 N × x_dim
 *   weights           N per-row weights, or empty: every weight 1. The trainer never invents weights: they
 *                     come from the data source (importance weights of a proposal, replay corrections)
 *   proposal_log_prob N: log of the density that drew θ_i, at θ_i (the prior's, for prior draws); empty if unknown
 *   round             N: the id/round of that proposal (0 for the prior)
 *   arrival           N: the sample's arrival index (its id in the buffer; its row index offline)
 *   uses              N: how often the row has been delivered, this delivery included
 *
 * Empty views (data() == nullptr) mean "not provided"; a loss that needs a field checks for it
 * (require_metadata) and names itself in the error.
 */
template <class Scalar, class ExecutionSpace>
struct TrainingBatch {
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using index_view = Kokkos::View<const std::uint64_t*, typename ExecutionSpace::memory_space>;

  ConstMatrix<Scalar, ExecutionSpace> theta;
  ConstMatrix<Scalar, ExecutionSpace> x;
  ConstVector<Scalar, ExecutionSpace> weights;
  ConstVector<double, ExecutionSpace> proposal_log_prob;
  index_view round;
  index_view arrival;
  index_view uses;

  std::size_t rows() const { return theta.extent(0); }
  bool weighted() const { return weights.data() != nullptr; }
  bool has_metadata() const { return proposal_log_prob.data() != nullptr; }
};

/// Checks a batch against an estimator's dimensions before a loss launches anything: DimensionMismatch
/// naming the part and both sizes.
template <class Scalar, class ExecutionSpace>
void check_batch(const TrainingBatch<Scalar, ExecutionSpace>& batch, std::size_t theta_dim, std::size_t x_dim,
                 std::string_view part) {
  const std::size_t n = batch.rows();
  require_extent(batch.theta.extent(1), theta_dim, part, "the batch's theta column count (the estimator's theta_dim)");
  require_extent(batch.x.extent(1), x_dim, part, "the batch's x column count (the estimator's context_dim)");
  require_extent(batch.x.extent(0), n, part, "the batch's x row count (theta's row count)");
  if (batch.weighted()) require_extent(batch.weights.extent(0), n, part, "the batch's weight count (theta's row count)");
  if (batch.proposal_log_prob.data())
    require_extent(batch.proposal_log_prob.extent(0), n, part, "the batch's proposal_log_prob count (theta's row count)");
  if (batch.round.data()) require_extent(batch.round.extent(0), n, part, "the batch's round count (theta's row count)");
  if (batch.arrival.data()) require_extent(batch.arrival.extent(0), n, part, "the batch's arrival count (theta's row count)");
  if (batch.uses.data()) require_extent(batch.uses.extent(0), n, part, "the batch's uses count (theta's row count)");
}

/// Σ w and Σ w² of a batch's weights, each checked finite and >= 0 with a positive sum (InvalidArgument naming the
/// loss, the row and the value otherwise): what a self-normalizing loss divides by. On the host: a batch is small.
struct WeightSums {
  double sum = 0, sum_of_squares = 0;
};

template <class Scalar, class ExecutionSpace>
WeightSums checked_weight_sums(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& weights, std::string_view part) {
  space.fence();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weights);
  WeightSums sums;
  for (std::size_t i = 0; i < host.extent(0); ++i) {
    const double w = static_cast<double>(host(i));
    require(std::isfinite(w) && w >= 0, part, "weight ", i, " = ", w, " must be finite and >= 0");
    sums.sum += w;
    sums.sum_of_squares += w * w;
  }
  require(sums.sum > 0, part, "the batch's weights sum to ", sums.sum, "; a self-normalized loss needs a positive sum");
  return sums;
}

/// Throws InvalidArgument naming the loss when the batch lacks the sample metadata it needs.
template <class Scalar, class ExecutionSpace>
void require_metadata(const TrainingBatch<Scalar, ExecutionSpace>& batch, std::string_view part) {
  require(batch.proposal_log_prob.data() && batch.round.data() && batch.arrival.data() && batch.uses.data(), part,
          "this loss needs the batch's sample metadata (proposal_log_prob, round, arrival, uses); the data source "
          "provided none");
}

} // namespace osbi
