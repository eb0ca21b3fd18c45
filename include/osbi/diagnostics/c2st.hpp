// SPDX-License-Identifier: BSD-3-Clause
/// \brief Classifier two-sample test (C2ST) exactly as sbibm computes it, on osbi's own NN kernels.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/optim/adam.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace osbi::diagnostics {

/*
 * C2ST as sbibm's `c2st(X, Y, seed, n_folds=5)` computes it (sbibm/metrics/c2st.py), with
 * scikit-learn's MLPClassifier(activation="relu", hidden_layer_sizes=(10·D, 10·D), max_iter=1000,
 * solver="adam") re-implemented on osbi::nn and its defaults kept:
 *   1. z-score both sets with the REFERENCE's column means and standard deviations (n − 1, as torch.std);
 *   2. label reference rows 0 and approximate rows 1, stack them (reference first);
 *   3. KFold(n_splits = folds, shuffle = True): one shuffled permutation of all rows, cut into `folds`
 *      consecutive test chunks (the first n mod folds chunks one row longer);
 *   4. per fold, a freshly initialised MLP D → h → h → 1 (h = hidden_multiplier·D, ReLU, one logistic
 *      output), sklearn's Glorot-uniform init (weights AND biases ~ U(±√(6/(fan_in + fan_out)))),
 *      trained by minibatch Adam (batch min(batch_size, n_train), reshuffled every epoch; the last
 *      batch may be short) on the binary cross-entropy + (alpha/2)·‖W‖²/n_batch (weights only, no
 *      biases), i.e. gradient = mean BCE gradient + (alpha/n_batch)·W;
 *   5. sklearn's stopping rule on the epoch training loss L_e = Σ_batches n_b·batch_loss / n_train:
 *      count += 1 if L_e > best − tol else count = 0; best = min(best, L_e); stop once count >
 *      n_iter_no_change (or after max_epochs epochs);
 *   6. held-out accuracy (predict 1 iff logit > 0, i.e. p > 0.5); the C2ST is the mean over folds.
 * Known differences from sklearn, all below the statistic's own noise: the random numbers (Philox, not
 * NumPy's MT19937), and Adam's ε enters as ε (torch form, osbi::optim::Adam) rather than ε·√(1 − β2^t)
 * (sklearn's form); ε = 1e-8 makes that immaterial. The BCE per row is capped at −log(DBL_EPSILON) as
 * sklearn's probability clipping does.
 * Errors (host, before any kernel): DimensionMismatch for different column counts; InvalidArgument for
 * options out of range, a set with fewer rows than folds, a NaN/Inf entry (message names the set, the
 * row and the column), or a reference column with zero spread (z-scoring would divide by 0).
 */
struct C2stOptions {
  std::size_t folds = 5;               ///< KFold n_splits
  std::size_t hidden_multiplier = 10;  ///< hidden width = hidden_multiplier · D (two hidden layers)
  std::size_t max_epochs = 1000;       ///< sklearn max_iter
  std::size_t batch_size = 200;        ///< sklearn batch_size "auto" = min(200, n_train)
  double learning_rate = 1e-3;         ///< learning_rate_init
  double alpha = 1e-4;                 ///< L2 penalty (sklearn's alpha)
  double tol = 1e-4;                   ///< stopping tolerance on the training loss
  std::size_t n_iter_no_change = 10;   ///< epochs without tol-improvement before stopping
  std::uint64_t seed = 1;              ///< KFold shuffle, initialisation and epoch shuffles (sbibm: seed=1)
};

/// The C2ST and what produced it.
struct C2stReport {
  double accuracy = 0.0;                     ///< mean held-out accuracy over the folds (the C2ST)
  std::vector<double> fold_accuracies;       ///< held-out accuracy of each fold
  std::vector<std::size_t> fold_epochs;      ///< epochs trained in each fold (max_epochs = not converged)
  std::vector<double> fold_final_loss;       ///< last epoch training loss of each fold
};

namespace detail {

/// sklearn's MLP initialiser: weights and biases ~ U(−b, b), b = √(6 / (fan_in + fan_out)).
struct SklearnGlorotUniform {
  static double bound(std::size_t in, std::size_t out) { return std::sqrt(6.0 / static_cast<double>(in + out)); }

  template <class Scalar, class ExecutionSpace>
  static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
                   const Vector<Scalar, ExecutionSpace>& bias) {
    nn::init::detail::require_fan_in(weight.extent(1), "osbi::diagnostics::SklearnGlorotUniform");
    const double b = bound(weight.extent(1), weight.extent(0));
    nn::init::detail::fill_rows(space, "osbi::diagnostics::SklearnGlorotUniform::fill", rng, weight, bias,
                                nn::init::detail::UniformDraw{b}, nn::init::detail::UniformDraw{b});
  }
};

/// Host-side uniform index in [0, bound) from a Philox row (bias ≤ bound / 2^64).
inline std::size_t uniform_index(RowRandom& generator, std::size_t bound) {
  return static_cast<std::size_t>(generator.next_u64() % static_cast<std::uint64_t>(bound));
}

/// Fisher–Yates shuffle of `values` with one Philox row.
inline void shuffle(std::vector<std::size_t>& values, RowRandom generator) {
  for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[uniform_index(generator, i)]);
}

/*
 * The classifier: three DenseLayers bound to one flat parameter buffer [first | second | output], each
 * [W (out × in) | b (out)]. weight_mask marks the W entries (1) against the biases (0): the L2 penalty
 * and its gradient apply to weights only, as in sklearn.
 */
template <class Scalar, class ExecutionSpace>
class MlpClassifier {
  using Hidden = nn::DenseLayer<Scalar, ExecutionSpace, SklearnGlorotUniform, nn::activation::ReLU>;
  using Output = nn::DenseLayer<Scalar, ExecutionSpace, SklearnGlorotUniform, nn::activation::Identity>;

public:
  MlpClassifier(std::size_t input_dim, std::size_t hidden)
      : m_first(input_dim, hidden), m_second(hidden, hidden), m_output(hidden, 1),
        m_parameters("osbi::diagnostics::c2st::parameters", parameter_count()),
        m_gradients("osbi::diagnostics::c2st::gradients", parameter_count()),
        m_weight_mask("osbi::diagnostics::c2st::weight_mask", parameter_count()),
        m_first_out("osbi::diagnostics::c2st::hidden1", hidden), m_second_out("osbi::diagnostics::c2st::hidden2", hidden),
        m_grad_first("osbi::diagnostics::c2st::grad_hidden1", hidden),
        m_grad_second("osbi::diagnostics::c2st::grad_hidden2", hidden),
        m_grad_logits("osbi::diagnostics::c2st::grad_logits", 1) {
    std::size_t offset = 0;
    const auto host_mask = Kokkos::create_mirror_view(m_weight_mask);
    const auto bind_one = [&](auto& layer) {
      const std::size_t count = layer.parameter_count();
      const std::size_t weights = layer.input_dim() * layer.output_dim();
      const auto slice = std::make_pair(offset, offset + count);
      layer.bind(Kokkos::subview(m_parameters, slice), Kokkos::subview(m_gradients, slice));
      for (std::size_t i = 0; i < count; ++i) host_mask(offset + i) = i < weights ? Scalar(1) : Scalar(0);
      offset += count;
    };
    bind_one(m_first);
    bind_one(m_second);
    bind_one(m_output);
    Kokkos::deep_copy(m_weight_mask, host_mask);
  }

  std::size_t parameter_count() const {
    return m_first.parameter_count() + m_second.parameter_count() + m_output.parameter_count();
  }

  Vector<Scalar, ExecutionSpace> parameters() const { return m_parameters; }
  Vector<Scalar, ExecutionSpace> gradients() const { return m_gradients; }
  ConstVector<Scalar, ExecutionSpace> weight_mask() const { return m_weight_mask; }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    m_first.initialize(space, rng.split(0));
    m_second.initialize(space, rng.split(1));
    m_output.initialize(space, rng.split(2));
  }

  /// Logits (rows × 1), valid until the next forward.
  ConstMatrix<Scalar, ExecutionSpace> forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x) {
    const std::size_t rows = x.extent(0);
    const Matrix<Scalar, ExecutionSpace> h1 = m_first_out.rows(rows);
    const Matrix<Scalar, ExecutionSpace> h2 = m_second_out.rows(rows);
    if (m_logits_storage.extent(0) < rows)
      m_logits_storage = Matrix<Scalar, ExecutionSpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::logits"), rows, 1);
    const Matrix<Scalar, ExecutionSpace> logits =
        Kokkos::subview(m_logits_storage, std::make_pair(std::size_t{0}, rows), Kokkos::ALL);
    m_first.forward(space, x, h1);
    m_second.forward(space, h1, h2);
    m_output.forward(space, h2, logits);
    return logits;
  }

  /// The gradient buffer for d loss / d logits of the last forward's rows.
  Matrix<Scalar, ExecutionSpace> grad_logits(std::size_t rows) { return m_grad_logits.rows(rows); }

  /// Accumulates parameter gradients (the gradient buffer is NOT zeroed here).
  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_logits) {
    const std::size_t rows = grad_logits.extent(0);
    const Matrix<Scalar, ExecutionSpace> g2 = m_grad_second.rows(rows);
    const Matrix<Scalar, ExecutionSpace> g1 = m_grad_first.rows(rows);
    m_output.backward(space, grad_logits, g2);
    m_second.backward(space, g2, g1);
    m_first.backward(space, g1, Matrix<Scalar, ExecutionSpace>());
  }

private:
  Hidden m_first, m_second;
  Output m_output;
  Vector<Scalar, ExecutionSpace> m_parameters, m_gradients, m_weight_mask;
  nn::detail::BatchBuffer<Scalar, ExecutionSpace> m_first_out, m_second_out, m_grad_first, m_grad_second, m_grad_logits;
  Matrix<Scalar, ExecutionSpace> m_logits_storage;
};

inline void check_options(const C2stOptions& options) {
  constexpr const char* part = "osbi::diagnostics::c2st";
  require(options.folds >= 2, part, "folds = ", options.folds, " must be >= 2");
  require(options.hidden_multiplier >= 1, part, "hidden_multiplier = ", options.hidden_multiplier, " must be >= 1");
  require(options.max_epochs >= 1, part, "max_epochs = ", options.max_epochs, " must be >= 1");
  require(options.batch_size >= 1, part, "batch_size = ", options.batch_size, " must be >= 1");
  require(std::isfinite(options.learning_rate) && options.learning_rate > 0.0, part,
          "learning_rate = ", options.learning_rate, " must be finite and > 0");
  require(std::isfinite(options.alpha) && options.alpha >= 0.0, part, "alpha = ", options.alpha,
          " must be finite and >= 0");
  require(std::isfinite(options.tol) && options.tol >= 0.0, part, "tol = ", options.tol, " must be finite and >= 0");
}

inline void check_samples(const Eigen::MatrixXd& samples, const char* name, std::size_t folds) {
  constexpr const char* part = "osbi::diagnostics::c2st";
  require(static_cast<std::size_t>(samples.rows()) >= folds, part, "the ", name, " set has ", samples.rows(),
          " rows, fewer than folds = ", folds, " (every fold needs held-out rows)");
  for (Eigen::Index i = 0; i < samples.rows(); ++i)
    for (Eigen::Index j = 0; j < samples.cols(); ++j)
      require(std::isfinite(samples(i, j)), part, "the ", name, " set has a non-finite value (", samples(i, j),
              ") in row ", i, ", column ", j, " (rows and columns counted from 0)");
}

} // namespace detail

/// C2ST with per-fold details (see the spec comment above). Scalar is the training precision:
/// float by default, as in sbibm (its samples are float32 tensors, and scikit-learn's MLP keeps
/// float32 input in float32); osbi's GEMM is also ~9× faster in float than in double on a CPU core.
/// The z-scoring is done in double on the host, then rounded to Scalar once.
template <std::floating_point Scalar = float, class ExecutionSpace = DefaultExecutionSpace>
C2stReport c2st_report(const Eigen::MatrixXd& reference, const Eigen::MatrixXd& approximate,
                       const C2stOptions& options = {}) {
  constexpr const char* part = "osbi::diagnostics::c2st";
  detail::check_options(options);
  if (reference.cols() != approximate.cols())
    throw DimensionMismatch(part, osbi::detail::concat("reference has ", reference.cols(), " columns, approximate has ",
                                                       approximate.cols(), ": both must have the same dimension"));
  require(reference.cols() >= 1, part, "the samples have 0 columns");
  detail::check_samples(reference, "reference", options.folds);
  detail::check_samples(approximate, "approximate", options.folds);

  const std::size_t dim = static_cast<std::size_t>(reference.cols());
  const std::size_t n_reference = static_cast<std::size_t>(reference.rows());
  const std::size_t n_total = n_reference + static_cast<std::size_t>(approximate.rows());

  // 1. z-score with the reference's statistics (unbiased std, as torch.std).
  const Eigen::RowVectorXd mean = reference.colwise().mean();
  const Eigen::RowVectorXd std_dev =
      ((reference.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(n_reference - 1)).sqrt();
  for (std::size_t j = 0; j < dim; ++j)
    require(std_dev(static_cast<Eigen::Index>(j)) > 0.0 && std::isfinite(std_dev(static_cast<Eigen::Index>(j))), part,
            "reference column ", j, " has standard deviation ", std_dev(static_cast<Eigen::Index>(j)),
            ": z-scoring divides by it");
  // 2. Stack (reference first, label 0), in double on the host.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> data(n_total, dim);
  data.topRows(reference.rows()) = (reference.rowwise() - mean).array().rowwise() / std_dev.array();
  data.bottomRows(approximate.rows()) = (approximate.rowwise() - mean).array().rowwise() / std_dev.array();

  // 3. KFold(shuffle=True).
  std::vector<std::size_t> order(n_total);
  std::iota(order.begin(), order.end(), std::size_t{0});
  detail::shuffle(order, RandomStream(options.seed, streams::c2st_shuffle).next().row(0));

  const ExecutionSpace space{};
  const std::size_t hidden = options.hidden_multiplier * dim;
  const Scalar alpha = static_cast<Scalar>(options.alpha);
  // sklearn's binary_log_loss clips p to [eps, 1 − eps]: a row's loss never exceeds −log(eps).
  const double loss_cap = -std::log(std::numeric_limits<double>::epsilon());

  C2stReport report;
  std::size_t test_begin = 0;
  for (std::size_t fold = 0; fold < options.folds; ++fold) {
    const std::size_t test_size = n_total / options.folds + (fold < n_total % options.folds ? 1 : 0);
    const std::size_t test_end = test_begin + test_size;
    const std::size_t n_train = n_total - test_size;
    std::vector<bool> is_test(n_total, false);
    for (std::size_t k = test_begin; k < test_end; ++k) is_test[order[k]] = true;

    // Training rows in their original order (as KFold hands them out), test rows likewise.
    Matrix<Scalar, ExecutionSpace> x_train(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::x_train"), n_train, dim);
    Vector<Scalar, ExecutionSpace> y_train(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::y_train"), n_train);
    Matrix<Scalar, ExecutionSpace> x_test(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::x_test"), test_size, dim);
    Vector<Scalar, ExecutionSpace> y_test(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::y_test"), test_size);
    {
      const auto hx_train = Kokkos::create_mirror_view(x_train);
      const auto hy_train = Kokkos::create_mirror_view(y_train);
      const auto hx_test = Kokkos::create_mirror_view(x_test);
      const auto hy_test = Kokkos::create_mirror_view(y_test);
      std::size_t a = 0, b = 0;
      for (std::size_t i = 0; i < n_total; ++i) {
        const Scalar label_value = i < n_reference ? Scalar(0) : Scalar(1);
        if (is_test[i]) {
          for (std::size_t j = 0; j < dim; ++j) hx_test(b, j) = static_cast<Scalar>(data(i, j));
          hy_test(b++) = label_value;
        } else {
          for (std::size_t j = 0; j < dim; ++j) hx_train(a, j) = static_cast<Scalar>(data(i, j));
          hy_train(a++) = label_value;
        }
      }
      Kokkos::deep_copy(x_train, hx_train);
      Kokkos::deep_copy(y_train, hy_train);
      Kokkos::deep_copy(x_test, hx_test);
      Kokkos::deep_copy(y_test, hy_test);
    }

    // 4. A fresh classifier and optimizer per fold; the L2 term is added to the gradient by hand
    // (weights only), so Adam itself runs without weight decay.
    RandomStream stream(options.seed, streams::c2st_first_fold + fold);
    detail::MlpClassifier<Scalar, ExecutionSpace> model(dim, hidden);
    model.initialize(space, stream.next());
    optim::AdamOptions<optim::L2WeightDecay> adam_options;
    adam_options.learning_rate = options.learning_rate;
    adam_options.weight_decay = 0.0;
    optim::Adam<Scalar, ExecutionSpace, optim::L2WeightDecay> adam(model.parameter_count(), adam_options);

    const std::size_t batch_size = std::min(options.batch_size, n_train);
    std::vector<std::size_t> epoch_order(n_train);
    std::iota(epoch_order.begin(), epoch_order.end(), std::size_t{0});
    Kokkos::View<std::size_t*, typename ExecutionSpace::memory_space> order_view("osbi::diagnostics::c2st::epoch_order", n_train);
    const auto order_host = Kokkos::create_mirror_view(order_view);
    Matrix<Scalar, ExecutionSpace> x_epoch(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::x_epoch"), n_train, dim);
    Vector<Scalar, ExecutionSpace> y_epoch(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::c2st::y_epoch"), n_train);
    const Vector<Scalar, ExecutionSpace> theta = model.parameters();
    const Vector<Scalar, ExecutionSpace> grad = model.gradients();
    const ConstVector<Scalar, ExecutionSpace> mask = model.weight_mask();
    const std::size_t n_parameters = model.parameter_count();

    double best_loss = std::numeric_limits<double>::infinity();
    double epoch_loss = 0.0;
    std::size_t no_improvement = 0, epochs = 0;
    for (std::size_t epoch = 0; epoch < options.max_epochs; ++epoch) {
      detail::shuffle(epoch_order, stream.next().row(0));
      for (std::size_t i = 0; i < n_train; ++i) order_host(i) = epoch_order[i];
      Kokkos::deep_copy(space, order_view, order_host);
      {
        const auto source_x = x_train;
        const auto source_y = y_train;
        const auto target_x = x_epoch;
        const auto target_y = y_epoch;
        const auto permutation = order_view;
        Kokkos::parallel_for(
            "osbi::diagnostics::c2st::shuffle", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n_train),
            KOKKOS_LAMBDA(const std::size_t i) {
              const std::size_t source = permutation(i);
              for (std::size_t j = 0; j < dim; ++j) target_x(i, j) = source_x(source, j);
              target_y(i) = source_y(source);
            });
      }
      double accumulated = 0.0;
      for (std::size_t begin = 0; begin < n_train; begin += batch_size) {
        const std::size_t rows = std::min(batch_size, n_train - begin);
        const auto range = std::make_pair(begin, begin + rows);
        const ConstMatrix<Scalar, ExecutionSpace> x_batch = Kokkos::subview(x_epoch, range, Kokkos::ALL);
        const ConstVector<Scalar, ExecutionSpace> y_batch = Kokkos::subview(y_epoch, range);
        const ConstMatrix<Scalar, ExecutionSpace> logits = model.forward(space, x_batch);
        const Matrix<Scalar, ExecutionSpace> grad_logits = model.grad_logits(rows);
        // One fused pass: rows [0, rows) give the BCE and d loss/d logit = (σ(z) − y)/rows; entries
        // [rows, rows + P) reset the gradient buffer to the L2 gradient (alpha/rows)·W and add
        // (alpha/2)·‖W‖² (the batch loss's penalty times rows). Backward then accumulates on top.
        const Scalar inverse_rows = Scalar(1) / static_cast<Scalar>(rows);
        const Scalar decay = alpha * inverse_rows;
        const double half_alpha = 0.5 * options.alpha;
        double batch_sum = 0.0;
        Kokkos::parallel_reduce(
            "osbi::diagnostics::c2st::loss", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows + n_parameters),
            KOKKOS_LAMBDA(const std::size_t i, double& sum) {
              if (i < rows) {
                const Scalar z = logits(i, 0);
                const Scalar y = y_batch(i);
                // σ(z) and softplus(z) − y·z without overflow.
                const Scalar e = math::exp(-math::fabs(z));
                const Scalar p = z >= Scalar(0) ? Scalar(1) / (Scalar(1) + e) : e / (Scalar(1) + e);
                grad_logits(i, 0) = (p - y) * inverse_rows;
                const double bce = static_cast<double>(math::fmax(z, Scalar(0)) - y * z + math::log1p(e));
                sum += bce < loss_cap ? bce : loss_cap;
              } else {
                const std::size_t k = i - rows;
                const Scalar w = theta(k) * mask(k);
                grad(k) = decay * w;
                sum += half_alpha * static_cast<double>(w) * static_cast<double>(w);
              }
            },
            batch_sum);
        accumulated += batch_sum;
        model.backward(space, grad_logits);
        adam.step(space, theta, grad);
      }
      ++epochs;
      // 5. sklearn's stopping rule on the training loss.
      epoch_loss = accumulated / static_cast<double>(n_train);
      if (epoch_loss > best_loss - options.tol)
        ++no_improvement;
      else
        no_improvement = 0;
      if (epoch_loss < best_loss) best_loss = epoch_loss;
      if (no_improvement > options.n_iter_no_change) break;
    }

    // 6. Held-out accuracy.
    const ConstMatrix<Scalar, ExecutionSpace> logits = model.forward(space, x_test);
    const ConstVector<Scalar, ExecutionSpace> labels = y_test;
    std::size_t correct = 0;
    Kokkos::parallel_reduce(
        "osbi::diagnostics::c2st::accuracy", Kokkos::RangePolicy<ExecutionSpace>(space, 0, test_size),
        KOKKOS_LAMBDA(const std::size_t i, std::size_t& count) {
          const Scalar predicted = logits(i, 0) > Scalar(0) ? Scalar(1) : Scalar(0);
          if (predicted == labels(i)) ++count;
        },
        correct);
    report.fold_accuracies.push_back(static_cast<double>(correct) / static_cast<double>(test_size));
    report.fold_epochs.push_back(epochs);
    report.fold_final_loss.push_back(epoch_loss);
    test_begin = test_end;
  }
  report.accuracy = std::accumulate(report.fold_accuracies.begin(), report.fold_accuracies.end(), 0.0) /
                    static_cast<double>(options.folds);
  return report;
}

/// The C2ST (mean held-out accuracy over the folds): 0.5 = indistinguishable, 1 = separable.
/// Rows are samples, columns dimensions; `reference` gets label 0 and sets the z-scoring.
template <std::floating_point Scalar = float, class ExecutionSpace = DefaultExecutionSpace>
double c2st(const Eigen::MatrixXd& reference, const Eigen::MatrixXd& approximate, const C2stOptions& options = {}) {
  return c2st_report<Scalar, ExecutionSpace>(reference, approximate, options).accuracy;
}

} // namespace osbi::diagnostics
