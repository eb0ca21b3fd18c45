// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_conditional_density(d): run-time conformance check of a ConditionalDensity model against the spec in osbi/estimator/conditional_density.hpp.
#pragma once

#include <osbi/testing/check_estimator.hpp>
#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/detail/conformance.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::testing {

/*
 * check_conditional_density(density, seed, n, backward_rows) — check_estimator (a density is an Estimator), then
 * what the ConditionalDensity spec (osbi/estimator/conditional_density.hpp) adds, at n contexts x ~ N(0, 1) and
 * θ drawn from the density itself:
 *
 *   log_prob fills a NaN-filled out with finite values, the same bits twice, the same values for the first rows
 *     of a smaller batch (row i depends on row i only); a row with NaN in θ or in x gives NaN (the other rows are
 *     unaffected); wrong widths, row counts or out lengths throw DimensionMismatch;
 *   nll_backward on the first backward_rows rows, with weights that include a zero and a negative one, returns
 *     (1/N) Σ w_i·(−log_prob_i); the loss and the parameter gradient scale with the weights (3w gives 3× both)
 *     and add over them (w + v gives the sums); wrong shapes (θ, x, weights, grad_theta, grad_x) throw
 *     DimensionMismatch and an empty batch InvalidArgument; the parameters are not changed;
 *   for a double density, check_density_gradients (testing/gradient_check.hpp): central finite differences of
 *     every parameter, θ and x entry, gradients that ACCUMULATE, grad_theta/grad_x OVERWRITTEN, unit weights ==
 *     empty weights bit for bit. A float density gets these contract checks without the finite differences
 *     (float's rounding swamps a central difference): check its double instantiation for those.
 * Values computed by two code paths (the loss against log_prob) are compared with a relative tolerance of
 * 1e-10 for double, 1e-4 for float. The density's gradients are overwritten; its parameters are not changed.
 */
template <ConditionalDensity D>
ConformanceReport check_conditional_density(D& density, std::uint64_t seed = 1, std::size_t n = 64,
                                            std::size_t backward_rows = 6) {
  using Scalar = typename D::scalar_type;
  using Space = typename D::execution_space;
  using MatrixType = Matrix<Scalar, Space>;
  using VectorType = Vector<Scalar, Space>;
  using namespace conformance_detail;
  using osbi::detail::concat;
  const char* const dimension_mismatch = "osbi::DimensionMismatch";
  const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();
  constexpr double tolerance = evaluation_tolerance<Scalar>();

  ConformanceReport report = check_estimator(density, seed, n);
  const Space space;
  const std::size_t d = density.theta_dim(), c = density.context_dim();
  if (d == 0 || c == 0) return report;
  if (n < 4) n = 4;
  const std::size_t m = std::clamp<std::size_t>(backward_rows, 3, n);

  // The batch: contexts x ~ N(0, 1), θ from the density.
  const RandomStream stream(seed, streams::testing_density);
  const std::vector<double> x_values = normal_values(n, c, stream.at(0));
  std::vector<double> theta_values;
  try {
    const MatrixType x = device_matrix<Scalar, Space>(x_values, n, c, "check_conditional_density_x");
    MatrixType theta(label("testing", "check_conditional_density", "theta"), n, d);
    density.sample(space, x, stream.at(1), theta);
    space.fence();
    theta_values = host_values(theta);
  } catch (const std::exception& error) {
    report.fail(concat("sample threw \"", error.what(), "\"; the density checks need draws"));
    return report;
  }
  const std::vector<double> parameters_before = host_values(density.parameters());

  // log_prob of the first `rows` rows of host θ and x, NaN-filled; exceptions reach the caller's try.
  const auto evaluate = [&](const std::vector<double>& theta_rows, const std::vector<double>& x_rows, std::size_t rows) {
    const MatrixType theta = device_matrix<Scalar, Space>(theta_rows, rows, d, "check_conditional_density_theta");
    const MatrixType x = device_matrix<Scalar, Space>(x_rows, rows, c, "check_conditional_density_x");
    VectorType out(label("testing", "check_conditional_density", "log_prob"), rows);
    Kokkos::deep_copy(out, not_a_number);
    density.log_prob(space, theta, x, out);
    space.fence();
    return host_values(out);
  };
  std::vector<double> log_q;
  try {
    log_q = evaluate(theta_values, x_values, n);
  } catch (const std::exception& error) {
    report.fail(concat("log_prob of ", n, " rows threw \"", error.what(), "\""));
    return report;
  }
  if (const std::size_t i = first_non_finite(log_q); i != none)
    report.fail(concat("log_prob is not finite at draws of the density (row ", i, ": ", log_q[i],
                       "), or left an entry of a NaN-filled out unwritten"));
  try {
    if (const std::size_t i = first_difference(evaluate(theta_values, x_values, n), log_q, n); i != none)
      report.fail(concat("log_prob twice on the same rows gave different values at row ", i));
    const std::size_t half = n / 2 + 1;
    std::vector<double> prefix = evaluate(theta_values, x_values, half), whole(log_q.begin(), log_q.begin() + half);
    if (const double e = relative_difference(prefix, whole); !(e <= tolerance))
      report.fail(concat("log_prob of the first ", half, " rows alone differs from the same rows of ", n,
                         " (relative difference ", e, "): row i must depend on θ_i and x_i only"));
    std::vector<double> theta_nan(theta_values.begin(), theta_values.begin() + 4 * d),
        x_nan(x_values.begin(), x_values.begin() + 4 * c);
    theta_nan[0] = std::numeric_limits<double>::quiet_NaN();
    x_nan[c] = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> with_nan = evaluate(theta_nan, x_nan, 4);
    if (!std::isnan(with_nan[0])) report.fail(concat("log_prob of a row whose θ[0] is NaN is ", with_nan[0], ", expected NaN"));
    if (!std::isnan(with_nan[1])) report.fail(concat("log_prob of a row whose x[0] is NaN is ", with_nan[1], ", expected NaN"));
    if (const double e = relative_difference({with_nan[2], with_nan[3]}, {log_q[2], log_q[3]}); !(e <= tolerance))
      report.fail(concat("log_prob of finite rows changed when other rows of the batch hold NaN (relative difference ",
                         e, ")"));
  } catch (const std::exception& error) {
    report.fail(concat("log_prob threw \"", error.what(), "\""));
  }

  // log_prob with wrong shapes.
  constexpr std::size_t rows = 4;
  Kokkos::View<Scalar*, typename Space::memory_space> theta_buffer(
      label("testing", "check_conditional_density", "theta_buffer"), (rows + 2) * (d + 2));
  Kokkos::View<Scalar*, typename Space::memory_space> x_buffer(label("testing", "check_conditional_density", "x_buffer"),
                                                               (rows + 2) * (c + 2));
  Kokkos::View<Scalar*, typename Space::memory_space> out_buffer(
      label("testing", "check_conditional_density", "out_buffer"), (rows + 2) * (std::max(d, c) + 2));
  const auto log_prob_shape = [&](const char* what, std::size_t theta_rows, std::size_t theta_columns,
                                  std::size_t x_rows, std::size_t x_columns, std::size_t out_length) {
    const MatrixType theta(theta_buffer.data(), theta_rows, theta_columns);
    const MatrixType x(x_buffer.data(), x_rows, x_columns);
    const VectorType out(out_buffer.data(), out_length);
    if (const std::string what_happened = expect_throw<DimensionMismatch>(
            space, dimension_mismatch, [&] { density.log_prob(space, theta, x, out); });
        !what_happened.empty())
      report.fail(concat("log_prob with ", what, " ", what_happened));
  };
  log_prob_shape("theta one column too wide", rows, d + 1, rows, c, rows);
  log_prob_shape("x one column too wide", rows, d, rows, c + 1, rows);
  log_prob_shape("x one row longer than theta", rows, d, rows + 1, c, rows);
  log_prob_shape("out one entry longer than theta's rows", rows, d, rows, c, rows + 1);
  log_prob_shape("out one entry shorter than theta's rows", rows, d, rows, c, rows - 1);

  // nll_backward on the first m rows.
  const MatrixType theta = device_matrix<Scalar, Space>(theta_values, m, d, "check_conditional_density_theta");
  const MatrixType x = device_matrix<Scalar, Space>(x_values, m, c, "check_conditional_density_x");
  std::vector<double> w = normal_values(1, m, stream.at(2)), v = normal_values(1, m, stream.at(3));
  for (std::size_t i = 0; i < m; ++i) w[i] += 0.5, v[i] = std::abs(v[i]) + 0.1;
  w[0] = 0.0;
  w[1] = -std::abs(w[1]) - 0.25;
  const auto backward = [&](const std::vector<double>& weights) {
    density.zero_gradients(space);
    const double loss = density.nll_backward(space, theta, x, device_vector<Scalar, Space>(weights, "check_weights"),
                                             MatrixType(), MatrixType());
    space.fence();
    return std::make_pair(loss, host_values(density.gradients()));
  };
  try {
    const auto [loss, gradient] = backward(w);
    double expected = 0, magnitude = 0;
    for (std::size_t i = 0; i < m; ++i) {
      expected -= w[i] * log_q[i];
      magnitude += std::abs(w[i] * log_q[i]);
    }
    expected /= static_cast<double>(m);
    magnitude /= static_cast<double>(m);
    if (!(std::abs(loss - expected) <= tolerance * std::max(1.0, magnitude)))
      report.fail(concat("nll_backward returned ", loss, " for weights w, but (1/N) Σ w_i·(−log_prob_i) is ", expected));
    std::vector<double> w3(w), wv(w);
    for (std::size_t i = 0; i < m; ++i) w3[i] *= 3, wv[i] += v[i];
    const auto [loss3, gradient3] = backward(w3);
    if (!(std::abs(loss3 - 3 * loss) <= tolerance * std::max(1.0, 3 * magnitude)) ||
        !(relative_difference(gradient3, gradient, 3.0) <= tolerance))
      report.fail(concat("nll_backward does not scale with the weights: 3w gave the loss ", loss3, " (3 × ", loss,
                         " expected) or a parameter gradient other than 3 × that of w (relative difference ",
                         relative_difference(gradient3, gradient, 3.0), ")"));
    const auto [loss_v, gradient_v] = backward(v);
    const auto [loss_wv, gradient_wv] = backward(wv);
    std::vector<double> sum(gradient);
    for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += gradient_v[k];
    if (!(std::abs(loss_wv - (loss + loss_v)) <= tolerance * std::max(1.0, std::abs(loss) + std::abs(loss_v))) ||
        !(relative_difference(gradient_wv, sum) <= tolerance))
      report.fail(concat("nll_backward does not add over the weights: w + v gave the loss ", loss_wv, ", w and v ",
                         loss, " + ", loss_v, " (or the parameter gradients do not add: relative difference ",
                         relative_difference(gradient_wv, sum), ")"));
  } catch (const std::exception& error) {
    report.fail(concat("nll_backward on ", m, " rows with weights threw \"", error.what(), "\""));
  }

  // Accumulation, overwriting, unit weights and finite differences.
  const VectorType weights = device_vector<Scalar, Space>(w, "check_weights");
  try {
    if constexpr (std::is_same_v<Scalar, double>) {
      const DensityGradientCheckReport gradients = check_density_gradients(space, density, theta, x, weights);
      for (const std::string& line : gradients.failures) report.fail("nll_backward: " + line);
    } else {
      MatrixType grad_theta(label("testing", "check_conditional_density", "grad_theta"), m, d);
      MatrixType grad_x(label("testing", "check_conditional_density", "grad_x"), m, c);
      const auto run = [&](const ConstVector<Scalar, Space>& row_weights, bool zero) {
        if (zero) density.zero_gradients(space);
        Kokkos::deep_copy(grad_theta, not_a_number);
        Kokkos::deep_copy(grad_x, not_a_number);
        const double loss = density.nll_backward(space, theta, x, row_weights, grad_theta, grad_x);
        space.fence();
        std::vector<double> values{loss};
        for (const auto& part : {host_values(density.gradients()), host_values(grad_theta), host_values(grad_x)})
          values.insert(values.end(), part.begin(), part.end());
        return values;
      };
      const std::vector<double> once = run(weights, true);
      if (first_non_finite(once) != none)
        report.fail("nll_backward left a non-finite value in a NaN-filled grad_theta or grad_x, or a non-finite "
                    "parameter gradient");
      const std::vector<double> twice = run(weights, false);
      const std::size_t count = density.parameters().extent(0);
      const std::vector<double> g1(once.begin() + 1, once.begin() + 1 + count), g2(twice.begin() + 1, twice.begin() + 1 + count);
      if (const double e = relative_difference(g2, g1, 2.0); !(e <= tolerance))
        report.fail(concat("parameter gradients do not accumulate: after two nll_backward calls they are not twice "
                           "those of one (relative difference ", e, ")"));
      Vector<Scalar, Space> ones(label("testing", "check_conditional_density", "unit_weights"), m);
      Kokkos::deep_copy(ones, Scalar(1));
      if (first_difference(run(ConstVector<Scalar, Space>(), true), run(ones, true), once.size()) != none)
        report.fail("unit weights are not bit-identical to empty weights (the loss, a parameter gradient, "
                    "grad_theta or grad_x differ)");
    }
  } catch (const std::exception& error) {
    report.fail(concat("nll_backward with grad_theta and grad_x threw \"", error.what(), "\""));
  }
  if (first_difference(host_values(density.parameters()), parameters_before, parameters_before.size()) != none)
    report.fail("log_prob or nll_backward changed the parameters");

  // nll_backward with wrong shapes; an empty batch.
  struct Shape {
    std::size_t rows, columns;
  };
  const auto backward_shape = [&](const char* what, Shape theta_shape, Shape x_shape, std::size_t weight_count,
                                  Shape grad_theta_shape, Shape grad_x_shape) {
    const MatrixType theta_view(theta_buffer.data(), theta_shape.rows, theta_shape.columns);
    const MatrixType x_view(x_buffer.data(), x_shape.rows, x_shape.columns);
    const VectorType weight_view(out_buffer.data(), weight_count);
    MatrixType grad_theta(label("testing", "check_conditional_density", "grad_theta"), grad_theta_shape.rows,
                          grad_theta_shape.columns);
    MatrixType grad_x(label("testing", "check_conditional_density", "grad_x"), grad_x_shape.rows, grad_x_shape.columns);
    Kokkos::deep_copy(weight_view, Scalar(1));
    if (const std::string what_happened = expect_throw<DimensionMismatch>(
            space, dimension_mismatch,
            [&] { density.nll_backward(space, theta_view, x_view, weight_view, grad_theta, grad_x); });
        !what_happened.empty())
      report.fail(concat("nll_backward with ", what, " ", what_happened));
  };
  const Shape theta_shape{rows, d}, x_shape{rows, c};
  backward_shape("theta one column too wide", {rows, d + 1}, x_shape, rows, {rows, d + 1}, x_shape);
  backward_shape("x one column too wide", theta_shape, {rows, c + 1}, rows, theta_shape, {rows, c + 1});
  backward_shape("x one row longer than theta", theta_shape, {rows + 1, c}, rows, theta_shape, x_shape);
  backward_shape("one weight too many", theta_shape, x_shape, rows + 1, theta_shape, x_shape);
  backward_shape("grad_theta one row too many", theta_shape, x_shape, rows, {rows + 1, d}, x_shape);
  backward_shape("grad_theta one column too wide", theta_shape, x_shape, rows, {rows, d + 1}, x_shape);
  backward_shape("grad_x one row too many", theta_shape, x_shape, rows, theta_shape, {rows + 1, c});
  backward_shape("grad_x one column too wide", theta_shape, x_shape, rows, theta_shape, {rows, c + 1});
  {
    const MatrixType empty_theta(label("testing", "check_conditional_density", "empty_theta"), 0, d);
    const MatrixType empty_x(label("testing", "check_conditional_density", "empty_x"), 0, c);
    if (const std::string what_happened =
            expect_throw<InvalidArgument>(space, "osbi::InvalidArgument", [&] {
              density.nll_backward(space, empty_theta, empty_x, ConstVector<Scalar, Space>(), MatrixType(), MatrixType());
            });
        !what_happened.empty())
      report.fail(concat("nll_backward of an empty batch ", what_happened, " (the mean of no rows is undefined)"));
  }
  return report;
}

} // namespace osbi::testing
