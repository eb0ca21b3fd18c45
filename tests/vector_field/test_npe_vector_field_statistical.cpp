// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE with the vector field estimators (flow matching, score diffusion): trained on gaussian_linear they recover
/// the closed-form posterior; on sbibm's two_moons at 10⁴ simulations they pass C2ST ≤ 0.62 against the reference.
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/c2st_draws.hpp>
#include <support/gaussian_linear_posterior.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <string>

namespace {

using Space = Kokkos::DefaultHostExecutionSpace;

/// gaussian_linear in 3-D (posterior N(x/2, 0.05·I)) from the marginal baseline N(0, I) — so the network, not the
/// regression start, has to find the posterior — on 5 000 simulations.
template <class Estimator>
void check_gaussian_linear(const std::string& what) {
  const osbi::GaussianLinear<float, Space> task(3);
  typename Estimator::Options options;
  options.baseline = osbi::GaussianBaseline::marginal;
  options.network.seed = osbi::testing::test_seed();
  osbi::NPE npe(task.prior(), task, Estimator(3, 3, options), osbi::NpeOptions{.seed = osbi::testing::test_seed()});
  npe.simulate(5000);
  osbi::TrainingOptions training;
  training.max_epochs = 60;
  const auto start = std::chrono::steady_clock::now();
  const auto& report = npe.train(training);
  osbi::RandomStream rng(osbi::testing::test_seed(), 63);
  const auto draws = npe.sample({0.3, -0.2, 0.1}, 10'000, rng);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto moments = osbi::testing::sample_moments(draws);
  BOOST_TEST_MESSAGE(what << ": " << report.epochs << " epochs in " << seconds << " s; mean " << moments.mean[0] << ", "
                          << moments.mean[1] << ", " << moments.mean[2] << "; variances " << moments.covariance[0][0]
                          << ", " << moments.covariance[1][1] << ", " << moments.covariance[2][2]);
  // As the NSF's test (tests/flow/test_nsf.cpp): 0.06 on the mean, 0.02 on the covariance — the estimation error of a
  // few thousand pairs; the sampling error of 10 000 draws is 0.002 and 0.0007.
  const double expected_mean[3] = {0.15, -0.10, 0.05};
  for (int j = 0; j < 3; ++j) {
    BOOST_TEST(std::abs(moments.mean[j] - expected_mean[j]) <= 0.06);
    for (int k = 0; k < 3; ++k) BOOST_TEST(std::abs(moments.covariance[j][k] - (j == k ? 0.05 : 0.0)) <= 0.02);
  }
}

/// two_moons at 10⁴ simulations with the sbi-default network, the estimator's default sampler and its default
/// training (sbi's recipe with the parameters' moving average, train/parameter_average.hpp); C2ST against the reference
/// posterior of observation 1. The bar, 0.58 (the 0.62 tightened): with the average both measure 0.50–0.52
/// (the NSF test: 0.567); without it FMPE measured 0.596 here and 0.67–0.70 at observations 1–10 (bench/sbibm).
template <class Estimator>
double two_moons_c2st(const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  const osbi::TwoMoons<float, Space> task;
  const std::uint64_t seed = osbi::testing::test_seed();
  typename Estimator::Options options;
  options.network.seed = seed;
  osbi::NPE npe(task.prior(), task, Estimator(2, 2, options), osbi::NpeOptions{.seed = seed});
  const auto score = osbi::testing::two_moons_c2st(npe, seed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(what << " two_moons, 10 000 simulations: " << score.epochs << " epochs, C2ST " << score.c2st
                          << ", " << seconds << " s");
  return score.c2st;
}

} // namespace

BOOST_AUTO_TEST_SUITE(npe_vector_field)

BOOST_AUTO_TEST_CASE(flow_matching_recovers_the_gaussian_linear_posterior, *boost::unit_test::label("statistical")) {
  check_gaussian_linear<osbi::FlowMatchingEstimator<float, Space>>("FMPE");
}

BOOST_AUTO_TEST_CASE(score_diffusion_recovers_the_gaussian_linear_posterior, *boost::unit_test::label("statistical")) {
  check_gaussian_linear<osbi::ScoreEstimator<float, Space>>("NPSE (VE)");
}

BOOST_AUTO_TEST_CASE(flow_matching_passes_c2st_on_two_moons, *boost::unit_test::label("statistical")) {
  const double accuracy = two_moons_c2st<osbi::FlowMatchingEstimator<float, Space>>("FMPE");
  BOOST_TEST(accuracy <= 0.58);
}

BOOST_AUTO_TEST_CASE(score_diffusion_passes_c2st_on_two_moons, *boost::unit_test::label("statistical")) {
  const double accuracy = two_moons_c2st<osbi::ScoreEstimator<float, Space>>("NPSE (VE)");
  BOOST_TEST(accuracy <= 0.58);
}

BOOST_AUTO_TEST_SUITE_END()
