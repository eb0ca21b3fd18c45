// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: inference recipes — the Posterior type and NPE.
#pragma once

#include <osbi/inference/npe.hpp>
#include <osbi/inference/posterior.hpp>
