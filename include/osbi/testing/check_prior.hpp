// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_prior(p): run-time conformance check of a Prior model against the spec in osbi/prior/prior.hpp.
#pragma once

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

// Calls `call`, which must throw DimensionMismatch; returns "" if it did, else what happened instead.
template <class Space, class Call>
std::string expect_dimension_mismatch(const Space& space, Call&& call) {
  try {
    call();
  } catch (const DimensionMismatch&) {
    return "";
  } catch (const std::exception& error) {
    return text("threw \"", error.what(), "\" instead of osbi::DimensionMismatch");
  } catch (...) {
    return "threw a non-std::exception instead of osbi::DimensionMismatch";
  }
  space.fence(); // it launched: let its kernel end before the views go away
  return "did not throw osbi::DimensionMismatch";
}

} // namespace check_prior_detail

/*
 * check_prior(prior, seed, n) — checks at run time what the Prior spec (osbi/prior/prior.hpp) promises
 * and the concept cannot: each violated promise adds one readable line to the report. Call it in a
 * user's test:  BOOST_TEST(report.passed(), report.summary()).
 *
 *   dim() > 0; support() has dim() entries per side, no NaN, lower <= upper;
 *   n samples (seed's batch 0) are finite and inside support(); log_prob is finite at every sample;
 *   log_prob == −∞ at the Scalar nearest each finite bound on its outer side (other coordinates from
 *     the first sample); log_prob is NaN for a row holding a NaN;
 *   sampling twice with the same BatchRandom gives identical bits; a smaller batch gives the same first
 *     rows (row i depends on rng.row(i) only); another BatchRandom gives different samples; not all
 *     rows are equal;
 *   a theta of wrong width → DimensionMismatch from sample and from log_prob; an out of wrong length →
 *     DimensionMismatch from log_prob; empty batches are accepted.
 * The wrong-shape views are laid over a buffer large enough for the right shape, so a model that
 * forgets a check and writes anyway cannot corrupt memory (it is reported, not crashed on).
 * Statistical correctness (moments, densities) is for the model's own tests.
 */
template <Prior P>
ConformanceReport check_prior(const P& prior, std::uint64_t seed = 1, std::size_t n = 4096) {
  using Scalar = typename P::scalar_type;
  using Space = typename P::execution_space;
  using MatrixType = Matrix<Scalar, Space>;
  using VectorType = Vector<Scalar, Space>;
  using HostMatrix = Kokkos::View<Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace>;
  using check_prior_detail::text;
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();

  ConformanceReport report;
  const Space space;
  const auto dim = static_cast<std::size_t>(prior.dim());
  if (dim == 0) {
    report.fail("dim() is 0; a prior has at least one parameter");
    return report;
  }
  if (n < 2) n = 2;

  // Support.
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

  // Samples: finite, inside the support.
  const RandomStream stream(seed, streams::testing_samples);
  const auto draw = [&](std::size_t rows, BatchRandom rng, std::string_view what) -> HostMatrix {
    MatrixType theta(label("testing", "check_prior", what), rows, dim);
    Kokkos::deep_copy(theta, not_a_number);
    prior.sample(space, rng, theta);
    space.fence();
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  };
  HostMatrix samples;
  try {
    samples = draw(n, stream.at(0), "samples");
  } catch (const std::exception& error) {
    report.fail(text("sample(space, rng, theta) with a ", n, " x ", dim, " theta threw \"", error.what(), "\""));
    return report;
  }
  std::size_t not_finite = 0, outside = 0;
  std::string first_not_finite, first_outside;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < dim; ++j) {
      const double value = static_cast<double>(samples(i, j));
      if (!std::isfinite(value)) {
        if (not_finite++ == 0) first_not_finite = text("row ", i, ", theta[", j, "] = ", value);
      } else if (!(support.lower[j] <= value && value <= support.upper[j])) {
        if (outside++ == 0)
          first_outside =
              text("row ", i, ", theta[", j, "] = ", value, " not in [", support.lower[j], ", ", support.upper[j], "]");
      }
    }
  if (not_finite > 0)
    report.fail(text("sample: ", not_finite, " of ", n * dim, " values are not finite; first: ", first_not_finite));
  if (outside > 0)
    report.fail(text("sample: ", outside, " of ", n * dim, " values lie outside support(); first: ", first_outside));

  // log_prob of host rows, NaN-filled output; throws through to the caller's try.
  const auto evaluate = [&](const std::vector<std::vector<Scalar>>& rows) {
    MatrixType theta(label("testing", "check_prior", "points"), rows.size(), dim);
    VectorType out(label("testing", "check_prior", "log_prob"), rows.size());
    auto theta_host = Kokkos::create_mirror_view(theta);
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t j = 0; j < dim; ++j)
        theta_host(i, j) = rows[i][j];
    Kokkos::deep_copy(theta, theta_host);
    Kokkos::deep_copy(out, not_a_number);
    prior.log_prob(space, theta, out);
    space.fence();
    auto out_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
    return std::vector<double>(out_host.data(), out_host.data() + rows.size());
  };

  // log_prob finite at the samples.
  try {
    std::vector<std::vector<Scalar>> rows(n, std::vector<Scalar>(dim));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < dim; ++j)
        rows[i][j] = samples(i, j);
    const std::vector<double> values = evaluate(rows);
    std::size_t bad = 0;
    std::string first;
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(values[i]) && bad++ == 0) first = text("row ", i, ": ", values[i]);
    if (bad > 0) report.fail(text("log_prob is not finite at ", bad, " of ", n, " samples; first: ", first));
  } catch (const std::exception& error) {
    report.fail(text("log_prob at ", n, " samples threw \"", error.what(), "\""));
  }

  // −∞ just outside each finite bound; NaN for NaN rows. Other coordinates from the first sample.
  bool first_sample_usable = true;
  for (std::size_t j = 0; j < dim; ++j) {
    const double value = static_cast<double>(samples(0, j));
    first_sample_usable =
        first_sample_usable && std::isfinite(value) && support.lower[j] <= value && value <= support.upper[j];
  }
  if (first_sample_usable) {
    std::vector<Scalar> base(dim);
    for (std::size_t j = 0; j < dim; ++j)
      base[j] = samples(0, j);
    std::vector<std::vector<Scalar>> rows;
    std::vector<std::string> descriptions;
    for (std::size_t j = 0; j < dim; ++j) {
      if (std::isfinite(support.lower[j])) {
        rows.push_back(base);
        rows.back()[j] = check_prior_detail::just_outside<Scalar>(support.lower[j], -infinity);
        descriptions.push_back(text("just below lower[", j, "] = ", support.lower[j], " (theta[", j,
                                    "] = ", check_prior_detail::exact(static_cast<double>(rows.back()[j])), ")"));
      }
      if (std::isfinite(support.upper[j])) {
        rows.push_back(base);
        rows.back()[j] = check_prior_detail::just_outside<Scalar>(support.upper[j], infinity);
        descriptions.push_back(text("just above upper[", j, "] = ", support.upper[j], " (theta[", j,
                                    "] = ", check_prior_detail::exact(static_cast<double>(rows.back()[j])), ")"));
      }
    }
    const std::size_t outside_count = rows.size();
    rows.push_back(base);
    rows.back()[0] = not_a_number;
    descriptions.push_back("a row whose theta[0] is NaN");
    rows.push_back(std::vector<Scalar>(dim, not_a_number));
    descriptions.push_back("a row of NaN");
    try {
      const std::vector<double> values = evaluate(rows);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        if (r < outside_count && values[r] != -infinity)
          report.fail(text("log_prob ", descriptions[r], " is ", values[r], ", expected -inf"));
        if (r >= outside_count && !std::isnan(values[r]))
          report.fail(text("log_prob of ", descriptions[r], " is ", values[r], ", expected NaN"));
      }
    } catch (const std::exception& error) {
      report.fail(text("log_prob at points outside the support or with NaN threw \"", error.what(), "\""));
    }
  }

  // Reproducibility: same BatchRandom → same bits; row i depends on rng.row(i) only; others differ.
  const auto first_difference = [&](const HostMatrix& a, const HostMatrix& b, std::size_t count) -> std::string {
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t j = 0; j < dim; ++j) {
        const Scalar x = a(i, j), y = b(i, j);
        if (std::memcmp(&x, &y, sizeof(Scalar)) != 0)
          return text("row ", i, ", theta[", j, "]: ", static_cast<double>(x), " vs ", static_cast<double>(y));
      }
    return "";
  };
  try {
    const auto again = draw(n, stream.at(0), "samples_again");
    if (const std::string where = first_difference(samples, again, n); !where.empty())
      report.fail("sample twice with the same BatchRandom gave different values; first: " + where);
    const std::size_t fewer = n / 2 + 1;
    const auto prefix = draw(fewer, stream.at(0), "samples_prefix");
    if (const std::string where = first_difference(samples, prefix, fewer); !where.empty())
      report.fail(text("sample of ", fewer, " rows differs from the first ", fewer, " rows of a ", n,
                       "-row sample with the same BatchRandom (row i must depend on rng.row(i) only); first: ", where));
    const auto other = draw(n, stream.at(1), "samples_other");
    if (first_difference(samples, other, n).empty())
      report.fail("sample with two different BatchRandoms gave identical values");
  } catch (const std::exception& error) {
    report.fail(text("repeated sample threw \"", error.what(), "\""));
  }
  bool rows_equal = true;
  for (std::size_t i = 1; i < n && rows_equal; ++i)
    for (std::size_t j = 0; j < dim && rows_equal; ++j)
      rows_equal = samples(i, j) == samples(0, j);
  if (rows_equal) report.fail(text("all ", n, " sampled rows are equal (each row must be an independent draw)"));

  // Wrong shapes → DimensionMismatch. Views over a buffer roomy enough for the right shape.
  constexpr std::size_t rows = 4;
  Kokkos::View<Scalar*, typename Space::memory_space> buffer(label("testing", "check_prior", "shape_buffer"),
                                                             (rows + 1) * (dim + 2));
  std::vector<std::size_t> wrong_widths{dim + 1};
  if (dim > 1) wrong_widths.push_back(dim - 1);
  for (const std::size_t width : wrong_widths) {
    const MatrixType theta(buffer.data(), rows, width);
    const VectorType out(buffer.data() + rows * (dim + 1), rows);
    if (const std::string what =
            check_prior_detail::expect_dimension_mismatch(space, [&] { prior.sample(space, stream.at(2), theta); });
        !what.empty())
      report.fail(text("sample into a ", rows, " x ", width, " theta (dim() = ", dim, ") ", what));
    if (const std::string what =
            check_prior_detail::expect_dimension_mismatch(space, [&] { prior.log_prob(space, theta, out); });
        !what.empty())
      report.fail(text("log_prob of a ", rows, " x ", width, " theta (dim() = ", dim, ") ", what));
  }
  for (const std::size_t length : {rows - 1, rows + 1}) {
    const MatrixType theta(buffer.data(), rows, dim);
    const VectorType out(buffer.data() + rows * dim, length);
    if (const std::string what =
            check_prior_detail::expect_dimension_mismatch(space, [&] { prior.log_prob(space, theta, out); });
        !what.empty())
      report.fail(text("log_prob of a ", rows, " x ", dim, " theta into an out of length ", length, " ", what));
  }

  // Empty batches.
  try {
    const MatrixType theta(label("testing", "check_prior", "empty"), 0, dim);
    const VectorType out(label("testing", "check_prior", "empty_log_prob"), 0);
    prior.sample(space, stream.at(3), theta);
    prior.log_prob(space, theta, out);
    space.fence();
  } catch (const std::exception& error) {
    report.fail(text("sample or log_prob of an empty (0 x ", dim, ") batch threw \"", error.what(), "\""));
  }
  return report;
}

} // namespace osbi::testing
