// SPDX-License-Identifier: BSD-3-Clause
/// \brief advection_diffusion: exact discrete mass, variance and centroid laws, the closed-form plume and
/// convergence to it, positivity, the noise model, NaN rows, backends, shapes, check_simulator.
#include <osbi/simulator/advection_diffusion.hpp>

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
#include <cstdint>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Theta = std::array<double, 6>;
using Options = osbi::AdvectionDiffusionOptions;
using Status = osbi::AdvectionDiffusionStatus;

static_assert(osbi::Simulator<osbi::AdvectionDiffusion<>>);
static_assert(osbi::Simulator<osbi::AdvectionDiffusion<double, Kokkos::Serial>>);
static_assert(osbi::Prior<decltype(osbi::AdvectionDiffusion<>().prior())>);

constexpr double width = osbi::AdvectionDiffusion<>::source_width;

// Noise-free, x = the whole N × N field: the tests read the discrete solution itself.
Options field_options(std::size_t grid, double final_time) {
  Options options;
  options.grid = grid;
  options.observation_grid = grid;
  options.final_time = final_time;
  options.additive_noise = 0.0;
  options.relative_noise = 0.0;
  return options;
}

// θ drawn from the model's prior on the host.
std::vector<Theta> prior_draws(std::size_t count, std::uint64_t stream_id) {
  osbi::RandomStream stream(osbi::testing::test_seed(), stream_id);
  const auto theta = osbi::sample(osbi::AdvectionDiffusion<double>().prior(), stream, count);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  std::vector<Theta> draws(count);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < 6; ++j)
      draws[i][j] = host(i, j);
  return draws;
}

struct Simulated {
  std::size_t columns = 0;
  std::vector<double> x;
  std::vector<int> status;
  double operator()(std::size_t row, std::size_t column) const { return x[row * columns + column]; }
};

// One row per θ; x starts at a sentinel so unwritten entries show.
template <class Scalar, class ExecutionSpace>
Simulated simulate_rows(const osbi::AdvectionDiffusion<Scalar, ExecutionSpace>& simulator,
                        const std::vector<Theta>& thetas, osbi::BatchRandom rng) {
  const std::size_t rows = thetas.size(), columns = simulator.x_dim();
  osbi::Matrix<Scalar, ExecutionSpace> theta("osbi::test::theta", rows, 6), x("osbi::test::x", rows, columns);
  osbi::Vector<int, ExecutionSpace> status("osbi::test::status", rows);
  auto theta_host = Kokkos::create_mirror_view(theta);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < 6; ++j)
      theta_host(i, j) = static_cast<Scalar>(thetas[i][j]);
  Kokkos::deep_copy(theta, theta_host);
  Kokkos::deep_copy(x, Scalar(-7));
  Kokkos::deep_copy(status, -1);
  ExecutionSpace space;
  simulator.simulate(space, theta, x, rng, status);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto status_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), status);
  return {columns, std::vector<double>(x_host.data(), x_host.data() + rows * columns),
          std::vector<int>(status_host.data(), status_host.data() + rows)};
}

osbi::BatchRandom test_rng(std::uint64_t stream_id) {
  return osbi::RandomStream(osbi::testing::test_seed(), stream_id).next();
}

double periodic(double distance) { return std::remainder(distance, 1.0); }

// Mass h² Σ u of row `row` of a full-field simulation (x = u, N × N).
double mass(const Simulated& field, std::size_t row, std::size_t grid) {
  double sum = 0.0;
  for (std::size_t k = 0; k < grid * grid; ++k)
    sum += field(row, k);
  return sum / double(grid * grid);
}

// Mean and variance along one axis (0 = x, 1 = y) of the mass, distances taken periodically from `origin`.
std::pair<double, double> axis_moments(const Simulated& field, std::size_t row, std::size_t grid, int axis,
                                       double origin) {
  double total = 0.0, first = 0.0, second = 0.0;
  for (std::size_t j = 0; j < grid; ++j)
    for (std::size_t i = 0; i < grid; ++i) {
      const double u = field(row, j * grid + i);
      const double d = periodic((double(axis == 0 ? i : j) + 0.5) / double(grid) - origin);
      total += u;
      first += u * d;
      second += u * d * d;
    }
  const double mean = first / total;
  return {origin + mean, second / total - mean * mean};
}

// Variance of the sampled periodic Gaussian the model uses as its source (independent re-derivation).
double sampled_source_variance(double centre, std::size_t grid) {
  double total = 0.0, second = 0.0;
  for (std::size_t i = 0; i < grid; ++i) {
    const double d = periodic((double(i) + 0.5) / double(grid) - centre);
    const double g = std::exp(-0.5 * d * d / (width * width));
    total += g;
    second += g * d * d;
  }
  return second / total;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

/*
 * The continuous model's solution on the periodic unit square: mass released at age a sits in a Gaussian of
 * mean c + v·a and variance σ² + 2D·a per axis, so
 *   u(x, T) = q ∫₀ᵀ Π_axis G_per(x_axis; c_axis + v_axis a, σ² + 2D a) da,
 * G_per the 1-D Gaussian summed over the images k = −3 … 3. Block means integrate each factor over the
 * block exactly (normal CDFs). The age integral is composite Simpson with 2000 intervals (error < 1e-10 here).
 */
std::vector<double> analytic_block_means(const Theta& theta, double final_time, std::size_t blocks) {
  const double diffusivity = std::pow(10.0, theta[0]), rate = std::pow(10.0, theta[5]);
  const int intervals = 2000;
  const double side = 1.0 / double(blocks);
  std::vector<double> means(blocks * blocks, 0.0), factor_x(blocks), factor_y(blocks);
  for (int s = 0; s <= intervals; ++s) {
    const double age = final_time * s / intervals;
    const double simpson = (s == 0 || s == intervals) ? 1.0 : (s % 2 ? 4.0 : 2.0);
    const double spread = std::sqrt(width * width + 2.0 * diffusivity * age);
    for (int axis = 0; axis < 2; ++axis) {
      const double centre = theta[3 + axis] + theta[1 + axis] * age;
      std::vector<double>& factor = axis == 0 ? factor_x : factor_y;
      for (std::size_t b = 0; b < blocks; ++b) {
        double mass_in_block = 0.0;
        for (int image = -3; image <= 3; ++image) {
          const double low = double(b) * side + image - centre, high = low + side;
          mass_in_block += normal_cdf(high / spread) - normal_cdf(low / spread);
        }
        factor[b] = mass_in_block / side;
      }
    }
    const double weight = simpson * final_time / (3.0 * intervals) * rate;
    for (std::size_t by = 0; by < blocks; ++by)
      for (std::size_t bx = 0; bx < blocks; ++bx)
        means[by * blocks + bx] += weight * factor_x[bx] * factor_y[by];
  }
  return means;
}

// max |x − reference| / max |reference| over row `row`.
double relative_max_error(const Simulated& simulated, std::size_t row, const std::vector<double>& reference) {
  double error = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < reference.size(); ++k) {
    error = std::max(error, std::abs(simulated(row, k) - reference[k]));
    scale = std::max(scale, std::abs(reference[k]));
  }
  return error / scale;
}

using osbi::testing::names_sizes;

} // namespace

BOOST_AUTO_TEST_SUITE(advection_diffusion)

BOOST_AUTO_TEST_CASE(defaults_observe_over_1000_numbers_and_the_true_theta_lies_in_the_prior) {
  const osbi::AdvectionDiffusion<> simulator;
  BOOST_TEST(simulator.theta_dim() == 6u);
  BOOST_TEST(simulator.x_dim() == 1024u);
  const auto support = simulator.prior().support();
  const Theta truth = osbi::AdvectionDiffusion<>::true_theta();
  for (std::size_t j = 0; j < 6; ++j)
    BOOST_TEST((support.lower[j] < truth[j] && truth[j] < support.upper[j]), "θ_" << j);
  // K = ⌈T λ / 0.9⌉, λ = (|v_x| + |v_y|)/h + 4D/h²; the prior's worst corner stays under 1900 steps at N = 64.
  BOOST_TEST(simulator.time_steps(truth) == std::int64_t(std::ceil((0.45 * 64 + 4 * 0.01 * 64 * 64) / 0.9)));
  BOOST_TEST(simulator.time_steps({-1.0, 0.5, -0.5, 0.5, 0.5, 1.0}) == 1892);
  BOOST_TEST(simulator.time_steps({std::nan(""), 0.0, 0.0, 0.5, 0.5, 0.0}) == 0);
}

BOOST_AUTO_TEST_CASE(total_mass_grows_at_exactly_the_source_rate) {
  // Periodic boundaries, weights that sum to one and a discretely normalised source: h²Σu = q·T to
  // rounding (bound 1e-12 relative), for any D and v, at any T, through the block means as well.
  std::vector<Theta> thetas = prior_draws(12, 31);
  thetas.push_back(osbi::AdvectionDiffusion<>::true_theta());
  thetas.push_back({-1.0, 0.5, -0.5, 0.9, 0.05, 1.0});     // the prior's fastest corner, source by the wrap
  thetas.push_back({-12.0, -0.45, 0.3, 0.25, 0.75, -1.0}); // pure advection
  for (const double final_time : {1.0, 0.37}) {
    const auto field =
        simulate_rows(osbi::AdvectionDiffusion<double>(field_options(32, final_time)), thetas, test_rng(32));
    for (std::size_t i = 0; i < thetas.size(); ++i) {
      const double expected = std::pow(10.0, thetas[i][5]) * final_time;
      BOOST_TEST(std::abs(mass(field, i, 32) - expected) < 1e-12 * expected, "row " << i << ", T = " << final_time);
    }
  }
  // Edge grids: one cell (every neighbour is the cell itself), two and three cells.
  for (const std::size_t grid : {1u, 2u, 3u}) {
    const auto field = simulate_rows(osbi::AdvectionDiffusion<double>(field_options(grid, 1.0)), thetas, test_rng(32));
    for (std::size_t i = 0; i < thetas.size(); ++i) {
      const double expected = std::pow(10.0, thetas[i][5]);
      BOOST_TEST(std::abs(mass(field, i, grid) - expected) < 1e-12 * expected, "row " << i << ", N = " << grid);
    }
  }
  Options blocks = field_options(64, 1.0);
  blocks.observation_grid = 32;
  const auto means = simulate_rows(osbi::AdvectionDiffusion<double>(blocks), thetas, test_rng(33));
  for (std::size_t i = 0; i < thetas.size(); ++i) {
    const double expected = std::pow(10.0, thetas[i][5]);
    BOOST_TEST(std::abs(mass(means, i, 32) - expected) < 1e-12 * expected, "row " << i);
  }
}

BOOST_AUTO_TEST_CASE(pure_diffusion_spreads_as_2D_per_unit_age_and_matches_the_closed_form) {
  // v = 0. Each step adds exactly 2D·dt to the variance of the mass already there, and the trapezoidal
  // source makes the mean age exactly T/2, so per axis var = σ_g² + D·T with σ_g² the sampled source's
  // variance: bound 1e-12 absolute (rounding; the mass beyond the periodic wrap is < 1e-13 at 7 sd). The
  // growth between T = 0.25 and T = 0.5 is D·0.25 (variance 2D·t of each released parcel, t its age).
  // Against the closed form (analytic_block_means, 64 × 64 cells): forward-Euler/5-point discretization
  // error, measured 5.1e-3 (T = 0.25) and 3.3e-3 (T = 0.5) of the peak; bound 1e-2.
  const Theta theta{std::log10(0.002), 0.0, 0.0, 0.47, 0.53, 0.3};
  const double diffusivity = 0.002;
  std::array<double, 2> variance_at{};
  for (const double final_time : {0.25, 0.5}) {
    const auto field =
        simulate_rows(osbi::AdvectionDiffusion<double>(field_options(64, final_time)), {theta}, test_rng(34));
    for (int axis = 0; axis < 2; ++axis) {
      const double centre = theta[3 + axis];
      const auto [mean, variance] = axis_moments(field, 0, 64, axis, centre);
      BOOST_TEST(std::abs(mean - centre) < 1e-12, "axis " << axis);
      BOOST_TEST(std::abs(variance - (sampled_source_variance(centre, 64) + diffusivity * final_time)) < 1e-12,
                 "axis " << axis << ", T = " << final_time);
      // The sampled source is as wide as the continuous one to far below the discretization error.
      BOOST_TEST(std::abs(sampled_source_variance(centre, 64) - width * width) < 1e-12);
      if (axis == 0) variance_at[final_time == 0.25 ? 0 : 1] = variance;
    }
    const double error = relative_max_error(field, 0, analytic_block_means(theta, final_time, 64));
    BOOST_TEST_MESSAGE("advection_diffusion: pure diffusion, T = " << final_time << ", max error / peak = " << error);
    BOOST_TEST(error < 1e-2);
  }
  BOOST_TEST(std::abs((variance_at[1] - variance_at[0]) - diffusivity * 0.25) < 1e-12);
}

BOOST_AUTO_TEST_CASE(pure_advection_carries_the_centroid_at_v_times_the_mean_age) {
  // D = 1e-12 (numerically zero). Upwinding moves the mean of the mass already there by exactly v·dt a
  // step, and the mean age of the released mass is T/2: centroid = (x₀, y₀) + v·T/2 (a continuous release,
  // so not v·T: the oldest mass has moved v·T, the newest not at all). Bound 1e-10, i.e. 1e-8 of a cell
  // (rounding; measured up to 1.2e-12). The second
  // source sits by the corner so the plume crosses both periodic boundaries.
  const std::vector<Theta> thetas{{-12.0, 0.4, -0.25, 0.3, 0.6, 0.0}, {-12.0, 0.4, -0.25, 0.9, 0.1, 0.5}};
  const double final_time = 0.5;
  const auto field =
      simulate_rows(osbi::AdvectionDiffusion<double>(field_options(64, final_time)), thetas, test_rng(35));
  for (std::size_t row = 0; row < thetas.size(); ++row)
    for (int axis = 0; axis < 2; ++axis) {
      const double expected = thetas[row][3 + axis] + thetas[row][1 + axis] * final_time / 2;
      const auto [centroid, variance] = axis_moments(field, row, 64, axis, expected);
      BOOST_TEST(std::abs(periodic(centroid - expected)) < 1e-10, "row " << row << ", axis " << axis);
      // The plume did move (by ≥ 0.06 here) and did not smear over the domain.
      BOOST_TEST(std::abs(periodic(centroid - thetas[row][3 + axis])) > 0.06);
      BOOST_TEST(variance < 0.01);
    }
}

BOOST_AUTO_TEST_CASE(concentrations_stay_between_zero_and_the_source_bound) {
  // Monotone scheme: every weight >= 0, so u >= 0 exactly (no undershoot even at cell Péclet numbers
  // |v|h/D ≈ 8, where a central advection scheme oscillates), and u <= T·max(q g) (the maximum principle
  // with a source). The corners of the prior plus 16 draws, N = 64.
  std::vector<Theta> thetas = prior_draws(16, 36);
  thetas.push_back({-3.0, 0.5, 0.5, 0.25, 0.25, 1.0});
  thetas.push_back({-3.0, -0.5, 0.5, 0.75, 0.25, -1.0});
  thetas.push_back({-1.0, 0.0, 0.0, 0.5, 0.5, 1.0});
  thetas.push_back({-12.0, 0.5, -0.5, 0.5, 0.5, 0.0});
  const auto field = simulate_rows(osbi::AdvectionDiffusion<double>(field_options(64, 1.0)), thetas, test_rng(37));
  for (std::size_t row = 0; row < thetas.size(); ++row) {
    // max g = max_i g_x(i) · max_j g_y(j), each the peak of the discretely normalised periodic Gaussian.
    double peak = std::pow(10.0, thetas[row][5]);
    for (int axis = 0; axis < 2; ++axis) {
      double total = 0.0, largest = 0.0;
      for (int i = 0; i < 64; ++i) {
        const double d = periodic((i + 0.5) / 64 - thetas[row][3 + axis]);
        const double g = std::exp(-0.5 * d * d / (width * width));
        total += g;
        largest = std::max(largest, g);
      }
      peak *= largest / (total / 64);
    }
    const auto [low, high] = std::minmax_element(field.x.begin() + row * 4096, field.x.begin() + (row + 1) * 4096);
    BOOST_TEST(*low >= 0.0, "row " << row);
    BOOST_TEST(*high <= peak * (1 + 1e-12), "row " << row);
  }
}

BOOST_AUTO_TEST_CASE(error_against_the_closed_form_falls_as_the_grid_is_refined) {
  // A plume in the mixed regime (Pe = 7, cell Péclet |v|h/D 0.6 … 4.5 over N = 128 … 16), 8 × 8 block means of the
  // field against analytic_block_means. Upwinding is first order in h: each halving of h must reduce
  // the error (measured 0.23, 0.15, 0.088, 0.049 of the peak: ratios 1.6 … 1.8, approaching 2), and
  // 32 → 128 by at least 2.5 (measured 3.0).
  const Theta theta{std::log10(0.005), 0.3, 0.2, 0.35, 0.4, 0.0};
  const double final_time = 0.5;
  const auto reference = analytic_block_means(theta, final_time, 8);
  std::vector<double> errors;
  for (const std::size_t grid : {16u, 32u, 64u, 128u}) {
    Options options = field_options(grid, final_time);
    options.observation_grid = 8;
    const auto means = simulate_rows(osbi::AdvectionDiffusion<double>(options), {theta}, test_rng(38));
    errors.push_back(relative_max_error(means, 0, reference));
    BOOST_TEST_MESSAGE("advection_diffusion: N = " << grid << ", max error / peak = " << errors.back());
  }
  for (std::size_t k = 1; k < errors.size(); ++k)
    BOOST_TEST(errors[k] < errors[k - 1], "refinement " << k);
  BOOST_TEST(errors[3] < errors[1] / 2.5);
}

BOOST_AUTO_TEST_CASE(noise_is_gaussian_with_the_stated_standard_deviation) {
  // (x − ū)/sqrt(σ_a² + σ_r² ū²) must be N(0, 1), ū from the same model without noise: Kolmogorov–Smirnov
  // with the DKW bound, false-failure probability 1e-9 each, for the default (float x, σ_a = 0.02,
  // σ_r = 0.05) and for purely additive noise.
  std::vector<Theta> thetas = prior_draws(3, 39);
  thetas.push_back(osbi::AdvectionDiffusion<>::true_theta());
  // float θ as the float model sees it
  for (Theta& theta : thetas)
    for (double& value : theta)
      value = double(float(value));
  Options clean = osbi::AdvectionDiffusion<>::default_options();
  clean.additive_noise = clean.relative_noise = 0.0;
  const auto mean = simulate_rows(osbi::AdvectionDiffusion<double>(clean), thetas, test_rng(40));
  Options additive = osbi::AdvectionDiffusion<>::default_options();
  additive.additive_noise = 0.1;
  additive.relative_noise = 0.0;
  for (const Options& options : {osbi::AdvectionDiffusion<>::default_options(), additive}) {
    const auto noisy = simulate_rows(osbi::AdvectionDiffusion<>(options), thetas, test_rng(41));
    std::vector<double> standardized;
    for (std::size_t k = 0; k < noisy.x.size(); ++k) {
      const double u = mean.x[k];
      const double sd = std::sqrt(options.additive_noise * options.additive_noise +
                                  options.relative_noise * options.relative_noise * u * u);
      standardized.push_back((noisy.x[k] - u) / sd);
    }
    BOOST_TEST(osbi::testing::ks_statistic(standardized, osbi::testing::standard_normal_cdf) <
               osbi::testing::ks_bound(standardized.size()));
  }
}

BOOST_AUTO_TEST_CASE(unsimulable_rows_are_nan_and_reported) {
  // Row 1: NaN v_x; row 2: D = 1e3 needs > max_steps steps; row 3: q = 10^400 overflows; row 4: +Inf x₀;
  // row 5 (float x): q = 1e40 gives a field beyond float. The other rows are what they are without them.
  const Theta good = osbi::AdvectionDiffusion<>::true_theta();
  const double infinity = std::numeric_limits<double>::infinity();
  const std::vector<Theta> mixed{good,
                                 {-2.0, std::nan(""), 0.1, 0.5, 0.5, 0.0},
                                 {3.0, 0.1, 0.1, 0.5, 0.5, 0.0},
                                 {-2.0, 0.1, 0.1, 0.5, 0.5, 400.0},
                                 {-2.0, 0.1, 0.1, infinity, 0.5, 0.0},
                                 {-2.0, 0.1, 0.1, 0.5, 0.5, 40.0},
                                 prior_draws(1, 42)[0]};
  Options small = osbi::AdvectionDiffusion<>::default_options();
  small.grid = 32;
  small.observation_grid = 16;
  const osbi::AdvectionDiffusion<> simulator(small);
  const auto rng = test_rng(43);
  const auto result = simulate_rows(simulator, mixed, rng);
  const std::vector<int> expected{
      int(Status::success),          int(Status::non_finite_theta), int(Status::step_budget_exceeded),
      int(Status::non_finite_theta), int(Status::non_finite_theta), int(Status::non_finite_result),
      int(Status::success)};
  BOOST_TEST(result.status == expected, boost::test_tools::per_element());
  std::vector<Theta> clean = mixed;
  for (std::size_t i = 1; i <= 5; ++i)
    clean[i] = good;
  const auto reference = simulate_rows(simulator, clean, rng);
  for (std::size_t i = 0; i < mixed.size(); ++i)
    for (std::size_t j = 0; j < simulator.x_dim(); ++j) {
      if (expected[i] != 0)
        BOOST_TEST(std::isnan(result(i, j)), "row " << i << " column " << j);
      else
        BOOST_TEST(result(i, j) == reference(i, j), "row " << i << " column " << j);
    }
  BOOST_TEST(simulator.time_steps(mixed[2]) == 0);
  // Without a status view the rows are the same.
  osbi::Matrix<float, Space> theta("osbi::test::theta", 1, 6), x("osbi::test::x", 1, simulator.x_dim());
  Kokkos::deep_copy(theta, std::nanf(""));
  Space space;
  simulator.simulate(space, theta, x, rng);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  for (std::size_t j = 0; j < simulator.x_dim(); ++j)
    BOOST_TEST(std::isnan(x_host(0, j)));
}

using HostSpaces = std::tuple<
#if defined(KOKKOS_ENABLE_OPENMP)
    Kokkos::OpenMP,
#endif
    Kokkos::Serial>;

BOOST_AUTO_TEST_CASE_TEMPLATE(same_x_on_every_host_backend_and_for_the_same_rng, ExecutionSpace, HostSpaces) {
  // No reductions and the coefficients planned on the host: bitwise equal to Serial, and to itself.
  auto thetas = prior_draws(24, 44);
  thetas[5][0] = std::nan(""); // a failing row too
  Options small = osbi::AdvectionDiffusion<>::default_options();
  small.grid = 32;
  small.observation_grid = 16;
  const auto rng = osbi::RandomStream(osbi::testing::test_seed(), 45).at(2);
  const auto reference = simulate_rows(osbi::AdvectionDiffusion<float, Kokkos::Serial>(small), thetas, rng);
  const osbi::AdvectionDiffusion<float, ExecutionSpace> simulator(small);
  const auto first = simulate_rows(simulator, thetas, rng), second = simulate_rows(simulator, thetas, rng);
  BOOST_TEST(first.status == reference.status, boost::test_tools::per_element());
  for (std::size_t k = 0; k < first.x.size(); ++k) {
    BOOST_TEST(((first.x[k] == reference.x[k]) || (std::isnan(first.x[k]) && std::isnan(reference.x[k]))),
               "entry " << k);
    BOOST_TEST(((first.x[k] == second.x[k]) || (std::isnan(first.x[k]) && std::isnan(second.x[k]))), "entry " << k);
  }
}

BOOST_AUTO_TEST_CASE(wrong_shapes_and_options_throw_before_launch) {
  const osbi::AdvectionDiffusion<> simulator;
  const osbi::BatchRandom rng = osbi::RandomStream(1).next();
  Space space;
  osbi::Matrix<float, Space> theta("osbi::test::theta", 3, 6), theta_narrow("osbi::test::theta", 3, 5);
  osbi::Matrix<float, Space> x("osbi::test::x", 3, 1024), x_wide("osbi::test::x", 3, 1025),
      x_short("osbi::test::x", 2, 1024);
  osbi::Vector<int, Space> status_short("osbi::test::status", 2);
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta_narrow, x, rng), osbi::DimensionMismatch, names_sizes(5, 6));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_wide, rng), osbi::DimensionMismatch,
                        names_sizes(1025, 1024));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x_short, rng), osbi::DimensionMismatch, names_sizes(2, 3));
  BOOST_CHECK_EXCEPTION(simulator.simulate(space, theta, x, rng, status_short), osbi::DimensionMismatch,
                        names_sizes(2, 3));
  const auto invalid = [](auto change) {
    Options options = osbi::AdvectionDiffusion<>::default_options();
    change(options);
    BOOST_CHECK_THROW(osbi::AdvectionDiffusion<>{options}, osbi::InvalidArgument);
  };
  invalid([](Options& o) { o.grid = 0; });
  invalid([](Options& o) { o.observation_grid = 0; });
  invalid([](Options& o) { o.observation_grid = 24; }); // does not divide 64
  invalid([](Options& o) { o.final_time = 0.0; });
  invalid([](Options& o) { o.final_time = std::nan(""); });
  invalid([](Options& o) { o.additive_noise = -0.1; });
  invalid([](Options& o) { o.relative_noise = std::numeric_limits<double>::infinity(); });
  invalid([](Options& o) { o.max_steps = 0; });
}

BOOST_AUTO_TEST_CASE(conforms_to_the_simulator_spec) {
  // osbi::testing::check_simulator at θ from the prior, on a 32 × 32 grid (x_dim 1024) to keep it quick.
  Options options = osbi::AdvectionDiffusion<>::default_options();
  options.grid = options.observation_grid = 32;
  osbi::AdvectionDiffusion<> simulator(options);
  osbi::RandomStream stream(osbi::testing::test_seed(), 99);
  const auto theta = osbi::sample(simulator.prior(), stream, 16);
  const auto report = osbi::testing::check_simulator(simulator, theta, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
