// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: training — the one step, the gradient-reduction hook, early stopping, the offline trainer.
#pragma once

#include <osbi/train/dataset.hpp>
#include <osbi/train/early_stopping.hpp>
#include <osbi/train/gradient_reduction.hpp>
#include <osbi/train/step.hpp>
#include <osbi/train/trainer.hpp>
