// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: inference recipes — the Posterior type, NPE, and the prior in the estimator's coordinates.
#pragma once

#include <osbi/inference/estimator_space_prior.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/inference/posterior.hpp>
