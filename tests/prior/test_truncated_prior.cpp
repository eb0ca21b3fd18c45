// SPDX-License-Identifier: BSD-3-Clause
/// \brief TruncatedPrior (TSNPE's proposal): before a refresh it is the prior; a refresh from a Gaussian posterior
/// gives a box holding its highest-probability region; draws stay in the box, the density is the prior's
/// renormalized by the box's mass (checked against the exact normal mass), copies share refreshes, and a box the
/// prior almost never reaches falls back to the prior.
#include <osbi/proposal/truncated_prior.hpp>

#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Prior = osbi::Gaussian<double, Space>;
using Truncated = osbi::TruncatedPrior<Prior>;

static_assert(osbi::VersionedProposal<Truncated>);

/// q(θ | x₀) = N(center, sd²·I₂), whatever x₀.
struct GaussianPosterior {
  double center = 0.5, sd = 0.1;
  osbi::Matrix<double, Space> sample(const std::vector<double>&, std::size_t n, osbi::RandomStream& rng) const {
    osbi::Matrix<double, Space> out("draws", n, 2);
    const auto batch = rng.next();
    for (std::size_t i = 0; i < n; ++i) {
      auto row = batch.row(i);
      for (std::size_t j = 0; j < 2; ++j) out(i, j) = center + sd * row.normal();
    }
    return out;
  }
  osbi::Vector<double, Space> log_prob(const osbi::ConstMatrix<double, Space>& theta, const std::vector<double>&) const {
    osbi::Vector<double, Space> out("log_prob", theta.extent(0));
    for (std::size_t i = 0; i < theta.extent(0); ++i) {
      double value = -2 * std::log(sd) - std::log(2 * std::numbers::pi);
      for (std::size_t j = 0; j < 2; ++j) value -= 0.5 * std::pow((theta(i, j) - center) / sd, 2);
      out(i) = value;
    }
    return out;
  }
};

Prior standard() { return Prior::diagonal({0.0, 0.0}, {1.0, 1.0}); }

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

} // namespace

BOOST_AUTO_TEST_SUITE(truncated_prior)

BOOST_AUTO_TEST_CASE(before_a_refresh_it_is_the_prior) {
  const Truncated truncated(standard());
  const Prior prior = standard();
  BOOST_TEST(truncated.round() == 0u);
  osbi::Matrix<double, Space> a("a", 50, 2), b("b", 50, 2);
  const osbi::RandomStream rng(osbi::testing::test_seed());
  truncated.sample(Space(), rng.at(0), a);
  prior.sample(Space(), rng.at(0), b);
  for (std::size_t i = 0; i < 50; ++i)
    for (std::size_t j = 0; j < 2; ++j) BOOST_TEST(a(i, j) == b(i, j));
}

BOOST_AUTO_TEST_CASE(a_refresh_boxes_the_highest_probability_region_and_renormalizes) {
  Truncated truncated(standard());
  GaussianPosterior posterior;
  osbi::RandomStream rng(osbi::testing::test_seed(), 1);
  BOOST_TEST(truncated.refresh(posterior, {0.0}, rng) == 1u);
  const auto lower = truncated.lower(), upper = truncated.upper();
  for (std::size_t j = 0; j < 2; ++j) {
    // 10⁴ draws, the 1e-4 quantile of log q: the box spans the draws (about ±4 sd), plus a 10 % margin.
    BOOST_TEST(lower[j] < 0.5 - 3.5 * 0.1);
    BOOST_TEST(lower[j] > 0.5 - 6.0 * 0.1);
    BOOST_TEST(upper[j] > 0.5 + 3.5 * 0.1);
    BOOST_TEST(upper[j] < 0.5 + 6.0 * 0.1);
  }
  // log p(B) against the exact mass of the standard normal on the box (10⁵ draws: relative sd ≈ 1 %).
  const double exact = (normal_cdf(upper[0]) - normal_cdf(lower[0])) * (normal_cdf(upper[1]) - normal_cdf(lower[1]));
  BOOST_TEST(std::abs(truncated.log_mass() - std::log(exact)) < 0.05);
  // Every draw inside the box; the density is the prior's minus log p(B) inside, −∞ outside.
  osbi::Matrix<double, Space> theta("theta", 2'000, 2);
  truncated.sample(Space(), rng.next(), theta);
  std::size_t outside = 0;
  for (std::size_t i = 0; i < 2'000; ++i)
    for (std::size_t j = 0; j < 2; ++j) outside += theta(i, j) < lower[j] || theta(i, j) > upper[j];
  BOOST_TEST(outside == 0u);
  osbi::Matrix<double, Space> points("points", 2, 2);
  points(0, 0) = points(0, 1) = 0.5;  // the centre
  points(1, 0) = points(1, 1) = -1.0; // outside the box
  osbi::Vector<double, Space> truncated_lp("truncated_lp", 2), prior_lp("prior_lp", 2);
  truncated.log_prob(Space(), points, truncated_lp);
  standard().log_prob(Space(), points, prior_lp);
  BOOST_TEST(std::abs(truncated_lp(0) - (prior_lp(0) - truncated.log_mass())) < 1e-12);
  BOOST_TEST(truncated_lp(1) == -std::numeric_limits<double>::infinity());
  BOOST_TEST(truncated.fallbacks() == 0u);
}

BOOST_AUTO_TEST_CASE(copies_share_refreshes) {
  Truncated mine(standard());
  const Truncated pipelines_copy = mine; // what a pipeline keeps
  GaussianPosterior posterior;
  osbi::RandomStream rng(osbi::testing::test_seed(), 2);
  mine.refresh(posterior, {0.0}, rng);
  mine.refresh(posterior, {0.0}, rng);
  BOOST_TEST(pipelines_copy.round() == 2u);
  BOOST_TEST(pipelines_copy.lower() == mine.lower());
}

BOOST_AUTO_TEST_CASE(a_box_the_prior_almost_never_reaches_falls_back_to_the_prior) {
  Truncated truncated(standard(), osbi::TruncationOptions{.max_attempts = 3});
  GaussianPosterior far{8.0, 0.01}; // the box lies 8 prior sd out: P(a draw lands in it) ≈ 1e-20
  osbi::RandomStream rng(osbi::testing::test_seed(), 3);
  truncated.refresh(far, {0.0}, rng);
  osbi::Matrix<double, Space> theta("theta", 100, 2);
  truncated.sample(Space(), rng.next(), theta);
  BOOST_TEST(truncated.fallbacks() == 100u);
  for (std::size_t i = 0; i < 100; ++i) BOOST_TEST(std::isfinite(theta(i, 0)));
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  BOOST_CHECK_THROW(Truncated(standard(), osbi::TruncationOptions{.quantile = 1.0}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Truncated(standard(), osbi::TruncationOptions{.margin = -1.0}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Truncated(standard(), osbi::TruncationOptions{.posterior_draws = 1}), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
