// SPDX-License-Identifier: BSD-3-Clause
/// \brief LossDrivenProposal (Breed-like) and ProposalMixture: before an update the proposal is the prior; an update
/// keeps the highest-loss rows as parents; its log density integrates to 1 over the support (quadrature, with parents
/// on the box's edge where the truncation matters) and agrees with its draws' moments; snapshots stay frozen; the
/// mixture of versions is their draw-weighted density, and its importance weights recover prior expectations.
#include <osbi/proposal/loss_driven.hpp>
#include <osbi/proposal/proposal_mixture.hpp>
#include <osbi/testing/check_proposal.hpp>

#include <osbi/prior/box_uniform.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Prior = osbi::BoxUniform<double, Space>;
using Breed = osbi::LossDrivenProposal<Prior>;

static_assert(osbi::VersionedProposal<Breed>);

Prior unit_square() { return Prior({0.0, 0.0}, {1.0, 1.0}); }

/// Four candidate rows, two of them the highest-loss ones, one NaN loss: parents (0.02, 0.5) on the left edge and
/// (0.7, 0.97) near the top edge, where the kernels lose mass outside the box.
struct Candidates {
  std::vector<double> theta{0.5, 0.5, 0.02, 0.5, 0.3, 0.3, 0.7, 0.97, 0.9, 0.1};
  std::vector<double> losses{1.0, 5.0, 0.5, 4.0, std::nan("")};
};

std::vector<double> log_prob_at(const Breed& proposal, const std::vector<double>& points) {
  const std::size_t n = points.size() / 2;
  osbi::Matrix<double, Space> theta("theta", n, 2);
  for (std::size_t i = 0; i < n; ++i) theta(i, 0) = points[2 * i], theta(i, 1) = points[2 * i + 1];
  osbi::Vector<double, Space> out("out", n);
  proposal.log_prob(Space(), theta, out);
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = out(i);
  return values;
}

/// Midpoint-rule integral of exp(log q)·f over the unit square on a 400 × 400 grid (σ = 0.1 × 0.289: ~12 cells per σ).
template <class F>
double integral(const Breed& proposal, F f) {
  constexpr std::size_t m = 400;
  const double h = 1.0 / m;
  std::vector<double> points;
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = 0; b < m; ++b) points.push_back((a + 0.5) * h), points.push_back((b + 0.5) * h);
  const std::vector<double> values = log_prob_at(proposal, points);
  double sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += std::exp(values[i]) * f(points[2 * i], points[2 * i + 1]);
  return sum * h * h;
}

} // namespace

BOOST_AUTO_TEST_SUITE(prior_loss_driven_proposal)

BOOST_AUTO_TEST_CASE(before_an_update_it_is_the_prior_and_an_update_keeps_the_highest_losses) {
  Breed proposal(unit_square(), {.parents = 2});
  BOOST_TEST(proposal.round() == 0u);
  const auto before = log_prob_at(proposal, {0.25, 0.75, 0.9, 0.1});
  BOOST_TEST(before[0] == 0.0); // log 1: the unit square's uniform density
  BOOST_TEST(before[1] == 0.0);
  auto report = osbi::testing::check_proposal(proposal, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());

  const Candidates candidates;
  BOOST_TEST(proposal.update(candidates.theta, candidates.losses) == 1u);
  BOOST_TEST(proposal.round() == 1u);
  BOOST_TEST(proposal.parents() == (std::vector<double>{0.02, 0.5, 0.7, 0.97}), boost::test_tools::per_element());
  const double sd = 1 / std::sqrt(12.0);
  for (const double s : proposal.kernel_sigma()) BOOST_TEST(std::abs(s / (0.1 * sd) - 1) < 0.03); // 10⁴ draws' sd
  report = osbi::testing::check_proposal(proposal, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());

  // Outside the support: −∞; all-NaN losses change nothing.
  BOOST_TEST(log_prob_at(proposal, {1.5, 0.5})[0] == -HUGE_VAL);
  BOOST_TEST(proposal.update({0.5, 0.5}, {std::nan("")}) == 1u);
  BOOST_CHECK_THROW(proposal.update({0.5}, {1.0}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(proposal.update({1.5, 0.5}, {1.0}), osbi::InvalidArgument); // a parent outside the support
  BOOST_CHECK_THROW(Breed(unit_square(), {.prior_fraction = 1.5}), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(the_density_integrates_to_one_and_matches_its_draws, *boost::unit_test::label("statistical")) {
  Breed proposal(unit_square(), {.prior_fraction = 0.3, .parents = 2});
  const Candidates candidates;
  proposal.update(candidates.theta, candidates.losses);
  // Quadrature error of the midpoint rule at 12 cells per σ is far below 1e-3; truncation left out would miss ~25 %
  // of the edge kernels' mass (0.02 is 0.7 σ from the edge), i.e. ~0.1 of the total.
  BOOST_TEST(std::abs(integral(proposal, [](double, double) { return 1.0; }) - 1) < 1e-3);

  const std::size_t n = 200'000;
  osbi::Matrix<double, Space> theta("theta", n, 2);
  proposal.sample(Space(), osbi::RandomStream(osbi::testing::test_seed(), 5).next(), theta);
  double mean0 = 0, mean1 = 0, near_left = 0;
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_REQUIRE(theta(i, 0) >= 0 && theta(i, 0) <= 1 && theta(i, 1) >= 0 && theta(i, 1) <= 1);
    mean0 += theta(i, 0), mean1 += theta(i, 1), near_left += theta(i, 0) < 0.1 ? 1 : 0;
  }
  mean0 /= n, mean1 /= n, near_left /= n;
  // Standard errors: means ~0.3/√n ≈ 7e-4, the fraction ~√(0.4·0.6/n) ≈ 1.1e-3; tolerances 4 of those.
  BOOST_TEST(std::abs(mean0 - integral(proposal, [](double a, double) { return a; })) < 3e-3);
  BOOST_TEST(std::abs(mean1 - integral(proposal, [](double, double b) { return b; })) < 3e-3);
  BOOST_TEST(std::abs(near_left - integral(proposal, [](double a, double) { return a < 0.1 ? 1.0 : 0.0; })) < 4.5e-3);
  BOOST_TEST(near_left > 0.3); // the left-edge parent draws a third of the rows there (the prior alone: 0.1)
  BOOST_TEST(proposal.fallbacks() == 0u);
}

BOOST_AUTO_TEST_CASE(a_snapshot_stays_frozen_while_copies_share_updates) {
  Breed proposal(unit_square(), {.parents = 2});
  const Breed copy = proposal;
  const Breed frozen = proposal.snapshot();
  const Candidates candidates;
  proposal.update(candidates.theta, candidates.losses);
  BOOST_TEST(copy.round() == 1u);
  BOOST_TEST(frozen.round() == 0u);
  BOOST_TEST(log_prob_at(frozen, {0.02, 0.5})[0] == 0.0);
  BOOST_TEST(log_prob_at(copy, {0.02, 0.5})[0] > 1.0); // a parent: far above the uniform density
}

BOOST_AUTO_TEST_CASE(the_mixture_is_the_draw_weighted_density_and_its_weights_recover_prior_expectations,
                     *boost::unit_test::label("statistical")) {
  Breed proposal(unit_square(), {.prior_fraction = 0.2, .parents = 2});
  osbi::ProposalMixture<Breed> mixture;
  const std::size_t first = 1'000, second = 3'000;
  mixture.add(proposal.snapshot(), first);
  const Candidates candidates;
  proposal.update(candidates.theta, candidates.losses);
  mixture.add(proposal.snapshot(), second);
  BOOST_TEST(mixture.components() == 2u);
  BOOST_TEST(mixture.total_draws() == first + second);

  osbi::Matrix<double, Space> point("point", 1, 2);
  point(0, 0) = 0.05, point(0, 1) = 0.45;
  osbi::Vector<double, Space> out("out", 1);
  mixture.log_prob(Space(), point, out);
  const double q2 = std::exp(log_prob_at(proposal, {0.05, 0.45})[0]);
  BOOST_TEST(std::abs(out(0) - std::log(0.25 * 1.0 + 0.75 * q2)) < 1e-12);

  // Draws of both versions (1 000 prior, 3 000 loss-driven), weighted by p/q̄: the self-normalized mean of θ₀ and of
  // θ₀ < 0.1 estimate the prior's (0.5 and 0.1). Standard errors ~0.01 and ~0.006 at an effective size near 2 000.
  osbi::Matrix<double, Space> draws("draws", first + second, 2), head("head", first, 2), tail("tail", second, 2);
  osbi::RandomStream rng(osbi::testing::test_seed(), 9);
  unit_square().sample(Space(), rng.next(), head);
  proposal.sample(Space(), rng.next(), tail);
  for (std::size_t i = 0; i < first + second; ++i)
    for (std::size_t j = 0; j < 2; ++j) draws(i, j) = i < first ? head(i, j) : tail(i - first, j);
  const std::vector<double> weights = mixture.importance_weights(unit_square(), Space(), draws);
  double sum = 0, square = 0, mean = 0, left = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    sum += weights[i], square += weights[i] * weights[i];
    mean += weights[i] * draws(i, 0), left += weights[i] * (draws(i, 0) < 0.1 ? 1.0 : 0.0);
  }
  BOOST_TEST_MESSAGE("effective sample size " << sum * sum / square << " of " << weights.size());
  BOOST_TEST(std::abs(mean / sum - 0.5) < 0.04);
  BOOST_TEST(std::abs(left / sum - 0.1) < 0.025);
}

BOOST_AUTO_TEST_SUITE_END()
