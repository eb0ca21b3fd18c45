// SPDX-License-Identifier: BSD-3-Clause
/// \brief Optimizers: the Optimizer concept, Adam/AdamW, gradient-norm clipping, learning-rate schedules.
#pragma once

#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/schedule.hpp>
