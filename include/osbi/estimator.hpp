// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the estimator concepts — Estimator, LogProbEstimator, ConditionalDensity, ScoreModel, VelocityModel — and their optional capabilities.
#pragma once

#include <osbi/estimator/capabilities.hpp>
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/estimator/log_prob_estimator.hpp>
#include <osbi/estimator/score_model.hpp>
#include <osbi/estimator/velocity_model.hpp>
