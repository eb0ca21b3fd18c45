// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Loss<L, Estimator>`: what training minimizes over a batch — its value and gradient, a validation value, per-row values.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>

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

/// How many independent draws of its randomness a stochastic loss's validation value averages: a loss sets it with
/// `static constexpr std::size_t validation_draws` (flow matching 32, score matching 8; sbi smooths its validation
/// loss over 10 fixed times instead), 1 otherwise. One draw of t and noise per validation row makes the value so
/// noisy that early stopping fires on a lucky epoch (two_moons 10⁴ FMPE stopped at 84 epochs with C2ST 0.70).
template <class L>
constexpr std::size_t validation_draws() {
  if constexpr (requires { L::validation_draws; }) return L::validation_draws;
  else return 1;
}

/// The validation value every trainer uses: the mean of loss.value over validation_draws<L>() independent
/// splits of rng (rng itself for a deterministic loss), so it is the same function of the parameters every epoch.
template <class L, class E>
  requires Loss<L, E>
double validation_value(L& loss, E& estimator, const typename E::execution_space& space,
                        const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng) {
  constexpr std::size_t draws = validation_draws<L>();
  if constexpr (draws == 1) {
    return loss.value(estimator, space, batch, rng);
  } else {
    double sum = 0;
    for (std::size_t k = 0; k < draws; ++k) sum += loss.value(estimator, space, batch, rng.split(static_cast<std::uint32_t>(k)));
    return sum / static_cast<double>(draws);
  }
}

} // namespace osbi
