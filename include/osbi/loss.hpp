// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the Loss concept, the training batch, and the NLL losses.
#pragma once

#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/loss/weighted_nll.hpp>
