// SPDX-License-Identifier: BSD-3-Clause
/// \brief Calibration diagnostics on posteriors whose calibration is known in closed form: for θ ~ N(0, I₂),
/// x = θ + 0.5·ε the true posterior is N(0.8·x, 0.2·I₂); a posterior of the right mean and c times its standard
/// deviation covers its highest-density region of mass γ with probability 1 − (1 − γ)^(c²) (χ²₂ tails). Also exact
/// ranks by hand, the uniformity test's extremes, and bad input.
#include <osbi/diagnostics/calibration.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace {

namespace diagnostics = osbi::diagnostics;
using Space = Kokkos::Serial;

constexpr double noise = 0.5, gain = 1.0 / (1.0 + noise * noise);
const double posterior_sd = std::sqrt(noise * noise / (1.0 + noise * noise));

/// N(gain·x + shift·sd, (scale·sd)²·I₂): the true posterior when scale = 1 and shift = 0.
struct GaussianPosterior {
  double scale = 1, shift = 0;

  double mean(double x) const { return gain * x + shift * posterior_sd; }
  double sd() const { return scale * posterior_sd; }

  osbi::Matrix<double, Space> sample(const std::vector<double>& x0, std::size_t n, osbi::RandomStream& rng) const {
    osbi::Matrix<double, Space> out("draws", n, 2);
    const auto batch = rng.next();
    for (std::size_t j = 0; j < n; ++j) {
      auto row = batch.row(j);
      for (std::size_t d = 0; d < 2; ++d) out(j, d) = mean(x0[d]) + sd() * row.normal();
    }
    return out;
  }

  osbi::Vector<double, Space> log_prob(const osbi::ConstMatrix<double, Space>& theta, const std::vector<double>& x0) const {
    osbi::Vector<double, Space> out("log_prob", theta.extent(0));
    for (std::size_t j = 0; j < theta.extent(0); ++j) {
      double value = -2.0 * std::log(sd()) - std::log(2.0 * std::numbers::pi);
      for (std::size_t d = 0; d < 2; ++d) value -= 0.5 * std::pow((theta(j, d) - mean(x0[d])) / sd(), 2);
      out(j) = value;
    }
    return out;
  }
};

struct PriorPredictive {
  std::vector<double> theta, x;
  std::size_t rows;
};

PriorPredictive prior_predictive(std::size_t rows, std::uint64_t seed) {
  PriorPredictive out{std::vector<double>(rows * 2), std::vector<double>(rows * 2), rows};
  osbi::RandomStream rng(seed, 1);
  const auto batch = rng.next();
  for (std::size_t i = 0; i < rows; ++i) {
    auto row = batch.row(i);
    for (std::size_t d = 0; d < 2; ++d) {
      out.theta[i * 2 + d] = row.normal();
      out.x[i * 2 + d] = out.theta[i * 2 + d] + noise * row.normal();
    }
  }
  return out;
}

// 2 000 rows: the empirical coverage at any level has sd ≤ √(0.25 / 2000) = 0.011; 199 draws, so γ·(L + 1) is an
// integer at every level of coverage_levels() and a calibrated posterior's expected coverage is γ exactly.
constexpr std::size_t rows = 2'000;
constexpr diagnostics::CalibrationOptions options{.draws = 199};

diagnostics::CalibrationRanks ranks_of(const GaussianPosterior& posterior, std::uint64_t stream) {
  const auto data = prior_predictive(rows, osbi::testing::test_seed());
  GaussianPosterior copy = posterior;
  osbi::RandomStream rng(osbi::testing::test_seed(), stream);
  return diagnostics::calibration_ranks(copy, data.theta, data.x, rows, options, rng);
}

} // namespace

BOOST_AUTO_TEST_SUITE(calibration)

BOOST_AUTO_TEST_CASE(the_true_posterior_is_calibrated) {
  const auto ranks = ranks_of(GaussianPosterior{}, 2);
  BOOST_TEST(ranks.marginal.size() == rows * 2);
  BOOST_TEST(ranks.density.size() == rows);
  // 4.5 sd of the largest binomial noise; the 19 levels share it (Bonferroni: < 1e-4 false failures).
  BOOST_TEST_MESSAGE("calibrated: coverage error " << diagnostics::coverage_error(ranks));
  BOOST_TEST(diagnostics::coverage_error(ranks) < 0.05);
  for (std::size_t d = 0; d < 2; ++d) BOOST_TEST(diagnostics::rank_uniformity_pvalue(ranks.marginal_column(d), options.draws) > 1e-4);
  BOOST_TEST(diagnostics::rank_uniformity_pvalue(ranks.density, options.draws) > 1e-4);
}

BOOST_AUTO_TEST_CASE(a_too_narrow_or_too_wide_posterior_covers_as_the_chi_square_law_says) {
  const auto levels = diagnostics::coverage_levels();
  for (const double scale : {0.5, 2.0}) {
    BOOST_TEST_CONTEXT("sd × " << scale) {
      const auto ranks = ranks_of(GaussianPosterior{scale, 0.0}, 3);
      const auto coverage = diagnostics::expected_coverage(ranks, levels);
      BOOST_TEST_MESSAGE("sd × " << scale << ": coverage at 0.5 " << coverage[9] << ", error " << diagnostics::coverage_error(ranks));
      for (std::size_t k = 0; k < levels.size(); ++k) {
        const double expected = 1.0 - std::pow(1.0 - levels[k], scale * scale);
        BOOST_TEST(std::abs(coverage[k] - expected) < 0.05, "γ = " << levels[k] << ": " << coverage[k] << " vs " << expected);
      }
      BOOST_TEST(diagnostics::coverage_error(ranks) > 0.3); // at γ = 0.5: 0.159 and 0.9375
      // Too narrow: the ranks pile up at both ends; too wide: in the middle. Either way far from uniform.
      BOOST_TEST(diagnostics::rank_uniformity_pvalue(ranks.marginal_column(0), options.draws) < 1e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_biased_posterior_skews_the_marginal_ranks) {
  // Shifted up by one posterior sd: the true θ sits low among the draws, P(draw < θ) = Φ(Z − 1) on average.
  const auto ranks = ranks_of(GaussianPosterior{1.0, 1.0}, 4);
  for (std::size_t d = 0; d < 2; ++d) {
    const auto column = ranks.marginal_column(d);
    double mean = 0;
    for (const auto r : column) mean += static_cast<double>(r) / options.draws / rows;
    BOOST_TEST(mean < 0.35); // E Φ(Z − 1) = Φ(−1/√2) = 0.24
    BOOST_TEST(diagnostics::rank_uniformity_pvalue(column, options.draws) < 1e-6);
  }
}

namespace {

/// Draws j = 0 … 4 as (j, −j); log q(θ) = −θ₀².
struct FixedDraws {
  std::size_t columns = 2;
  osbi::Matrix<double, Space> sample(const std::vector<double>&, std::size_t n, osbi::RandomStream&) const {
    osbi::Matrix<double, Space> out("draws", n, columns);
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t d = 0; d < columns; ++d) out(j, d) = d == 0 ? static_cast<double>(j) : -static_cast<double>(j);
    return out;
  }
  osbi::Vector<double, Space> log_prob(const osbi::ConstMatrix<double, Space>& theta, const std::vector<double>&) const {
    osbi::Vector<double, Space> out("log_prob", theta.extent(0));
    for (std::size_t j = 0; j < theta.extent(0); ++j) out(j) = -theta(j, 0) * theta(j, 0);
    return out;
  }
};

/// FixedDraws whose normalized log_prob is out of reach (as a rejection posterior's acceptance draws would be too
/// slow) and whose log_prob_unnormalized is FixedDraws' log q minus a constant.
struct UnnormalizedOnly : FixedDraws {
  osbi::Vector<double, Space> log_prob(const osbi::ConstMatrix<double, Space>&, const std::vector<double>&) const {
    throw std::logic_error("calibration_ranks should rank by log_prob_unnormalized");
  }
  osbi::Vector<double, Space> log_prob_unnormalized(const osbi::ConstMatrix<double, Space>& theta,
                                                    const std::vector<double>& x0) const {
    auto out = FixedDraws::log_prob(theta, x0);
    for (std::size_t j = 0; j < theta.extent(0); ++j) out(j) -= 123.0;
    return out;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(ranks_and_coverage_by_hand) {
  FixedDraws posterior;
  const std::vector<double> theta{2.5, -2.5}, x{0.0};
  osbi::RandomStream rng(1);
  const auto ranks = diagnostics::calibration_ranks(posterior, theta, x, 1, {.draws = 5}, rng);
  // Draws (0,0) (1,−1) (2,−2) (3,−3) (4,−4); θ = (2.5, −2.5).
  BOOST_TEST(ranks.marginal[0] == 3u); // 0, 1, 2 below 2.5
  BOOST_TEST(ranks.marginal[1] == 2u); // −3, −4 below −2.5
  // log q: 0, −1, −4, −9, −16 for the draws, −6.25 at θ: two draws less dense, three denser.
  BOOST_TEST(ranks.density[0] == 2u);
  // θ is in the highest-density region of mass γ once the three denser draws are fewer than γ·6: γ > 1/2.
  const auto coverage = diagnostics::expected_coverage(ranks, {0.5, 0.51});
  BOOST_TEST(coverage[0] == 0.0);
  BOOST_TEST(coverage[1] == 1.0);
  // A posterior with an unnormalized density is ranked by it (UnnormalizedOnly's log_prob throws): a constant
  // changes no rank.
  UnnormalizedOnly unnormalized;
  BOOST_TEST(diagnostics::calibration_ranks(unnormalized, theta, x, 1, {.draws = 5}, rng).density[0] == 2u);
}

BOOST_AUTO_TEST_CASE(the_uniformity_test_at_its_extremes) {
  std::vector<std::uint32_t> uniform, constant(1'000, 0);
  for (int repeat = 0; repeat < 10; ++repeat)
    for (std::uint32_t r = 0; r <= 99; ++r) uniform.push_back(r);
  BOOST_TEST(diagnostics::rank_uniformity_pvalue(uniform, 99) > 0.99);
  BOOST_TEST(diagnostics::rank_uniformity_pvalue(constant, 99) < 1e-12);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
  GaussianPosterior posterior;
  osbi::RandomStream rng(1);
  std::vector<double> theta{0.1, 0.2, 0.3, 0.4}, x{0.1, 0.2, 0.3, 0.4};
  BOOST_CHECK_NO_THROW(diagnostics::calibration_ranks(posterior, theta, x, 2, {.draws = 10}, rng));
  BOOST_CHECK_THROW(diagnostics::calibration_ranks(posterior, theta, x, 3, {.draws = 10}, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW(diagnostics::calibration_ranks(posterior, theta, x, 2, {.draws = 0}, rng), osbi::InvalidArgument);
  theta[3] = std::numeric_limits<double>::quiet_NaN();
  BOOST_CHECK_THROW(diagnostics::calibration_ranks(posterior, theta, x, 2, {.draws = 10}, rng), osbi::InvalidArgument);
  // The posterior's draws have 3 columns, θ has 2.
  FixedDraws wide{3};
  const std::vector<double> two{1.0, 2.0}, one{0.0};
  BOOST_CHECK_THROW(diagnostics::calibration_ranks(wide, two, one, 1, {.draws = 4}, rng), osbi::DimensionMismatch);
  // Coverage needs density ranks; a rank cannot exceed the draws.
  FixedDraws narrow;
  const auto marginal_only = diagnostics::calibration_ranks(narrow, two, one, 1, {.draws = 4, .density_ranks = false}, rng);
  BOOST_TEST(marginal_only.density.empty());
  BOOST_CHECK_THROW(diagnostics::expected_coverage(marginal_only, {0.5}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(diagnostics::rank_uniformity_pvalue({5}, 4), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
