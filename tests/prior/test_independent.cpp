// SPDX-License-Identifier: BSD-3-Clause
/// \brief Independent<...>: dim and support concatenate, block k is part k's draw with rng.split(k), marginals
/// keep their law, parts are uncorrelated (even two identical parts), log_prob is the sum of the parts'.
#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/prior/independent.hpp>
#include <osbi/prior/log_normal.hpp>
#include <osbi/testing/check_prior.hpp>

#include <prior/prior_test_support.hpp>
#include <support/statistics.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

using namespace osbi::prior_test;

namespace {

// Parts: a 2-box, a diagonal Gaussian, a log-normal, and the same 2-box again (columns 0-1, 2-3, 4, 5-6).
template <class Scalar, class ExecutionSpace = osbi::DefaultExecutionSpace>
auto make_product() {
  return osbi::Independent(osbi::BoxUniform<Scalar, ExecutionSpace>({0.0, -2.0}, {1.0, 2.0}),
                           osbi::Gaussian<Scalar, ExecutionSpace>::diagonal({5.0, -1.0}, {2.0, 0.5}),
                           osbi::LogNormal<Scalar, ExecutionSpace>({0.5}, {0.25}),
                           osbi::BoxUniform<Scalar, ExecutionSpace>({0.0, -2.0}, {1.0, 2.0}));
}

// Closed-form mean and standard deviation of each of the 7 columns.
struct Moments {
  std::vector<double> mean, sd;
};
Moments product_moments() {
  const double s = 0.25, m = 0.5;
  const double log_normal_mean = std::exp(m + s * s / 2);
  const double log_normal_sd = std::sqrt((std::exp(s * s) - 1) * std::exp(2 * m + s * s));
  const double box_sd0 = 1.0 / std::sqrt(12.0), box_sd1 = 4.0 / std::sqrt(12.0);
  return {{0.5, 0.0, 5.0, -1.0, log_normal_mean, 0.5, 0.0},
          {box_sd0, box_sd1, 2.0, 0.5, log_normal_sd, box_sd0, box_sd1}};
}

} // namespace

using Product = decltype(make_product<double>());
static_assert(std::is_same_v<Product, osbi::Independent<osbi::BoxUniform<double>, osbi::Gaussian<double>,
                                                        osbi::LogNormal<double>, osbi::BoxUniform<double>>>);
static_assert(osbi::Prior<Product>);
static_assert(osbi::Prior<osbi::Independent<Product, osbi::LogNormal<double>>>); // nests
static_assert(std::is_same_v<Product::scalar_type, double>);
static_assert(Product::part_count == 4);

BOOST_AUTO_TEST_SUITE(independent)

BOOST_AUTO_TEST_CASE(dim_support_and_offsets_concatenate) {
  const auto product = make_product<double>();
  BOOST_TEST(product.dim() == 7u);
  BOOST_TEST(product.offset(0) == 0u);
  BOOST_TEST(product.offset(1) == 2u);
  BOOST_TEST(product.offset(2) == 4u);
  BOOST_TEST(product.offset(3) == 5u);
  const auto support = product.support();
  BOOST_TEST(support.lower == (std::vector<double>{0.0, -2.0, -infinity, -infinity, 0.0, 0.0, -2.0}));
  BOOST_TEST(support.upper == (std::vector<double>{1.0, 2.0, infinity, infinity, infinity, 1.0, 2.0}));
  BOOST_TEST(product.part<2>().log_mean() == std::vector<double>{0.5});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(block_k_is_part_k_drawn_with_split_k, Scalar, Scalars) {
  const auto product = make_product<Scalar>();
  const osbi::BatchRandom rng = stream(401).at(7);
  const std::size_t n = 2000;
  const auto samples = draw(product, rng, n);
  const auto check_block = [&](const auto& part, std::uint32_t k, std::size_t offset) {
    const std::size_t width = part.dim();
    const auto expected = draw(part, rng.split(k), n);
    std::vector<double> block;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < width; ++j)
        block.push_back(samples[i * 7 + offset + j]);
    BOOST_TEST(bitwise_equal(block, expected), "part " << k);
  };
  check_block(product.template part<0>(), 0, 0);
  check_block(product.template part<1>(), 1, 2);
  check_block(product.template part<2>(), 2, 4);
  check_block(product.template part<3>(), 3, 5);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(marginals_keep_their_law_and_parts_are_uncorrelated, Scalar, Scalars) {
  const auto product = make_product<Scalar>();
  const std::size_t n = 100000;
  const auto samples = draw(product, stream(402).at(0), n);
  const Moments moments = product_moments();
  const auto standardized = [&](std::size_t j) {
    auto values = column(samples, 7, j);
    for (double& x : values)
      x = (x - moments.mean[j]) / moments.sd[j];
    return values;
  };
  // Each column against its part's exact marginal CDF: KS, DKW bound, false-failure probability 1e-9.
  const auto uniform_cdf = [](double low, double high) {
    return [=](double x) { return std::clamp((x - low) / (high - low), 0.0, 1.0); };
  };
  const auto normal_cdf = [](double mean, double sd) {
    return [=](double x) { return osbi::testing::standard_normal_cdf((x - mean) / sd); };
  };
  const double bound = osbi::testing::ks_bound(n);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 0), uniform_cdf(0, 1)) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 1), uniform_cdf(-2, 2)) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 2), normal_cdf(5, 2)) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 3), normal_cdf(-1, 0.5)) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 4), [](double x) {
               return x > 0 ? osbi::testing::standard_normal_cdf((std::log(x) - 0.5) / 0.25) : 0.0;
             }) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 5), uniform_cdf(0, 1)) < bound);
  BOOST_TEST(osbi::testing::ks_statistic(column(samples, 7, 6), uniform_cdf(-2, 2)) < bound);

  // Columns of different parts: Σ x̃ỹ / √n with closed-form standardization has mean 0 and variance 1
  // exactly under independence and is normal by the CLT at n = 1e5; |·| < z(1e-9) per pair (nominal
  // 1e-9: the products have light tails here, so the normal approximation's error leaves the real
  // rate far below 1e-6). Parts 0 and 3 are the same box: equal draws would give correlation 1.
  const double z = osbi::testing::two_sided_z();
  const std::vector<std::pair<std::size_t, std::size_t>> pairs{{0, 5}, {1, 6}, {0, 2}, {1, 3}, {3, 4}, {4, 6}};
  for (const auto& [a, b] : pairs) {
    const auto x = standardized(a), y = standardized(b);
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      sum += x[i] * y[i];
    BOOST_TEST(std::abs(sum / std::sqrt(static_cast<double>(n))) < z, "columns " << a << " and " << b);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(log_prob_is_the_sum_of_the_parts, Scalar, Scalars) {
  const auto product = make_product<Scalar>();
  auto points = draw(product, stream(403).at(0), 100);
  // clang-format off
  points.insert(points.end(), {
                                  0.5, 0.0, 5.0, -1.0, 1.0, 0.5, 0.0,          // inside
                                  1.5, 0.0, 5.0, -1.0, 1.0, 0.5, 0.0,          // outside part 0
                                  0.5, 0.0, 5.0, -1.0, -1.0, 0.5, 0.0,         // outside part 2
                                  0.5, 0.0, 5.0, -1.0, 1.0, 0.5, 3.0,          // outside part 3
                                  0.5, 0.0, not_a_number, -1.0, 1.0, 0.5, 0.0, // NaN in part 1
                                  1.5, 0.0, not_a_number, -1.0, 1.0, 0.5, 0.0, // NaN beats outside
                              });
  // clang-format on
  points = rounded<Scalar>(points);
  const std::size_t rows = points.size() / 7;
  const auto values = evaluate(product, points);
  // The parts evaluated on their own column blocks.
  const auto block = [&](std::size_t offset, std::size_t width) {
    std::vector<double> result;
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < width; ++j)
        result.push_back(points[i * 7 + offset + j]);
    return result;
  };
  const auto p0 = evaluate(product.template part<0>(), block(0, 2));
  const auto p1 = evaluate(product.template part<1>(), block(2, 2));
  const auto p2 = evaluate(product.template part<2>(), block(4, 1));
  const auto p3 = evaluate(product.template part<3>(), block(5, 2));
  for (std::size_t i = 0; i < rows; ++i) {
    const double expected = p0[i] + p1[i] + p2[i] + p3[i];
    if (std::isnan(expected)) {
      BOOST_TEST(std::isnan(values[i]), "row " << i);
    } else if (std::isinf(expected)) {
      BOOST_TEST(values[i] == expected, "row " << i);
    } else {
      BOOST_TEST(std::abs(values[i] - expected) <= 4 * log_prob_tolerance<Scalar>(expected), "row " << i);
    }
  }
  BOOST_TEST(std::isfinite(values[rows - 6]));
  for (std::size_t i = rows - 5; i < rows - 2; ++i)
    BOOST_TEST(values[i] == -infinity);
  BOOST_TEST(std::isnan(values[rows - 2]));
  BOOST_TEST(std::isnan(values[rows - 1]));
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_dimension_mismatch) {
  const auto product = make_product<double>();
  osbi::Matrix<double> narrow("narrow", 5, 6);
  osbi::Matrix<double> right("right", 5, 7);
  osbi::Vector<double> out("out", 5), short_out("short_out", 4);
  const osbi::DefaultExecutionSpace space;
  BOOST_TEST(
      contains_all(message_of<osbi::DimensionMismatch>([&] { product.sample(space, stream(404).at(0), narrow); }),
                   {"Independent", "sample", "6 columns", "dim() = 7"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { product.log_prob(space, narrow, out); }),
                          {"Independent", "log_prob", "6 columns", "dim() = 7"}));
  BOOST_TEST(contains_all(message_of<osbi::DimensionMismatch>([&] { product.log_prob(space, right, short_out); }),
                          {"Independent", "out has 4", "5 rows"}));
}

#if defined(KOKKOS_ENABLE_SERIAL) && defined(KOKKOS_ENABLE_OPENMP)
BOOST_AUTO_TEST_CASE_TEMPLATE(serial_and_openmp_draw_the_same_bits, Scalar, Scalars) {
  const auto serial = make_product<Scalar, Kokkos::Serial>();
  const auto openmp = make_product<Scalar, Kokkos::OpenMP>();
  const osbi::BatchRandom rng = stream(405).at(1);
  BOOST_TEST(bitwise_equal(draw(serial, rng, 5000), draw(openmp, rng, 5000)));
}
#endif

BOOST_AUTO_TEST_CASE_TEMPLATE(passes_check_prior, Scalar, Scalars) {
  const auto report = osbi::testing::check_prior(make_product<Scalar>(), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  const auto single =
      osbi::testing::check_prior(osbi::Independent(osbi::LogNormal<Scalar>({0}, {1})), osbi::testing::test_seed());
  BOOST_TEST(single.passed(), single.summary());
}

BOOST_AUTO_TEST_SUITE_END()
