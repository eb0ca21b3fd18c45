// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_proposal(p): run-time conformance check of a Proposal model against the spec in osbi/proposal/proposal.hpp.
#pragma once

#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/detail/conformance.hpp>

#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace osbi::testing {

/*
 * check_proposal(proposal, seed, n) — what check_prior checks, less the support (a proposal need not name one):
 * each violated promise of the Proposal spec (osbi/proposal/proposal.hpp) adds one readable line to the report.
 *
 *   dim() > 0;
 *   n samples (seed's batch 0) fill a NaN-filled θ with finite values; log_prob is finite at every sample;
 *   log_prob is NaN for a row whose θ[0] is NaN and for a row of NaN;
 *   sampling twice with the same BatchRandom gives identical bits; a smaller batch gives the same first rows
 *     (row i depends on rng.row(i) only); another BatchRandom gives other samples; not all rows are equal;
 *   a θ of wrong width → DimensionMismatch from sample and from log_prob; an out of wrong length →
 *     DimensionMismatch from log_prob; empty batches are accepted;
 *   a VersionedProposal reports the same round() twice while nothing updates it.
 * The wrong-shape views are laid over a buffer large enough for the right shape, so a model that forgets a check
 * and writes anyway cannot corrupt memory. Statistical correctness is for the model's own tests.
 */
template <Proposal P>
ConformanceReport check_proposal(const P& proposal, std::uint64_t seed = 1, std::size_t n = 4096) {
  using Scalar = typename P::scalar_type;
  using Space = typename P::execution_space;
  using MatrixType = Matrix<Scalar, Space>;
  using VectorType = Vector<Scalar, Space>;
  using namespace conformance_detail;
  using osbi::detail::concat;
  const Scalar not_a_number = std::numeric_limits<Scalar>::quiet_NaN();

  ConformanceReport report;
  const Space space;
  const auto dim = static_cast<std::size_t>(proposal.dim());
  if (dim == 0) {
    report.fail("dim() is 0; a proposal draws at least one parameter");
    return report;
  }
  if (n < 2) n = 2;

  const RandomStream stream(seed, streams::testing_samples);
  const auto draw = [&](std::size_t rows, BatchRandom rng) {
    MatrixType theta(label("testing", "check_proposal", "theta"), rows, dim);
    Kokkos::deep_copy(theta, not_a_number);
    proposal.sample(space, rng, theta);
    space.fence();
    return host_values(theta);
  };
  const auto evaluate = [&](const std::vector<double>& rows) {
    const MatrixType theta = device_matrix<Scalar, Space>(rows, rows.size() / dim, dim, "check_proposal_theta");
    VectorType out(label("testing", "check_proposal", "log_prob"), rows.size() / dim);
    Kokkos::deep_copy(out, not_a_number);
    proposal.log_prob(space, theta, out);
    space.fence();
    return host_values(out);
  };

  // Samples and their log densities.
  std::vector<double> samples;
  try {
    samples = draw(n, stream.at(0));
  } catch (const std::exception& error) {
    report.fail(concat("sample(space, rng, theta) with a ", n, " x ", dim, " theta threw \"", error.what(), "\""));
    return report;
  }
  if (const std::size_t bad = first_non_finite(samples); bad != none)
    report.fail(concat("sample left a non-finite value in a NaN-filled theta (", where(samples, bad, dim), ")"));
  try {
    const std::vector<double> values = evaluate(samples);
    if (const std::size_t bad = first_non_finite(values); bad != none)
      report.fail(concat("log_prob is not finite at a sample (row ", bad, ": ", values[bad], ")"));
    std::vector<double> nan_rows(samples.begin(), samples.begin() + dim);
    nan_rows[0] = std::numeric_limits<double>::quiet_NaN();
    nan_rows.resize(2 * dim, std::numeric_limits<double>::quiet_NaN());
    const std::vector<double> at_nan = evaluate(nan_rows);
    if (!std::isnan(at_nan[0])) report.fail(concat("log_prob of a row whose theta[0] is NaN is ", at_nan[0], ", expected NaN"));
    if (!std::isnan(at_nan[1])) report.fail(concat("log_prob of a row of NaN is ", at_nan[1], ", expected NaN"));
  } catch (const std::exception& error) {
    report.fail(concat("log_prob threw \"", error.what(), "\""));
  }

  // Reproducibility: same BatchRandom → same bits; row i depends on rng.row(i) only; others differ.
  try {
    if (const std::size_t i = first_difference(draw(n, stream.at(0)), samples, n * dim); i != none)
      report.fail(concat("sample twice with the same BatchRandom gave different values at ", where(samples, i, dim)));
    const std::size_t fewer = n / 2 + 1;
    if (const std::size_t i = first_difference(draw(fewer, stream.at(0)), samples, fewer * dim); i != none)
      report.fail(concat("sample of ", fewer, " rows differs from the first ", fewer, " rows of a ", n,
                         "-row sample with the same BatchRandom at ", where(samples, i, dim),
                         " (row i must depend on rng.row(i) only)"));
    if (first_difference(draw(n, stream.at(1)), samples, n * dim) == none)
      report.fail("sample with two different BatchRandoms gave identical values");
  } catch (const std::exception& error) {
    report.fail(concat("repeated sample threw \"", error.what(), "\""));
  }
  bool all_equal = true;
  for (std::size_t k = dim; k < n * dim && all_equal; ++k) all_equal = same_value(samples[k], samples[k % dim]);
  if (all_equal) report.fail(concat("all ", n, " sampled rows are equal (each row must be an independent draw)"));

  // Wrong shapes → DimensionMismatch, over a buffer roomy enough for the right shape.
  constexpr std::size_t rows = 4;
  Kokkos::View<Scalar*, typename Space::memory_space> buffer(label("testing", "check_proposal", "shape_buffer"),
                                                             (rows + 1) * (dim + 2));
  const char* const expected = "osbi::DimensionMismatch";
  std::vector<std::size_t> wrong_widths{dim + 1};
  if (dim > 1) wrong_widths.push_back(dim - 1);
  for (const std::size_t width : wrong_widths) {
    const MatrixType theta(buffer.data(), rows, width);
    const VectorType out(buffer.data() + rows * (dim + 1), rows);
    if (const std::string what =
            expect_throw<DimensionMismatch>(space, expected, [&] { proposal.sample(space, stream.at(2), theta); });
        !what.empty())
      report.fail(concat("sample into a ", rows, " x ", width, " theta (dim() = ", dim, ") ", what));
    if (const std::string what =
            expect_throw<DimensionMismatch>(space, expected, [&] { proposal.log_prob(space, theta, out); });
        !what.empty())
      report.fail(concat("log_prob of a ", rows, " x ", width, " theta (dim() = ", dim, ") ", what));
  }
  for (const std::size_t length : {rows - 1, rows + 1}) {
    const MatrixType theta(buffer.data(), rows, dim);
    const VectorType out(buffer.data() + rows * dim, length);
    if (const std::string what =
            expect_throw<DimensionMismatch>(space, expected, [&] { proposal.log_prob(space, theta, out); });
        !what.empty())
      report.fail(concat("log_prob of a ", rows, " x ", dim, " theta into an out of length ", length, " ", what));
  }

  // Empty batches.
  try {
    draw(0, stream.at(3));
    evaluate({});
  } catch (const std::exception& error) {
    report.fail(concat("sample or log_prob of an empty (0 x ", dim, ") batch threw \"", error.what(), "\""));
  }

  if constexpr (VersionedProposal<P>)
    if (proposal_round(proposal) != proposal_round(proposal))
      report.fail("round() changed between two calls while nothing updated the proposal");
  return report;
}

} // namespace osbi::testing
