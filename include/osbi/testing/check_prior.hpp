// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_prior(p): run-time conformance check of a Prior model against the spec in osbi/prior/prior.hpp.
#pragma once

#include <osbi/testing/check_proposal.hpp>
#include <osbi/testing/conformance_report.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace osbi::testing {

namespace check_prior_detail {

template <class... Args>
std::string text(const Args&... args) {
  std::ostringstream stream;
  stream.precision(9);
  (stream << ... << args);
  return stream.str();
}

// All the digits of a value (a point one ulp outside a bound must not print as the bound).
inline std::string exact(double value) {
  std::ostringstream stream;
  stream.precision(17);
  stream << value;
  return stream.str();
}

// The Scalar nearest to `bound` that lies strictly below it (or above it, for direction +∞).
template <class Scalar>
Scalar just_outside(double bound, double direction) {
  Scalar value = static_cast<Scalar>(bound);
  const auto toward = static_cast<Scalar>(direction);
  while (direction < 0 ? static_cast<double>(value) >= bound : static_cast<double>(value) <= bound)
    value = std::nextafter(value, toward);
  return value;
}

} // namespace check_prior_detail

/*
 * check_prior(prior, seed, n) — checks at run time what the Prior spec (osbi/prior/prior.hpp) promises
 * and the concept cannot: each violated promise adds one readable line to the report. Call it in a
 * user's test:  BOOST_TEST(report.passed(), report.summary()).
 *
 * A prior is a proposal with a support, so this is check_proposal (dim() > 0; samples finite, log_prob finite at
 * them and NaN for NaN rows; reproducible draws, row i from rng.row(i) only; DimensionMismatch on wrong shapes;
 * empty batches) plus the support:
 *   support() has dim() entries per side, no NaN, lower <= upper;
 *   the n samples (seed's batch 0, as check_proposal draws them) lie inside support();
 *   log_prob == −∞ at the Scalar nearest each finite bound on its outer side (other coordinates from the first
 *     sample).
 * Statistical correctness (moments, densities) is for the model's own tests.
 */
template <Prior P>
ConformanceReport check_prior(const P& prior, std::uint64_t seed = 1, std::size_t n = 4096) {
  using Scalar = typename P::scalar_type;
  using Space = typename P::execution_space;
  using MatrixType = Matrix<Scalar, Space>;
  using VectorType = Vector<Scalar, Space>;
  using check_prior_detail::text;
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();

  ConformanceReport report = check_proposal(prior, seed, n);
  const Space space;
  const auto dim = static_cast<std::size_t>(prior.dim());
  if (dim == 0) return report;
  if (n < 2) n = 2;

  const SupportBounds support = prior.support();
  if (support.lower.size() != dim || support.upper.size() != dim) {
    report.fail(text("support() has ", support.lower.size(), " lower and ", support.upper.size(),
                     " upper bounds, expected dim() = ", dim));
    return report;
  }
  for (std::size_t j = 0; j < dim; ++j)
    if (!(support.lower[j] <= support.upper[j]) || support.lower[j] == infinity || support.upper[j] == -infinity)
      report.fail(
          text("support() dimension ", j, " is [", support.lower[j], ", ", support.upper[j], "], not an interval"));

  // The samples check_proposal drew: inside the support.
  std::vector<double> samples;
  try {
    MatrixType theta(label("testing", "check_prior", "samples"), n, dim);
    Kokkos::deep_copy(theta, not_a_number);
    prior.sample(space, RandomStream(seed, streams::testing_samples).at(0), theta);
    space.fence();
    samples = conformance_detail::host_values(theta);
  } catch (const std::exception&) {
    return report; // check_proposal reported it
  }
  std::size_t outside = 0;
  std::string first_outside;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < dim; ++j) {
      const double value = samples[i * dim + j];
      if (std::isfinite(value) && !(support.lower[j] <= value && value <= support.upper[j]) && outside++ == 0)
        first_outside = text("row ", i, ", theta[", j, "] = ", value, " not in [", support.lower[j], ", ", support.upper[j], "]");
    }
  if (outside > 0)
    report.fail(text("sample: ", outside, " of ", n * dim, " values lie outside support(); first: ", first_outside));

  // −∞ just outside each finite bound, the other coordinates from the first sample.
  bool first_sample_usable = true;
  for (std::size_t j = 0; j < dim; ++j)
    first_sample_usable = first_sample_usable && std::isfinite(samples[j]) && support.lower[j] <= samples[j] &&
                          samples[j] <= support.upper[j];
  if (!first_sample_usable) return report;
  std::vector<std::vector<Scalar>> rows;
  std::vector<std::string> descriptions;
  const std::vector<Scalar> base(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(dim));
  for (std::size_t j = 0; j < dim; ++j)
    for (const double direction : {-infinity, infinity}) {
      const double bound = direction < 0 ? support.lower[j] : support.upper[j];
      if (!std::isfinite(bound)) continue;
      rows.push_back(base);
      rows.back()[j] = check_prior_detail::just_outside<Scalar>(bound, direction);
      descriptions.push_back(text(direction < 0 ? "just below lower[" : "just above upper[", j, "] = ", bound, " (theta[", j,
                                  "] = ", check_prior_detail::exact(static_cast<double>(rows.back()[j])), ")"));
    }
  if (rows.empty()) return report;
  try {
    MatrixType theta(label("testing", "check_prior", "outside"), rows.size(), dim);
    VectorType out(label("testing", "check_prior", "outside_log_prob"), rows.size());
    auto theta_host = Kokkos::create_mirror_view(theta);
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t j = 0; j < dim; ++j) theta_host(i, j) = rows[i][j];
    Kokkos::deep_copy(theta, theta_host);
    Kokkos::deep_copy(out, not_a_number);
    prior.log_prob(space, theta, out);
    space.fence();
    const std::vector<double> values = conformance_detail::host_values(out);
    for (std::size_t r = 0; r < rows.size(); ++r)
      if (values[r] != -infinity) report.fail(text("log_prob ", descriptions[r], " is ", values[r], ", expected -inf"));
  } catch (const std::exception& error) {
    report.fail(text("log_prob at points outside the support threw \"", error.what(), "\""));
  }
  return report;
}

} // namespace osbi::testing
