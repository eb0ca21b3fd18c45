// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pipeline: simulation workers stream (θ, x) into a buffer while a trainer fits q(θ | x) from it, concurrently.
#pragma once

#include <osbi/buffer/buffer_checkpoint.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/flow/conditional_density.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/flow/support_transform.hpp>
#include <osbi/io/checkpoint.hpp>
#include <osbi/online/loss.hpp>
#include <osbi/online/metrics.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/optimizer_checkpoint.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulator.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::online {

/// When a run ends; the first rule that fires wins. Zero disables a rule.
struct StopRules {
  std::uint64_t max_simulations = 0; ///< simulation budget; once spent the buffer is closed (see Pipeline)
  double max_seconds = 0;            ///< wall time of run()
  std::size_t plateau_patience = 0;  ///< validations in a row without a better validation loss
  std::uint64_t max_steps = 0;       ///< optimizer steps
  /// Reusing buffers without a plateau rule: once the budget is spent, train until the rows used reach
  /// this many times the rows ever accepted.
  double epochs_after_budget = 1.0;
};

struct PipelineOptions {
  std::size_t workers = 1;            ///< simulation threads (a batched Kokkos simulator: see the spec)
  std::size_t simulation_batch = 1;   ///< θ drawn per worker call (a batched simulator's rows per launch)
  std::size_t batch_size = 200;       ///< training batch (sbi's default)
  double learning_rate = 5e-4;        ///< Adam (sbi's default)
  double clip_max_norm = 5.0;         ///< gradient-norm clipping; <= 0: none
  std::size_t validation_size = 0;    ///< the first accepted simulations, held out (never trained on)
  std::size_t validate_every = 100;   ///< steps between validation losses
  bool restore_best = true;           ///< end with the parameters of the best validation loss
  std::size_t train_after = 1000;     ///< buffer arrivals before the first step; z-scoring uses these rows
  StopRules stop;
  double simulation_timeout = 0;      ///< seconds per point simulation; 0: none
  bool deterministic = false;         ///< bit-reproducible lockstep schedule (one worker, see the spec)
  std::size_t arrivals_per_step = 1;  ///< deterministic mode: new samples between consecutive batches
  std::uint64_t seed = 0;
  std::ostream* progress = nullptr;   ///< a progress line every progress_seconds; null: silent
  double progress_seconds = 1.0;
  std::filesystem::path metrics_csv;  ///< a PipelineMetrics row every progress_seconds; empty: none
  std::filesystem::path checkpoint;   ///< where checkpoints go; empty: none
  std::size_t checkpoint_every_steps = 0;
  double checkpoint_every_seconds = 0;
  bool handle_interrupt = false;      ///< SIGINT (Ctrl-C) drains the run like request_stop()
  /// Called on the trainer thread after each validation (step, validation loss); the density holds the
  /// current parameters then (e.g. to snapshot them for a later C2ST). Must not call run() or resume().
  std::function<void(std::uint64_t step, double validation_loss)> on_validation;
  std::size_t max_failure_records = 1000;
};

namespace detail {

/// One lock per Kokkos execution-space type: Kokkos 3.4.1's OpenMP pool and Serial scratch accept
/// launches from one host thread at a time (DESIGN.md), so every launch from a pipeline thread into a
/// space another thread also uses holds this.
template <class Space>
std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" inline void pipeline_interrupt_handler(int) { interrupt_flag().store(true); }

template <class S>
struct simulator_space {
  using type = void;
};
template <class S>
  requires requires { typename S::execution_space; }
struct simulator_space<S> {
  using type = typename S::execution_space;
};

template <class Scalar, class Space>
constexpr bool host_accessible = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible;

/// dst = src for two equal-length vectors. Between host views this is a memcpy: Kokkos 3.4.1's
/// host-to-host deep_copy of more than 80 kB launches on the default host space (OpenMP), which a
/// simulation worker may be using at that moment.
template <class Space, class View>
void copy_vector(const View& dst, const View& src) {
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename View::memory_space>::accessible) {
    Space().fence();
    std::memcpy(dst.data(), src.data(), src.extent(0) * sizeof(typename View::value_type));
  } else {
    Kokkos::deep_copy(dst, src);
  }
}

} // namespace detail

/*
 * Pipeline<Prior, Simulator, Buffer, Density, Loss> — online SBI (DESIGN.md): `workers` threads draw θ
 * from the prior, simulate, and push (θ, x) into the buffer; the calling thread of run() trains the
 * density from buffer batches at the same time (Adam + clipping, sbi's defaults), until a stop rule.
 *
 * Threads. run()'s calling thread trains (it must be the thread that initialized Kokkos: Kokkos 3.x
 * accepts OpenMP work from that thread only); `workers` threads simulate. A PointSimulator (plain C++,
 * one θ at a time) runs on every worker, each with its own copy, in parallel. A batched Kokkos Simulator
 * runs `simulation_batch` rows per launch on a worker thread; launches into one execution-space type are
 * serialized (detail::launch_mutex), so use one worker and a space the trainer does not use: with
 * Kokkos 3.x the simulator and the prior on Kokkos::Serial (checked at compile time) and the density
 * on OpenMP. A simulator run on a worker thread allocates its Views through its `space` argument.
 *
 * Randomness: simulation k = chunk c·simulation_batch + r draws θ from prior stream (seed, 11) batch c,
 * row r, and simulates with stream (seed, 12) batch c, row r — whatever worker runs it.
 *
 * Faults. A simulation that throws, returns NaN/±Inf, or (point simulators with simulation_timeout)
 * runs too long is recorded with its θ (FailureRecord) and never reaches the buffer; the run goes on.
 * A timed-out solver thread is abandoned (it keeps its own simulator copy; its result is discarded)
 * and a fresh worker takes over. request_stop() — or SIGINT with handle_interrupt — closes the buffer,
 * lets the trainer finish its step, and returns.
 *
 * Order of samples: the first validation_size accepted simulations form the validation set; the rest
 * go to the buffer. The first train_after buffer arrivals also fix the z-scoring (set_standardization,
 * when the density has it) of θ — mapped to the unconstrained space of the prior's support
 * (SupportTransform), which the density models — and of x, and give a density with initialize_from_data
 * (ConditionallyCentered) its data-dependent start.
 *
 * End of a budget: when max_simulations simulations are finished the buffer is closed: a consuming
 * buffer (FIFO, FIRO) is drained; with a reusing one (reservoir, prioritized) training goes on until the
 * plateau rule fires if one is set, else until the trainer has used stop.epochs_after_budget times as many
 * rows as were ever accepted.
 *
 * Deterministic mode (one worker, no timeout): buffer arrivals are held to train_after + k ·
 * arrivals_per_step while batch k is drawn, and the trainer draws batch k only once they are there; the
 * run is then a function of the seed alone. The kill-and-resume test uses it.
 *
 * Checkpoints (options.checkpoint, every checkpoint_every_steps steps and/or seconds, and at the end):
 * density parameters, best parameters, Adam state, z-scoring, the buffer (contents, counters, random
 * state), the validation set, the accounting, the simulation frontier and the loss history, written
 * atomically (io/checkpoint.hpp). resume(path) before run() continues from one: in deterministic mode
 * the continued run ends with the same bits as one that never stopped.
 */
template <Prior PriorType, class SimulatorType, SampleBuffer Buffer, ConditionalDensity Density, class LossType = NllLoss>
  requires(Simulator<SimulatorType> || PointSimulator<SimulatorType>) && Loss<LossType, Density>
class Pipeline {
public:
  using scalar_type = typename Density::scalar_type;
  using Scalar = scalar_type;
  using Space = typename Density::execution_space;
  using PriorSpace = typename PriorType::execution_space;
  static constexpr bool batched = Simulator<SimulatorType>;
  /// Reservoir and prioritized buffers deliver rows again; FIFO and FIRO consume them.
  static constexpr bool reusing = reuses_rows<Buffer>;

  static_assert(std::is_same_v<typename PriorType::scalar_type, Scalar> && std::is_same_v<typename Buffer::scalar_type, Scalar>,
                "osbi::online::Pipeline: the prior, buffer and density must share one scalar_type (see osbi/online/pipeline.hpp)");
#if defined(KOKKOS_ENABLE_OPENMP) && KOKKOS_VERSION < 40000
  // Kokkos 3.x keeps its OpenMP instance in a thread_local of the thread that initialized Kokkos: no
  // other thread may launch or allocate there, and the workers are other threads.
  static_assert(!std::is_same_v<PriorSpace, Kokkos::OpenMP>,
                "osbi::online::Pipeline: with Kokkos 3.x the prior must not live on Kokkos::OpenMP: workers draw θ on their "
                "own threads, which Kokkos 3's OpenMP backend does not accept. Use the prior on Kokkos::Serial.");
  static_assert(!Simulator<SimulatorType> || !std::is_same_v<typename detail::simulator_space<SimulatorType>::type, Kokkos::OpenMP>,
                "osbi::online::Pipeline: with Kokkos 3.x a batched simulator must not run on Kokkos::OpenMP: it runs on a "
                "worker thread, which Kokkos 3's OpenMP backend does not accept. Run it on Kokkos::Serial (and the "
                "density on OpenMP, so both proceed at once), or bring Kokkos >= 4.");
#endif

  Pipeline(PriorType prior, SimulatorType simulator, const BufferOptions& buffer_options, Density density,
           PipelineOptions options = {}, LossType loss = {})
      : m_prior(std::move(prior)), m_simulator(std::move(simulator)), m_density(std::move(density)),
        m_loss(std::move(loss)), m_options(std::move(options)), m_buffer(std::make_unique<Buffer>(buffer_options)),
        m_transform(m_prior.support()), m_adam(m_density.parameters().extent(0), adam_options(m_options)),
        m_best_parameters("osbi::online::Pipeline::best_parameters", m_density.parameters().extent(0)) {
    constexpr const char* part = "online::Pipeline";
    if constexpr (batched)
      static_assert(std::is_same_v<typename SimulatorType::scalar_type, Scalar>,
                    "osbi::online::Pipeline: a batched simulator must share the density's scalar_type");
    require_extent(simulator_theta_dim(), m_prior.dim(), part, "the simulator's theta_dim (must equal the prior's dim)");
    require_extent(m_density.theta_dim(), m_prior.dim(), part, "the density's theta_dim (must equal the prior's dim)");
    require_extent(m_density.context_dim(), simulator_x_dim(), part, "the density's context_dim (the simulator's x_dim)");
    require_extent(m_buffer->theta_dim(), m_prior.dim(), part, "the buffer's theta_dim");
    require_extent(m_buffer->x_dim(), simulator_x_dim(), part, "the buffer's x_dim");
    require(m_options.workers >= 1, part, "workers must be >= 1");
    require(m_options.simulation_batch >= 1, part, "simulation_batch must be >= 1");
    require(m_options.batch_size >= 1, part, "batch_size must be >= 1");
    require(m_options.train_after >= 2, part, "train_after = ", m_options.train_after, " must be >= 2 (z-scoring needs rows)");
    require(m_options.train_after <= m_buffer->capacity(), part, "train_after = ", m_options.train_after,
            " must be <= the buffer's capacity = ", m_buffer->capacity());
    require(m_options.validate_every >= 1, part, "validate_every must be >= 1");
    require(m_options.simulation_timeout >= 0, part, "simulation_timeout must be >= 0");
    require(!m_options.stop.plateau_patience || m_options.validation_size > 0, part,
            "the plateau rule needs a validation set (validation_size > 0)");
    require(m_options.stop.max_simulations || m_options.stop.max_seconds > 0 || m_options.stop.max_steps ||
                m_options.stop.plateau_patience,
            part, "no stop rule: set stop.max_simulations, max_seconds, max_steps or plateau_patience");
    if (m_options.deterministic) {
      require(m_options.workers == 1, part, "deterministic mode runs one worker, not ", m_options.workers);
      require(m_options.simulation_timeout == 0, part, "deterministic mode has no simulation timeout");
      require(m_options.arrivals_per_step >= 1, part, "arrivals_per_step must be >= 1");
      if constexpr (!reusing)
        require(m_options.arrivals_per_step >= m_options.batch_size, part, "deterministic mode with a consuming buffer needs arrivals_per_step >= batch_size (",
                m_options.batch_size, "), not ", m_options.arrivals_per_step, ": every batch takes that many rows");
      require(m_options.checkpoint_every_seconds == 0, part,
              "deterministic mode checkpoints by steps (checkpoint_every_steps), not seconds");
    }
    if constexpr (batched)
      require(m_options.simulation_timeout == 0, part,
              "simulation_timeout applies to point simulators only (a Kokkos launch cannot be abandoned)");
    m_batch_theta = Matrix<Scalar, Space>("osbi::online::batch_theta", m_options.batch_size, theta_dim());
    m_batch_u = Matrix<Scalar, Space>("osbi::online::batch_u", m_options.batch_size, theta_dim());
    m_batch_x = Matrix<Scalar, Space>("osbi::online::batch_x", m_options.batch_size, x_dim());
    m_batch_loss = Vector<Scalar, Space>("osbi::online::batch_loss", m_options.batch_size);
    m_host_theta = Kokkos::create_mirror_view(m_batch_theta);
    m_host_x = Kokkos::create_mirror_view(m_batch_x);
    m_ids.resize(m_options.batch_size);
  }

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline() { shutdown_threads(); }

  std::size_t theta_dim() const { return m_prior.dim(); }
  std::size_t x_dim() const { return simulator_x_dim(); }
  Density& density() { return m_density; }
  Buffer& buffer() { return *m_buffer; }
  const PipelineOptions& options() const { return m_options; }
  const SupportTransform<Scalar, Space>& support_transform() const { return m_transform; }

  /// Ends run() soon (from any thread, e.g. a signal-watching one): closes the buffer, stops the workers.
  void request_stop() { stop(StopReason::requested); }

  /// Where every simulation went so far (a consistent cut only once run() has returned).
  PipelineAccounting accounting() const {
    const std::lock_guard lock(m_state_mutex);
    PipelineAccounting out = m_counts;
    out.buffer = m_buffer->accounting();
    return out;
  }

  /// Continues from a checkpoint written by a pipeline of the same types and shapes (call before run()).
  void resume(const std::filesystem::path& path);

  /// Runs workers and trainer until a stop rule fires; returns what happened. Call once.
  PipelineReport run();

private:
  struct WorkerSlot {
    std::atomic<bool> abandoned{false};
    std::atomic<bool> busy{false};
    std::atomic<std::int64_t> busy_since_ns{0};
    std::atomic<std::uint64_t> current{0};
    std::vector<double> current_theta; // guarded by the pipeline's state mutex
    std::optional<SimulatorType> own;  // point simulators: this worker's copy
    std::thread thread;
  };

  static typename optim::Adam<Scalar, Space>::options_type adam_options(const PipelineOptions& options) {
    typename optim::Adam<Scalar, Space>::options_type adam;
    adam.learning_rate = options.learning_rate;
    return adam;
  }

  std::size_t simulator_theta_dim() const { return static_cast<std::size_t>(m_simulator.theta_dim()); }
  std::size_t simulator_x_dim() const { return static_cast<std::size_t>(m_simulator.x_dim()); }

  static double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  double elapsed() const { return now_seconds() - m_start; }

  // ---- simulation frontier: which simulation indices are finished --------------------------------

  std::uint64_t chunk_count() const {
    const std::uint64_t budget = m_options.stop.max_simulations;
    return budget ? (budget + m_options.simulation_batch - 1) / m_options.simulation_batch
                  : std::numeric_limits<std::uint64_t>::max();
  }
  std::size_t chunk_rows(std::uint64_t chunk) const {
    const std::uint64_t budget = m_options.stop.max_simulations;
    const std::uint64_t first = chunk * m_options.simulation_batch;
    if (!budget) return m_options.simulation_batch;
    return static_cast<std::size_t>(std::min<std::uint64_t>(m_options.simulation_batch, budget - first));
  }
  bool is_done(std::uint64_t index) const { return index < m_frontier_chunk * m_options.simulation_batch || m_done.count(index); }

  /// Marks a simulation finished (state mutex held) and advances the frontier past complete chunks.
  void mark_done(std::uint64_t index) {
    m_done.insert(index);
    ++m_counts.finished;
    while (m_frontier_chunk < chunk_count()) {
      const std::uint64_t first = m_frontier_chunk * m_options.simulation_batch;
      const std::size_t rows = chunk_rows(m_frontier_chunk);
      bool complete = true;
      for (std::size_t r = 0; r < rows && complete; ++r) complete = m_done.count(first + r) != 0;
      if (!complete) break;
      for (std::size_t r = 0; r < rows; ++r) m_done.erase(first + r);
      ++m_frontier_chunk;
    }
    m_state_changed.notify_all();
  }

  /// The next chunk to simulate (retries of abandoned chunks first); none when the budget is spent.
  std::optional<std::uint64_t> take_chunk() {
    const std::lock_guard lock(m_state_mutex);
    if (m_stopping) return std::nullopt;
    if (!m_retry.empty()) {
      const std::uint64_t chunk = m_retry.front();
      m_retry.pop_front();
      return chunk;
    }
    if (m_next_chunk >= chunk_count()) return std::nullopt;
    return m_next_chunk++;
  }

  // ---- workers ----------------------------------------------------------------------------------

  /// θ of a chunk, drawn in one launch (rows × D_θ, on the host, as double).
  std::vector<double> draw_theta(std::uint64_t chunk, Matrix<Scalar, PriorSpace>& theta) {
    const std::size_t rows = chunk_rows(chunk);
    std::vector<double> out(rows * theta_dim());
    const std::lock_guard lock(detail::launch_mutex<PriorSpace>());
    const PriorSpace space;
    const auto view = Kokkos::subview(theta, std::make_pair(std::size_t{0}, rows), Kokkos::ALL);
    m_prior.sample(space, RandomStream(m_options.seed, 11).at(chunk), view);
    space.fence();
    const auto host = Kokkos::create_mirror_view(view);
    if constexpr (!detail::host_accessible<Scalar, PriorSpace>) Kokkos::deep_copy(host, view);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < theta_dim(); ++j) out[i * theta_dim() + j] = static_cast<double>(host(i, j));
    return out;
  }

  void record_failure(std::uint64_t index, FailureKind kind, std::span<const double> theta, std::string message) {
    // state mutex held
    switch (kind) {
    case FailureKind::threw: ++m_counts.failed_threw; break;
    case FailureKind::non_finite: ++m_counts.failed_non_finite; break;
    case FailureKind::timed_out: ++m_counts.timed_out; break;
    }
    if (m_failures.size() < m_options.max_failure_records)
      m_failures.push_back(FailureRecord{index, kind, std::vector<double>(theta.begin(), theta.end()), std::move(message)});
    mark_done(index);
  }

  /// A finished simulation: validation set, buffer, or failure record. θ and x in Scalar.
  void deliver(std::uint64_t index, std::span<const Scalar> theta, std::span<const Scalar> x) {
    std::unique_lock lock(m_state_mutex);
    if (m_validation_rows < m_options.validation_size) {
      m_validation_theta_host.insert(m_validation_theta_host.end(), theta.begin(), theta.end());
      m_validation_x_host.insert(m_validation_x_host.end(), x.begin(), x.end());
      ++m_validation_rows;
      ++m_counts.validation;
      mark_done(index);
      return;
    }
    // Checkpoints pause deliveries; deterministic mode holds arrivals to the trainer's schedule.
    m_state_changed.wait(lock, [&] {
      if (m_stopping) return true;
      if (m_paused) return false;
      if (!m_options.deterministic) return true;
      return m_buffer->arrivals() < m_options.train_after + m_steps_drawn * m_options.arrivals_per_step;
    });
    ++m_in_delivery;
    lock.unlock();
    const PushResult result = m_buffer->push(theta, x, SampleInfo{});
    lock.lock();
    --m_in_delivery;
    if (result.accepted() && result.id < m_options.train_after) {
      std::copy(theta.begin(), theta.end(), m_warmup_theta.begin() + static_cast<std::ptrdiff_t>(result.id * theta_dim()));
      std::copy(x.begin(), x.end(), m_warmup_x.begin() + static_cast<std::ptrdiff_t>(result.id * x_dim()));
      ++m_warmup_rows;
    }
    mark_done(index);
  }

  void run_point_chunk(const std::shared_ptr<WorkerSlot>& slot, std::uint64_t chunk, Matrix<Scalar, PriorSpace>& theta_view) {
    const std::vector<double> theta = draw_theta(chunk, theta_view);
    const std::size_t rows = chunk_rows(chunk), d_theta = theta_dim(), d_x = x_dim();
    std::vector<double> x(d_x);
    std::vector<Scalar> theta_scalar(d_theta), x_scalar(d_x);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::uint64_t index = chunk * m_options.simulation_batch + r;
      const std::span<const double> row(theta.data() + r * d_theta, d_theta);
      {
        const std::lock_guard lock(m_state_mutex);
        if (m_stopping) return;
        if (is_done(index)) continue;
        slot->current_theta.assign(row.begin(), row.end());
        slot->current.store(index);
        slot->busy_since_ns.store(std::chrono::steady_clock::now().time_since_epoch().count());
        slot->busy.store(true);
      }
      std::fill(x.begin(), x.end(), std::numeric_limits<double>::quiet_NaN());
      RowRandom rng = RandomStream(m_options.seed, 12).at(chunk).row(static_cast<std::uint32_t>(r));
      std::optional<std::string> error;
      try {
        slot->own->simulate(row, std::span<double>(x), rng);
      } catch (const std::exception& e) {
        error = std::string("threw: ") + e.what();
      } catch (...) {
        error = std::string("threw a non-standard exception");
      }
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
        const std::lock_guard lock(m_state_mutex);
        if (slot->abandoned.load()) return;
        if (error) { record_failure(index, FailureKind::threw, row, *error); continue; }
        if (!finite) { record_failure(index, FailureKind::non_finite, row, "x has a NaN or ±Inf value"); continue; }
      }
      deliver(index, theta_scalar, x_scalar);
    }
  }

  void run_batched_chunk(std::uint64_t chunk, Matrix<Scalar, PriorSpace>& theta_view) requires batched {
    using SimSpace = typename SimulatorType::execution_space;
    const std::size_t rows = chunk_rows(chunk), d_theta = theta_dim(), d_x = x_dim();
    const std::vector<double> theta = draw_theta(chunk, theta_view);
    std::vector<Scalar> x_host(rows * d_x);
    {
      const std::lock_guard lock(detail::launch_mutex<SimSpace>());
      const SimSpace space;
      Matrix<Scalar, SimSpace> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::sim_theta"), rows, d_theta);
      Matrix<Scalar, SimSpace> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::sim_x"), rows, d_x);
      auto t_host = Kokkos::create_mirror_view(t);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d_theta; ++j) t_host(i, j) = static_cast<Scalar>(theta[i * d_theta + j]);
      if constexpr (!detail::host_accessible<Scalar, SimSpace>) Kokkos::deep_copy(t, t_host);
      m_simulator.simulate(space, t, x, RandomStream(m_options.seed, 12).at(chunk));
      space.fence();
      auto xh = Kokkos::create_mirror_view(x);
      if constexpr (!detail::host_accessible<Scalar, SimSpace>) Kokkos::deep_copy(xh, x);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d_x; ++j) x_host[i * d_x + j] = xh(i, j);
    }
    std::vector<Scalar> theta_scalar(d_theta);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::uint64_t index = chunk * m_options.simulation_batch + r;
      const std::span<const double> row(theta.data() + r * d_theta, d_theta);
      const std::span<const Scalar> xr(x_host.data() + r * d_x, d_x);
      {
        const std::lock_guard lock(m_state_mutex);
        if (m_stopping) return;
        if (is_done(index)) continue;
        bool finite = true;
        for (const Scalar v : xr) finite = finite && std::isfinite(v);
        if (!finite) { record_failure(index, FailureKind::non_finite, row, "x has a NaN or ±Inf value"); continue; }
      }
      for (std::size_t j = 0; j < d_theta; ++j) theta_scalar[j] = static_cast<Scalar>(row[j]);
      deliver(index, theta_scalar, xr);
    }
  }

  void worker_main(std::shared_ptr<WorkerSlot> slot) {
    try {
      Matrix<Scalar, PriorSpace> theta_view;
      {
        const std::lock_guard lock(detail::launch_mutex<PriorSpace>());
        theta_view = Matrix<Scalar, PriorSpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::online::prior_theta"),
                                                m_options.simulation_batch, theta_dim());
      }
      while (const auto chunk = take_chunk()) {
        if constexpr (batched) run_batched_chunk(*chunk, theta_view);
        else run_point_chunk(slot, *chunk, theta_view);
        if (slot->abandoned.load()) return;
      }
    } catch (...) {
      if (slot->abandoned.load()) return;
      const std::lock_guard lock(m_state_mutex);
      if (!m_worker_error) m_worker_error = std::current_exception();
      m_stopping = true;
      m_state_changed.notify_all();
      m_buffer->close();
    }
    const std::lock_guard lock(m_state_mutex);
    if (--m_active_workers == 0 && !m_stopping) {
      // Budget spent: nothing more will arrive.
      m_simulations_over = true;
      m_buffer->close();
    }
    m_state_changed.notify_all();
  }

  void start_worker() {
    // state mutex held
    auto slot = std::make_shared<WorkerSlot>();
    if constexpr (!batched) slot->own.emplace(m_simulator);
    ++m_active_workers;
    slot->thread = std::thread([this, slot] { worker_main(slot); });
    m_workers.push_back(std::move(slot));
  }

  // ---- monitor: timeouts, wall time, interrupt, progress, metrics ---------------------------------

  void check_timeouts() {
    if (m_options.simulation_timeout <= 0) return;
    const std::lock_guard lock(m_state_mutex);
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
      // The rest of its chunk is redone (finished rows are skipped) by a fresh worker.
      m_retry.push_back(index / m_options.simulation_batch);
      --m_active_workers;
      if (!m_stopping) start_worker();
    }
  }

  PipelineMetrics metrics() {
    PipelineMetrics m;
    m.seconds = elapsed();
    const auto buffer = m_buffer->accounting();
    {
      const std::lock_guard lock(m_state_mutex);
      m.simulations = m_counts.finished;
      m.failures = m_counts.failed();
    }
    m.simulations_per_second = m.seconds > 0 ? static_cast<double>(m.simulations - m_resumed_simulations) / m.seconds : 0;
    const std::lock_guard lock(m_trainer_mutex);
    m.steps = m_steps;
    m.samples_trained = m_samples_trained;
    m.samples_trained_per_second =
        m.seconds > 0 ? static_cast<double>(m_samples_trained - m_resumed_samples) / m.seconds : 0;
    m.buffer_size = m_buffer->size();
    m.buffer_capacity = m_buffer->capacity();
    m.mean_reuse = buffer.mean_uses();
    const double trainer_time = m.seconds;
    m.trainer_idle_fraction = trainer_time > 0 ? std::min(1.0, m_idle_seconds / trainer_time) : 0;
    m.staleness = m_staleness_count ? m_staleness_sum / static_cast<double>(m_staleness_count) : 0;
    m.train_loss = m_loss_count ? m_loss_sum / static_cast<double>(m_loss_count) : m_last_train_loss;
    m_last_train_loss = m.train_loss;
    m_loss_sum = 0, m_loss_count = 0, m_staleness_sum = 0, m_staleness_count = 0;
    m.validation_loss = m_last_validation;
    m.best_validation_loss = m_best_validation;
    return m;
  }

  void monitor_main() {
    std::ofstream csv;
    if (!m_options.metrics_csv.empty()) {
      csv.open(m_options.metrics_csv);
      if (csv) csv << PipelineMetrics::csv_header() << '\n';
    }
    double next_line = m_options.progress_seconds;
    std::unique_lock lock(m_monitor_mutex);
    while (!m_monitor_done) {
      m_monitor_wake.wait_for(lock, std::chrono::milliseconds(20));
      if (m_monitor_done) break;
      lock.unlock();
      check_timeouts();
      if (m_options.stop.max_seconds > 0 && elapsed() >= m_options.stop.max_seconds) stop(StopReason::wall_time);
      if (m_options.handle_interrupt && detail::interrupt_flag().load()) stop(StopReason::requested);
      if (elapsed() >= next_line) {
        next_line += m_options.progress_seconds;
        const PipelineMetrics m = metrics();
        if (m_options.progress) *m_options.progress << m.progress_line() << std::endl;
        if (csv) csv << m.csv_row() << '\n' << std::flush;
      }
      lock.lock();
    }
  }

  void stop(StopReason reason) {
    // Close and flag together: a worker released by m_stopping finds the buffer closed (its push is
    // counted rejected_closed), and a trainer that sees the buffer closed also sees why.
    const std::lock_guard lock(m_state_mutex);
    m_buffer->close();
    if (!m_stopping) {
      m_stopping = true;
      if (!m_reason) m_reason = reason;
    }
    m_state_changed.notify_all();
  }

  void shutdown_threads() {
    stop(StopReason::requested);
    {
      const std::lock_guard lock(m_monitor_mutex);
      m_monitor_done = true;
    }
    m_monitor_wake.notify_all();
    if (m_monitor.joinable()) m_monitor.join();
    std::vector<std::shared_ptr<WorkerSlot>> workers;
    {
      const std::lock_guard lock(m_state_mutex);
      workers = m_workers;
    }
    for (const auto& slot : workers)
      if (!slot->abandoned.load() && slot->thread.joinable()) slot->thread.join();
  }

  // ---- trainer ----------------------------------------------------------------------------------

  /// Moves rows (θ raw, x) from host vectors to the density's space, with θ mapped to u.
  void upload(const std::vector<Scalar>& theta, const std::vector<Scalar>& x, std::size_t rows,
              Matrix<Scalar, Space>& u_out, Matrix<Scalar, Space>& x_out) const {
    const Space space;
    Matrix<Scalar, Space> t("osbi::online::upload_theta", rows, theta_dim());
    u_out = Matrix<Scalar, Space>("osbi::online::upload_u", rows, theta_dim());
    x_out = Matrix<Scalar, Space>("osbi::online::upload_x", rows, x_dim());
    auto th = Kokkos::create_mirror_view(t);
    auto xh = Kokkos::create_mirror_view(x_out);
    for (std::size_t i = 0; i < rows * theta_dim(); ++i) th.data()[i] = theta[i];
    for (std::size_t i = 0; i < rows * x_dim(); ++i) xh.data()[i] = x[i];
    if constexpr (!detail::host_accessible<Scalar, Space>) {
      Kokkos::deep_copy(t, th);
      Kokkos::deep_copy(x_out, xh);
    }
    m_transform.from_support(space, t, u_out);
    space.fence();
  }

  void standardize() {
    if constexpr (requires(Density& d, std::vector<double> v) { d.set_standardization(v, v, v, v); }) {
      Matrix<Scalar, Space> u, x;
      upload(m_warmup_theta, m_warmup_x, m_options.train_after, u, x);
      // The same statistics NPE::train uses.
      RunningMoments<Scalar, Space> theta_moments(theta_dim()), x_moments(x_dim());
      theta_moments.update(Space(), u);
      x_moments.update(Space(), x);
      m_theta_mean = theta_moments.mean();
      m_theta_std = theta_moments.standard_deviation();
      m_x_mean = x_moments.mean();
      m_x_std = x_moments.standard_deviation();
      m_density.set_standardization(m_theta_mean, m_theta_std, m_x_mean, m_x_std);
      // A density with a data-dependent start (ConditionallyCentered) takes it from the same rows.
      if constexpr (requires { m_density.initialize_from_data(Space(), u, x); })
        m_density.initialize_from_data(Space(), u, x);
    }
  }

  double validation_loss() {
    const Space space;
    const std::size_t rows = m_validation_u.extent(0);
    m_density.log_prob(space, m_validation_u, m_validation_x, m_validation_out);
    const Vector<Scalar, Space> out = m_validation_out;
    double sum = 0;
    Kokkos::parallel_reduce(
        "osbi::online::validation_sum", Kokkos::RangePolicy<Space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i, double& total) { total -= static_cast<double>(out(i)); }, sum);
    return sum / static_cast<double>(rows);
  }

  /// One optimizer step on rows [0, n) of the batch.
  double train_step(std::size_t n) {
    const Space space;
    const auto rows = std::make_pair(std::size_t{0}, n);
    const auto theta = Kokkos::subview(m_batch_theta, rows, Kokkos::ALL);
    const auto u = Kokkos::subview(m_batch_u, rows, Kokkos::ALL);
    const auto x = Kokkos::subview(m_batch_x, rows, Kokkos::ALL);
    if constexpr (!detail::host_accessible<Scalar, Space>) {
      Kokkos::deep_copy(m_batch_theta, m_host_theta);
      Kokkos::deep_copy(m_batch_x, m_host_x);
    }
    m_transform.from_support(space, theta, u);
    m_density.zero_gradients(space);
    const double loss = m_loss.backward(m_density, space, u, x);
    if (m_options.clip_max_norm > 0) optim::clip_gradient_norm(space, m_density.gradients(), m_options.clip_max_norm);
    m_adam.step(space, m_density.parameters(), m_density.gradients());
    if constexpr (PrioritizedSampleSource<Buffer>) {
      const auto out = Kokkos::subview(m_batch_loss, rows);
      m_loss.per_sample(m_density, space, u, x, out);
      const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
      // Priorities must be >= 0 and an NLL can be negative: rank by the loss above the batch's lowest.
      std::vector<double> losses(n);
      double lowest = std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < n; ++i) lowest = std::min(lowest, static_cast<double>(host(i)));
      for (std::size_t i = 0; i < n; ++i) {
        const double value = static_cast<double>(host(i)) - lowest;
        losses[i] = std::isfinite(value) ? value : 0.0;
      }
      m_buffer->update_priorities(std::span<const std::uint64_t>(m_ids.data(), n), std::span<const double>(losses));
    }
    space.fence();
    return loss;
  }

  void write_checkpoint();
  void read_checkpoint(const std::filesystem::path& path);

  std::optional<StopReason> trainer_loop();

  PriorType m_prior;
  SimulatorType m_simulator;
  Density m_density;
  LossType m_loss;
  PipelineOptions m_options;
  std::unique_ptr<Buffer> m_buffer;
  SupportTransform<Scalar, Space> m_transform;
  optim::Adam<Scalar, Space> m_adam;
  Vector<Scalar, Space> m_best_parameters;

  Matrix<Scalar, Space> m_batch_theta, m_batch_u, m_batch_x;
  Vector<Scalar, Space> m_batch_loss;
  typename Matrix<Scalar, Space>::HostMirror m_host_theta, m_host_x;
  std::vector<std::uint64_t> m_ids;
  Matrix<Scalar, Space> m_validation_u, m_validation_x;
  Vector<Scalar, Space> m_validation_out;

  // State shared with the workers (m_state_mutex).
  mutable std::mutex m_state_mutex;
  std::condition_variable m_state_changed;
  PipelineAccounting m_counts;
  std::vector<FailureRecord> m_failures;
  std::uint64_t m_next_chunk = 0, m_frontier_chunk = 0;
  std::set<std::uint64_t> m_done;
  std::deque<std::uint64_t> m_retry;
  std::vector<std::shared_ptr<WorkerSlot>> m_workers;
  std::size_t m_active_workers = 0, m_abandoned = 0, m_in_delivery = 0;
  bool m_stopping = false, m_paused = false, m_simulations_over = false;
  std::optional<StopReason> m_reason;
  std::exception_ptr m_worker_error;
  std::uint64_t m_steps_drawn = 0;
  std::size_t m_validation_rows = 0, m_warmup_rows = 0;
  std::vector<Scalar> m_validation_theta_host, m_validation_x_host, m_warmup_theta, m_warmup_x;

  // Trainer statistics (m_trainer_mutex), read by the monitor.
  mutable std::mutex m_trainer_mutex;
  std::uint64_t m_steps = 0, m_samples_trained = 0;
  double m_idle_seconds = 0, m_staleness_sum = 0, m_loss_sum = 0, m_last_train_loss = 0;
  std::uint64_t m_staleness_count = 0, m_loss_count = 0;
  double m_last_validation = std::numeric_limits<double>::quiet_NaN();
  double m_best_validation = std::numeric_limits<double>::infinity();
  std::uint64_t m_best_step = 0;
  std::size_t m_no_improvement = 0;
  bool m_have_best = false;
  std::vector<double> m_train_history, m_validation_history;
  std::vector<std::uint64_t> m_validation_steps;
  std::vector<double> m_theta_mean, m_theta_std, m_x_mean, m_x_std;

  std::thread m_monitor;
  std::mutex m_monitor_mutex;
  std::condition_variable m_monitor_wake;
  bool m_monitor_done = false;
  double m_start = 0, m_last_checkpoint = 0;
  bool m_resumed = false, m_ran = false;
  std::uint64_t m_resumed_simulations = 0, m_resumed_samples = 0;
};

// ---- out-of-class members ------------------------------------------------------------------------

#define OSBI_ONLINE_PIPELINE_TEMPLATE                                                                       \
  template <Prior PriorType, class SimulatorType, SampleBuffer Buffer, ConditionalDensity Density, class LossType> \
    requires(Simulator<SimulatorType> || PointSimulator<SimulatorType>) && Loss<LossType, Density>
#define OSBI_ONLINE_PIPELINE Pipeline<PriorType, SimulatorType, Buffer, Density, LossType>

OSBI_ONLINE_PIPELINE_TEMPLATE
PipelineReport OSBI_ONLINE_PIPELINE::run() {
  require(!m_ran, "online::Pipeline::run", "run() was already called; a pipeline runs once (resume() a checkpoint into a new one)");
  m_ran = true;
  using Handler = void (*)(int);
  Handler previous = SIG_DFL;
  if (m_options.handle_interrupt) {
    detail::interrupt_flag().store(false);
    previous = std::signal(SIGINT, detail::pipeline_interrupt_handler);
  }
  m_start = now_seconds();
  m_last_checkpoint = m_start;
  if (!m_resumed) {
    m_warmup_theta.assign(m_options.train_after * theta_dim(), Scalar(0));
    m_warmup_x.assign(m_options.train_after * x_dim(), Scalar(0));
  }
  {
    const std::lock_guard lock(m_state_mutex);
    for (std::size_t w = 0; w < m_options.workers; ++w) start_worker();
  }
  m_monitor = std::thread([this] { monitor_main(); });
  std::exception_ptr trainer_error;
  std::optional<StopReason> reason;
  try {
    reason = trainer_loop();
  } catch (...) {
    trainer_error = std::current_exception();
  }
  stop(reason.value_or(StopReason::requested));
  shutdown_threads();
  if (m_options.handle_interrupt) std::signal(SIGINT, previous);
  if (m_worker_error) std::rethrow_exception(m_worker_error);
  if (trainer_error) std::rethrow_exception(trainer_error);
  if (!m_options.checkpoint.empty() && m_steps > 0) write_checkpoint();

  PipelineReport report;
  report.reason = m_reason.value_or(StopReason::requested);
  report.accounting = accounting();
  report.final_metrics = metrics();
  report.failures = m_failures;
  report.train_loss = m_train_history;
  report.validation_step = m_validation_steps;
  report.validation_loss = m_validation_history;
  report.best_step = m_best_step;
  report.resumed = m_resumed;
  if (m_options.restore_best && m_have_best) {
    detail::copy_vector<Space>(Vector<Scalar, Space>(m_density.parameters()), m_best_parameters);
    report.restored_best = true;
  }
  return report;
}

OSBI_ONLINE_PIPELINE_TEMPLATE
std::optional<StopReason> OSBI_ONLINE_PIPELINE::trainer_loop() {
  const std::size_t d_theta = theta_dim(), d_x = x_dim(), batch = m_options.batch_size;
  const auto add_idle = [&](double since) {
    const std::lock_guard lock(m_trainer_mutex);
    m_idle_seconds += now_seconds() - since;
  };
  {
    const double since = now_seconds();
    std::unique_lock lock(m_state_mutex);
    m_state_changed.wait(lock, [&] { return m_warmup_rows >= m_options.train_after || m_stopping || m_simulations_over; });
    const bool ready = m_warmup_rows >= m_options.train_after;
    lock.unlock();
    add_idle(since);
    if (!ready) return m_stopping ? std::nullopt : std::optional(StopReason::no_data);
  }
  if (!m_resumed) standardize();
  if (m_validation_rows > 0) {
    upload(m_validation_theta_host, m_validation_x_host, m_validation_rows, m_validation_u, m_validation_x);
    m_validation_out = Vector<Scalar, Space>("osbi::online::validation_out", m_validation_rows);
  }
  for (;;) {
    {
      const std::lock_guard lock(m_state_mutex);
      if (m_stopping) return std::nullopt;
      // A reusing buffer never runs dry: without a plateau rule, the run ends once the trainer has used
      // epochs_after_budget times as many rows as were ever accepted.
      if (m_simulations_over && reusing && !m_options.stop.plateau_patience &&
          static_cast<double>(m_samples_trained) >= m_options.stop.epochs_after_budget * static_cast<double>(m_buffer->arrivals()))
        return StopReason::simulation_budget;
    }
    if (m_options.stop.max_steps && m_steps >= m_options.stop.max_steps) return StopReason::max_steps;
    const double since = now_seconds();
    if (m_options.deterministic)
      m_buffer->wait_for_arrivals(m_options.train_after + m_steps * m_options.arrivals_per_step);
    if (!m_options.checkpoint.empty() && m_steps > 0 &&
        ((m_options.checkpoint_every_steps && m_steps % m_options.checkpoint_every_steps == 0) ||
         (m_options.checkpoint_every_seconds > 0 && since - m_last_checkpoint >= m_options.checkpoint_every_seconds))) {
      write_checkpoint();
      m_last_checkpoint = now_seconds();
    }
    const std::size_t n = m_buffer->sample_batch(batch, std::span<Scalar>(m_host_theta.data(), batch * d_theta),
                                                 std::span<Scalar>(m_host_x.data(), batch * d_x),
                                                 std::span<std::uint64_t>(m_ids));
    const std::uint64_t arrivals = m_buffer->arrivals();
    if (m_options.deterministic) {
      const std::lock_guard lock(m_state_mutex);
      ++m_steps_drawn;
      m_state_changed.notify_all();
    }
    add_idle(since);
    if (n == 0) {
      const std::lock_guard lock(m_state_mutex);
      if (m_stopping) return std::nullopt;
      return m_simulations_over ? StopReason::simulation_budget : StopReason::no_data;
    }
    const double loss = train_step(n);
    double staleness = 0;
    for (std::size_t i = 0; i < n; ++i) staleness += static_cast<double>(arrivals - 1 - m_ids[i]);
    std::optional<StopReason> plateau;
    {
      const std::lock_guard lock(m_trainer_mutex);
      ++m_steps;
      m_samples_trained += n;
      m_loss_sum += loss, ++m_loss_count;
      m_staleness_sum += staleness / static_cast<double>(n), ++m_staleness_count;
      m_train_history.push_back(loss);
    }
    if (m_validation_rows > 0 && m_steps % m_options.validate_every == 0) {
      const double value = validation_loss();
      const std::lock_guard lock(m_trainer_mutex);
      m_last_validation = value;
      m_validation_history.push_back(value);
      m_validation_steps.push_back(m_steps);
      if (value < m_best_validation) {
        m_best_validation = value;
        m_best_step = m_steps;
        m_no_improvement = 0;
        m_have_best = true;
        detail::copy_vector<Space>(m_best_parameters, Vector<Scalar, Space>(m_density.parameters()));
      } else if (++m_no_improvement >= m_options.stop.plateau_patience && m_options.stop.plateau_patience) {
        plateau = StopReason::plateau;
      }
    }
    if (m_options.on_validation && m_validation_rows > 0 && m_steps % m_options.validate_every == 0)
      m_options.on_validation(m_steps, m_last_validation);
    if (plateau) return plateau;
  }
}

OSBI_ONLINE_PIPELINE_TEMPLATE
void OSBI_ONLINE_PIPELINE::write_checkpoint() {
  CheckpointWriter writer;
  writer.add_scalar<std::uint64_t>("pipeline/format", 1);
  {
    std::unique_lock lock(m_state_mutex);
    // A consistent cut: no push between "accepted by the buffer" and "counted here".
    m_paused = true;
    while (m_in_delivery > m_buffer->blocked_producers()) m_state_changed.wait_for(lock, std::chrono::milliseconds(1));
    add_buffer_state(writer, "buffer/", *m_buffer);
    const std::vector<std::uint64_t> counters{m_frontier_chunk,    m_counts.finished,          m_counts.validation,
                                              m_counts.failed_threw, m_counts.failed_non_finite, m_counts.timed_out,
                                              m_steps_drawn,        m_validation_rows};
    writer.add_array("pipeline/counters", counters.data(), {counters.size()});
    const std::vector<std::uint64_t> done(m_done.begin(), m_done.end());
    writer.add_array("pipeline/done", done.data(), {done.size()});
    writer.add_array("pipeline/validation_theta", m_validation_theta_host.data(), {m_validation_rows, theta_dim()});
    writer.add_array("pipeline/validation_x", m_validation_x_host.data(), {m_validation_rows, x_dim()});
    m_paused = false;
    m_state_changed.notify_all();
  }
  const std::lock_guard lock(m_trainer_mutex);
  const std::vector<std::uint64_t> trainer{m_steps, m_samples_trained, m_best_step, m_no_improvement, m_have_best ? 1u : 0u};
  writer.add_array("trainer/counters", trainer.data(), {trainer.size()});
  writer.add_scalar("trainer/best_validation", m_best_validation);
  writer.add_scalar("trainer/last_validation", m_last_validation);
  writer.add_array("trainer/train_loss", m_train_history.data(), {m_train_history.size()});
  writer.add_array("trainer/validation_loss", m_validation_history.data(), {m_validation_history.size()});
  writer.add_array("trainer/validation_step", m_validation_steps.data(), {m_validation_steps.size()});
  const std::vector<double> standardization = [&] {
    std::vector<double> all;
    for (const auto* v : {&m_theta_mean, &m_theta_std, &m_x_mean, &m_x_std}) all.insert(all.end(), v->begin(), v->end());
    return all;
  }();
  writer.add_array("trainer/standardization", standardization.data(), {standardization.size()});
  {
    // The writer's host copies may launch on the default host space (see detail::copy_vector).
    std::unique_lock<std::mutex> host_launch;
    if constexpr (!std::is_same_v<Space, Kokkos::DefaultHostExecutionSpace>)
      host_launch = std::unique_lock(detail::launch_mutex<Kokkos::DefaultHostExecutionSpace>());
    Space().fence();
    writer.add("parameters", m_density.parameters());
    writer.add("best_parameters", m_best_parameters);
    add_optimizer_state(writer, "optimizer/", m_adam);
  }
  writer.write(m_options.checkpoint);
}

OSBI_ONLINE_PIPELINE_TEMPLATE
void OSBI_ONLINE_PIPELINE::resume(const std::filesystem::path& path) {
  constexpr const char* part = "online::Pipeline::resume";
  require(!m_ran, part, "resume() must come before run()");
  const CheckpointReader reader(path);
  const auto fail = [&](const std::string& what) { throw DataError(part, path.string() + ": " + what); };
  if (reader.get_scalar<std::uint64_t>("pipeline/format") != 1) fail("unknown pipeline checkpoint format");
  const auto counters = reader.get<std::uint64_t>("pipeline/counters", {8}).data;
  const auto trainer = reader.get<std::uint64_t>("trainer/counters", {5}).data;
  const auto done = reader.get<std::uint64_t>("pipeline/done").data;
  const std::size_t validation_rows = counters[7];
  if (validation_rows > m_options.validation_size)
    fail(osbi::detail::concat("holds ", validation_rows, " validation rows, more than validation_size = ", m_options.validation_size));
  auto validation_theta = reader.get<Scalar>("pipeline/validation_theta", {validation_rows, theta_dim()}).data;
  auto validation_x = reader.get<Scalar>("pipeline/validation_x", {validation_rows, x_dim()}).data;
  const auto standardization = reader.get<double>("trainer/standardization").data;
  const std::size_t zscore = standardization.size();
  if (zscore != 0 && zscore != 2 * (theta_dim() + x_dim()))
    fail(osbi::detail::concat("z-scoring section has ", zscore, " values, expected ", 2 * (theta_dim() + x_dim())));
  const std::size_t parameter_count = m_density.parameters().extent(0);
  const auto parameters = reader.get<Scalar>("parameters", {parameter_count}).data;
  const auto best = reader.get<Scalar>("best_parameters", {parameter_count}).data;
  auto train_history = reader.get<double>("trainer/train_loss").data;
  auto validation_history = reader.get<double>("trainer/validation_loss").data;
  auto validation_steps = reader.get<std::uint64_t>("trainer/validation_step").data;
  if (validation_steps.size() != validation_history.size()) fail("validation history lengths differ");
  if (train_history.size() != trainer[0]) fail("train-loss history length differs from the step count");
  // Everything read and checked: now the state changes (buffer and optimizer validate themselves first).
  read_buffer_state(reader, "buffer/", *m_buffer);
  const Space space;
  read_optimizer_state(space, reader, "optimizer/", m_adam);
  const auto copy_in = [&](const std::vector<Scalar>& values, const Vector<Scalar, Space>& view) {
    const Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(values.data(), values.size());
    Kokkos::deep_copy(space, view, host);
  };
  copy_in(parameters, m_density.parameters());
  copy_in(best, m_best_parameters);
  space.fence();
  if (zscore) {
    const auto slice = [&](std::size_t begin, std::size_t count) {
      return std::vector<double>(standardization.begin() + static_cast<std::ptrdiff_t>(begin),
                                 standardization.begin() + static_cast<std::ptrdiff_t>(begin + count));
    };
    m_theta_mean = slice(0, theta_dim());
    m_theta_std = slice(theta_dim(), theta_dim());
    m_x_mean = slice(2 * theta_dim(), x_dim());
    m_x_std = slice(2 * theta_dim() + x_dim(), x_dim());
    if constexpr (requires(Density& d, std::vector<double> v) { d.set_standardization(v, v, v, v); })
      m_density.set_standardization(m_theta_mean, m_theta_std, m_x_mean, m_x_std);
  }
  m_frontier_chunk = m_next_chunk = counters[0];
  m_counts.finished = counters[1];
  m_counts.validation = counters[2];
  m_counts.failed_threw = counters[3];
  m_counts.failed_non_finite = counters[4];
  m_counts.timed_out = counters[5];
  m_steps_drawn = counters[6];
  m_validation_rows = validation_rows;
  m_validation_theta_host = std::move(validation_theta);
  m_validation_x_host = std::move(validation_x);
  m_done = std::set<std::uint64_t>(done.begin(), done.end());
  m_steps = trainer[0];
  m_samples_trained = trainer[1];
  m_best_step = trainer[2];
  m_no_improvement = trainer[3];
  m_have_best = trainer[4] != 0;
  m_best_validation = reader.get_scalar<double>("trainer/best_validation");
  m_last_validation = reader.get_scalar<double>("trainer/last_validation");
  m_train_history = std::move(train_history);
  m_validation_history = std::move(validation_history);
  m_validation_steps = std::move(validation_steps);
  m_warmup_rows = m_options.train_after;
  m_resumed = true;
  m_resumed_simulations = m_counts.finished;
  m_resumed_samples = m_samples_trained;
}

/// Builds a pipeline, naming only the buffer type: `auto p = make_pipeline<ReservoirBuffer<>>(prior, ...)`.
template <SampleBuffer Buffer, Prior PriorType, class SimulatorType, ConditionalDensity Density, class LossType = NllLoss>
Pipeline<PriorType, SimulatorType, Buffer, Density, LossType> make_pipeline(PriorType prior, SimulatorType simulator,
                                                                           const BufferOptions& buffer_options,
                                                                           Density density, PipelineOptions options = {},
                                                                           LossType loss = {}) {
  return Pipeline<PriorType, SimulatorType, Buffer, Density, LossType>(std::move(prior), std::move(simulator), buffer_options,
                                                                       std::move(density), std::move(options), std::move(loss));
}

#undef OSBI_ONLINE_PIPELINE_TEMPLATE
#undef OSBI_ONLINE_PIPELINE

} // namespace osbi::online
