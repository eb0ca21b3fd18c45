// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `VelocityModel`: an Estimator that is a learned velocity field on a Gaussian path (flow matching), trained by FlowMatchingLoss (osbi/loss/flow_matching.hpp).
#pragma once

#include <osbi/estimator/estimator.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>

namespace osbi {

/*
 * VelocityModel — an Estimator with the regression objective its loss minimizes (spec):
 *
 *   e.flow_matching_loss(space, theta, x, weights, rng, row_values, pass)
 *       returns (1/N) Σ_i w_i·L_i (a double; w_i = 1 when weights is empty) for a target the estimator draws from
 *       rng (times and noise; row i from rng.row(i) only, so the value is a pure function of rng and the rows);
 *       writes L_i into row_values unless it is empty; with LossPass::gradient ACCUMULATES the gradient of the
 *       returned value into gradients(), with LossPass::value touches no gradient. Same rng, same value.
 *       Wrong widths throw DimensionMismatch, an empty batch InvalidArgument.
 *
 * VectorFieldEstimator (osbi/vector_field/vector_field_estimator.hpp) models it on the matching path.
 */
template <class E>
concept VelocityModel = Estimator<E> && requires(E& estimator, const typename E::execution_space& space,
                                            const ConstMatrix<typename E::scalar_type, typename E::execution_space>& rows,
                                            const ConstVector<typename E::scalar_type, typename E::execution_space>& weights,
                                            BatchRandom rng,
                                            const Vector<typename E::scalar_type, typename E::execution_space>& row_values) {
  { estimator.flow_matching_loss(space, rows, rows, weights, rng, row_values, LossPass::gradient) } -> std::convertible_to<double>;
};

} // namespace osbi
