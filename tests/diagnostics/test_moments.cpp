// SPDX-License-Identifier: BSD-3-Clause
/// \brief Posterior moment errors: a hand-computed case, exact draws of gaussian_linear's closed-form
/// posterior, sbibm's reference posterior samples, and input errors.
#include <osbi/diagnostics/moments.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/simulator/gaussian_linear.hpp>

#include <bench/support/sbibm_data.hpp>
#include <support/csv.hpp>
#include <support/statistics.hpp>
#include <support/test_seed.hpp>

#include <Eigen/Core>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace diagnostics = osbi::diagnostics;

/*
 * Bounds for n samples of N(μ, s²·I) in D dimensions (s² = 0.05 for gaussian_linear), each with
 * false-failure probability 1e-9 split over the entries it covers (Bonferroni):
 *   mean entries: sd s/√n;  covariance entries: sd ≤ √2·s²/√n (diagonal; off-diagonal s²/√n), and the
 *   chi-square skew of the diagonal (√(8/n) ≤ 0.03) is covered by a 10% margin.
 * The relative Frobenius error follows from the max-abs bound: ‖E‖_F ≤ D·max|E_ij|, ‖Σ‖_F = s²√D.
 */
struct Bounds {
  double mean, covariance, relative_covariance;
};

Bounds bounds(std::size_t n, std::size_t dim, double variance) {
  const double root_n = std::sqrt(static_cast<double>(n));
  const double d = static_cast<double>(dim);
  Bounds b{};
  b.mean = osbi::testing::two_sided_z(osbi::testing::default_false_failure / d) * std::sqrt(variance) / root_n;
  b.covariance = 1.1 * osbi::testing::two_sided_z(osbi::testing::default_false_failure / (d * (d + 1) / 2)) *
                 std::sqrt(2.0) * variance / root_n;
  b.relative_covariance = d * b.covariance / (variance * std::sqrt(d));
  return b;
}

const osbi::GaussianLinear<double, Kokkos::DefaultHostExecutionSpace> task; // holds no Views: safe before Kokkos::initialize

std::vector<double> observation() {
  const auto rows = osbi::testing::read_csv(osbi::testing::data_dir() / "sbibm/gaussian_linear/num_observation_1/observation.csv");
  return rows.at(0);
}

Eigen::VectorXd closed_form_mean(const std::vector<double>& x0) {
  const std::vector<double> mean = task.posterior_mean(x0);
  return Eigen::Map<const Eigen::VectorXd>(mean.data(), static_cast<Eigen::Index>(mean.size()));
}

Eigen::MatrixXd closed_form_covariance() {
  const std::vector<double> variance = task.posterior_variance();
  return Eigen::Map<const Eigen::VectorXd>(variance.data(), static_cast<Eigen::Index>(variance.size())).asDiagonal();
}

} // namespace

BOOST_AUTO_TEST_SUITE(diagnostics_moments)

BOOST_AUTO_TEST_CASE(hand_computed_moments_and_errors) {
  Eigen::MatrixXd samples(3, 2);
  samples << 1, 2, 3, 4, 5, 0;
  const Eigen::VectorXd mean = diagnostics::sample_mean(samples);
  const Eigen::MatrixXd covariance = diagnostics::sample_covariance(samples);
  BOOST_TEST(mean(0) == 3.0);
  BOOST_TEST(mean(1) == 2.0);
  BOOST_TEST(covariance(0, 0) == 4.0);
  BOOST_TEST(covariance(1, 1) == 4.0);
  BOOST_TEST(covariance(0, 1) == -2.0);
  BOOST_TEST(covariance(1, 0) == -2.0);
  // Against μ = (3, 4), Σ = 4·I: mean error (0, −2), covariance error off-diagonal −2 only.
  const diagnostics::MomentErrors errors =
      diagnostics::moment_errors(samples, Eigen::Vector2d(3.0, 4.0), 4.0 * Eigen::Matrix2d::Identity());
  const auto tolerance = boost::test_tools::tolerance(1e-14);
  BOOST_TEST(errors.max_abs_mean_error == 2.0, tolerance);
  BOOST_TEST(errors.relative_mean_error == 2.0 / 5.0, tolerance);
  BOOST_TEST(errors.max_abs_covariance_error == 2.0, tolerance);
  BOOST_TEST(errors.relative_covariance_error == std::sqrt(8.0) / std::sqrt(32.0), tolerance);
  // μ = 0: the relative mean error is the absolute norm.
  const diagnostics::MomentErrors at_zero =
      diagnostics::moment_errors(samples, Eigen::Vector2d::Zero(), 4.0 * Eigen::Matrix2d::Identity());
  BOOST_TEST(at_zero.relative_mean_error == std::sqrt(13.0), tolerance);
}

// Exact draws from gaussian_linear's closed-form posterior N(x₀/2, 0.05·I): errors within the bounds.
BOOST_AUTO_TEST_CASE(exact_posterior_draws_match_the_closed_form) {
  const std::size_t n = 20000, dim = 10;
  const std::vector<double> x0 = observation();
  const Eigen::VectorXd mu = closed_form_mean(x0);
  const Eigen::MatrixXd sigma = closed_form_covariance();
  osbi::RowRandom generator = osbi::RandomStream(osbi::testing::test_seed(), 90).next().row(0);
  Eigen::MatrixXd samples(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < samples.rows(); ++i)
    for (Eigen::Index j = 0; j < samples.cols(); ++j) samples(i, j) = mu(j) + std::sqrt(sigma(j, j)) * generator.normal();
  const diagnostics::MomentErrors errors = diagnostics::moment_errors(samples, mu, sigma);
  const Bounds b = bounds(n, dim, 0.05);
  BOOST_TEST_INFO("mean " << errors.max_abs_mean_error << " < " << b.mean << ", cov " << errors.max_abs_covariance_error
                          << " < " << b.covariance << ", rel cov " << errors.relative_covariance_error << " < "
                          << b.relative_covariance);
  BOOST_TEST(errors.max_abs_mean_error < b.mean);
  BOOST_TEST(errors.max_abs_covariance_error < b.covariance);
  BOOST_TEST(errors.relative_covariance_error < b.relative_covariance);
  // A posterior whose variance is off by 10% (0.005 per diagonal entry) is caught.
  const diagnostics::MomentErrors wrong = diagnostics::moment_errors(samples, mu, 1.1 * sigma);
  BOOST_TEST(wrong.max_abs_covariance_error > b.covariance);
}

// sbibm's reference posterior samples (10 000, observation 1) against the closed form.
BOOST_AUTO_TEST_CASE(sbibm_reference_samples_match_the_closed_form) {
  // Stored as .csv.bz2 and read through bzcat (Debian's bzip2, installed by scripts/install-deps.sh).
  const Eigen::MatrixXd samples =
      osbi::bench::SbibmObservation(osbi::testing::data_dir(), "gaussian_linear", 1).reference_samples();
  const std::size_t rows = static_cast<std::size_t>(samples.rows());
  BOOST_TEST_REQUIRE(rows == 10000u);
  BOOST_TEST_REQUIRE(samples.cols() == 10);
  const diagnostics::MomentErrors errors =
      diagnostics::moment_errors(samples, closed_form_mean(observation()), closed_form_covariance());
  const Bounds b = bounds(rows, 10, 0.05);
  BOOST_TEST_INFO("mean " << errors.max_abs_mean_error << " cov " << errors.max_abs_covariance_error << " rel cov "
                          << errors.relative_covariance_error);
  BOOST_TEST(errors.max_abs_mean_error < b.mean);
  BOOST_TEST(errors.max_abs_covariance_error < b.covariance);
  BOOST_TEST(errors.relative_covariance_error < b.relative_covariance);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_rejected) {
  const Eigen::MatrixXd samples = Eigen::MatrixXd::Random(5, 3);
  BOOST_CHECK_THROW(diagnostics::moment_errors(samples, Eigen::VectorXd::Zero(2), Eigen::MatrixXd::Identity(3, 3)),
                    osbi::DimensionMismatch);
  BOOST_CHECK_THROW(diagnostics::moment_errors(samples, Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(3, 2)),
                    osbi::DimensionMismatch);
  BOOST_CHECK_THROW(diagnostics::moment_errors(samples, Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Zero(3, 3)),
                    osbi::InvalidArgument);
  BOOST_CHECK_THROW(diagnostics::sample_covariance(Eigen::MatrixXd::Zero(1, 3)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(diagnostics::sample_mean(Eigen::MatrixXd::Zero(0, 3)), osbi::InvalidArgument);
  Eigen::MatrixXd with_nan = samples;
  with_nan(2, 1) = std::numeric_limits<double>::quiet_NaN();
  BOOST_CHECK_THROW(diagnostics::sample_mean(with_nan), osbi::InvalidArgument);
  BOOST_CHECK_THROW(diagnostics::sample_covariance(with_nan), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
