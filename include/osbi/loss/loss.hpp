// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Loss<L, Estimator>`: what training minimizes over a batch — its value and gradient, a validation value, per-row values.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>

namespace osbi {

/*
 * Loss<L, E> — a training objective for estimators of type E (spec). A loss knows its estimator: NLL calls a
 * density's weighted backward pass, denoising score matching a score model's, APT evaluates the density at
 * contrasting atoms. The trainer, the online pipeline and MPI learners see only these three members:
 *
 *   l.value_and_gradient(estimator, space, batch, rng)
 *                       the batch's loss (a double, the quantity the step minimizes) and ACCUMULATES its
 *                       gradient into estimator.gradients() (the training step zeroes them first).
 *   l.value(estimator, space, batch, rng)
 *                       the same value without touching gradients (validation). With the same rng it equals
 *                       what value_and_gradient returns.
 *   l.per_row(estimator, space, batch, rng, out)
 *                       out(i) = row i's contribution, one finite or NaN value per row (what a prioritized
 *                       buffer samples by). out has batch.rows() entries.
 *
 * batch: osbi::TrainingBatch (θ, x, per-row weights, per-row metadata), on the estimator's execution space.
 * rng: a BatchRandom for the loss's own randomness (diffusion time, noise, atoms); a deterministic loss
 * ignores it. A loss validates the batch (check_batch) before launching; wrong widths throw
 * DimensionMismatch, an empty batch InvalidArgument.
 */
namespace loss_requirements {

template <class L, class E>
concept CanTrain = requires(L& loss, E& estimator, const typename E::execution_space& space,
                            const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                            BatchRandom rng) {
  { loss.value_and_gradient(estimator, space, batch, rng) } -> std::convertible_to<double>;
};

template <class L, class E>
concept CanValidate = requires(L& loss, E& estimator, const typename E::execution_space& space,
                               const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                               BatchRandom rng) {
  { loss.value(estimator, space, batch, rng) } -> std::convertible_to<double>;
};

template <class L, class E>
concept HasRowValues = requires(L& loss, E& estimator, const typename E::execution_space& space,
                                const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                                BatchRandom rng, const Vector<typename E::scalar_type, typename E::execution_space>& out) {
  loss.per_row(estimator, space, batch, rng, out);
};

} // namespace loss_requirements

template <class L, class E>
concept Loss = Estimator<E> && loss_requirements::CanTrain<L, E> && loss_requirements::CanValidate<L, E> &&
               loss_requirements::HasRowValues<L, E>;

} // namespace osbi
