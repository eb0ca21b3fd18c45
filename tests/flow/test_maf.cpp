// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalMADE and ConditionalMAF: exact gradients (finite differences), the autoregressive property,
/// normalization, sampling against log_prob, a short NPE training run on gaussian_linear, bad input, backends.
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/made.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

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
using Maf = osbi::ConditionalMAF<Scalar, Space>;
using osbi::testing::device_matrix;
using osbi::testing::host_values;
using osbi::testing::normals;
using osbi::testing::test_seed;

static_assert(osbi::ConditionalDensity<osbi::ConditionalMAF<double, Space>>);
static_assert(osbi::ConditionalDensity<osbi::SbiMAF>);

/// Adds N(0, scale²) to every parameter, so that the flow is far from its near-identity initialization.
template <class Flow>
void perturb_parameters(Flow& flow, double scale, std::uint64_t stream) {
  auto parameters = flow.parameters();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  const std::vector<double> noise = normals(host.extent(0), stream, scale);
  for (std::size_t i = 0; i < host.extent(0); ++i)
    host(i) += static_cast<typename Flow::scalar_type>(noise[i]);
  Kokkos::deep_copy(parameters, host);
}

template <class Scalar>
double mean_nll(Maf<Scalar>& flow, const osbi::Matrix<Scalar, Space>& theta, const osbi::Matrix<Scalar, Space>& x) {
  osbi::Vector<Scalar, Space> out("osbi::test::maf::log_prob", theta.extent(0));
  flow.log_prob(Space(), theta, x, out);
  double sum = 0.0;
  for (double value : host_values(out))
    sum -= value;
  return sum / static_cast<double>(theta.extent(0));
}

/// The MADE block as an nn::Layer on the concatenated input [y | c], for the shared gradient checker.
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
        "osbi::test::maf::split", Kokkos::RangePolicy<Space>(space, 0, rows), KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < d; ++j) yv(i, j) = input(i, j);
          for (std::size_t j = 0; j < cdim; ++j) cv(i, j) = input(i, d + j);
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
        "osbi::test::maf::join", Kokkos::RangePolicy<Space>(space, 0, rows), KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < d; ++j) grad_input(i, j) = gy(i, j);
          for (std::size_t j = 0; j < cdim; ++j) grad_input(i, d + j) = gc(i, j);
        });
  }
};
static_assert(osbi::nn::Layer<MadeAsLayer>);

osbi::MAFOptions small_options(std::size_t transforms, std::size_t hidden, std::uint64_t seed) {
  osbi::MAFOptions options;
  options.transforms = transforms;
  options.hidden = hidden;
  options.blocks = 2;
  options.seed = seed;
  return options;
}

} // namespace

BOOST_AUTO_TEST_SUITE(flow_maf)

BOOST_AUTO_TEST_CASE(made_block_gradients_match_finite_differences) {
  // Every input (y and the context) and every parameter of a D = 3, C = 2, H = 7 MADE with 2 blocks, and with 0, 1
  // and 3 (its hidden stack is an nn::Repeat of run-time length).
  for (const std::size_t blocks : {2u, 0u, 1u, 3u}) {
    MadeAsLayer layer{osbi::ConditionalMADE<double, Space>(3, 2, 7, blocks), {}, {}, {}, {}};
    const auto input = device_matrix<double>(normals(4 * 5, 11), 4, 5);
    osbi::testing::GradientCheckOptions options;
    options.seed = test_seed();
    const auto report = osbi::testing::check_gradients(Space(), layer, input, options);
    BOOST_TEST(report.passed(), blocks << " blocks: " << report.summary());
    BOOST_TEST(report.parameters_checked == layer.parameter_count());
    BOOST_TEST(layer.parameter_count() == (3u * 7u + 7u) + (2u * 7u + 7u) + blocks * (7u * 7u + 7u) + (7u * 6u + 6u));
  }
}

BOOST_AUTO_TEST_CASE(each_made_is_autoregressive) {
  // Changing y_i leaves the [scale, shift] outputs of dimensions m <= i bit-for-bit unchanged and
  // changes those of m = i + 1 (the structural Jacobian is strictly lower triangular, and not zero).
  constexpr std::size_t d = 4, cdim = 2, rows = 3;
  Maf<double> flow(d, cdim, small_options(3, 10, test_seed()));
  perturb_parameters(flow, 0.3, 21);
  const std::vector<double> y_values = normals(rows * d, 22), c_values = normals(rows * cdim, 23);
  const auto c = device_matrix<double>(c_values, rows, cdim);
  for (std::size_t k = 0; k < flow.transforms(); ++k) {
    auto& made = flow.made(k);
    const auto base = host_values(made.forward(Space(), device_matrix<double>(y_values, rows, d), c));
    for (std::size_t i = 0; i < d; ++i) {
      std::vector<double> moved = y_values;
      for (std::size_t r = 0; r < rows; ++r)
        moved[r * d + i] += 0.75;
      const auto y = device_matrix<double>(moved, rows, d);
      const auto changed = host_values(made.forward(Space(), y, c));
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t m = 0; m < d; ++m)
          for (std::size_t half = 0; half < 2; ++half) {
            const std::size_t column = r * 2 * d + 2 * m + half;
            if (m <= i)
              BOOST_TEST(changed[column] == base[column], "transform " << k << ": output " << 2 * m + half
                                                                       << " moved with input " << i);
            else if (m == i + 1)
              BOOST_TEST(changed[column] != base[column], "transform " << k << ": output " << 2 * m + half
                                                                       << " ignores input " << i);
          }
    }
  }
}

BOOST_AUTO_TEST_CASE(nll_backward_matches_finite_differences_for_every_parameter) {
  // D = 3, C = 2, 2 transforms of 2 × 8 hidden units (508 parameters, all checked, and every θ and x entry), with
  // a non-trivial standardization and perturbed parameters. The density checker: the loss is the mean of
  // −log_prob (1e-12), gradients accumulate (1e-12), central differences with h = 1e-5·max(1, |p|), error
  // |analytic − numeric| / max(|analytic|, |numeric|, 1e-3) <= 1e-5.
  constexpr std::size_t d = 3, cdim = 2, rows = 6;
  Maf<double> flow(d, cdim, small_options(2, 8, test_seed()));
  flow.set_standardization({0.2, -0.1, 0.4}, {0.5, 1.5, 0.8}, {1.0, -1.0}, {2.0, 0.5});
  perturb_parameters(flow, 0.3, 31);
  const auto theta = device_matrix<double>(normals(rows * d, 32), rows, d);
  const auto x = device_matrix<double>(normals(rows * cdim, 33, 2.0), rows, cdim);
  const auto report = osbi::testing::check_density_gradients(Space(), flow, theta, x);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == 508u);
  BOOST_TEST(report.theta_checked == rows * d);
  BOOST_TEST(report.x_checked == rows * cdim);
  BOOST_TEST(report.loss == mean_nll(flow, theta, x), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(weighted_nll_backward_matches_finite_differences_for_parameters_theta_and_x) {
  // The same flow and batch, L = (1/N) Σ w_i·(−log q_i) with w_i = 0.5 + N(0, 1), w_0 = 0, w_1 < 0; unit weights
  // give the unweighted loss and gradients bit for bit (inside the checker).
  constexpr std::size_t d = 3, cdim = 2, rows = 6;
  Maf<double> flow(d, cdim, small_options(2, 8, test_seed()));
  flow.set_standardization({0.2, -0.1, 0.4}, {0.5, 1.5, 0.8}, {1.0, -1.0}, {2.0, 0.5});
  perturb_parameters(flow, 0.3, 31);
  const auto theta = device_matrix<double>(normals(rows * d, 32), rows, d);
  const auto x = device_matrix<double>(normals(rows * cdim, 33, 2.0), rows, cdim);
  const auto weights = osbi::testing::device_vector<double>(osbi::testing::signed_weights(rows, 34));
  const auto report = osbi::testing::check_density_gradients(Space(), flow, theta, x, weights);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == 508u);
  BOOST_TEST(report.theta_checked + report.x_checked == rows * (d + cdim));
}

namespace {

/// A 2-D flow (C = 1) with perturbed parameters and a non-trivial θ standardization.
Maf<double> two_dimensional_flow() {
  Maf<double> flow(2, 1, small_options(3, 16, test_seed()));
  flow.set_standardization({0.3, -0.2}, {0.15, 0.25}, {0.0}, {1.0});
  perturb_parameters(flow, 0.1, 41);
  return flow;
}

/// exp(log_prob)·cell area at the midpoints of a cells × cells grid over [low, high]², context 0.7,
/// evaluated in chunks of whole grid rows (the flow's buffers stay small).
std::vector<double> density_grid(Maf<double>& flow, double low, double high, std::size_t cells) {
  const double step = (high - low) / static_cast<double>(cells);
  const std::size_t rows_per_chunk = std::max<std::size_t>(1, 20000 / cells), chunk = rows_per_chunk * cells;
  osbi::Matrix<double, Space> theta("osbi::test::maf::grid_theta", chunk, 2);
  const auto x = device_matrix<double>(std::vector<double>(chunk, 0.7), chunk, 1);
  osbi::Vector<double, Space> out("osbi::test::maf::grid", chunk);
  auto theta_host = Kokkos::create_mirror_view(theta);
  auto out_host = Kokkos::create_mirror_view(out);
  std::vector<double> density(cells * cells);
  for (std::size_t a0 = 0; a0 < cells; a0 += rows_per_chunk) {
    const std::size_t a1 = std::min(cells, a0 + rows_per_chunk), count = (a1 - a0) * cells;
    for (std::size_t a = a0; a < a1; ++a)
      for (std::size_t b = 0; b < cells; ++b) {
        theta_host((a - a0) * cells + b, 0) = low + (static_cast<double>(a) + 0.5) * step;
        theta_host((a - a0) * cells + b, 1) = low + (static_cast<double>(b) + 0.5) * step;
      }
    Kokkos::deep_copy(theta, theta_host);
    const auto rows = std::make_pair(std::size_t{0}, count);
    flow.log_prob(Space(), Kokkos::subview(theta, rows, Kokkos::ALL), Kokkos::subview(x, rows, Kokkos::ALL),
                  Kokkos::subview(out, rows));
    Kokkos::deep_copy(out_host, out);
    for (std::size_t i = 0; i < count; ++i)
      density[a0 * cells + i] = std::exp(out_host(i)) * step * step;
  }
  return density;
}

} // namespace

BOOST_AUTO_TEST_CASE(log_prob_integrates_to_one_in_two_dimensions) {
  // Midpoint rule on a 700 × 700 grid over [−5, 5]² (θ_std <= 0.25, and the random-init transforms
  // widen by about 1/0.69 each, so the box spans more than 5 standard deviations of q):
  // |∫∫ q − 1| <= 2e-3.
  Maf<double> flow = two_dimensional_flow();
  constexpr std::size_t grid = 700;
  const double low = -5.0, high = 5.0, step = (high - low) / grid;
  const std::vector<double> cells = density_grid(flow, low, high, grid);
  double total = 0.0;
  for (double value : cells)
    total += value;
  BOOST_TEST_MESSAGE("integral " << std::setprecision(10) << total);
  BOOST_TEST(std::abs(total - 1.0) <= 2e-3, "∫∫ exp(log_prob) = " << total);
  // The flow is far from the Gaussian of its standardization alone: total variation distance > 0.1.
  double variation = 0.0;
  for (std::size_t a = 0; a < grid; ++a)
    for (std::size_t b = 0; b < grid; ++b) {
      const double u = (low + (a + 0.5) * step - 0.3) / 0.15, v = (low + (b + 0.5) * step + 0.2) / 0.25;
      const double gaussian = std::exp(-0.5 * (u * u + v * v)) / (2 * M_PI * 0.15 * 0.25) * step * step;
      variation += 0.5 * std::abs(cells[a * grid + b] - gaussian);
    }
  BOOST_TEST_MESSAGE("total variation from the standardization Gaussian " << variation);
  BOOST_TEST(variation > 0.1);
}

BOOST_AUTO_TEST_CASE(samples_follow_log_prob_and_invert_exactly) {
  Maf<double> flow = two_dimensional_flow();
  constexpr std::size_t n = 100000;
  const std::vector<double> context{0.7};
  const auto x_one = device_matrix<double>(context, 1, 1);
  osbi::Matrix<double, Space> theta("osbi::test::maf::samples", n, 2);
  const osbi::BatchRandom rng = osbi::RandomStream(test_seed(), 51).next();
  flow.sample(Space(), x_one, n, rng, theta);
  const std::vector<double> samples = host_values(theta);
  {
    std::size_t outside = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (std::abs(samples[2 * i]) > 5 || std::abs(samples[2 * i + 1]) > 5) ++outside;
    BOOST_TEST_MESSAGE("samples outside [-5, 5]^2: " << outside);
  }

  // Round trip: to_base(sample) recovers the base draws of rng.row(i) (two normals in column order).
  {
    constexpr std::size_t check = 2000;
    auto first = Kokkos::subview(theta, std::make_pair(std::size_t{0}, check), Kokkos::ALL);
    osbi::Matrix<double, Space> copy("copy", check, 2), z("z", check, 2);
    Kokkos::deep_copy(copy, first);
    const auto x = device_matrix<double>(std::vector<double>(check, 0.7), check, 1);
    flow.to_base(Space(), copy, x, z);
    const std::vector<double> base = host_values(z);
    double worst = 0.0;
    for (std::size_t i = 0; i < check; ++i) {
      osbi::RowRandom generator = rng.row(i);
      for (std::size_t j = 0; j < 2; ++j)
        worst = std::max(worst, std::abs(base[2 * i + j] - generator.normal()));
    }
    BOOST_TEST(worst <= 1e-9, "max |to_base(sample) − u| = " << worst);
  }

  // Chi-square of a 10 × 10 histogram over [−3, 3]² plus one bin for the rest, against
  // ∫ exp(log_prob) per bin (midpoint rule, 40 × 40 points per bin). False-failure probability 1e-9
  // (Wilson–Hilferty quantile of χ²₁₀₀); the quadrature error (< 1e-4 relative) is far below the
  // Poisson noise.
  constexpr std::size_t bins = 10, per_bin = 40;
  const double low = -3.0, high = 3.0, width = (high - low) / bins;
  const std::vector<double> fine = density_grid(flow, low, high, bins * per_bin);
  std::vector<double> expected(bins * bins + 1, 0.0), observed(bins * bins + 1, 0.0);
  for (std::size_t a = 0; a < bins * per_bin; ++a)
    for (std::size_t b = 0; b < bins * per_bin; ++b)
      expected[(a / per_bin) * bins + b / per_bin] += fine[a * bins * per_bin + b];
  double inside = 0.0;
  for (std::size_t k = 0; k < bins * bins; ++k)
    inside += expected[k];
  expected[bins * bins] = 1.0 - inside;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = samples[2 * i], v = samples[2 * i + 1];
    if (u >= low && u < high && v >= low && v < high)
      observed[static_cast<std::size_t>((u - low) / width) * bins + static_cast<std::size_t>((v - low) / width)] += 1;
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

BOOST_AUTO_TEST_CASE(short_training_recovers_the_gaussian_linear_posterior) {
  // θ ~ N(0, 0.1 I₂), x = θ + N(0, 0.1 I₂): the posterior is N(x/2, 0.05 I₂). sbi's default flow
  // (5 transforms, 2 × 50) in float, z-scored from the data, Adam (lr 5e-4 → 2e-3 here for a short
  // run) with gradient clipping at 5, batch 200, 4000 pairs.
  constexpr std::size_t d = 2, train = 4000, valid = 2000, batch = 200, epochs = 40;
  const std::vector<double> prior = normals((train + valid) * d, 61, std::sqrt(0.1));
  const std::vector<double> noise = normals((train + valid) * d, 62, std::sqrt(0.1));
  std::vector<double> data_x(prior.size());
  for (std::size_t i = 0; i < prior.size(); ++i)
    data_x[i] = prior[i] + noise[i];
  auto flow = osbi::sbi_default_maf<float, Space>(d, d, test_seed());
  {
    std::vector<double> t_mean(d, 0.0), t_std(d, 0.0), x_mean(d, 0.0), x_std(d, 0.0);
    for (std::size_t i = 0; i < train; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        t_mean[j] += prior[i * d + j] / train;
        x_mean[j] += data_x[i * d + j] / train;
      }
    for (std::size_t i = 0; i < train; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        t_std[j] += std::pow(prior[i * d + j] - t_mean[j], 2) / (train - 1);
        x_std[j] += std::pow(data_x[i * d + j] - x_mean[j], 2) / (train - 1);
      }
    for (std::size_t j = 0; j < d; ++j) {
      t_std[j] = std::sqrt(t_std[j]);
      x_std[j] = std::sqrt(x_std[j]);
    }
    flow.set_standardization(t_mean, t_std, x_mean, x_std);
  }
  const auto theta_all = device_matrix<float>(prior, train + valid, d);
  const auto x_all = device_matrix<float>(data_x, train + valid, d);
  osbi::optim::AdamOptions<> adam_options;
  adam_options.learning_rate = 2e-3;
  osbi::optim::Adam<float, Space> adam(flow.parameter_count(), adam_options);
  const Space space;
  const auto start = std::chrono::steady_clock::now();
  std::size_t steps = 0;
  for (std::size_t epoch = 0; epoch < epochs; ++epoch)
    for (std::size_t first = 0; first + batch <= train; first += batch) {
      // A fixed rotation of the batches through the data is enough for this well-conditioned task.
      const std::size_t offset = (first + epoch * 37 * batch / 10) % (train - batch + 1);
      const auto rows = std::make_pair(offset, offset + batch);
      const osbi::ConstMatrix<float, Space> theta = Kokkos::subview(theta_all, rows, Kokkos::ALL);
      const osbi::ConstMatrix<float, Space> x = Kokkos::subview(x_all, rows, Kokkos::ALL);
      flow.zero_gradients(space);
      osbi::nll_backward(flow, space, theta, x);
      osbi::optim::clip_gradient_norm(space, flow.gradients(), 5.0);
      adam.step(space, flow.parameters(), flow.gradients());
      ++steps;
    }
  space.fence();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE("training: " << steps << " steps of " << batch << " in " << seconds << " s = "
                                  << static_cast<double>(steps * batch) / seconds << " samples/s");

  // Validation NLL against the analytic posterior's on the same held-out pairs (paired difference:
  // the KL from the true posterior, averaged over x). Margin 0.06 nats.
  const auto valid_rows = std::make_pair(train, train + valid);
  const osbi::Matrix<float, Space> theta_valid = Kokkos::subview(theta_all, valid_rows, Kokkos::ALL);
  const osbi::Matrix<float, Space> x_valid = Kokkos::subview(x_all, valid_rows, Kokkos::ALL);
  const double model_nll = mean_nll(flow, theta_valid, x_valid);
  double true_nll = 0.0;
  for (std::size_t i = train; i < train + valid; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const double r = prior[i * d + j] - 0.5 * data_x[i * d + j];
      true_nll += (0.5 * std::log(2 * M_PI * 0.05) + r * r / (2 * 0.05)) / valid;
    }
  BOOST_TEST_MESSAGE("validation NLL " << model_nll << ", analytic posterior " << true_nll);
  BOOST_TEST(model_nll - true_nll <= 0.06, "validation NLL " << model_nll << " vs analytic " << true_nll);

  // Posterior samples at x₀ = (0.3, −0.2): mean x₀/2 within 0.05, covariance 0.05·I within 0.02 per
  // entry (sampling error of 20000 draws: 0.0016 on the mean, 0.0005 on the covariance; the rest is
  // the estimation error of 4000 pairs and 40 epochs, up to 0.035 and 0.013 over seeds 1–10).
  constexpr std::size_t n = 20000;
  const auto x0 = device_matrix<float>({0.3, -0.2}, 1, 2);
  osbi::Matrix<float, Space> draws("draws", n, d);
  flow.sample(space, x0, n, osbi::RandomStream(test_seed(), 63).next(), draws);
  const std::vector<double> s = host_values(draws);
  double mean[2] = {0, 0}, cov[2][2] = {{0, 0}, {0, 0}};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      mean[j] += s[i * d + j] / n;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < d; ++a)
      for (std::size_t b = 0; b < d; ++b)
        cov[a][b] += (s[i * d + a] - mean[a]) * (s[i * d + b] - mean[b]) / (n - 1);
  BOOST_TEST_MESSAGE("posterior mean " << mean[0] << ", " << mean[1] << "; cov " << cov[0][0] << ", " << cov[0][1]
                                       << ", " << cov[1][1]);
  BOOST_TEST(std::abs(mean[0] - 0.15) <= 0.05);
  BOOST_TEST(std::abs(mean[1] + 0.10) <= 0.05);
  BOOST_TEST(std::abs(cov[0][0] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[1][1] - 0.05) <= 0.02);
  BOOST_TEST(std::abs(cov[0][1]) <= 0.02);
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_and_nan_rows_give_nan) {
  Maf<double> flow(2, 3, small_options(2, 8, test_seed()));
  const Space space;
  osbi::Matrix<double, Space> theta("theta", 4, 2), theta_wide("theta_wide", 4, 5), x("x", 4, 3), x_narrow("x", 4, 1);
  osbi::Vector<double, Space> out("out", 4), out_short("out", 3);
  auto names_both = [](const std::string& expected_a, const std::string& expected_b) {
    return [=](const osbi::DimensionMismatch& error) {
      const std::string what = error.what();
      return what.find(expected_a) != std::string::npos && what.find(expected_b) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta_wide, x, out), osbi::DimensionMismatch, names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta, x_narrow, out), osbi::DimensionMismatch, names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.log_prob(space, theta, x, out_short), osbi::DimensionMismatch, names_both("has 3", "expected 4"));
  BOOST_CHECK_EXCEPTION(osbi::nll_backward(flow, space, theta_wide, x), osbi::DimensionMismatch, names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, out_short, {}, {}), osbi::DimensionMismatch,
                        names_both("has 3", "expected 4"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, {}, theta_wide, {}), osbi::DimensionMismatch,
                        names_both("has 5", "expected 2"));
  BOOST_CHECK_EXCEPTION(flow.nll_backward(space, theta, x, {}, {}, x_narrow), osbi::DimensionMismatch,
                        names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.sample(space, x_narrow, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch,
                        names_both("has 1", "expected 3"));
  BOOST_CHECK_EXCEPTION(flow.sample(space, x, 3, osbi::RandomStream(1).next(), theta), osbi::DimensionMismatch,
                        names_both("has 4", "expected 1"));
  BOOST_CHECK_THROW(flow.set_standardization({0, 0}, {1, 0}, {0, 0, 0}, {1, 1, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(flow.set_standardization({0}, {1}, {0, 0, 0}, {1, 1, 1}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(osbi::nll_backward(flow, space, osbi::Matrix<double, Space>("e", 0, 2), osbi::Matrix<double, Space>("e", 0, 3)),
                    osbi::InvalidArgument);
  BOOST_CHECK_THROW(Maf<double>(0, 3), osbi::InvalidArgument);

  // n = 0 draws is a documented no-op.
  osbi::Matrix<double, Space> none("none", 0, 2), x_one("x_one", 1, 3);
  BOOST_CHECK_NO_THROW(flow.sample(space, x_one, 0, osbi::RandomStream(1).next(), none));

  // A NaN row gives NaN and leaves the other rows as they are alone.
  std::vector<double> t = normals(8, 71), c = normals(12, 72);
  const auto theta_clean = device_matrix<double>(t, 4, 2);
  const auto x_values = device_matrix<double>(c, 4, 3);
  flow.log_prob(space, theta_clean, x_values, out);
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
  osbi::ConditionalMAF<float, Kokkos::Serial> serial(d, cdim, small_options(3, 20, test_seed()));
  osbi::ConditionalMAF<float, Kokkos::OpenMP> openmp(d, cdim, small_options(3, 20, test_seed()));
  BOOST_TEST(host_values(serial.parameters()) == host_values(openmp.parameters()));
  for (std::size_t k = 0; k < 3; ++k)
    BOOST_TEST(serial.permutation(k) == openmp.permutation(k));
  const auto theta = device_matrix<float, Kokkos::Serial>(normals(rows * d, 81), rows, d);
  const auto x = device_matrix<float, Kokkos::Serial>(normals(rows * cdim, 82), rows, cdim);
  osbi::Vector<float, Kokkos::Serial> out_serial("a", rows), out_openmp("b", rows);
  serial.log_prob(Kokkos::Serial(), theta, x, out_serial);
  openmp.log_prob(Kokkos::OpenMP(), theta, x, out_openmp);
  BOOST_TEST(host_values(out_serial) == host_values(out_openmp));
  osbi::Matrix<float, Kokkos::Serial> draws_serial("a", rows, d), draws_openmp("b", rows, d);
  const osbi::BatchRandom rng = osbi::RandomStream(test_seed(), 83).next();
  serial.sample(Kokkos::Serial(), x, rng, draws_serial);
  openmp.sample(Kokkos::OpenMP(), x, rng, draws_openmp);
  Kokkos::fence();
  BOOST_TEST(host_values(draws_serial) == host_values(draws_openmp));
}

BOOST_AUTO_TEST_SUITE_END()
