// SPDX-License-Identifier: BSD-3-Clause
/// \brief Dataset: a fixed set of simulations for offline training — θ, x, and optional per-row weights and proposal metadata.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace osbi {

/*
 * Dataset<Scalar, ExecutionSpace> — what the offline trainer draws its batches from (views, not copies):
 *   theta N × theta_dim (the estimator's coordinates), x N × x_dim;
 *   weights N, or empty (every weight 1);
 *   proposal_log_prob N and round N: where θ came from (TrainingBatch has the same fields), or both empty.
 * Batches carry these rows' fields plus arrival = the row index and uses = the epoch (from 1).
 */
template <class Scalar, class ExecutionSpace>
struct Dataset {
  ConstMatrix<Scalar, ExecutionSpace> theta;
  ConstMatrix<Scalar, ExecutionSpace> x;
  ConstVector<Scalar, ExecutionSpace> weights;
  ConstVector<double, ExecutionSpace> proposal_log_prob;
  Kokkos::View<const std::uint64_t*, typename ExecutionSpace::memory_space> round;

  std::size_t rows() const { return theta.extent(0); }
  bool has_metadata() const { return proposal_log_prob.data() != nullptr; }

  /// DimensionMismatch naming `part` and both sizes unless the fields agree with each other and the widths.
  void check(std::size_t theta_dim, std::size_t x_dim, std::string_view part) const {
    require_extent(theta.extent(1), theta_dim, part, "theta's column count");
    require_extent(x.extent(1), x_dim, part, "x's column count");
    require_extent(x.extent(0), rows(), part, "x's row count (must equal theta's)");
    if (weights.data()) require_extent(weights.extent(0), rows(), part, "the weight count (theta's row count)");
    require((proposal_log_prob.data() == nullptr) == (round.data() == nullptr), part,
            "proposal_log_prob and round come together (both or neither)");
    if (has_metadata()) {
      require_extent(proposal_log_prob.extent(0), rows(), part, "proposal_log_prob's size (theta's row count)");
      require_extent(round.extent(0), rows(), part, "round's size (theta's row count)");
    }
  }
};

} // namespace osbi
