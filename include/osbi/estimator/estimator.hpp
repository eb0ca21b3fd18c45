// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Estimator`: a trainable conditional model of θ given x — flat parameters, gradients and a sampler.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>

namespace osbi {

/*
 * Estimator — what every trainable posterior model shares, whatever it is trained by (spec): a
 * normalizing flow (a ConditionalDensity), a score model or a vector field. A loss (osbi/loss/loss.hpp)
 * knows how to train a given kind of estimator; the trainer, the pipeline and MPI learners see only this.
 *
 *   typename E::scalar_type, typename E::execution_space
 *   e.theta_dim(), e.context_dim()        fixed at construction (> 0).
 *   e.parameters(), e.gradients()          Vector<scalar_type, execution_space>: one contiguous buffer each, equal
 *                                          length — what an optimizer steps, a checkpoint stores and an MPI
 *                                          allreduce averages. Views share the storage: writing parameters()
 *                                          changes the model.
 *   e.zero_gradients(space)                gradients() = 0 (losses ACCUMULATE into it).
 *   e.sample(space, x, rng, theta)         one draw θ_i ~ q(· | x_i) per row (x: N × context_dim, theta:
 *                                          N × theta_dim); row i uses rng.row(i) only, so a batch draws the same
 *                                          numbers on every backend and thread count.
 *   e.sample(space, x_one, n, rng, theta)  n draws for the single context x_one (1 × context_dim) into theta
 *                                          (n × theta_dim); n = 0 draws nothing.
 *
 * θ and x are in the estimator's own coordinates: the Posterior (osbi/inference/posterior.hpp) maps the
 * prior's support and z-scores. Shapes are validated on the host (DimensionMismatch naming both sizes)
 * before any launch; work is enqueued on `space`. One host thread uses an estimator object at a time.
 */
namespace estimator_requirements {

template <class E>
concept HasTypes = HasScalarAndSpace<E>;

template <class E>
concept HasShape = requires(const E& estimator) {
  { estimator.theta_dim() } -> std::convertible_to<std::size_t>;
  { estimator.context_dim() } -> std::convertible_to<std::size_t>;
};

template <class E>
concept HasParameters = requires(E& estimator, const typename E::execution_space& space) {
  { estimator.parameters() } -> std::convertible_to<Vector<typename E::scalar_type, typename E::execution_space>>;
  { estimator.gradients() } -> std::convertible_to<Vector<typename E::scalar_type, typename E::execution_space>>;
  estimator.zero_gradients(space);
};

template <class E>
concept CanSample = requires(E& estimator, const typename E::execution_space& space,
                             const ConstMatrix<typename E::scalar_type, typename E::execution_space>& x,
                             const Matrix<typename E::scalar_type, typename E::execution_space>& theta,
                             BatchRandom rng, std::size_t n) {
  estimator.sample(space, x, rng, theta);
  estimator.sample(space, x, n, rng, theta);
};

} // namespace estimator_requirements

/// Whether an estimator's own loss pass (ScoreModel, VelocityModel) forms parameter gradients or only the value.
enum class LossPass { value, gradient };

template <class E>
concept Estimator = estimator_requirements::HasTypes<E> && estimator_requirements::HasShape<E> &&
                    estimator_requirements::HasParameters<E> && estimator_requirements::CanSample<E>;

} // namespace osbi
