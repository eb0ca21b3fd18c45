// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: the Proposal concept (where θ comes from; every prior is one).
#pragma once

#include <osbi/proposal/proposal.hpp>
