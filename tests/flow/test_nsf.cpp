// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalNSF (and ConditionalMADE with P outputs per dimension): exact (weighted) gradients through the
/// generic checkers, the autoregressive property, normalization, sampling against log_prob, NPE training on gaussian_linear,
/// bad input, backends.
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/made.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/testing/gradient_check.hpp>
#include <osbi/train/trainer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/gaussian_linear_posterior.hpp>
#include <support/statistics.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
template <class Scalar>
using Nsf = osbi::ConditionalNSF<Scalar, Space>;
using osbi::testing::device_matrix;
using osbi::testing::host_values;
using osbi::testing::normals;
using osbi::testing::test_seed;

static_assert(osbi::ConditionalDensity<osbi::ConditionalNSF<double, Space>>);
static_assert(osbi::ConditionalDensity<osbi::SbiNSF>);

template <class Flow>
void perturb_parameters(Flow& flow, double scale, std::uint64_t stream) {
  auto parameters = flow.parameters();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  const std::vector<double> noise = normals(host.extent(0), stream, scale);
  for (std::size_t i = 0; i < host.extent(0); ++i)
    host(i) += static_cast<typename Flow::scalar_type>(noise[i]);
  Kokkos::deep_copy(parameters, host);
}

/// True when every θ dimension sits at a position > 0 in at least one transform. The MADE's outputs for
/// position 0 are its output biases alone, context-free as in nflows' MADE (bayesiains/nflows#85), so a
/// dimension that stays at position 0 through every transform is independent of x under q.
template <class Flow>
bool conditions_every_dimension(const Flow& flow) {
  const std::size_t d = flow.theta_dim();
  std::vector<std::size_t> position(d);
  std::vector<bool> conditioned(d, false);
  for (std::size_t j = 0; j < d; ++j)
    position[j] = j;
  for (std::size_t k = 0; k < flow.transforms(); ++k) {
    const std::vector<int> permutation = flow.permutation(k); // y_{k+1, j} = z_{π(j)}
    for (std::size_t dim = 0; dim < d; ++dim) {
      conditioned[dim] = conditioned[dim] || position[dim] > 0;
      for (std::size_t j = 0; j < d; ++j)
        if (static_cast<std::size_t>(permutation[j]) == position[dim]) {
          position[dim] = j;
          break;
        }
    }
  }
  return std::find(conditioned.begin(), conditioned.end(), false) == conditioned.end();
}

template <class Scalar>
double mean_nll(Nsf<Scalar>& flow, const osbi::Matrix<Scalar, Space>& theta, const osbi::Matrix<Scalar, Space>& x) {
  osbi::Vector<Scalar, Space> out("osbi::test::nsf::log_prob", theta.extent(0));
  flow.log_prob(Space(), theta, x, out);
  double sum = 0.0;
  for (double value : host_values(out))
    sum -= value;
  return sum / static_cast<double>(theta.extent(0));
}

osbi::NSFOptions small_options(std::size_t transforms, std::size_t hidden, std::uint64_t seed) {
  osbi::NSFOptions options;
  options.transforms = transforms;
  options.hidden = hidden;
  options.blocks = 2;
  options.seed = seed;
  return options;
}

/// The MADE block as an nn::Layer on the concatenated input [y | c] (as in test_maf.cpp).
struct MadeAsLayer {
  using scalar_type = double;
  using execution_space = Space;
  osbi::ConditionalMADE<double, Space> made;
  osbi::Matrix<double, Space> y, c, grad_y, grad_c;

  std::size_t input_dim() const { return made.features() + made.context_features(); }
  std::size_t output_dim() const { return made.output_dim(); }
  std::size_t parameter_count() const { return made.parameter_count(); }
  void bind(const osbi::Vector<double, Space>& parameters, const osbi::Vector<double, Space>& gradients) {
    made.bind(parameters, gradients);
  }
  void initialize(const Space& space, osbi::BatchRandom rng) { made.initialize(space, rng); }
  void forward(const Space& space, const osbi::ConstMatrix<double, Space>& input,
               const osbi::Matrix<double, Space>& output) {
    const std::size_t rows = input.extent(0), d = made.features(), cdim = made.context_features();
    if (y.extent(0) != rows) {
      y = osbi::Matrix<double, Space>("y", rows, d);
      c = osbi::Matrix<double, Space>("c", rows, cdim);
      grad_y = osbi::Matrix<double, Space>("grad_y", rows, d);
      grad_c = osbi::Matrix<double, Space>("grad_c", rows, cdim);
    }
    const auto yv = y, cv = c;
    Kokkos::parallel_for(
        "osbi::test::nsf::split", Kokkos::RangePolicy<Space>(space, 0, rows), KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < d; ++j)
            yv(i, j) = input(i, j);
          for (std::size_t j = 0; j < cdim; ++j)
            cv(i, j) = input(i, d + j);
        });
    Kokkos::deep_copy(space, output, made.forward(space, y, c));
  }
  void backward(const Space& space, const osbi::ConstMatrix<double, Space>& grad_output,
                const osbi::Matrix<double, Space>& grad_input) {
    if (grad_input.data() == nullptr) {
      made.backward(space, grad_output, {}, {});
      return;
    }
    made.backward(space, grad_output, grad_y, grad_c);
    const std::size_t rows = grad_input.extent(0), d = made.features(), cdim = made.context_features();
    const auto gy = grad_y, gc = grad_c;
    Kokkos::parallel_for(
        "osbi::test::nsf::join", Kokkos::RangePolicy<Space>(space, 0, rows), KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < d; ++j)
            grad_input(i, j) = gy(i, j);
          for (std::size_t j = 0; j < cdim; ++j)
            grad_input(i, d + j) = gc(i, j);
        });
  }
};
static_assert(osbi::nn::Layer<MadeAsLayer>);

/// A 2-D flow (C = 1, 3 transforms of 2 × 16, 10 bins) with perturbed parameters and a non-trivial θ
/// standardization: means (0.3, −0.2), deviations (0.5, 0.8).
constexpr double grid_mean[2] = {0.3, -0.2}, grid_std[2] = {0.5, 0.8};

Nsf<double> two_dimensional_flow() {
  Nsf<double> flow(2, 1, small_options(3, 16, test_seed()));
  flow.set_standardization({grid_mean[0], grid_mean[1]}, {grid_std[0], grid_std[1]}, {0.0}, {1.0});
  perturb_parameters(flow, 0.3, 41);
  return flow;
}

/// exp(log_prob)·cell area at the midpoints of a cells × cells grid over mean_j ± span·std_j, context 0.7,
/// evaluated in chunks of whole grid rows. Also returns the midpoints of each axis.
std::vector<double> density_grid(Nsf<double>& flow, double span, std::size_t cells, std::vector<double> axes[2]) {
  double low[2], step[2];
  for (std::size_t a = 0; a < 2; ++a) {
    low[a] = grid_mean[a] - span * grid_std[a];
    step[a] = 2 * span * grid_std[a] / static_cast<double>(cells);
    axes[a].resize(cells);
    for (std::size_t c = 0; c < cells; ++c)
      axes[a][c] = low[a] + (static_cast<double>(c) + 0.5) * step[a];
  }
  const std::size_t rows_per_chunk = std::max<std::size_t>(1, 20000 / cells), chunk = rows_per_chunk * cells;
  osbi::Matrix<double, Space> theta("osbi::test::nsf::grid_theta", chunk, 2);
  const auto x = device_matrix<double>(std::vector<double>(chunk, 0.7), chunk, 1);
  osbi::Vector<double, Space> out("osbi::test::nsf::grid", chunk);
  auto theta_host = Kokkos::create_mirror_view(theta);
  auto out_host = Kokkos::create_mirror_view(out);
  std::vector<double> density(cells * cells);
  for (std::size_t a0 = 0; a0 < cells; a0 += rows_per_chunk) {
    const std::size_t a1 = std::min(cells, a0 + rows_per_chunk), count = (a1 - a0) * cells;
    for (std::size_t a = a0; a < a1; ++a)
      for (std::size_t b = 0; b < cells; ++b) {
        theta_host((a - a0) * cells + b, 0) = axes[0][a];
        theta_host((a - a0) * cells + b, 1) = axes[1][b];
      }
    Kokkos::deep_copy(theta, theta_host);
    const auto rows = std::make_pair(std::size_t{0}, count);
    flow.log_prob(Space(), Kokkos::subview(theta, rows, Kokkos::ALL), Kokkos::subview(x, rows, Kokkos::ALL),
                  Kokkos::subview(out, rows));
    Kokkos::deep_copy(out_host, out);
    for (std::size_t i = 0; i < count; ++i)
      density[a0 * cells + i] = std::exp(out_host(i)) * step[0] * step[1];
  }
  return density;
}

} // namespace

BOOST_AUTO_TEST_SUITE(flow_nsf)

BOOST_AUTO_TEST_CASE(made_with_p_outputs_per_dimension_is_autoregressive_and_exact) {
  using Made = osbi::ConditionalMADE<double, Space>;
  using Degrees = std::vector<std::size_t>;
  BOOST_TEST(Made::output_degrees(3, 4) == (Degrees{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
  BOOST_TEST(Made::output_degrees(2) == (Degrees{1, 1, 2, 2}));
  BOOST_CHECK_THROW(Made(2, 1, 4, 2, 0), osbi::InvalidArgument);

  // The generic checker on a D = 2, C = 1, H = 5 MADE with P = 29 (a 10-bin spline per dimension).
  MadeAsLayer layer{Made(2, 1, 5, 2, 29), {}, {}, {}, {}};
  BOOST_TEST(layer.output_dim() == 58u);
  osbi::testing::GradientCheckOptions options;
  options.seed = test_seed();
  const auto report =
      osbi::testing::check_gradients(Space(), layer, device_matrix<double>(normals(4 * 3, 11), 4, 3), options);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == layer.parameter_count());

  // Inside a flow: moving y_i leaves dimension m's P outputs bit-for-bit unchanged for m <= i and moves
  // those of m = i + 1.
  constexpr std::size_t d = 4, cdim = 2, rows = 3;
  Nsf<double> flow(d, cdim, small_options(2, 12, test_seed()));
  perturb_parameters(flow, 0.3, 21);
  const std::size_t p = 3 * flow.options().spline.bins - 1;
  const std::vector<double> y_values = normals(rows * d, 22), c_values = normals(rows * cdim, 23);
  const auto c = device_matrix<double>(c_values, rows, cdim);
  for (std::size_t k = 0; k < flow.transforms(); ++k) {
    auto& made = flow.made(k);
    BOOST_TEST(made.outputs_per_feature() == p);
    const auto base = host_values(made.forward(Space(), device_matrix<double>(y_values, rows, d), c));
    for (std::size_t i = 0; i < d; ++i) {
      std::vector<double> moved = y_values;
      for (std::size_t r = 0; r < rows; ++r)
        moved[r * d + i] += 0.75;
      const auto changed = host_values(made.forward(Space(), device_matrix<double>(moved, rows, d), c));
      std::size_t leaked = 0, ignored = 0;
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t m = 0; m < d; ++m)
          for (std::size_t q = 0; q < p; ++q) {
            const std::size_t column = r * p * d + p * m + q;
            if (m <= i && changed[column] != base[column]) ++leaked;
            if (m == i + 1 && changed[column] == base[column]) ++ignored;
          }
      BOOST_TEST(leaked == 0u, "transform " << k << ": outputs of dimensions <= " << i << " moved with input " << i);
      BOOST_TEST(ignored == 0u, "transform " << k << ": outputs of dimension " << i + 1 << " ignore input " << i);
    }
  }
}

namespace {

/// D = 3, C = 2, 2 transforms of 2 × 8 hidden units, 10 bins (1 966 parameters), a non-trivial standardization,
/// perturbed parameters, and θ spread so that some standardized values fall in the identity tails.
struct GradientCase {
  static constexpr std::size_t d = 3, cdim = 2, rows = 6;
  Nsf<double> flow{d, cdim, small_options(2, 8, test_seed())};
  osbi::Matrix<double, Space> theta, x;

  GradientCase() {
    flow.set_standardization({0.2, -0.1, 0.4}, {0.5, 1.5, 0.8}, {1.0, -1.0}, {2.0, 0.5});
    perturb_parameters(flow, 0.3, 31);
    std::vector<double> theta_values = normals(rows * d, 32, 1.2);
    theta_values[0] = 2.5;  // standardized 4.6: a tail
    theta_values[4] = -5.5; // standardized −3.6
    theta = device_matrix<double>(theta_values, rows, d);
    x = device_matrix<double>(normals(rows * cdim, 33, 2.0), rows, cdim);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(nll_backward_matches_finite_differences_for_inputs_and_every_parameter) {
  // Every parameter, θ and x entry through the density checker (h = 1e-5·max(1, |p|), relative error <= 1e-5, no
  // kink accepted): the loss is the mean of −log_prob (1e-12), gradients accumulate (1e-12).
  GradientCase test;
  const auto report = osbi::testing::check_density_gradients(Space(), test.flow, test.theta, test.x);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == 1966u);
  BOOST_TEST(report.theta_checked + report.x_checked == GradientCase::rows * (GradientCase::d + GradientCase::cdim));
  BOOST_TEST(report.loss == mean_nll(test.flow, test.theta, test.x), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(weighted_nll_backward_matches_finite_differences_for_inputs_and_every_parameter) {
  // L = (1/N) Σ w_i·(−log q_i) with w_i = 0.5 + N(0, 1), w_0 = 0, w_1 < 0 — the general vector–Jacobian product of
  // log q; unit weights give the unweighted loss and gradients bit for bit (inside the checker).
  GradientCase test;
  const auto weights = osbi::testing::device_vector<double>(osbi::testing::signed_weights(GradientCase::rows, 34));
  const auto report = osbi::testing::check_density_gradients(Space(), test.flow, test.theta, test.x, weights);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == 1966u);
  BOOST_TEST(report.theta_checked + report.x_checked == GradientCase::rows * (GradientCase::d + GradientCase::cdim));
}

BOOST_AUTO_TEST_CASE(log_prob_integrates_to_one_in_two_dimensions) {
  // Midpoint rule on a 600 × 600 grid over θ_mean ± 6.5·θ_std: every standardized coordinate outside
  // [−3, 3] passes all transforms unchanged (identity tails, permutations), so the mass outside the box
  // is that of |N(0, 1)| > 6.5 per coordinate, 2e-10. The density is only C⁰ (y'' jumps at the knots),
  // so the midpoint error is O(h²) with an erratic constant: 6e-6 … 4.1e-4 over seeds 1–20 (3e-6 … 3e-5
  // on a 1200² grid, seeds 1–3). |∫∫ q − 1| <= 1e-3.
  Nsf<double> flow = two_dimensional_flow();
  constexpr std::size_t grid = 600;
  std::vector<double> axes[2];
  const std::vector<double> cells = density_grid(flow, 6.5, grid, axes);
  double total = 0.0;
  for (double value : cells)
    total += value;
  BOOST_TEST_MESSAGE("integral " << std::setprecision(10) << total);
  BOOST_TEST(std::abs(total - 1.0) <= 1e-3, "∫∫ exp(log_prob) = " << total);
  // The splines make q far from the Gaussian of the standardization alone: total variation > 0.1.
  double variation = 0.0;
  const double area = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0]);
  for (std::size_t a = 0; a < grid; ++a)
    for (std::size_t b = 0; b < grid; ++b) {
      const double u = (axes[0][a] - grid_mean[0]) / grid_std[0], v = (axes[1][b] - grid_mean[1]) / grid_std[1];
      const double gaussian = std::exp(-0.5 * (u * u + v * v)) / (2 * M_PI * grid_std[0] * grid_std[1]) * area;
      variation += 0.5 * std::abs(cells[a * grid + b] - gaussian);
    }
  BOOST_TEST_MESSAGE("total variation from the standardization Gaussian " << variation);
  BOOST_TEST(variation > 0.1);
}

BOOST_AUTO_TEST_CASE(samples_follow_log_prob_and_invert_exactly) {
  Nsf<double> flow = two_dimensional_flow();
  constexpr std::size_t n = 100000;
  const auto x_one = device_matrix<double>({0.7}, 1, 1);
  osbi::Matrix<double, Space> theta("osbi::test::nsf::samples", n, 2);
  const osbi::BatchRandom rng = osbi::RandomStream(test_seed(), 51).next();
  flow.sample(Space(), x_one, n, rng, theta);
  const std::vector<double> samples = host_values(theta);

  // Round trip: to_base(sample) recovers the base draws of rng.row(i) (two normals in column order).
  {
    constexpr std::size_t check = 2000;
    osbi::Matrix<double, Space> copy("copy", check, 2), z("z", check, 2);
    Kokkos::deep_copy(copy, Kokkos::subview(theta, std::make_pair(std::size_t{0}, check), Kokkos::ALL));
    flow.to_base(Space(), copy, device_matrix<double>(std::vector<double>(check, 0.7), check, 1), z);
    const std::vector<double> base = host_values(z);
    double worst = 0.0;
    for (std::size_t i = 0; i < check; ++i) {
      osbi::RowRandom generator = rng.row(i);
      for (std::size_t j = 0; j < 2; ++j)
        worst = std::max(worst, std::abs(base[2 * i + j] - generator.normal()));
    }
    BOOST_TEST(worst <= 1e-9, "max |to_base(sample) − u| = " << worst);
  }

  // Moments: sample mean and variance per axis against those of exp(log_prob) on a 300 × 300 grid over
  // θ_mean ± 6.5·θ_std (normalized; quadrature error below 1e-3), each within 6 standard errors plus
  // 1e-3 (false-failure probability 2e-9 each).
  constexpr std::size_t grid = 300;
  std::vector<double> axes[2];
  std::vector<double> cells = density_grid(flow, 6.5, grid, axes);
  double mass = 0;
  for (double value : cells)
    mass += value;
  for (double& value : cells)
    value /= mass;
  for (std::size_t j = 0; j < 2; ++j) {
    double m1 = 0, m2 = 0, m4 = 0, s1 = 0, s2 = 0;
    for (std::size_t a = 0; a < grid; ++a)
      for (std::size_t b = 0; b < grid; ++b)
        m1 += cells[a * grid + b] * axes[j][j == 0 ? a : b];
    for (std::size_t a = 0; a < grid; ++a)
      for (std::size_t b = 0; b < grid; ++b) {
        const double centred = axes[j][j == 0 ? a : b] - m1;
        m2 += cells[a * grid + b] * centred * centred;
        m4 += cells[a * grid + b] * centred * centred * centred * centred;
      }
    for (std::size_t i = 0; i < n; ++i)
      s1 += samples[2 * i + j] / n;
    for (std::size_t i = 0; i < n; ++i)
      s2 += (samples[2 * i + j] - s1) * (samples[2 * i + j] - s1) / (n - 1);
    const double mean_error = 6 * std::sqrt(m2 / n) + 1e-3, variance_error = 6 * std::sqrt((m4 - m2 * m2) / n) + 1e-3;
    BOOST_TEST_MESSAGE("axis " << j << ": mean " << s1 << " vs " << m1 << ", variance " << s2 << " vs " << m2);
    BOOST_TEST(std::abs(s1 - m1) <= mean_error);
    BOOST_TEST(std::abs(s2 - m2) <= variance_error);
  }

  // Chi-square of a 10 × 10 histogram over θ_mean ± 3·θ_std plus one bin for the rest, against
  // ∫ exp(log_prob) per bin (midpoint rule, 20 × 20 points per bin). False-failure probability 1e-9
  // (Wilson–Hilferty quantile of χ²); the quadrature error (about 1e-3 relative) is far below the Poisson
  // noise of the bins (3 % at 1 000 draws).
  constexpr std::size_t bins = 10, per_bin = 20;
  std::vector<double> fine_axes[2];
  const std::vector<double> fine = density_grid(flow, 3.0, bins * per_bin, fine_axes);
  std::vector<double> expected(bins * bins + 1, 0.0), observed(bins * bins + 1, 0.0);
  for (std::size_t a = 0; a < bins * per_bin; ++a)
    for (std::size_t b = 0; b < bins * per_bin; ++b)
      expected[(a / per_bin) * bins + b / per_bin] += fine[a * bins * per_bin + b];
  double inside = 0.0;
  for (std::size_t k = 0; k < bins * bins; ++k)
    inside += expected[k];
  expected[bins * bins] = 1.0 - inside;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = (samples[2 * i] - grid_mean[0]) / grid_std[0],
                 v = (samples[2 * i + 1] - grid_mean[1]) / grid_std[1];
    if (u >= -3 && u < 3 && v >= -3 && v < 3)
      observed[static_cast<std::size_t>((u + 3) / 0.6) * bins + static_cast<std::size_t>((v + 3) / 0.6)] += 1;
    else
      observed[bins * bins] += 1;
  }
  double chi2 = 0.0;
  std::size_t used = 0;
  for (std::size_t k = 0; k <= bins * bins; ++k) {
    const double e = expected[k] * static_cast<double>(n);
    if (e < 5.0) {
      BOOST_TEST(observed[k] <= 30.0, "bin " << k << " expects " << e << " but holds " << observed[k]);
      continue;
    }
    chi2 += (observed[k] - e) * (observed[k] - e) / e;
    ++used;
  }
  const double bound = osbi::testing::chi_square_upper_quantile(static_cast<double>(used - 1));
  BOOST_TEST_MESSAGE("chi2 " << chi2 << " over " << used << " bins, bound " << bound);
  BOOST_TEST(used >= 20u);
  BOOST_TEST(chi2 <= bound, "chi-square " << chi2 << " > " << bound << " over " << used << " bins");
}

BOOST_AUTO_TEST_CASE(float_samples_invert_to_their_base_draws) {
  // The same flow in float: to_base(sample(u)) = u within 1e-4 (three chained splines, each inverted to
  // about 1e-6 relative, amplified by their slopes and the MADE's dependence on earlier dimensions;
  // measured 2.9e-6 … 7.4e-6 over seeds 1–20).
  Nsf<float> flow(2, 1, small_options(3, 16, test_seed()));
  flow.set_standardization({grid_mean[0], grid_mean[1]}, {grid_std[0], grid_std[1]}, {0.0}, {1.0});
  perturb_parameters(flow, 0.3, 41);
  constexpr std::size_t n = 4000;
  const auto x = device_matrix<float>(std::vector<double>(n, 0.7), n, 1);
  osbi::Matrix<float, Space> theta("theta", n, 2), z("z", n, 2);
  const osbi::BatchRandom rng = osbi::RandomStream(test_seed(), 52).next();
  flow.sample(Space(), x, rng, theta);
  flow.to_base(Space(), theta, x, z);
  const std::vector<double> base = host_values(z);
  double worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    osbi::RowRandom generator = rng.row(i);
    for (std::size_t j = 0; j < 2; ++j)
      worst = std::max(worst, std::abs(base[2 * i + j] - static_cast<float>(generator.normal())));
  }
  BOOST_TEST_MESSAGE("float round trip " << worst);
  BOOST_TEST(worst <= 1e-4, "max |to_base(sample) − u| = " << worst);
}

// Statistical (skipped under the sanitizers, see scripts/test.sh): NPE trains and samples this NSF there inside
// test_conditionally_centered's npe_with_a_centered_nsf_recovers_an_off_centre_gaussian_linear_posterior.
BOOST_AUTO_TEST_CASE(npe_with_sbi_default_nsf_recovers_the_gaussian_linear_posterior,
                     *boost::unit_test::label("statistical")) {
  // gaussian_linear in 2-D: θ ~ N(0, 0.1 I₂), x = θ + N(0, 0.1 I₂), posterior N(x/2, 0.05 I₂). osbi::NPE
  // with sbi_default_nsf in float (z-scored by NPE, trained by osbi::train: batch 200, Adam at 2e-3 for a
  // short run, clipping at 5) on 8 000 simulations for 12 epochs. The flow's seed is the first from
  // test_seed() on whose permutations both θ dimensions reach a context-dependent position (see
  // conditions_every_dimension: with D = 2 and 5 transforms, 1 seed in 16 leaves θ₀ at position 0 throughout).
  const osbi::GaussianLinear<float, Space> task(2);
  std::uint64_t flow_seed = test_seed();
  while (!conditions_every_dimension(osbi::sbi_default_nsf<float, Space>(2, 2, flow_seed)))
    ++flow_seed;
  osbi::NPE npe(task.prior(), task, osbi::sbi_default_nsf<float, Space>(2, 2, flow_seed),
                osbi::NpeOptions{.seed = test_seed()});
  npe.simulate(8000);
  osbi::TrainingOptions options;
  options.learning_rate = 2e-3;
  options.max_epochs = 12;
  const auto start = std::chrono::steady_clock::now();
  const auto& report = npe.train(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("NSF training (flow seed " << flow_seed << "): " << report.epochs << " epochs, " << report.steps
                                                << " steps in " << seconds << " s; best validation NLL "
                                                << report.best_validation_loss << " at epoch " << report.best_epoch);

  // NLL on 2 000 fresh pairs against the analytic posterior's on the same pairs (the paired difference
  // estimates the KL from the true posterior, averaged over x): 0.048 … 0.082 over seeds 1–20, <= 0.12.
  const double gap = osbi::testing::gaussian_linear_heldout_gap(task, npe.density(), test_seed());
  BOOST_TEST_MESSAGE("held-out NLL above the analytic posterior's by " << gap);
  BOOST_TEST(gap <= 0.12, "held-out NLL gap " << gap);

  // Posterior samples at x₀ = (0.3, −0.2): mean x₀/2 within 0.06, covariance 0.05·I within 0.02 per entry
  // (sampling error of 20 000 draws: 0.0016 on the mean, 0.0005 on the covariance; the rest is the
  // estimation error of 8 000 pairs: up to 0.040 on the mean and 0.010 on the covariance over seeds 1–20).
  osbi::RandomStream rng(test_seed(), 63);
  constexpr std::size_t n = 20000;
  const auto draws = npe.sample({0.3, -0.2}, n, rng);
  const auto moments = osbi::testing::sample_moments(draws);
  const auto& mean = moments.mean;
  const auto& cov = moments.covariance;
  BOOST_TEST_MESSAGE("posterior mean " << mean[0] << ", " << mean[1] << "; cov " << cov[0][0] << ", " << cov[0][1]
                                       << ", " << cov[1][1]);
  BOOST_TEST(std::abs(mean[0] - 0.15) <= 0.06);
  BOOST_TEST(std::abs(mean[1] + 0.10) <= 0.06);
  BOOST_TEST(std::abs(cov[0][0] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[1][1] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[0][1]) <= 0.02);
}

BOOST_AUTO_TEST_CASE(sbi_default_nsf_has_sbi_settings) {
  // 5 transforms, 2 × 50 hidden, 10 bins, tail bound 3, logit scale 1/√50; per MADE (D = 3, C = 4):
  // input 3·50 + 50, context 4·50 + 50, 2 hidden 50·50 + 50, output 50·87 + 87.
  auto flow = osbi::sbi_default_nsf<float, Space>(3, 4, 7);
  BOOST_TEST(flow.transforms() == 5u);
  BOOST_TEST(flow.options().hidden == 50u);
  BOOST_TEST(flow.options().blocks == 2u);
  BOOST_TEST(flow.spline().bins() == 10u);
  BOOST_TEST(flow.spline().tail_bound() == 3.0f);
  BOOST_TEST(flow.spline().logit_scale() == static_cast<float>(1.0 / std::sqrt(50.0)));
  const std::size_t per_made = (3 * 50 + 50) + (4 * 50 + 50) + 2 * (50 * 50 + 50) + (50 * 87 + 87);
  BOOST_TEST(flow.parameter_count() == 5 * per_made);
  BOOST_TEST(flow.made(0).output_dim() == 87u);
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_and_nan_rows_give_nan) {
  Nsf<double> flow(2, 3, small_options(2, 8, test_seed()));
  const Space space;
  osbi::Matrix<double, Space> theta("theta", 4, 2), theta_wide("theta_wide", 4, 5), x("x", 4, 3), x_narrow("x", 4, 1);
  osbi::Vector<double, Space> out("out", 4), out_short("out", 3);
  auto names_both = [](const std::string& expected_a, const std::string& expected_b) {
    return [=](const osbi::DimensionMismatch& error) {
      const std::string what = error.what();
      return what.find(expected_a) != std::string::npos && what.find(expected_b) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta_wide, x, out), osbi::DimensionMismatch,
                        names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta, x_narrow, out), osbi::DimensionMismatch,
                        names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta, x, out_short), osbi::DimensionMismatch,
                        names_both("has 3", "expected 4"));
  BOOST_CHECK_EXCEPTION(osbi::nll_backward(flow, space, theta_wide, x), osbi::DimensionMismatch,
                        names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, out_short, {}, {}), osbi::DimensionMismatch,
                        names_both("has 3", "expected 4"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, out, theta_wide, {}), osbi::DimensionMismatch,
                        names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, out, {}, x_narrow), osbi::DimensionMismatch,
                        names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.sample(space, x_narrow, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch,
                        names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.sample(space, x, 3, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch,
                        names_both("has 4", "expected 1"));
  BOOST_CHECK_THROW(flow.set_standardization({0, 0}, {1, 0}, {0, 0, 0}, {1, 1, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(flow.set_standardization({0}, {1}, {0, 0, 0}, {1, 1, 1}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(
      osbi::nll_backward(flow, space, osbi::Matrix<double, Space>("e", 0, 2), osbi::Matrix<double, Space>("e", 0, 3)),
      osbi::InvalidArgument);
  BOOST_CHECK_THROW(Nsf<double>(0, 3), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Nsf<double>(2, 0), osbi::InvalidArgument);
  {
    osbi::NSFOptions options;
    options.transforms = 0;
    BOOST_CHECK_THROW(Nsf<double>(2, 3, options), osbi::InvalidArgument);
    options = {};
    options.hidden = 0;
    BOOST_CHECK_THROW(Nsf<double>(2, 3, options), osbi::InvalidArgument);
    options = {};
    options.spline.bins = 0;
    BOOST_CHECK_THROW(Nsf<double>(2, 3, options), osbi::InvalidArgument);
    options = {};
    options.spline.tail_bound = -1.0;
    BOOST_CHECK_THROW(Nsf<double>(2, 3, options), osbi::InvalidArgument);
  }

  // n = 0 draws is a no-op; a weighted backward on an empty batch is an error as the unweighted one.
  osbi::Matrix<double, Space> none("none", 0, 2), x_one("x_one", 1, 3), none_x("none_x", 0, 3);
  BOOST_CHECK_NO_THROW(flow.sample(space, x_one, 0, osbi::RandomStream(1).next(), none));
  BOOST_CHECK_THROW(flow.nll_backward(space, none, none_x, osbi::Vector<double, Space>("w", 0), {}, {}),
                    osbi::InvalidArgument);

  // A NaN row gives NaN and leaves the other rows alone.
  std::vector<double> t = normals(8, 71), c = normals(12, 72);
  flow.log_prob(space, device_matrix<double>(t, 4, 2), device_matrix<double>(c, 4, 3), out);
  const std::vector<double> clean = host_values(out);
  t[2 * 1 + 1] = std::numeric_limits<double>::quiet_NaN();
  c[3 * 3 + 0] = std::numeric_limits<double>::quiet_NaN();
  flow.log_prob(space, device_matrix<double>(t, 4, 2), device_matrix<double>(c, 4, 3), out);
  const std::vector<double> dirty = host_values(out);
  BOOST_TEST(std::isnan(dirty[1]));
  BOOST_TEST(std::isnan(dirty[3]));
  BOOST_TEST(dirty[0] == clean[0]);
  BOOST_TEST(dirty[2] == clean[2]);
}

BOOST_AUTO_TEST_CASE(serial_and_openmp_agree_bit_for_bit) {
  constexpr std::size_t d = 3, cdim = 2, rows = 257;
  osbi::ConditionalNSF<float, Kokkos::Serial> serial(d, cdim, small_options(3, 20, test_seed()));
  osbi::ConditionalNSF<float, Kokkos::OpenMP> openmp(d, cdim, small_options(3, 20, test_seed()));
  BOOST_TEST(host_values(serial.parameters()) == host_values(openmp.parameters()));
  for (std::size_t k = 0; k < 3; ++k)
    BOOST_TEST(serial.permutation(k) == openmp.permutation(k));
  const auto theta = device_matrix<float, Kokkos::Serial>(normals(rows * d, 81, 2.0), rows, d);
  const auto x = device_matrix<float, Kokkos::Serial>(normals(rows * cdim, 82), rows, cdim);
  osbi::Vector<float, Kokkos::Serial> out_serial("a", rows), out_openmp("b", rows);
  serial.log_prob(Kokkos::Serial(), theta, x, out_serial);
  openmp.log_prob(Kokkos::OpenMP(), theta, x, out_openmp);
  BOOST_TEST(host_values(out_serial) == host_values(out_openmp));
  serial.zero_gradients(Kokkos::Serial());
  openmp.zero_gradients(Kokkos::OpenMP());
  const double loss_serial = osbi::nll_backward(serial, Kokkos::Serial(), theta, x);
  const double loss_openmp = osbi::nll_backward(openmp, Kokkos::OpenMP(), theta, x);
  Kokkos::fence();
  BOOST_TEST(loss_serial == loss_openmp, boost::test_tools::tolerance(1e-12));
  // Gradients are sums over rows, whose order a backend may choose: equal to float rounding.
  const std::vector<double> g_serial = host_values(serial.gradients()), g_openmp = host_values(openmp.gradients());
  double worst = 0;
  for (std::size_t i = 0; i < g_serial.size(); ++i)
    worst = std::max(worst, std::abs(g_serial[i] - g_openmp[i]) / std::max(1e-3, std::abs(g_serial[i])));
  BOOST_TEST(worst <= 1e-4);
  osbi::Matrix<float, Kokkos::Serial> draws_serial("a", rows, d), draws_openmp("b", rows, d);
  const osbi::BatchRandom rng = osbi::RandomStream(test_seed(), 83).next();
  serial.sample(Kokkos::Serial(), x, rng, draws_serial);
  openmp.sample(Kokkos::OpenMP(), x, rng, draws_openmp);
  Kokkos::fence();
  BOOST_TEST(host_values(draws_serial) == host_values(draws_openmp));
}

BOOST_AUTO_TEST_SUITE_END()
