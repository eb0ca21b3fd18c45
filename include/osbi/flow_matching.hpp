// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella: flow-matching posterior estimation (FMPE).
#pragma once

#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/loss/flow_matching.hpp>
