// SPDX-License-Identifier: BSD-3-Clause
/// \brief training_step: the one optimizer step every trainer runs — zero → loss backward → reduce → clip → optimizer.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/train/gradient_reduction.hpp>

#include <osbi/core/random.hpp>

#include <cmath>

namespace osbi {

/// How a step treats the gradient after the reduction.
struct StepOptions {
  double clip_max_norm = 5.0; ///< gradient-norm clipping (sbi's default); <= 0 or ∞: none
};

/*
 * training_step(estimator, loss, optimizer, space, batch, rng, options[, reduction]) — one step, the same for
 * the offline trainer, the online pipeline and MPI learners:
 *
 *   gradients = 0;  L = loss.value_and_gradient(estimator, batch, rng);  reduction.reduce(gradients);
 *   clip ‖gradients‖ to options.clip_max_norm;  optimizer.step(parameters, gradients)
 *
 * Returns L (this learner's batch loss). Enqueued on `space`; the caller fences when it reads parameters.
 */
template <Estimator EstimatorType, Loss<EstimatorType> LossType, optim::Optimizer OptimizerType,
          GradientReduction<typename EstimatorType::scalar_type, typename EstimatorType::execution_space> Reduction = LocalGradients>
double training_step(EstimatorType& estimator, LossType& loss, OptimizerType& optimizer,
                     const typename EstimatorType::execution_space& space,
                     const TrainingBatch<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& batch,
                     BatchRandom rng, const StepOptions& options = {}, Reduction&& reduction = {}) {
  static_assert(std::is_same_v<typename OptimizerType::scalar_type, typename EstimatorType::scalar_type> &&
                    std::is_same_v<typename OptimizerType::execution_space, typename EstimatorType::execution_space>,
                "osbi::training_step: the optimizer must share the estimator's scalar_type and execution_space "
                "(see osbi/train/step.hpp)");
  estimator.zero_gradients(space);
  const double value = loss.value_and_gradient(estimator, space, batch, rng);
  reduction.reduce(space, estimator.gradients());
  if (options.clip_max_norm > 0 && std::isfinite(options.clip_max_norm))
    optim::clip_gradient_norm(space, estimator.gradients(), options.clip_max_norm);
  optimizer.step(space, estimator.parameters(), estimator.gradients());
  return value;
}

} // namespace osbi
