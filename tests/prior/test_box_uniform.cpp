// SPDX-License-Identifier: BSD-3-Clause
/// \brief BoxUniform: uniform marginals (KS), independent coordinates (χ² on a grid), closed-form log_prob,
/// −∞ outside, NaN rows, bad input, same draws on Serial and OpenMP, and check_prior.
#include <osbi/prior/box_uniform.hpp>
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

const std::vector<double> box_low{-1.0, 0.0, 10.0};
const std::vector<double> box_high{1.0, 0.5, 12.5};

} // namespace

static_assert(osbi::Prior<osbi::BoxUniform<>>);
static_assert(osbi::Prior<osbi::BoxUniform<double, Kokkos::Serial>>);
static_assert(osbi::Prior<osbi::BoxUniform<float, Kokkos::DefaultHostExecutionSpace>>);

BOOST_AUTO_TEST_SUITE(box_uniform)

BOOST_AUTO_TEST_CASE_TEMPLATE(samples_lie_in_the_box_with_uniform_marginals, Scalar, Scalars) {
  const osbi::BoxUniform<Scalar> prior(box_low, box_high);
  const std::size_t n = 100000;
  const auto samples = draw(prior, stream(101).at(0), n);
  BOOST_TEST_REQUIRE(samples.size() == n * 3);
  const auto support = prior.support();
  for (std::size_t j = 0; j < 3; ++j) {
    const auto values = column(samples, 3, j);
    std::size_t outside = 0;
    for (const double x : values)
      outside += !(support.lower[j] <= x && x <= support.upper[j]);
    BOOST_TEST(outside == 0u); // deterministic: rounding to Scalar is monotone
    // KS against the exact CDF; DKW bound with false-failure probability 1e-9 (float rounding of the
    // draws moves the CDF by < 1e-7, far inside the bound of about 0.01).
    const double low = box_low[j], width = box_high[j] - box_low[j];
    const double statistic =
        osbi::testing::ks_statistic(values, [&](double x) { return std::clamp((x - low) / width, 0.0, 1.0); });
    BOOST_TEST(statistic < osbi::testing::ks_bound(n), "column " << j << ": KS " << statistic);
  }
}

BOOST_AUTO_TEST_CASE(coordinates_are_independent) {
  // Pearson χ² of dimensions 0 and 1 on a 10 × 10 grid of equal cells (1000 expected per cell), 99
  // degrees of freedom; nominal false-failure probability 1e-9 (the χ² approximation with 1000
  // per cell is far better than the 1000× margin to 1e-6).
  const osbi::BoxUniform<double> prior(box_low, box_high);
  const std::size_t n = 100000, bins = 10;
  const auto samples = draw(prior, stream(102).at(0), n);
  std::vector<double> counts(bins * bins, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto cell = [&](std::size_t j) {
      const double u = (samples[i * 3 + j] - box_low[j]) / (box_high[j] - box_low[j]);
      return std::min(bins - 1, static_cast<std::size_t>(u * static_cast<double>(bins)));
    };
    counts[cell(0) * bins + cell(1)] += 1.0;
  }
  const double expected = static_cast<double>(n) / static_cast<double>(bins * bins);
  double statistic = 0.0;
  for (const double count : counts)
    statistic += (count - expected) * (count - expected) / expected;
  BOOST_TEST(statistic < osbi::testing::chi_square_upper_quantile(bins * bins - 1.0));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(log_prob_matches_closed_form, Scalar, Scalars) {
  const osbi::BoxUniform<Scalar> prior(box_low, box_high);
  double expected_inside = 0.0;
  for (std::size_t j = 0; j < 3; ++j)
    expected_inside -= std::log(box_high[j] - box_low[j]);
  // clang-format off
  const std::vector<double> points = rounded<Scalar>({
      0.0,  0.25, 11.0,  // inside
      -1.0, 0.0,  10.0,  // the lower corner: the box is closed
      1.0,  0.5,  12.5,  // the upper corner
      -1.5, 0.25, 11.0,  // below low[0]
      0.0,  0.6,  11.0,  // above high[1]
      0.0,  0.25, 13.0,  // above high[2]
      infinity, 0.25, 11.0,
      -infinity, 0.25, 11.0,
      not_a_number,  0.25, 11.0,  // NaN inside
      not_a_number,  0.25, 20.0,  // NaN with another coordinate outside: still NaN
  });
  // clang-format on
  const auto values = evaluate(prior, points);
  const double tolerance = log_prob_tolerance<Scalar>(expected_inside);
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(std::abs(values[i] - expected_inside) <= tolerance, "row " << i);
  for (std::size_t i = 3; i < 8; ++i)
    BOOST_TEST(values[i] == -infinity, "row " << i << ": " << values[i]);
  for (std::size_t i = 8; i < 10; ++i)
    BOOST_TEST(std::isnan(values[i]), "row " << i << ": " << values[i]);

  // Samples all get the inside value.
  const auto samples = draw(prior, stream(103).at(0), 1000);
  for (const double value : evaluate(prior, samples))
    BOOST_TEST(std::abs(value - expected_inside) <= tolerance);
}

BOOST_AUTO_TEST_CASE(float_support_is_the_box_rounded_to_float) {
  const osbi::BoxUniform<float> prior({0.1}, {0.3});
  BOOST_TEST(prior.low()[0] == 0.1);
  BOOST_TEST(prior.high()[0] == 0.3);
  BOOST_TEST(prior.support().lower[0] == static_cast<double>(0.1f));
  BOOST_TEST(prior.support().upper[0] == static_cast<double>(0.3f));
  const osbi::BoxUniform<double> exact({0.1}, {0.3});
  BOOST_TEST(exact.support().lower[0] == 0.1);
  BOOST_TEST(exact.support().upper[0] == 0.3);
}

BOOST_AUTO_TEST_CASE(bad_parameters_throw_with_the_values) {
  using Box = osbi::BoxUniform<double>;
  BOOST_TEST(message_of<osbi::InvalidArgument>([] {
               Box({0, 0, 1}, {1, 1, 1});
             }) == "osbi::BoxUniform: low[2] = 1 must be < high[2] = 1");
  BOOST_TEST(message_of<osbi::InvalidArgument>([] {
               Box({0, 2.5}, {1, 1});
             }) == "osbi::BoxUniform: low[1] = 2.5 must be < high[1] = 1");
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([] {
                            Box({0, 0}, {1});
                          }),
                          {"BoxUniform", "low has 2", "high has 1"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { Box({}, {}); }), {"BoxUniform", "empty"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] {
                            Box({0, not_a_number}, {1, 1});
                          }),
                          {"BoxUniform", "low[1] = nan", "finite"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { Box({0}, {infinity}); }),
                          {"BoxUniform", "high[0] = inf", "finite"}));
  BOOST_TEST(
      contains_all(message_of<osbi::InvalidArgument>([] { Box({-1e308}, {1e308}); }), {"BoxUniform", "overflows"}));
  // Bounds that float cannot tell apart, or cannot hold.
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { osbi::BoxUniform<float>({1.0}, {1.0 + 1e-12}); }),
                          {"BoxUniform", "low[0] = 1", "high[0] = 1", "4-byte"}));
  BOOST_TEST(contains_all(message_of<osbi::InvalidArgument>([] { osbi::BoxUniform<float>({0.0}, {1e300}); }),
                          {"BoxUniform", "high[0] = 1e+300"}));
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_dimension_mismatch) {
  const osbi::BoxUniform<double> prior(box_low, box_high);
  osbi::Matrix<double> wide("wide", 5, 4);
  osbi::Matrix<double> right("right", 5, 3);
  osbi::Vector<double> out("out", 5);
  osbi::Vector<double> short_out("short_out", 4);
  const osbi::DefaultExecutionSpace space;
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.sample(space, stream(104).at(0), wide); }),
                          {"BoxUniform", "sample", "4 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, wide, out); }),
                          {"BoxUniform", "log_prob", "4 columns", "dim() = 3"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { prior.log_prob(space, right, short_out); }),
                          {"BoxUniform", "out has 4", "5 rows"}));
}

#if defined(KOKKOS_ENABLE_SERIAL) && defined(KOKKOS_ENABLE_OPENMP)
BOOST_AUTO_TEST_CASE_TEMPLATE(serial_and_openmp_draw_the_same_bits, Scalar, Scalars) {
  const osbi::BoxUniform<Scalar, Kokkos::Serial> serial(box_low, box_high);
  const osbi::BoxUniform<Scalar, Kokkos::OpenMP> openmp(box_low, box_high);
  const osbi::BatchRandom rng = stream(105).at(3);
  BOOST_TEST(bitwise_equal(draw(serial, rng, 5000), draw(openmp, rng, 5000)));
}
#endif

BOOST_AUTO_TEST_CASE_TEMPLATE(passes_check_prior, Scalar, Scalars) {
  const auto report =
      osbi::testing::check_prior(osbi::BoxUniform<Scalar>(box_low, box_high), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  const auto narrow = osbi::testing::check_prior(osbi::BoxUniform<Scalar>({0.1}, {0.3}), osbi::testing::test_seed());
  BOOST_TEST(narrow.passed(), narrow.summary());
}

BOOST_AUTO_TEST_SUITE_END()
