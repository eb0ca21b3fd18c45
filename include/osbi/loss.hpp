// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the Loss concept, the training batch, the NLL losses, atomic APT, flow matching and denoising score matching.
#pragma once

#include <osbi/loss/atomic_apt.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/denoising_score_matching.hpp>
#include <osbi/loss/flow_matching.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/loss/weighted_nll.hpp>
