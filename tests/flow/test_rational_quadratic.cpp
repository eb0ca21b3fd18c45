// SPDX-License-Identifier: BSD-3-Clause
/// \brief RationalQuadraticSpline: against a literal double port of nflows, monotonic with identity tails,
/// inverse(forward(x)) = x, log|det| against finite differences, backward through the generic checker, bad input.
#include <osbi/flow/rational_quadratic.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/backends.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using osbi::testing::host_values;
using osbi::testing::normals;
using osbi::testing::test_seed;

constexpr std::size_t bins = 10;
constexpr std::size_t count = 3 * bins - 1;
constexpr double bound = 3.0;

template <class Scalar>
osbi::Matrix<Scalar, Space> device_matrix(const std::vector<double>& values, std::size_t rows, std::size_t columns) {
  osbi::Matrix<Scalar, Space> device("osbi::test::rq::matrix", rows, columns);
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < columns; ++c)
      host(r, c) = static_cast<Scalar>(values[r * columns + c]);
  Kokkos::deep_copy(device, host);
  return device;
}

/*
 * The serial double reference: nflows' unconstrained_rational_quadratic_spline (tails = "linear")
 * transcribed literally — softmax, cumsum, padded knots, searchsorted with the +1e-6 on the last knot,
 * and the padded boundary logit log(e^{1 − m_d} − 1).
 */
struct Reference {
  std::vector<double> cumwidths, cumheights, derivatives;

  Reference(const double* u, double logit_scale = 1.0) {
    auto knots = [&](const double* logits) {
      std::vector<double> p(bins);
      double max = -std::numeric_limits<double>::infinity(), sum = 0;
      for (std::size_t k = 0; k < bins; ++k)
        max = std::max(max, logit_scale * logits[k]);
      for (std::size_t k = 0; k < bins; ++k)
        sum += p[k] = std::exp(logit_scale * logits[k] - max);
      std::vector<double> cum(bins + 1, 0.0);
      for (std::size_t k = 0; k < bins; ++k)
        cum[k + 1] = cum[k] + 1e-3 + (1 - 1e-3 * bins) * p[k] / sum;
      for (auto& value : cum)
        value = 2 * bound * value - bound;
      cum[0] = -bound;
      cum[bins] = bound;
      return cum;
    };
    cumwidths = knots(u);
    cumheights = knots(u + bins);
    const double constant = std::log(std::exp(1 - 1e-3) - 1);
    auto softplus = [](double a) { return std::log1p(std::exp(-std::abs(a))) + std::max(a, 0.0); };
    derivatives.push_back(1e-3 + softplus(constant));
    for (std::size_t k = 0; k + 1 < bins; ++k)
      derivatives.push_back(1e-3 + softplus(u[2 * bins + k]));
    derivatives.push_back(1e-3 + softplus(constant));
  }

  std::pair<double, double> forward(double x) const {
    if (x < -bound || x > bound) return {x, 0.0};
    std::size_t b = 0;
    for (std::size_t k = 0; k <= bins; ++k)
      b += x >= cumwidths[k] + (k == bins ? 1e-6 : 0.0);
    b -= 1;
    const double w = cumwidths[b + 1] - cumwidths[b], h = cumheights[b + 1] - cumheights[b], delta = h / w;
    const double d0 = derivatives[b], d1 = derivatives[b + 1];
    const double theta = (x - cumwidths[b]) / w, t = theta * (1 - theta);
    const double numerator = h * (delta * theta * theta + d0 * t);
    const double denominator = delta + (d0 + d1 - 2 * delta) * t;
    const double slope = delta * delta * (d1 * theta * theta + 2 * delta * t + d0 * (1 - theta) * (1 - theta));
    return {cumheights[b] + numerator / denominator, std::log(slope) - 2 * std::log(denominator)};
  }

  /// Distance from x to the nearest interior knot or tail bound.
  double distance_to_knot(double x) const {
    double distance = std::numeric_limits<double>::infinity();
    for (double knot : cumwidths)
      distance = std::min(distance, std::abs(x - knot));
    return distance;
  }
};

/// rows sets of 3K − 1 parameters ~ N(0, scale²), and for each set `points` inputs, on an N × 1 batch.
struct Batch {
  std::vector<double> parameters, x; // (rows·points) × (3K − 1) and rows·points
  std::size_t rows, points;
};

Batch make_batch(std::size_t rows, std::size_t points, double scale, std::uint64_t stream,
                 const std::vector<double>& grid = {}) {
  Batch batch{{}, {}, rows, points};
  const std::vector<double> sets = normals(rows * count, stream, scale);
  const std::vector<double> random = normals(rows * points, stream + 1, 2.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t p = 0; p < points; ++p) {
      batch.parameters.insert(batch.parameters.end(), sets.begin() + r * count, sets.begin() + (r + 1) * count);
      batch.x.push_back(grid.empty() ? random[r * points + p] : grid[p]);
    }
  return batch;
}

template <class Scalar>
std::pair<std::vector<double>, std::vector<double>> run_forward(const osbi::RationalQuadraticSpline<Scalar>& spline,
                                                                const Batch& batch) {
  const std::size_t n = batch.x.size();
  const auto x = device_matrix<Scalar>(batch.x, n, 1);
  const auto parameters = device_matrix<Scalar>(batch.parameters, n, count);
  osbi::Matrix<Scalar, Space> y("y", n, 1), log_det("log_det", n, 1);
  osbi::rational_quadratic_forward(Space(), spline, x, parameters, y, log_det);
  return {host_values(y), host_values(log_det)};
}

template <class Scalar>
std::pair<std::vector<double>, std::vector<double>> run_inverse(const osbi::RationalQuadraticSpline<Scalar>& spline,
                                                                const Batch& batch,
                                                                const std::vector<double>& y_values) {
  const std::size_t n = batch.x.size();
  const auto y = device_matrix<Scalar>(y_values, n, 1);
  const auto parameters = device_matrix<Scalar>(batch.parameters, n, count);
  osbi::Matrix<Scalar, Space> x("x", n, 1), log_det("log_det", n, 1);
  osbi::rational_quadratic_inverse(Space(), spline, y, parameters, x, log_det);
  return {host_values(x), host_values(log_det)};
}

std::vector<double> uniform_grid(double low, double high, std::size_t points) {
  std::vector<double> grid(points);
  for (std::size_t p = 0; p < points; ++p)
    grid[p] = low + (high - low) * static_cast<double>(p) / static_cast<double>(points - 1);
  return grid;
}

/// The spline as an nn::Layer on [x (D) | parameters (D·(3K − 1))] → [y (D) | log|det| (D)], no
/// parameters of its own: the generic checker then differentiates x and every spline parameter.
struct SplineAsLayer {
  using scalar_type = double;
  using execution_space = Space;
  osbi::RationalQuadraticSpline<double> spline;
  std::size_t dim;
  osbi::ConstMatrix<double, Space> input;

  std::size_t input_dim() const { return dim * (1 + count); }
  std::size_t output_dim() const { return 2 * dim; }
  std::size_t parameter_count() const { return 0; }
  void bind(const osbi::Vector<double, Space>&, const osbi::Vector<double, Space>&) {}
  void initialize(const Space&, osbi::BatchRandom) {}
  void forward(const Space& space, const osbi::ConstMatrix<double, Space>& in, const osbi::Matrix<double, Space>& out) {
    input = in;
    const auto s = spline;
    const std::size_t d = dim;
    Kokkos::parallel_for(
        "osbi::test::rq::forward", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {in.extent(0), d}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          const auto result = s.forward(in(i, j), &in(i, d + count * j));
          out(i, j) = result.value;
          out(i, d + j) = result.log_det;
        });
  }
  void backward(const Space& space, const osbi::ConstMatrix<double, Space>& grad_output,
                const osbi::Matrix<double, Space>& grad_input) {
    if (grad_input.data() == nullptr) return;
    const auto s = spline;
    const auto in = input;
    const std::size_t d = dim;
    Kokkos::parallel_for(
        "osbi::test::rq::backward", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {in.extent(0), d}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          grad_input(i, j) = s.backward(in(i, j), &in(i, d + count * j), grad_output(i, j), grad_output(i, d + j),
                                        &grad_input(i, d + count * j));
        });
  }
};
static_assert(osbi::nn::Layer<SplineAsLayer>);

} // namespace

BOOST_AUTO_TEST_SUITE(flow_rational_quadratic)

BOOST_AUTO_TEST_CASE(matches_a_literal_port_of_nflows) {
  // 16 parameter sets ~ N(0, 1.5²), 64 inputs each ~ N(0, 2²) (about 13 % in the tails), logit scale 1
  // and 1/√50: double within 1e-12 of the reference (y) and 1e-10 (log|det|); float within
  // 1e-5·max(1, slope) (knots rounded at a few ulps of 3, moved along the curve by the slope) and 2e-3.
  const Batch batch = make_batch(16, 64, 1.5, 101);
  for (double logit_scale : {1.0, 1.0 / std::sqrt(50.0)}) {
    const osbi::RationalQuadraticSpline<double> spline_d({}, logit_scale);
    const osbi::RationalQuadraticSpline<float> spline_f({}, logit_scale);
    const auto [y_d, l_d] = run_forward(spline_d, batch);
    const auto [y_f, l_f] = run_forward(spline_f, batch);
    double worst_y = 0, worst_l = 0, worst_y_f = 0, worst_l_f = 0;
    for (std::size_t i = 0; i < batch.x.size(); ++i) {
      const Reference reference(&batch.parameters[i * count], logit_scale);
      const auto [y, l] = reference.forward(batch.x[i]);
      worst_y = std::max(worst_y, std::abs(y_d[i] - y));
      worst_l = std::max(worst_l, std::abs(l_d[i] - l));
      worst_y_f = std::max(worst_y_f, std::abs(y_f[i] - y) / std::max(1.0, std::exp(l)));
      worst_l_f = std::max(worst_l_f, std::abs(l_f[i] - l));
    }
    BOOST_TEST_MESSAGE("logit scale " << logit_scale << ": double " << worst_y << ", " << worst_l << "; float "
                                      << worst_y_f << ", " << worst_l_f);
    BOOST_TEST(worst_y <= 1e-12);
    BOOST_TEST(worst_l <= 1e-10);
    BOOST_TEST(worst_y_f <= 1e-5);
    BOOST_TEST(worst_l_f <= 2e-3);
  }
  // The padded boundary logit gives unit end slopes.
  BOOST_TEST(1e-3 + std::log1p(std::exp(osbi::boundary_unnormalized_derivative(1e-3))) == 1.0,
             boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(monotonic_continuous_and_the_identity_outside_the_bound) {
  // 20 parameter sets ~ N(0, 2²) on a 4001-point grid over [−4.5, 4.5] (the tail bounds ±3 are grid
  // points): y strictly increasing (non-decreasing in float), y(±3) = ±3 and log|det|(±3) = 0 (the spline
  // meets the identity tails with slope 1), exactly y = x and log|det| = 0 outside, y in [−3, 3] inside.
  const std::vector<double> grid = uniform_grid(-4.5, 4.5, 4001);
  const Batch batch = make_batch(20, grid.size(), 2.0, 111, grid);
  const osbi::RationalQuadraticSpline<double> spline_d;
  const osbi::RationalQuadraticSpline<float> spline_f;
  const auto [y, l] = run_forward(spline_d, batch);
  const auto [y_f, l_f] = run_forward(spline_f, batch);
  std::size_t decreasing = 0, decreasing_f = 0, tail_errors = 0, not_finite = 0, outside_range = 0;
  double boundary = 0;
  for (std::size_t r = 0; r < batch.rows; ++r)
    for (std::size_t p = 0; p < grid.size(); ++p) {
      const std::size_t i = r * grid.size() + p;
      if (p > 0 && !(y[i] > y[i - 1])) ++decreasing;
      if (p > 0 && !(y_f[i] >= y_f[i - 1])) ++decreasing_f;
      if (!std::isfinite(l[i]) || !std::isfinite(l_f[i])) ++not_finite;
      if (std::abs(grid[p]) > bound) {
        if (y[i] != grid[p] || l[i] != 0.0 || y_f[i] != static_cast<float>(grid[p]) || l_f[i] != 0.0) ++tail_errors;
      } else if (std::abs(y[i]) > bound) {
        ++outside_range;
      }
      if (std::abs(grid[p]) == bound) boundary = std::max({boundary, std::abs(y[i] - grid[p]), std::abs(l[i])});
    }
  BOOST_TEST(decreasing == 0u);
  BOOST_TEST(decreasing_f == 0u);
  BOOST_TEST(not_finite == 0u);
  BOOST_TEST(tail_errors == 0u);
  BOOST_TEST(outside_range == 0u);
  BOOST_TEST(boundary <= 1e-12, "max |y(±B) ∓ B|, |log|det|(±B)| = " << boundary);
}

BOOST_AUTO_TEST_CASE(slopes_at_the_knots_are_the_derivative_parameters) {
  // At every knot X_k the slope exp(log|det|) is d_k = 10⁻³ + softplus(u_d,k−1) (1 at both ends), to 1e-9.
  const Batch batch = make_batch(8, 1, 1.0, 121);
  std::vector<double> x, parameters, expected;
  for (std::size_t r = 0; r < batch.rows; ++r) {
    const Reference reference(&batch.parameters[r * count]);
    for (std::size_t k = 0; k <= bins; ++k) {
      x.push_back(reference.cumwidths[k]);
      parameters.insert(parameters.end(), batch.parameters.begin() + r * count,
                        batch.parameters.begin() + (r + 1) * count);
      expected.push_back(reference.derivatives[k]);
    }
  }
  const Batch knots{parameters, x, x.size(), 1};
  const auto [y, l] = run_forward(osbi::RationalQuadraticSpline<double>(), knots);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(std::exp(l[i]) - expected[i]) / expected[i]);
  BOOST_TEST(worst <= 1e-9, "worst relative slope error at a knot " << worst);
}

BOOST_AUTO_TEST_CASE(inverse_undoes_forward_inside_and_in_the_tails) {
  // 32 parameter sets, 256 points each ~ N(0, 2²) (about 1 100 in the tails) plus the exact bounds ±3.
  // In ConditionalNSF's regime — logit scale 1/√50, parameters ~ N(0, 1) — |inverse(forward(x)) − x| <=
  // 1e-12 (double), 1e-5 (float), and the inverse's log|det| is minus the forward's to 1e-10 (double), 1e-4
  // (float). The bare spline (scale 1) with parameters ~ N(0, 0.5²) and ~ N(0, 1) has smaller slopes (down
  // to 1e-4 for N(0, 1)), where no inverse can be closer than ulp(y)/slope: there the backward error
  // |x' − x|·min(1, slope) must stay within a few ulps of |y| <= 3 — 4e-15 (double), 2e-6 (float) — with
  // |x' − x| <= 1e-12 (double), 1e-4 (float) for N(0, 0.5²), and the float log|det| (whose x-derivative is
  // large where the slope is tiny) within 5e-3 for N(0, 1).
  auto check = [](const auto& spline, const Batch& batch, double x_tolerance, double conditioned_tolerance,
                  double log_det_tolerance) {
    const auto [y, l] = run_forward(spline, batch);
    const auto [x, l_inverse] = run_inverse(spline, batch, y);
    double worst_x = 0, worst_conditioned = 0, worst_l = 0;
    std::size_t tails = 0;
    for (std::size_t i = 0; i < batch.x.size(); ++i) {
      const double error = std::abs(x[i] - batch.x[i]);
      worst_x = std::max(worst_x, error);
      worst_conditioned = std::max(worst_conditioned, error * std::min(1.0, std::exp(l[i])));
      worst_l = std::max(worst_l, std::abs(l_inverse[i] + l[i]));
      tails += std::abs(batch.x[i]) > bound;
    }
    BOOST_TEST_MESSAGE("round trip: " << worst_x << ", times the slope " << worst_conditioned << ", log|det| "
                                      << worst_l << " (" << tails << " tail points)");
    BOOST_TEST(tails > 100u);
    BOOST_TEST(worst_x <= x_tolerance);
    BOOST_TEST(worst_conditioned <= conditioned_tolerance);
    BOOST_TEST(worst_l <= log_det_tolerance);
  };
  auto with_bounds = [](Batch batch) {
    for (std::size_t r = 0; r < 2; ++r) {
      batch.x[r * batch.points] = r == 0 ? -bound : bound;
      batch.x[r * batch.points + 1] = r == 0 ? bound : -bound;
    }
    return batch;
  };
  const double nsf_scale = 1.0 / std::sqrt(50.0), infinity = std::numeric_limits<double>::infinity();
  const Batch moderate = with_bounds(make_batch(32, 256, 0.5, 131)),
              spread = with_bounds(make_batch(32, 256, 1.0, 133));
  using SplineD = osbi::RationalQuadraticSpline<double>;
  using SplineF = osbi::RationalQuadraticSpline<float>;
  check(SplineD({}, nsf_scale), spread, 1e-12, 4e-15, 1e-10);
  check(SplineF({}, nsf_scale), spread, 1e-5, 2e-6, 1e-4);
  check(SplineD(), moderate, 1e-12, 4e-15, 1e-10);
  check(SplineF(), moderate, 1e-4, 2e-6, 1e-4);
  check(SplineD(), spread, infinity, 4e-15, 1e-10);
  check(SplineF(), spread, infinity, 2e-6, 5e-3);
}

BOOST_AUTO_TEST_CASE(log_det_matches_finite_differences_of_forward) {
  // 16 parameter sets ~ N(0, 1.5²), 128 inside points each at least 1e-3 from every knot: central
  // differences with h = 1e-6, error |exp(log|det|) − numeric| / max(numeric, 1e-2) <= 1e-5 (the rounding
  // error 3e-16/h = 3e-10 of the numeric slope is 3e-8 of the floor; the truncation h²·f'''/6 is smaller).
  Batch batch = make_batch(16, 128, 1.5, 141);
  osbi::RowRandom generator = osbi::RandomStream(test_seed(), 142).next().row(0);
  for (std::size_t i = 0; i < batch.x.size(); ++i) {
    const Reference reference(&batch.parameters[i * count]);
    do
      batch.x[i] = generator.uniform(-bound, bound);
    while (reference.distance_to_knot(batch.x[i]) < 1e-3);
  }
  const double h = 1e-6;
  Batch plus = batch, minus = batch;
  for (std::size_t i = 0; i < batch.x.size(); ++i) {
    plus.x[i] += h;
    minus.x[i] -= h;
  }
  const osbi::RationalQuadraticSpline<double> spline;
  const auto [y, l] = run_forward(spline, batch);
  const auto y_plus = run_forward(spline, plus).first, y_minus = run_forward(spline, minus).first;
  double worst = 0;
  for (std::size_t i = 0; i < batch.x.size(); ++i) {
    const double numeric = (y_plus[i] - y_minus[i]) / (2 * h);
    worst = std::max(worst, std::abs(std::exp(l[i]) - numeric) / std::max(numeric, 1e-2));
  }
  BOOST_TEST(worst <= 1e-5, "worst relative error of exp(log|det|) against central differences " << worst);
}

BOOST_AUTO_TEST_CASE(backward_matches_finite_differences_for_input_and_every_parameter) {
  // The generic checker on [x | 3K − 1 parameters] → [y | log|det|], D = 2, 40 rows (2 400 entries):
  // parameters ~ N(0, 1.5²), x ~ N(0, 2²) (some in the tails) kept 1e-3 away from every knot and from
  // ±3, where y'' and the slope of log|det| jump; logit scale 1/√7 so that the scale's chain counts.
  constexpr std::size_t rows = 40, dim = 2;
  const double logit_scale = 1.0 / std::sqrt(7.0);
  const std::vector<double> parameters = normals(rows * dim * count, 151, 1.5);
  osbi::RowRandom generator = osbi::RandomStream(test_seed(), 152).next().row(0);
  std::vector<double> input;
  std::size_t tails = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    std::vector<double> x(dim);
    for (std::size_t j = 0; j < dim; ++j) {
      const Reference reference(&parameters[(i * dim + j) * count], logit_scale);
      do
        x[j] = 2.0 * generator.normal();
      while (reference.distance_to_knot(x[j]) < 1e-3);
      tails += std::abs(x[j]) > bound;
    }
    input.insert(input.end(), x.begin(), x.end());
    input.insert(input.end(), parameters.begin() + i * dim * count, parameters.begin() + (i + 1) * dim * count);
  }
  BOOST_TEST(tails > 0u);
  SplineAsLayer layer{osbi::RationalQuadraticSpline<double>({}, logit_scale), dim, {}};
  osbi::testing::GradientCheckOptions options;
  options.seed = test_seed();
  const auto report =
      osbi::testing::check_gradients(Space(), layer, device_matrix<double>(input, rows, layer.input_dim()), options);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.inputs_checked == rows * layer.input_dim());
  BOOST_TEST(report.kinks == 0u);
}

BOOST_AUTO_TEST_CASE(bad_options_and_shapes_are_rejected_and_nan_propagates) {
  using Spline = osbi::RationalQuadraticSpline<double>;
  auto options = [](auto&& change) {
    osbi::RationalQuadraticOptions result;
    change(result);
    return result;
  };
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.bins = 0; })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.tail_bound = 0; })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.tail_bound = std::nan(""); })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.min_bin_width = 0.2; })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.min_bin_height = 0; })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline(options([](auto& o) { o.min_derivative = 1; })), osbi::InvalidArgument);
  BOOST_CHECK_THROW(Spline({}, 0.0), osbi::InvalidArgument);
  BOOST_CHECK_NO_THROW(Spline(options([](auto& o) { o.bins = 1; })));
  // An evaluation keeps each softmax's exponentials in a local array of max_bins entries.
  BOOST_CHECK_NO_THROW(Spline(options([](auto& o) {
    o.bins = Spline::max_bins;
    o.min_bin_width = o.min_bin_height = 1e-4;
  })));
  BOOST_CHECK_THROW(Spline(options([](auto& o) {
                      o.bins = Spline::max_bins + 1;
                      o.min_bin_width = o.min_bin_height = 1e-4;
                    })),
                    osbi::InvalidArgument);

  const Spline spline;
  osbi::Matrix<double, Space> x("x", 3, 2), y("y", 3, 2), l("l", 3, 2), p("p", 3, 2 * count), p_narrow("p", 3, count);
  osbi::Matrix<double, Space> y_short("y", 2, 2);
  auto names_both = [](const std::string& a, const std::string& b) {
    return [=](const osbi::DimensionMismatch& error) {
      const std::string what = error.what();
      return what.find(a) != std::string::npos && what.find(b) != std::string::npos;
    };
  };
  BOOST_CHECK_EXCEPTION(osbi::rational_quadratic_forward(Space(), spline, x, p_narrow, y, l), osbi::DimensionMismatch,
                        names_both("has 29", "expected 58"));
  BOOST_CHECK_EXCEPTION(osbi::rational_quadratic_inverse(Space(), spline, x, p, y_short, l), osbi::DimensionMismatch,
                        names_both("has 2", "expected 3"));
  BOOST_CHECK_EXCEPTION(osbi::rational_quadratic_backward(Space(), spline, x, p, y, l, y_short, p),
                        osbi::DimensionMismatch, names_both("has 2", "expected 3"));
  BOOST_CHECK_EXCEPTION(osbi::rational_quadratic_backward(Space(), spline, x, p, y, l, y, p_narrow),
                        osbi::DimensionMismatch, names_both("has 29", "expected 58"));
  // Empty batches do nothing.
  osbi::Matrix<double, Space> none("none", 0, 2), none_p("none_p", 0, 2 * count);
  BOOST_CHECK_NO_THROW(osbi::rational_quadratic_forward(Space(), spline, none, none_p, none, none));

  // NaN in x stays NaN (tails); NaN parameters give NaN inside and leave the tails alone; the bin
  // search never leaves 0 … K − 1 (the sanitizer build would see it).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> values = {nan, 0.5, 0.5, 4.0, -4.0, 0.5};
  std::vector<double> parameters = normals(3 * 2 * count, 161);
  parameters[2 * count + 3] = nan;                // row 1, dimension 0: a width logit
  parameters[2 * 2 * count + 2 * bins + 1] = nan; // row 2, dimension 0 (x = −4): a slope logit
  const auto input = device_matrix<double>(values, 3, 2);
  const auto params = device_matrix<double>(parameters, 3, 2 * count);
  osbi::rational_quadratic_forward(Space(), spline, input, params, y, l);
  const std::vector<double> out = host_values(y), log_det = host_values(l);
  BOOST_TEST(std::isnan(out[0]));
  BOOST_TEST(std::isfinite(out[1]));
  BOOST_TEST(std::isnan(out[2]));
  BOOST_TEST(out[3] == 4.0);
  BOOST_TEST(out[4] == -4.0);
  BOOST_TEST(log_det[4] == 0.0);
}

/// forward_lanes / backward_lanes on the host against forward / backward element by element: for K = 10, 2 and 1,
/// logits of scale 1.5 and 12 (saturated softmaxes), x inside, in the tails, at ±B and at the knots, NaN x and a NaN
/// parameter; every lane count. Same arithmetic, so the same values where the compiler forms no FMA (bit-identical
/// in the test build); with FMAs (-march=native) it contracts the vector loops and the scalar code differently: up
/// to 2e-6 relative in float, 5e-14 in double, measured. Lanes past `count` write nothing.
template <class Scalar>
void check_lanes_against_elements(std::size_t spline_bins, double logit_scale_factor, std::uint64_t stream) {
  constexpr int L = 64 / sizeof(Scalar);
  osbi::RationalQuadraticOptions options;
  options.bins = spline_bins;
  const osbi::RationalQuadraticSpline<Scalar> spline(options, logit_scale_factor);
  const std::size_t values = spline.parameter_count();
  const double tolerance = std::is_same_v<Scalar, float> ? 2e-5 : 1e-12;
  const std::vector<double> scales = {1.5, 12.0};
  double worst = 0;
  std::size_t compared = 0, differing = 0;
  for (std::size_t round = 0; round < 2 * scales.size(); ++round) {
    const std::vector<double> u = normals(L * values, stream + round, scales[round % scales.size()]);
    const std::vector<double> z = normals(2 * L, stream + 10 + round, 2.0);
    std::vector<Scalar> parameters(u.begin(), u.end());
    Scalar x[L], grad_value[L], grad_log_det[L];
    for (int l = 0; l < L; ++l) {
      x[l] = static_cast<Scalar>(z[l]);
      grad_value[l] = static_cast<Scalar>(z[L + l]);
      grad_log_det[l] = static_cast<Scalar>(0.5 + 0.1 * l);
    }
    x[0] = Scalar(bound), x[1] = Scalar(-bound), x[2] = std::numeric_limits<Scalar>::quiet_NaN();
    x[3] = Scalar(7.5), x[4] = Scalar(-3.0000001);
    if (round >= scales.size()) {
      // x at (the reference's rounding of) interior knots: the bin search's near-ties, which both paths must
      // break alike.
      if (spline_bins == bins)
        for (int l = 5; l < L; ++l)
          x[l] = static_cast<Scalar>(Reference(&u[l * values], logit_scale_factor).cumwidths[1 + l % (bins - 1)]);
      parameters[7 * values + 1] = std::numeric_limits<Scalar>::quiet_NaN(); // lane 7: a width logit
    }
    for (const int count : {1, 5, L}) {
      const Scalar* parameter_rows[L];
      std::vector<Scalar> grad_lanes(L * values, Scalar(-99)), grad_elements(L * values, Scalar(-99));
      Scalar* grad_rows[L];
      for (int l = 0; l < L; ++l)
        parameter_rows[l] = &parameters[l * values], grad_rows[l] = &grad_lanes[l * values];
      Scalar value[L], log_det[L], grad_x[L];
      spline.template forward_lanes<L>(count, x, parameter_rows, value, log_det);
      spline.template backward_lanes<L>(count, x, parameter_rows, grad_value, grad_log_det, grad_rows, grad_x);
      const auto compare = [&](Scalar got, Scalar expected) {
        ++compared;
        if (std::isnan(expected) || std::isnan(got)) {
          BOOST_TEST(std::isnan(expected) == std::isnan(got));
          return;
        }
        differing += got != expected;
        const double error = std::abs(double(got) - double(expected)) / std::max(1.0, std::abs(double(expected)));
        worst = std::max(worst, error);
      };
      for (int l = 0; l < count; ++l) {
        const osbi::SplineValue<Scalar> element = spline.forward(x[l], parameter_rows[l]);
        compare(value[l], element.value);
        compare(log_det[l], element.log_det);
        compare(grad_x[l],
                spline.backward(x[l], parameter_rows[l], grad_value[l], grad_log_det[l], &grad_elements[l * values]));
        for (std::size_t q = 0; q < values; ++q)
          compare(grad_lanes[l * values + q], grad_elements[l * values + q]);
      }
      for (std::size_t i = count * values; i < grad_lanes.size(); ++i)
        BOOST_TEST(grad_lanes[i] == Scalar(-99));
    }
  }
  BOOST_TEST_MESSAGE("lanes vs elements, " << sizeof(Scalar) * 8 << "-bit, K = " << spline_bins << ": " << differing
                                           << " of " << compared << " values differ, worst relative " << worst);
  BOOST_TEST(worst <= tolerance, "K = " << spline_bins << ", " << sizeof(Scalar) * 8 << "-bit: worst " << worst);
}

BOOST_AUTO_TEST_CASE(lanes_equal_the_element_by_element_members) {
  for (const std::size_t k : {std::size_t{10}, std::size_t{2}, std::size_t{1}}) {
    check_lanes_against_elements<float>(k, 1.0 / std::sqrt(50.0), 181);
    check_lanes_against_elements<double>(k, 1.0, 191);
  }
}

BOOST_AUTO_TEST_CASE(logit_scale_multiplies_the_width_and_height_logits_only) {
  // spline(x; u) with scale s equals the bare spline on (s·u_w, s·u_h, u_d): to 1e-14 (1e-13 on a
  // device or an FMA host, whose contraction rounds the two products differently).
  const double s = 0.3;
  Batch batch = make_batch(8, 32, 2.0, 171);
  Batch scaled = batch;
  for (std::size_t i = 0; i < batch.x.size(); ++i)
    for (std::size_t q = 0; q < 2 * bins; ++q)
      scaled.parameters[i * count + q] *= s;
  const auto a = run_forward(osbi::RationalQuadraticSpline<double>({}, s), batch);
  const auto b = run_forward(osbi::RationalQuadraticSpline<double>(), scaled);
  double worst = 0;
  for (std::size_t i = 0; i < batch.x.size(); ++i)
    worst = std::max({worst, std::abs(a.first[i] - b.first[i]), std::abs(a.second[i] - b.second[i])});
#if defined(__FMA__)
  constexpr bool contracts = true; // a host compiled for FMA (-march=native) contracts them too
#else
  constexpr bool contracts = osbi::testing::default_space_is_device;
#endif
  BOOST_TEST(worst <= (contracts ? 1e-13 : 1e-14));
}

BOOST_AUTO_TEST_SUITE_END()
