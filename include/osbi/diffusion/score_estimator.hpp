// SPDX-License-Identifier: BSD-3-Clause
/// \brief ScoreEstimator: NPSE (Geffner et al. 2023; Sharrock et al. 2024) — a score model on a diffusion SDE, sampled by Euler–Maruyama or its probability-flow ODE.
#pragma once

#include <osbi/estimator/log_prob_estimator.hpp>
#include <osbi/estimator/score_model.hpp>
#include <osbi/vector_field/gaussian_path.hpp>
#include <osbi/vector_field/vector_field_estimator.hpp>

#include <osbi/core/types.hpp>

namespace osbi {

/// Score-diffusion posterior estimation: VectorFieldEstimator on an SDE — VarianceExploding (σ 1e-4 → 10, sbi's
/// default), VariancePreserving or SubVariancePreserving (β 0.01 → 10) — trained by DenoisingScoreMatchingLoss,
/// sampled through its probability-flow ODE (adaptive Dormand–Prince, atol = rtol = 1e-4; VectorFieldSamplerOptions)
/// or, set_sampler, Euler–Maruyama on the reverse SDE (sbi's default: 500 steps).
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace, class Sde = VarianceExploding>
using ScoreEstimator = VectorFieldEstimator<Scalar, ExecutionSpace, Sde>;

static_assert(ScoreModel<ScoreEstimator<double, HostExecutionSpace>> &&
              LogProbEstimator<ScoreEstimator<double, HostExecutionSpace>>);

} // namespace osbi
