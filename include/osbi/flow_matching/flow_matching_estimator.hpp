// SPDX-License-Identifier: BSD-3-Clause
/// \brief FlowMatchingEstimator: FMPE (Dax et al. 2023) — a velocity field on the linear path, sampled by its ODE.
#pragma once

#include <osbi/estimator/log_prob_estimator.hpp>
#include <osbi/estimator/velocity_model.hpp>
#include <osbi/vector_field/gaussian_path.hpp>
#include <osbi/vector_field/vector_field_estimator.hpp>

#include <osbi/core/types.hpp>

namespace osbi {

/// Flow-matching posterior estimation: VectorFieldEstimator on LinearPath (σ_min 1e-3), trained by FlowMatchingLoss,
/// sampled with adaptive Dormand–Prince (atol = rtol = 1e-4, the whole interval as the first trial step; sbi 0.27:
/// 1e-6 / 1e-5, see VectorFieldSamplerOptions and default_sampler_options), log_prob through the same ODE.
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
using FlowMatchingEstimator = VectorFieldEstimator<Scalar, ExecutionSpace, LinearPath>;

static_assert(VelocityModel<FlowMatchingEstimator<double, HostExecutionSpace>> &&
              LogProbEstimator<FlowMatchingEstimator<double, HostExecutionSpace>>);

} // namespace osbi
