// SPDX-License-Identifier: BSD-3-Clause
/// \brief Flow matching and denoising score matching: the generic loss checker (finite differences over every parameter:
/// the time embedding's projection, every residual block, the baseline), weights, per-row values, bad input; and
/// log_prob of an arbitrary (random) network integrates to 1.
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/denoising_score_matching.hpp>
#include <osbi/loss/flow_matching.hpp>
#include <osbi/testing/check_loss.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <vector_field/vector_field_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Fmpe = osbi::FlowMatchingEstimator<double, Space>;
using Npse = osbi::ScoreEstimator<double, Space>;
using NpseVp = osbi::ScoreEstimator<double, Space, osbi::VariancePreserving>;

static_assert(osbi::Loss<osbi::FlowMatchingLoss, Fmpe> && osbi::Loss<osbi::DenoisingScoreMatchingLoss, Npse>);
static_assert(!osbi::Loss<osbi::FlowMatchingLoss, Npse> && !osbi::Loss<osbi::DenoisingScoreMatchingLoss, Fmpe>);
static_assert(std::is_same_v<osbi::DefaultLoss<Fmpe>, osbi::FlowMatchingLoss> &&
              std::is_same_v<osbi::DefaultLoss<Npse>, osbi::DenoisingScoreMatchingLoss>);

template <class Path>
osbi::VectorFieldEstimatorOptions<Path> small_options() {
  osbi::VectorFieldEstimatorOptions<Path> options;
  options.network.hidden = 6;
  options.network.blocks = 2;
  options.network.time.features = 4;
  options.network.seed = osbi::testing::test_seed();
  options.sampler.sde_steps = 20;
  return options;
}

/// A batch of n rows with θ and x ~ N(0, 1) and the given weights (empty: none).
struct Rows {
  osbi::Matrix<double, Space> theta, x;
  osbi::Vector<double, Space> weights;
  osbi::TrainingBatch<double, Space> batch() const { return {theta, x, weights, {}, {}, {}, {}}; }
};
Rows make_rows(std::size_t n, std::size_t d, std::size_t k, std::vector<double> weights = {}) {
  Rows rows{osbi::testing::device_matrix<double, Space>(osbi::testing::normals(n * d, 21), n, d),
            osbi::testing::device_matrix<double, Space>(osbi::testing::normals(n * k, 22), n, k), {}};
  if (!weights.empty()) rows.weights = osbi::testing::device_vector<double, Space>(weights);
  return rows;
}

/// The checker of osbi/testing/check_loss.hpp with finite differences at EVERY parameter.
template <class Loss, class Estimator>
void check_every_parameter(Loss& loss, Estimator& estimator, const std::string& what) {
  // A network away from its start (output layer 0, LayerNorm 1/0) so every parameter has a non-trivial gradient.
  osbi::testing::randomize_network(estimator, osbi::testing::test_seed(), 0.5);
  const Rows rows = make_rows(12, estimator.theta_dim(), estimator.context_dim());
  const auto report = osbi::testing::check_loss(loss, estimator, rows.batch(), osbi::testing::test_seed(),
                                                estimator.parameters().extent(0));
  BOOST_TEST_INFO(what << ": " << report.summary());
  BOOST_TEST(report.passed());
}

/// ∫ q(θ | x) dθ over a grid wide enough to hold the mass (trapezoid rule, d = 1).
template <class Estimator>
double total_mass(Estimator& estimator, double x_value) {
  const std::size_t n = 1601;
  const double low = -8, high = 8, step = (high - low) / double(n - 1);
  std::vector<double> grid(n);
  for (std::size_t i = 0; i < n; ++i) grid[i] = low + step * double(i);
  const auto theta = osbi::testing::device_matrix<double, Space>(grid, n, 1);
  const auto x = osbi::testing::device_matrix<double, Space>(std::vector<double>(n, x_value), n, 1);
  osbi::Vector<double, Space> out("log_prob", n);
  estimator.log_prob(Space(), theta, x, out);
  const auto values = osbi::testing::host_values(out);
  double mass = 0;
  for (std::size_t i = 0; i < n; ++i) mass += (i == 0 || i + 1 == n ? 0.5 : 1.0) * std::exp(values[i]) * step;
  return mass;
}

} // namespace

BOOST_AUTO_TEST_SUITE(vector_field_losses)

BOOST_AUTO_TEST_CASE(flow_matching_gradients_match_finite_differences_everywhere) {
  osbi::FlowMatchingLoss loss;
  Fmpe estimator(2, 3, small_options<osbi::LinearPath>());
  check_every_parameter(loss, estimator, "flow matching");
}

BOOST_AUTO_TEST_CASE(score_matching_gradients_match_finite_differences_everywhere) {
  osbi::DenoisingScoreMatchingLoss loss;
  Npse ve(2, 3, small_options<osbi::VarianceExploding>());
  check_every_parameter(loss, ve, "score matching, VE");
  NpseVp vp(2, 3, small_options<osbi::VariancePreserving>());
  check_every_parameter(loss, vp, "score matching, VP");
}

BOOST_AUTO_TEST_CASE(weights_scale_rows_and_per_row_values_average_to_the_loss) {
  osbi::FlowMatchingLoss loss;
  Fmpe estimator(2, 3, small_options<osbi::LinearPath>());
  osbi::testing::randomize_network(estimator, 3, 0.3);
  const std::size_t n = 10;
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 9).next();
  const Rows plain = make_rows(n, 2, 3);
  std::vector<double> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = 0.5 + 0.25 * double(i);
  const Rows weighted = make_rows(n, 2, 3, weights);
  osbi::Vector<double, Space> rows("rows", n);
  loss.per_row(estimator, Space(), plain.batch(), rng, rows);
  const auto values = osbi::testing::host_values(rows);
  double mean = 0, weighted_mean = 0;
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_TEST(std::isfinite(values[i]));
    BOOST_TEST(values[i] >= 0.0);
    mean += values[i] / double(n);
    weighted_mean += weights[i] * values[i] / double(n);
  }
  BOOST_TEST(std::abs(loss.value(estimator, Space(), plain.batch(), rng) - mean) <= 1e-12 * std::max(1.0, mean));
  BOOST_TEST(std::abs(loss.value(estimator, Space(), weighted.batch(), rng) - weighted_mean) <= 1e-12 * std::max(1.0, mean));
}

BOOST_AUTO_TEST_CASE(bad_batches_and_views_are_refused) {
  osbi::DenoisingScoreMatchingLoss loss;
  Npse estimator(2, 3, small_options<osbi::VarianceExploding>());
  const osbi::BatchRandom rng = osbi::RandomStream(1).next();
  const Rows wide = make_rows(4, 3, 3);
  BOOST_CHECK_THROW(loss.value(estimator, Space(), wide.batch(), rng), osbi::DimensionMismatch);
  const Rows empty = make_rows(0, 2, 3);
  BOOST_CHECK_THROW(loss.value(estimator, Space(), empty.batch(), rng), osbi::InvalidArgument);
  osbi::Matrix<double, Space> theta("theta", 5, 2);
  const auto x = osbi::testing::device_matrix<double, Space>({0.1, 0.2, 0.3}, 1, 3);
  BOOST_CHECK_THROW(estimator.sample(Space(), x, 4, rng, theta), osbi::DimensionMismatch);
  osbi::Vector<double, Space> out("out", 3);
  BOOST_CHECK_THROW(estimator.log_prob(Space(), theta, osbi::Matrix<double, Space>("x", 5, 3), out), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(nan_rows_give_nan_and_leave_other_rows_alone) {
  auto options = small_options<osbi::LinearPath>();
  options.log_prob.ode.absolute_tolerance = options.log_prob.ode.relative_tolerance = 1e-9; // batch-shared steps agree
  Fmpe estimator(1, 1, options);
  osbi::testing::randomize_network(estimator, 4, 0.3);
  const auto theta = osbi::testing::device_matrix<double, Space>({0.1, std::nan(""), -0.3}, 3, 1);
  const auto x = osbi::testing::device_matrix<double, Space>({0.2, 0.2, 0.2}, 3, 1);
  osbi::Vector<double, Space> out("out", 3), alone("alone", 1);
  estimator.log_prob(Space(), theta, x, out);
  const auto values = osbi::testing::host_values(out);
  BOOST_TEST(std::isnan(values[1]));
  estimator.log_prob(Space(), osbi::testing::device_matrix<double, Space>({0.1}, 1, 1),
                     osbi::testing::device_matrix<double, Space>({0.2}, 1, 1), alone);
  BOOST_TEST(std::abs(values[0] - osbi::testing::host_values(alone)[0]) < 1e-6);
}

BOOST_AUTO_TEST_CASE(log_prob_of_an_arbitrary_network_is_normalized) {
  // Any field's probability-flow ODE transports the base Gaussian to a normalized density, so the exact divergence
  // (network part included) makes ∫ q = 1 for every network: here random ones far from the baseline.
  auto fmpe_options = small_options<osbi::LinearPath>();
  fmpe_options.log_prob.ode.absolute_tolerance = fmpe_options.log_prob.ode.relative_tolerance = 1e-8;
  Fmpe fmpe(1, 1, fmpe_options);
  osbi::testing::randomize_network(fmpe, 5, 0.4);
  BOOST_TEST(std::abs(total_mass(fmpe, 0.3) - 1) < 1e-4);
  auto npse_options = small_options<osbi::VarianceExploding>();
  npse_options.log_prob.ode.absolute_tolerance = npse_options.log_prob.ode.relative_tolerance = 1e-8;
  Npse npse(1, 1, npse_options);
  osbi::testing::randomize_network(npse, 6, 0.05);
  BOOST_TEST(std::abs(total_mass(npse, -0.4) - 1) < 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()
