// SPDX-License-Identifier: BSD-3-Clause
/// \brief gaussian_linear: noise and marginal moments, the closed-form posterior against simulated pairs,
/// identical draws on Serial and OpenMP, shape checks.
#include <osbi/simulator/gaussian_linear.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/testing/check_simulator.hpp>

#include <support/errors.hpp>
#include <support/statistics.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;

static_assert(osbi::Simulator<osbi::GaussianLinear<>>);
static_assert(osbi::Simulator<osbi::GaussianLinear<double, Kokkos::Serial>>);
static_assert(osbi::Prior<decltype(osbi::GaussianLinear<>().prior())>);

// Runs the simulator on theta (host values) and returns x on the host; x starts as NaN so an
// entry the kernel forgets to write shows up.
template <class Simulator>
std::vector<double> simulate_on_host(const Simulator& simulator, const std::vector<double>& theta, std::size_t rows,
                                     osbi::BatchRandom rng) {
  using Scalar = typename Simulator::scalar_type;
  using ExecutionSpace = typename Simulator::execution_space;
  const std::size_t theta_dim = simulator.theta_dim(), x_dim = simulator.x_dim();
  osbi::Matrix<Scalar, ExecutionSpace> theta_view("osbi::test::theta", rows, theta_dim);
  osbi::Matrix<Scalar, ExecutionSpace> x("osbi::test::x", rows, x_dim);
  auto theta_host = Kokkos::create_mirror_view(theta_view);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < theta_dim; ++j)
      theta_host(i, j) = static_cast<Scalar>(theta[i * theta_dim + j]);
  Kokkos::deep_copy(theta_view, theta_host);
  Kokkos::deep_copy(x, std::numeric_limits<Scalar>::quiet_NaN());
  ExecutionSpace space;
  simulator.simulate(space, theta_view, x, rng);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  return std::vector<double>(x_host.data(), x_host.data() + rows * x_dim);
}

using osbi::testing::names_sizes;

} // namespace

BOOST_AUTO_TEST_SUITE(gaussian_linear)

BOOST_AUTO_TEST_CASE(x_minus_theta_has_mean_zero_and_the_noise_variance) {
  // Default model (float, dim 10, noise variance 0.1); θ is a fixed, non-trivial pattern per row.
  const osbi::GaussianLinear<> simulator;
  const std::size_t rows = 20000, dim = simulator.x_dim();
  std::vector<double> theta(rows * dim);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < dim; ++j)
      theta[i * dim + j] = 0.3 * std::sin(0.7 * double(i) + double(j));
  const auto x = simulate_on_host(simulator, theta, rows, osbi::RandomStream(osbi::testing::test_seed(), 1).next());

  // Per dimension: z-test of the mean, and Σ(x − θ)²/0.1 ~ χ²(rows) (mean known), both tails.
  // False-failure probability 1e-9 per assertion (default_false_failure), 30 assertions.
  const double n = double(rows), z = osbi::testing::two_sided_z();
  for (std::size_t j = 0; j < dim; ++j) {
    double sum = 0.0, sum_squares = 0.0;
    for (std::size_t i = 0; i < rows; ++i) {
      const double noise = x[i * dim + j] - double(static_cast<float>(theta[i * dim + j]));
      sum += noise;
      sum_squares += noise * noise;
    }
    BOOST_TEST(std::abs(sum / n) < z * std::sqrt(0.1 / n), "dimension " << j);
    const double chi_square = sum_squares / 0.1;
    BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(n), "dimension " << j);
    BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(n), "dimension " << j);
  }
}

BOOST_AUTO_TEST_CASE(x_with_theta_from_the_prior_has_marginal_variance_0_2) {
  const osbi::GaussianLinear<double> simulator;
  const auto prior = simulator.prior();
  BOOST_REQUIRE(prior.dim() == simulator.theta_dim());
  osbi::RandomStream stream(osbi::testing::test_seed(), 2);
  const std::size_t rows = 20000, dim = simulator.x_dim();
  const auto theta_view = osbi::sample(prior, stream, rows);
  auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_view);
  const std::vector<double> theta(theta_host.data(), theta_host.data() + rows * dim);
  const auto x = simulate_on_host(simulator, theta, rows, stream.next());

  // x_j ~ N(0, 0.2): z-test of the mean and two-sided χ²(rows) of Σx²/0.2, 1e-9 each.
  const double n = double(rows), z = osbi::testing::two_sided_z();
  for (std::size_t j = 0; j < dim; ++j) {
    double sum = 0.0, sum_squares = 0.0;
    for (std::size_t i = 0; i < rows; ++i)
      sum += x[i * dim + j], sum_squares += x[i * dim + j] * x[i * dim + j];
    BOOST_TEST(std::abs(sum / n) < z * std::sqrt(0.2 / n), "dimension " << j);
    BOOST_TEST(sum_squares / 0.2 < osbi::testing::chi_square_upper_quantile(n), "dimension " << j);
    BOOST_TEST(sum_squares / 0.2 > osbi::testing::chi_square_lower_quantile(n), "dimension " << j);
  }
}

BOOST_AUTO_TEST_CASE(closed_form_posterior_matches_simulated_pairs) {
  // The helpers' values for sbibm's sizes: variance 0.05, mean x₀/2.
  const osbi::GaussianLinear<double> simulator;
  for (double variance : simulator.posterior_variance())
    BOOST_TEST(variance == 0.05, boost::test_tools::tolerance(1e-15));
  const std::vector<double> observation{0.2, -0.4, 0.6, -0.8, 1.0, 0.0, 0.1, -0.1, 0.3, 2.0};
  const auto mean = simulator.posterior_mean(observation);
  for (std::size_t j = 0; j < observation.size(); ++j)
    BOOST_TEST(mean[j] == observation[j] / 2, boost::test_tools::tolerance(1e-15));
  BOOST_CHECK_EXCEPTION(simulator.posterior_mean(std::vector<double>(9, 0.0)), osbi::DimensionMismatch,
                        names_sizes(9, 10));

  // Unequal variances (τ² = 0.3, σ² = 0.1, dim 3): the posterior is θ | x ~ N(k·x, v) with
  // k = τ²/(τ² + σ²) = 0.75, v = 0.075. On joint draws (θ from the prior, x from the simulator),
  // the residual θ − k·x is then N(0, v) and independent of x. Checked per dimension: z-test of
  // the residual's mean, two-sided χ²(rows) of Σ residual²/v, and the residual uncorrelated with x
  // (E[r·x] = 0, sd √(v·(τ² + σ²)/rows)). 1e-9 each.
  const osbi::GaussianLinear<double> unequal(3, 0.3, 0.1);
  const double k = unequal.posterior_mean({1.0, 1.0, 1.0})[0], v = unequal.posterior_variance()[0];
  BOOST_TEST(k == 0.75, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(v == 0.075, boost::test_tools::tolerance(1e-15));
  osbi::RandomStream stream(osbi::testing::test_seed(), 3);
  const std::size_t rows = 20000, dim = 3;
  auto theta_host =
      Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), osbi::sample(unequal.prior(), stream, rows));
  const std::vector<double> theta(theta_host.data(), theta_host.data() + rows * dim);
  const auto x = simulate_on_host(unequal, theta, rows, stream.next());
  const double n = double(rows), z = osbi::testing::two_sided_z();
  for (std::size_t j = 0; j < dim; ++j) {
    double sum = 0.0, sum_squares = 0.0, cross = 0.0;
    for (std::size_t i = 0; i < rows; ++i) {
      const double residual = theta[i * dim + j] - k * x[i * dim + j];
      sum += residual, sum_squares += residual * residual, cross += residual * x[i * dim + j];
    }
    BOOST_TEST(std::abs(sum / n) < z * std::sqrt(v / n), "dimension " << j);
    BOOST_TEST(sum_squares / v < osbi::testing::chi_square_upper_quantile(n), "dimension " << j);
    BOOST_TEST(sum_squares / v > osbi::testing::chi_square_lower_quantile(n), "dimension " << j);
    BOOST_TEST(std::abs(cross / n) < z * std::sqrt(v * 0.4 / n), "dimension " << j);
  }
}

using HostSpaces = std::tuple<
#if defined(KOKKOS_ENABLE_OPENMP)
    Kokkos::OpenMP,
#endif
    Kokkos::Serial>;

BOOST_AUTO_TEST_CASE_TEMPLATE(same_x_on_every_host_backend, ExecutionSpace, HostSpaces) {
  // Reference: the Serial simulator; every host backend must give the same bits.
  const std::size_t rows = 1000, dim = 10;
  std::vector<double> theta(rows * dim);
  for (std::size_t k = 0; k < theta.size(); ++k)
    theta[k] = std::cos(double(k));
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 4).at(5);
  const auto reference = simulate_on_host(osbi::GaussianLinear<float, Kokkos::Serial>(), theta, rows, rng);
  const auto x = simulate_on_host(osbi::GaussianLinear<float, ExecutionSpace>(), theta, rows, rng);
  BOOST_TEST(x == reference, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_shapes_and_arguments_throw_before_launch) {
  const osbi::GaussianLinear<> simulator;
  const osbi::BatchRandom rng = osbi::RandomStream(1).next();
  Space space;
  osbi::Matrix<float, Space> theta("osbi::test::theta", 4, 10), theta_narrow("osbi::test::theta", 4, 9);
  osbi::Matrix<float, Space> x("osbi::test::x", 4, 10), x_wide("osbi::test::x", 4, 11), x_short("osbi::test::x", 3, 10);
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta_narrow, x, rng), osbi::DimensionMismatch, names_sizes(9, 10));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_wide, rng), osbi::DimensionMismatch, names_sizes(11, 10));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_short, rng), osbi::DimensionMismatch, names_sizes(3, 4));
  BOOST_CHECK_THROW(osbi::GaussianLinear<>(0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::GaussianLinear<>(10, -0.1), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::GaussianLinear<>(10, 0.1, 0.0), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(conforms_to_the_simulator_spec) {
  // osbi::testing::check_simulator at θ from the task's prior (shapes, NaN rows, reproducibility, rows).
  osbi::GaussianLinear<> simulator;
  osbi::RandomStream stream(osbi::testing::test_seed(), 99);
  const auto theta = osbi::sample(simulator.prior(), stream, 64);
  const auto report = osbi::testing::check_simulator(simulator, theta, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
