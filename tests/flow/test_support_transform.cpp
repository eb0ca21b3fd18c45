// SPDX-License-Identifier: BSD-3-Clause
/// \brief SupportTransform: exact round trips, log-determinants against finite differences, the
/// pushed-forward density integrates to one, samples never reach a finite bound.
#include <osbi/flow/support_transform.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace {

using Space = Kokkos::DefaultHostExecutionSpace;
constexpr double infinity = std::numeric_limits<double>::infinity();

// One dimension of each kind: interval, lower bound only, upper bound only, unbounded.
const osbi::SupportBounds mixed{{-1.0, 0.5, -infinity, -infinity}, {3.0, infinity, 2.0, infinity}};

} // namespace

BOOST_AUTO_TEST_SUITE(support_transform)

BOOST_AUTO_TEST_CASE(round_trip_and_log_determinants) {
  const osbi::SupportTransform<double, Space> transform(mixed);
  BOOST_TEST(!transform.is_identity());
  const double values[] = {-8.0, -1.3, -0.01, 0.0, 0.7, 2.5, 9.0};
  const std::size_t n = std::size(values);
  osbi::Matrix<double, Space> u("u", n, 4), theta("theta", n, 4), back("back", n, 4);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < 4; ++j) u(i, j) = values[i];
  osbi::Vector<double, Space> forward_log_det("fwd", n), inverse_log_det("inv", n);
  transform.to_support(Space(), u, theta, forward_log_det);
  transform.from_support(Space(), theta, back, inverse_log_det);
  Space().fence();
  for (std::size_t i = 0; i < n; ++i) {
    double numeric = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      BOOST_TEST(std::abs(back(i, j) - u(i, j)) < 1e-9 * (1 + std::abs(u(i, j))), "row " << i << " dim " << j);
      // dθ/du by central differences through the transform itself, one dimension at a time.
      osbi::Matrix<double, Space> probe("probe", 2, 4), image("image", 2, 4);
      const double h = 1e-5;
      for (std::size_t k = 0; k < 4; ++k) probe(0, k) = probe(1, k) = u(i, k);
      probe(0, j) += h, probe(1, j) -= h;
      transform.to_support(Space(), probe, image);
      Space().fence();
      numeric += std::log(std::abs((image(0, j) - image(1, j)) / (2 * h)));
    }
    BOOST_TEST(std::abs(forward_log_det(i) - numeric) < 1e-6, "row " << i);
    BOOST_TEST(std::abs(forward_log_det(i) + inverse_log_det(i)) < 1e-9, "row " << i);
  }
}

BOOST_AUTO_TEST_CASE(pushed_forward_density_integrates_to_one) {
  // u ~ N(0, 1) on one interval dimension: p(θ) = N(T⁻¹(θ)) · |dT⁻¹/dθ| must integrate to 1 over
  // (−1, 3) (midpoint rule with 200 000 cells; the error is far below the tolerance).
  const osbi::SupportTransform<double, Space> transform(osbi::SupportBounds{{-1.0}, {3.0}});
  const std::size_t cells = 200000;
  osbi::Matrix<double, Space> theta("theta", cells, 1), u("u", cells, 1);
  osbi::Vector<double, Space> log_det("log_det", cells);
  for (std::size_t i = 0; i < cells; ++i) theta(i, 0) = -1.0 + 4.0 * (i + 0.5) / cells;
  transform.from_support(Space(), theta, u, log_det);
  Space().fence();
  double integral = 0;
  for (std::size_t i = 0; i < cells; ++i)
    integral += std::exp(-0.5 * u(i, 0) * u(i, 0) - 0.5 * std::log(2 * M_PI) + log_det(i)) * 4.0 / cells;
  BOOST_TEST(std::abs(integral - 1.0) < 1e-6);
}

BOOST_AUTO_TEST_CASE(float_samples_stay_strictly_inside_finite_bounds) {
  const osbi::SupportTransform<float, Space> transform(mixed);
  const float extremes[] = {-200.f, -60.f, -30.f, 30.f, 60.f, 200.f};
  osbi::Matrix<float, Space> u("u", std::size(extremes), 4), theta("theta", std::size(extremes), 4);
  for (std::size_t i = 0; i < std::size(extremes); ++i)
    for (std::size_t j = 0; j < 4; ++j) u(i, j) = extremes[i];
  transform.to_support(Space(), u, theta);
  Space().fence();
  for (std::size_t i = 0; i < std::size(extremes); ++i) {
    BOOST_TEST((theta(i, 0) > -1.0f && theta(i, 0) < 3.0f), "interval row " << i << ": " << theta(i, 0));
    BOOST_TEST(theta(i, 1) > 0.5f, "lower-bounded row " << i << ": " << theta(i, 1));
    BOOST_TEST(theta(i, 2) < 2.0f, "upper-bounded row " << i << ": " << theta(i, 2));
  }
}

BOOST_AUTO_TEST_CASE(outside_support_has_zero_density_and_finite_u) {
  const osbi::SupportTransform<double, Space> transform(mixed);
  osbi::Matrix<double, Space> theta("theta", 5, 4), u("u", 5, 4);
  osbi::Vector<double, Space> log_det("log_det", 5);
  const double inside[4] = {0.0, 1.0, 0.0, 0.0};
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 4; ++j) theta(i, j) = inside[j];
  theta(0, 0) = 3.5;   // above the interval
  theta(1, 0) = -1.0;  // on the lower bound
  theta(2, 1) = 0.25;  // below the lower bound
  theta(3, 2) = 2.0;   // on the upper bound
  theta(4, 3) = std::numeric_limits<double>::quiet_NaN();
  transform.from_support(Space(), theta, u, log_det);
  Space().fence();
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(log_det(i) == -infinity, "row " << i);
    for (std::size_t j = 0; j < 4; ++j) BOOST_TEST(u(i, j) == 0.0);
  }
  BOOST_TEST(std::isnan(log_det(4)));
}

BOOST_AUTO_TEST_CASE(bad_bounds_and_shapes_are_rejected) {
  BOOST_CHECK_THROW((osbi::SupportTransform<double, Space>(osbi::SupportBounds{{1.0}, {1.0}})), osbi::InvalidArgument);
  BOOST_CHECK_THROW((osbi::SupportTransform<double, Space>(osbi::SupportBounds{{0.0, 0.0}, {1.0}})),
                    osbi::DimensionMismatch);
  const osbi::SupportTransform<double, Space> transform(mixed);
  BOOST_CHECK_THROW(transform.to_support(Space(), osbi::Matrix<double, Space>("u", 2, 3),
                                         osbi::Matrix<double, Space>("t", 2, 4)),
                    osbi::DimensionMismatch);
  const osbi::SupportTransform<double, Space> unbounded(osbi::SupportBounds::unbounded(3));
  BOOST_TEST(unbounded.is_identity());
}

BOOST_AUTO_TEST_SUITE_END()
