// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_loss(l, e, batch): run-time conformance check of a Loss model against the spec in osbi/loss/loss.hpp.
#pragma once

#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/detail/conformance.hpp>

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>

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
 * check_loss(loss, estimator, batch, seed, parameters_checked) — checks at run time what the Loss spec
 * (osbi/loss/loss.hpp) promises and the concept cannot, on a batch the caller provides (rows the loss accepts:
 * with the metadata or weights it needs), every call with the same BatchRandom unless said otherwise:
 *
 *   value twice gives the same bits and touches neither the gradients nor the parameters;
 *   value_and_gradient returns value's value (relative tolerance 1e-10 for double, 1e-4 for float), leaves the
 *     parameters alone, ACCUMULATES (a second call returns the same value and doubles the gradients);
 *   per_row writes all batch.rows() entries of out, the same values twice; an out of another length throws
 *     DimensionMismatch;
 *   for a double estimator, central finite differences of value at `parameters_checked` parameters spread over
 *     the buffer (first and last included) match the gradient: h = 1e-5·max(1, |p|), relative error <= 1e-5
 *     against max(|analytic|, |numeric|, 1e-3), as the gradient checkers do;
 *   a batch whose θ or x is one column too wide, whose x has a row too many or that has one weight too many
 *     throws DimensionMismatch from each of the three members; an empty batch throws InvalidArgument from value
 *     and value_and_gradient.
 * The estimator's parameters are restored; its gradients are overwritten.
 *
 * check_loss(loss, estimator, seed, n) does the same on n rows it makes: x ~ N(0, 1), θ drawn from the estimator,
 * no weights, and metadata of prior draws (proposal_log_prob 0, round 0, arrival = row, uses 1).
 */
template <class L, Estimator E>
  requires Loss<L, E>
ConformanceReport check_loss(L& loss, E& estimator,
                             const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                             std::uint64_t seed = 1, std::size_t parameters_checked = 6) {
  using Scalar = typename E::scalar_type;
  using Space = typename E::execution_space;
  using Batch = TrainingBatch<Scalar, Space>;
  using MatrixType = Matrix<Scalar, Space>;
  using VectorType = Vector<Scalar, Space>;
  using namespace conformance_detail;
  using osbi::detail::concat;
  constexpr double tolerance = evaluation_tolerance<Scalar>();

  ConformanceReport report;
  const Space space;
  const std::size_t n = batch.rows(), d = estimator.theta_dim(), c = estimator.context_dim();
  if (n == 0 || batch.theta.extent(1) != d || batch.x.extent(1) != c || batch.x.extent(0) != n) {
    report.fail(concat("check_loss needs a non-empty batch of the estimator's widths; it got θ ", n, " × ",
                       batch.theta.extent(1), " and x ", batch.x.extent(0), " × ", batch.x.extent(1), " for ", d,
                       " and ", c));
    return report;
  }
  const BatchRandom rng = RandomStream(seed, streams::testing_loss).at(0);
  const std::size_t count = estimator.parameters().extent(0);
  const std::vector<double> parameters = host_values(estimator.parameters());

  // value: deterministic, touches no gradient.
  std::vector<double> pattern(count);
  for (std::size_t k = 0; k < count; ++k) pattern[k] = 0.25 + 0.125 * static_cast<double>(k % 7);
  double value = 0;
  try {
    Kokkos::deep_copy(estimator.gradients(), device_vector<Scalar, Space>(pattern, "check_loss_pattern"));
    value = loss.value(estimator, space, batch, rng);
    space.fence();
    if (!same_value(loss.value(estimator, space, batch, rng), value))
      report.fail("value twice with the same BatchRandom gave different values");
    space.fence();
    if (first_difference(host_values(estimator.gradients()), host_values(device_vector<Scalar, Space>(pattern, "p")),
                         count) != none)
      report.fail("value changed the gradients (it must leave them alone: it is the validation value)");
    if (first_difference(host_values(estimator.parameters()), parameters, count) != none)
      report.fail("value changed the parameters");
  } catch (const std::exception& error) {
    report.fail(concat("value on a batch of ", n, " rows threw \"", error.what(), "\""));
    return report;
  }

  // value_and_gradient: the same value, accumulated gradients.
  std::vector<double> gradient;
  try {
    estimator.zero_gradients(space);
    const double first = loss.value_and_gradient(estimator, space, batch, rng);
    space.fence();
    gradient = host_values(estimator.gradients());
    if (!(std::abs(first - value) <= tolerance * std::max(1.0, std::abs(value))))
      report.fail(concat("value_and_gradient returned ", first, ", value ", value, " with the same BatchRandom"));
    if (first_difference(host_values(estimator.parameters()), parameters, count) != none)
      report.fail("value_and_gradient changed the parameters (the optimizer steps them, not the loss)");
    if (first_non_finite(gradient) != none)
      report.fail(concat("value_and_gradient gave a non-finite gradient (entry ", first_non_finite(gradient), ")"));
    const double second = loss.value_and_gradient(estimator, space, batch, rng);
    space.fence();
    if (!same_value(first, second))
      report.fail(concat("value_and_gradient twice with the same BatchRandom returned ", first, " and ", second));
    if (const double e = relative_difference(host_values(estimator.gradients()), gradient, 2.0); !(e <= tolerance))
      report.fail(concat("gradients do not accumulate: after two value_and_gradient calls they are not twice those "
                         "of one (relative difference ",
                         e, ")"));
  } catch (const std::exception& error) {
    report.fail(concat("value_and_gradient on a batch of ", n, " rows threw \"", error.what(), "\""));
    return report;
  }

  // per_row: every entry written, deterministic.
  try {
    const auto rows = [&](Scalar fill) {
      VectorType out(label("testing", "check_loss", "per_row"), n);
      Kokkos::deep_copy(out, fill);
      loss.per_row(estimator, space, batch, rng, out);
      space.fence();
      return host_values(out);
    };
    const std::vector<double> first = rows(Scalar(-12345.25)), second = rows(Scalar(54321.5));
    for (std::size_t i = 0; i < n; ++i) {
      if (first[i] == -12345.25 && second[i] == 54321.5) {
        report.fail(concat("per_row left out(", i, ") unwritten (one value per row)"));
        break;
      }
      if (!same_value(first[i], second[i])) {
        report.fail(concat("per_row twice with the same BatchRandom gave ", first[i], " and ", second[i], " at row ", i));
        break;
      }
    }
  } catch (const std::exception& error) {
    report.fail(concat("per_row on a batch of ", n, " rows threw \"", error.what(), "\""));
  }
  for (const std::size_t length : {n + 1, n - 1}) {
    VectorType out(label("testing", "check_loss", "per_row_wrong"), length);
    if (const std::string what = expect_throw<DimensionMismatch>(
            space, "osbi::DimensionMismatch", [&] { loss.per_row(estimator, space, batch, rng, out); });
        !what.empty())
      report.fail(concat("per_row into an out of ", length, " entries for ", n, " rows ", what));
  }

  // Finite differences of value.
  if constexpr (std::is_same_v<Scalar, double>) {
    const std::size_t checked = std::min(count, parameters_checked);
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), estimator.parameters());
    const auto at = [&](std::size_t k, double value_k) {
      host(k) = value_k;
      Kokkos::deep_copy(estimator.parameters(), host);
      const double result = loss.value(estimator, space, batch, rng);
      space.fence();
      return result;
    };
    try {
      for (std::size_t i = 0; i < checked; ++i) {
        const std::size_t k = checked == 1 ? 0 : i * (count - 1) / (checked - 1);
        const double original = parameters[k], h = 1e-5 * std::max(1.0, std::abs(original));
        const double numeric = (at(k, original + h) - at(k, original - h)) / (2 * h);
        at(k, original);
        const double error = std::abs(gradient[k] - numeric) / std::max({std::abs(gradient[k]), std::abs(numeric), 1e-3});
        if (!(error <= 1e-5))
          report.fail(concat("parameter ", k, ": value_and_gradient gives ", gradient[k], ", central differences of value ",
                             numeric, " (relative error ", error, ")"));
      }
    } catch (const std::exception& error) {
      report.fail(concat("value at perturbed parameters threw \"", error.what(), "\""));
    }
    for (std::size_t k = 0; k < count; ++k) host(k) = parameters[k];
    Kokkos::deep_copy(estimator.parameters(), host);
  }

  // Wrong batches → DimensionMismatch from all three members; an empty one → InvalidArgument.
  const auto wrong = [&](const char* what, const Batch& bad) {
    VectorType out(label("testing", "check_loss", "per_row_bad"), bad.rows());
    const char* const expected = "osbi::DimensionMismatch";
    if (std::string e = expect_throw<DimensionMismatch>(
            space, expected, [&] { loss.value_and_gradient(estimator, space, bad, rng); });
        !e.empty())
      report.fail(concat("value_and_gradient of a batch with ", what, " ", e));
    if (std::string e = expect_throw<DimensionMismatch>(space, expected, [&] { loss.value(estimator, space, bad, rng); });
        !e.empty())
      report.fail(concat("value of a batch with ", what, " ", e));
    if (std::string e = expect_throw<DimensionMismatch>(
            space, expected, [&] { loss.per_row(estimator, space, bad, rng, out); });
        !e.empty())
      report.fail(concat("per_row of a batch with ", what, " ", e));
  };
  {
    Batch bad = batch;
    bad.theta = MatrixType(label("testing", "check_loss", "wide_theta"), n, d + 1);
    wrong("θ one column too wide", bad);
  }
  {
    Batch bad = batch;
    bad.x = MatrixType(label("testing", "check_loss", "wide_x"), n, c + 1);
    wrong("x one column too wide", bad);
  }
  {
    Batch bad = batch;
    bad.x = MatrixType(label("testing", "check_loss", "long_x"), n + 1, c);
    wrong("x one row longer than θ", bad);
  }
  {
    Batch bad = batch;
    VectorType weights(label("testing", "check_loss", "long_weights"), n + 1);
    Kokkos::deep_copy(weights, Scalar(1));
    bad.weights = weights;
    wrong("one weight too many", bad);
  }
  {
    Batch empty = batch;
    empty.theta = MatrixType(label("testing", "check_loss", "empty_theta"), 0, d);
    empty.x = MatrixType(label("testing", "check_loss", "empty_x"), 0, c);
    empty.weights = {};
    if (batch.proposal_log_prob.data())
      empty.proposal_log_prob = Kokkos::subview(batch.proposal_log_prob, std::make_pair(std::size_t(0), std::size_t(0)));
    if (batch.round.data()) empty.round = Kokkos::subview(batch.round, std::make_pair(std::size_t(0), std::size_t(0)));
    if (batch.arrival.data()) empty.arrival = Kokkos::subview(batch.arrival, std::make_pair(std::size_t(0), std::size_t(0)));
    if (batch.uses.data()) empty.uses = Kokkos::subview(batch.uses, std::make_pair(std::size_t(0), std::size_t(0)));
    const char* const expected = "osbi::InvalidArgument";
    if (std::string e = expect_throw<InvalidArgument>(
            space, expected, [&] { loss.value_and_gradient(estimator, space, empty, rng); });
        !e.empty())
      report.fail(concat("value_and_gradient of an empty batch ", e));
    if (std::string e = expect_throw<InvalidArgument>(space, expected, [&] { loss.value(estimator, space, empty, rng); });
        !e.empty())
      report.fail(concat("value of an empty batch ", e));
  }
  return report;
}

/// check_loss on n rows it makes: x ~ N(0, 1) from `seed`, θ drawn from the estimator, no weights, the metadata
/// of prior draws (proposal_log_prob 0, round 0, arrival = row index, uses 1).
template <class L, Estimator E>
  requires Loss<L, E>
ConformanceReport check_loss(L& loss, E& estimator, std::uint64_t seed = 1, std::size_t n = 32) {
  using Scalar = typename E::scalar_type;
  using Space = typename E::execution_space;
  using Index = Kokkos::View<std::uint64_t*, typename Space::memory_space>;
  const Space space;
  const std::size_t c = estimator.context_dim();
  const RandomStream stream(seed, streams::testing_batch);
  const Matrix<Scalar, Space> x =
      conformance_detail::device_matrix<Scalar, Space>(conformance_detail::normal_values(n, c, stream.at(0)), n, c,
                                                       "check_loss_x");
  Matrix<Scalar, Space> theta(label("testing", "check_loss", "theta"), n, estimator.theta_dim());
  try {
    estimator.sample(space, x, stream.at(1), theta);
  } catch (const std::exception& error) {
    ConformanceReport report;
    report.fail(osbi::detail::concat("the estimator's sample threw \"", error.what(), "\"; check_loss draws its batch"));
    return report;
  }
  Vector<double, Space> proposal_log_prob(label("testing", "check_loss", "proposal_log_prob"), n);
  Index round(label("testing", "check_loss", "round"), n), arrival(label("testing", "check_loss", "arrival"), n),
      uses(label("testing", "check_loss", "uses"), n);
  Kokkos::parallel_for(
      "osbi::testing::check_loss::metadata", Kokkos::RangePolicy<Space>(space, 0, n), KOKKOS_LAMBDA(const std::size_t i) {
        arrival(i) = i;
        uses(i) = 1;
      });
  space.fence();
  TrainingBatch<Scalar, Space> batch;
  batch.theta = theta;
  batch.x = x;
  batch.proposal_log_prob = proposal_log_prob;
  batch.round = round;
  batch.arrival = arrival;
  batch.uses = uses;
  return check_loss(loss, estimator, batch, seed);
}

} // namespace osbi::testing
