// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Transport`: how a pipeline's simulations reach its trainers and how several trainers agree; InProcess (threads, one trainer) is the default.
#pragma once

#include <osbi/online/simulation_workers.hpp>
#include <osbi/train/gradient_reduction.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace osbi::online {

/*
 * Transport — the policy that makes online::Pipeline run in one process or over MPI ranks with one code path (spec):
 *
 *   template <P, S, B> using workers_type   the simulation side as the pipeline drives it: SimulationWorkers<P, S, B>'s
 *                                          public members (start, stop, join, wait_for_warmup, warmup, validation_set,
 *                                          counts, failures, ...), constructed from (transport, proposal, simulator,
 *                                          buffer, options, instances) or, without the transport, as SimulationWorkers.
 *   using reduction_type                   the GradientReduction of every training step.
 *   t.reduction()                          one for the pipeline's trainer.
 *   t.trains()                             whether this process trains (a simulation-only rank does not).
 *   t.reports()                            whether this process writes the progress lines and the metrics file
 *                                          (one trainer does).
 *   t.any(flag)                            collective over the trainers: true if any trainer's flag is true. Every
 *                                          stop decision of the training loop goes through it, so all trainers stop
 *                                          at the same step.
 *
 * Checkpoints: one file per pipeline, whatever the transport. A trainer's `local` sections (its simulation side at a
 * consistent cut, its buffer) and the `shared` ones every trainer holds alike (parameters, optimizer, counters) are
 * kept apart so that several trainers can put theirs in one file:
 *
 *   t.write_checkpoint(path, local, add_shared)   a collective over the trainers: writes `path` atomically with
 *                                          add_shared's sections (called on the one writing process) and every
 *                                          trainer's `local` ones; throws on every trainer if the write failed.
 *   t.local_part(file)                     this trainer's local sections: a reader of them, or nullopt when they are
 *                                          the file's own (one trainer). DataError if the file was written by
 *                                          another layout.
 *   t.agree_on_resume(ok, simulations)     a collective over every process of the pipeline (simulation-only ones
 *                                          too) before a resume changes anything: whether every process read its
 *                                          part (`ok`), and the simulations the checkpoint accounts for in all (the
 *                                          sum of the trainers' `simulations`).
 */
/// What every process of a pipeline learned when they agreed to resume (Transport::agree_on_resume).
struct ResumeAgreement {
  bool all_read = false;         ///< every process read its part of the checkpoint
  std::uint64_t simulations = 0; ///< simulations the checkpoint accounts for, over every trainer
};

template <class T>
concept Transport = requires(const T& transport, bool flag, const std::filesystem::path& path, CheckpointWriter local,
                             const std::function<void(CheckpointWriter&)>& add_shared, const CheckpointReader& file, std::uint64_t count) {
  typename T::reduction_type;
  { transport.reduction() } -> std::same_as<typename T::reduction_type>;
  { transport.trains() } -> std::same_as<bool>;
  { transport.reports() } -> std::same_as<bool>;
  { transport.any(flag) } -> std::same_as<bool>;
  transport.write_checkpoint(path, std::move(local), add_shared);
  { transport.local_part(file) } -> std::same_as<std::optional<CheckpointReader>>;
  { transport.agree_on_resume(flag, count) } -> std::same_as<ResumeAgreement>;
};

/// Threads in one process: the workers simulate beside the one trainer; nothing to agree on.
struct InProcess {
  template <class ProposalType, class SimulatorType, class Buffer>
  using workers_type = SimulationWorkers<ProposalType, SimulatorType, Buffer>;
  using reduction_type = LocalGradients;

  reduction_type reduction() const { return {}; }
  bool trains() const { return true; }
  bool reports() const { return true; }
  bool any(bool flag) const { return flag; }

  /// One file of both parts' sections (the layout of every threaded checkpoint).
  void write_checkpoint(const std::filesystem::path& path, CheckpointWriter local,
                        const std::function<void(CheckpointWriter&)>& add_shared) const {
    CheckpointWriter file = local;
    add_shared(file);
    file.write(path);
  }
  std::optional<CheckpointReader> local_part(const CheckpointReader& file) const {
    if (file.has("mpi/learners"))
      throw DataError("osbi::online::InProcess", file.path() + ": written under MPI by " +
                                                     std::to_string(file.get_scalar<std::uint64_t>("mpi/learners")) +
                                                     " learners: resume it under MPI (mpi::Transport) with as many learners");
    return std::nullopt;
  }
  ResumeAgreement agree_on_resume(bool ok, std::uint64_t simulations) const { return {ok, simulations}; }
};

static_assert(Transport<InProcess>);

namespace detail {

/// Builds a transport's workers: with the transport as first argument if they take it.
template <class Workers, class TransportType, class... Args>
Workers make_workers(const TransportType& transport, Args&&... args) {
  if constexpr (std::is_constructible_v<Workers, const TransportType&, Args&&...>)
    return Workers(transport, std::forward<Args>(args)...);
  else
    return Workers(std::forward<Args>(args)...);
}

} // namespace detail

} // namespace osbi::online
