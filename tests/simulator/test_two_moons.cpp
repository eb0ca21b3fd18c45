// SPDX-License-Identifier: BSD-3-Clause
/// \brief two_moons: simulated histograms against the true density integrated per bin, sbibm's likelihood
/// formula against that density (they differ by the polar Jacobian), the support rule, backends, shapes.
#include <osbi/simulator/two_moons.hpp>

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

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using TwoMoons = osbi::TwoMoons<double>;

static_assert(osbi::Simulator<osbi::TwoMoons<>>);
static_assert(osbi::Simulator<osbi::TwoMoons<float, Kokkos::Serial>>);
static_assert(osbi::Prior<decltype(osbi::TwoMoons<>().prior())>);

// Simulates `rows` draws for one θ; returns x row-major on the host (NaN-filled before the launch).
template <class Simulator>
std::vector<double> simulate_fixed_theta(const Simulator& simulator, std::array<double, 2> theta, std::size_t rows,
                                         osbi::BatchRandom rng) {
  using Scalar = typename Simulator::scalar_type;
  using ExecutionSpace = typename Simulator::execution_space;
  osbi::Matrix<Scalar, ExecutionSpace> theta_view("osbi::test::theta", rows, 2), x("osbi::test::x", rows, 2);
  auto theta_host = Kokkos::create_mirror_view(theta_view);
  for (std::size_t i = 0; i < rows; ++i)
    theta_host(i, 0) = static_cast<Scalar>(theta[0]), theta_host(i, 1) = static_cast<Scalar>(theta[1]);
  Kokkos::deep_copy(theta_view, theta_host);
  Kokkos::deep_copy(x, std::numeric_limits<Scalar>::quiet_NaN());
  ExecutionSpace space;
  simulator.simulate(space, theta_view, x, rng);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  return std::vector<double>(x_host.data(), x_host.data() + 2 * rows);
}

// The ring's centre in x-space for θ: (0.25 − |z₀|, z₁), so x = centre + (u, v).
std::array<double, 2> ring_centre(std::array<double, 2> theta) {
  const auto [u, v] = TwoMoons::ring_coordinates(theta, {0.0, 0.0});
  return {-u, -v};
}

// ∫∫ over [u0, u0 + width] × [v0, v0 + width] of exp(log_density) by 8×8 Gauss–Legendre; the
// density is smooth inside a bin as long as u = 0 is a bin edge (it is: the grid starts there).
double bin_probability(std::array<double, 2> theta, double u0, double v0, double width) {
  static const double node[8] = {-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
                                 0.1834346424956498,  0.5255324099163290,  0.7966664774136267,  0.9602898564975363};
  static const double weight[8] = {0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
                                   0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};
  const auto centre = ring_centre(theta);
  const double half = width / 2;
  double sum = 0.0;
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b) {
      const double u = u0 + half * (1 + node[a]), v = v0 + half * (1 + node[b]);
      sum += weight[a] * weight[b] * std::exp(TwoMoons::log_density(theta, {centre[0] + u, centre[1] + v}));
    }
  return sum * half * half;
}

using osbi::testing::names_sizes;

} // namespace

BOOST_AUTO_TEST_SUITE(two_moons)

BOOST_AUTO_TEST_CASE(histogram_matches_the_true_density_per_bin) {
  // One θ with z₀ < 0 and one with z₀ > 0, so the |z₀| and the rotation are both exercised.
  // Grid in ring coordinates: u ∈ [0, 0.16), v ∈ [−0.16, 0.16), bins 0.005 wide (2048 bins); r up to
  // 0.16 is 6 standard deviations, the mass outside is < 1e-8. Bins expecting fewer than 5 draws are
  // pooled with the outside into one cell. Pearson χ² with (cells − 1) degrees of freedom, both tails,
  // false-failure probability 1e-9 each (default_false_failure); 4 assertions per θ.
  const TwoMoons simulator;
  const std::array<std::array<double, 2>, 2> thetas{{{0.3, -0.6}, {0.5, 0.2}}};
  const std::size_t draws = 500000, bins_u = 32, bins_v = 64;
  const double width = 0.005;
  osbi::RandomStream stream(osbi::testing::test_seed(), 11);
  for (const auto& theta : thetas) {
    std::vector<double> probability(bins_u * bins_v);
    double total = 0.0;
    for (std::size_t a = 0; a < bins_u; ++a)
      for (std::size_t b = 0; b < bins_v; ++b) {
        probability[a * bins_v + b] = bin_probability(theta, a * width, -0.16 + b * width, width);
        total += probability[a * bins_v + b];
      }
    // The derived density integrates to one over the half-plane u > 0 (up to the 6σ tail).
    BOOST_TEST(std::abs(total - 1.0) < 1e-8, "θ = (" << theta[0] << ", " << theta[1] << "): mass " << total);

    const auto x = simulate_fixed_theta(simulator, theta, draws, stream.next());
    const auto centre = ring_centre(theta);
    std::vector<double> counts(bins_u * bins_v, 0.0);
    double outside = 0.0, negative_u = 0.0;
    for (std::size_t i = 0; i < draws; ++i) {
      const double u = x[2 * i] - centre[0], v = x[2 * i + 1] - centre[1];
      if (u < 0) negative_u += 1;
      const double a = std::floor(u / width), b = std::floor((v + 0.16) / width);
      if (a >= 0 && a < bins_u && b >= 0 && b < bins_v)
        counts[std::size_t(a) * bins_v + std::size_t(b)] += 1;
      else
        outside += 1;
    }
    // Support: u < 0 needs r < 0, a 10σ event (probability ~1e-23 per draw).
    BOOST_TEST(negative_u == 0.0);

    double chi_square = 0.0, pooled_count = outside, pooled_expected = draws * (1.0 - total);
    std::size_t cells = 1;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      const double expected = draws * probability[k];
      if (expected < 5.0) {
        pooled_count += counts[k], pooled_expected += expected;
        continue;
      }
      chi_square += (counts[k] - expected) * (counts[k] - expected) / expected;
      ++cells;
    }
    chi_square += (pooled_count - pooled_expected) * (pooled_count - pooled_expected) / pooled_expected;
    const double degrees = double(cells - 1);
    BOOST_TEST_MESSAGE("two_moons θ = (" << theta[0] << ", " << theta[1] << "): χ² = " << chi_square << " on "
                                         << degrees << " degrees of freedom");
    BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(degrees));
    BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(degrees));
  }
}

BOOST_AUTO_TEST_CASE(sbibm_likelihood_is_the_density_of_r_and_lacks_the_jacobian) {
  // sbibm's formula by hand at one point: u = 0.06, v = 0.08 → r = 0.1 (the mode): log L = −½ log(2π·0.01²).
  const std::array<double, 2> theta{0.3, -0.6};
  const auto centre = ring_centre(theta);
  BOOST_TEST(TwoMoons::log_likelihood(theta, {centre[0] + 0.06, centre[1] + 0.08}) == -0.5 * std::log(2 * M_PI * 1e-4),
             boost::test_tools::tolerance(1e-12));
  // And one sd off the mode: r = 0.11 → −½ − ½ log(2π·0.01²).
  BOOST_TEST(TwoMoons::log_likelihood(theta, {centre[0] + 0.11, centre[1]}) == -0.5 - 0.5 * std::log(2 * M_PI * 1e-4),
             boost::test_tools::tolerance(1e-12));

  // Everywhere in u > 0: log_likelihood − log_density = log(π r) exactly (the polar Jacobian 1/(π r)).
  for (int a = 1; a < 40; ++a)
    for (int b = -40; b <= 40; ++b) {
      const double u = 0.004 * a, v = 0.004 * b, r = std::hypot(u, v);
      const std::array<double, 2> x{centre[0] + u, centre[1] + v};
      BOOST_TEST(TwoMoons::log_likelihood(theta, x) - TwoMoons::log_density(theta, x) == std::log(M_PI * r),
                 boost::test_tools::tolerance(1e-9));
    }

  // exp(log_likelihood) is not a density of x: over u > 0 it integrates to ∫ N(r; 0.1, 0.01²) π r dr
  // = 0.1·π (midpoint rule in polar coordinates), while exp(log_density) integrates to one.
  double mass_likelihood = 0.0, mass_density = 0.0;
  const int radial = 4000, angular = 400;
  const double dr = 0.2 / radial, da = M_PI / angular;
  for (int i = 0; i < radial; ++i)
    for (int j = 0; j < angular; ++j) {
      const double r = (i + 0.5) * dr, angle = -M_PI / 2 + (j + 0.5) * da;
      const std::array<double, 2> x{centre[0] + r * std::cos(angle), centre[1] + r * std::sin(angle)};
      mass_likelihood += std::exp(TwoMoons::log_likelihood(theta, x)) * r * dr * da;
      mass_density += std::exp(TwoMoons::log_density(theta, x)) * r * dr * da;
    }
  BOOST_TEST(mass_likelihood == 0.1 * M_PI, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(mass_density == 1.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(both_densities_are_minus_infinity_where_u_is_negative) {
  const double infinity = std::numeric_limits<double>::infinity();
  for (const std::array<double, 2> theta : {std::array<double, 2>{0.3, -0.6}, std::array<double, 2>{-0.9, 0.95}}) {
    const auto centre = ring_centre(theta);
    for (double v : {-0.1, 0.0, 0.05}) {
      const std::array<double, 2> x{centre[0] - 1e-9, centre[1] + v};
      BOOST_TEST(TwoMoons::log_likelihood(theta, x) == -infinity);
      BOOST_TEST(TwoMoons::log_density(theta, x) == -infinity);
      const std::array<double, 2> inside{centre[0] + 1e-9, centre[1] + v};
      BOOST_TEST(std::isfinite(TwoMoons::log_likelihood(theta, inside)));
    }
  }
}

BOOST_AUTO_TEST_CASE(prior_is_the_unit_box) {
  const auto prior = osbi::TwoMoons<>().prior();
  const auto support = prior.support();
  BOOST_REQUIRE(prior.dim() == 2u);
  for (std::size_t j = 0; j < 2; ++j) {
    BOOST_TEST(support.lower[j] == -1.0);
    BOOST_TEST(support.upper[j] == 1.0);
  }
}

using HostSpaces = std::tuple<
#if defined(KOKKOS_ENABLE_OPENMP)
    Kokkos::OpenMP,
#endif
    Kokkos::Serial>;

BOOST_AUTO_TEST_CASE_TEMPLATE(same_x_on_every_host_backend, ExecutionSpace, HostSpaces) {
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 12).at(3);
  const std::size_t rows = 2000;
  const auto reference = simulate_fixed_theta(osbi::TwoMoons<float, Kokkos::Serial>(), {0.4, -0.7}, rows, rng);
  const auto x = simulate_fixed_theta(osbi::TwoMoons<float, ExecutionSpace>(), {0.4, -0.7}, rows, rng);
  BOOST_TEST(x == reference, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_before_launch) {
  const osbi::TwoMoons<> simulator;
  const osbi::BatchRandom rng = osbi::RandomStream(1).next();
  Space space;
  osbi::Matrix<float, Space> theta("osbi::test::theta", 5, 2), theta_wide("osbi::test::theta", 5, 3);
  osbi::Matrix<float, Space> x("osbi::test::x", 5, 2), x_narrow("osbi::test::x", 5, 1), x_long("osbi::test::x", 6, 2);
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta_wide, x, rng), osbi::DimensionMismatch, names_sizes(3, 2));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_narrow, rng), osbi::DimensionMismatch, names_sizes(1, 2));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_long, rng), osbi::DimensionMismatch, names_sizes(6, 5));
}

BOOST_AUTO_TEST_CASE(conforms_to_the_simulator_spec) {
  // osbi::testing::check_simulator at θ from the task's prior (shapes, NaN rows, reproducibility, rows).
  osbi::TwoMoons<> simulator;
  osbi::RandomStream stream(osbi::testing::test_seed(), 99);
  const auto theta = osbi::sample(simulator.prior(), stream, 64);
  const auto report = osbi::testing::check_simulator(simulator, theta, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
