// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: online SBI — the simulate → buffer → train pipeline, its losses and metrics.
#pragma once

#include <osbi/online/loss.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/online/pipeline.hpp>
