// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE end to end on gaussian_linear, where the posterior is known: a LinearGaussian density
/// (the exact posterior family) must recover mean x₀/2 and covariance 0.05·I; and the accounting and
/// input checks of the recipe.
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/prior/box_uniform.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/csv.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using Space = Kokkos::DefaultHostExecutionSpace;

} // namespace

BOOST_AUTO_TEST_SUITE(npe)

BOOST_AUTO_TEST_CASE(gaussian_linear_posterior_matches_the_closed_form) {
  const osbi::GaussianLinear<double, Space> task;
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(10, 10), osbi::NpeOptions{.seed = osbi::testing::test_seed()});
  const auto counts = npe.simulate(20'000);
  BOOST_TEST(counts.ok == 20'000u);
  osbi::TrainingOptions options;
  options.learning_rate = 1e-3;
  options.max_epochs = 400;
  const auto& report = npe.train(options);
  BOOST_TEST_MESSAGE("gaussian_linear NPE: " << report.epochs << " epochs, best " << report.best_epoch << ", val "
                                             << report.best_validation_loss);
  BOOST_TEST(report.rows_train + report.rows_validation + report.rows_dropped == 20'000u);
  BOOST_TEST(report.rows_validation == 2'000u);
  // Expected NLL under the true posterior N(x/2, 0.05 I): 10·(½ log(2π·0.05) + ½) = −0.786; 2 000
  // validation rows give it a standard error of ≈ 0.05, so within 0.1 means a near-exact fit.
  const double expected_nll = 10 * (0.5 * std::log(2 * M_PI * 0.05) + 0.5);
  BOOST_TEST(std::abs(report.best_validation_loss - expected_nll) < 0.1, report.best_validation_loss << " vs " << expected_nll);

  const auto x0 = osbi::testing::read_csv(osbi::testing::data_dir() / "sbibm/gaussian_linear/num_observation_1/observation.csv").at(0);
  osbi::RandomStream rng(osbi::testing::test_seed(), 9);
  const std::size_t n = 20'000;
  const auto theta = npe.sample(x0, n, rng);
  // Sample means within 0.02 of x0/2 (the estimator's own error ~0.01 plus Monte Carlo 0.0016) and
  // variances within 20 % of 0.05 in every dimension.
  for (std::size_t j = 0; j < 10; ++j) {
    double mean = 0, square = 0;
    for (std::size_t i = 0; i < n; ++i) mean += theta(i, j), square += theta(i, j) * theta(i, j);
    mean /= n;
    const double variance = square / n - mean * mean;
    BOOST_TEST(std::abs(mean - x0[j] / 2) < 0.02, "dim " << j << ": mean " << mean << " vs " << x0[j] / 2);
    BOOST_TEST(std::abs(variance - 0.05) < 0.01, "dim " << j << ": variance " << variance);
  }
  // log_prob agrees with the closed-form posterior density up to the fit's error.
  const auto log_q = npe.log_prob(theta, x0);
  double worst = 0;
  for (std::size_t i = 0; i < 100; ++i) {
    double exact = 0;
    for (std::size_t j = 0; j < 10; ++j)
      exact += -0.5 * std::pow(theta(i, j) - x0[j] / 2, 2) / 0.05 - 0.5 * std::log(2 * M_PI * 0.05);
    worst = std::max(worst, std::abs(log_q(i) - exact));
  }
  BOOST_TEST(worst < 0.5);
}

BOOST_AUTO_TEST_CASE(bounded_prior_samples_stay_in_support_and_log_prob_is_minus_infinity_outside) {
  const osbi::TwoMoons<double, Space> task;
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2), osbi::NpeOptions{.seed = 3});
  npe.simulate(2'000);
  osbi::TrainingOptions options;
  options.max_epochs = 3;
  npe.train(options);
  osbi::RandomStream rng(5);
  const auto theta = npe.sample({0.1, -0.2}, 5'000, rng);
  std::size_t outside = 0;
  for (std::size_t i = 0; i < theta.extent(0); ++i)
    for (std::size_t j = 0; j < 2; ++j) outside += !(theta(i, j) > -1.0 && theta(i, j) < 1.0);
  BOOST_TEST(outside == 0u);
  osbi::Matrix<double, Space> probe("probe", 2, 2);
  probe(0, 0) = 1.5, probe(0, 1) = 0.0, probe(1, 0) = 0.2, probe(1, 1) = 0.3;
  const auto log_q = npe.log_prob(probe, {0.1, -0.2});
  BOOST_TEST(log_q(0) == -std::numeric_limits<double>::infinity());
  BOOST_TEST(std::isfinite(log_q(1)));
}

// BoundedSupport::reject: the posterior is the trained density restricted to the prior's box and
// renormalized. Checked against the density itself, whatever the fit: draws stay inside, log_prob
// integrates to 1 over the box (without the acceptance term it would integrate to the acceptance,
// here well below 1), the draws' mass in a sub-box matches log_prob's, and an observation whose
// posterior lies outside the box is refused with the rate in the message.
BOOST_AUTO_TEST_CASE(rejection_posterior_is_the_density_restricted_to_the_support) {
  const osbi::GaussianLinear<double, Space> task(2, 0.1, 0.1);
  const osbi::BoxUniform<double, Space> prior({-1.0, -1.0}, {1.0, 1.0});
  osbi::NPE npe(prior, task, osbi::LinearGaussian<double, Space>(2, 2),
                osbi::NpeOptions{.seed = osbi::testing::test_seed(), .bounded_support = osbi::BoundedSupport::reject});
  npe.simulate(4'000);
  npe.train(osbi::TrainingOptions{.learning_rate = 1e-2, .max_epochs = 60});
  const std::vector<double> x0{1.2, 1.0};
  const double acceptance = npe.acceptance(x0);
  BOOST_TEST_MESSAGE("acceptance at x0 = (1.2, 1.0): " << acceptance);
  BOOST_TEST(acceptance > 0.05);
  BOOST_TEST(acceptance < 0.7);

  const std::size_t grid = 400;
  const double cell = 2.0 / grid;
  osbi::Matrix<double, Space> nodes("nodes", grid * grid, 2);
  for (std::size_t a = 0; a < grid; ++a)
    for (std::size_t b = 0; b < grid; ++b)
      nodes(a * grid + b, 0) = -1 + (a + 0.5) * cell, nodes(a * grid + b, 1) = -1 + (b + 0.5) * cell;
  const auto log_q = npe.log_prob(nodes, x0);
  double total = 0, corner = 0; // corner: θ₀ > 0.5 and θ₁ > 0.5
  for (std::size_t i = 0; i < grid * grid; ++i) {
    const double mass = std::exp(log_q(i)) * cell * cell;
    total += mass;
    if (nodes(i, 0) > 0.5 && nodes(i, 1) > 0.5) corner += mass;
  }
  // The acceptance is estimated from 10⁴ draws: relative error ≈ sqrt((1 − a)/(a·10⁴)) < 3 %.
  BOOST_TEST(std::abs(total - 1) < 0.06, "∫ over the box = " << total);

  osbi::RandomStream rng(osbi::testing::test_seed(), 4);
  const std::size_t n = 20'000;
  const auto theta = npe.sample(x0, n, rng);
  std::size_t outside = 0, in_corner = 0;
  for (std::size_t i = 0; i < n; ++i) {
    outside += !(theta(i, 0) > -1 && theta(i, 0) < 1 && theta(i, 1) > -1 && theta(i, 1) < 1);
    in_corner += theta(i, 0) > 0.5 && theta(i, 1) > 0.5;
  }
  BOOST_TEST(outside == 0u);
  const double fraction = static_cast<double>(in_corner) / n;
  BOOST_TEST(std::abs(fraction - corner / total) < 0.02, "draws " << fraction << " vs log_prob " << corner / total);

  osbi::Matrix<double, Space> probe("probe", 1, 2);
  probe(0, 0) = 1.2, probe(0, 1) = 0.5;
  BOOST_TEST(npe.log_prob(probe, x0)(0) == -std::numeric_limits<double>::infinity());

  // Far outside the box the restricted posterior has (next to) no mass: a clear error, not a hang.
  try {
    npe.sample({40.0, -40.0}, 100, rng);
    BOOST_FAIL("no exception");
  } catch (const osbi::Error& error) {
    BOOST_TEST(std::string(error.what()).find("min_acceptance") != std::string::npos, error.what());
  }
}

BOOST_AUTO_TEST_CASE(bad_observations_and_requests_are_rejected) {
  const osbi::GaussianLinear<double, Space> task(2);
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2));
  osbi::RandomStream rng(1);
  BOOST_CHECK_THROW(npe.train(), osbi::InvalidArgument); // no simulations yet
  npe.simulate(100);
  npe.train(osbi::TrainingOptions{.max_epochs = 1});
  BOOST_CHECK_THROW(npe.sample({0.1, 0.2, 0.3}, 10, rng), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(npe.sample({0.1, std::nan("")}, 10, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW(npe.sample({0.1, 0.2}, 0, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW((osbi::NPE(task.prior(), task, osbi::LinearGaussian<double, Space>(3, 2))), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(non_finite_training_rows_are_dropped_and_counted) {
  const osbi::GaussianLinear<double, Space> task(2);
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2));
  npe.simulate(500);
  osbi::Matrix<double, Space> theta("theta", 7, 2), x("x", 7, 2);
  for (std::size_t i = 0; i < 7; ++i) theta(i, 0) = theta(i, 1) = x(i, 0) = x(i, 1) = 0.1;
  x(2, 1) = std::numeric_limits<double>::quiet_NaN();
  x(5, 0) = std::numeric_limits<double>::infinity();
  theta(6, 1) = std::numeric_limits<double>::quiet_NaN();
  npe.append(theta, x);
  const auto& report = npe.train(osbi::TrainingOptions{.max_epochs = 2});
  BOOST_TEST(report.rows_total == 507u);
  BOOST_TEST(report.rows_dropped == 3u);
  BOOST_TEST(report.rows_train + report.rows_validation == 504u);
}

/// NllLoss that records the largest weight any training batch carried (0: none had weights).
struct WeightRecordingLoss {
  double* largest;
  template <class D, class B>
  double value_and_gradient(D& density, const typename D::execution_space& space, const B& batch, osbi::BatchRandom rng) {
    if (batch.weighted())
      for (std::size_t i = 0; i < batch.rows(); ++i) *largest = std::max(*largest, static_cast<double>(batch.weights(i)));
    return osbi::NllLoss().value_and_gradient(density, space, batch, rng);
  }
  template <class D, class B>
  double value(D& density, const typename D::execution_space& space, const B& batch, osbi::BatchRandom rng) const {
    return osbi::NllLoss().value(density, space, batch, rng);
  }
  template <class D, class B, class V>
  void per_row(D& density, const typename D::execution_space& space, const B& batch, osbi::BatchRandom rng, const V& out) const {
    osbi::NllLoss().per_row(density, space, batch, rng, out);
  }
};

BOOST_AUTO_TEST_CASE(set_weights_reach_the_loss_and_bad_weights_are_refused) {
  const osbi::GaussianLinear<double, Space> task(2);
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2));
  npe.simulate(100);
  BOOST_CHECK_THROW(npe.set_weights(std::vector<double>(100, -1.0)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(npe.set_weights(std::vector<double>(100, std::nan(""))), osbi::InvalidArgument);
  std::vector<double> weights(100, 1.0);
  weights[17] = 4.5;
  npe.set_weights(weights);
  double largest = 0;
  WeightRecordingLoss loss{&largest};
  static_assert(osbi::Loss<WeightRecordingLoss, osbi::LinearGaussian<double, Space>>);
  npe.train(osbi::TrainingOptions{.max_epochs = 3}, loss);
  BOOST_TEST(largest >= 1.0); // every training batch was weighted ...
  BOOST_TEST(largest <= 4.5); // ... with the weights given (row 17 may be a validation row)
  npe.simulate(10); // the weights no longer match the simulations
  BOOST_CHECK_THROW(npe.train(osbi::TrainingOptions{.max_epochs = 1}, loss), osbi::DimensionMismatch);
  npe.set_weights({}); // none: unweighted again
  largest = 0;
  npe.train(osbi::TrainingOptions{.max_epochs = 1}, loss);
  BOOST_TEST(largest == 0.0);
}

BOOST_AUTO_TEST_CASE(learning_rate_decays_continue_from_the_best_parameters_where_training_would_stop) {
  // Same seed and data twice: the run with decays must replay the plain run up to its stop, then take
  // exactly the decays asked for, each with a fresh patience.
  const osbi::GaussianLinear<double, Space> task(2);
  const auto run = [&](std::size_t decays) {
    osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2), osbi::NpeOptions{.seed = 7});
    npe.simulate(3000);
    return npe.train(osbi::TrainingOptions{.batch_size = 20, .learning_rate = 5e-2, .stop_after_epochs = 3,
                                           .learning_rate_decays = decays, .learning_rate_decay = 0.1,
                                           .max_epochs = 5000, .seed = 3});
  };
  const osbi::TrainingReport plain = run(0), decayed = run(2);
  BOOST_TEST_MESSAGE("plain: " << plain.epochs << " epochs, best " << plain.best_validation_loss << "; decayed: "
                               << decayed.epochs << " epochs, best " << decayed.best_validation_loss);
  BOOST_TEST_REQUIRE(plain.stopped_early);
  BOOST_TEST(plain.learning_rate_decays == 0u);
  BOOST_TEST_REQUIRE(decayed.stopped_early);
  BOOST_TEST(decayed.learning_rate_decays == 2u);
  BOOST_TEST(decayed.epochs >= plain.epochs + 2 * 3);
  BOOST_REQUIRE_GE(decayed.validation_loss.size(), plain.validation_loss.size());
  for (std::size_t e = 0; e < plain.validation_loss.size(); ++e)
    BOOST_TEST(decayed.validation_loss[e] == plain.validation_loss[e]);
  // At this learning rate the plain run stops on its minibatch-noise floor; the decays get under it.
  BOOST_TEST(decayed.best_validation_loss < plain.best_validation_loss);
  osbi::NPE npe(task.prior(), task, osbi::LinearGaussian<double, Space>(2, 2));
  npe.simulate(100);
  BOOST_CHECK_THROW(npe.train(osbi::TrainingOptions{.learning_rate_decays = 1, .learning_rate_decay = 1.0}),
                    osbi::InvalidArgument);
  BOOST_CHECK_NO_THROW(npe.train(osbi::TrainingOptions{.learning_rate_decay = 1.0, .max_epochs = 1}));
}

BOOST_AUTO_TEST_SUITE_END()
