// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::Transport: the online::Pipeline policy that spreads one pipeline over MPI ranks — simulation groups stream to data-parallel learners.
#pragma once

#include <osbi/mpi/averaged_gradients.hpp>
#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/remote_simulations.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/online/transport.hpp>

#include <mpi.h>

#include <cstdint>

namespace osbi::mpi {

/*
 * Transport(roles[, stream]) — models online::Transport. Every rank builds the same Pipeline<…, mpi::Transport>
 * and calls run():
 *
 *   learners        train data-parallel: every step's gradient is averaged over the learners (AveragedGradients),
 *                   every stop decision and the validation loss are agreed over them, so their parameters stay
 *                   bitwise equal; their buffers fill from the simulation groups (RemoteSimulations).
 *   group roots     run the workers (options.workers threads) and stream to the learners; run() returns a report
 *                   of the group's simulations (accounting without a buffer part: the learners hold that).
 *   group members   serve their root's ParallelSimulator solves.
 *
 * The Roles must outlive the pipeline. Not yet: checkpoints and resume under MPI.
 */
class Transport {
public:
  template <class ProposalType, class SimulatorType, class Buffer>
  using workers_type = RemoteSimulations<ProposalType, SimulatorType, Buffer>;
  using reduction_type = AveragedGradients<>;
  static constexpr bool checkpoints = false;

  explicit Transport(const Roles& roles, const StreamOptions& stream = {}) : m_roles(&roles), m_stream(stream) {}

  reduction_type reduction() const { return reduction_type(m_roles->learners()); }
  bool trains() const { return m_roles->is_learner(); }
  /// Learner 0 writes the progress lines and the metrics file.
  bool reports() const { return m_roles->is_learner() && m_roles->learners().rank() == 0; }
  bool any(bool flag) const {
    if (!m_roles->is_learner()) return flag;
    std::uint64_t value = flag ? 1 : 0; // a sum: true if any learner's flag is
    sum_politely(&value, 1, MPI_UINT64_T, m_roles->learners(), "osbi::mpi::Transport");
    return value != 0;
  }

  const Roles& roles() const { return *m_roles; }
  const StreamOptions& stream_options() const { return m_stream; }

private:
  const Roles* m_roles;
  StreamOptions m_stream;
};

static_assert(online::Transport<Transport>);

} // namespace osbi::mpi
