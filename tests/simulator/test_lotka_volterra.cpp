// SPDX-License-Identifier: BSD-3-Clause
/// \brief lotka_volterra: the Dormand–Prince solution against a long-double RK4 reference and the conserved
/// quantity, sbibm's NaN rule for failed solves, the log-normal noise and its clamp, backends, shapes.
#include <osbi/simulator/lotka_volterra.hpp>

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

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Theta = std::array<double, 4>;

static_assert(osbi::Simulator<osbi::LotkaVolterra<>>);
static_assert(osbi::Simulator<osbi::LotkaVolterra<double, Kokkos::Serial>>);
static_assert(osbi::Prior<decltype(osbi::LotkaVolterra<>().prior())>);

// sbibm's true parameters of lotka_volterra observation 1.
const Theta sbibm_observation_1{0.6859157, 0.10761319, 0.88789904, 0.116794825};

// Independent reference: classic RK4 in long double with a fixed step of 0.1/steps_per_save.
std::vector<std::array<long double, 2>> reference_solution(const Theta& theta, int steps_per_save) {
  const long double alpha = theta[0], beta = theta[1], gamma = theta[2], delta = theta[3];
  const auto f = [&](long double x, long double y, long double& dx, long double& dy) {
    dx = alpha * x - beta * x * y;
    dy = -gamma * y + delta * x * y;
  };
  std::vector<std::array<long double, 2>> states(201);
  long double x = 30, y = 1;
  states[0] = {x, y};
  const long double h = 0.1L / steps_per_save;
  for (int k = 1; k <= 200; ++k) {
    for (int s = 0; s < steps_per_save; ++s) {
      long double k1x, k1y, k2x, k2y, k3x, k3y, k4x, k4y;
      f(x, y, k1x, k1y);
      f(x + h / 2 * k1x, y + h / 2 * k1y, k2x, k2y);
      f(x + h / 2 * k2x, y + h / 2 * k2y, k3x, k3y);
      f(x + h * k3x, y + h * k3y, k4x, k4y);
      x += h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x);
      y += h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y);
    }
    states[k] = {x, y};
  }
  return states;
}

// θ drawn from the task's prior on the host.
std::vector<Theta> prior_draws(std::size_t count, std::uint64_t stream_id) {
  osbi::RandomStream stream(osbi::testing::test_seed(), stream_id);
  const auto theta = osbi::sample(osbi::LotkaVolterra<double>().prior(), stream, count);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  std::vector<Theta> draws(count);
  for (std::size_t i = 0; i < count; ++i)
    draws[i] = {host(i, 0), host(i, 1), host(i, 2), host(i, 3)};
  return draws;
}

// Simulates one row per θ; x starts at a sentinel so unwritten entries show. Returns x and status.
template <class Scalar, class ExecutionSpace>
std::pair<std::vector<double>, std::vector<int>>
simulate_rows(const osbi::LotkaVolterra<Scalar, ExecutionSpace>& simulator, const std::vector<Theta>& thetas,
              osbi::BatchRandom rng) {
  const std::size_t rows = thetas.size();
  osbi::Matrix<Scalar, ExecutionSpace> theta("osbi::test::theta", rows, 4), x("osbi::test::x", rows, 20);
  osbi::Vector<int, ExecutionSpace> status("osbi::test::status", rows);
  auto theta_host = Kokkos::create_mirror_view(theta);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      theta_host(i, j) = static_cast<Scalar>(thetas[i][j]);
  Kokkos::deep_copy(theta, theta_host);
  Kokkos::deep_copy(x, Scalar(-7));
  Kokkos::deep_copy(status, -1);
  ExecutionSpace space;
  simulator.simulate(space, theta, x, rng, status);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto status_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), status);
  return {std::vector<double>(x_host.data(), x_host.data() + rows * 20),
          std::vector<int>(status_host.data(), status_host.data() + rows)};
}

using osbi::testing::names_sizes;

} // namespace

BOOST_AUTO_TEST_SUITE(lotka_volterra)

BOOST_AUTO_TEST_CASE(solution_matches_a_long_double_rk4_reference_at_all_save_points) {
  // sbibm's observation-1 θ plus 8 prior draws; default tolerances (rtol 1e-7, atol 0).
  // Bound: 1e-4 on |log u − log u_ref| at every one of the 201 points of both species, unclamped
  // (measured worst on 2000 prior draws: 2.3e-5 after the clamp; lotka_volterra.hpp). The
  // reference's own convergence is checked first: RK4 at h = 1e-4 and h = 2e-4 agree to 1e-8 (measured ~1e-13).
  const osbi::LotkaVolterra<double> simulator;
  std::vector<Theta> thetas = prior_draws(8, 21);
  thetas.push_back(sbibm_observation_1);
  double worst = 0.0;
  for (const Theta& theta : thetas) {
    const auto reference = reference_solution(theta, 1000);
    const auto coarse = reference_solution(theta, 500);
    const auto solution = simulator.trajectory(theta);
    BOOST_REQUIRE((solution.status == osbi::OdeStatus::success));
    BOOST_REQUIRE(solution.states.size() == 201u);
    for (int k = 0; k < 201; ++k)
      for (int s = 0; s < 2; ++s) {
        const double log_reference = double(std::log(reference[k][s]));
        BOOST_TEST(std::abs(double(std::log(coarse[k][s])) - log_reference) < 1e-8);
        const double error = std::abs(std::log(solution.states[k][s]) - log_reference);
        worst = std::max(worst, error);
        BOOST_TEST(error < 1e-4, "θ = (" << theta[0] << ", " << theta[1] << ", " << theta[2] << ", " << theta[3]
                                         << "), t = " << 0.1 * k << ", species " << s);
      }
  }
  BOOST_TEST_MESSAGE("lotka_volterra: worst |log u − log u_ref| = " << worst);
}

BOOST_AUTO_TEST_CASE(conserved_quantity_stays_constant_along_the_solution) {
  // V = δX − γ ln X + βY − α ln Y is a first integral. A relative error ε in (X, Y) moves V by
  // about (|δX − γ| + |βY − α|)·ε, so the drift is measured against scale = α + γ + max_t (δX + βY).
  const osbi::LotkaVolterra<double> simulator;
  std::vector<Theta> thetas = prior_draws(16, 22);
  thetas.push_back(sbibm_observation_1);
  double worst = 0.0;
  for (const Theta& theta : thetas) {
    const auto [alpha, beta, gamma, delta] = theta;
    const auto solution = simulator.trajectory(theta);
    BOOST_REQUIRE((solution.status == osbi::OdeStatus::success));
    const auto invariant = [&](const std::array<double, 2>& state) {
      return delta * state[0] - gamma * std::log(state[0]) + beta * state[1] - alpha * std::log(state[1]);
    };
    double scale = 0.0;
    for (const auto& state : solution.states)
      scale = std::max(scale, delta * state[0] + beta * state[1]);
    scale += alpha + gamma;
    const double initial = invariant(solution.states[0]);
    for (std::size_t k = 0; k < solution.states.size(); ++k) {
      const double drift = std::abs(invariant(solution.states[k]) - initial) / scale;
      worst = std::max(worst, drift);
      BOOST_TEST(drift < 1e-5,
                 "θ = (" << alpha << ", " << beta << ", " << gamma << ", " << delta << "), t = " << 0.1 * k);
    }
  }
  BOOST_TEST_MESSAGE("lotka_volterra: worst relative drift of V = " << worst);
}

BOOST_AUTO_TEST_CASE(failed_solves_give_whole_nan_rows_and_are_counted) {
  // Row 1 has β < 0 (finite-time blow-up), row 3 a NaN θ; the others are ordinary.
  const Theta blow_up{1.0, -0.1, 1.0, 0.1}, not_a_number{std::nan(""), 0.1, 1.0, 0.1};
  const std::vector<Theta> mixed{
      sbibm_observation_1, blow_up, {1.0, 0.1, 1.0, 0.05}, not_a_number, {0.8, 0.05, 0.7, 0.03}};
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 23).next();
  const osbi::LotkaVolterra<double> simulator;
  const auto [x, status] = simulate_rows(simulator, mixed, rng);
  for (std::size_t i = 0; i < mixed.size(); ++i) {
    const bool should_fail = i == 1 || i == 3;
    BOOST_TEST((status[i] != 0) == should_fail, "row " << i << " status " << status[i]);
    for (std::size_t j = 0; j < 20; ++j) {
      if (should_fail)
        BOOST_TEST(std::isnan(x[i * 20 + j]), "row " << i << " column " << j);
      else
        BOOST_TEST((std::isfinite(x[i * 20 + j]) && x[i * 20 + j] > 0), "row " << i << " column " << j);
    }
  }
  BOOST_TEST(status[3] == int(osbi::OdeStatus::non_finite_state));
  // The good rows are what they would be in a batch without the failures (row i uses rng.row(i)).
  std::vector<Theta> clean = mixed;
  clean[1] = clean[3] = sbibm_observation_1;
  const auto [x_clean, status_clean] = simulate_rows(simulator, clean, rng);
  for (std::size_t i : {0u, 2u, 4u})
    for (std::size_t j = 0; j < 20; ++j)
      BOOST_TEST(x[i * 20 + j] == x_clean[i * 20 + j]);
  // The host helper follows the same rule.
  BOOST_TEST((simulator.trajectory(blow_up).status != osbi::OdeStatus::success));
  BOOST_TEST(std::isnan(simulator.trajectory(blow_up).states[0][0]));

  // A step budget of 10 cannot reach t = 20: every row fails, and count_failed says so.
  osbi::DormandPrinceOptions tiny_budget = osbi::LotkaVolterra<double>::default_options();
  tiny_budget.max_steps = 10;
  const osbi::LotkaVolterra<double> starved(tiny_budget);
  const auto [x_starved, status_starved] = simulate_rows(starved, clean, rng);
  for (double value : x_starved)
    BOOST_TEST(std::isnan(value));
  for (int code : status_starved)
    BOOST_TEST(code == int(osbi::OdeStatus::max_steps_exceeded));
  osbi::Vector<int, Space> status_view("osbi::test::status", status.size());
  auto status_host = Kokkos::create_mirror_view(status_view);
  for (std::size_t i = 0; i < status.size(); ++i)
    status_host(i) = status[i];
  Kokkos::deep_copy(status_view, status_host);
  BOOST_TEST(osbi::LotkaVolterra<double>::count_failed(Space(), status_view) == 2u);
  // Without a status view the rule is the same.
  osbi::Matrix<double, Space> theta_view("osbi::test::theta", 1, 4), x_view("osbi::test::x", 1, 20);
  auto theta_host = Kokkos::create_mirror_view(theta_view);
  for (std::size_t j = 0; j < 4; ++j)
    theta_host(0, j) = blow_up[j];
  Kokkos::deep_copy(theta_view, theta_host);
  Space space;
  simulator.simulate(space, theta_view, x_view, rng);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_view);
  for (std::size_t j = 0; j < 20; ++j)
    BOOST_TEST(std::isnan(x_host(0, j)));
}

BOOST_AUTO_TEST_CASE(noise_is_log_normal_around_the_clamped_summary) {
  // Default model (float x). θ from the prior, one row each; u = the noiseless summary from the
  // host helper (save indices 0, 21, …, 189, prey then predator). (log x − log clamp(u))/0.1 must
  // be N(0, 1): Kolmogorov–Smirnov with the DKW bound, false-failure probability 1e-9.
  const std::size_t rows = 4000;
  const auto thetas = prior_draws(rows, 24);
  const osbi::LotkaVolterra<> simulator;
  const auto [x, status] = simulate_rows(simulator, thetas, osbi::RandomStream(osbi::testing::test_seed(), 25).next());
  std::vector<double> standardized;
  standardized.reserve(rows * 20);
  for (std::size_t i = 0; i < rows; ++i) {
    // θ as the kernel saw it (rounded to float).
    const Theta rounded{double(float(thetas[i][0])), double(float(thetas[i][1])), double(float(thetas[i][2])),
                        double(float(thetas[i][3]))};
    const auto solution = simulator.trajectory(rounded);
    BOOST_REQUIRE((solution.status == osbi::OdeStatus::success)); // prior draws solve (sbibm: NaN rows are rare)
    BOOST_REQUIRE(status[i] == 0);
    for (std::size_t j = 0; j < 20; ++j) {
      const double u = solution.states[21 * (j % 10)][j / 10];
      const double clamped = std::clamp(u, 1e-10, 1e4);
      standardized.push_back((std::log(x[i * 20 + j]) - std::log(clamped)) / 0.1);
    }
  }
  BOOST_TEST(osbi::testing::ks_statistic(standardized, osbi::testing::standard_normal_cdf) <
             osbi::testing::ks_bound(standardized.size()));
}

BOOST_AUTO_TEST_CASE(summary_values_outside_the_clamp_are_clamped_before_the_noise) {
  // θ_low: prey at t = 12.6 (entry 6) is 5.9e-11 < 1e-10. θ_high: prey at t = 4.2 (entry 2) is 1.4e4 > 1e4.
  // Over 2000 rows each, the mean of (log x − log clamp)/0.1 is N(0, 1/2000): z-test at 1e-9 each.
  // Without the clamp the mean would be log(5.9e-11/1e-10)/0.1 ≈ −5.3 or log(1.4)/0.1 ≈ +3.4.
  const Theta theta_low{2.5, 0.2, 0.15, 0.001}, theta_high{1.5, 0.1, 1.0, 0.0005};
  const osbi::LotkaVolterra<> simulator;
  const auto rounded = [](Theta theta) {
    for (double& value : theta)
      value = double(float(value));
    return theta;
  };
  const double u_low = simulator.trajectory(rounded(theta_low)).states[21 * 6][0];
  const double u_high = simulator.trajectory(rounded(theta_high)).states[21 * 2][0];
  BOOST_REQUIRE(u_low < 0.7e-10);
  BOOST_REQUIRE(u_high > 1.3e4);
  const std::size_t rows = 2000;
  std::vector<Theta> thetas(rows, theta_low);
  std::fill(thetas.begin() + rows / 2, thetas.end(), theta_high);
  const auto [x, status] = simulate_rows(simulator, thetas, osbi::RandomStream(osbi::testing::test_seed(), 26).next());
  double sum_low = 0.0, sum_high = 0.0;
  for (std::size_t i = 0; i < rows / 2; ++i)
    sum_low += (std::log(x[i * 20 + 6]) - std::log(1e-10)) / 0.1;
  for (std::size_t i = rows / 2; i < rows; ++i)
    sum_high += (std::log(x[i * 20 + 2]) - std::log(1e4)) / 0.1;
  const double half = double(rows / 2), z = osbi::testing::two_sided_z();
  BOOST_TEST(std::abs(sum_low / half) < z / std::sqrt(half));
  BOOST_TEST(std::abs(sum_high / half) < z / std::sqrt(half));
}

using HostSpaces = std::tuple<
#if defined(KOKKOS_ENABLE_OPENMP)
    Kokkos::OpenMP,
#endif
    Kokkos::Serial>;

BOOST_AUTO_TEST_CASE_TEMPLATE(same_x_on_every_host_backend, ExecutionSpace, HostSpaces) {
  auto thetas = prior_draws(300, 27);
  thetas[17] = {1.0, -0.1, 1.0, 0.1}; // a failing row too
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 28).at(2);
  const auto [reference, reference_status] = simulate_rows(osbi::LotkaVolterra<float, Kokkos::Serial>(), thetas, rng);
  const auto [x, status] = simulate_rows(osbi::LotkaVolterra<float, ExecutionSpace>(), thetas, rng);
  BOOST_TEST(status == reference_status, boost::test_tools::per_element());
  for (std::size_t k = 0; k < x.size(); ++k)
    BOOST_TEST(((x[k] == reference[k]) || (std::isnan(x[k]) && std::isnan(reference[k]))), "entry " << k);
}

BOOST_AUTO_TEST_CASE(wrong_shapes_and_options_throw_before_launch) {
  const osbi::LotkaVolterra<> simulator;
  const osbi::BatchRandom rng = osbi::RandomStream(1).next();
  Space space;
  osbi::Matrix<float, Space> theta("osbi::test::theta", 3, 4), theta_narrow("osbi::test::theta", 3, 3);
  osbi::Matrix<float, Space> x("osbi::test::x", 3, 20), x_wide("osbi::test::x", 3, 21), x_short("osbi::test::x", 2, 20);
  osbi::Vector<int, Space> status_short("osbi::test::status", 2);
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta_narrow, x, rng), osbi::DimensionMismatch, names_sizes(3, 4));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_wide, rng), osbi::DimensionMismatch, names_sizes(21, 20));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_short, rng), osbi::DimensionMismatch, names_sizes(2, 3));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x, rng, status_short), osbi::DimensionMismatch,
                        names_sizes(2, 3));
  osbi::DormandPrinceOptions bad = osbi::LotkaVolterra<>::default_options();
  bad.relative_tolerance = 0.0;
  BOOST_CHECK_THROW(osbi::LotkaVolterra<>{bad}, osbi::InvalidArgument);
  bad = osbi::LotkaVolterra<>::default_options();
  bad.max_steps = 0;
  BOOST_CHECK_THROW(osbi::LotkaVolterra<>{bad}, osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(conforms_to_the_simulator_spec) {
  // osbi::testing::check_simulator at θ from the task's prior (shapes, NaN rows, reproducibility, rows).
  osbi::LotkaVolterra<> simulator;
  osbi::RandomStream stream(osbi::testing::test_seed(), 99);
  const auto theta = osbi::sample(simulator.prior(), stream, 64);
  const auto report = osbi::testing::check_simulator(simulator, theta, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
