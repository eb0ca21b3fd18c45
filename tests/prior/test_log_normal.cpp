// SPDX-License-Identifier: BSD-3-Clause
/// \brief LogNormal: log θ is exactly N(μ, σ²) (z-test on the mean, χ² on the spread, KS of θ against the
/// log-normal CDF), closed-form log_prob, −∞ at θ <= 0, NaN rows, bad input, Serial = OpenMP, check_prior.
#include <osbi/prior/log_normal.hpp>
#include <osbi/testing/check_prior.hpp>

#include <prior/prior_test_support.hpp>
#include <support/statistics.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace osbi::prior_test;

namespace {

const std::vector<double> log_mean{0.0, 1.5, -2.0};
const std::vector<double> log_sd{1.0, 0.25, 0.5};

} // namespace

static_assert(osbi::Prior<osbi::LogNormal<>>);
static_assert(osbi::Prior<osbi::LogNormal<double, Kokkos::Serial>>);

BOOST_AUTO_TEST_SUITE(log_normal)

BOOST_AUTO_TEST_CASE_TEMPLATE(samples_have_the_right_law, Scalar, Scalars) {
  const osbi::LogNormal<Scalar> prior(log_mean, log_sd);
  const std::size_t n = 100000;
  const auto samples = draw(prior, stream(301).at(0), n);
  const double z = osbi::testing::two_sided_z(); // false-failure probability 1e-9
  for (std::size_t j = 0; j < 3; ++j) {
    const auto values = column(samples, 3, j);
    std::vector<double> logs;
    std::size_t not_positive = 0;
    for (const double x : values) {
      not_positive += !(x > 0.0);
      logs.push_back(std::log(x));
    }
    BOOST_TEST(not_positive == 0u);
    // Mean of log θ is exactly N(μ, σ²/n): two-sided z-test, false-failure probability 1e-9.
    double mean = 0.0;
    for (const double y : logs)
      mean += y;
    mean /= static_cast<double>(n);
    BOOST_TEST(std::abs(mean - log_mean[j]) < z * log_sd[j] / std::sqrt(static_cast<double>(n)), "column " << j);
    // Σ(log θ − μ)²/σ² is exactly χ²(n): two-sided, 1e-9 per side (Wilson–Hilferty at n = 1e5).
    const double chi_square = chi_square_statistic(logs, log_mean[j], log_sd[j] * log_sd[j]);
    BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(static_cast<double>(n)), "column " << j);
    BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(static_cast<double>(n)), "column " << j);
    // KS of θ against the log-normal CDF (DKW, 1e-9).
    const double ks = osbi::testing::ks_statistic(values, [&](double x) {
      return x > 0.0 ? osbi::testing::standard_normal_cdf((std::log(x) - log_mean[j]) / log_sd[j]) : 0.0;
    });
    BOOST_TEST(ks < osbi::testing::ks_bound(n), "column " << j << ": KS " << ks);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(log_prob_matches_closed_form, Scalar, Scalars) {
  const osbi::LogNormal<Scalar> prior(log_mean, log_sd);
  auto points = draw(prior, stream(302).at(0), 300);
  points.insert(points.end(), {1e-6, 1e3, 1e-9, 1.0, 1.0, 1.0});
  const auto values = evaluate(prior, points);
  for (std::size_t i = 0; i < values.size(); ++i) {
    double expected = 0.0;
    for (std::size_t j = 0; j < 3; ++j) {
      const double x = static_cast<double>(static_cast<Scalar>(points[i * 3 + j]));
      const double s = log_sd[j];
      expected += -std::log(x * s * std::sqrt(2.0 * M_PI)) -
                  (std::log(x) - log_mean[j]) * (std::log(x) - log_mean[j]) / (2.0 * s * s);
    }
    BOOST_TEST(std::abs(values[i] - expected) <= log_prob_tolerance<Scalar>(expected) + 1e-12,
               "row " << i << ": " << values[i] << " vs " << expected);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(outside_the_support_and_nan_rows, Scalar, Scalars) {
  const osbi::LogNormal<Scalar> prior(log_mean, log_sd);
  const double tiny = std::numeric_limits<Scalar>::denorm_min();
  const auto values = evaluate(prior, {0.0,          1.0,          1.0,   //
                                       1.0,          -0.0,         1.0,   //
                                       1.0,          1.0,          -tiny, //
                                       -1.0,         -2.0,         -3.0,  //
                                       -infinity,    1.0,          1.0,   //
                                       infinity,     1.0,          1.0,   //
                                       not_a_number, 1.0,          1.0,   //
                                       -1.0,         not_a_number, 1.0,   // NaN beats outside
                                       tiny,         1.0,          1.0}); // smallest positive: inside, finite
  for (std::size_t i = 0; i < 6; ++i)
    BOOST_TEST(values[i] == -infinity, "row " << i << ": " << values[i]);
  BOOST_TEST(std::isnan(values[6]));
  BOOST_TEST(std::isnan(values[7]));
  BOOST_TEST(std::isfinite(values[8]));
  BOOST_TEST(prior.support().lower == std::vector<double>(3, 0.0));
  BOOST_TEST(prior.support().upper == std::vector<double>(3, infinity));
}

BOOST_AUTO_TEST_CASE(bad_parameters_throw_with_the_values) {
  using LogNormal = osbi::LogNormal<double>;
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([] {
                            LogNormal({0, 0}, {1});
                          }),
                          {"LogNormal", "log_mean has 2", "log_standard_deviation has 1"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { LogNormal({}, {}); }), {"LogNormal", "empty"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            LogNormal({0, not_a_number}, {1, 1});
                          }),
                          {"LogNormal", "log_mean[1] = nan"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { LogNormal({0}, {0}); }),
                          {"LogNormal", "log_standard_deviation[0] = 0", "> 0"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            LogNormal({0, 1}, {1, -0.5});
                          }),
                          {"LogNormal", "log_standard_deviation[1] = -0.5"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { LogNormal({0}, {infinity}); }),
                          {"LogNormal", "log_standard_deviation[0] = inf"}));
  const LogNormal prior({0.25}, {2.0});
  BOOST_TEST(prior.log_mean() == std::vector<double>{0.25});
  BOOST_TEST(prior.log_standard_deviation() == std::vector<double>{2.0});
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_dimension_mismatch) {
  const osbi::LogNormal<double> prior(log_mean, log_sd);
  osbi::Matrix<double> wide("wide", 5, 4);
  osbi::Matrix<double> right("right", 5, 3);
  osbi::Vector<double> out("out", 5), short_out("short_out", 2);
  const osbi::DefaultExecutionSpace space;
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.sample(space, stream(303).at(0), wide); }),
                          {"LogNormal", "sample", "4 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, wide, out); }),
                          {"LogNormal", "log_prob", "4 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, right, short_out); }),
                          {"LogNormal", "out has 2", "5 rows"}));
}

#if defined(KOKKOS_ENABLE_SERIAL) && defined(KOKKOS_ENABLE_OPENMP)
BOOST_AUTO_TEST_CASE_TEMPLATE(serial_and_openmp_draw_the_same_bits, Scalar, Scalars) {
  const osbi::LogNormal<Scalar, Kokkos::Serial> serial(log_mean, log_sd);
  const osbi::LogNormal<Scalar, Kokkos::OpenMP> openmp(log_mean, log_sd);
  const osbi::BatchRandom rng = stream(304).at(2);
  BOOST_TEST(bitwise_equal(draw(serial, rng, 5000), draw(openmp, rng, 5000)));
}
#endif

BOOST_AUTO_TEST_CASE_TEMPLATE(passes_check_prior, Scalar, Scalars) {
  const auto report = osbi::testing::check_prior(osbi::LogNormal<Scalar>(log_mean, log_sd), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
