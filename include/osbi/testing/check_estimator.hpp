// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_estimator(e): run-time conformance check of an Estimator model against the spec in osbi/estimator/estimator.hpp.
#pragma once

#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/detail/conformance.hpp>

#include <osbi/estimator/estimator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace osbi::testing {

/*
 * check_estimator(estimator, seed, n) — checks at run time what the Estimator spec (osbi/estimator/estimator.hpp)
 * promises and the concept cannot; each violated promise adds one readable line to the report. Call it in a
 * user's test:  BOOST_TEST(report.passed(), report.summary()).
 *
 *   theta_dim() and context_dim() > 0;
 *   parameters() and gradients() have equal lengths, are the same buffers on every call (views of the model's
 *     storage) and are not one buffer; zero_gradients sets every gradient to 0 and leaves the parameters alone;
 *   sample(x, rng) at n contexts x ~ N(0, 1) (seed's stream) writes finite θ into every entry; the same rng gives
 *     the same bits; the first rows of a smaller batch, or of a batch whose other rows have other contexts, are
 *     the same (row i uses x_i and rng.row(i) only); another rng gives other draws; n rows of one repeated context
 *     are not all equal; an empty batch is accepted; the parameters are unchanged;
 *   sample(x_one, n, rng) writes n finite rows, the same bits for the same rng, other draws for another rng, not
 *     all equal; n = 0 draws nothing and is accepted;
 *   wrong widths and row counts (θ, x, x_one, θ's rows against n) throw DimensionMismatch.
 * The wrong-shape views are laid over buffers large enough for the right shape, so a model that forgets a check
 * and writes anyway cannot corrupt memory (it is reported, not crashed on). The estimator's gradients are left at
 * zero; its parameters are not changed. Statistical correctness is for the model's own tests.
 */
template <Estimator E>
ConformanceReport check_estimator(E& estimator, std::uint64_t seed = 1, std::size_t n = 256) {
  using Scalar = typename E::scalar_type;
  using Space = typename E::execution_space;
  using MatrixType = Matrix<Scalar, Space>;
  using namespace conformance_detail;
  using osbi::detail::concat;
  const char* const dimension_mismatch = "osbi::DimensionMismatch";
  const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();

  ConformanceReport report;
  const Space space;
  const std::size_t d = estimator.theta_dim(), c = estimator.context_dim();
  if (d == 0 || c == 0) {
    report.fail(concat("theta_dim() = ", d, " and context_dim() = ", c, " must both be > 0"));
    return report;
  }
  if (n < 4) n = 4;

  // Parameters and gradients.
  const std::size_t count = estimator.parameters().extent(0);
  if (estimator.gradients().extent(0) != count)
    report.fail(concat("gradients() has ", estimator.gradients().extent(0), " entries, parameters() ", count,
                       "; they must have equal lengths"));
  if (estimator.parameters().data() != estimator.parameters().data() ||
      estimator.gradients().data() != estimator.gradients().data())
    report.fail("parameters() or gradients() returned a different buffer on a second call: each must be a view of "
                "the model's own storage");
  if (count > 0 && estimator.parameters().data() == estimator.gradients().data())
    report.fail("parameters() and gradients() are the same buffer");
  if (!report.passed()) return report;
  const std::vector<double> parameters_before = host_values(estimator.parameters());
  try {
    Kokkos::deep_copy(space, estimator.gradients(), Scalar(1.5));
    estimator.zero_gradients(space);
    space.fence();
    const std::vector<double> zeroed = host_values(estimator.gradients());
    for (std::size_t k = 0; k < zeroed.size(); ++k)
      if (zeroed[k] != 0.0) {
        report.fail(concat("zero_gradients left gradient ", k, " = ", zeroed[k], " (every entry must be 0)"));
        break;
      }
    if (first_difference(host_values(estimator.parameters()), parameters_before, count) != none)
      report.fail("zero_gradients changed the parameters");
  } catch (const std::exception& error) {
    report.fail(concat("zero_gradients threw \"", error.what(), "\""));
  }

  // Batch sampling. Every call NaN-fills θ first, so an entry not written shows as NaN.
  const RandomStream stream(seed, streams::testing_estimator);
  const std::vector<double> x_values = normal_values(n, c, RandomStream(seed, streams::testing_estimator_x).at(0));
  const auto draw = [&](const std::vector<double>& contexts, std::size_t rows, BatchRandom rng) {
    const MatrixType x = device_matrix<Scalar, Space>(contexts, rows, c, "check_estimator_x");
    MatrixType theta(label("testing", "check_estimator", "theta"), rows, d);
    Kokkos::deep_copy(theta, not_a_number);
    estimator.sample(space, x, rng, theta);
    space.fence();
    return host_values(theta);
  };
  std::vector<double> first;
  try {
    first = draw(x_values, n, stream.at(0));
  } catch (const std::exception& error) {
    report.fail(concat("sample(space, x, rng, theta) with x ", n, " x ", c, " threw \"", error.what(), "\""));
    return report;
  }
  if (const std::size_t bad = first_non_finite(first); bad != none)
    report.fail(concat("sample left a non-finite value in a NaN-filled theta (", where(first, bad, d),
                       "): every entry must be a finite draw"));
  try {
    if (const std::size_t i = first_difference(draw(x_values, n, stream.at(0)), first, n * d); i != none)
      report.fail(concat("sample twice with the same BatchRandom gave different values at ", where(first, i, d)));
    const std::size_t half = n / 2 + 1;
    if (const std::size_t i = first_difference(draw(x_values, half, stream.at(0)), first, half * d); i != none)
      report.fail(concat("sample of ", half, " rows differs from the first ", half, " rows of a ", n,
                         "-row sample with the same BatchRandom at ", where(first, i, d),
                         " (row i must depend on rng.row(i) only)"));
    std::vector<double> other_contexts = x_values;
    for (std::size_t k = half * c; k < n * c; ++k) other_contexts[k] += 1.0;
    if (const std::size_t i = first_difference(draw(other_contexts, n, stream.at(0)), first, half * d); i != none)
      report.fail(concat("changing the contexts of rows ", half, "… changed the draw at ", where(first, i, d),
                         " (row i must depend on x_i only)"));
    if (first_difference(draw(x_values, n, stream.at(1)), first, n * d) == none)
      report.fail("sample with two different BatchRandoms gave identical values: sample ignores rng");
    std::vector<double> one_context(n * c);
    for (std::size_t k = 0; k < n * c; ++k) one_context[k] = x_values[k % c];
    const std::vector<double> repeated = draw(one_context, n, stream.at(2));
    bool all_equal = true;
    for (std::size_t k = d; k < n * d && all_equal; ++k) all_equal = same_value(repeated[k], repeated[k % d]);
    if (all_equal)
      report.fail(concat("sample of ", n, " rows with one context gave ", n,
                         " equal rows (each row must be an independent draw, from rng.row(i))"));
    draw({}, 0, stream.at(3));
  } catch (const std::exception& error) {
    report.fail(concat("repeated or empty sample(space, x, rng, theta) threw \"", error.what(), "\""));
  }

  // n draws for one context.
  const std::vector<double> x_one(x_values.begin(), x_values.begin() + c);
  const auto draw_one = [&](std::size_t rows, BatchRandom rng) {
    const MatrixType x = device_matrix<Scalar, Space>(x_one, 1, c, "check_estimator_x_one");
    MatrixType theta(label("testing", "check_estimator", "theta_one"), rows, d);
    Kokkos::deep_copy(theta, not_a_number);
    estimator.sample(space, x, rows, rng, theta);
    space.fence();
    return host_values(theta);
  };
  try {
    const std::vector<double> draws = draw_one(n, stream.at(4));
    if (const std::size_t bad = first_non_finite(draws); bad != none)
      report.fail(concat("sample(x_one, n = ", n, ") left a non-finite value in a NaN-filled theta (",
                         where(draws, bad, d), ")"));
    if (const std::size_t i = first_difference(draw_one(n, stream.at(4)), draws, n * d); i != none)
      report.fail(concat("sample(x_one, n) twice with the same BatchRandom gave different values at ",
                         where(draws, i, d)));
    if (first_difference(draw_one(n, stream.at(5)), draws, n * d) == none)
      report.fail("sample(x_one, n) with two different BatchRandoms gave identical values: it ignores rng");
    bool all_equal = true;
    for (std::size_t k = d; k < n * d && all_equal; ++k) all_equal = same_value(draws[k], draws[k % d]);
    if (all_equal) report.fail(concat("sample(x_one, n = ", n, ") gave ", n, " equal rows"));
    draw_one(0, stream.at(6));
  } catch (const std::exception& error) {
    report.fail(concat("sample(space, x_one, n, rng, theta) threw \"", error.what(), "\""));
  }
  if (first_difference(host_values(estimator.parameters()), parameters_before, count) != none)
    report.fail("sample changed the parameters");

  // Wrong shapes → DimensionMismatch, over buffers roomy enough for every shape tried.
  constexpr std::size_t rows = 4;
  Kokkos::View<Scalar*, typename Space::memory_space> theta_buffer(label("testing", "check_estimator", "theta_buffer"),
                                                                   (rows + 2) * (d + 2));
  Kokkos::View<Scalar*, typename Space::memory_space> x_buffer(label("testing", "check_estimator", "x_buffer"),
                                                               (rows + 2) * (c + 2));
  const auto batch_shape = [&](const char* what, std::size_t theta_rows, std::size_t theta_columns, std::size_t x_rows,
                               std::size_t x_columns) {
    const MatrixType theta(theta_buffer.data(), theta_rows, theta_columns);
    const MatrixType x(x_buffer.data(), x_rows, x_columns);
    if (const std::string what_happened = expect_throw<DimensionMismatch>(
            space, dimension_mismatch, [&] { estimator.sample(space, x, stream.at(7), theta); });
        !what_happened.empty())
      report.fail(concat("sample with ", what, " (theta ", theta_rows, " x ", theta_columns, ", x ", x_rows, " x ",
                         x_columns, ") ", what_happened));
  };
  batch_shape("theta one column too wide", rows, d + 1, rows, c);
  batch_shape("x one column too wide", rows, d, rows, c + 1);
  batch_shape("x one row longer than theta", rows, d, rows + 1, c);
  const auto one_shape = [&](const char* what, std::size_t x_rows, std::size_t x_columns, std::size_t draws,
                             std::size_t theta_rows, std::size_t theta_columns) {
    const MatrixType theta(theta_buffer.data(), theta_rows, theta_columns);
    const MatrixType x(x_buffer.data(), x_rows, x_columns);
    if (const std::string what_happened = expect_throw<DimensionMismatch>(
            space, dimension_mismatch, [&] { estimator.sample(space, x, draws, stream.at(8), theta); });
        !what_happened.empty())
      report.fail(concat("sample(x_one, n = ", draws, ") with ", what, " (x_one ", x_rows, " x ", x_columns,
                         ", theta ", theta_rows, " x ", theta_columns, ") ", what_happened));
  };
  one_shape("x_one of 2 rows", 2, c, rows, rows, d);
  one_shape("x_one one column too wide", 1, c + 1, rows, rows, d);
  one_shape("theta one row longer than n", 1, c, rows, rows + 1, d);
  one_shape("theta one column too wide", 1, c, rows, rows, d + 1);
  return report;
}

} // namespace osbi::testing
