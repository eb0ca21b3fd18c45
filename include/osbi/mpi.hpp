// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: osbi on several ranks (needs OSBI_ENABLE_MPI and an MPI the application initialized).
#pragma once

#include <osbi/mpi/averaged_gradients.hpp>
#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/parallel_simulator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/remote_simulations.hpp>
#include <osbi/mpi/sample_message.hpp>
#include <osbi/mpi/sample_receiver.hpp>
#include <osbi/mpi/sample_sender.hpp>
#include <osbi/mpi/simulation_group.hpp>
#include <osbi/mpi/stream_options.hpp>
#include <osbi/mpi/transport.hpp>
