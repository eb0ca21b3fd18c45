// SPDX-License-Identifier: BSD-3-Clause
/// \brief SimulationWorkers: the simulation side of a pipeline — worker threads draw θ, simulate, and deliver (θ, x) to a sink, with faults, timeouts and exact accounting.
#pragma once

#include <osbi/buffer/sample_sink.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/schedule.hpp>
#include <osbi/proposal/proposal.hpp>
#include <osbi/proposal/proposal_history.hpp>
#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::online {

namespace detail {

/// One lock per Kokkos execution-space type: Kokkos 3.4.1's OpenMP pool and Serial scratch accept
/// launches from one host thread at a time (DESIGN.md), so every launch from a pipeline thread into a
/// space another thread also uses holds this.
template <class Space>
std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

template <class Space>
constexpr bool host_accessible = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible;

template <class S>
struct simulator_space {
  using type = void;
};
template <class S>
  requires requires { typename S::execution_space; }
struct simulator_space<S> {
  using type = typename S::execution_space;
};

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace detail

/// The execution-space instances the simulation side launches on (the caller's: DESIGN.md's rule 6).
template <class ProposalSpace, class SimulationSpace>
struct SimulationInstances {
  ProposalSpace proposal{};
  SimulationSpace simulation{};
};

/// What a checkpoint keeps of the simulation side (taken at a consistent cut: SimulationWorkers::at_consistent_cut).
template <class Scalar>
struct SimulationState {
  std::uint64_t frontier = 0;          ///< SimulationSchedule: every simulation below frontier · chunk is finished
  std::vector<std::uint64_t> done;     ///< finished simulations above it
  PipelineAccounting counts;           ///< the sink's accounting not included
  std::uint64_t batches_drawn = 0;     ///< the trainer's batches (deterministic lockstep)
  std::uint64_t arrivals = 0;          ///< rows the sink accepted
  std::size_t validation_rows = 0;
  std::vector<Scalar> validation_theta, validation_x;
  std::vector<double> validation_log_prob;
  std::vector<std::uint64_t> validation_round;
};

namespace detail {

/*
 * HeldRows<Scalar> — the rows a pipeline's simulation side keeps besides the buffer, in arrival order: the validation
 * set (the first validation_size finished simulations, never trained on) and the warm-up set (the first train_after
 * rows the buffer accepted: z-scoring and the data-dependent start). One copy of this bookkeeping for the local
 * workers (SimulationWorkers) and an MPI learner's (mpi::RemoteSimulations). Not thread-safe: the owner's mutex
 * guards it.
 */
/// A checkpoint's cut, for the owner of a sink's deliveries (SimulationWorkers, mpi::RemoteSimulations): with the
/// owner's lock held, pauses deliveries (`paused`) and waits until every push in progress is one blocked on the full
/// sink; deliveries resume when it goes out of scope, also when the checkpoint's body throws.
class DeliveryPause {
public:
  template <class Sink>
  DeliveryPause(std::unique_lock<std::mutex>& lock, std::condition_variable& changed, bool& paused, const std::size_t& in_delivery,
                const Sink& sink)
      : m_changed(changed), m_paused(paused) {
    m_paused = true;
    while (in_delivery > sink.blocked_producers()) m_changed.wait_for(lock, std::chrono::milliseconds(1));
  }
  ~DeliveryPause() {
    m_paused = false;
    m_changed.notify_all();
  }
  DeliveryPause(const DeliveryPause&) = delete;
  DeliveryPause& operator=(const DeliveryPause&) = delete;

private:
  std::condition_variable& m_changed;
  bool& m_paused;
};

template <class Scalar>
struct HeldRows {
  std::size_t validation_rows = 0, warmup_rows = 0;
  std::vector<Scalar> validation_theta, validation_x, warmup_theta, warmup_x;
  std::vector<double> validation_log_prob;
  std::vector<std::uint64_t> validation_round;

  /// Keeps the row for validation if the set holds fewer than `validation_size` rows (true); else false.
  bool hold_for_validation(std::size_t validation_size, std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info) {
    if (validation_rows >= validation_size) return false;
    validation_theta.insert(validation_theta.end(), theta.begin(), theta.end());
    validation_x.insert(validation_x.end(), x.begin(), x.end());
    validation_log_prob.push_back(info.proposal_log_prob);
    validation_round.push_back(info.generation);
    ++validation_rows;
    return true;
  }

  /// Room for `rows` warm-up rows (a fresh run), or the warm-up counted as done (a resumed one).
  void prepare_warmup(std::size_t rows, std::size_t theta_dim, std::size_t x_dim, bool resumed) {
    if (resumed) {
      warmup_rows = rows;
      return;
    }
    warmup_theta.assign(rows * theta_dim, Scalar(0));
    warmup_x.assign(rows * x_dim, Scalar(0));
  }
  bool warmed_up(std::size_t rows) const { return warmup_rows >= rows; }

  /// A row the buffer accepted with arrival index `id`: one of the first `rows` joins the warm-up set at its index.
  void offer_warmup(std::size_t rows, std::uint64_t id, std::span<const Scalar> theta, std::span<const Scalar> x) {
    if (id >= rows || warmup_rows >= rows || warmup_theta.empty()) return;
    std::copy(theta.begin(), theta.end(), warmup_theta.begin() + static_cast<std::ptrdiff_t>(id * theta.size()));
    std::copy(x.begin(), x.end(), warmup_x.begin() + static_cast<std::ptrdiff_t>(id * x.size()));
    ++warmup_rows;
  }

  /// The validation set into / out of a checkpoint's simulation state.
  void save_validation(SimulationState<Scalar>& state) const {
    state.validation_rows = validation_rows;
    state.validation_theta = validation_theta;
    state.validation_x = validation_x;
    state.validation_log_prob = validation_log_prob;
    state.validation_round = validation_round;
  }
  void restore_validation(SimulationState<Scalar>&& state) {
    validation_rows = state.validation_rows;
    validation_theta = std::move(state.validation_theta);
    validation_x = std::move(state.validation_x);
    validation_log_prob = std::move(state.validation_log_prob);
    validation_round = std::move(state.validation_round);
  }
};

} // namespace detail

/*
 * SimulationWorkers<Proposal, Simulator, Sink> — `workers` threads take chunks from a SimulationSchedule, draw θ
 * from the proposal (chunk c: batch c of stream (seed, streams::pipeline_proposal)), simulate (row r of chunk c:
 * batch c, row r of (seed, streams::pipeline_simulator), whichever worker runs it), and deliver each finished
 * simulation exactly once: to the validation set (the first validation_size accepted ones), to the sink (with
 * SampleInfo: the proposal's round and log density at θ, the simulation's wall time), or to the failure records
 * (FailureKind: threw, non_finite, timed_out). The first train_after rows the sink accepts are also kept as the
 * warm-up set (z-scoring and the data-dependent start).
 *
 * A PointSimulator runs on every worker, each with its own copy; a batched Simulator runs a chunk per launch on
 * its execution-space instance, launches into one space type serialized (detail::launch_mutex). A point
 * simulation running longer than simulation_timeout is abandoned (its thread detached, its result discarded,
 * recorded timed_out) and a fresh worker redoes the rest of its chunk.
 *
 * Deterministic mode (one worker): a delivery waits until the sink's arrivals < train_after + batches_drawn ·
 * arrivals_per_step, where batch_drawn() counts the trainer's batches — the lockstep that makes a run a
 * function of its seed. pause_deliveries() gives a consistent cut for checkpoints.
 *
 * All state is guarded by one mutex; `changed` is notified on every change the trainer may wait for.
 */
template <Proposal ProposalType, class SimulatorType, SampleSink Sink>
  requires(Simulator<SimulatorType> || PointSimulator<SimulatorType>)
class SimulationWorkers {
public:
  using Scalar = typename Sink::scalar_type;
  using ProposalSpace = typename ProposalType::execution_space;
  static constexpr bool batched = Simulator<SimulatorType>;
  using SimulationSpace = std::conditional_t<batched, typename detail::simulator_space<SimulatorType>::type, ProposalSpace>;
  using Instances = SimulationInstances<ProposalSpace, SimulationSpace>;
  static_assert(batched || std::is_copy_constructible_v<SimulatorType>,
                "osbi::online::SimulationWorkers: every worker runs its own copy of a PointSimulator (a solver's state is "
                "not shared between threads), so the point simulator must be copy-constructible (osbi/online/simulation_workers.hpp)");

  using State = SimulationState<Scalar>;
  /// ProposalHistory<ProposalType> for a SnapshotProposal (track_versions), else void.
  using History = typename osbi::detail::proposal_history_of<ProposalType>::type;

  SimulationWorkers(ProposalType& proposal, SimulatorType& simulator, Sink& sink, const PipelineOptions& options,
                    const Instances& instances)
      : m_proposal(proposal), m_simulator(simulator), m_sink(sink), m_options(options), m_instances(instances),
        m_schedule(options.stop.max_simulations, options.simulation_batch) {}

  SimulationWorkers(const SimulationWorkers&) = delete;
  SimulationWorkers& operator=(const SimulationWorkers&) = delete;
  ~SimulationWorkers() { join(); }

  std::size_t theta_dim() const { return m_sink.theta_dim(); }
  std::size_t x_dim() const { return m_sink.x_dim(); }

  /// Starts the worker threads (once); warm-up rows are collected unless `resumed`.
  void start(bool resumed) {
    const std::lock_guard lock(m_mutex);
    m_held.prepare_warmup(m_options.train_after, theta_dim(), x_dim(), resumed);
    for (std::size_t w = 0; w < m_options.workers; ++w) start_worker();
  }

  /// Closes the sink and stops handing out work; the first reason given is kept. Any thread.
  void stop(StopReason reason) {
    // Close and flag together: a worker released by m_stopping finds the sink closed (its push is counted
    // rejected_closed), and a trainer that sees the sink closed also sees why.
    const std::lock_guard lock(m_mutex);
    m_sink.close();
    if (!m_stopping) {
      m_stopping = true;
      if (!m_reason) m_reason = reason;
    }
    m_changed.notify_all();
  }

  /// Stops and joins every worker that was not abandoned.
  void join() {
    stop(StopReason::requested);
    std::vector<std::shared_ptr<Slot>> workers;
    {
      const std::lock_guard lock(m_mutex);
      workers = m_workers;
    }
    for (const auto& slot : workers)
      if (!slot->abandoned.load() && slot->thread.joinable()) slot->thread.join();
  }

  bool stopping() const {
    const std::lock_guard lock(m_mutex);
    return m_stopping;
  }
  /// Every simulation of the budget is finished (nothing more will arrive).
  bool simulations_over() const {
    const std::lock_guard lock(m_mutex);
    return m_simulations_over;
  }
  std::optional<StopReason> reason() const {
    const std::lock_guard lock(m_mutex);
    return m_reason;
  }
  std::exception_ptr error() const {
    const std::lock_guard lock(m_mutex);
    return m_error;
  }

  /// Waits until train_after rows reached the sink (true), or the run stops or runs dry first (false).
  bool wait_for_warmup() {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_held.warmed_up(m_options.train_after) || m_stopping || m_simulations_over; });
    return m_held.warmed_up(m_options.train_after);
  }

  /// The warm-up rows (train_after × D_θ and × D_x), once wait_for_warmup() returned true.
  std::pair<const std::vector<Scalar>&, const std::vector<Scalar>&> warmup() const { return {m_held.warmup_theta, m_held.warmup_x}; }

  /// The trainer drew one more batch (deterministic mode's lockstep).
  void batch_drawn() {
    const std::lock_guard lock(m_mutex);
    ++m_batches_drawn;
    m_changed.notify_all();
  }

  /// Where every simulation went so far (the sink's own accounting is the caller's to add).
  PipelineAccounting counts() const {
    const std::lock_guard lock(m_mutex);
    return m_counts;
  }
  std::vector<FailureRecord> failures() const {
    const std::lock_guard lock(m_mutex);
    return m_failures;
  }
  /// The counts and the failure records from index `first` on, at one instant (a consistent cut: every record
  /// returned is counted, so records since an earlier cut never outnumber the failures counted since).
  std::pair<PipelineAccounting, std::vector<FailureRecord>> failures_since(std::size_t first) const {
    const std::lock_guard lock(m_mutex);
    const auto begin = m_failures.begin() + static_cast<std::ptrdiff_t>(std::min(first, m_failures.size()));
    return {m_counts, std::vector<FailureRecord>(begin, m_failures.end())};
  }

  /// Pauses deliveries until no push is between "accepted by the sink" and "counted here", calls
  /// body(state) with the simulation state at that cut (the sink does not change meanwhile either), resumes.
  void at_consistent_cut(const std::function<void(const State&)>& body) {
    std::unique_lock lock(m_mutex);
    const detail::DeliveryPause pause(lock, m_changed, m_paused, m_in_delivery, m_sink);
    State state;
    state.frontier = m_schedule.frontier();
    state.done = m_schedule.done_above_frontier();
    state.counts = m_counts;
    state.batches_drawn = m_batches_drawn;
    state.arrivals = m_arrivals;
    m_held.save_validation(state);
    body(state);
  }

  /// Continues from a checkpointed state (before start).
  void restore(State state) {
    const std::lock_guard lock(m_mutex);
    m_schedule.restore(state.frontier, state.done);
    m_counts = state.counts;
    m_batches_drawn = state.batches_drawn;
    m_arrivals = state.arrivals;
    m_held.restore_validation(std::move(state));
  }

  /// Importance weights' record (before start): each proposal version is noted in `history` before its first row
  /// is drawn, and every row offered to the sink is counted under its round (taken back when the sink refuses it).
  void track_versions(std::shared_ptr<History> history) requires SnapshotProposal<ProposalType> {
    const std::lock_guard lock(m_mutex);
    m_history = std::move(history);
  }

  /// The validation set so far (rows × D_θ, rows × D_x, the proposal's log density per row).
  State validation_set() const {
    const std::lock_guard lock(m_mutex);
    State state;
    m_held.save_validation(state);
    return state;
  }

  /// Abandons point simulations running longer than simulation_timeout (the monitor calls this).
  void check_timeouts() {
    if (m_options.simulation_timeout <= 0) return;
    const std::lock_guard lock(m_mutex);
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const auto limit = static_cast<std::int64_t>(m_options.simulation_timeout * 1e9);
    const std::size_t count = m_workers.size();
    for (std::size_t w = 0; w < count; ++w) {
      const auto slot = m_workers[w];
      if (slot->abandoned.load() || !slot->busy.load() || now - slot->busy_since_ns.load() < limit) continue;
      slot->abandoned.store(true);
      slot->thread.detach();
      ++m_abandoned;
      const std::uint64_t index = slot->current.load();
      record_failure(index, FailureKind::timed_out, slot->current_theta,
                     "still running after simulation_timeout = " + std::to_string(m_options.simulation_timeout) + " s");
      m_schedule.retry(index);
      --m_active_workers;
      if (!m_stopping) start_worker();
    }
  }

  /// Timed-out solver threads left running.
  std::size_t abandoned() const {
    const std::lock_guard lock(m_mutex);
    return m_abandoned;
  }

private:
  struct Slot {
    std::atomic<bool> abandoned{false};
    std::atomic<bool> busy{false};
    std::atomic<std::int64_t> busy_since_ns{0};
    std::atomic<std::uint64_t> current{0};
    std::vector<double> current_theta; // guarded by m_mutex
    std::optional<SimulatorType> own;  // point simulators: this worker's copy
    std::thread thread;
  };

  /// θ of a chunk in one launch, with the proposal's log density at each row (host, as double).
  struct Draw {
    std::vector<double> theta, log_prob;
    std::uint64_t round = 0;
  };

  Draw draw(std::uint64_t chunk, const Matrix<Scalar, ProposalSpace>& theta, const Vector<Scalar, ProposalSpace>& log_prob) {
    const std::size_t rows = m_schedule_rows(chunk), d = theta_dim();
    Draw out;
    out.theta.resize(rows * d);
    out.log_prob.resize(rows);
    const std::lock_guard lock(detail::launch_mutex<ProposalSpace>());
    const auto head = std::make_pair(std::size_t{0}, rows);
    const auto view = Kokkos::subview(theta, head, Kokkos::ALL);
    const auto values = Kokkos::subview(log_prob, head);
    const ProposalSpace& space = m_instances.proposal;
    // A proposal updated between these calls would label rows with a round that did not draw them: draw again
    // until the round is the same before and after (a fixed proposal's round never changes: one pass).
    for (std::uint64_t before = proposal_round(m_proposal);;) {
      // With a history, a round's first draw freezes its version first: if the round is still `before` after the
      // draw, the rows came from exactly that version.
      [[maybe_unused]] std::optional<ProposalType> version;
      if constexpr (SnapshotProposal<ProposalType>) {
        if (m_history && !m_history->knows(before)) {
          version.emplace(m_proposal.snapshot());
          before = static_cast<std::uint64_t>(version->round());
        }
      }
      m_proposal.sample(space, RandomStream(m_options.seed, streams::pipeline_proposal).at(chunk), view);
      m_proposal.log_prob(space, view, values);
      const std::uint64_t after = proposal_round(m_proposal);
      if (after == before) {
        if constexpr (SnapshotProposal<ProposalType>)
          if (version) m_history->note(*version);
        out.round = after;
        break;
      }
      before = after;
    }
    space.fence();
    const auto host = Kokkos::create_mirror_view(view);
    const auto host_values = Kokkos::create_mirror_view(values);
    if constexpr (!detail::host_accessible<ProposalSpace>) {
      Kokkos::deep_copy(host, view);
      Kokkos::deep_copy(host_values, values);
    }
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < d; ++j) out.theta[i * d + j] = static_cast<double>(host(i, j));
      out.log_prob[i] = static_cast<double>(host_values(i));
    }
    return out;
  }

  std::size_t m_schedule_rows(std::uint64_t chunk) {
    const std::lock_guard lock(m_mutex);
    return m_schedule.chunk_rows(chunk);
  }

  void mark_done(std::uint64_t index) { // m_mutex held
    m_schedule.mark_done(index);
    ++m_counts.finished;
    m_changed.notify_all();
  }

  void record_failure(std::uint64_t index, FailureKind kind, std::span<const double> theta, std::string message) {
    // m_mutex held
    switch (kind) {
    case FailureKind::threw: ++m_counts.failed_threw; break;
    case FailureKind::non_finite: ++m_counts.failed_non_finite; break;
    case FailureKind::timed_out: ++m_counts.timed_out; break;
    }
    if (m_failures.size() < m_options.max_failure_records)
      m_failures.push_back(FailureRecord{index, kind, std::vector<double>(theta.begin(), theta.end()), std::move(message)});
    mark_done(index);
  }

  /// A finished simulation: validation set, sink, or nothing (stopping). θ and x in Scalar.
  void deliver(std::uint64_t index, std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info) {
    std::unique_lock lock(m_mutex);
    if (m_held.hold_for_validation(m_options.validation_size, theta, x, info)) {
      ++m_counts.validation;
      mark_done(index);
      return;
    }
    // Checkpoints pause deliveries; deterministic mode holds arrivals to the trainer's schedule.
    m_changed.wait(lock, [&] {
      if (m_stopping) return true;
      if (m_paused) return false;
      if (!m_options.deterministic) return true;
      return m_arrivals < m_options.train_after + m_batches_drawn * m_options.arrivals_per_step;
    });
    // A stop came first: the simulation stays unfinished (not counted, not marked done), so a run resumed from
    // this run's last checkpoint simulates it again instead of losing it.
    if (m_stopping) return;
    ++m_in_delivery;
    lock.unlock();
    // Counted before the push: the trainer may draw the row the moment it is in.
    if constexpr (SnapshotProposal<ProposalType>)
      if (m_history) m_history->count(info.generation, 1);
    const PushResult result = m_sink.push(theta, x, info);
    if constexpr (SnapshotProposal<ProposalType>)
      if (m_history && !result.accepted()) m_history->count(info.generation, -1);
    lock.lock();
    --m_in_delivery;
    if (result.accepted()) {
      m_arrivals = std::max(m_arrivals, result.id + 1);
      m_held.offer_warmup(m_options.train_after, result.id, theta, x);
    }
    mark_done(index);
  }

  void run_point_chunk(const std::shared_ptr<Slot>& slot, std::uint64_t chunk, const Matrix<Scalar, ProposalSpace>& theta_view,
                       const Vector<Scalar, ProposalSpace>& log_prob_view) requires(!batched) {
    const Draw drawn = draw(chunk, theta_view, log_prob_view);
    const std::size_t rows = drawn.log_prob.size(), d_theta = theta_dim(), d_x = x_dim();
    std::vector<double> x(d_x);
    std::vector<Scalar> theta_scalar(d_theta), x_scalar(d_x);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::uint64_t index = chunk * m_options.simulation_batch + r;
      const std::span<const double> row(drawn.theta.data() + r * d_theta, d_theta);
      {
        const std::lock_guard lock(m_mutex);
        if (m_stopping) return;
        if (m_schedule.is_done(index)) continue;
        slot->current_theta.assign(row.begin(), row.end());
        slot->current.store(index);
        slot->busy_since_ns.store(std::chrono::steady_clock::now().time_since_epoch().count());
        slot->busy.store(true);
      }
      std::fill(x.begin(), x.end(), std::numeric_limits<double>::quiet_NaN());
      RowRandom rng = RandomStream(m_options.seed, streams::pipeline_simulator).at(chunk).row(static_cast<std::uint32_t>(r));
      std::optional<std::string> error;
      const double started = detail::now_seconds();
      try {
        slot->own->simulate(row, std::span<double>(x), rng);
      } catch (const std::exception& e) {
        error = std::string("threw: ") + e.what();
      } catch (...) {
        error = std::string("threw a non-standard exception");
      }
      const double seconds = detail::now_seconds() - started;
      // An abandoned worker's result is discarded; it touches nothing of the pipeline any more.
      if (slot->abandoned.load()) return;
      slot->busy.store(false);
      for (std::size_t j = 0; j < d_theta; ++j) theta_scalar[j] = static_cast<Scalar>(row[j]);
      bool finite = true;
      for (std::size_t j = 0; j < d_x; ++j) {
        x_scalar[j] = static_cast<Scalar>(x[j]);
        finite = finite && std::isfinite(x_scalar[j]);
      }
      {
        // busy is false now, so the monitor cannot abandon this slot after this check.
        const std::lock_guard lock(m_mutex);
        if (slot->abandoned.load()) return;
        if (error) { record_failure(index, FailureKind::threw, row, *error); continue; }
        if (!finite) { record_failure(index, FailureKind::non_finite, row, "x has a NaN or ±Inf value"); continue; }
      }
      deliver(index, theta_scalar, x_scalar, SampleInfo{drawn.round, seconds, drawn.log_prob[r]});
    }
  }

  void run_batched_chunk(std::uint64_t chunk, const Matrix<Scalar, ProposalSpace>& theta_view,
                         const Vector<Scalar, ProposalSpace>& log_prob_view) requires batched {
    const Draw drawn = draw(chunk, theta_view, log_prob_view);
    const std::size_t rows = drawn.log_prob.size(), d_theta = theta_dim(), d_x = x_dim();
    std::vector<Scalar> x_host(rows * d_x);
    const double started = detail::now_seconds();
    {
      const std::lock_guard lock(detail::launch_mutex<SimulationSpace>());
      const SimulationSpace& space = m_instances.simulation;
      Matrix<Scalar, SimulationSpace> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::SimulationWorkers::theta"), rows, d_theta);
      Matrix<Scalar, SimulationSpace> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::SimulationWorkers::x"), rows, d_x);
      auto t_host = Kokkos::create_mirror_view(t);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d_theta; ++j) t_host(i, j) = static_cast<Scalar>(drawn.theta[i * d_theta + j]);
      if constexpr (!detail::host_accessible<SimulationSpace>) Kokkos::deep_copy(space, t, t_host);
      m_simulator.simulate(space, t, x, RandomStream(m_options.seed, streams::pipeline_simulator).at(chunk));
      space.fence();
      auto xh = Kokkos::create_mirror_view(x);
      if constexpr (!detail::host_accessible<SimulationSpace>) Kokkos::deep_copy(xh, x);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d_x; ++j) x_host[i * d_x + j] = xh(i, j);
    }
    const double seconds = (detail::now_seconds() - started) / static_cast<double>(rows);
    std::vector<Scalar> theta_scalar(d_theta);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::uint64_t index = chunk * m_options.simulation_batch + r;
      const std::span<const double> row(drawn.theta.data() + r * d_theta, d_theta);
      const std::span<const Scalar> xr(x_host.data() + r * d_x, d_x);
      {
        const std::lock_guard lock(m_mutex);
        if (m_stopping) return;
        if (m_schedule.is_done(index)) continue;
        bool finite = true;
        for (const Scalar v : xr) finite = finite && std::isfinite(v);
        if (!finite) { record_failure(index, FailureKind::non_finite, row, "x has a NaN or ±Inf value"); continue; }
      }
      for (std::size_t j = 0; j < d_theta; ++j) theta_scalar[j] = static_cast<Scalar>(row[j]);
      deliver(index, theta_scalar, xr, SampleInfo{drawn.round, seconds, drawn.log_prob[r]});
    }
  }

  std::optional<std::uint64_t> take_chunk() {
    const std::lock_guard lock(m_mutex);
    if (m_stopping) return std::nullopt;
    return m_schedule.take();
  }

  void worker_main(std::shared_ptr<Slot> slot) {
    try {
      Matrix<Scalar, ProposalSpace> theta_view;
      Vector<Scalar, ProposalSpace> log_prob_view;
      {
        const std::lock_guard lock(detail::launch_mutex<ProposalSpace>());
        theta_view = Matrix<Scalar, ProposalSpace>(
            Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::SimulationWorkers::proposal_theta"),
            m_options.simulation_batch, theta_dim());
        log_prob_view = Vector<Scalar, ProposalSpace>(
            Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::SimulationWorkers::proposal_log_prob"),
            m_options.simulation_batch);
      }
      while (const auto chunk = take_chunk()) {
        if constexpr (batched)
          run_batched_chunk(*chunk, theta_view, log_prob_view);
        else
          run_point_chunk(slot, *chunk, theta_view, log_prob_view);
        if (slot->abandoned.load()) return;
      }
    } catch (...) {
      if (slot->abandoned.load()) return;
      const std::lock_guard lock(m_mutex);
      if (!m_error) m_error = std::current_exception();
      m_stopping = true;
      m_sink.close();
      m_changed.notify_all();
    }
    const std::lock_guard lock(m_mutex);
    if (--m_active_workers == 0 && !m_stopping) {
      // Budget spent: nothing more will arrive.
      m_simulations_over = true;
      m_sink.close();
    }
    m_changed.notify_all();
  }

  void start_worker() { // m_mutex held
    auto slot = std::make_shared<Slot>();
    if constexpr (!batched) slot->own.emplace(m_simulator);
    ++m_active_workers;
    slot->thread = std::thread([this, slot] { worker_main(slot); });
    m_workers.push_back(std::move(slot));
  }

  ProposalType& m_proposal;
  SimulatorType& m_simulator;
  Sink& m_sink;
  const PipelineOptions& m_options;
  Instances m_instances;

  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  SimulationSchedule m_schedule;
  PipelineAccounting m_counts;
  std::vector<FailureRecord> m_failures;
  std::vector<std::shared_ptr<Slot>> m_workers;
  std::size_t m_active_workers = 0, m_abandoned = 0, m_in_delivery = 0;
  bool m_stopping = false, m_paused = false, m_simulations_over = false;
  std::optional<StopReason> m_reason;
  std::exception_ptr m_error;
  std::uint64_t m_batches_drawn = 0, m_arrivals = 0;
  detail::HeldRows<Scalar> m_held;
  std::shared_ptr<History> m_history; // importance weights only
};

} // namespace osbi::online
