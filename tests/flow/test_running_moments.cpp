// SPDX-License-Identifier: BSD-3-Clause
/// \brief RunningMoments: streaming batches agree with one pass over their union; invalid rows are
/// skipped and counted exactly; restoring the state continues the same statistics.
#include <osbi/flow/running_moments.hpp>

#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using Space = Kokkos::DefaultHostExecutionSpace;

osbi::Matrix<double, Space> batch_of(const std::vector<std::vector<double>>& rows, std::size_t begin, std::size_t end) {
  osbi::Matrix<double, Space> m("osbi::test::batch", end - begin, rows.front().size());
  for (std::size_t i = begin; i < end; ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j) m(i - begin, j) = rows[i][j];
  return m;
}

} // namespace

BOOST_AUTO_TEST_SUITE(running_moments)

BOOST_AUTO_TEST_CASE(streaming_equals_one_pass_and_skips_invalid_rows) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  std::normal_distribution<double> normal;
  const std::size_t n = 5000, d = 3;
  // A large offset with a small spread: a naive Σx² − (Σx)²/n loses every digit here.
  const double offset[d] = {1e6, -3.0, 0.0}, spread[d] = {1e-2, 2.0, 1.0};
  std::vector<std::vector<double>> rows(n, std::vector<double>(d));
  std::size_t invalid = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) rows[i][j] = offset[j] + spread[j] * normal(engine);
    if (i % 97 == 5) rows[i][i % d] = std::numeric_limits<double>::quiet_NaN(), ++invalid;
    if (i % 101 == 7) rows[i][(i + 1) % d] = -std::numeric_limits<double>::infinity(), invalid += (i % 97 != 5);
  }
  // Reference: two passes over the valid rows, in long double.
  long double count = 0, sum[d] = {}, squares[d] = {};
  auto valid = [&](std::size_t i) {
    for (double v : rows[i])
      if (!std::isfinite(v)) return false;
    return true;
  };
  for (std::size_t i = 0; i < n; ++i)
    if (valid(i)) {
      count += 1;
      for (std::size_t j = 0; j < d; ++j) sum[j] += rows[i][j];
    }
  for (std::size_t i = 0; i < n; ++i)
    if (valid(i))
      for (std::size_t j = 0; j < d; ++j) squares[j] += (rows[i][j] - sum[j] / count) * (rows[i][j] - sum[j] / count);

  osbi::RunningMoments<double, Space> moments(d);
  const std::size_t cuts[] = {0, 1, 1, 17, 400, 401, 2999, n}; // uneven, including empty batches
  for (std::size_t c = 0; c + 1 < std::size(cuts); ++c) moments.update(Space(), batch_of(rows, cuts[c], cuts[c + 1]));
  BOOST_TEST(moments.count() == static_cast<std::size_t>(count));
  BOOST_TEST(moments.skipped_rows() == invalid);
  BOOST_TEST(moments.count() + moments.skipped_rows() == n);
  for (std::size_t j = 0; j < d; ++j) {
    const double mean = static_cast<double>(sum[j] / count), variance = static_cast<double>(squares[j] / count);
    BOOST_TEST(std::abs(moments.mean()[j] - mean) <= 1e-12 * (std::abs(mean) + spread[j]));
    // Each double deviation from 1e6 carries ~1e-10 of rounding on a 1e-2 spread; a one-pass
    // Σx² − (Σx)²/n formula would be off by a factor of ~1e4 here instead.
    BOOST_TEST(std::abs(moments.variance()[j] - variance) <= 1e-6 * variance);
  }

  // The three numbers of the state are all a restart needs.
  osbi::RunningMoments<double, Space> restored(moments.count(), moments.mean(), moments.m2(), moments.skipped_rows());
  const auto extra = batch_of(rows, 0, 100);
  moments.update(Space(), extra);
  restored.update(Space(), extra);
  for (std::size_t j = 0; j < d; ++j) {
    BOOST_TEST(moments.mean()[j] == restored.mean()[j]);
    BOOST_TEST(moments.m2()[j] == restored.m2()[j]);
  }
}

BOOST_AUTO_TEST_CASE(constant_features_get_unit_scale) {
  osbi::RunningMoments<float, Space> moments(2);
  osbi::Matrix<float, Space> data("osbi::test::data", 4, 2);
  for (std::size_t i = 0; i < 4; ++i) data(i, 0) = 3.0f, data(i, 1) = static_cast<float>(i);
  moments.update(Space(), data);
  const auto sd = moments.standard_deviation();
  BOOST_TEST(sd[0] == 1.0);
  BOOST_TEST(std::abs(sd[1] - std::sqrt(1.25)) < 1e-12);
  BOOST_CHECK_THROW(moments.update(Space(), osbi::Matrix<float, Space>("osbi::test::wrong", 2, 3)),
                    osbi::DimensionMismatch);
  BOOST_CHECK_THROW(osbi::RunningMoments<float>(0), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
