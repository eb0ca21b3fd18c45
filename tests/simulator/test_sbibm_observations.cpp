// SPDX-License-Identifier: BSD-3-Clause
/// \brief Our task simulators against sbibm's own data: the stored observations x₀ were simulated by
/// sbibm at the stored true θ, so they must be plausible draws of our simulator at that θ.
#include <osbi/simulator/lotka_volterra.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/csv.hpp>
#include <support/statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace {

std::filesystem::path observation_dir(const std::string& task, int k) {
  return osbi::testing::data_dir() / "sbibm" / task / ("num_observation_" + std::to_string(k));
}

} // namespace

BOOST_AUTO_TEST_SUITE(sbibm_observations)

BOOST_AUTO_TEST_CASE(lotka_volterra_noise_residuals_at_true_theta_are_standard_normal) {
  // x₀ = exp(log clamp(u(θ)) + 0.1 ε) elementwise, so z = (log x₀ − log clamp(u(θ))) / 0.1 ~ N(0, 1)
  // independently over the 10 observations × 20 entries: Σ z² ~ χ²(200). Both tails are tested at
  // false-failure probability 1e-9 each. A wrong ODE, initial state, save grid, summary order or
  // clamp moves z by many units; sbibm solved with another (Julia) solver, so this also checks that
  // our Dormand–Prince solution is accurate far below the noise.
  const osbi::LotkaVolterra<double, Kokkos::DefaultHostExecutionSpace> task;
  double chi_square = 0.0;
  int count = 0;
  for (int k = 1; k <= 10; ++k) {
    const auto theta_rows = osbi::testing::read_csv(observation_dir("lotka_volterra", k) / "true_parameters.csv");
    const auto x_rows = osbi::testing::read_csv(observation_dir("lotka_volterra", k) / "observation.csv");
    BOOST_REQUIRE(theta_rows.size() == 1 && theta_rows[0].size() == 4);
    BOOST_REQUIRE(x_rows.size() == 1 && x_rows[0].size() == 20);
    const auto solution = task.trajectory({theta_rows[0][0], theta_rows[0][1], theta_rows[0][2], theta_rows[0][3]});
    BOOST_REQUIRE(solution.status == osbi::OdeStatus::success);
    for (int j = 0; j < 10; ++j) {
      for (int species = 0; species < 2; ++species) {
        const double u = std::clamp(solution.states[21 * j][species], 1e-10, 1e4);
        const double z = (std::log(x_rows[0][10 * species + j]) - std::log(u)) / 0.1;
        chi_square += z * z;
        ++count;
      }
    }
  }
  BOOST_TEST(count == 200);
  BOOST_TEST_MESSAGE("lotka_volterra: chi-square of the sbibm observations = " << chi_square << " on 200");
  BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(200));
  BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(200));
}

BOOST_AUTO_TEST_CASE(two_moons_observations_lie_on_the_moon_of_their_true_theta) {
  // Each x₀ must have positive density under our likelihood at its true θ, with the radius r within
  // 6.1 σ of 0.1 (|z| > 6.1 has probability 1.1e-9 per observation).
  for (int k = 1; k <= 10; ++k) {
    const auto theta = osbi::testing::read_csv(observation_dir("two_moons", k) / "true_parameters.csv").at(0);
    const auto x = osbi::testing::read_csv(observation_dir("two_moons", k) / "observation.csv").at(0);
    const double log_likelihood = osbi::TwoMoons<double>::log_likelihood({theta[0], theta[1]}, {x[0], x[1]});
    BOOST_TEST(std::isfinite(log_likelihood), "observation " << k);
    // log L = −½ z² − ½ log(2π·0.01²) ⇒ z² = −2 (log L + ½ log(2π·1e-4)).
    const double z_squared = -2.0 * (log_likelihood + 0.5 * std::log(2.0 * M_PI * 1e-4));
    BOOST_TEST(z_squared < 6.1 * 6.1, "observation " << k);
  }
}

BOOST_AUTO_TEST_SUITE_END()
