// SPDX-License-Identifier: BSD-3-Clause
/// \brief Offline training of a ConditionalDensity on a fixed dataset: sbi's recipe (validation split, early stopping, Adam, clipping).
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/flow/conditional_density.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>
#include <vector>

namespace osbi {

/// sbi's defaults (sbi/inference/trainers/npe/npe_base.py train()).
struct TrainingOptions {
  std::size_t batch_size = 200;
  double learning_rate = 5e-4;
  double validation_fraction = 0.1;
  std::size_t stop_after_epochs = 20;          ///< patience: epochs without a better validation loss
  /// When the patience runs out with decays left: restore the best parameters, multiply the learning
  /// rate by `learning_rate_decay` and go on with a fresh patience (a plateau schedule with restarts from
  /// the best point; Adam's moment estimates carry on). 0 decays is sbi's recipe.
  std::size_t learning_rate_decays = 0;
  double learning_rate_decay = 0.2;
  std::size_t max_epochs = std::size_t(1) << 31;
  double clip_max_norm = 5.0;                   ///< <= 0 or inf: no clipping
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
  std::vector<double> train_loss, validation_loss; ///< per epoch (mean NLL)
  double seconds = 0, train_samples_per_second = 0;
  bool stopped_early = false;
};

namespace detail {

/// Rows of (theta, x) with every entry finite, gathered on the host (one-time cost per dataset).
template <class Scalar, class ExecutionSpace>
std::vector<std::size_t> finite_rows(const ConstMatrix<Scalar, ExecutionSpace>& theta,
                                     const ConstMatrix<Scalar, ExecutionSpace>& x) {
  const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  std::vector<std::size_t> rows;
  rows.reserve(theta.extent(0));
  for (std::size_t i = 0; i < theta.extent(0); ++i) {
    bool finite = true;
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

} // namespace detail

/*
 * train(density, theta, x, options) — fits q(θ | x) by minimizing the mean −log q over the dataset,
 * as sbi does: rows with NaN/Inf are dropped (counted in the report), a seeded random
 * `validation_fraction` of the rest is held out, minibatches of `batch_size` (last partial batch
 * dropped, as sbi's loaders do) with Adam and gradient-norm clipping, early stopping after
 * `stop_after_epochs` epochs without a better validation loss, and the best parameters restored.
 * With `learning_rate_decays` > 0, each of the first stops instead restores the best parameters and
 * continues at the learning rate times `learning_rate_decay`.
 * Throws InvalidArgument if fewer than 2 finite rows remain or the options are out of range.
 */
template <ConditionalDensity Density>
TrainingReport train(Density& density,
                     const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& theta,
                     const ConstMatrix<typename Density::scalar_type, typename Density::execution_space>& x,
                     const TrainingOptions& options = {}) {
  using Scalar = typename Density::scalar_type;
  using Space = typename Density::execution_space;
  using Memory = typename Space::memory_space;
  constexpr std::string_view part = "train";
  require_extent(theta.extent(1), density.theta_dim(), part, "theta's column count");
  require_extent(x.extent(1), density.context_dim(), part, "x's column count");
  require_extent(x.extent(0), theta.extent(0), part, "x's row count (must equal theta's)");
  require(options.batch_size > 0, part, "batch_size = ", options.batch_size, " must be > 0");
  require(options.validation_fraction > 0.0 && options.validation_fraction < 1.0, part, "validation_fraction = ",
          options.validation_fraction, " must be in (0, 1)");
  require(options.max_epochs > 0, part, "max_epochs must be > 0");
  require(options.learning_rate_decays == 0 || (options.learning_rate_decay > 0.0 && options.learning_rate_decay < 1.0),
          part, "learning_rate_decay = ", options.learning_rate_decay, " must be in (0, 1)");

  const auto start = std::chrono::steady_clock::now();
  Space space;
  TrainingReport report;
  report.rows_total = theta.extent(0);
  std::vector<std::size_t> rows = detail::finite_rows<Scalar, Space>(theta, x);
  report.rows_dropped = report.rows_total - rows.size();
  require(rows.size() >= 2, part, "only ", rows.size(), " of ", report.rows_total,
          " rows are finite; at least 2 are needed");

  RandomStream rng(options.seed, /*stream=*/0x7241);
  detail::shuffle(rows, rng.next());
  const std::size_t validation_count =
      std::max<std::size_t>(1, static_cast<std::size_t>(options.validation_fraction * static_cast<double>(rows.size())));
  std::vector<std::size_t> validation_rows(rows.begin(), rows.begin() + validation_count);
  std::vector<std::size_t> train_rows(rows.begin() + validation_count, rows.end());
  report.rows_validation = validation_rows.size();
  report.rows_train = train_rows.size();
  const std::size_t batch = std::min(options.batch_size, train_rows.size());
  const std::size_t batches_per_epoch = train_rows.size() / batch;

  // Validation set gathered once; training batches gathered per step from a per-epoch permutation.
  Kokkos::View<std::size_t*, Memory> index("osbi::train::index", std::max(validation_count, train_rows.size()));
  auto index_host = Kokkos::create_mirror_view(index);
  Matrix<Scalar, Space> validation_theta("osbi::train::validation_theta", validation_count, theta.extent(1));
  Matrix<Scalar, Space> validation_x("osbi::train::validation_x", validation_count, x.extent(1));
  for (std::size_t r = 0; r < validation_count; ++r) index_host(r) = validation_rows[r];
  Kokkos::deep_copy(index, index_host);
  detail::gather_rows<Scalar, Space>(space, theta, Kokkos::subview(index, std::make_pair(std::size_t(0), validation_count)),
                                     validation_theta);
  detail::gather_rows<Scalar, Space>(space, x, Kokkos::subview(index, std::make_pair(std::size_t(0), validation_count)),
                                     validation_x);
  Vector<Scalar, Space> validation_log_prob("osbi::train::validation_log_prob", validation_count);
  Matrix<Scalar, Space> batch_theta("osbi::train::batch_theta", batch, theta.extent(1));
  Matrix<Scalar, Space> batch_x("osbi::train::batch_x", batch, x.extent(1));

  optim::Adam<Scalar, Space> adam(density.parameters().extent(0),
                                  optim::AdamOptions<optim::L2WeightDecay>{.learning_rate = options.learning_rate});
  Vector<Scalar, Space> best_parameters("osbi::train::best_parameters", density.parameters().extent(0));
  Kokkos::deep_copy(space, best_parameters, density.parameters());
  const bool clip = options.clip_max_norm > 0 && std::isfinite(options.clip_max_norm);

  const auto validation_loss = [&] {
    density.log_prob(space, validation_theta, validation_x, validation_log_prob);
    double sum = 0;
    Kokkos::parallel_reduce(
        "osbi::train::validation_loss", Kokkos::RangePolicy<Space>(space, 0, validation_count),
        KOKKOS_LAMBDA(const std::size_t i, double& total) { total -= static_cast<double>(validation_log_prob(i)); },
        sum);
    return sum / static_cast<double>(validation_count);
  };

  std::size_t epochs_without_improvement = 0;
  for (std::size_t epoch = 0; epoch < options.max_epochs; ++epoch) {
    detail::shuffle(train_rows, rng.next());
    for (std::size_t r = 0; r < train_rows.size(); ++r) index_host(r) = train_rows[r];
    Kokkos::deep_copy(space, index, index_host);
    double epoch_loss = 0;
    for (std::size_t b = 0; b < batches_per_epoch; ++b) {
      const auto batch_index = Kokkos::subview(index, std::make_pair(b * batch, (b + 1) * batch));
      detail::gather_rows<Scalar, Space>(space, theta, batch_index, batch_theta);
      detail::gather_rows<Scalar, Space>(space, x, batch_index, batch_x);
      density.zero_gradients(space);
      epoch_loss += density.nll_backward(space, batch_theta, batch_x);
      if (clip) optim::clip_gradient_norm(space, density.gradients(), options.clip_max_norm);
      adam.step(space, density.parameters(), density.gradients());
      ++report.steps;
    }
    const double loss = validation_loss();
    report.train_loss.push_back(epoch_loss / static_cast<double>(batches_per_epoch));
    report.validation_loss.push_back(loss);
    report.epochs = epoch + 1;
    if (loss < report.best_validation_loss) {
      report.best_validation_loss = loss;
      report.best_epoch = epoch + 1;
      epochs_without_improvement = 0;
      Kokkos::deep_copy(space, best_parameters, density.parameters());
    } else {
      ++epochs_without_improvement;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.progress && (epoch % options.progress_every == 0)) {
      std::ostringstream line;
      line << std::fixed << std::setprecision(4) << "epoch " << epoch + 1 << ": train " << report.train_loss.back()
           << "  val " << loss << "  (best " << report.best_validation_loss << " @ " << report.best_epoch
           << ", patience " << epochs_without_improvement << "/" << options.stop_after_epochs
           << ", lr " << std::setprecision(1) << std::scientific << adam.learning_rate() << std::fixed << ")  "
           << std::setprecision(0) << static_cast<double>(report.steps * batch) / seconds << " samples/s  "
           << std::setprecision(1) << seconds << " s\n";
      *options.progress << line.str() << std::flush;
    }
    if (epochs_without_improvement >= options.stop_after_epochs) {
      if (report.learning_rate_decays == options.learning_rate_decays) {
        report.stopped_early = true;
        break;
      }
      ++report.learning_rate_decays;
      adam.set_learning_rate(adam.learning_rate() * options.learning_rate_decay);
      Kokkos::deep_copy(space, density.parameters(), best_parameters);
      epochs_without_improvement = 0;
    }
  }
  Kokkos::deep_copy(space, density.parameters(), best_parameters);
  space.fence();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.train_samples_per_second = static_cast<double>(report.steps * batch) / report.seconds;
  return report;
}

} // namespace osbi
