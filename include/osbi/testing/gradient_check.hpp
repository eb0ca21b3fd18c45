// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_gradients: the one finite-difference checker of every Layer's backward (inputs and parameters).
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/network.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
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
    const BatchRandom rng = RandomStream(options.seed, 0x6C6F7373u).next();
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
  layer.initialize(space, RandomStream(options.seed, 1).next());
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

} // namespace osbi::testing
