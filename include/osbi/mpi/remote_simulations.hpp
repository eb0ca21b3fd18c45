// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::RemoteSimulations: the simulation side of an online::Pipeline under MPI — on a learner, rows received from the simulation groups, held out, warmed up and buffered as SimulationWorkers does with local ones.
#pragma once

#include <osbi/mpi/parallel_simulator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/sample_receiver.hpp>
#include <osbi/mpi/simulation_group.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/core/error.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/simulation_workers.hpp>
#include <osbi/proposal/proposal.hpp>

#include <mpi.h>

#include <algorithm>
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
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::mpi {

namespace detail {

/// The sink a learner's SampleReceiver fills: every row goes through its owner's deliver().
template <class Owner, class Scalar>
struct RemoteDelivery {
  using scalar_type = Scalar;
  Owner* owner;
  std::size_t theta_dim() const { return owner->theta_dim(); }
  std::size_t x_dim() const { return owner->x_dim(); }
  PushResult push(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info = {}) {
    return owner->deliver(theta, x, info);
  }
  void close() { owner->stream_closed(); }
  bool closed() const { return owner->delivery_closed(); }
  std::size_t blocked_producers() const { return 0; }
};

} // namespace detail

/*
 * RemoteSimulations<Proposal, Simulator, Buffer> — Transport's workers_type for online::Pipeline under MPI
 * (mpi/transport.hpp). It has SimulationWorkers' members, so the pipeline's training loop is the same code:
 *
 *   on a learner     a SampleReceiver takes the groups' rows; deliver() puts the first validation_size into this
 *                    learner's validation set and the rest into its buffer (SampleInfo kept), the first train_after
 *                    accepted ones also into the warm-up set; in deterministic mode a row waits until the trainer
 *                    drew enough batches (the lockstep of SimulationWorkers). A co-located learner (Roles::
 *                    colocated()) also runs its own simulation group on a thread.
 *   warm-up          wait_for_warmup() waits for this learner's rows; warmup() then gives every learner learner 0's
 *                    rows (a broadcast), so all z-score alike and start from the same parameters.
 *   accounting       counts(): finished = validation + rows pushed into the buffer + failures the groups reported
 *                    (with their θ in failures()); the learners' sums over ranks account for every simulation.
 *   stop             stop() closes the buffer and asks the groups to stop; join() waits for every group's end.
 *   simulate_only()  on a rank that does not train: runs its simulation group (mpi/simulation_group.hpp) and
 *                    returns what it simulated.
 *
 *   checkpoints      at_consistent_cut() pauses deliveries (a push blocked on a full buffer is not in the cut: its
 *                    row is simulated again after a resume) and gives this learner's validation set and counts;
 *                    restore() takes them back. resume_streams(accounted), on every rank, starts the groups on what
 *                    the checkpoint left of the budget (mpi::GroupStart).
 *
 * Simulation timeouts are the groups' own workers' (simulation_timeout), not enforced from the learner.
 */
template <Proposal ProposalType, class SimulatorType, SampleBuffer Buffer>
  requires(Simulator<SimulatorType> || PointSimulator<SimulatorType> || ParallelSimulator<SimulatorType>)
class RemoteSimulations {
public:
  using Scalar = typename Buffer::scalar_type;
  using ProposalSpace = typename ProposalType::execution_space;
  static constexpr bool batched = Simulator<SimulatorType>;
  using SimulationSpace = std::conditional_t<batched, typename online::detail::simulator_space<SimulatorType>::type, ProposalSpace>;
  using Instances = online::SimulationInstances<ProposalSpace, SimulationSpace>;
  using State = online::SimulationState<Scalar>;
  using Delivery = detail::RemoteDelivery<RemoteSimulations, Scalar>;

  template <class TransportType>
  RemoteSimulations(const TransportType& transport, ProposalType& proposal, SimulatorType& simulator, Buffer& buffer,
                    const online::PipelineOptions& options, const Instances&)
      : m_roles(&transport.roles()), m_stream(transport.stream_options()), m_proposal(proposal), m_simulator(simulator), m_buffer(buffer),
        m_options(options), m_delivery{this} {
    if (options.deterministic) {
      // With several learners a learner that holds rows back (the lockstep) keeps a sender waiting that another
      // learner needs for its next batch, while the first waits for the second in the gradient allreduce.
      require(m_roles->learner_count() == 1, "osbi::mpi::RemoteSimulations", "deterministic mode under MPI runs one learner, not ",
              m_roles->learner_count(), " (any number of simulation groups)");
      // Messages leave only when full, in strict turn, and are taken in rotation: the rows come in one order.
      m_stream.max_delay_seconds = std::numeric_limits<double>::infinity();
      m_stream.ordered = true;
    }
    if (m_roles->is_learner())
      m_receiver = std::make_unique<SampleReceiver<Delivery>>(m_roles->stream(), m_roles->group_roots(), m_delivery, m_stream);
  }

  RemoteSimulations(const RemoteSimulations&) = delete;
  RemoteSimulations& operator=(const RemoteSimulations&) = delete;
  ~RemoteSimulations() { join(); }

  std::size_t theta_dim() const { return m_buffer.theta_dim(); }
  std::size_t x_dim() const { return m_buffer.x_dim(); }

  void start(bool resumed) {
    {
      const std::lock_guard lock(m_mutex);
      m_held.prepare_warmup(m_options.train_after, theta_dim(), x_dim(), resumed);
    }
    if (m_receiver) m_receiver->start();
    if (m_roles->is_learner() && m_roles->simulates())
      m_simulation = std::thread([this] {
        try {
          run_simulation_group(*m_roles, m_proposal, m_simulator, m_options, m_stream, m_start); // accounted on the learners
        } catch (...) {
          fail(std::current_exception());
        }
      });
  }

  void stop(online::StopReason reason) {
    {
      const std::lock_guard lock(m_mutex);
      if (!m_stopping) {
        m_stopping = true;
        if (!m_reason) m_reason = reason;
      }
      m_changed.notify_all();
    }
    if (m_receiver) m_receiver->request_stop(); // closes the buffer (through the delivery sink) and stops the groups
  }

  void join() {
    stop(online::StopReason::requested);
    if (m_simulation.joinable()) m_simulation.join();
    if (m_receiver && !m_joined) {
      m_joined = true;
      try {
        m_receiver->join();
      } catch (...) {
        fail(std::current_exception());
      }
    }
  }

  bool stopping() const {
    const std::lock_guard lock(m_mutex);
    return m_stopping;
  }
  bool simulations_over() const {
    const std::lock_guard lock(m_mutex);
    return m_over;
  }
  std::optional<online::StopReason> reason() const {
    const std::lock_guard lock(m_mutex);
    return m_reason;
  }
  std::exception_ptr error() const {
    const std::lock_guard lock(m_mutex);
    return m_error;
  }

  bool wait_for_warmup() {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_held.warmed_up(m_options.train_after) || m_stopping || m_over; });
    return m_held.warmed_up(m_options.train_after);
  }

  /// Learner 0's warm-up rows, on every learner (a collective over the learners; after wait_for_warmup agreed).
  std::pair<const std::vector<Scalar>&, const std::vector<Scalar>&> warmup() {
    const Communicator& learners = m_roles->learners();
    auto& theta = m_held.warmup_theta;
    auto& x = m_held.warmup_x;
    check(MPI_Bcast(theta.data(), static_cast<int>(theta.size()), datatype<Scalar>(), 0, learners.get()), "osbi::mpi::RemoteSimulations", "MPI_Bcast");
    check(MPI_Bcast(x.data(), static_cast<int>(x.size()), datatype<Scalar>(), 0, learners.get()), "osbi::mpi::RemoteSimulations", "MPI_Bcast");
    return {theta, x};
  }

  void batch_drawn() {
    const std::lock_guard lock(m_mutex);
    ++m_batches_drawn;
    m_changed.notify_all();
  }

  online::PipelineAccounting counts() const {
    const ReceiverCounts received = m_receiver ? m_receiver->counts() : ReceiverCounts{};
    const std::lock_guard lock(m_mutex);
    online::PipelineAccounting out;
    out.validation = m_held.validation_rows;
    out.failed_threw = m_restored_failures.threw + received.failures.threw;
    out.failed_non_finite = m_restored_failures.non_finite + received.failures.non_finite;
    out.timed_out = m_restored_failures.timed_out + received.failures.timed_out;
    out.finished = out.validation + m_pushed + out.failed();
    return out;
  }
  std::vector<online::FailureRecord> failures() const { return m_receiver ? m_receiver->failures() : std::vector<online::FailureRecord>{}; }

  State validation_set() const {
    const std::lock_guard lock(m_mutex);
    State out;
    m_held.save_validation(out);
    return out;
  }

  /// body(state) with this learner's simulation side at a cut where no row is between the stream and the buffer.
  void at_consistent_cut(const std::function<void(const State&)>& body) {
    State state;
    state.counts = counts(); // failures need no cut: they never reach the buffer
    std::unique_lock lock(m_mutex);
    const online::detail::DeliveryPause pause(lock, m_changed, m_paused, m_in_delivery, m_buffer);
    const std::uint64_t failed = state.counts.failed();
    state.counts.validation = m_held.validation_rows;
    state.counts.finished = state.counts.validation + m_pushed + failed;
    state.batches_drawn = m_batches_drawn;
    state.arrivals = m_arrivals;
    m_held.save_validation(state);
    body(state);
  }

  /// Continues from this learner's part of a checkpoint (before start).
  void restore(State state) {
    const std::lock_guard lock(m_mutex);
    const online::PipelineAccounting& c = state.counts;
    m_restored_failures = FailureCounts{c.failed_threw, c.failed_non_finite, c.timed_out};
    m_pushed = c.finished - c.validation - c.failed();
    m_batches_drawn = state.batches_drawn;
    m_arrivals = state.arrivals;
    m_held.restore_validation(std::move(state));
  }

  /// On every rank of a resumed run: the checkpoint accounts for `accounted` simulations over all learners.
  void resume_streams(std::uint64_t accounted) { m_start = GroupStart{true, accounted}; }
  void check_timeouts() {} // the groups' own workers enforce simulation_timeout
  std::size_t abandoned() const { return 0; }

  /// On a rank that does not train: runs this rank's part of its simulation group, reports what it simulated.
  online::PipelineReport simulate_only() {
    const SimulationGroupReport group = run_simulation_group(*m_roles, m_proposal, m_simulator, m_options, m_stream, m_start);
    online::PipelineReport report;
    report.accounting = group.counts;
    report.failures = group.failures;
    report.resumed = m_start.resumed;
    const std::uint64_t share = group_budget(remaining_budget(m_options.stop.max_simulations, m_start), m_roles->group_count(),
                                             std::max(0, m_roles->group_index()));
    report.reason = m_options.stop.max_simulations && group.counts.finished == share ? online::StopReason::simulation_budget
                                                                                   : online::StopReason::requested;
    return report;
  }

  // ---- the delivery sink's side (the receiver's thread) ------------------------------------------------------

  PushResult deliver(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info) {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_stopping || !m_paused; }); // a checkpoint's cut
    if (m_held.hold_for_validation(m_options.validation_size, theta, x, info)) {
      PushResult held;
      held.status = PushStatus::accepted;
      held.id = m_held.validation_rows - 1;
      m_changed.notify_all();
      return held;
    }
    m_changed.wait(lock, [&] {
      if (m_stopping) return true;
      if (m_paused) return false;
      return !m_options.deterministic || m_arrivals < m_options.train_after + m_batches_drawn * m_options.arrivals_per_step;
    });
    ++m_in_delivery;
    lock.unlock();
    const PushResult result = m_buffer.push(theta, x, info); // after a stop the closed buffer counts it rejected_closed
    lock.lock();
    --m_in_delivery;
    ++m_pushed;
    if (result.accepted()) {
      m_arrivals = std::max(m_arrivals, result.id + 1);
      m_held.offer_warmup(m_options.train_after, result.id, theta, x);
    }
    m_changed.notify_all();
    return result;
  }

  /// Every group ended (or a stop closed the stream): nothing more arrives.
  void stream_closed() {
    const std::lock_guard lock(m_mutex);
    m_buffer.close();
    if (!m_stopping) m_over = true;
    m_changed.notify_all();
  }
  bool delivery_closed() const { return m_buffer.closed(); }

private:
  void fail(std::exception_ptr error) {
    {
      const std::lock_guard lock(m_mutex);
      if (!m_error) m_error = error;
    }
    stop(online::StopReason::requested);
  }

  const Roles* m_roles;
  StreamOptions m_stream;
  ProposalType& m_proposal;
  SimulatorType& m_simulator;
  Buffer& m_buffer;
  const online::PipelineOptions& m_options;
  Delivery m_delivery;
  std::unique_ptr<SampleReceiver<Delivery>> m_receiver;
  std::thread m_simulation;
  bool m_joined = false;

  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_stopping = false, m_over = false, m_paused = false;
  std::optional<online::StopReason> m_reason;
  std::exception_ptr m_error;
  std::uint64_t m_pushed = 0, m_arrivals = 0, m_batches_drawn = 0;
  std::size_t m_in_delivery = 0;
  FailureCounts m_restored_failures;
  GroupStart m_start;
  online::detail::HeldRows<Scalar> m_held;
};

} // namespace osbi::mpi
