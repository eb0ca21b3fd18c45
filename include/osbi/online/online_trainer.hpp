// SPDX-License-Identifier: BSD-3-Clause
/// \brief OnlineTrainer: the training side of a pipeline — batches from a sample source through the one training step, validation and early stopping, with live statistics.
#pragma once

#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/sample_source.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/pacing.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/train/early_stopping.hpp>
#include <osbi/train/gradient_reduction.hpp>
#include <osbi/train/parameter_average.hpp>
#include <osbi/train/step.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <span>
#include <vector>

namespace osbi::online {

/// What a checkpoint keeps of the trainer besides parameters, optimizer state and EarlyStopping.
struct TrainerCounters {
  std::uint64_t steps = 0, samples_trained = 0;
  std::vector<double> train_history, validation_history;
  std::vector<std::uint64_t> validation_steps;
  double last_validation = std::numeric_limits<double>::quiet_NaN();
};

/// The random numbers of training step `step`'s loss (flow matching's t and noise, score matching's σ and noise):
/// batch `step` of (seed, streams::pipeline_loss); a data-parallel learner r > 0 (a reduction with learner()) draws
/// from its split r, so the learners' batches get independent noise, and learner 0 draws what one process would.
template <class Reduction>
BatchRandom loss_random(std::uint64_t seed, std::uint64_t step, const Reduction& reduction) {
  const BatchRandom shared = RandomStream(seed, streams::pipeline_loss).at(step);
  if constexpr (requires { reduction.learner(); }) {
    const int learner = reduction.learner();
    if (learner > 0) return shared.split(static_cast<std::uint32_t>(learner));
  }
  return shared;
}

/*
 * OnlineTrainer<Estimator, Loss, Optimizer, Source, Reduction> — what the pipeline's trainer thread does per step:
 * take a batch from the source (θ, x and SampleMetadata per row), move it to the estimator's execution-space
 * instance in bulk, map θ to the estimator's coordinates (Posterior::to_estimator_space), run training_step
 * (zero → loss → reduce → clip → optimizer) with a fresh batch of the loss's random stream
 * (loss_random: streams::pipeline_loss, step k → batch k, split by learner under data parallelism), and feed the
 * loss's per-row values back to a
 * PrioritizedSampleSource (shifted so the batch's lowest is 0). validate() computes the loss's value on the
 * validation set with one fixed random batch (streams::pipeline_validation) and applies EarlyStopping.
 * With parameter averaging (options.parameter_average_decay, or the estimator's default when unset) every step
 * updates an exponential moving average of the parameters, and validate() validates and keeps that average while
 * the raw parameters train on (after a learning-rate decay both go on from the best average), as offline train().
 * Data-parallel learners hold identical parameters, so their averages agree without communication.
 *
 * The statistics (steps, samples trained, losses, staleness, histories) are guarded by a mutex so a monitor
 * thread can read them while the trainer runs.
 */
template <Estimator EstimatorType, Loss<EstimatorType> LossType, optim::Optimizer OptimizerType, SampleSource Source,
          class Reduction = LocalGradients>
class OnlineTrainer {
public:
  using Scalar = typename EstimatorType::scalar_type;
  using Space = typename EstimatorType::execution_space;
  using IndexView = Kokkos::View<std::uint64_t*, typename Space::memory_space>;

  using Counters = TrainerCounters;

  OnlineTrainer(Posterior<EstimatorType>& posterior, LossType& loss, OptimizerType& optimizer, Source& source,
                const PipelineOptions& options, const Space& space, Reduction reduction = {})
      : m_posterior(posterior), m_loss(loss), m_optimizer(optimizer), m_source(source), m_options(options), m_space(space),
        m_reduction(std::move(reduction)),
        m_stopping(space, estimator().parameters(),
                   {.patience = options.stop.plateau_patience,
                    .learning_rate_decays = options.learning_rate_decays,
                    .learning_rate_decay = options.learning_rate_decay}),
        m_average(space, estimator().parameters(),
                  options.parameter_average_decay.value_or(default_parameter_average_decay<EstimatorType>())) {
    const std::size_t n = options.batch_size, d_theta = posterior.theta_dim(), d_x = posterior.x_dim();
    m_theta = Matrix<Scalar, Space>(label("online", "OnlineTrainer", "batch_theta"), n, d_theta);
    m_u = Matrix<Scalar, Space>(label("online", "OnlineTrainer", "batch_u"), n, d_theta);
    m_x = Matrix<Scalar, Space>(label("online", "OnlineTrainer", "batch_x"), n, d_x);
    m_row_loss = Vector<Scalar, Space>(label("online", "OnlineTrainer", "row_loss"), n);
    m_log_prob = Vector<double, Space>(label("online", "OnlineTrainer", "proposal_log_prob"), n);
    m_round = IndexView(label("online", "OnlineTrainer", "round"), n);
    m_arrival = IndexView(label("online", "OnlineTrainer", "arrival"), n);
    m_uses = IndexView(label("online", "OnlineTrainer", "uses"), n);
    m_weights = Vector<Scalar, Space>(label("online", "OnlineTrainer", "replay_weights"), n);
    m_host_weights = Kokkos::create_mirror_view(m_weights);
    m_host_theta = Kokkos::create_mirror_view(m_theta);
    m_host_x = Kokkos::create_mirror_view(m_x);
    m_host_log_prob = Kokkos::create_mirror_view(m_log_prob);
    m_host_round = Kokkos::create_mirror_view(m_round);
    m_host_arrival = Kokkos::create_mirror_view(m_arrival);
    m_host_uses = Kokkos::create_mirror_view(m_uses);
    m_metadata.resize(n);
    m_row_weights.resize(n);
  }

  EstimatorType& estimator() { return m_posterior.estimator(); }
  EarlyStopping<Scalar, Space>& early_stopping() { return m_stopping; }

  /// Importance weights of batch rows: raw θ (rows × D, row-major, on the host) → one weight >= 0 per row, any scale.
  using ImportanceWeights = std::function<std::vector<double>(std::span<const Scalar> theta, std::size_t rows)>;

  /// Every batch is weighted by `weights` of its rows (times prioritized replay's when that is on), divided by the
  /// batch's largest; their effective sample size is averaged over the steps (importance_effective_fraction).
  void set_importance_weights(ImportanceWeights weights) { m_importance = std::move(weights); }

  /// Fixed weights of the validation rows (after set_validation; one per row, >= 0, a positive largest).
  void set_validation_weights(const std::vector<double>& weights) {
    require_extent(weights.size(), m_validation_rows, "osbi::online::OnlineTrainer", "the validation weights' count (validation rows)");
    if (m_validation_rows == 0) return;
    const double largest = checked_largest(weights, "validation");
    Vector<Scalar, Space> w(label("online", "OnlineTrainer", "validation_weights"), m_validation_rows);
    const auto host = Kokkos::create_mirror_view(w);
    for (std::size_t i = 0; i < m_validation_rows; ++i) host(i) = static_cast<Scalar>(weights[i] / largest);
    Kokkos::deep_copy(m_space, w, host);
    m_space.fence();
    m_validation.weights = w;
  }

  /// The mean over the weighted steps of (Σw)²/(Σw²)/rows of the importance weights (1: all equal); NaN before any.
  double importance_effective_fraction() const {
    const std::lock_guard lock(m_mutex);
    return m_importance_steps ? m_importance_fraction_sum / static_cast<double>(m_importance_steps) : std::numeric_limits<double>::quiet_NaN();
  }

  /// Takes up to batch_size rows from the source (waits as the source does); 0 when it is closed and dry.
  std::size_t draw() {
    const std::size_t n = m_options.batch_size, d_theta = m_posterior.theta_dim(), d_x = m_posterior.x_dim();
    m_rows = m_source.sample_batch(n, std::span<Scalar>(m_host_theta.data(), n * d_theta),
                                   std::span<Scalar>(m_host_x.data(), n * d_x), std::span<SampleMetadata>(m_metadata));
    m_arrivals_seen = m_source.arrivals();
    return m_rows;
  }

  /// One optimizer step on the rows draw() took; returns the batch loss.
  double step() {
    const std::size_t n = m_rows;
    for (std::size_t i = 0; i < n; ++i) {
      m_host_log_prob(i) = m_metadata[i].proposal_log_prob;
      m_host_round(i) = m_metadata[i].generation;
      m_host_arrival(i) = m_metadata[i].id;
      m_host_uses(i) = m_metadata[i].uses;
    }
    if constexpr (!Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible) {
      // One bulk copy per field; the rows beyond n are stale and unused.
      Kokkos::deep_copy(m_space, m_theta, m_host_theta);
      Kokkos::deep_copy(m_space, m_x, m_host_x);
      Kokkos::deep_copy(m_space, m_log_prob, m_host_log_prob);
      Kokkos::deep_copy(m_space, m_round, m_host_round);
      Kokkos::deep_copy(m_space, m_arrival, m_host_arrival);
      Kokkos::deep_copy(m_space, m_uses, m_host_uses);
    }
    const auto rows = std::make_pair(std::size_t{0}, n);
    const auto theta = Kokkos::subview(m_theta, rows, Kokkos::ALL);
    const auto u = Kokkos::subview(m_u, rows, Kokkos::ALL);
    m_posterior.to_estimator_space(m_space, theta, u);
    TrainingBatch<Scalar, Space> batch;
    batch.theta = u;
    batch.x = Kokkos::subview(m_x, rows, Kokkos::ALL);
    batch.proposal_log_prob = Kokkos::subview(m_log_prob, rows);
    batch.round = Kokkos::subview(m_round, rows);
    batch.arrival = Kokkos::subview(m_arrival, rows);
    batch.uses = Kokkos::subview(m_uses, rows);
    const std::uint64_t step_index = progress().steps;
    if (m_options.priority_correction.enabled || m_importance) {
      fill_weights(n, step_index);
      batch.weights = Kokkos::subview(m_weights, rows);
    }
    // The warm-up scales this step's rate only: decays and checkpoints see the optimizer's own.
    const ScaledLearningRate warmup(m_optimizer, warmup_factor());
    const double loss = training_step(estimator(), m_loss, m_optimizer, m_space, batch,
                                      loss_random(m_options.seed, step_index, m_reduction),
                                      StepOptions{.clip_max_norm = m_options.clip_max_norm}, m_reduction);
    if constexpr (PrioritizedSampleSource<Source>) update_priorities(batch, step_index);
    m_average.update(m_space, estimator().parameters());
    m_space.fence();
    double staleness = 0;
    for (std::size_t i = 0; i < n; ++i) staleness += static_cast<double>(m_arrivals_seen - 1 - m_metadata[i].id);
    const std::lock_guard lock(m_mutex);
    ++m_counters.steps;
    m_counters.samples_trained += n;
    m_counters.train_history.push_back(loss);
    m_loss_sum += loss, ++m_loss_count;
    m_staleness_sum += staleness / static_cast<double>(n), ++m_staleness_count;
    return loss;
  }

  /// Plasticity's θ₀: a copy of `parameters` (the estimator's once it is prepared, or a checkpoint's θ₀).
  void set_initial_parameters(const Vector<Scalar, Space>& parameters) {
    require(parameters.extent(0) == estimator().parameters().extent(0), "osbi::online::OnlineTrainer",
            "initial parameters: ", parameters.extent(0), " values for an estimator of ", estimator().parameters().extent(0));
    m_initial_parameters = Vector<Scalar, Space>(label("online", "OnlineTrainer", "initial_parameters"), parameters.extent(0));
    Kokkos::deep_copy(m_space, m_initial_parameters, parameters);
    m_space.fence();
  }

  /// Plasticity: θ ← θ₀ + keep · (θ − θ₀), θ₀ from set_initial_parameters.
  void shrink_toward_initial(double keep) {
    require(m_initial_parameters.extent(0) == estimator().parameters().extent(0), "osbi::online::OnlineTrainer",
            "shrink_toward_initial before set_initial_parameters");
    const Vector<Scalar, Space> theta = estimator().parameters();
    const Vector<Scalar, Space> initial = m_initial_parameters;
    const auto fraction = static_cast<Scalar>(keep);
    Kokkos::parallel_for(label("online", "OnlineTrainer", "shrink_toward_initial"),
                         Kokkos::RangePolicy<Space>(m_space, 0, theta.extent(0)),
                         KOKKOS_LAMBDA(const std::size_t i) { theta(i) = initial(i) + fraction * (theta(i) - initial(i)); });
  }

  /// θ₀ of Plasticity (empty when it is off): what a checkpoint keeps so that a resumed run pulls toward the same point.
  const Vector<Scalar, Space>& initial_parameters() const { return m_initial_parameters; }

  /// Uploads the validation rows (θ raw, x; proposal log density and round per row) once.
  void set_validation(const std::vector<Scalar>& theta, const std::vector<Scalar>& x, const std::vector<double>& log_prob,
                      const std::vector<std::uint64_t>& round) {
    const std::size_t rows = log_prob.size();
    m_validation_rows = rows;
    if (rows == 0) return;
    upload(theta, x, rows, m_validation_u, m_validation_x);
    Vector<double, Space> lp(label("online", "OnlineTrainer", "validation_log_prob"), rows);
    IndexView r(label("online", "OnlineTrainer", "validation_round"), rows);
    IndexView arrival(label("online", "OnlineTrainer", "validation_arrival"), rows);
    IndexView uses(label("online", "OnlineTrainer", "validation_uses"), rows);
    auto lp_host = Kokkos::create_mirror_view(lp);
    auto r_host = Kokkos::create_mirror_view(r);
    auto arrival_host = Kokkos::create_mirror_view(arrival);
    auto uses_host = Kokkos::create_mirror_view(uses);
    for (std::size_t i = 0; i < rows; ++i) lp_host(i) = log_prob[i], r_host(i) = round[i], arrival_host(i) = i, uses_host(i) = 1;
    Kokkos::deep_copy(m_space, lp, lp_host);
    Kokkos::deep_copy(m_space, r, r_host);
    Kokkos::deep_copy(m_space, arrival, arrival_host);
    Kokkos::deep_copy(m_space, uses, uses_host);
    m_space.fence();
    m_validation.theta = m_validation_u;
    m_validation.x = m_validation_x;
    m_validation.proposal_log_prob = lp;
    m_validation.round = r;
    m_validation.arrival = arrival;
    m_validation.uses = uses;
  }

  bool has_validation() const { return m_validation_rows > 0; }

  /// The loss's value on the validation set (of the parameters' moving average when averaging is on), applied to
  /// EarlyStopping; returns its verdict. `inspect(value)` runs while the validated parameters are in the estimator.
  template <class Inspect>
  StoppingVerdict validate(const Inspect& inspect) {
    const Vector<Scalar, Space> parameters = estimator().parameters();
    m_average.swap_in(m_space, parameters);
    StoppingVerdict verdict = StoppingVerdict::waiting;
    try {
      double value = validation_value(m_loss, estimator(), m_space, m_validation,
                                      RandomStream(m_options.seed, streams::pipeline_validation).at(0));
      // Data-parallel learners each hold their own validation rows: they stop on the mean, which they all see.
      if constexpr (requires(Reduction& reduction) { reduction.average(value); }) value = m_reduction.average(value);
      inspect(value);
      // Under the statistics lock: the monitor reads the best value while this thread updates it.
      const std::lock_guard lock(m_mutex);
      const std::uint64_t steps = m_counters.steps;
      m_counters.last_validation = value;
      m_counters.validation_history.push_back(value);
      m_counters.validation_steps.push_back(steps);
      verdict = m_stopping.observe(m_space, value, steps, parameters, m_optimizer);
    } catch (...) {
      m_average.swap_out(m_space, parameters);
      throw;
    }
    // After a decay early stopping put the best (averaged) parameters back: training and its average go on from them.
    if (verdict == StoppingVerdict::decayed) m_average.restart(m_space, parameters);
    else m_average.swap_out(m_space, parameters);
    return verdict;
  }
  StoppingVerdict validate() {
    return validate([](double) {});
  }

  /// The parameter average (disabled: `enabled()` false), for checkpoints.
  const ParameterAverage<Scalar, Space>& parameter_average() const { return m_average; }
  /// ā = the estimator's parameters (once the estimator is prepared from the first rows).
  void restart_average() { m_average.restart(m_space, estimator().parameters()); }
  /// A checkpoint's average and its update count.
  void load_average(const ConstVector<Scalar, Space>& average, std::uint64_t updates) {
    m_average.load(m_space, average, updates);
  }
  /// The estimator ends with the average (a run that did not restore a best validated one).
  void adopt_average() {
    if (!m_average.enabled()) return;
    osbi::detail::copy_parameters(m_space, estimator().parameters(), m_average.average());
    m_space.fence();
  }

  /// (θ raw, x) rows from host vectors to the estimator's space, θ mapped to the estimator's coordinates.
  void upload(const std::vector<Scalar>& theta, const std::vector<Scalar>& x, std::size_t rows, Matrix<Scalar, Space>& u_out,
              Matrix<Scalar, Space>& x_out) const {
    Matrix<Scalar, Space> t(label("online", "OnlineTrainer", "upload_theta"), rows, m_posterior.theta_dim());
    u_out = Matrix<Scalar, Space>(label("online", "OnlineTrainer", "upload_u"), rows, m_posterior.theta_dim());
    x_out = Matrix<Scalar, Space>(label("online", "OnlineTrainer", "upload_x"), rows, m_posterior.x_dim());
    auto th = Kokkos::create_mirror_view(t);
    auto xh = Kokkos::create_mirror_view(x_out);
    for (std::size_t i = 0; i < rows * m_posterior.theta_dim(); ++i) th.data()[i] = theta[i];
    for (std::size_t i = 0; i < rows * m_posterior.x_dim(); ++i) xh.data()[i] = x[i];
    if constexpr (!Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible) {
      Kokkos::deep_copy(m_space, t, th);
      Kokkos::deep_copy(m_space, x_out, xh);
    }
    m_posterior.to_estimator_space(m_space, t, u_out);
    m_space.fence();
  }

  // ---- statistics (any thread) --------------------------------------------------------------------------------

  /// A copy, histories included (checkpoints, the report); the loop reads progress() instead.
  Counters counters() const {
    const std::lock_guard lock(m_mutex);
    return m_counters;
  }

  /// Steps taken, rows trained on, and the last validation value: what the training loop checks every step.
  struct Progress {
    std::uint64_t steps = 0, samples_trained = 0;
    double last_validation = std::numeric_limits<double>::quiet_NaN();
  };
  Progress progress() const {
    const std::lock_guard lock(m_mutex);
    return {m_counters.steps, m_counters.samples_trained, m_counters.last_validation};
  }
  void restore_counters(Counters counters) {
    const std::lock_guard lock(m_mutex);
    m_counters = std::move(counters);
  }
  void add_idle(double seconds) {
    const std::lock_guard lock(m_mutex);
    m_idle_seconds += seconds;
  }

  /// Live figures since the previous call (means over the steps in between), for a metrics line.
  struct Live {
    std::uint64_t steps = 0, samples_trained = 0;
    double idle_seconds = 0, staleness = 0, train_loss = 0, validation_loss = 0, best_validation_loss = 0;
  };
  Live live() {
    const std::lock_guard lock(m_mutex);
    Live out;
    out.steps = m_counters.steps;
    out.samples_trained = m_counters.samples_trained;
    out.idle_seconds = m_idle_seconds;
    out.staleness = m_staleness_count ? m_staleness_sum / static_cast<double>(m_staleness_count) : 0;
    out.train_loss = m_loss_count ? m_loss_sum / static_cast<double>(m_loss_count) : m_last_train_loss;
    m_last_train_loss = out.train_loss;
    m_loss_sum = 0, m_loss_count = 0, m_staleness_sum = 0, m_staleness_count = 0;
    out.validation_loss = m_counters.last_validation;
    out.best_validation_loss = m_stopping.best_value();
    return out;
  }

private:
  /// Sets the optimizer's rate to `factor` times its own for one scope (nothing when factor is 1).
  struct ScaledLearningRate {
    OptimizerType& optimizer;
    double stored, factor;
    ScaledLearningRate(OptimizerType& o, double f) : optimizer(o), stored(o.learning_rate()), factor(f) {
      if (factor != 1.0) optimizer.set_learning_rate(stored * factor);
    }
    ~ScaledLearningRate() {
      if (factor != 1.0) optimizer.set_learning_rate(stored);
    }
    ScaledLearningRate(const ScaledLearningRate&) = delete;
    ScaledLearningRate& operator=(const ScaledLearningRate&) = delete;
  };

  /// β of step `step` (PriorityCorrection).
  double replay_beta(std::uint64_t step) const {
    const auto& c = m_options.priority_correction;
    if (c.beta_steps == 0) return 1.0;
    return c.beta_start + (1.0 - c.beta_start) * std::min(1.0, static_cast<double>(step) / static_cast<double>(c.beta_steps));
  }

  /// The batch's row weights, divided by their largest: prioritized replay's (N·P(i))^(−β) times the importance
  /// weights, whichever are on.
  void fill_weights(std::size_t n, std::uint64_t step) {
    std::vector<double>& weights = m_row_weights; // sized once (the importance callback still returns its own vector)
    std::fill(weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(n), 1.0);
    if (m_options.priority_correction.enabled) {
      const double beta = replay_beta(step);
      double smallest = std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < n; ++i) smallest = std::min(smallest, m_metadata[i].relative_draw_probability);
      for (std::size_t i = 0; i < n; ++i) weights[i] = std::pow(m_metadata[i].relative_draw_probability / smallest, -beta);
    }
    if (m_importance) {
      const std::vector<double> importance = m_importance(std::span<const Scalar>(m_host_theta.data(), n * m_posterior.theta_dim()), n);
      require_extent(importance.size(), n, "osbi::online::OnlineTrainer", "the importance weights' count (batch rows)");
      double sum = 0, squares = 0; // checked_largest below refuses non-finite and negative products, naming the cause
      for (std::size_t i = 0; i < n; ++i) {
        weights[i] *= importance[i];
        sum += importance[i], squares += importance[i] * importance[i];
      }
      const std::lock_guard lock(m_mutex);
      m_importance_fraction_sum += squares > 0 ? sum * sum / squares / static_cast<double>(n) : 0.0;
      ++m_importance_steps;
    }
    const double largest = checked_largest(std::span<const double>(weights.data(), n),
                                           m_importance ? "batch (replay × importance p/q̄: a θ outside every proposal's support?)"
                                                        : "batch");
    for (std::size_t i = 0; i < n; ++i) m_host_weights(i) = static_cast<Scalar>(weights[i] / largest);
    Kokkos::deep_copy(m_space, m_weights, m_host_weights);
  }

  /// The largest of `weights`, which must be finite, >= 0 and not all 0.
  static double checked_largest(std::span<const double> weights, const char* what) {
    double largest = 0;
    for (const double w : weights) {
      require(std::isfinite(w) && w >= 0, "osbi::online::OnlineTrainer", what, " weights must be finite and >= 0, not ", w);
      largest = std::max(largest, w);
    }
    require(weights.empty() || largest > 0, "osbi::online::OnlineTrainer", "every ", what, " weight is 0");
    return largest;
  }

  /// Pacing's warm-up factor at the arrivals this batch was drawn at; data-parallel learners use their mean, so
  /// their steps stay equal.
  double warmup_factor() {
    if (m_options.pacing.warmup_arrivals == 0) return 1.0;
    double factor = learning_rate_factor(m_options.pacing, m_arrivals_seen);
    if constexpr (requires(Reduction& reduction) { reduction.average(factor); }) factor = m_reduction.average(factor);
    return factor;
  }

  void update_priorities(const TrainingBatch<Scalar, Space>& batch, std::uint64_t step_index) {
    const std::size_t n = batch.rows();
    const auto out = Kokkos::subview(m_row_loss, std::make_pair(std::size_t{0}, n));
    m_loss.per_row(estimator(), m_space, batch, loss_random(m_options.seed, step_index, m_reduction), out);
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
    // Priorities must be >= 0 and a loss can be negative: rank by the loss above the batch's lowest.
    std::vector<double> values(n);
    std::vector<std::uint64_t> ids(n);
    double lowest = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) lowest = std::min(lowest, static_cast<double>(host(i)));
    for (std::size_t i = 0; i < n; ++i) {
      const double value = static_cast<double>(host(i)) - lowest;
      values[i] = std::isfinite(value) ? value : 0.0;
      ids[i] = m_metadata[i].id;
    }
    m_source.update_priorities(std::span<const std::uint64_t>(ids), std::span<const double>(values));
  }

  Posterior<EstimatorType>& m_posterior;
  LossType& m_loss;
  OptimizerType& m_optimizer;
  Source& m_source;
  const PipelineOptions& m_options;
  Space m_space;
  Reduction m_reduction;
  EarlyStopping<Scalar, Space> m_stopping;
  ParameterAverage<Scalar, Space> m_average;

  Matrix<Scalar, Space> m_theta, m_u, m_x;
  Vector<Scalar, Space> m_row_loss;
  Vector<double, Space> m_log_prob;
  IndexView m_round, m_arrival, m_uses;
  typename Matrix<Scalar, Space>::HostMirror m_host_theta, m_host_x;
  typename Vector<double, Space>::HostMirror m_host_log_prob;
  typename IndexView::HostMirror m_host_round, m_host_arrival, m_host_uses;
  Vector<Scalar, Space> m_weights;
  typename Vector<Scalar, Space>::HostMirror m_host_weights;
  std::vector<SampleMetadata> m_metadata;
  std::vector<double> m_row_weights; // fill_weights' products, batch_size long
  ImportanceWeights m_importance;
  Vector<Scalar, Space> m_initial_parameters;
  std::size_t m_rows = 0;
  std::uint64_t m_arrivals_seen = 0;

  std::size_t m_validation_rows = 0;
  Matrix<Scalar, Space> m_validation_u, m_validation_x;
  TrainingBatch<Scalar, Space> m_validation;

  mutable std::mutex m_mutex;
  Counters m_counters;
  double m_idle_seconds = 0, m_staleness_sum = 0, m_loss_sum = 0, m_last_train_loss = 0;
  std::uint64_t m_staleness_count = 0, m_loss_count = 0;
  double m_importance_fraction_sum = 0; // under m_mutex
  std::uint64_t m_importance_steps = 0;
};

} // namespace osbi::online
