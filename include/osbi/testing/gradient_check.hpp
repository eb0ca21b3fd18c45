// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_gradients and check_density_gradients: the finite-difference checkers of every Layer's backward
/// (inputs and parameters) and of every ConditionalDensity's weighted nll_backward (parameters, θ and x).
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/network.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace osbi::testing {

/*
 * check_gradients — runs a Layer<double, E> (or a Network) on a given input and checks its backward
 * pass against central finite differences of the scalar
 *     L(x, θ) = Σ_{r,c} w(r, c) · y(r, c),   y = forward(x; θ),  w ~ N(0, 1) drawn from options.seed,
 * i.e. backward is called with grad_output = w. For every input entry and every parameter j:
 *     numeric_j = (L(θ_j + h_j) − L(θ_j − h_j)) / (2 h_j),  h_j = step · max(1, |θ_j|)
 *     error_j   = |analytic_j − numeric_j| / max(|analytic_j|, |numeric_j|, error_floor)
 * and error_j <= tolerance must hold. With the defaults (h = 1e-5, tolerance 1e-5, floor 1e-3) the
 * truncation error h²·L'''/6 and the rounding error ~1e-16·|L|/h stay two orders of magnitude below the
 * tolerance for O(1) layers, while any real mistake (a missing term, a transposed product) shows
 * as an error of order 1.
 * Non-smooth points (ReLU, ELU at 0): when the central check fails but the one-sided slopes
 * s₋ = (L₀ − L₋)/h and s₊ = (L₊ − L₀)/h differ measurably and the analytic value lies between them
 * (a one-sided derivative or subgradient), the entry counts as a kink, not a failure.
 * The contract of layer.hpp is checked too:
 *   - forward fills a NaN-prefilled output with finite values, and twice gives the same output;
 *   - backward OVERWRITES a NaN-prefilled grad_input, ACCUMULATES parameter gradients (a second call
 *     doubles them), skips the input gradient when grad_input is empty (a third call triples them);
 *   - backward leaves grad_output and the parameters unchanged.
 * The report lists each failure and the worst errors; the checker restores inputs and parameters.
 */
struct GradientCheckOptions {
  double step = 1e-5;
  double tolerance = 1e-5;
  double error_floor = 1e-3;
  /// Seeds w (and the parameters, when the checker binds the layer itself).
  std::uint64_t seed = 20261126;
  bool check_inputs = true;
  bool check_parameters = true;
};

struct GradientCheckReport : ConformanceReport {
  double worst_input_error = 0.0;
  std::size_t worst_input_index = 0; ///< flat row-major index into the input
  double worst_parameter_error = 0.0;
  std::size_t worst_parameter_index = 0; ///< index into the flat parameter buffer
  std::size_t inputs_checked = 0;
  std::size_t parameters_checked = 0;
  std::size_t kinks = 0; ///< entries accepted as non-smooth points

  /// ConformanceReport's summary plus the worst errors.
  std::string summary() const {
    return ConformanceReport::summary() +
           osbi::detail::concat("\n  worst input error ", worst_input_error, " at ", worst_input_index, " of ",
                                inputs_checked, "; worst parameter error ", worst_parameter_error, " at ",
                                worst_parameter_index, " of ", parameters_checked, "; kinks ", kinks);
  }
};

namespace gradient_check_detail {

template <class ExecutionSpace>
using HostMatrix = typename Matrix<double, ExecutionSpace>::HostMirror;
template <class ExecutionSpace>
using HostVector = typename Vector<double, ExecutionSpace>::HostMirror;

inline bool all_finite(const double* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i])) return false;
  return true;
}

/// Max over entries of |a − b| / max(1, |b|): 0 for identical buffers.
inline double max_difference(const double* a, const double* b, std::size_t count, double factor = 1.0) {
  double worst = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const double expected = factor * b[i];
    const double difference = std::abs(a[i] - expected) / std::max(1.0, std::abs(expected));
    if (!(difference <= worst)) worst = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
  }
  return worst;
}

/// A Network seen as forward-into-a-matrix (its own forward returns a view of its buffer).
template <class Net>
struct NetworkAdaptor {
  using ExecutionSpace = typename Net::execution_space;
  Net& network;
  std::size_t input_dim() const { return network.input_dim(); }
  std::size_t output_dim() const { return network.output_dim(); }
  void forward(const ExecutionSpace& space, const ConstMatrix<double, ExecutionSpace>& input,
               const Matrix<double, ExecutionSpace>& output) {
    Kokkos::deep_copy(space, output, network.forward(space, input));
  }
  void backward(const ExecutionSpace& space, const ConstMatrix<double, ExecutionSpace>& grad_output,
                const Matrix<double, ExecutionSpace>& grad_input) {
    network.backward(space, grad_output, grad_input);
  }
};

template <class ExecutionSpace, class Model>
GradientCheckReport run(const ExecutionSpace& space, Model& model, const ConstMatrix<double, ExecutionSpace>& input,
                        const Vector<double, ExecutionSpace>& parameters,
                        const Vector<double, ExecutionSpace>& gradients, const GradientCheckOptions& options) {
  GradientCheckReport report;
  const std::size_t batch = input.extent(0), in = model.input_dim(), out = model.output_dim();
  const std::size_t count = parameters.extent(0);
  if (input.extent(1) != in) {
    report.fail(osbi::detail::concat("the input has ", input.extent(1), " columns, the layer's input_dim is ", in));
    return report;
  }
  if (gradients.extent(0) != count) {
    report.fail(osbi::detail::concat("the gradient buffer has ", gradients.extent(0), " entries, the parameter buffer ",
                                     count));
    return report;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();

  // A private copy of the input, so the finite differences can perturb it.
  Matrix<double, ExecutionSpace> x("osbi::testing::check_gradients::input", batch, in);
  Kokkos::deep_copy(space, x, input);
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  Matrix<double, ExecutionSpace> y("osbi::testing::check_gradients::output", batch, out);
  auto y_host = Kokkos::create_mirror_view(y);

  // Forward: finite, deterministic.
  Kokkos::deep_copy(space, y, nan);
  model.forward(space, x, y);
  space.fence();
  Kokkos::deep_copy(y_host, y);
  std::vector<double> y_first(y_host.data(), y_host.data() + batch * out);
  if (!all_finite(y_first.data(), y_first.size()))
    report.fail("forward left non-finite values in a NaN-prefilled output (an entry not written?)");
  Kokkos::deep_copy(space, y, nan);
  model.forward(space, x, y);
  space.fence();
  Kokkos::deep_copy(y_host, y);
  if (max_difference(y_host.data(), y_first.data(), y_first.size()) != 0.0)
    report.fail("forward is not deterministic: a second call on the same input gave a different output");
  if (!report.passed()) return report;

  // w: the upstream gradient.
  Matrix<double, ExecutionSpace> w("osbi::testing::check_gradients::grad_output", batch, out);
  auto w_host = Kokkos::create_mirror_view(w);
  {
    const BatchRandom rng = RandomStream(options.seed, streams::testing_loss).next();
    for (std::size_t r = 0; r < batch; ++r) {
      RowRandom generator = rng.row(r);
      for (std::size_t c = 0; c < out; ++c)
        w_host(r, c) = generator.normal();
    }
  }
  Kokkos::deep_copy(w, w_host);
  const std::vector<double> w_copy(w_host.data(), w_host.data() + batch * out);
  auto parameters_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  const std::vector<double> parameters_copy(parameters_host.data(), parameters_host.data() + count);
  auto objective = [&]() {
    Kokkos::deep_copy(space, y, nan);
    model.forward(space, x, y);
    space.fence();
    Kokkos::deep_copy(y_host, y);
    double total = 0.0;
    for (std::size_t i = 0; i < batch * out; ++i)
      total += w_copy[i] * y_host.data()[i];
    return total;
  };

  // Backward, three times: overwrite, accumulate, skip.
  Matrix<double, ExecutionSpace> grad_x("osbi::testing::check_gradients::grad_input", batch, in);
  auto grad_x_host = Kokkos::create_mirror_view(grad_x);
  auto gradients_host = Kokkos::create_mirror_view(gradients);
  Kokkos::deep_copy(space, gradients, 0.0);
  Kokkos::deep_copy(space, grad_x, nan);
  model.backward(space, w, grad_x);
  space.fence();
  Kokkos::deep_copy(grad_x_host, grad_x);
  Kokkos::deep_copy(gradients_host, gradients);
  const std::vector<double> analytic_input(grad_x_host.data(), grad_x_host.data() + batch * in);
  const std::vector<double> analytic_parameters(gradients_host.data(), gradients_host.data() + count);
  if (!all_finite(analytic_input.data(), analytic_input.size()))
    report.fail("backward left non-finite values in a NaN-prefilled grad_input (not overwritten?)");
  if (!all_finite(analytic_parameters.data(), analytic_parameters.size()))
    report.fail("backward produced non-finite parameter gradients");

  Kokkos::deep_copy(space, grad_x, nan);
  model.backward(space, w, grad_x);
  space.fence();
  Kokkos::deep_copy(grad_x_host, grad_x);
  Kokkos::deep_copy(gradients_host, gradients);
  if (const double d = max_difference(grad_x_host.data(), analytic_input.data(), analytic_input.size()); d > 1e-12)
    report.fail(osbi::detail::concat("a second backward wrote a different grad_input (difference ", d, ")"));
  if (const double d = max_difference(gradients_host.data(), analytic_parameters.data(), count, 2.0); d > 1e-12)
    report.fail(
        osbi::detail::concat("parameter gradients do not accumulate: after two backward calls they are not twice "
                             "those of one (difference ",
                             d, ")"));

  model.backward(space, w, Matrix<double, ExecutionSpace>());
  space.fence();
  Kokkos::deep_copy(gradients_host, gradients);
  if (const double d = max_difference(gradients_host.data(), analytic_parameters.data(), count, 3.0); d > 1e-12)
    report.fail(
        osbi::detail::concat("backward with an empty grad_input did not accumulate the parameter gradients a third "
                             "time (difference ",
                             d, ")"));

  Kokkos::deep_copy(w_host, w);
  if (max_difference(w_host.data(), w_copy.data(), w_copy.size()) != 0.0) report.fail("backward modified grad_output");
  Kokkos::deep_copy(parameters_host, parameters);
  if (max_difference(parameters_host.data(), parameters_copy.data(), count) != 0.0)
    report.fail("forward or backward modified the parameters");
  Kokkos::deep_copy(parameters_host, parameters);

  const double base = objective();
  // Compares one entry; `set(value)` installs a perturbed value and re-runs nothing itself.
  auto compare = [&](double analytic, double original, auto&& set, double& worst, std::size_t& worst_index,
                     std::size_t index, const char* what) {
    const double h = options.step * std::max(1.0, std::abs(original));
    set(original + h);
    const double plus = objective();
    set(original - h);
    const double minus = objective();
    set(original);
    const double numeric = (plus - minus) / (2.0 * h);
    const double scale = std::max({std::abs(analytic), std::abs(numeric), options.error_floor});
    const double error = std::abs(analytic - numeric) / scale;
    if (error <= options.tolerance) {
      if (error > worst) {
        worst = error;
        worst_index = index;
      }
      return;
    }
    const double slope_minus = (base - minus) / h, slope_plus = (plus - base) / h;
    const double low = std::min(slope_minus, slope_plus), high = std::max(slope_minus, slope_plus);
    const double slack = options.tolerance * scale;
    if (high - low > slack && analytic >= low - slack && analytic <= high + slack) {
      ++report.kinks;
      return;
    }
    if (!(error <= worst)) {
      worst = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
      worst_index = index;
    }
    report.fail(osbi::detail::concat(what, " ", index, ": backward gives ", analytic, ", central differences ", numeric,
                                     " (relative error ", error, " > tolerance ", options.tolerance, ")"));
  };

  if (options.check_inputs) {
    for (std::size_t i = 0; i < batch * in; ++i) {
      const double original = x_host.data()[i];
      auto set = [&](double value) {
        x_host.data()[i] = value;
        Kokkos::deep_copy(x, x_host);
      };
      compare(analytic_input[i], original, set, report.worst_input_error, report.worst_input_index, i, "input entry");
      ++report.inputs_checked;
    }
  }
  if (options.check_parameters && batch > 0) {
    for (std::size_t j = 0; j < count; ++j) {
      const double original = parameters_copy[j];
      auto set = [&](double value) {
        parameters_host.data()[j] = value;
        Kokkos::deep_copy(parameters, parameters_host);
      };
      compare(analytic_parameters[j], original, set, report.worst_parameter_error, report.worst_parameter_index, j,
              "parameter");
      ++report.parameters_checked;
    }
  }
  // Leave the gradients as one backward pass would.
  auto restored = Kokkos::create_mirror_view(gradients);
  std::copy(analytic_parameters.begin(), analytic_parameters.end(), restored.data());
  Kokkos::deep_copy(gradients, restored);
  return report;
}

} // namespace gradient_check_detail

/// Checks a layer already bound (by the caller) to `parameters`/`gradients`, at their current values.
/// The gradient buffer is overwritten.
template <nn::Layer L>
requires std::same_as<typename L::scalar_type, double> GradientCheckReport check_gradients(
    const typename L::execution_space& space, L& layer, const Vector<double, typename L::execution_space>& parameters,
    const Vector<double, typename L::execution_space>& gradients,
    const ConstMatrix<double, typename L::execution_space>& input, const GradientCheckOptions& options = {}) {
  if (parameters.extent(0) != layer.parameter_count()) {
    GradientCheckReport report;
    report.fail(osbi::detail::concat("the parameter buffer has ", parameters.extent(0),
                                     " entries, parameter_count() is ", layer.parameter_count()));
    return report;
  }
  return gradient_check_detail::run(space, layer, input, parameters, gradients, options);
}

/// Binds the layer to fresh buffers, initializes it from options.seed (RandomStream(seed, 1).next())
/// and checks it. The layer stays bound to those buffers (they live as long as the layer holds them).
template <nn::Layer L>
requires std::same_as<typename L::scalar_type, double>
    GradientCheckReport check_gradients(const typename L::execution_space& space, L& layer,
                                        const ConstMatrix<double, typename L::execution_space>& input,
                                        const GradientCheckOptions& options = {}) {
  using ExecutionSpace = typename L::execution_space;
  Vector<double, ExecutionSpace> parameters("osbi::testing::check_gradients::parameters", layer.parameter_count());
  Vector<double, ExecutionSpace> gradients("osbi::testing::check_gradients::gradients", layer.parameter_count());
  layer.bind(parameters, gradients);
  layer.initialize(space, RandomStream(options.seed, streams::testing_layer_init).next());
  return gradient_check_detail::run(space, layer, input, parameters, gradients, options);
}

/// Checks a whole Network at its current parameters (its gradients() are overwritten).
template <class Spec, class ExecutionSpace>
GradientCheckReport check_gradients(const ExecutionSpace& space, nn::Network<Spec, double, ExecutionSpace>& network,
                                    const ConstMatrix<double, ExecutionSpace>& input,
                                    const GradientCheckOptions& options = {}) {
  gradient_check_detail::NetworkAdaptor<nn::Network<Spec, double, ExecutionSpace>> adaptor{network};
  return gradient_check_detail::run(space, adaptor, input, network.parameters(), network.gradients(), options);
}

/*
 * check_density_gradients — the same for a ConditionalDensity<double, E> (estimator/conditional_density.hpp): its
 * nll_backward(space, θ, x, weights, grad_theta, grad_x) against central finite differences of
 *     L(ψ, θ, x) = (1/N) Σ_i w_i · (−log q(θ_i | x_i)),   log q from log_prob,  w_i = 1 when weights is empty,
 * for every parameter ψ_j, every entry of θ and every entry of x (each switchable), with the error measure of
 * check_gradients (h_j = step·max(1, |v_j|), relative error against max(|analytic|, |numeric|, error_floor)).
 * A density's log q is smooth where it is checked, so no kink is accepted. The contract is checked too:
 *   - the returned loss is L (relative difference <= 1e-12);
 *   - grad_theta and grad_x are OVERWRITTEN (NaN-prefilled, then finite, and the same on a second call);
 *   - parameter gradients ACCUMULATE (a second call doubles them) and do not depend on whether grad_theta and
 *     grad_x are asked for (a third call without them triples them);
 *   - unit weights give the loss, the parameter gradients and the θ and x gradients of empty weights bit for bit.
 * The report lists each failure and the worst errors; parameters are restored, and gradients() is left as one
 * nll_backward from zero would leave it.
 */
struct DensityGradientCheckOptions {
  double step = 1e-5;
  double tolerance = 1e-5;
  double error_floor = 1e-3;
  bool check_parameters = true;
  bool check_theta = true;
  bool check_x = true;
};

struct DensityGradientCheckReport : ConformanceReport {
  double loss = 0.0; ///< what nll_backward returned
  double worst_parameter_error = 0.0;
  std::size_t worst_parameter_index = 0; ///< index into the flat parameter buffer
  double worst_theta_error = 0.0;
  std::size_t worst_theta_index = 0; ///< flat row-major index into θ
  double worst_x_error = 0.0;
  std::size_t worst_x_index = 0; ///< flat row-major index into x
  std::size_t parameters_checked = 0;
  std::size_t theta_checked = 0;
  std::size_t x_checked = 0;

  /// ConformanceReport's summary plus the worst errors.
  std::string summary() const {
    return ConformanceReport::summary() +
           osbi::detail::concat("\n  loss ", loss, "; worst parameter error ", worst_parameter_error, " at ",
                                worst_parameter_index, " of ", parameters_checked, "; worst θ error ", worst_theta_error,
                                " at ", worst_theta_index, " of ", theta_checked, "; worst x error ", worst_x_error,
                                " at ", worst_x_index, " of ", x_checked);
  }
};

namespace gradient_check_detail {

/// True when the two buffers hold the same bits.
inline bool bit_identical(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

template <class View>
std::vector<double> to_host_vector(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

} // namespace gradient_check_detail

/// Checks density.nll_backward at the density's current parameters on the batch (θ, x) with the given weights
/// (an empty view: w_i = 1). The density's gradients() are overwritten.
template <ConditionalDensity Density>
requires std::same_as<typename Density::scalar_type, double> DensityGradientCheckReport
check_density_gradients(const typename Density::execution_space& space, Density& density,
                        const ConstMatrix<double, typename Density::execution_space>& theta,
                        const ConstMatrix<double, typename Density::execution_space>& x,
                        const ConstVector<double, typename Density::execution_space>& weights = {},
                        const DensityGradientCheckOptions& options = {}) {
  using ExecutionSpace = typename Density::execution_space;
  using gradient_check_detail::bit_identical;
  using gradient_check_detail::max_difference;
  using gradient_check_detail::to_host_vector;
  DensityGradientCheckReport report;
  const std::size_t batch = theta.extent(0), d = density.theta_dim(), c = density.context_dim();
  if (theta.extent(1) != d || x.extent(1) != c || x.extent(0) != batch || batch == 0) {
    report.fail(osbi::detail::concat("the batch is θ ", theta.extent(0), " × ", theta.extent(1), ", x ", x.extent(0),
                                     " × ", x.extent(1), "; the density needs N × ", d, " and N × ", c, " with N > 0"));
    return report;
  }
  const bool weighted = weights.data() != nullptr;
  if (weighted && weights.extent(0) != batch) {
    report.fail(osbi::detail::concat("weights has ", weights.extent(0), " entries, the batch ", batch, " rows"));
    return report;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto parameters = density.parameters();
  const auto gradients = density.gradients();
  const std::size_t count = parameters.extent(0);
  const std::vector<double> w = weighted ? to_host_vector(weights) : std::vector<double>(batch, 1.0);

  // Private copies of θ and x, so the finite differences can perturb them.
  Matrix<double, ExecutionSpace> t("osbi::testing::check_density_gradients::theta", batch, d);
  Matrix<double, ExecutionSpace> context("osbi::testing::check_density_gradients::x", batch, c);
  Kokkos::deep_copy(space, t, theta);
  Kokkos::deep_copy(space, context, x);
  auto t_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), t);
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), context);
  Vector<double, ExecutionSpace> out("osbi::testing::check_density_gradients::log_prob", batch);
  auto out_host = Kokkos::create_mirror_view(out);
  auto objective = [&]() {
    density.log_prob(space, t, context, out);
    space.fence();
    Kokkos::deep_copy(out_host, out);
    double sum = 0.0;
    for (std::size_t i = 0; i < batch; ++i)
      sum -= w[i] * out_host(i);
    return sum / static_cast<double>(batch);
  };

  // Three backward passes: with input gradients (twice: overwrite, accumulate), then without (skip).
  Matrix<double, ExecutionSpace> grad_theta("osbi::testing::check_density_gradients::grad_theta", batch, d);
  Matrix<double, ExecutionSpace> grad_x("osbi::testing::check_density_gradients::grad_x", batch, c);
  auto backward = [&](const ConstVector<double, ExecutionSpace>& row_weights, bool inputs) {
    if (inputs) {
      Kokkos::deep_copy(space, grad_theta, nan);
      Kokkos::deep_copy(space, grad_x, nan);
    }
    const double loss =
        inputs ? density.nll_backward(space, t, context, row_weights, grad_theta, grad_x)
               : density.nll_backward(space, t, context, row_weights, Matrix<double, ExecutionSpace>(),
                                      Matrix<double, ExecutionSpace>());
    space.fence();
    return loss;
  };
  const std::vector<double> parameters_copy = to_host_vector(parameters);
  density.zero_gradients(space);
  report.loss = backward(weights, true);
  const std::vector<double> analytic_parameters = to_host_vector(gradients);
  const std::vector<double> analytic_theta = to_host_vector(grad_theta), analytic_x = to_host_vector(grad_x);
  if (!gradient_check_detail::all_finite(analytic_theta.data(), analytic_theta.size()) ||
      !gradient_check_detail::all_finite(analytic_x.data(), analytic_x.size()))
    report.fail("nll_backward left non-finite values in a NaN-prefilled grad_theta or grad_x (not overwritten?)");
  if (!gradient_check_detail::all_finite(analytic_parameters.data(), count))
    report.fail("nll_backward produced non-finite parameter gradients");
  const double base = objective();
  if (!(std::abs(report.loss - base) <= 1e-12 * std::max(1.0, std::abs(base))))
    report.fail(osbi::detail::concat("nll_backward returned ", report.loss, ", (1/N) Σ w_i·(−log_prob_i) is ", base));

  backward(weights, true);
  if (const double e = max_difference(to_host_vector(grad_theta).data(), analytic_theta.data(), analytic_theta.size());
      e > 1e-12)
    report.fail(osbi::detail::concat("a second nll_backward wrote a different grad_theta (difference ", e, ")"));
  if (const double e = max_difference(to_host_vector(grad_x).data(), analytic_x.data(), analytic_x.size()); e > 1e-12)
    report.fail(osbi::detail::concat("a second nll_backward wrote a different grad_x (difference ", e, ")"));
  if (const double e = max_difference(to_host_vector(gradients).data(), analytic_parameters.data(), count, 2.0);
      e > 1e-12)
    report.fail(osbi::detail::concat("parameter gradients do not accumulate: after two nll_backward calls they are "
                                     "not twice those of one (difference ",
                                     e, ")"));
  backward(weights, false);
  if (const double e = max_difference(to_host_vector(gradients).data(), analytic_parameters.data(), count, 3.0);
      e > 1e-12)
    report.fail(osbi::detail::concat("nll_backward without grad_theta and grad_x did not add the same parameter "
                                     "gradient a third time (difference ",
                                     e, ")"));
  if (max_difference(to_host_vector(parameters).data(), parameters_copy.data(), count) != 0.0)
    report.fail("nll_backward or log_prob modified the parameters");

  // Unit weights are the unweighted loss, bit for bit.
  {
    Vector<double, ExecutionSpace> ones("osbi::testing::check_density_gradients::unit_weights", batch);
    Kokkos::deep_copy(space, ones, 1.0);
    density.zero_gradients(space);
    const double loss_empty = backward(ConstVector<double, ExecutionSpace>(), true);
    const std::vector<double> parameters_empty = to_host_vector(gradients), theta_empty = to_host_vector(grad_theta),
                              x_empty = to_host_vector(grad_x);
    density.zero_gradients(space);
    const double loss_ones = backward(ones, true);
    if (!bit_identical({loss_empty}, {loss_ones}) || !bit_identical(parameters_empty, to_host_vector(gradients)) ||
        !bit_identical(theta_empty, to_host_vector(grad_theta)) || !bit_identical(x_empty, to_host_vector(grad_x)))
      report.fail(osbi::detail::concat("unit weights are not bit-identical to empty weights (losses ", loss_ones, " and ",
                                       loss_empty, ", or a gradient)"));
  }

  auto compare = [&](double analytic, double original, auto&& set, double& worst, std::size_t& worst_index,
                     std::size_t index, const char* what) {
    const double h = options.step * std::max(1.0, std::abs(original));
    set(original + h);
    const double plus = objective();
    set(original - h);
    const double minus = objective();
    set(original);
    const double numeric = (plus - minus) / (2.0 * h);
    const double error =
        std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), options.error_floor});
    if (!(error <= worst)) {
      worst = std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
      worst_index = index;
    }
    if (!(error <= options.tolerance))
      report.fail(osbi::detail::concat(what, " ", index, ": nll_backward gives ", analytic, ", central differences ",
                                       numeric, " (relative error ", error, " > tolerance ", options.tolerance, ")"));
  };
  if (options.check_parameters) {
    auto parameters_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
    for (std::size_t j = 0; j < count; ++j) {
      auto set = [&](double value) {
        parameters_host.data()[j] = value;
        Kokkos::deep_copy(parameters, parameters_host);
      };
      compare(analytic_parameters[j], parameters_copy[j], set, report.worst_parameter_error,
              report.worst_parameter_index, j, "parameter");
      ++report.parameters_checked;
    }
  }
  if (options.check_theta)
    for (std::size_t i = 0; i < batch * d; ++i) {
      auto set = [&](double value) {
        t_host.data()[i] = value;
        Kokkos::deep_copy(t, t_host);
      };
      compare(analytic_theta[i], t_host.data()[i], set, report.worst_theta_error, report.worst_theta_index, i, "θ entry");
      ++report.theta_checked;
    }
  if (options.check_x)
    for (std::size_t i = 0; i < batch * c; ++i) {
      auto set = [&](double value) {
        x_host.data()[i] = value;
        Kokkos::deep_copy(context, x_host);
      };
      compare(analytic_x[i], x_host.data()[i], set, report.worst_x_error, report.worst_x_index, i, "x entry");
      ++report.x_checked;
    }

  // Leave the parameters as they were and the gradients as one backward pass from zero.
  // (create_mirror allocates even on the host, where a mirror view would be the parameters themselves.)
  auto restored = Kokkos::create_mirror(parameters);
  std::copy(parameters_copy.begin(), parameters_copy.end(), restored.data());
  Kokkos::deep_copy(parameters, restored);
  std::copy(analytic_parameters.begin(), analytic_parameters.end(), restored.data());
  Kokkos::deep_copy(gradients, restored);
  return report;
}

} // namespace osbi::testing
