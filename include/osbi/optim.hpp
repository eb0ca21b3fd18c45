// SPDX-License-Identifier: BSD-3-Clause
/// \brief Optimizers: the Optimizer concept, Adam/AdamW, clipping, learning-rate schedules, their checkpoint sections.
#pragma once

#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/optimizer_checkpoint.hpp>
#include <osbi/optim/schedule.hpp>
