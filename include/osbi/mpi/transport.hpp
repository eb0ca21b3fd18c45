// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::Transport: the online::Pipeline policy that spreads one pipeline over MPI ranks — simulation groups stream to data-parallel learners.
#pragma once

#include <osbi/mpi/averaged_gradients.hpp>
#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/remote_simulations.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>
#include <osbi/online/transport.hpp>

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
 * Checkpoints: learner 0 writes one file (atomically, as every checkpoint): the sections every learner holds alike
 * (parameters, optimizer, trainer counters: the train-loss history is learner 0's, as each learner's is of its own
 * batches) once, and each learner's own part (its validation set, buffer and
 * accounting at a consistent cut) as a checkpoint nested in the section "mpi/learner/<r>", sent to learner 0 when
 * the learners checkpoint together. A failed write throws on every learner. resume(path) runs on every rank: each
 * learner reads the file (a file system every learner sees) and takes its part; simulation-only ranks do not read
 * it, they learn from the learners how many simulations it accounts for, and the groups simulate the rest of the
 * budget with fresh streams (mpi/simulation_group.hpp). A checkpoint written by R learners resumes on R learners;
 * the simulation groups may differ. Rows in flight at the cut (simulated, not yet in a learner's buffer) are not
 * in the checkpoint and are simulated again after a resume.
 *
 * The Roles must outlive the pipeline.
 */
class Transport {
public:
  template <class ProposalType, class SimulatorType, class Buffer>
  using workers_type = RemoteSimulations<ProposalType, SimulatorType, Buffer>;
  using reduction_type = AveragedGradients<>;

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

  void write_checkpoint(const std::filesystem::path& path, CheckpointWriter local,
                        const std::function<void(CheckpointWriter&)>& add_shared) const {
    constexpr const char* part = "osbi::mpi::Transport::write_checkpoint";
    const Communicator& learners = m_roles->learners();
    const int rank = learners.rank(), size = learners.size();
    std::string mine = local.serialize();
    local = CheckpointWriter{};
    std::vector<std::string> parts;
    if (rank == 0) {
      parts.resize(static_cast<std::size_t>(size));
      parts[0] = std::move(mine);
      for (int r = 1; r < size; ++r) parts[static_cast<std::size_t>(r)] = detail::receive_bytes(learners, r, checkpoint_tag, part);
    } else {
      detail::send_bytes(learners, 0, checkpoint_tag, mine, part);
    }
    std::uint64_t failed = 0;
    std::string message;
    if (rank == 0) {
      try {
        CheckpointWriter file;
        add_shared(file);
        file.add_scalar<std::uint64_t>("mpi/format", 1);
        file.add_scalar<std::uint64_t>("mpi/learners", static_cast<std::uint64_t>(size));
        for (int r = 0; r < size; ++r) file.add_string(learner_section(r), parts[static_cast<std::size_t>(r)]);
        parts.clear();
        file.write(path);
      } catch (const std::exception& error) {
        failed = 1;
        message = error.what();
      } catch (...) {
        failed = 1;
        message = "an unknown exception";
      }
    }
    check(MPI_Bcast(&failed, 1, MPI_UINT64_T, 0, learners.get()), part, "MPI_Bcast");
    if (failed)
      throw Error(part, rank == 0 ? message : osbi::detail::concat("learner 0 could not write '", path.string(), "' (its error is reported there)"));
  }

  std::optional<CheckpointReader> local_part(const CheckpointReader& file) const {
    constexpr const char* part = "osbi::mpi::Transport";
    if (!file.has("mpi/learners"))
      throw DataError(part, file.path() + ": not written under MPI (a threaded pipeline's checkpoint resumes a threaded pipeline)");
    const auto writers = file.get_scalar<std::uint64_t>("mpi/learners");
    const auto count = static_cast<std::uint64_t>(m_roles->learner_count());
    if (writers != count)
      throw DataError(part, osbi::detail::concat(file.path(), ": written by ", writers, " learners, this run has ", count,
                                                 ": resume it on as many learners (the simulation groups may differ)"));
    const std::string name = learner_section(m_roles->learners().rank());
    return CheckpointReader::from_bytes(file.get_string(name), file.path() + ":" + name);
  }

  online::ResumeAgreement agree_on_resume(bool ok, std::uint64_t simulations) const {
    std::uint64_t values[2] = {ok ? 0u : 1u, simulations}; // sums: processes that failed, simulations accounted
    check(MPI_Allreduce(MPI_IN_PLACE, values, 2, MPI_UINT64_T, MPI_SUM, m_roles->world().get()), "osbi::mpi::Transport::agree_on_resume",
          "MPI_Allreduce");
    return {values[0] == 0, values[1]};
  }

  const Roles& roles() const { return *m_roles; }
  const StreamOptions& stream_options() const { return m_stream; }

private:
  static constexpr int checkpoint_tag = 0x5c1; // on the learners' communicator: a learner's part to learner 0
  static std::string learner_section(int rank) { return "mpi/learner/" + std::to_string(rank); }

  const Roles* m_roles;
  StreamOptions m_stream;
};

static_assert(online::Transport<Transport>);

} // namespace osbi::mpi
