// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionallyCentered<ConditionalNSF>: starts as the bare flow, exact gradients (parameters, θ, x),
/// normalization, sampling against log_prob, the data-dependent start, NPE on an off-centre gaussian_linear
/// posterior, bad input.
#include <osbi/embed/embedded_density.hpp>
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/prior/box_uniform.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/testing/gradient_check.hpp>
#include <osbi/train/trainer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/gaussian_linear_posterior.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <string>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Nsf = osbi::ConditionalNSF<double, Space>;
using Centered = osbi::ConditionallyCentered<Nsf>;
using osbi::testing::device_matrix;
using osbi::testing::host_values;
using osbi::testing::normals;
using osbi::testing::test_seed;

static_assert(osbi::ConditionalDensity<Centered>);
static_assert(osbi::EmbeddableDensity<Centered>);
static_assert(osbi::NestableDensity<Centered>);
static_assert(osbi::CenterableDensity<Nsf>);
static_assert(osbi::CenterableDensity<osbi::ConditionalMAF<double, Space>>);
static_assert(osbi::ConditionalDensity<osbi::ConditionallyCentered<osbi::ConditionalNSF<float, Space>>>);

Nsf small_flow(std::size_t theta_dim, std::size_t context_dim) {
  osbi::NSFOptions options;
  options.transforms = 2;
  options.hidden = 8;
  options.seed = test_seed();
  return Nsf(theta_dim, context_dim, options);
}

Centered small_model(std::size_t theta_dim, std::size_t context_dim) {
  return Centered(small_flow(theta_dim, context_dim), osbi::CenteringOptions{.hidden = 6, .log_scale_bound = 2.0,
                                                                             .seed = test_seed()});
}

/// Adds scale·N(0, 1) to the conditioner's parameters (its linear map and last layer start at 0, which would
/// hide errors) and scale/4·N(0, 1) to the flow's (sharper splines would put finite differences across knots).
void perturb(Centered& model, double scale, std::uint64_t stream) {
  auto parameters = model.parameters();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  const std::vector<double> noise = normals(host.extent(0), stream, scale);
  for (std::size_t i = 0; i < host.extent(0); ++i)
    host(i) += i < model.conditioner_parameter_count() ? noise[i] : 0.25 * noise[i];
  Kokkos::deep_copy(parameters, host);
}

double mean_nll(Centered& model, const osbi::Matrix<double, Space>& theta, const osbi::Matrix<double, Space>& x) {
  osbi::Vector<double, Space> out("osbi::test::centered::log_prob", theta.extent(0));
  model.log_prob(Space(), theta, x, out);
  double sum = 0.0;
  for (double value : host_values(out))
    sum -= value;
  return sum / static_cast<double>(theta.extent(0));
}

} // namespace

BOOST_AUTO_TEST_SUITE(conditionally_centered)

BOOST_AUTO_TEST_CASE(a_fresh_model_is_its_flow_and_the_buffer_holds_conditioner_then_flow) {
  // The conditioner's last layer starts at 0 (μ = 0, s = 0): log q equals the bare flow's with the same
  // z-scoring, and the flow's parameters sit unchanged after the conditioner's.
  Nsf bare = small_flow(3, 2);
  bare.set_standardization({0.5, -1, 2}, {2, 0.5, 3}, {1, -1}, {0.5, 4});
  const std::vector<double> bare_parameters = host_values(bare.parameters());
  Centered model = small_model(3, 2);
  model.set_standardization({0.5, -1, 2}, {2, 0.5, 3}, {1, -1}, {0.5, 4});
  const std::vector<double> parameters = host_values(model.parameters());
  BOOST_TEST(model.parameter_count() == model.conditioner_parameter_count() + bare.parameter_count());
  // L (2 → 6), then 2 → 6 → 6 → 6 ([W | b] each).
  BOOST_TEST(model.conditioner_parameter_count() == (2 * 6 + 6) + (2 * 6 + 6) + (6 * 6 + 6) + (6 * 6 + 6));
  BOOST_TEST(std::equal(bare_parameters.begin(), bare_parameters.end(),
                        parameters.begin() + static_cast<std::ptrdiff_t>(model.conditioner_parameter_count())));
  const auto theta = device_matrix<double>(normals(30, 3, 2.0), 10, 3), x = device_matrix<double>(normals(20, 4, 2.0), 10, 2);
  osbi::Vector<double, Space> expected("expected", 10), actual("actual", 10);
  bare.log_prob(Space(), theta, x, expected);
  model.log_prob(Space(), theta, x, actual);
  const auto a = host_values(expected), b = host_values(actual);
  for (std::size_t i = 0; i < 10; ++i)
    BOOST_TEST(b[i] == a[i], boost::test_tools::tolerance(1e-12));
}

namespace {

/// D = 2, C = 3, a non-trivial z-scoring, the parameters perturbed so that μ and s vary with x, 7 rows.
struct GradientCase {
  static constexpr std::size_t rows = 7;
  Centered model = small_model(2, 3);
  osbi::Matrix<double, Space> theta = device_matrix<double>(normals(rows * 2, 6, 1.0), rows, 2);
  osbi::Matrix<double, Space> x = device_matrix<double>(normals(rows * 3, 7, 2.0), rows, 3);

  GradientCase() {
    model.set_standardization({0.1, -0.2}, {1.5, 0.7}, {0, 1, 2}, {1, 2, 0.5});
    perturb(model, 0.2, 5);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(nll_gradient_matches_finite_differences_for_parameters_theta_and_x) {
  // The density checker: central differences (h = 1e-5·max(1, |v|): at 1e-6 the rounding of an NLL of a few
  // hundred shows) of the mean NLL over every parameter, θ and x entry, relative error <= 1e-5 against
  // max(|g|, 1e-3); the loss is the mean of −log_prob (1e-12); gradients accumulate (1e-12).
  GradientCase test;
  const auto report = osbi::testing::check_density_gradients(Space(), test.model, test.theta, test.x);
  BOOST_TEST_MESSAGE("worst " << report.worst_parameter_error << " loss " << report.loss);
  BOOST_TEST(report.passed(), report.summary() << " (conditioner: first " << test.model.conditioner_parameter_count()
                                               << " parameters)");
  BOOST_TEST(report.parameters_checked == test.model.parameter_count());
  BOOST_TEST(report.theta_checked + report.x_checked == GradientCase::rows * 5);
  BOOST_TEST(report.loss == mean_nll(test.model, test.theta, test.x), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(weighted_nll_gradient_matches_finite_differences_for_parameters_theta_and_x) {
  // L = (1/N) Σ w_i·(−log q_i), w_i = 0.5 + N(0, 1), w_0 = 0, w_1 < 0: through the flow's weighted backward and
  // the conditioner's −w_i·Σ s term; unit weights are the unweighted call bit for bit (inside the checker).
  GradientCase test;
  const auto weights = osbi::testing::device_vector<double>(osbi::testing::signed_weights(GradientCase::rows, 8));
  const auto report = osbi::testing::check_density_gradients(Space(), test.model, test.theta, test.x, weights);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == test.model.parameter_count());
  BOOST_TEST(report.theta_checked + report.x_checked == GradientCase::rows * 5);
}

BOOST_AUTO_TEST_CASE(log_prob_integrates_to_one_and_samples_follow_it) {
  // 2-D, context 1, perturbed so that μ(x₀) and s(x₀) are far from 0. Midpoint rule on a 500² grid over
  // the sample mean ± 9 sample standard deviations: |∫∫ q − 1| <= 2e-3 (the flow alone is C⁰; the affine
  // map only rescales its grid error). Then 100 000 draws at x₀: mean and variance per axis within 6
  // standard errors plus 2e-3·scale of the grid's moments.
  Centered model = small_model(2, 1);
  model.set_standardization({0.3, -0.2}, {0.5, 0.8}, {0.0}, {1.0});
  perturb(model, 0.4, 8);
  const double context = 0.7;
  constexpr std::size_t n = 100000;
  osbi::Matrix<double, Space> theta("samples", n, 2);
  model.sample(Space(), device_matrix<double>({context}, 1, 1), n, osbi::RandomStream(test_seed(), 9).next(), theta);
  const std::vector<double> s = host_values(theta);
  double sample_mean[2] = {0, 0}, sample_var[2] = {0, 0};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      sample_mean[j] += s[2 * i + j] / n;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      sample_var[j] += (s[2 * i + j] - sample_mean[j]) * (s[2 * i + j] - sample_mean[j]) / (n - 1);
  BOOST_TEST_MESSAGE("sample mean " << sample_mean[0] << ", " << sample_mean[1] << "; sd " << std::sqrt(sample_var[0])
                                    << ", " << std::sqrt(sample_var[1]));
  // The conditioner moved the distribution: it is not the standardization's N((0.3, −0.2), diag(0.25, 0.64)).
  BOOST_TEST(std::abs(sample_mean[0] - 0.3) / 0.5 + std::abs(sample_mean[1] + 0.2) / 0.8 +
                 std::abs(std::log(sample_var[0] / 0.25)) + std::abs(std::log(sample_var[1] / 0.64)) >
             0.3);

  constexpr std::size_t grid = 1000;
  double low[2], step[2];
  for (std::size_t a = 0; a < 2; ++a) {
    const double span = 9 * std::sqrt(sample_var[a]);
    low[a] = sample_mean[a] - span;
    step[a] = 2 * span / grid;
  }
  std::vector<double> points(grid * grid * 2);
  for (std::size_t a = 0; a < grid; ++a)
    for (std::size_t b = 0; b < grid; ++b) {
      points[2 * (a * grid + b)] = low[0] + (a + 0.5) * step[0];
      points[2 * (a * grid + b) + 1] = low[1] + (b + 0.5) * step[1];
    }
  osbi::Vector<double, Space> log_q("log_q", grid * grid);
  model.log_prob(Space(), device_matrix<double>(points, grid * grid, 2), device_matrix<double>(std::vector<double>(grid * grid, context), grid * grid, 1),
                 log_q);
  const std::vector<double> q = host_values(log_q);
  double mass = 0, m1[2] = {0, 0}, m2[2] = {0, 0};
  for (std::size_t k = 0; k < grid * grid; ++k) {
    const double w = std::exp(q[k]) * step[0] * step[1];
    mass += w;
    for (std::size_t j = 0; j < 2; ++j)
      m1[j] += w * points[2 * k + j];
  }
  for (std::size_t j = 0; j < 2; ++j)
    m1[j] /= mass;
  for (std::size_t k = 0; k < grid * grid; ++k) {
    const double w = std::exp(q[k]) * step[0] * step[1] / mass;
    for (std::size_t j = 0; j < 2; ++j)
      m2[j] += w * (points[2 * k + j] - m1[j]) * (points[2 * k + j] - m1[j]);
  }
  BOOST_TEST_MESSAGE("integral " << std::setprecision(10) << mass);
  BOOST_TEST(std::abs(mass - 1.0) <= 2e-3, "∫∫ exp(log_prob) = " << mass);
  for (std::size_t j = 0; j < 2; ++j) {
    const double sd = std::sqrt(m2[j]);
    BOOST_TEST(std::abs(sample_mean[j] - m1[j]) <= 6 * sd / std::sqrt(double(n)) + 2e-3 * sd,
               "axis " << j << ": sample mean " << sample_mean[j] << " vs " << m1[j]);
    // Var of the sample variance ≈ 2σ⁴/n for a near-Gaussian shape; allow 3× that for heavier tails.
    BOOST_TEST(std::abs(sample_var[j] - m2[j]) <= 6 * std::sqrt(6.0 / n) * m2[j] + 4e-3 * m2[j],
               "axis " << j << ": sample variance " << sample_var[j] << " vs " << m2[j]);
  }

  // One draw per row with every row at x₀ uses rng.row(i) as the n-draw call does: the same draws.
  constexpr std::size_t rows = 500;
  osbi::Matrix<double, Space> per_row("per_row", rows, 2);
  model.sample(Space(), device_matrix<double>(std::vector<double>(rows, context), rows, 1), osbi::RandomStream(test_seed(), 9).next(),
               per_row);
  const std::vector<double> r = host_values(per_row);
  double worst = 0;
  for (std::size_t k = 0; k < 2 * rows; ++k)
    worst = std::max(worst, std::abs(r[k] - s[k]));
  BOOST_TEST(worst <= 1e-12);
}

BOOST_AUTO_TEST_CASE(initialize_from_data_starts_at_the_linear_gaussian_posterior) {
  // gaussian_linear in 3-D with prior N(0, I) and noise N(0, 0.25 I): the posterior is N(0.8·x, 0.2·I), so with
  // the population z-scoring (θ: 0, 1; x: 0, √1.25) the regression gives μ(x) = 0.8·x and s = log √0.2 exactly,
  // up to the estimation error of 20 000 pairs (coefficients ±0.003, log RMS ±0.005 per standard error).
  const osbi::GaussianLinear<double, Space> task(3, 1.0, 0.25);
  constexpr std::size_t n = 25000;
  osbi::Matrix<double, Space> theta("theta", n, 3), x("x", n, 3);
  task.prior().sample(Space(), osbi::RandomStream(test_seed(), 20).next(), theta);
  task.simulate(Space(), theta, x, osbi::RandomStream(test_seed(), 21).next());
  // Three non-finite rows among the first 20 000 (the rows it fits) are skipped; rows past 20 000 are not used.
  Kokkos::deep_copy(Kokkos::subview(theta, 5, 1), NAN); // one entry, in whatever memory the space has
  Kokkos::deep_copy(Kokkos::subview(x, 17, 0), INFINITY);
  Kokkos::deep_copy(Kokkos::subview(x, 19999, 2), NAN);
  Centered model = small_model(3, 3);
  model.set_standardization({0, 0, 0}, {1, 1, 1}, {0, 0, 0}, std::vector<double>(3, std::sqrt(1.25)));
  BOOST_TEST(model.initialize_from_data(Space(), theta, x) == 20000 - 3);
  const auto probe = device_matrix<double>(normals(60, 22, 1.2), 20, 3);
  osbi::Matrix<double, Space> affine("affine", 20, 6);
  model.shift_and_log_scale(Space(), probe, affine);
  const auto affine_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), affine);
  const auto probe_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), probe);
  double worst_shift = 0, worst_scale = 0;
  for (std::size_t i = 0; i < 20; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      worst_shift = std::max(worst_shift, std::abs(affine_host(i, j) - 0.8 * probe_host(i, j)));
      worst_scale = std::max(worst_scale, std::abs(affine_host(i, 3 + j) - 0.5 * std::log(0.2)));
    }
  BOOST_TEST_MESSAGE("max |μ − 0.8x| " << worst_shift << ", max |s − log √0.2| " << worst_scale);
  BOOST_TEST(worst_shift <= 0.06); // 0.014 … 0.036 over seeds 1–10
  BOOST_TEST(worst_scale <= 0.03); // 0.004 … 0.012 over seeds 1–10
  // A table of fewer than two finite rows leaves the model alone.
  Centered untouched = small_model(3, 3);
  const std::vector<double> before = host_values(untouched.parameters());
  BOOST_TEST(untouched.initialize_from_data(Space(), osbi::Matrix<double, Space>("one", 1, 3),
                                            osbi::Matrix<double, Space>("one", 1, 3)) == 0u);
  BOOST_TEST(host_values(untouched.parameters()) == before);
}

BOOST_AUTO_TEST_CASE(npe_with_a_centered_nsf_recovers_an_off_centre_gaussian_linear_posterior) {
  // gaussian_linear in 2-D: θ ~ N(0, 0.1 I₂), x = θ + N(0, 0.1 I₂), posterior N(x/2, 0.05 I₂). osbi::NPE with
  // centered_nsf in float (sbi_default_nsf behind ConditionallyCentered; NPE z-scores it and calls
  // initialize_from_data), trained by osbi::train (batch 200, Adam at 2e-3, 12 epochs) on 8 000 simulations as
  // the bare NSF's test in test_nsf.cpp is. x₀ = (0.9, −0.9) puts the posterior mean 1.4 prior standard deviations off centre.
  const osbi::GaussianLinear<float, Space> task(2);
  osbi::NPE npe(task.prior(), task,
                osbi::centered_nsf<float, Space>(2, 2, test_seed()),
                osbi::NpeOptions{.seed = test_seed()});
  npe.simulate(8000);
  osbi::TrainingOptions options;
  options.learning_rate = 2e-3;
  options.max_epochs = 12;
  const auto& report = npe.train(options);
  BOOST_TEST_MESSAGE("centered NSF: " << report.epochs << " epochs; best validation NLL " << report.best_validation_loss);

  // NLL on 2 000 fresh pairs against the analytic posterior's on the same pairs (the paired difference estimates
  // the KL from the true posterior, averaged over x): 0.011 … 0.048 over seeds 1–10 (the bare NSF's test:
  // 0.048 … 0.082 over seeds 1–20), <= 0.08.
  const double gap = osbi::testing::gaussian_linear_heldout_gap(task, npe.density(), test_seed());
  BOOST_TEST_MESSAGE("held-out NLL above the analytic posterior's by " << gap);
  BOOST_TEST(gap <= 0.08, "held-out NLL gap " << gap);

  // Posterior samples at x₀: mean x₀/2 and covariance 0.05·I (sampling error of 20 000 draws: 0.0016 on the
  // mean, 0.0005 on the covariance; the rest is estimation error: up to 0.041 on the mean and 0.0075 on the
  // covariance over seeds 1–10).
  osbi::RandomStream rng(test_seed(), 63);
  constexpr std::size_t n = 20000;
  const auto draws = npe.sample({0.9, -0.9}, n, rng);
  const auto moments = osbi::testing::sample_moments(draws);
  const auto& mean = moments.mean;
  const auto& cov = moments.covariance;
  BOOST_TEST_MESSAGE("posterior mean " << mean[0] << ", " << mean[1] << "; cov " << cov[0][0] << ", " << cov[0][1]
                                       << ", " << cov[1][1]);
  BOOST_TEST(std::abs(mean[0] - 0.45) <= 0.06);
  BOOST_TEST(std::abs(mean[1] + 0.45) <= 0.06);
  BOOST_TEST(std::abs(cov[0][0] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[1][1] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[0][1]) <= 0.02);
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_and_nan_rows_give_nan) {
  Centered model = small_model(2, 3);
  const Space space;
  osbi::Matrix<double, Space> theta("theta", 4, 2), theta_wide("theta_wide", 4, 5), x("x", 4, 3), x_narrow("x", 4, 1);
  osbi::Vector<double, Space> out("out", 4), out_short("out", 3);
  BOOST_CHECK_THROW(model.log_prob(space, theta_wide, x, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.log_prob(space, theta, x_narrow, out), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.log_prob(space, theta, x, out_short), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(osbi::nll_backward(model, space, theta_wide, x), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.nll_backward(space, theta, x, {}, theta_wide, {}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.nll_backward(space, theta, x, {}, {}, x_narrow), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.nll_backward(space, theta, x, out_short, {}, {}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.sample(space, x_narrow, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.sample(space, x, 3, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.set_standardization({0, 0}, {1, 0}, {0, 0, 0}, {1, 1, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::nll_backward(model, space, osbi::Matrix<double, Space>("empty", 0, 2), osbi::Matrix<double, Space>("empty", 0, 3)),
                    osbi::InvalidArgument);
  BOOST_CHECK_THROW(Centered(small_flow(2, 3), osbi::CenteringOptions{.hidden = 0}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Centered(small_flow(2, 3), osbi::CenteringOptions{.log_scale_bound = 0.0}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Centered(small_flow(2, 3), osbi::CenteringOptions{.log_scale_bound = NAN}), osbi::InvalidArgument);
  // A NaN in θ or in x gives NaN for that row only.
  Kokkos::deep_copy(theta, 0.5);
  Kokkos::deep_copy(x, 0.25);
  Kokkos::deep_copy(Kokkos::subview(theta, 1, 0), NAN);
  Kokkos::deep_copy(Kokkos::subview(x, 2, 1), NAN);
  model.log_prob(space, theta, x, out);
  const auto values = host_values(out);
  BOOST_TEST(std::isfinite(values[0]));
  BOOST_TEST(std::isnan(values[1]));
  BOOST_TEST(std::isnan(values[2]));
  BOOST_TEST(std::isfinite(values[3]));
}

BOOST_AUTO_TEST_SUITE_END()
