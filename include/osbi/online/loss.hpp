// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Loss`: what the online trainer minimizes over a batch, and its per-sample values (for prioritized replay).
#pragma once

#include <osbi/core/types.hpp>
#include <osbi/flow/conditional_density.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>

namespace osbi::online {

/*
 * Loss<L, Density> (spec):
 *
 *   l.backward(density, space, theta, x)   the batch mean of the loss (double); ACCUMULATES its gradient
 *                                          into density.gradients() (the trainer zeroes them per step).
 *   l.per_sample(density, space, theta, x, out)
 *                                          out(i) = the loss of row i (what a prioritized buffer samples by).
 *
 * theta and x are the trainer's batch on the density's execution space, θ already mapped to the
 * unconstrained space the density models.
 */
template <class L, class Density>
concept Loss = ConditionalDensity<Density> &&
               requires(L& loss, Density& density, const typename Density::execution_space& space,
                        const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& theta,
                        const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& x,
                        const Vector<typename Density::scalar_type, typename Density::execution_space>& out) {
                 { loss.backward(density, space, theta, x) } -> std::convertible_to<double>;
                 loss.per_sample(density, space, theta, x, out);
               };

/// Maximum likelihood (NPE, the seed's Eq. 1): −(1/N) Σ log q(θᵢ | xᵢ).
struct NllLoss {
  template <ConditionalDensity Density>
  double backward(Density& density, const typename Density::execution_space& space,
                  const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& theta,
                  const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& x) const {
    return density.nll_backward(space, theta, x);
  }

  template <ConditionalDensity Density>
  void per_sample(Density& density, const typename Density::execution_space& space,
                  const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& theta,
                  const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& x,
                  const Vector<typename Density::scalar_type, typename Density::execution_space>& out) const {
    density.log_prob(space, theta, x, out);
    Kokkos::parallel_for(
        "osbi::online::NllLoss::negate",
        Kokkos::RangePolicy<typename Density::execution_space>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { out(i) = -out(i); });
  }
};

} // namespace osbi::online
