// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::run_simulation_group: what a simulation group does under MPI — its root runs the workers into a SampleSender, its other members serve the root's parallel solves.
#pragma once

#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/parallel_simulator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/sample_sender.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/core/error.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/simulation_workers.hpp>
#include <osbi/proposal/proposal.hpp>
#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulator.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <thread>
#include <vector>

namespace osbi::mpi {

/// What one rank of a simulation group did.
struct SimulationGroupReport {
  bool root = false;                 ///< this rank streamed the group's samples
  online::PipelineAccounting counts; ///< root: the workers' accounting (buffer part empty: the learners hold it)
  SenderCounts sent;                 ///< root: what its sender sent
  std::uint64_t member_solves = 0;   ///< other members: solves served
  std::vector<online::FailureRecord> failures; ///< root: the failures recorded (all were reported to the learners)
};

/// Group k's share of a budget of `total` simulations over `groups` groups (0: none for it if total > 0).
inline std::uint64_t group_budget(std::uint64_t total, int groups, int k) {
  const auto g = static_cast<std::uint64_t>(groups), index = static_cast<std::uint64_t>(k);
  return total / g + (index < total % g ? 1 : 0);
}

/// Where a run's simulation groups start: a fresh run, or one resumed from a checkpoint that accounts for
/// `accounted` simulations (the groups then share what is left of the budget).
struct GroupStart {
  bool resumed = false;
  std::uint64_t accounted = 0;
};

namespace detail {

inline std::uint64_t splitmix64(std::uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

} // namespace detail

/// Group k's seed: seed + k in a fresh run; after a resume a hash of (seed, accounted, k), so the resumed streams
/// repeat none of the first run's draws, and resuming one checkpoint twice draws the same.
inline std::uint64_t group_seed(std::uint64_t seed, int k, const GroupStart& start) {
  if (!start.resumed) return seed + static_cast<std::uint64_t>(k);
  return detail::splitmix64(detail::splitmix64(detail::splitmix64(seed) ^ start.accounted) ^ static_cast<std::uint64_t>(k));
}

/// What is left of a budget of `total` simulations (0: none set) after `start`.
inline std::uint64_t remaining_budget(std::uint64_t total, const GroupStart& start) {
  return start.accounted >= total ? 0 : total - start.accounted;
}

namespace detail {

inline FailureCounts failure_counts(const online::PipelineAccounting& counts) {
  return FailureCounts{counts.failed_threw, counts.failed_non_finite, counts.timed_out};
}

inline FailureCounts minus(const FailureCounts& a, const FailureCounts& b) {
  return FailureCounts{a.threw - b.threw, a.non_finite - b.non_finite, a.timed_out - b.timed_out};
}

/// The root's part: SimulationWorkers into a SampleSender, failures forwarded as they happen, until the budget
/// is spent, the wall time is up or a learner asks to stop; then the stream's end.
template <class ProposalType, class SimulatorType>
SimulationGroupReport run_group_root(const Roles& roles, ProposalType& proposal, SimulatorType& simulator, online::PipelineOptions options,
                                     std::uint64_t budget, bool has_budget, std::uint64_t seed, const StreamOptions& stream) {
  using Scalar = typename ProposalType::scalar_type;
  using Workers = online::SimulationWorkers<ProposalType, SimulatorType, SampleSender<Scalar>>;
  const auto learners = static_cast<std::size_t>(roles.learner_count());
  SampleSender<Scalar> sender(roles.stream(), roles.learner_ranks(), proposal.dim(), static_cast<std::size_t>(simulator.x_dim()), stream,
                              static_cast<std::size_t>(roles.group_index()) % learners);
  SimulationGroupReport report;
  report.root = true;
  if (has_budget && budget == 0) { // more groups than simulations: this one has none to run
    sender.finish();
    report.sent = sender.counts();
    return report;
  }
  options.validation_size = 0; // the learners hold out their validation rows themselves
  options.train_after = 0;
  options.deterministic = false;
  options.stop.max_simulations = budget;
  options.seed = seed;
  Workers workers(proposal, simulator, sender, options, typename Workers::Instances{});
  FailureCounts forwarded;
  std::size_t forwarded_records = 0;
  auto forward_failures = [&] {
    const auto [counts, fresh] = workers.failures_since(forwarded_records);
    const FailureCounts now = failure_counts(counts);
    if (now == forwarded) return;
    sender.add_failures(minus(now, forwarded), fresh);
    forwarded = now;
    forwarded_records += fresh.size();
  };
  const auto started = std::chrono::steady_clock::now();
  workers.start(false);
  while (!workers.simulations_over() && !workers.stopping()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    workers.check_timeouts();
    forward_failures();
    sender.poll();
    if (sender.stop_requested()) workers.stop(online::StopReason::requested);
    if (options.stop.max_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() >= options.stop.max_seconds)
      workers.stop(online::StopReason::wall_time);
  }
  workers.join();
  forward_failures();
  sender.finish();
  if (const auto error = workers.error()) std::rethrow_exception(error);
  report.counts = workers.counts();
  report.sent = sender.counts();
  report.failures = workers.failures();
  return report;
}

} // namespace detail

/*
 * run_simulation_group(roles, proposal, simulator, options[, stream]) — call on every rank with
 * roles.simulates(); returns once the group's share of the budget is simulated and streamed (or the wall time
 * options.stop.max_seconds is up, or a learner asked to stop). On other ranks it returns at once.
 *
 *   the root      runs SimulationWorkers (options.workers threads; a ParallelSimulator with one worker) into a
 *                 SampleSender to the learners, reporting failures (θ and message) as they happen.
 *   the members   (ParallelSimulator only) serve the root's solves until it is done.
 *
 * Group k simulates group_budget(options.stop.max_simulations, groups, k) samples (0 = until stopped) with seed
 * options.seed + k, so groups draw different θ and a run is a function of the layout and the seed. After a resume
 * (`start`) the groups share what the checkpoint left of the budget and draw with group_seed(seed, k, start). The
 * validation set and the warm-up are the learners' (their first arrivals); options.validation_size and
 * train_after are ignored here. A simulator of the other kinds (Simulator, PointSimulator) runs on groups of one.
 */
template <Proposal ProposalType, class SimulatorType>
  requires(Simulator<SimulatorType> || PointSimulator<SimulatorType> || ParallelSimulator<SimulatorType>)
SimulationGroupReport run_simulation_group(const Roles& roles, ProposalType& proposal, SimulatorType& simulator,
                                           const online::PipelineOptions& options, const StreamOptions& stream = {},
                                           const GroupStart& start = {}) {
  constexpr const char* part = "osbi::mpi::run_simulation_group";
  if (!roles.simulates()) return {};
  const bool has_budget = options.stop.max_simulations > 0;
  const std::uint64_t budget =
      group_budget(remaining_budget(options.stop.max_simulations, start), roles.group_count(), roles.group_index());
  const std::uint64_t seed = group_seed(options.seed, roles.group_index(), start);
  if constexpr (ParallelSimulator<SimulatorType>) {
    if (!roles.is_group_root()) {
      SimulationGroupReport report;
      report.member_solves = serve_group_member(roles.group(), simulator);
      return report;
    }
    require(roles.group().size() == 1 || options.workers == 1, part, "a simulation group of ", roles.group().size(),
            " ranks solves one θ at a time: options.workers must be 1, not ", options.workers);
    // The worker thread's solves talk on the group's communicator while this thread streams on another.
    require_thread_level(MPI_THREAD_MULTIPLE, part, "a ParallelSimulator's root solves on a worker thread while it streams");
    GroupSimulator<SimulatorType> group_simulator(roles.group(), simulator);
    SimulationGroupReport report;
    std::exception_ptr error;
    try {
      report = detail::run_group_root(roles, proposal, group_simulator, options, budget, has_budget, seed, stream);
    } catch (...) {
      error = std::current_exception();
    }
    group_simulator.stop_members(); // whatever happened, no member is left waiting
    if (error) std::rethrow_exception(error);
    return report;
  } else {
    require(roles.group().size() == 1, part, "a simulator that is not a ParallelSimulator runs on groups of one rank; this group has ",
            roles.group().size(), " (RankLayout::simulation_group_size)");
    return detail::run_group_root(roles, proposal, simulator, options, budget, has_budget, seed, stream);
  }
}

} // namespace osbi::mpi
