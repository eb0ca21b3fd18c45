// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella: score-diffusion posterior estimation (NPSE).
#pragma once

#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/loss/denoising_score_matching.hpp>
