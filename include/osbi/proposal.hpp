// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the Proposal concept (where θ comes from; every prior is one), TruncatedPrior (TSNPE),
/// LossDrivenProposal (Breed-like) and ProposalMixture (the denominator of importance weights).
#pragma once

#include <osbi/proposal/loss_driven.hpp>
#include <osbi/proposal/proposal.hpp>
#include <osbi/proposal/proposal_history.hpp>
#include <osbi/proposal/proposal_mixture.hpp>
#include <osbi/proposal/truncated_prior.hpp>
