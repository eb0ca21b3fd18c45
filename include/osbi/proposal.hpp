// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the Proposal concept (where θ comes from; every prior is one) and TruncatedPrior (TSNPE).
#pragma once

#include <osbi/proposal/proposal.hpp>
#include <osbi/proposal/truncated_prior.hpp>
