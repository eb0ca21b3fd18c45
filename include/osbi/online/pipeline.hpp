// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pipeline: simulation workers stream (θ, x) into a buffer while a trainer fits the estimator from it, concurrently — the wiring of the online parts.
#pragma once

#include <osbi/buffer/buffer_checkpoint.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/online/monitor.hpp>
#include <osbi/online/online_trainer.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/pacing.hpp>
#include <osbi/online/pipeline_checkpoint.hpp>
#include <osbi/online/simulation_workers.hpp>
#include <osbi/online/transport.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/optimizer_checkpoint.hpp>
#include <osbi/proposal/proposal.hpp>
#include <osbi/proposal/proposal_history.hpp>
#include <osbi/proposal/proposal_mixture.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::online {

namespace detail {
/// What PipelineOptions::importance_weights needs: versions to keep, the prior for p, workers that record them.
template <class P, class Workers>
concept importance_weightable = SnapshotProposal<P> && requires(const P& proposal) { proposal.prior(); } &&
                                requires(Workers& workers, std::shared_ptr<ProposalHistory<P>> history) { workers.track_versions(history); };
} // namespace detail

/*
 * Pipeline<Proposal, Simulator, Buffer, Estimator, Loss, Optimizer> — online SBI (DESIGN.md): `workers` threads
 * draw θ from the proposal, simulate, and push (θ, x) with its metadata into the buffer (SimulationWorkers); the
 * thread that calls run() trains the estimator from buffer batches at the same time (OnlineTrainer: the one
 * training step, the loss, the optimizer, EarlyStopping), until a stop rule fires; a Monitor thread watches
 * timeouts, wall time, Ctrl-C and writes progress and metrics. The buffer is the caller's (built by them, used
 * only through SampleBuffer — the workers see its sink side, the trainer its source side); so are the optimizer
 * and the execution-space instances (train: the estimator's; proposal and simulation: the workers').
 *
 * Threads. run()'s caller trains (with Kokkos 3.x it must be the thread that initialized Kokkos: OpenMP work
 * is accepted from that thread only); a PointSimulator (plain C++, one θ at a time) runs on every worker, each
 * with its own copy. A batched Kokkos Simulator runs `simulation_batch` rows per launch on a worker thread,
 * launches into one space type serialized: use one worker and a space the trainer does not use (with Kokkos
 * 3.x the simulator and the proposal on Kokkos::Serial, checked at compile time, the estimator on OpenMP).
 *
 * Samples and randomness: SimulationWorkers. Faults (throw, NaN/±Inf, timeout with worker replacement) are
 * recorded with their θ and never reach the buffer. request_stop() (or SIGINT with handle_interrupt) closes the
 * buffer, lets the trainer finish its step and returns.
 *
 * Pacing (options.pacing, online/pacing.hpp): a replay-ratio cap makes the trainer wait for arrivals before a batch
 * that would train more samples per arrival than allowed (until the buffer closes); a learning-rate warm-up scales
 * each step's rate by the arrivals so far. Plasticity (options.plasticity): at train_after · growth^k arrivals,
 * while the simulations go on, the parameters are pulled back toward those of the prepared estimator
 * (θ ← θ₀ + keep · (θ − θ₀)); checkpoints keep θ₀.
 *
 * Importance weights (options.importance_weights): with a proposal that changes as training goes (a loss-driven one),
 * the workers note each version (its snapshot) and count the rows it put in the buffer (ProposalHistory); each batch
 * row is then weighted by p(θ)/q̄(θ), q̄ the mixture of all versions by their rows so far, so that a weighted NLL
 * trains the posterior under the prior, not the proposal's.
 *
 * Order of samples: the first validation_size accepted simulations form the validation set; the rest go to the
 * buffer. The first train_after buffer arrivals prepare the estimator (Posterior::prepare: z-scoring of θ in the
 * estimator's coordinates and of x, and the data-dependent start).
 *
 * End of a budget: once max_simulations simulations are finished the buffer is closed: a consuming buffer is
 * drained; with a reusing one training goes on until the plateau rule fires if one is set, else until the
 * trainer has used stop.epochs_after_budget times as many rows as were ever accepted.
 *
 * Deterministic mode (one worker, no timeout): buffer arrivals are held to train_after + k · arrivals_per_step
 * while batch k is drawn, and batch k is drawn only once they are there: the run is a function of the seed.
 *
 * Checkpoints (options.checkpoint, every checkpoint_every_steps steps and/or seconds, and at the end): the
 * sections of online/pipeline_checkpoint.hpp plus the buffer, the optimizer and the parameters, written
 * atomically. resume(path) before run() continues from one: in deterministic mode the continued run ends with
 * the same bits as one that never stopped. The transport decides the file's layout (Transport::write_checkpoint):
 * under MPI learner 0 writes one file holding every learner's part (mpi/transport.hpp).
 */
template <Proposal ProposalType, class SimulatorType, SampleBuffer Buffer, Estimator EstimatorType, Loss<EstimatorType> LossType = DefaultLoss<EstimatorType>,
          optim::Optimizer OptimizerType = optim::Adam<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>,
          Transport TransportType = InProcess>
  requires(Simulator<SimulatorType> || PointSimulator<SimulatorType> || !std::is_same_v<TransportType, InProcess>)
class Pipeline {
public:
  using Scalar = typename EstimatorType::scalar_type;
  using Space = typename EstimatorType::execution_space;
  using Workers = typename TransportType::template workers_type<ProposalType, SimulatorType, Buffer>;
  using Trainer = OnlineTrainer<EstimatorType, LossType, OptimizerType, Buffer, typename TransportType::reduction_type>;
  using transport_type = TransportType;
  using estimator_type = EstimatorType;
  using loss_type = LossType; ///< DefaultLoss<EstimatorType> unless given: NLL, flow matching or score matching

  /// The execution-space instances a pipeline launches on.
  struct Instances {
    Space train{};
    typename Workers::Instances simulation{};
  };

  static_assert(std::is_same_v<typename ProposalType::scalar_type, Scalar> && std::is_same_v<typename Buffer::scalar_type, Scalar>,
                "osbi::online::Pipeline: the proposal, buffer and estimator must share one scalar_type (see osbi/online/pipeline.hpp)");
#if defined(KOKKOS_ENABLE_OPENMP) && KOKKOS_VERSION < 40000
  // Kokkos 3.x keeps its OpenMP instance in a thread_local of the thread that initialized Kokkos: no
  // other thread may launch or allocate there, and the workers are other threads.
  static_assert(!std::is_same_v<typename ProposalType::execution_space, Kokkos::OpenMP>,
                "osbi::online::Pipeline: with Kokkos 3.x the proposal must not live on Kokkos::OpenMP: workers draw θ on their "
                "own threads, which Kokkos 3's OpenMP backend does not accept. Use the prior on Kokkos::Serial.");
  static_assert(!Workers::batched || !std::is_same_v<typename Workers::SimulationSpace, Kokkos::OpenMP>,
                "osbi::online::Pipeline: with Kokkos 3.x a batched simulator must not run on Kokkos::OpenMP: it runs on a "
                "worker thread, which Kokkos 3's OpenMP backend does not accept. Run it on Kokkos::Serial (and the "
                "estimator on OpenMP, so both proceed at once), or bring Kokkos >= 4.");
#endif

  Pipeline(Posterior<EstimatorType>&& posterior, ProposalType proposal, SimulatorType simulator, Buffer& buffer,
           OptimizerType optimizer, PipelineOptions options = {}, LossType loss = {}, const Instances& instances = {},
           TransportType transport = {})
      : m_transport(std::move(transport)), m_posterior(std::move(posterior)), m_proposal(std::move(proposal)),
        m_simulator(std::move(simulator)), m_buffer(buffer), m_optimizer(std::move(optimizer)), m_loss(std::move(loss)),
        m_options(check(std::move(options))), m_instances(instances),
        m_workers(detail::make_workers<Workers>(m_transport, m_proposal, m_simulator, m_buffer, m_options, instances.simulation)),
        m_trainer(m_posterior, m_loss, m_optimizer, m_buffer, m_options, instances.train, m_transport.reduction()) {
    constexpr const char* part = "osbi::online::Pipeline";
    if constexpr (Workers::batched)
      static_assert(std::is_same_v<typename SimulatorType::scalar_type, Scalar>,
                    "osbi::online::Pipeline: a batched simulator must share the estimator's scalar_type");
    require_extent(static_cast<std::size_t>(m_simulator.theta_dim()), m_proposal.dim(), part, "the simulator's theta_dim (the proposal's dim)");
    require_extent(m_posterior.theta_dim(), m_proposal.dim(), part, "the estimator's theta_dim (the proposal's dim)");
    require_extent(m_posterior.x_dim(), static_cast<std::size_t>(m_simulator.x_dim()), part, "the estimator's context_dim (the simulator's x_dim)");
    require_extent(m_buffer.theta_dim(), m_proposal.dim(), part, "the buffer's theta_dim");
    require_extent(m_buffer.x_dim(), static_cast<std::size_t>(m_simulator.x_dim()), part, "the buffer's x_dim");
    require_extent(m_optimizer.parameter_count(), m_posterior.estimator().parameters().extent(0), part,
                   "the optimizer's parameter_count (the estimator's parameter count)");
    require(m_options.train_after <= m_buffer.capacity(), part, "train_after = ", m_options.train_after,
            " must be <= the buffer's capacity = ", m_buffer.capacity());
    if constexpr (Workers::batched)
      require(m_options.simulation_timeout == 0, part, "simulation_timeout applies to point simulators only (a Kokkos launch cannot be abandoned)");
    if (m_options.importance_weights) weight_by_importance();
    if (m_options.deterministic && !reuses_rows<Buffer>)
      require(m_options.arrivals_per_step >= m_options.batch_size, part, "deterministic mode with a consuming buffer needs arrivals_per_step >= batch_size (",
              m_options.batch_size, "), not ", m_options.arrivals_per_step, ": every batch takes that many rows");
  }

  /// With Adam at options.learning_rate (sbi's optimizer).
  Pipeline(Posterior<EstimatorType>&& posterior, ProposalType proposal, SimulatorType simulator, Buffer& buffer,
           PipelineOptions options = {}, LossType loss = {}, const Instances& instances = {}, TransportType transport = {})
    requires std::is_same_v<OptimizerType, optim::Adam<Scalar, Space>>
      : Pipeline(std::move(posterior), std::move(proposal), std::move(simulator), buffer,
                 OptimizerType(posterior.estimator().parameters().extent(0), {.learning_rate = options.learning_rate}),
                 std::move(options), std::move(loss), instances, std::move(transport)) {}

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline() { m_workers.join(); }

  std::size_t theta_dim() const { return m_posterior.theta_dim(); }
  std::size_t x_dim() const { return m_posterior.x_dim(); }
  Posterior<EstimatorType>& posterior() { return m_posterior; }
  EstimatorType& estimator() { return m_posterior.estimator(); }
  Buffer& buffer() { return m_buffer; }
  OptimizerType& optimizer() { return m_optimizer; }
  const PipelineOptions& options() const { return m_options; }

  /// Ends run() soon (from any thread, e.g. a signal-watching one): closes the buffer, stops the workers.
  void request_stop() { m_workers.stop(StopReason::requested); }

  /// Where every simulation went so far (a consistent cut only once run() has returned).
  PipelineAccounting accounting() const {
    PipelineAccounting out = m_workers.counts();
    out.buffer = m_buffer.accounting();
    return out;
  }

  /// Continues from a checkpoint written by a pipeline of the same types and shapes (call before run(); under MPI on
  /// every rank, with as many learners as wrote it).
  void resume(const std::filesystem::path& path) {
    constexpr const char* part = "osbi::online::Pipeline::resume";
    require(!m_ran, part, "resume() must come before run()");
    require(!m_options.importance_weights, part, "options.importance_weights cannot resume: the proposal versions that drew the "
                                                 "checkpoint's rows (the q̄ of its weights) are not in the checkpoint");
    const std::size_t parameter_count = estimator().parameters().extent(0);
    // A trainer reads and checks its part first (the buffer and the optimizer each change only once their sections
    // passed); then every process agrees that all could before anything else changes: under MPI, one rank that
    // could not must not leave the others waiting for it.
    std::optional<CheckpointReader> file, local;
    std::optional<SimulationState<Scalar>> simulation;
    std::optional<TrainerCheckpoint<Scalar>> trainer;
    std::vector<Scalar> parameters, initial_parameters;
    std::exception_ptr error;
    if (m_transport.trains()) {
      try {
        file.emplace(path);
        local = m_transport.local_part(*file);
        const CheckpointReader& mine = local ? *local : *file;
        simulation = read_simulation_state<Scalar>(mine, theta_dim(), x_dim(), m_options.validation_size, part);
        trainer = read_trainer_state<Scalar>(*file, parameter_count, theta_dim(), x_dim(), part);
        parameters = file->get<Scalar>("parameters", {parameter_count}).data;
        if (plastic()) {
          if (!file->has("trainer/initial_parameters"))
            throw DataError(part, path.string() + ": options.plasticity is on, but the checkpoint was written by a run without it "
                                                  "(it holds no initial parameters to pull toward)");
          initial_parameters = file->get<Scalar>("trainer/initial_parameters", {parameter_count}).data;
        }
        read_buffer_state(mine, "buffer/", m_buffer);
        optim::read_optimizer_state(m_instances.train, *file, "optimizer/", m_optimizer);
      } catch (...) {
        error = std::current_exception();
      }
    }
    const ResumeAgreement agreed = m_transport.agree_on_resume(!error, simulation ? simulation->counts.finished : 0);
    if (error) std::rethrow_exception(error);
    if (!agreed.all_read)
      throw DataError(part, path.string() + ": another process could not read its part of the checkpoint (its error is reported there)");
    // The simulation side learns what the checkpoint accounts for (under MPI the groups simulate the rest).
    if constexpr (requires(Workers& workers) { workers.resume_streams(agreed.simulations); }) m_workers.resume_streams(agreed.simulations);
    m_resumed = true;
    if (!m_transport.trains()) return;
    copy_in(parameters, estimator().parameters());
    if (trainer->parameter_average.empty()) {
      m_trainer.restart_average();
    } else {
      const Vector<Scalar, Space> average(label("online", "Pipeline", "resumed_average"), parameter_count);
      copy_in(trainer->parameter_average, average);
      m_trainer.load_average(average, trainer->parameter_average_updates);
    }
    if (plastic()) {
      const Vector<Scalar, Space> initial(label("online", "Pipeline", "resumed_initial"), parameter_count);
      copy_in(initial_parameters, initial);
      m_trainer.set_initial_parameters(initial);
    }
    const Space& space = m_instances.train;
    const Vector<Scalar, Space> best(label("online", "Pipeline", "resumed_best"), parameter_count);
    copy_in(trainer->best_parameters, best);
    m_trainer.early_stopping().load_state(space, trainer->stopping, best);
    m_trainer.restore_counters(trainer->counters);
    m_posterior.restore_standardization(trainer->standardization);
    m_resumed_simulations = simulation->counts.finished;
    m_resumed_samples = trainer->counters.samples_trained;
    m_workers.restore(std::move(*simulation));
  }

  /// Runs workers and trainer until a stop rule fires; returns what happened. Call once.
  PipelineReport run() {
    require(!m_ran, "osbi::online::Pipeline::run", "run() was already called; a pipeline runs once (resume() a checkpoint into a new one)");
    m_ran = true;
    // A rank that only simulates (MPI) runs its simulation group and reports what it simulated.
    if constexpr (requires(Workers& workers) { workers.simulate_only(); })
      if (!m_transport.trains()) return m_workers.simulate_only();
    const InterruptGuard interrupt(m_options.handle_interrupt);
    // Progress lines and the metrics file come from one trainer only (learner 0 under MPI: the others share its
    // steps and losses, and one file has one writer).
    PipelineOptions monitored = m_options;
    if (!m_transport.reports()) {
      monitored.progress = nullptr;
      monitored.metrics_csv.clear();
    }
    m_start = detail::now_seconds();
    m_last_checkpoint = m_start;
    m_workers.start(m_resumed);
    Monitor monitor(
        monitored, [this] { return elapsed(); },
        [&] {
          m_workers.check_timeouts();
          if (m_options.stop.max_seconds > 0 && elapsed() >= m_options.stop.max_seconds) m_workers.stop(StopReason::wall_time);
          if (interrupt.interrupted()) m_workers.stop(StopReason::requested);
        },
        [this] { return metrics(); });
    monitor.start();
    std::exception_ptr trainer_error;
    std::optional<StopReason> reason;
    try {
      reason = trainer_loop();
    } catch (...) {
      trainer_error = std::current_exception();
    }
    m_workers.stop(reason.value_or(StopReason::requested));
    monitor.finish();
    m_workers.join();
    if (const auto error = m_workers.error()) std::rethrow_exception(error);
    if (trainer_error) std::rethrow_exception(trainer_error);
    const auto counters = m_trainer.counters();
    if (!m_options.checkpoint.empty() && counters.steps > 0) write_checkpoint();

    PipelineReport report;
    report.reason = m_workers.reason().value_or(StopReason::requested);
    report.accounting = accounting();
    report.final_metrics = metrics();
    report.failures = m_workers.failures();
    report.train_loss = counters.train_history;
    report.validation_step = counters.validation_steps;
    report.validation_loss = counters.validation_history;
    report.best_step = m_trainer.early_stopping().best_index();
    report.resumed = m_resumed;
    report.plasticity_steps = m_plasticity_steps;
    if constexpr (detail::importance_weightable<ProposalType, Workers>) {
      if (m_history) report.proposal_rows = m_history->draws();
    }
    report.importance_effective_fraction = m_trainer.importance_effective_fraction();
    if (m_options.restore_best && m_trainer.early_stopping().has_best()) {
      m_trainer.early_stopping().restore_best(m_instances.train, estimator().parameters());
      report.restored_best = true;
    } else {
      m_trainer.adopt_average(); // the run's result is the average when it averaged
    }
    return report;
  }

private:
  static PipelineOptions check(PipelineOptions options) {
    constexpr const char* part = "osbi::online::Pipeline";
    require(options.workers >= 1, part, "workers must be >= 1");
    require(options.simulation_batch >= 1, part, "simulation_batch must be >= 1");
    require(options.batch_size >= 1, part, "batch_size must be >= 1");
    require(options.train_after >= 2, part, "train_after = ", options.train_after, " must be >= 2 (z-scoring needs rows)");
    require(options.validate_every >= 1, part, "validate_every must be >= 1");
    require(options.simulation_timeout >= 0, part, "simulation_timeout must be >= 0");
    require(!options.stop.plateau_patience || options.validation_size > 0, part, "the plateau rule needs a validation set (validation_size > 0)");
    require(options.stop.max_simulations || options.stop.max_seconds > 0 || options.stop.max_steps || options.stop.plateau_patience, part,
            "no stop rule: set stop.max_simulations, max_seconds, max_steps or plateau_patience");
    require(!options.priority_correction.enabled || PrioritizedSampleSource<Buffer>, part,
            "priority_correction corrects a prioritized buffer's draws; this buffer draws uniformly (nothing to correct)");
    require(options.priority_correction.beta_start >= 0 && options.priority_correction.beta_start <= 1, part,
            "priority_correction.beta_start must lie in [0, 1], not ", options.priority_correction.beta_start);
    require(std::isfinite(options.pacing.max_replay_ratio) && options.pacing.max_replay_ratio >= 0, part,
            "pacing.max_replay_ratio must be finite and >= 0, not ", options.pacing.max_replay_ratio);
    require(options.plasticity.keep >= 0 && options.plasticity.keep <= 1, part,
            "plasticity.keep (the fraction of θ − θ₀ kept) must lie in [0, 1], not ", options.plasticity.keep);
    require(options.plasticity.growth > 1 && std::isfinite(options.plasticity.growth), part,
            "plasticity.growth (the arrivals' factor between milestones) must be finite and > 1, not ", options.plasticity.growth);
    if (options.deterministic) {
      require(options.pacing.max_replay_ratio == 0 && !options.pacing.replay_ratio_schedule, part,
              "deterministic mode fixes the arrivals per step (arrivals_per_step): its replay ratio is batch_size / "
              "arrivals_per_step, so it takes no pacing cap");
      require(options.workers == 1, part, "deterministic mode runs one worker, not ", options.workers);
      require(options.simulation_timeout == 0, part, "deterministic mode has no simulation timeout");
      require(options.arrivals_per_step >= 1, part, "arrivals_per_step must be >= 1");
      require(options.checkpoint_every_seconds == 0, part, "deterministic mode checkpoints by steps (checkpoint_every_steps), not seconds");
    }
    return options;
  }

  double elapsed() const { return detail::now_seconds() - m_start; }

  /// options.importance_weights: the workers record each proposal version and its rows; the trainer weights every
  /// batch by p/q̄ of that record.
  void weight_by_importance() {
    if constexpr (detail::importance_weightable<ProposalType, Workers>) {
      m_history = std::make_shared<ProposalHistory<ProposalType>>();
      m_workers.track_versions(m_history);
      m_trainer.set_importance_weights(
          [this](std::span<const Scalar> theta, std::size_t rows) { return importance_weights(theta, rows, m_history->mixture()); });
    } else {
      throw InvalidArgument("osbi::online::Pipeline",
                            "options.importance_weights needs a proposal with snapshot() and prior() (a SnapshotProposal such as "
                            "LossDrivenProposal) and in-process simulation workers");
    }
  }

  /// p(θ)/q̄(θ) of raw rows (row-major, host) for the mixture q̄, on the proposal's execution-space instance.
  std::vector<double> importance_weights(std::span<const Scalar> theta, std::size_t rows, const ProposalMixture<ProposalType>& q) const {
    using ProposalSpace = typename ProposalType::execution_space;
    const std::size_t d = theta_dim();
    const std::lock_guard lock(detail::launch_mutex<ProposalSpace>());
    const ProposalSpace& space = m_instances.simulation.proposal;
    const Matrix<Scalar, ProposalSpace> view(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::Pipeline::weighted_theta"), rows, d);
    const auto host = Kokkos::create_mirror_view(view);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < d; ++j) host(i, j) = theta[i * d + j];
    Kokkos::deep_copy(space, view, host);
    return q.importance_weights(m_proposal.prior(), space, view);
  }

  bool plastic() const { return m_options.plasticity.keep != 1.0; }

  /// Plasticity's next milestone above `arrivals`: the first train_after · growth^k, k ≥ 1.
  std::uint64_t next_plasticity_milestone(std::uint64_t arrivals) const {
    double milestone = static_cast<double>(std::max<std::size_t>(m_options.train_after, 1));
    do milestone *= m_options.plasticity.growth;
    while (milestone <= static_cast<double>(arrivals));
    return static_cast<std::uint64_t>(std::ceil(milestone));
  }

  bool paced() const { return m_options.pacing.max_replay_ratio > 0 || static_cast<bool>(m_options.pacing.replay_ratio_schedule); }

  /// Pacing's replay cap: waits until the next batch keeps samples trained within the cap of the arrivals, or the
  /// buffer closes (the budget is spent, or a stop came: the cap lifts).
  void wait_for_replay_room(std::uint64_t trained) {
    for (;;) {
      const std::uint64_t arrivals = m_buffer.arrivals();
      if (replay_allows(m_options.pacing, trained, m_options.batch_size, arrivals)) return;
      if (!m_buffer.wait_for_arrivals(arrivals_for_next_batch(m_options.pacing, trained, m_options.batch_size, arrivals))) return;
    }
  }

  void copy_in(const std::vector<Scalar>& values, const Vector<Scalar, Space>& view) const {
    const Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(values.data(), values.size());
    Kokkos::deep_copy(m_instances.train, view, host);
    m_instances.train.fence();
  }

  std::optional<StopReason> trainer_loop() {
    const double waiting_since = detail::now_seconds();
    const bool ready = !m_transport.any(!m_workers.wait_for_warmup());
    m_trainer.add_idle(detail::now_seconds() - waiting_since);
    if (!ready) return m_workers.stopping() ? std::nullopt : std::optional(StopReason::no_data);
    if (!m_resumed) {
      Matrix<Scalar, Space> u, x;
      const auto [theta_rows, x_rows] = m_workers.warmup();
      m_trainer.upload(theta_rows, x_rows, m_options.train_after, u, x);
      m_posterior.prepare(m_instances.train, u, x);
      m_trainer.restart_average();
      if (plastic()) m_trainer.set_initial_parameters(estimator().parameters());
    }
    if (plastic()) m_next_milestone = next_plasticity_milestone(m_buffer.arrivals());
    const auto validation = m_workers.validation_set();
    m_trainer.set_validation(validation.validation_theta, validation.validation_x, validation.validation_log_prob,
                             validation.validation_round);
    if constexpr (detail::importance_weightable<ProposalType, Workers>) {
      if (m_history && !validation.validation_round.empty())
        m_trainer.set_validation_weights(importance_weights(validation.validation_theta, validation.validation_round.size(),
                                                            m_history->mixture(validation.validation_round)));
    }
    for (;;) {
      // Every trainer takes each stop decision together (Transport::any): under MPI they step in lockstep.
      const auto counters = m_trainer.progress();
      bool leave = m_workers.stopping(); // why: none (the workers' reason stands) unless a rule below fired
      StopReason why = StopReason::requested;
      // A reusing buffer never runs dry: without a plateau rule, the run ends once the trainer has used
      // epochs_after_budget times as many rows as were ever accepted.
      const bool budget_used = reuses_rows<Buffer> && m_workers.simulations_over() && !m_options.stop.plateau_patience &&
                               static_cast<double>(counters.samples_trained) >=
                                   m_options.stop.epochs_after_budget * static_cast<double>(m_buffer.arrivals());
      const bool steps_done = m_options.stop.max_steps && counters.steps >= m_options.stop.max_steps;
      if (!leave && (budget_used || steps_done)) {
        leave = true;
        why = budget_used ? StopReason::simulation_budget : StopReason::max_steps;
      }
      if (m_transport.any(leave)) {
        if (m_workers.stopping() || why == StopReason::requested) return std::nullopt; // stopped by the workers or another learner
        return why;
      }
      const double since = detail::now_seconds();
      if (m_options.deterministic) m_buffer.wait_for_arrivals(m_options.train_after + counters.steps * m_options.arrivals_per_step);
      bool checkpoint_due = !m_options.checkpoint.empty() && counters.steps > 0 &&
                            ((m_options.checkpoint_every_steps && counters.steps % m_options.checkpoint_every_steps == 0) ||
                             (m_options.checkpoint_every_seconds > 0 && since - m_last_checkpoint >= m_options.checkpoint_every_seconds));
      // Trainers share their step count but not their clocks: a checkpoint by time is agreed on (it is a collective).
      if (!m_options.checkpoint.empty() && m_options.checkpoint_every_seconds > 0) checkpoint_due = m_transport.any(checkpoint_due);
      if (checkpoint_due) {
        write_checkpoint();
        m_last_checkpoint = detail::now_seconds();
      }
      // Plasticity: agreed on by every learner (each counts its own buffer's arrivals), so they stay identical.
      if (plastic() && m_transport.any(!m_workers.simulations_over() && m_buffer.arrivals() >= m_next_milestone)) {
        m_trainer.shrink_toward_initial(m_options.plasticity.keep);
        m_plasticity_steps.push_back(counters.steps);
        m_next_milestone = next_plasticity_milestone(m_buffer.arrivals());
      }
      if (paced()) wait_for_replay_room(counters.samples_trained);
      const std::size_t n = m_trainer.draw();
      if (m_options.deterministic) m_workers.batch_drawn();
      m_trainer.add_idle(detail::now_seconds() - since);
      if (m_transport.any(n == 0)) {
        // One learner ran dry: the budget is spent if any learner's stream has ended (the others' may still be
        // draining their last messages). Both agreements are made by every learner, whatever it decides next.
        const bool over = m_transport.any(m_workers.simulations_over());
        if (m_workers.stopping()) return std::nullopt;
        return over ? StopReason::simulation_budget : StopReason::no_data;
      }
      m_trainer.step();
      const std::uint64_t steps = counters.steps + 1;
      if (!m_trainer.has_validation() || steps % m_options.validate_every != 0) continue;
      const StoppingVerdict verdict = m_trainer.validate([&](double value) {
        if (m_options.on_validation) m_options.on_validation(steps, value);
      });
      if (verdict == StoppingVerdict::stop) return StopReason::plateau;
    }
  }

  void write_checkpoint() {
    CheckpointWriter local;
    m_workers.at_consistent_cut([&](const typename Workers::State& state) {
      add_simulation_state(local, state, theta_dim(), x_dim());
      add_buffer_state(local, "buffer/", m_buffer);
    });
    m_transport.write_checkpoint(m_options.checkpoint, std::move(local), [&](CheckpointWriter& shared) {
      // The writer's host copies may launch on the default host space (see detail::copy_parameters).
      std::unique_lock<std::mutex> host_launch;
      if constexpr (!std::is_same_v<Space, Kokkos::DefaultHostExecutionSpace>)
        host_launch = std::unique_lock(detail::launch_mutex<Kokkos::DefaultHostExecutionSpace>());
      m_instances.train.fence();
      add_trainer_state(shared, m_trainer.counters(), m_trainer.early_stopping(), m_posterior.standardization(),
                        m_trainer.parameter_average());
      shared.add("parameters", estimator().parameters());
      if (plastic()) shared.add("trainer/initial_parameters", m_trainer.initial_parameters());
      optim::add_optimizer_state(shared, "optimizer/", m_optimizer);
    });
  }

  PipelineMetrics metrics() {
    PipelineMetrics m;
    m.seconds = elapsed();
    const auto buffer = m_buffer.accounting();
    const auto counts = m_workers.counts();
    m.simulations = counts.finished;
    m.failures = counts.failed();
    m.simulations_per_second = m.seconds > 0 ? static_cast<double>(m.simulations - m_resumed_simulations) / m.seconds : 0;
    const auto live = m_trainer.live();
    m.steps = live.steps;
    m.samples_trained = live.samples_trained;
    m.samples_trained_per_second = m.seconds > 0 ? static_cast<double>(live.samples_trained - m_resumed_samples) / m.seconds : 0;
    m.buffer_size = m_buffer.size();
    m.buffer_capacity = m_buffer.capacity();
    m.mean_reuse = buffer.mean_uses();
    m.trainer_idle_fraction = m.seconds > 0 ? std::min(1.0, live.idle_seconds / m.seconds) : 0;
    m.staleness = live.staleness;
    m.train_loss = live.train_loss;
    m.validation_loss = live.validation_loss;
    m.best_validation_loss = live.best_validation_loss;
    return m;
  }

  TransportType m_transport;
  Posterior<EstimatorType> m_posterior;
  ProposalType m_proposal;
  SimulatorType m_simulator;
  Buffer& m_buffer;
  OptimizerType m_optimizer;
  LossType m_loss;
  PipelineOptions m_options;
  Instances m_instances;
  Workers m_workers;
  Trainer m_trainer;
  double m_start = 0, m_last_checkpoint = 0;
  bool m_resumed = false, m_ran = false;
  std::uint64_t m_next_milestone = 0;           // Plasticity's next arrival count
  std::vector<std::uint64_t> m_plasticity_steps; // and the steps it pulled before
  std::uint64_t m_resumed_simulations = 0, m_resumed_samples = 0;
  std::shared_ptr<typename osbi::detail::proposal_history_of<ProposalType>::type> m_history; // importance_weights only
};

template <class EstimatorType, Proposal ProposalType, class SimulatorType, SampleBuffer Buffer, optim::Optimizer OptimizerType,
          class LossType = DefaultLoss<EstimatorType>>
Pipeline(Posterior<EstimatorType>&&, ProposalType, SimulatorType, Buffer&, OptimizerType, PipelineOptions = {}, LossType = {})
    -> Pipeline<ProposalType, SimulatorType, Buffer, EstimatorType, LossType, OptimizerType>;

template <class EstimatorType, Proposal ProposalType, class SimulatorType, SampleBuffer Buffer, class LossType = DefaultLoss<EstimatorType>>
Pipeline(Posterior<EstimatorType>&&, ProposalType, SimulatorType, Buffer&, PipelineOptions = {}, LossType = {})
    -> Pipeline<ProposalType, SimulatorType, Buffer, EstimatorType, LossType>;

template <class EstimatorType, Proposal ProposalType, class SimulatorType, SampleBuffer Buffer, optim::Optimizer OptimizerType,
          class LossType, class InstancesType, Transport TransportType>
Pipeline(Posterior<EstimatorType>&&, ProposalType, SimulatorType, Buffer&, OptimizerType, PipelineOptions, LossType, InstancesType, TransportType)
    -> Pipeline<ProposalType, SimulatorType, Buffer, EstimatorType, LossType, OptimizerType, TransportType>;

} // namespace osbi::online
