// SPDX-License-Identifier: BSD-3-Clause
/// \brief The ODE solver on problems with known solutions, and every sampler and the ODE log_prob of the vector field
/// estimators with the exact field of a Gaussian posterior (gaussian_linear's) on the linear, VE, VP and sub-VP paths.
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/vector_field/ode_solver.hpp>
#include <osbi/vector_field/vector_field_network.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/gaussian_linear_posterior.hpp>
#include <support/statistics.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <vector_field/vector_field_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Matrix = osbi::Matrix<double, Space>;

/// dy/dt = −λ·y, y(t) = y₀·e^{−λ(t − t₀)}: rows with λ = 1 … N.
struct Decay {
  osbi::Vector<double, Space> rate;
  void operator()(const Space& space, double, const osbi::ConstMatrix<double, Space>& y, const Matrix& out) {
    const auto r = rate;
    Kokkos::parallel_for(
        "decay", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {y.extent(0), y.extent(1)}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { out(i, j) = -r(i) * y(i, j); });
  }
};

double decay_error(osbi::OdeSolverOptions options, double t0 = 0.0, double t1 = 1.0) {
  const std::size_t n = 3;
  Decay field{osbi::testing::device_vector<double, Space>({1.0, 2.0, 3.0})};
  Matrix y = osbi::testing::device_matrix<double, Space>({1.0, 1.0, 1.0, 1.0, 1.0, 1.0}, n, 2);
  osbi::solve_ode<double>(Space(), field, y, t0, t1, options);
  const auto values = osbi::testing::host_values(y);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      worst = std::max(worst, std::abs(values[i * 2 + j] - std::exp(-double(i + 1) * (t1 - t0))));
  return worst;
}

/// dy/dt = 1 in every entry, recording the time of each evaluation.
struct RecordedConstant {
  std::vector<double> times;
  void operator()(const Space& space, double t, const osbi::ConstMatrix<double, Space>&, const Matrix& out) {
    times.push_back(t);
    Kokkos::deep_copy(space, out, 1.0);
  }
};

osbi::OdeSolverOptions fixed(osbi::OdeMethod method, std::size_t steps) {
  osbi::OdeSolverOptions options;
  options.method = method;
  options.steps = steps;
  return options;
}

/// The posterior N(x/2, 0.05·I) carried along the estimator's path to t_min, where its samplers stop and its ODE
/// log_prob starts: N(α·x/2, α²·0.05 + σ²) (for the linear path σ(0) = σ_min = 1e-3 adds 1e-6 to the variance).
template <class Estimator>
std::pair<double, double> posterior_at_t_min(const Estimator& estimator) {
  const auto path = estimator.options().path;
  const double alpha = path.alpha(path.t_min), sigma = path.sigma(path.t_min);
  return {alpha * 0.5, alpha * alpha * 0.05 + sigma * sigma};
}

/// Draws of the estimator for one x₀ and their moments against the posterior at t_min.
template <class Estimator>
void check_posterior_draws(Estimator& estimator, const std::string& what, double bias_allowance) {
  const auto [slope, variance] = posterior_at_t_min(estimator);
  const std::size_t n = 20'000, d = estimator.theta_dim();
  std::vector<double> x0(d);
  for (std::size_t j = 0; j < d; ++j) x0[j] = 0.6 - 0.3 * double(j);
  const auto x = osbi::testing::device_matrix<double, Space>(x0, 1, d);
  Matrix theta("theta", n, d);
  estimator.sample(Space(), x, n, osbi::RandomStream(osbi::testing::test_seed(), 5).next(), theta);
  const auto moments = osbi::testing::sample_moments(theta);
  // Mean: z = 6.1 (two-sided 1e-9) standard errors √(0.05/n) plus the sampler's discretization allowance.
  // Variance: the sample variance's standard error is 0.05·√(2/n) (0.5 % relative), the same z.
  const double z = osbi::testing::two_sided_z();
  for (std::size_t j = 0; j < d; ++j) {
    BOOST_TEST_INFO(what << " coordinate " << j);
    BOOST_TEST(std::abs(moments.mean[j] - slope * x0[j]) <= z * std::sqrt(variance / n) + bias_allowance);
    BOOST_TEST(std::abs(moments.covariance[j][j] / variance - 1) <= z * std::sqrt(2.0 / n) + 10 * bias_allowance);
    for (std::size_t k = 0; k < j; ++k)
      BOOST_TEST(std::abs(moments.covariance[j][k] / variance) <= z / std::sqrt(double(n)) + 10 * bias_allowance);
  }
}

/// log_prob at a spread of θ against the analytic posterior's log density.
template <class Estimator>
void check_log_prob(Estimator& estimator, double tolerance) {
  const std::size_t n = 64, d = estimator.theta_dim();
  const auto theta_values = osbi::testing::normals(n * d, 11, 0.4);
  const auto x_values = osbi::testing::normals(n * d, 12, 0.5);
  const auto theta = osbi::testing::device_matrix<double, Space>(theta_values, n, d);
  const auto x = osbi::testing::device_matrix<double, Space>(x_values, n, d);
  osbi::Vector<double, Space> out("log_prob", n);
  estimator.log_prob(Space(), theta, x, out);
  const auto values = osbi::testing::host_values(out);
  const auto [slope, variance] = posterior_at_t_min(estimator);
  for (std::size_t i = 0; i < n; ++i) {
    double exact = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const double r = theta_values[i * d + j] - slope * x_values[i * d + j];
      exact += -0.5 * std::log(2 * M_PI * variance) - r * r / (2 * variance);
    }
    BOOST_TEST_INFO("row " << i);
    BOOST_TEST(std::abs(values[i] - exact) <= tolerance);
  }
}

template <class Path>
osbi::VectorFieldEstimatorOptions<Path> exact_options(osbi::SamplingMethod method) {
  osbi::VectorFieldEstimatorOptions<Path> options;
  options.network.hidden = 8;
  options.network.blocks = 1;
  options.sampler.method = method;
  options.log_prob.ode.absolute_tolerance = 1e-9;
  options.log_prob.ode.relative_tolerance = 1e-9;
  return options;
}

} // namespace

BOOST_AUTO_TEST_SUITE(vector_field_ode_solver)

BOOST_AUTO_TEST_CASE(fixed_step_methods_converge_at_their_order) {
  // Global error ∝ h^p: halving h divides it by 2^p (±25 % for the higher-order terms at these h).
  const double euler = decay_error(fixed(osbi::OdeMethod::euler, 200)) / decay_error(fixed(osbi::OdeMethod::euler, 400));
  const double heun = decay_error(fixed(osbi::OdeMethod::heun, 50)) / decay_error(fixed(osbi::OdeMethod::heun, 100));
  const double rk4 = decay_error(fixed(osbi::OdeMethod::rk4, 20)) / decay_error(fixed(osbi::OdeMethod::rk4, 40));
  BOOST_TEST(std::abs(euler - 2.0) < 0.25 * 2.0);
  BOOST_TEST(std::abs(heun - 4.0) < 0.25 * 4.0);
  BOOST_TEST(std::abs(rk4 - 16.0) < 0.25 * 16.0);
  BOOST_TEST(decay_error(fixed(osbi::OdeMethod::rk4, 40)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(dopri5_meets_its_tolerance_in_both_directions) {
  osbi::OdeSolverOptions options;
  options.absolute_tolerance = 1e-10;
  options.relative_tolerance = 1e-10;
  BOOST_TEST(decay_error(options) < 1e-8);
  // Backwards: from t = 1 to t = 0 the same ODE grows e^{λ}; check y(0) = e^{λ} from y(1) = 1.
  const std::size_t n = 3;
  Decay field{osbi::testing::device_vector<double, Space>({1.0, 2.0, 3.0})};
  Matrix y = osbi::testing::device_matrix<double, Space>({1.0, 1.0, 1.0}, n, 1);
  const auto report = osbi::solve_ode<double>(Space(), field, y, 1.0, 0.0, options);
  const auto values = osbi::testing::host_values(y);
  for (std::size_t i = 0; i < n; ++i) BOOST_TEST(std::abs(values[i] / std::exp(double(i + 1)) - 1) < 1e-8);
  BOOST_TEST(report.evaluations > 0u);
  BOOST_TEST(report.accepted_steps < 1000u);
}

BOOST_AUTO_TEST_CASE(dopri5_crosses_a_constant_field_in_one_whole_interval_step) {
  // Dormand–Prince is exact on y' = 1 and its error estimate is 0: the whole interval is one accepted step,
  // 1 + 6 evaluations (the first derivative, then stages 2–7).
  RecordedConstant field;
  Matrix y = osbi::testing::device_matrix<double, Space>({0.5, -2.0}, 1, 2);
  osbi::OdeSolverOptions options;
  options.first_step = 1.0;
  const auto report = osbi::solve_ode<double>(Space(), field, y, 0.0, 3.0, options);
  BOOST_TEST(report.accepted_steps == 1u);
  BOOST_TEST(report.rejected_steps == 0u);
  BOOST_TEST(report.evaluations == 7u);
  const auto values = osbi::testing::host_values(y);
  BOOST_TEST(std::abs(values[0] - 3.5) < 1e-13);
  BOOST_TEST(std::abs(values[1] - 1.0) < 1e-13);
}

BOOST_AUTO_TEST_CASE(the_automatic_first_step_follows_hairers_rule) {
  // y' = 1 from y(0) = 1 at atol 1e-6, rtol 1e-5: entries scaled by 1.1e-5, so ‖y‖ = ‖f‖ = 1/1.1e-5, h₀ = 0.01;
  // f does not change (‖f'‖ = 0), so h = min(100·h₀, (0.01·1.1e-5)^(1/5), 1) = 0.040563. The field is evaluated at
  // t = 0 (f₀), t = h₀ (the Euler probe), then at the first step's second stage t = h/5.
  RecordedConstant field;
  Matrix y = osbi::testing::device_matrix<double, Space>({1.0}, 1, 1);
  osbi::OdeSolverOptions options;
  options.absolute_tolerance = 1e-6;
  options.relative_tolerance = 1e-5;
  const auto report = osbi::solve_ode<double>(Space(), field, y, 0.0, 1.0, options);
  BOOST_TEST_REQUIRE(field.times.size() >= 3u);
  BOOST_TEST(field.times[0] == 0.0);
  BOOST_TEST(std::abs(field.times[1] - 0.01) < 1e-12);
  BOOST_TEST(std::abs(field.times[2] / 0.2 - std::pow(0.01 * 1.1e-5, 0.2)) < 1e-12);
  // Then steps of h, 10·h (the controller's largest growth) and the rest: 3 steps, 1 + 1 + 3·6 evaluations.
  BOOST_TEST(report.accepted_steps == 3u);
  BOOST_TEST(report.evaluations == 20u);
  BOOST_TEST(std::abs(osbi::testing::host_values(y)[0] - 2.0) < 1e-13);
  // Backwards the probe and the steps go down from t0.
  RecordedConstant backwards;
  Matrix z = osbi::testing::device_matrix<double, Space>({1.0}, 1, 1);
  osbi::solve_ode<double>(Space(), backwards, z, 1.0, 0.0, options);
  BOOST_TEST_REQUIRE(backwards.times.size() >= 3u);
  BOOST_TEST(std::abs(backwards.times[1] - 0.99) < 1e-12);
  BOOST_TEST(std::abs((1.0 - backwards.times[2]) / 0.2 - std::pow(0.01 * 1.1e-5, 0.2)) < 1e-12);
  BOOST_TEST(std::abs(osbi::testing::host_values(z)[0] - 0.0) < 1e-13);
}

BOOST_AUTO_TEST_CASE(flow_matching_samples_with_a_whole_interval_first_step_and_score_models_with_the_automatic_one) {
  using FlowMatching = osbi::FlowMatchingEstimator<double, Space>;
  using Score = osbi::ScoreEstimator<double, Space>;
  BOOST_TEST(FlowMatching::Options{}.sampler.ode.first_step == 1.0);
  BOOST_TEST(Score::Options{}.sampler.ode.first_step == 0.0);
  BOOST_TEST(FlowMatching::Options{}.log_prob.ode.first_step == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  BOOST_CHECK_THROW(decay_error(fixed(osbi::OdeMethod::rk4, 0)), osbi::InvalidArgument);
  osbi::OdeSolverOptions options;
  options.relative_tolerance = 0;
  BOOST_CHECK_THROW(decay_error(options), osbi::InvalidArgument);
  options = {};
  options.max_steps = 3;
  options.absolute_tolerance = options.relative_tolerance = 1e-12;
  BOOST_CHECK_THROW(decay_error(options), osbi::Error);
  for (double first_step : {-0.1, 1.5, std::nan("")}) {
    options = {};
    options.first_step = first_step;
    BOOST_CHECK_THROW(decay_error(options), osbi::InvalidArgument);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(vector_field_exact_samplers)

BOOST_AUTO_TEST_CASE(linear_path_ode_draws_and_log_prob_match_the_posterior) {
  osbi::FlowMatchingEstimator<double, Space> estimator(2, 2, exact_options<osbi::LinearPath>(osbi::SamplingMethod::ode));
  osbi::testing::set_gaussian_linear_posterior(estimator);
  check_posterior_draws(estimator, "linear path, dopri5", 1e-4);
  check_log_prob(estimator, 1e-6);
}

BOOST_AUTO_TEST_CASE(variance_exploding_sde_and_ode_match_the_posterior) {
  osbi::ScoreEstimator<double, Space> estimator(2, 2, exact_options<osbi::VarianceExploding>(osbi::SamplingMethod::sde));
  osbi::testing::set_gaussian_linear_posterior(estimator);
  // Euler–Maruyama with 500 steps: the discretization bias of the variance is O(h); 2 % allowance.
  check_posterior_draws(estimator, "VE, Euler–Maruyama", 2e-3);
  auto ode = estimator.options().sampler;
  ode.method = osbi::SamplingMethod::ode;
  estimator.set_sampler(ode);
  check_posterior_draws(estimator, "VE, probability-flow ODE", 1e-4);
  check_log_prob(estimator, 1e-5);
}

BOOST_AUTO_TEST_CASE(variance_preserving_sde_and_ode_match_the_posterior) {
  osbi::ScoreEstimator<double, Space, osbi::VariancePreserving> estimator(
      2, 2, exact_options<osbi::VariancePreserving>(osbi::SamplingMethod::sde));
  osbi::testing::set_gaussian_linear_posterior(estimator);
  check_posterior_draws(estimator, "VP, Euler–Maruyama", 2e-3);
  auto ode = estimator.options().sampler;
  ode.method = osbi::SamplingMethod::ode;
  estimator.set_sampler(ode);
  check_posterior_draws(estimator, "VP, probability-flow ODE", 1e-4);
  check_log_prob(estimator, 1e-5);
}

BOOST_AUTO_TEST_CASE(sub_variance_preserving_ode_matches_the_posterior) {
  osbi::ScoreEstimator<double, Space, osbi::SubVariancePreserving> estimator(
      2, 2, exact_options<osbi::SubVariancePreserving>(osbi::SamplingMethod::ode));
  osbi::testing::set_gaussian_linear_posterior(estimator);
  check_posterior_draws(estimator, "sub-VP, probability-flow ODE", 1e-4);
  check_log_prob(estimator, 1e-5);
}

BOOST_AUTO_TEST_CASE(sampler_options_are_checked) {
  auto options = exact_options<osbi::LinearPath>(osbi::SamplingMethod::sde);
  BOOST_CHECK_THROW((osbi::FlowMatchingEstimator<double, Space>(2, 2, options)), osbi::InvalidArgument);
  auto score_options = exact_options<osbi::VarianceExploding>(osbi::SamplingMethod::sde);
  score_options.sampler.sde_steps = 0;
  BOOST_CHECK_THROW((osbi::ScoreEstimator<double, Space>(2, 2, score_options)), osbi::InvalidArgument);
  score_options.sampler.sde_steps = 10;
  score_options.path.sigma_max = score_options.path.sigma_min / 2;
  BOOST_CHECK_THROW((osbi::ScoreEstimator<double, Space>(2, 2, score_options)), osbi::InvalidArgument);
  score_options.path = {};
  score_options.path.t_min = 0; // σ(0) = σ_min is fine for VE, but t must stay inside (0, 1]
  score_options.path.t_min = -0.1;
  BOOST_CHECK_THROW((osbi::ScoreEstimator<double, Space>(2, 2, score_options)), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(vector_field_shared_context)

namespace {

/// A small network (3 inputs, 4 context features, 2 blocks × 20) away from its start: random parameters, so the
/// output layer and the context and time branches all matter.
template <class Scalar>
osbi::VectorFieldNetwork<Scalar, Space> randomized_network(std::uint64_t seed) {
  osbi::VectorFieldNetworkOptions options;
  options.hidden = 20;
  options.blocks = 2;
  options.time.features = 8;
  osbi::VectorFieldNetwork<Scalar, Space> network(3, 4, options);
  const auto parameters = osbi::testing::normals(network.parameter_count(), seed, 0.3);
  const auto host_parameters = Kokkos::create_mirror_view(network.parameters());
  for (std::size_t p = 0; p < parameters.size(); ++p) host_parameters(p) = static_cast<Scalar>(parameters[p]);
  Kokkos::deep_copy(network.parameters(), host_parameters);
  return network;
}

struct ForwardComparison {
  double scale = 0, worst = 0; // the largest |forward output| and |difference|
  std::size_t mismatches = 0;  // entries whose bits differ (NaN counts)
};

/// forward(u, c, time) against what `alternative(out)` writes (an evaluation-only pass of the same network), which
/// must leave nothing for a backward pass.
template <class Scalar, class Alternative>
ForwardComparison against_forward(osbi::VectorFieldNetwork<Scalar, Space>& network,
                                  const std::type_identity_t<osbi::ConstMatrix<Scalar, Space>>& u,
                                  const std::type_identity_t<osbi::ConstMatrix<Scalar, Space>>& c,
                                  const std::type_identity_t<osbi::ConstVector<Scalar, Space>>& time,
                                  const Alternative& alternative) {
  const std::size_t n = u.extent(0), d = u.extent(1);
  osbi::Matrix<Scalar, Space> expected("expected", n, d), other("other", n, d), grad_u("grad_u", n, d);
  network.forward(Space(), u, c, time, expected);
  alternative(other);
  BOOST_CHECK_THROW(network.backward(Space(), expected, grad_u), osbi::Error);
  const auto a = osbi::testing::host_values(expected), b = osbi::testing::host_values(other);
  ForwardComparison comparison;
  for (std::size_t e = 0; e < a.size(); ++e) {
    comparison.scale = std::max(comparison.scale, std::abs(double(a[e])));
    comparison.worst = std::max(comparison.worst, std::abs(double(a[e]) - double(b[e])));
    comparison.mismatches += a[e] == b[e] ? 0 : 1;
  }
  BOOST_TEST(comparison.scale > 0.1); // the check compares something
  return comparison;
}

/// forward_shared(u, c, t) against forward(u, c broadcast, t broadcast); the largest |difference| relative to the
/// largest |output|.
template <class Scalar>
double shared_forward_difference(std::size_t n) {
  const std::size_t d = 3, k = 4;
  auto network = randomized_network<Scalar>(31);
  const auto u = osbi::testing::device_matrix<Scalar, Space>(osbi::testing::normals(n * d, 32), n, d);
  const std::vector<double> c_values = osbi::testing::normals(k, 33);
  std::vector<double> c_rows;
  for (std::size_t i = 0; i < n; ++i) c_rows.insert(c_rows.end(), c_values.begin(), c_values.end());
  const auto c_one = osbi::testing::device_matrix<Scalar, Space>(c_values, 1, k);
  const auto c = osbi::testing::device_matrix<Scalar, Space>(c_rows, n, k);
  const double t = 0.37;
  const auto time = osbi::testing::device_vector<Scalar, Space>(std::vector<double>(n, t));
  const auto comparison = against_forward(network, u, c, time, [&](const osbi::Matrix<Scalar, Space>& out) {
    network.forward_shared(Space(), u, c_one, t, out);
  });
  return comparison.worst / comparison.scale;
}

/// evaluate(u, c, t) against forward(u, c, t), per-row contexts and times; the number of entries whose bits differ.
template <class Scalar>
std::size_t evaluate_mismatches(std::size_t n) {
  const std::size_t d = 3, k = 4;
  auto network = randomized_network<Scalar>(35);
  const auto u = osbi::testing::device_matrix<Scalar, Space>(osbi::testing::normals(n * d, 36), n, d);
  const auto c = osbi::testing::device_matrix<Scalar, Space>(osbi::testing::normals(n * k, 37), n, k);
  std::vector<double> times(n);
  for (std::size_t i = 0; i < n; ++i) times[i] = static_cast<double>(i % 97) / 96.0;
  const auto time = osbi::testing::device_vector<Scalar, Space>(times);
  return against_forward(network, u, c, time, [&](const osbi::Matrix<Scalar, Space>& out) {
           network.evaluate(Space(), u, c, time, out);
         }).mismatches;
}

/// Draws for one x₀ (the shared path) against draws for the same x₀ repeated per row (the per-row path).
template <class Estimator>
double shared_draws_difference(typename Estimator::Options options) {
  const std::size_t n = 50, d = 2, k = 3;
  options.network.hidden = 12;
  options.network.blocks = 2;
  options.network.time.features = 6;
  Estimator estimator(d, k, options);
  osbi::testing::randomize_network(estimator, osbi::testing::test_seed(), 0.3);
  const std::vector<double> x0{0.3, -0.2, 0.5};
  std::vector<double> x_rows;
  for (std::size_t i = 0; i < n; ++i) x_rows.insert(x_rows.end(), x0.begin(), x0.end());
  Matrix one("one", n, d), rows("rows", n, d);
  const auto rng = osbi::RandomStream(osbi::testing::test_seed(), 9).next();
  estimator.sample(Space(), osbi::testing::device_matrix<double, Space>(x0, 1, k), n, rng, one);
  estimator.sample(Space(), osbi::testing::device_matrix<double, Space>(x_rows, n, k), rng, rows);
  const auto a = osbi::testing::host_values(one), b = osbi::testing::host_values(rows);
  double worst = 0;
  for (std::size_t e = 0; e < a.size(); ++e) {
    BOOST_TEST_REQUIRE(std::isfinite(a[e]));
    worst = std::max(worst, std::abs(a[e] - b[e]));
  }
  return worst;
}

} // namespace

// The shared path folds the context half of the merge layer into its bias: a different summation order, so equal
// to rounding (double: 1e-12 relative; float: 1e-5, a few ulps through two blocks and their LayerNorms).
// 3 000 rows of width 20 make the host path go in chunks (2 560 float rows, 1 280 double: the last one short).
BOOST_AUTO_TEST_CASE(shared_forward_equals_the_broadcast_forward) {
  for (const std::size_t n : {37u, 3'000u}) {
    BOOST_TEST_INFO("rows " << n);
    BOOST_TEST(shared_forward_difference<double>(n) <= 1e-12);
    BOOST_TEST(shared_forward_difference<float>(n) <= 1e-5);
  }
}

// The evaluation-only forward (validation, per-row field evaluations): the same products, sums and normalizations
// as forward(), each activation fused into its product, so the same bits on a host; 3 000 rows go in chunks.
BOOST_AUTO_TEST_CASE(evaluate_equals_the_training_forward_bit_for_bit) {
  for (const std::size_t n : {1u, 37u, 3'000u}) {
    BOOST_TEST_INFO("rows " << n);
    BOOST_TEST(evaluate_mismatches<double>(n) == 0u);
    BOOST_TEST(evaluate_mismatches<float>(n) == 0u);
  }
}

// The fused block sum and layer norm of the shared path: the same bits as the sum followed by the layer's forward.
BOOST_AUTO_TEST_CASE(the_fused_block_sum_and_layer_norm_equal_the_two_steps_bit_for_bit) {
  using Network = osbi::VectorFieldNetwork<float, Space>;
  const std::size_t n = 23, h = 37; // not a multiple of the host's eight partial sums
  const auto a = osbi::testing::device_matrix<float, Space>(osbi::testing::normals(n * h, 41), n, h);
  const auto c = osbi::testing::device_matrix<float, Space>(osbi::testing::normals(n * h, 42, 3.0), n, h);
  const auto tau = osbi::testing::device_matrix<float, Space>(osbi::testing::normals(h, 43), 1, h);
  Network::Norm norm(h);
  const auto parameters = osbi::testing::device_vector<float, Space>(osbi::testing::normals(2 * h, 44));
  osbi::Vector<float, Space> gradients("gradients", 2 * h);
  norm.bind(parameters, gradients);
  osbi::Matrix<float, Space> sum("sum", n, h), fused("fused", n, h), fused_sum("fused_sum", n, h), expected("expected", n, h);
  Network::add_shared_time(Space(), a, tau, c, sum);
  norm.forward(Space(), sum, expected);
  Network::add_time_and_normalize(Space(), a, tau, 0, c, norm, fused_sum, fused);
  BOOST_TEST(osbi::testing::host_values(fused_sum) == osbi::testing::host_values(sum));
  BOOST_TEST(osbi::testing::host_values(fused) == osbi::testing::host_values(expected));
  // A row of τ per row (evaluate's case): the same as add_three then the layer's forward.
  const auto tau_rows = osbi::testing::device_matrix<float, Space>(osbi::testing::normals(n * h, 45), n, h);
  Network::add_three(Space(), a, tau_rows, c, sum);
  norm.forward(Space(), sum, expected);
  Network::add_time_and_normalize(Space(), a, tau_rows, h, c, norm, fused_sum, fused);
  BOOST_TEST(osbi::testing::host_values(fused_sum) == osbi::testing::host_values(sum));
  BOOST_TEST(osbi::testing::host_values(fused) == osbi::testing::host_values(expected));
}

BOOST_AUTO_TEST_CASE(draws_for_one_observation_equal_draws_for_it_repeated) {
  using Fmpe = osbi::FlowMatchingEstimator<double, Space>;
  using Npse = osbi::ScoreEstimator<double, Space>;
  auto fixed_step = Fmpe::Options{};
  fixed_step.sampler.ode = fixed(osbi::OdeMethod::rk4, 20);
  BOOST_TEST(shared_draws_difference<Fmpe>(fixed_step) <= 1e-9);
  BOOST_TEST(shared_draws_difference<Fmpe>(Fmpe::Options{}) <= 1e-6); // dopri5: the step control sees rounding
  auto euler_maruyama = Npse::Options{};
  euler_maruyama.sampler.method = osbi::SamplingMethod::sde;
  euler_maruyama.sampler.sde_steps = 40;
  BOOST_TEST(shared_draws_difference<Npse>(euler_maruyama) <= 1e-9);
}

BOOST_AUTO_TEST_CASE(evaluation_only_forwards_refuse_bad_input) {
  osbi::VectorFieldNetworkOptions options;
  options.hidden = 4;
  options.blocks = 1;
  options.time.features = 4;
  osbi::VectorFieldNetwork<double, Space> network(2, 3, options);
  Matrix u("u", 5, 2), out("out", 5, 2), c_one("c", 1, 3), c_two("c2", 2, 3), c_wide("cw", 1, 4), out_short("o", 4, 2);
  BOOST_CHECK_THROW(network.forward_shared(Space(), u, c_two, 0.5, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.forward_shared(Space(), u, c_wide, 0.5, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.forward_shared(Space(), u, c_one, 0.5, out_short), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.forward_shared(Space(), u, c_one, std::nan(""), out), osbi::InvalidArgument);
  BOOST_CHECK_NO_THROW(network.forward_shared(Space(), u, c_one, 0.5, out));
  // evaluate: per-row contexts and times.
  Matrix u_wide("uw", 5, 3), c("c5", 5, 3), c_short("cs", 4, 3), c_rows_wide("cw5", 5, 4);
  osbi::Vector<double, Space> time("t", 5), time_short("ts", 4);
  BOOST_CHECK_THROW(network.evaluate(Space(), u_wide, c, time, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.evaluate(Space(), u, c_short, time, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.evaluate(Space(), u, c_rows_wide, time, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.evaluate(Space(), u, c, time_short, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(network.evaluate(Space(), u, c, time, out_short), osbi::DimensionMismatch);
  BOOST_CHECK_NO_THROW(network.evaluate(Space(), u, c, time, out));
}

BOOST_AUTO_TEST_SUITE_END()
