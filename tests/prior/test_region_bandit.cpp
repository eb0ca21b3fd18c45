// SPDX-License-Identifier: BSD-3-Clause
/// \brief RegionBandit: its regions have equal prior mass (checked on fresh draws); in a region the proposal is the
/// prior restricted there (draws inside, density renormalized, conformance); UCB1 pulls every region once and then
/// mostly the one with the larger mean reward; importance weights of draws from unequal pulls recover prior
/// expectations; bad input is refused.
#include <osbi/proposal/region_bandit.hpp>
#include <osbi/testing/check_proposal.hpp>

#include <osbi/prior/box_uniform.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Prior = osbi::BoxUniform<double, Space>;
using Bandit = osbi::RegionBandit<Prior>;

static_assert(osbi::VersionedProposal<Bandit>);

// A box twice as wide in θ₀: the first split (widest in prior standard deviations: equal) and the k-d cells stay boxes.
Prior box() { return Prior({0.0, 0.0}, {2.0, 1.0}); }

} // namespace

BOOST_AUTO_TEST_SUITE(prior_region_bandit)

BOOST_AUTO_TEST_CASE(regions_have_equal_prior_mass_and_the_proposal_is_the_prior_restricted_to_one) {
  Bandit bandit(box(), {.depth = 2, .seed = osbi::testing::test_seed()});
  BOOST_TEST(bandit.regions() == 4u);
  for (const double mass : bandit.region_mass()) BOOST_TEST(std::abs(mass - 0.25) < 1e-3);
  // Fresh prior draws: each region's share within 4 standard errors (√(0.25·0.75/10⁵) ≈ 1.4e-3) of 0.25, up to the
  // splits' own error (medians of 2·10⁴ draws: ~0.4 %).
  const std::size_t n = 100'000;
  osbi::Matrix<double, Space> theta("theta", n, 2);
  box().sample(Space(), osbi::RandomStream(osbi::testing::test_seed(), 3).next(), theta);
  std::array<double, 4> share{};
  for (std::size_t i = 0; i < n; ++i) share[bandit.region_of(std::array<double, 2>{theta(i, 0), theta(i, 1)})] += 1.0 / n;
  for (const double s : share) BOOST_TEST(std::abs(s - 0.25) < 0.012);

  for (std::size_t r = 0; r < 4; ++r) {
    bandit.set_region(r);
    osbi::Matrix<double, Space> draws("draws", 2'000, 2);
    bandit.sample(Space(), osbi::RandomStream(osbi::testing::test_seed(), 10 + r).next(), draws);
    osbi::Vector<double, Space> log_q("log_q", 2'000);
    bandit.log_prob(Space(), draws, log_q);
    for (std::size_t i = 0; i < 2'000; ++i) {
      BOOST_REQUIRE(bandit.region_of(std::array<double, 2>{draws(i, 0), draws(i, 1)}) == r);
      BOOST_REQUIRE(std::abs(log_q(i) - (-std::log(2.0) - std::log(bandit.region_mass()[r]))) < 1e-12);
    }
    const auto report = osbi::testing::check_proposal(bandit, osbi::testing::test_seed());
    BOOST_TEST(report.passed(), report.summary());
  }
  // Outside the current region: −∞.
  bandit.set_region(0);
  osbi::Matrix<double, Space> far("far", 1, 2);
  far(0, 0) = 1.99, far(0, 1) = 0.99;
  osbi::Vector<double, Space> out("out", 1);
  bandit.log_prob(Space(), far, out);
  BOOST_TEST(bandit.region_of(std::array<double, 2>{1.99, 0.99}) != 0u);
  BOOST_TEST(out(0) == -HUGE_VAL);
  BOOST_TEST(bandit.fallbacks() == 0u);
}

BOOST_AUTO_TEST_CASE(ucb_pulls_every_region_once_then_mostly_the_better_one, *boost::unit_test::label("statistical")) {
  Bandit bandit(box(), {.depth = 1, .seed = osbi::testing::test_seed()});
  osbi::RandomStream rng(osbi::testing::test_seed(), 21);
  std::array<std::size_t, 2> first{};
  std::array<std::size_t, 2> pulls{};
  const std::array<double, 2> success{0.2, 0.8};
  for (std::size_t t = 0; t < 400; ++t) {
    const std::size_t r = bandit.choose(rng.next());
    BOOST_REQUIRE(r < 2u);
    if (t < 2) ++first[r];
    ++pulls[r];
    osbi::RowRandom outcome = rng.next().row(0);
    bandit.reward(r, outcome.uniform() < success[r] ? 1.0 : 0.0);
  }
  BOOST_TEST(first[0] == 1u); // both explored before any is exploited
  BOOST_TEST(first[1] == 1u);
  BOOST_TEST(bandit.round() == 400u);
  BOOST_TEST(bandit.pulls()[1] == pulls[1]);
  // UCB1's regret is logarithmic: the worse arm gets O(ln t / Δ²) pulls — about 8 ln 400 / 0.36 ≈ 130 at most by
  // Auer et al.'s bound, far fewer in practice.
  BOOST_TEST(pulls[1] > 300u, "pulls of the better region: " << pulls[1]);
}

BOOST_AUTO_TEST_CASE(importance_weights_of_unequal_pulls_recover_prior_expectations, *boost::unit_test::label("statistical")) {
  Bandit bandit(box(), {.depth = 2, .seed = osbi::testing::test_seed()});
  const std::array<std::size_t, 4> counts{100, 300, 600, 1'000};
  std::vector<double> rows;
  for (std::size_t r = 0; r < 4; ++r) {
    bandit.set_region(r);
    osbi::Matrix<double, Space> draws("draws", counts[r], 2);
    bandit.sample(Space(), osbi::RandomStream(osbi::testing::test_seed(), 40 + r).next(), draws);
    bandit.record_draws(r, counts[r]);
    for (std::size_t i = 0; i < counts[r]; ++i) rows.push_back(draws(i, 0)), rows.push_back(draws(i, 1));
  }
  const std::size_t n = rows.size() / 2;
  osbi::Matrix<double, Space> theta("theta", n, 2);
  for (std::size_t i = 0; i < n; ++i) theta(i, 0) = rows[2 * i], theta(i, 1) = rows[2 * i + 1];
  const std::vector<double> weights = bandit.importance_weights(Space(), theta);
  // Exactly P_r·N/N_r per row, so each region's rows carry total weight P_r·N: the weighted means are the prior's.
  double sum = 0, mean0 = 0, mean1 = 0;
  for (std::size_t i = 0; i < n; ++i) sum += weights[i], mean0 += weights[i] * rows[2 * i], mean1 += weights[i] * rows[2 * i + 1];
  BOOST_TEST(std::abs(sum - static_cast<double>(n)) < 1e-6 * n);
  // Within-region Monte Carlo error only: ≲ 0.01 for the smallest region's 100 draws, weighted by its 1/4.
  BOOST_TEST(std::abs(mean0 / sum - 1.0) < 0.03);
  BOOST_TEST(std::abs(mean1 / sum - 0.5) < 0.02);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
  Bandit bandit(box(), {.depth = 1});
  BOOST_CHECK_THROW(bandit.reward(0, std::nan("")), osbi::InvalidArgument);
  BOOST_CHECK_THROW(bandit.reward(2, 1.0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(bandit.set_region(2), osbi::InvalidArgument);
  bandit.record_draws(0, 10);
  osbi::Matrix<double, Space> theta("theta", 2, 2);
  theta(0, 0) = 0.1, theta(0, 1) = 0.5, theta(1, 0) = 1.9, theta(1, 1) = 0.5; // regions 0 and 1
  BOOST_TEST(bandit.region_of(std::array<double, 2>{0.1, 0.5}) != bandit.region_of(std::array<double, 2>{1.9, 0.5}));
  BOOST_CHECK_THROW(bandit.importance_weights(Space(), theta), osbi::InvalidArgument); // region 1 never drawn from
  BOOST_CHECK_THROW(Bandit(box(), {.depth = 0}), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
