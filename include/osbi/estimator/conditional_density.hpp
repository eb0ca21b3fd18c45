// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `ConditionalDensity`: an Estimator that is a normalized density q(θ | x), with log_prob and a weighted backward pass.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/estimator/log_prob_estimator.hpp>

#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>

namespace osbi {

/*
 * ConditionalDensity — a LogProbEstimator (osbi/estimator/log_prob_estimator.hpp) that is a normalized density q(θ | x) over
 * R^{theta_dim} for each context x ∈ R^{context_dim} (spec, beyond Estimator's):
 *
 *   d.log_prob(space, theta, x, out)      out(i) = log q(θ_i | x_i); theta N × theta_dim, x N × context_dim,
 *                                         out N. NaN rows give NaN.
 *   d.nll_backward(space, theta, x, weights, grad_theta, grad_x)
 *                                         returns  L = (1/N) Σ_i w_i · (−log q(θ_i | x_i))  (a double) and
 *                                         ACCUMULATES ∂L/∂parameters into gradients(). weights: ConstVector of N
 *                                         entries, or empty (data() == nullptr) for w_i = 1 — the mean NLL, bit
 *                                         for bit what an unweighted pass gives. Any finite w_i is allowed, so
 *                                         this is the general vector–Jacobian product of log q: a loss that needs
 *                                         ∂/∂log q_i = c_i passes w_i = −N·c_i (APT, importance weights, replay
 *                                         corrections all go through here). grad_theta (N × theta_dim) and grad_x
 *                                         (N × context_dim) are OVERWRITTEN with ∂L/∂θ and ∂L/∂x — what a transform
 *                                         or an embedding in front back-propagates — each skipped when empty.
 *                                         N >= 1 (InvalidArgument otherwise); rows must be finite (the caller
 *                                         drops the others).
 *
 * Shapes are validated on the host (DimensionMismatch naming both sizes) before any launch.
 */
namespace conditional_density_requirements {

template <class D>
concept CanBackward = requires(D& density, const typename D::execution_space& space,
                               const ConstMatrix<typename D::scalar_type, typename D::execution_space>& theta,
                               const ConstMatrix<typename D::scalar_type, typename D::execution_space>& x,
                               const ConstVector<typename D::scalar_type, typename D::execution_space>& weights,
                               const Matrix<typename D::scalar_type, typename D::execution_space>& grad) {
  { density.nll_backward(space, theta, x, weights, grad, grad) } -> std::convertible_to<double>;
};

} // namespace conditional_density_requirements

template <class D>
concept ConditionalDensity = LogProbEstimator<D> &&
                             conditional_density_requirements::CanBackward<D>;

/// The mean NLL of a batch and its parameter gradient (accumulated): the unweighted call every density has.
template <ConditionalDensity Density>
double nll_backward(Density& density, const typename Density::execution_space& space,
                    const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& theta,
                    const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& x) {
  using Scalar = typename Density::scalar_type;
  using Space = typename Density::execution_space;
  return density.nll_backward(space, theta, x, ConstVector<Scalar, Space>(), Matrix<Scalar, Space>(), Matrix<Scalar, Space>());
}

} // namespace osbi
