// SPDX-License-Identifier: BSD-3-Clause
/// \brief Offline training of an estimator on a fixed dataset: sbi's recipe (validation split, early stopping, Adam, clipping) for any loss and optimizer.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/train/dataset.hpp>
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
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

namespace osbi {

/// sbi's defaults (sbi/inference/trainers/npe/npe_base.py train()).
struct TrainingOptions {
  std::size_t batch_size = 200;
  double learning_rate = 5e-4;                  ///< of the Adam the trainer builds (a given optimizer keeps its own)
  double validation_fraction = 0.1;
  std::size_t stop_after_epochs = 20;          ///< patience: epochs without a better validation loss
  /// When the patience runs out with decays left: restore the best parameters, multiply the learning
  /// rate by `learning_rate_decay` and go on with a fresh patience (EarlyStopping). 0 decays is sbi's recipe.
  std::size_t learning_rate_decays = 0;
  double learning_rate_decay = 0.2;
  std::size_t max_epochs = std::size_t(1) << 31;
  double clip_max_norm = 5.0;                   ///< <= 0 or inf: no clipping
  /// > 0: validate, keep as best and return an exponential moving average of the parameters over the steps
  /// (ParameterAverage, train/parameter_average.hpp); 0: the raw parameters (sbi's recipe). Unset: the estimator's
  /// default_parameter_average_decay (0.999 for FMPE and NPSE, whose losses are stochastic; 0 for the flows).
  std::optional<double> parameter_average_decay{};
  std::uint64_t seed = 0;
  std::ostream* progress = nullptr;             ///< one line per `progress_every` epochs; null: silent
  std::size_t progress_every = 1;
};

/// What a training run did: every row of the dataset is in exactly one of {trained on, validated on,
/// dropped as non-finite}.
struct TrainingReport {
  std::size_t rows_total = 0, rows_dropped = 0, rows_train = 0, rows_validation = 0;
  std::size_t epochs = 0, best_epoch = 0, steps = 0;
  std::size_t learning_rate_decays = 0;            ///< decays taken (TrainingOptions::learning_rate_decays)
  double best_validation_loss = std::numeric_limits<double>::infinity();
  std::vector<double> train_loss, validation_loss; ///< per epoch (the loss's value)
  double seconds = 0, train_samples_per_second = 0;
  bool stopped_early = false;
};

namespace detail {

/// Rows of (theta, x) — and of weights, when given — with every entry finite, on the host (once per dataset).
template <class Scalar, class ExecutionSpace>
std::vector<std::size_t> finite_rows(const ConstMatrix<Scalar, ExecutionSpace>& theta,
                                     const ConstMatrix<Scalar, ExecutionSpace>& x,
                                     const ConstVector<Scalar, ExecutionSpace>& weights = {}) {
  const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto weights_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weights);
  std::vector<std::size_t> rows;
  rows.reserve(theta.extent(0));
  for (std::size_t i = 0; i < theta.extent(0); ++i) {
    bool finite = weights.data() == nullptr || std::isfinite(double(weights_host(i)));
    for (std::size_t j = 0; j < theta.extent(1); ++j) finite = finite && std::isfinite(double(theta_host(i, j)));
    for (std::size_t j = 0; j < x.extent(1); ++j) finite = finite && std::isfinite(double(x_host(i, j)));
    if (finite) rows.push_back(i);
  }
  return rows;
}

/// Fisher–Yates with a counter-based generator: the same permutation on every machine.
inline void shuffle(std::vector<std::size_t>& values, BatchRandom rng) {
  RowRandom generator = rng.row(0);
  for (std::size_t i = values.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(generator.uniform() * static_cast<double>(i));
    std::swap(values[i - 1], values[j < i ? j : i - 1]);
  }
}

/// out(r, :) = in(index(r), :) for r < index.extent(0).
template <class Scalar, class ExecutionSpace>
void gather_rows(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& in,
                 const Kokkos::View<const std::size_t*, typename ExecutionSpace::memory_space>& index,
                 const Matrix<Scalar, ExecutionSpace>& out) {
  const std::size_t columns = in.extent(1);
  Kokkos::parallel_for(
      "osbi::train::gather_rows", Kokkos::RangePolicy<ExecutionSpace>(space, 0, index.extent(0)),
      KOKKOS_LAMBDA(const std::size_t r) {
        for (std::size_t j = 0; j < columns; ++j) out(r, j) = in(index(r), j);
      });
}

/// The batches of one dataset: rows gathered by an index, with the dataset's optional fields.
template <class Scalar, class ExecutionSpace>
class BatchGatherer {
public:
  using Memory = typename ExecutionSpace::memory_space;
  using IndexView = Kokkos::View<const std::size_t*, Memory>;

  BatchGatherer(const Dataset<Scalar, ExecutionSpace>& data, std::size_t rows)
      : m_data(data), m_theta(label("train", "trainer", "batch_theta"), rows, data.theta.extent(1)),
        m_x(label("train", "trainer", "batch_x"), rows, data.x.extent(1)) {
    if (data.weights.data()) m_weights = Vector<Scalar, ExecutionSpace>(label("train", "trainer", "batch_weights"), rows);
    if (data.has_metadata()) {
      m_proposal_log_prob = Vector<double, ExecutionSpace>(label("train", "trainer", "batch_proposal_log_prob"), rows);
      m_round = Kokkos::View<std::uint64_t*, Memory>(label("train", "trainer", "batch_round"), rows);
      m_arrival = Kokkos::View<std::uint64_t*, Memory>(label("train", "trainer", "batch_arrival"), rows);
      m_uses = Kokkos::View<std::uint64_t*, Memory>(label("train", "trainer", "batch_uses"), rows);
    }
  }

  /// The batch of rows index(0 … k−1) (k <= the capacity given at construction), used for the `uses`-th time.
  TrainingBatch<Scalar, ExecutionSpace> gather(const ExecutionSpace& space, const IndexView& index, std::uint64_t uses) {
    const std::size_t rows = index.extent(0);
    const auto head = std::make_pair(std::size_t{0}, rows);
    TrainingBatch<Scalar, ExecutionSpace> batch;
    const Matrix<Scalar, ExecutionSpace> theta = Kokkos::subview(m_theta, head, Kokkos::ALL);
    const Matrix<Scalar, ExecutionSpace> x = Kokkos::subview(m_x, head, Kokkos::ALL);
    gather_rows<Scalar, ExecutionSpace>(space, m_data.theta, index, theta);
    gather_rows<Scalar, ExecutionSpace>(space, m_data.x, index, x);
    batch.theta = theta;
    batch.x = x;
    if (m_weights.data()) {
      const Vector<Scalar, ExecutionSpace> weights = Kokkos::subview(m_weights, head);
      const ConstVector<Scalar, ExecutionSpace> source = m_data.weights;
      Kokkos::parallel_for(
          "osbi::train::gather_weights", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(const std::size_t r) { weights(r) = source(index(r)); });
      batch.weights = weights;
    }
    if (m_proposal_log_prob.data()) {
      const Vector<double, ExecutionSpace> log_prob = Kokkos::subview(m_proposal_log_prob, head);
      const auto round = Kokkos::subview(m_round, head), arrival = Kokkos::subview(m_arrival, head),
                 used = Kokkos::subview(m_uses, head);
      const ConstVector<double, ExecutionSpace> source_log_prob = m_data.proposal_log_prob;
      const auto source_round = m_data.round;
      Kokkos::parallel_for(
          "osbi::train::gather_metadata", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(const std::size_t r) {
            const std::size_t row = index(r);
            log_prob(r) = source_log_prob(row);
            round(r) = source_round(row);
            arrival(r) = row;
            used(r) = uses;
          });
      batch.proposal_log_prob = log_prob;
      batch.round = round;
      batch.arrival = arrival;
      batch.uses = used;
    }
    return batch;
  }

private:
  Dataset<Scalar, ExecutionSpace> m_data;
  Matrix<Scalar, ExecutionSpace> m_theta, m_x;
  Vector<Scalar, ExecutionSpace> m_weights;
  Vector<double, ExecutionSpace> m_proposal_log_prob;
  Kokkos::View<std::uint64_t*, Memory> m_round, m_arrival, m_uses;
};

} // namespace detail

/*
 * train(estimator, data, options, loss, optimizer[, reduction]) — fits the estimator by minimizing the loss
 * over the dataset, as sbi does: rows with NaN/Inf (in θ, x or the weight) are dropped (counted in the
 * report), a seeded random `validation_fraction` of the rest is held out, minibatches of `batch_size` (last
 * partial batch dropped, as sbi's loaders do) through training_step (zero → loss → reduce → clip → step),
 * EarlyStopping after `stop_after_epochs` epochs without a better validation value (with optional learning-rate
 * decays), and the best parameters restored. The validation value is loss.value on the held-out rows with one
 * fixed random batch, so it is comparable across epochs for a stochastic loss too. With a parameter-average decay
 * > 0 (options.parameter_average_decay, or the estimator's default when unset) the moving average of the
 * parameters is what is validated, kept and returned (after a learning-rate decay the raw parameters and the
 * average restart from the best average).
 * Throws InvalidArgument if fewer than 2 finite rows remain or the options are out of range.
 *
 * train(estimator, theta, x[, options[, loss]]) is the common case: no weights or metadata, Adam at
 * options.learning_rate (sbi's optimizer), NLL by default.
 */
template <Estimator EstimatorType, Loss<EstimatorType> LossType, optim::Optimizer OptimizerType,
          GradientReduction<typename EstimatorType::scalar_type, typename EstimatorType::execution_space> Reduction = LocalGradients>
TrainingReport train(EstimatorType& estimator,
                     const Dataset<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& data,
                     const TrainingOptions& options, LossType& loss, OptimizerType& optimizer, Reduction&& reduction = {}) {
  using Scalar = typename EstimatorType::scalar_type;
  using Space = typename EstimatorType::execution_space;
  using Memory = typename Space::memory_space;
  constexpr std::string_view part = "osbi::train";
  data.check(estimator.theta_dim(), estimator.context_dim(), part);
  require(options.batch_size > 0, part, "batch_size = ", options.batch_size, " must be > 0");
  require(options.validation_fraction > 0.0 && options.validation_fraction < 1.0, part, "validation_fraction = ",
          options.validation_fraction, " must be in (0, 1)");
  require(options.max_epochs > 0, part, "max_epochs must be > 0");
  require(options.stop_after_epochs > 0, part, "stop_after_epochs must be > 0");

  const auto start = std::chrono::steady_clock::now();
  Space space;
  TrainingReport report;
  report.rows_total = data.rows();
  std::vector<std::size_t> rows = detail::finite_rows<Scalar, Space>(data.theta, data.x, data.weights);
  report.rows_dropped = report.rows_total - rows.size();
  require(rows.size() >= 2, part, "only ", rows.size(), " of ", report.rows_total, " rows are finite; at least 2 are needed");

  RandomStream rng(options.seed, streams::trainer_shuffle);
  RandomStream loss_rng(options.seed, streams::trainer_loss);
  const BatchRandom validation_rng = RandomStream(options.seed, streams::trainer_validation).at(0);
  detail::shuffle(rows, rng.next());
  const std::size_t validation_count =
      std::max<std::size_t>(1, static_cast<std::size_t>(options.validation_fraction * static_cast<double>(rows.size())));
  std::vector<std::size_t> validation_rows(rows.begin(), rows.begin() + validation_count);
  std::vector<std::size_t> train_rows(rows.begin() + validation_count, rows.end());
  report.rows_validation = validation_rows.size();
  report.rows_train = train_rows.size();
  const std::size_t batch = std::min(options.batch_size, train_rows.size());
  const std::size_t batches_per_epoch = train_rows.size() / batch;

  // The validation set is gathered once; training batches per step from a per-epoch permutation.
  Kokkos::View<std::size_t*, Memory> index(label("train", "trainer", "index"), std::max(validation_count, train_rows.size()));
  auto index_host = Kokkos::create_mirror_view(index);
  for (std::size_t r = 0; r < validation_count; ++r) index_host(r) = validation_rows[r];
  Kokkos::deep_copy(index, index_host);
  detail::BatchGatherer<Scalar, Space> validation_gatherer(data, validation_count), gatherer(data, batch);
  const TrainingBatch<Scalar, Space> validation =
      validation_gatherer.gather(space, Kokkos::subview(index, std::make_pair(std::size_t(0), validation_count)), 1);

  EarlyStopping<Scalar, Space> stopping(space, estimator.parameters(),
                                        {.patience = options.stop_after_epochs,
                                         .learning_rate_decays = options.learning_rate_decays,
                                         .learning_rate_decay = options.learning_rate_decay});
  const StepOptions step{.clip_max_norm = options.clip_max_norm};
  ParameterAverage<Scalar, Space> average(
      space, estimator.parameters(),
      options.parameter_average_decay.value_or(default_parameter_average_decay<EstimatorType>()));

  for (std::size_t epoch = 0; epoch < options.max_epochs; ++epoch) {
    detail::shuffle(train_rows, rng.next());
    for (std::size_t r = 0; r < train_rows.size(); ++r) index_host(r) = train_rows[r];
    Kokkos::deep_copy(space, index, index_host);
    double epoch_loss = 0;
    for (std::size_t b = 0; b < batches_per_epoch; ++b) {
      const auto batch_index = Kokkos::subview(index, std::make_pair(b * batch, (b + 1) * batch));
      const TrainingBatch<Scalar, Space> rows_batch = gatherer.gather(space, batch_index, epoch + 1);
      epoch_loss += training_step(estimator, loss, optimizer, space, rows_batch, loss_rng.next(), step, reduction);
      average.update(space, estimator.parameters());
      ++report.steps;
    }
    // With averaging, the average is what is validated and kept; the raw parameters train on.
    average.swap_in(space, estimator.parameters());
    const double value = validation_value(loss, estimator, space, validation, validation_rng);
    report.train_loss.push_back(epoch_loss / static_cast<double>(batches_per_epoch));
    report.validation_loss.push_back(value);
    report.epochs = epoch + 1;
    const StoppingVerdict verdict = stopping.observe(space, value, epoch + 1, estimator.parameters(), optimizer);
    if (verdict == StoppingVerdict::decayed) average.restart(space, estimator.parameters());
    else average.swap_out(space, estimator.parameters());
    report.best_validation_loss = stopping.best_value();
    report.best_epoch = stopping.best_index();
    report.learning_rate_decays = stopping.decays_taken();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.progress && (epoch % options.progress_every == 0)) {
      std::ostringstream line;
      line << std::fixed << std::setprecision(4) << "epoch " << epoch + 1 << ": train " << report.train_loss.back()
           << "  val " << value << "  (best " << report.best_validation_loss << " @ " << report.best_epoch
           << ", patience " << stopping.since_best() << "/" << options.stop_after_epochs << ", lr "
           << std::setprecision(1) << std::scientific << optimizer.learning_rate() << std::fixed << ")  "
           << std::setprecision(0) << static_cast<double>(report.steps * batch) / seconds << " samples/s  "
           << std::setprecision(1) << seconds << " s\n";
      *options.progress << line.str() << std::flush;
    }
    if (verdict == StoppingVerdict::stop) {
      report.stopped_early = true;
      break;
    }
  }
  stopping.restore_best(space, estimator.parameters());
  space.fence();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.train_samples_per_second = static_cast<double>(report.steps * batch) / report.seconds;
  return report;
}

/// Adam at options.learning_rate (sbi's optimizer) over the estimator's parameters. (Not const: the Estimator
/// concept names parameters() on a non-const estimator only.)
template <Estimator EstimatorType>
optim::Adam<typename EstimatorType::scalar_type, typename EstimatorType::execution_space> default_optimizer(
    EstimatorType& estimator, const TrainingOptions& options) {
  optim::AdamOptions<optim::L2WeightDecay> adam{.learning_rate = options.learning_rate};
  return optim::Adam<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>(
      estimator.parameters().extent(0), adam);
}

/// train() on (θ, x) alone with Adam at options.learning_rate; the loss defaults to the estimator's DefaultLoss
/// (NLL for a density, flow matching, denoising score matching).
template <Estimator EstimatorType, Loss<EstimatorType> LossType = DefaultLoss<EstimatorType>>
TrainingReport train(EstimatorType& estimator,
                     const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& theta,
                     const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& x,
                     const TrainingOptions& options = {}, LossType loss = {}) {
  auto optimizer = default_optimizer(estimator, options);
  Dataset<typename EstimatorType::scalar_type, typename EstimatorType::execution_space> data;
  data.theta = theta;
  data.x = x;
  return train(estimator, data, options, loss, optimizer);
}

} // namespace osbi
