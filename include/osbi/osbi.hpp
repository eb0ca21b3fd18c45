// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: all of osbi (the testing aids are in <osbi/testing.hpp>).
#pragma once

#include <osbi/buffer.hpp>
#include <osbi/core.hpp>
#include <osbi/diagnostics.hpp>
#include <osbi/diffusion.hpp>
#include <osbi/embed.hpp>
#include <osbi/estimator.hpp>
#include <osbi/flow.hpp>
#include <osbi/flow_matching.hpp>
#include <osbi/inference.hpp>
#include <osbi/io.hpp>
#include <osbi/loss.hpp>
#include <osbi/nn.hpp>
#include <osbi/online.hpp>
#include <osbi/optim.hpp>
#include <osbi/prior.hpp>
#include <osbi/proposal.hpp>
#include <osbi/simulator.hpp>
#include <osbi/train.hpp>
#include <osbi/vector_field.hpp>

#if defined(OSBI_ENABLE_MPI) // osbi on several ranks: only where the build links MPI
#include <osbi/mpi.hpp>
#endif
