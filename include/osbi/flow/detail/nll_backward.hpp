// SPDX-License-Identifier: BSD-3-Clause
/// \brief The argument checks and the weight mean that every density's weighted nll_backward shares.
#pragma once

#include <osbi/flow/detail/checks.hpp>

#include <osbi/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace osbi::detail {

/// Checks nll_backward(space, θ, x, weights, grad_theta, grad_x) (estimator/conditional_density.hpp): the pairs
/// match the sizes, the batch has a row, weights has N entries and grad_theta / grad_x are N × theta_dim /
/// N × context_dim, each unless empty (data() == nullptr).
template <class ThetaView, class ContextView, class WeightView, class GradThetaView, class GradContextView>
void check_nll_backward(std::string_view part, std::size_t theta_dim, std::size_t context_dim, const ThetaView& theta,
                        const ContextView& x, const WeightView& weights, const GradThetaView& grad_theta,
                        const GradContextView& grad_x) {
  require_extent(theta.extent(1), theta_dim, part, "nll_backward: theta's column count (theta_dim)");
  require_extent(x.extent(1), context_dim, part, "nll_backward: x's column count (context_dim)");
  require_extent(x.extent(0), theta.extent(0), part, "nll_backward: x's row count (theta's row count)");
  const std::size_t batch = theta.extent(0);
  require(batch > 0, part, "nll_backward: the batch is empty (the mean of no rows is undefined)");
  if (weights.data() != nullptr)
    require_extent(weights.extent(0), batch, part, "nll_backward: weights' size (theta's row count)");
  if (grad_theta.data() != nullptr) {
    require_extent(grad_theta.extent(0), batch, part, "nll_backward: grad_theta's row count (theta's row count)");
    require_extent(grad_theta.extent(1), theta_dim, part, "nll_backward: grad_theta's column count (theta_dim)");
  }
  if (grad_x.data() != nullptr) {
    require_extent(grad_x.extent(0), batch, part, "nll_backward: grad_x's row count (theta's row count)");
    require_extent(grad_x.extent(1), context_dim, part, "nll_backward: grad_x's column count (context_dim)");
  }
}

/// (1/N) Σ_i w_i: the factor of a loss's constant terms (the base density's normalizer, the z-scoring's
/// log-determinant). Exactly 1 for empty weights (w_i = 1), and for unit weights too (Σ 1 = N exactly), so a
/// weighted loss with w = 1 is the unweighted one bit for bit.
template <class ExecutionSpace, class WeightView>
double mean_weight(const ExecutionSpace& space, std::string_view part, const WeightView& weights) {
  if (weights.data() == nullptr) return 1.0;
  double sum = 0.0;
  Kokkos::parallel_reduce(
      flow_label(part, "mean_weight"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, weights.extent(0)),
      KOKKOS_LAMBDA(const std::size_t i, double& partial) { partial += static_cast<double>(weights(i)); }, sum);
  return sum / static_cast<double>(weights.extent(0));
}

} // namespace osbi::detail
