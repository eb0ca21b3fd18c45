// SPDX-License-Identifier: BSD-3-Clause
/// \brief Gaussian: every projection aᵀθ is exactly N(aᵀμ, aᵀΣa) (KS and χ² on its spread), log_prob
/// against Σ⁻¹ and det Σ, NaN/∞ rows, bad covariances, same draws on Serial and OpenMP, and check_prior.
#include <osbi/prior/gaussian.hpp>
#include <osbi/testing/check_prior.hpp>

#include <prior/prior_test_support.hpp>
#include <support/statistics.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>
#include <Eigen/LU>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace osbi::prior_test;

namespace {

const std::vector<double> full_mean{1.0, -2.0, 0.5};

Eigen::MatrixXd full_covariance() {
  Eigen::MatrixXd covariance(3, 3);
  covariance << 2.0, 0.6, -0.4, //
      0.6, 1.0, 0.3,            //
      -0.4, 0.3, 0.5;
  return covariance;
}

// For every projection a: KS of aᵀθ against N(aᵀμ, aᵀΣa) (DKW, false-failure probability 1e-9) and
// two-sided χ²(n) on Σ(aᵀ(θ−μ))²/(aᵀΣa) (Wilson–Hilferty at n = 1e5, 1e-9 per side). Both are exact
// for a normal sample; by Cramér–Wold the projections pin down mean and covariance together.
void check_projections(const std::vector<double>& samples, std::size_t dim, const Eigen::VectorXd& mean,
                       const Eigen::MatrixXd& covariance, const std::vector<Eigen::VectorXd>& directions) {
  const std::size_t n = samples.size() / dim;
  for (const Eigen::VectorXd& a : directions) {
    const double projected_mean = a.dot(mean);
    const double projected_variance = a.dot(covariance * a);
    std::vector<double> values(n);
    for (std::size_t i = 0; i < n; ++i) {
      double value = 0.0;
      for (std::size_t j = 0; j < dim; ++j)
        value += a(static_cast<Eigen::Index>(j)) * samples[i * dim + j];
      values[i] = value;
    }
    const double sd = std::sqrt(projected_variance);
    const double ks = osbi::testing::ks_statistic(
        values, [&](double x) { return osbi::testing::standard_normal_cdf((x - projected_mean) / sd); });
    BOOST_TEST(ks < osbi::testing::ks_bound(n), "direction " << a.transpose() << ": KS " << ks);
    const double chi_square = chi_square_statistic(values, projected_mean, projected_variance);
    const double k = static_cast<double>(n);
    BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(k), "direction " << a.transpose());
    BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(k), "direction " << a.transpose());
  }
}

std::vector<Eigen::VectorXd> directions_3d() {
  std::vector<Eigen::VectorXd> directions;
  for (const auto& a :
       std::vector<std::vector<double>>{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, -1}, {0, 1, 1}, {1, -1, 1}})
    directions.push_back(Eigen::Map<const Eigen::VectorXd>(a.data(), 3));
  return directions;
}

Eigen::VectorXd to_eigen(const std::vector<double>& values) {
  return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
}

// log N(x; μ, Σ) through Σ⁻¹ and det Σ (Eigen's LU), independent of the Cholesky route the model takes.
double closed_form_log_density(const Eigen::VectorXd& x, const Eigen::VectorXd& mean,
                               const Eigen::MatrixXd& covariance) {
  const Eigen::VectorXd r = x - mean;
  const double d = static_cast<double>(x.size());
  return -0.5 * r.dot(covariance.inverse() * r) - 0.5 * std::log(covariance.determinant()) -
         0.5 * d * std::log(2.0 * M_PI);
}

} // namespace

static_assert(osbi::Prior<osbi::Gaussian<>>);
static_assert(osbi::Prior<osbi::Gaussian<double, Kokkos::Serial>>);

BOOST_AUTO_TEST_SUITE(gaussian)

BOOST_AUTO_TEST_CASE_TEMPLATE(full_covariance_samples_have_the_right_law, Scalar, Scalars) {
  const osbi::Gaussian<Scalar> prior(full_mean, full_covariance());
  const auto samples = draw(prior, stream(201).at(0), 100000);
  check_projections(samples, 3, to_eigen(full_mean), full_covariance(), directions_3d());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(diagonal_samples_have_the_right_law, Scalar, Scalars) {
  const std::vector<double> mean{0.0, 3.0, -1.0}, sd{1.0, 0.25, 4.0};
  const auto prior = osbi::Gaussian<Scalar>::diagonal(mean, sd);
  const auto samples = draw(prior, stream(202).at(0), 100000);
  const Eigen::VectorXd variance = to_eigen(sd).array().square();
  check_projections(samples, 3, to_eigen(mean), variance.asDiagonal().toDenseMatrix(), directions_3d());
}

BOOST_AUTO_TEST_CASE(diagonal_factory_and_full_constructor_draw_alike) {
  // Same z_k feed the same θ_j: the two routes differ only by the rounding of sqrt(sd²) against sd.
  const std::vector<double> mean{0.5, -1.0}, sd{0.3, 2.0};
  const auto diagonal = osbi::Gaussian<double>::diagonal(mean, sd);
  Eigen::MatrixXd covariance = Eigen::MatrixXd::Zero(2, 2);
  covariance(0, 0) = sd[0] * sd[0];
  covariance(1, 1) = sd[1] * sd[1];
  const osbi::Gaussian<double> full(mean, covariance);
  const auto rng = stream(203).at(0);
  const auto a = draw(diagonal, rng, 1000), b = draw(full, rng, 1000);
  for (std::size_t k = 0; k < a.size(); ++k)
    BOOST_TEST(std::abs(a[k] - b[k]) <= 1e-14 * (1.0 + std::abs(a[k])));
  BOOST_TEST((diagonal.covariance() - covariance).norm() <= 1e-15);
  BOOST_TEST(diagonal.mean() == mean);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(log_prob_matches_closed_form, Scalar, Scalars) {
  const osbi::Gaussian<Scalar> full(full_mean, full_covariance());
  const auto diagonal = osbi::Gaussian<Scalar>::diagonal({0.0, 3.0}, {1.0, 0.25});
  const Eigen::MatrixXd diagonal_covariance = Eigen::Vector2d(1.0, 0.0625).asDiagonal().toDenseMatrix();

  // Samples plus far-out points, rounded to Scalar before the closed form sees them.
  auto full_points = draw(full, stream(204).at(0), 200);
  full_points.insert(full_points.end(), {1.0, -2.0, 0.5, 8.0, -9.0, 7.0, -30.0, 25.0, 0.0});
  full_points = rounded<Scalar>(full_points);
  const auto full_values = evaluate(full, full_points);
  for (std::size_t i = 0; i < full_values.size(); ++i) {
    const double expected = closed_form_log_density(Eigen::Map<const Eigen::VectorXd>(&full_points[i * 3], 3),
                                                    to_eigen(full_mean), full_covariance());
    // The closed form's own error (LU inverse, ~1e-13 relative at cond(Σ) ≈ 10) is below the Scalar tolerance.
    BOOST_TEST(std::abs(full_values[i] - expected) <= log_prob_tolerance<Scalar>(expected) + 1e-11,
               "row " << i << ": " << full_values[i] << " vs " << expected);
  }
  auto diagonal_points = rounded<Scalar>(draw(diagonal, stream(204).at(1), 200));
  const auto diagonal_values = evaluate(diagonal, diagonal_points);
  for (std::size_t i = 0; i < diagonal_values.size(); ++i) {
    const double expected = closed_form_log_density(Eigen::Map<const Eigen::VectorXd>(&diagonal_points[i * 2], 2),
                                                    Eigen::Vector2d(0.0, 3.0), diagonal_covariance);
    BOOST_TEST(std::abs(diagonal_values[i] - expected) <= log_prob_tolerance<Scalar>(expected) + 1e-11);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(non_finite_rows, Scalar, Scalars) {
  const osbi::Gaussian<Scalar> prior(full_mean, full_covariance());
  const auto values = evaluate(prior, {infinity, 0.0, 0.0,       //
                                       0.0, -infinity, infinity, //
                                       not_a_number, 0.0, 0.0,   //
                                       infinity, not_a_number, 0.0});
  BOOST_TEST(values[0] == -infinity);
  BOOST_TEST(values[1] == -infinity);
  BOOST_TEST(std::isnan(values[2]));
  BOOST_TEST(std::isnan(values[3]));
}

BOOST_AUTO_TEST_CASE(bad_parameters_throw_with_the_values) {
  using Gaussian = osbi::Gaussian<double>;
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            Gaussian({0, 0}, Eigen::MatrixXd::Identity(2, 3));
                          }),
                          {"Gaussian", "2 x 3", "square"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([] {
                            Gaussian({0, 0}, Eigen::MatrixXd::Identity(3, 3));
                          }),
                          {"Gaussian", "mean has 2", "3 x 3"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { Gaussian({}, Eigen::MatrixXd(0, 0)); }),
                          {"Gaussian", "empty"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            Gaussian({0, not_a_number}, Eigen::MatrixXd::Identity(2, 2));
                          }),
                          {"Gaussian", "mean[1] = nan"}));
  Eigen::MatrixXd with_nan = Eigen::MatrixXd::Identity(2, 2);
  with_nan(1, 0) = not_a_number;
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([&] {
                            Gaussian({0, 0}, with_nan);
                          }),
                          {"Gaussian", "covariance(1, 0) = nan"}));
  Eigen::MatrixXd asymmetric = full_covariance();
  asymmetric(2, 0) = -0.3;
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([&] { Gaussian(full_mean, asymmetric); }),
                          {"Gaussian", "not symmetric", "covariance(2, 0) = -0.3", "covariance(0, 2) = -0.4"}));
  Eigen::MatrixXd indefinite(2, 2);
  indefinite << 1.0, 2.0, 2.0, 1.0; // eigenvalues 3 and −1
  BOOST_TEST(message_of<osbi::InvalidArgument>([&] {
               Gaussian({0, 0}, indefinite);
             }) == "osbi::Gaussian: covariance is not positive definite");
  Eigen::MatrixXd singular(2, 2);
  singular << 1.0, 1.0, 1.0, 1.0;
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([&] {
                            Gaussian({0, 0}, singular);
                          }),
                          {"Gaussian", "not positive definite"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            Gaussian::diagonal({0, 0}, {1, 0});
                          }),
                          {"Gaussian", "standard_deviation[1] = 0", "> 0"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { Gaussian::diagonal({0}, {-2}); }),
                          {"Gaussian", "standard_deviation[0] = -2"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { Gaussian::diagonal({0}, {not_a_number}); }),
                          {"Gaussian", "standard_deviation[0] = nan"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([] {
                            Gaussian::diagonal({0, 0}, {1});
                          }),
                          {"Gaussian", "mean has 2", "standard_deviation has 1"}));
}

BOOST_AUTO_TEST_CASE(covariance_is_stored_symmetrized) {
  Eigen::MatrixXd nearly = full_covariance();
  nearly(0, 1) += 1e-12; // within the relative tolerance 1e-10 of the largest entry
  const osbi::Gaussian<double> prior(full_mean, nearly);
  BOOST_TEST(prior.covariance()(0, 1) == prior.covariance()(1, 0));
  BOOST_TEST((prior.covariance() - full_covariance()).norm() <= 1e-12);
  BOOST_TEST(prior.mean() == full_mean);
  BOOST_TEST(prior.support().lower == std::vector<double>(3, -infinity));
  BOOST_TEST(prior.support().upper == std::vector<double>(3, infinity));
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_dimension_mismatch) {
  const osbi::Gaussian<double> prior(full_mean, full_covariance());
  osbi::Matrix<double> narrow("narrow", 5, 2);
  osbi::Matrix<double> right("right", 5, 3);
  osbi::Vector<double> out("out", 5), long_out("long_out", 6);
  const osbi::DefaultExecutionSpace space;
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.sample(space, stream(205).at(0), narrow); }),
                          {"Gaussian", "sample", "2 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, narrow, out); }),
                          {"Gaussian", "log_prob", "2 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, right, long_out); }),
                          {"Gaussian", "out has 6", "5 rows"}));
}

#if defined(KOKKOS_ENABLE_SERIAL) && defined(KOKKOS_ENABLE_OPENMP)
BOOST_AUTO_TEST_CASE_TEMPLATE(serial_and_openmp_draw_the_same_bits, Scalar, Scalars) {
  const osbi::Gaussian<Scalar, Kokkos::Serial> serial(full_mean, full_covariance());
  const osbi::Gaussian<Scalar, Kokkos::OpenMP> openmp(full_mean, full_covariance());
  const osbi::BatchRandom rng = stream(206).at(5);
  BOOST_TEST(bitwise_equal(draw(serial, rng, 5000), draw(openmp, rng, 5000)));
  const auto serial_diagonal = osbi::Gaussian<Scalar, Kokkos::Serial>::diagonal({1, 2}, {3, 4});
  const auto openmp_diagonal = osbi::Gaussian<Scalar, Kokkos::OpenMP>::diagonal({1, 2}, {3, 4});
  BOOST_TEST(bitwise_equal(draw(serial_diagonal, rng, 5000), draw(openmp_diagonal, rng, 5000)));
}
#endif

BOOST_AUTO_TEST_CASE_TEMPLATE(passes_check_prior, Scalar, Scalars) {
  const auto full =
      osbi::testing::check_prior(osbi::Gaussian<Scalar>(full_mean, full_covariance()), osbi::testing::test_seed());
  BOOST_TEST(full.passed(), full.summary());
  const auto diagonal =
      osbi::testing::check_prior(osbi::Gaussian<Scalar>::diagonal({0}, {1}), osbi::testing::test_seed());
  BOOST_TEST(diagonal.passed(), diagonal.summary());
}

BOOST_AUTO_TEST_SUITE_END()
