// SPDX-License-Identifier: BSD-3-Clause
/// \brief Testing aids for users' own parts: archetypes and run-time conformance checks (not in osbi.hpp).
#pragma once

#include <osbi/testing/check_conditional_density.hpp>
#include <osbi/testing/check_estimator.hpp>
#include <osbi/testing/check_loss.hpp>
#include <osbi/testing/check_prior.hpp>
#include <osbi/testing/check_proposal.hpp>
#include <osbi/testing/check_simulator.hpp>
#include <osbi/testing/conditional_density_archetype.hpp>
#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/gradient_check.hpp>
#include <osbi/testing/loss_archetype.hpp>
#include <osbi/testing/prior_archetype.hpp>
#include <osbi/testing/proposal_archetype.hpp>
#include <osbi/testing/simulator_archetype.hpp>
