// SPDX-License-Identifier: BSD-3-Clause
/// \brief DenoisingScoreMatchingLoss: denoising score matching (Vincent 2011; Song et al. 2021; NPSE, Geffner et al. 2023) — models Loss for every ScoreModel.
#pragma once

#include <osbi/estimator/score_model.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <cstddef>

namespace osbi {

/*
 * DenoisingScoreMatchingLoss — L = (1/N) Σ_i w_i·λ(t_i)‖s(θ_t,i, t_i | x_i) − ∇log p_t(θ_t,i | θ_i)‖², with
 * θ_t = α θ + σ ε, ∇log p_t(θ_t | θ) = −ε/σ and λ = g² (the likelihood weighting, sbi's default), t_i and ε drawn from
 * the rng the trainer passes each step (the estimator's score_matching_loss, osbi/estimator/score_model.hpp). Its
 * minimizer is the score of the noised posterior at every t. Weights as NllLoss; per_row gives the unweighted terms.
 */
struct DenoisingScoreMatchingLoss {
  /// Validation averages 8 draws of times and noise (loss/loss.hpp, validation_value): two_moons 10⁴ C2ST 0.545.
  static constexpr std::size_t validation_draws = 8;
  static constexpr const char* part = "osbi::DenoisingScoreMatchingLoss";

  template <ScoreModel Model>
  double value_and_gradient(Model& model, const typename Model::execution_space& space,
                            const TrainingBatch<typename Model::scalar_type, typename Model::execution_space>& batch,
                            BatchRandom rng) const {
    check_batch(batch, model.theta_dim(), model.context_dim(), part);
    return model.score_matching_loss(space, batch.theta, batch.x, batch.weights, rng, {}, LossPass::gradient);
  }

  template <ScoreModel Model>
  double value(Model& model, const typename Model::execution_space& space,
               const TrainingBatch<typename Model::scalar_type, typename Model::execution_space>& batch, BatchRandom rng) const {
    check_batch(batch, model.theta_dim(), model.context_dim(), part);
    return model.score_matching_loss(space, batch.theta, batch.x, batch.weights, rng, {}, LossPass::value);
  }

  template <ScoreModel Model>
  void per_row(Model& model, const typename Model::execution_space& space,
               const TrainingBatch<typename Model::scalar_type, typename Model::execution_space>& batch, BatchRandom rng,
               const Vector<typename Model::scalar_type, typename Model::execution_space>& out) const {
    check_batch(batch, model.theta_dim(), model.context_dim(), part);
    require_extent(out.extent(0), batch.rows(), part, "per_row: out's size (the batch's row count)");
    model.score_matching_loss(space, batch.theta, batch.x, {}, rng, out, LossPass::value);
  }
};

} // namespace osbi
