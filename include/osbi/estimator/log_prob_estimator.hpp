// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `LogProbEstimator`: an Estimator that can evaluate log q(θ | x) — a flow exactly, a vector field through its probability-flow ODE.
#pragma once

#include <osbi/estimator/estimator.hpp>

#include <osbi/core/types.hpp>

namespace osbi {

/*
 * LogProbEstimator — an Estimator (osbi/estimator/estimator.hpp) with
 *
 *   e.log_prob(space, theta, x, out)   out(i) = log q(θ_i | x_i); theta N × theta_dim, x N × context_dim, out N;
 *                                      NaN rows give NaN. Shapes validated on the host (DimensionMismatch).
 *
 * A ConditionalDensity (flows) is one with a weighted backward pass besides; a vector field estimator
 * (flow matching, score diffusion) is one without: its log density comes from integrating the probability-flow
 * ODE with the divergence of the field, which Posterior::log_prob and the diagnostics use the same way.
 */
namespace log_prob_estimator_requirements {

template <class E>
concept CanEvaluate = requires(E& estimator, const typename E::execution_space& space,
                               const ConstMatrix<typename E::scalar_type, typename E::execution_space>& theta,
                               const ConstMatrix<typename E::scalar_type, typename E::execution_space>& x,
                               const Vector<typename E::scalar_type, typename E::execution_space>& out) {
  estimator.log_prob(space, theta, x, out);
};

} // namespace log_prob_estimator_requirements

template <class E>
concept LogProbEstimator = Estimator<E> && log_prob_estimator_requirements::CanEvaluate<E>;

} // namespace osbi
