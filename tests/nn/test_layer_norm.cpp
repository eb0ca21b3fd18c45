// SPDX-License-Identifier: BSD-3-Clause
/// \brief LayerNorm: the shared finite-difference checker (inputs, gain, bias), forward against an
/// independent double reference, normalized rows with mean 0 and variance σ²/(σ²+ε), shape errors,
/// and identical bits on Serial and OpenMP.
#include <osbi/nn/layer.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace layers = osbi::testing::layers;
using layers::Bound;
using layers::HostMatrix;
using layers::mismatch_message;
using layers::names_both;
using layers::test_rng;
using Space = osbi::DefaultExecutionSpace;
using Scalars = std::tuple<float, double>;

/// Random rows with per-row offsets and scales spanning 1e-2 … 1e2 around offsets up to ±1e3, so
/// rows with |mean| ≫ standard deviation are among them.
HostMatrix varied_rows(std::size_t rows, std::size_t columns, std::uint64_t stream) {
  HostMatrix x = layers::random_host(rows, columns, stream);
  for (std::size_t r = 0; r < rows; ++r) {
    const double scale = std::pow(10.0, double(r % 5) - 2.0);
    const double offset = r % 3 == 0 ? 0.0 : (r % 3 == 1 ? 1e3 : -7.5);
    for (std::size_t c = 0; c < columns; ++c)
      x(r, c) = offset + scale * x(r, c);
  }
  return x;
}

/// PyTorch's definition in long double: (x − mean) / √(biased variance + ε) · gain + bias, and the
/// row statistics.
struct Reference {
  HostMatrix y;
  std::vector<double> mean, inv_std;
};

Reference reference_layer_norm(const HostMatrix& x, const std::vector<double>& gain, const std::vector<double>& bias,
                               double epsilon) {
  Reference result{HostMatrix{x.rows, x.columns, std::vector<double>(x.values.size())}, std::vector<double>(x.rows),
                   std::vector<double>(x.rows)};
  for (std::size_t r = 0; r < x.rows; ++r) {
    long double sum = 0;
    for (std::size_t c = 0; c < x.columns; ++c)
      sum += x(r, c);
    const long double mean = sum / x.columns;
    long double squares = 0;
    for (std::size_t c = 0; c < x.columns; ++c)
      squares += (x(r, c) - mean) * (x(r, c) - mean);
    const long double inv_std = 1 / std::sqrt(squares / x.columns + epsilon);
    result.mean[r] = double(mean);
    result.inv_std[r] = double(inv_std);
    for (std::size_t c = 0; c < x.columns; ++c)
      result.y(r, c) = double((x(r, c) - mean) * inv_std * gain[c] + bias[c]);
  }
  return result;
}

/// How far a correct double computation may be from the exact value: a few roundings of (x − mean),
/// whose scale is |x| + |mean|, magnified by inv_std·|gain| (large when |mean| ≫ σ).
double conditioning(double x, double mean, double inv_std, double gain) {
  return 64 * std::numeric_limits<double>::epsilon() * (std::abs(x) + std::abs(mean)) * inv_std * std::abs(gain);
}

/// Writes gain and bias (the bound slice [gain | bias]) from host values.
template <class View>
void set_parameters(const View& parameters, const std::vector<double>& gain, const std::vector<double>& bias) {
  using Scalar = typename View::non_const_value_type;
  auto host = Kokkos::create_mirror_view(parameters);
  for (std::size_t j = 0; j < gain.size(); ++j)
    host(j) = static_cast<Scalar>(gain[j]);
  for (std::size_t j = 0; j < bias.size(); ++j)
    host(gain.size() + j) = static_cast<Scalar>(bias[j]);
  Kokkos::deep_copy(parameters, host);
}

std::vector<double> random_vector(std::size_t size, std::uint64_t stream, double center, double spread) {
  const HostMatrix m = layers::random_host(1, size, stream, spread);
  std::vector<double> values(size);
  for (std::size_t j = 0; j < size; ++j)
    values[j] = center + m(0, j);
  return values;
}

} // namespace

BOOST_AUTO_TEST_SUITE(nn_layer_norm)

BOOST_AUTO_TEST_CASE(layer_norm_models_layer_and_its_spec_keeps_the_width) {
  static_assert(nn::Layer<nn::LayerNormLayer<double, Space>>);
  static_assert(nn::Layer<nn::LayerNormLayer<float, Space>>);
  static_assert(nn::LayerSpec<nn::LayerNorm, double, Space>);
  static_assert(nn::LayerSpec<nn::LayerNorm, float, Space>);
  const nn::bind_t<nn::LayerNorm, double, Space> layer(7);
  BOOST_TEST(layer.input_dim() == 7u);
  BOOST_TEST(layer.output_dim() == 7u);
  BOOST_TEST(layer.parameter_count() == 14u);
  BOOST_TEST(layer.epsilon() == 1e-5);
}

BOOST_AUTO_TEST_CASE(layer_norm_gradients_match_finite_differences) {
  osbi::testing::GradientCheckOptions options;
  options.seed = osbi::testing::test_seed();
  for (const std::size_t dim : {1u, 2u, 7u, 33u}) {
    BOOST_TEST_CONTEXT("dim " << dim) {
      // At the initial gain 1, bias 0 (the checker binds and initializes the layer).
      nn::LayerNormLayer<double, Space> layer(dim);
      // Offsets up to 1e3 would cost the difference quotient three digits: these rows stay O(10).
      HostMatrix x = layers::random_host(5, dim, 71, 2.0);
      for (std::size_t c = 0; c < dim; ++c)
        x(1, c) += 10.0, x(3, c) = 0.1 * x(3, c) - 4.0;
      const auto input = layers::to_device<double>(x);
      auto report = osbi::testing::check_gradients(Space(), layer, input, options);
      BOOST_TEST(report.passed(), report.summary());
      BOOST_TEST(report.inputs_checked == 5 * dim);
      BOOST_TEST(report.parameters_checked == 2 * dim);
      // At random gain and bias (the caller binds).
      Bound<nn::LayerNormLayer<double, Space>> bound(test_rng(72), dim);
      set_parameters(bound.parameters, random_vector(dim, 73, 1.0, 0.5), random_vector(dim, 74, 0.0, 1.0));
      report = osbi::testing::check_gradients(Space(), bound.layer, bound.parameters, bound.gradients, input, options);
      BOOST_TEST(report.passed(), report.summary());
      BOOST_TEST(report.parameters_checked == 2 * dim);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(layer_norm_forward_matches_double_reference_on_edge_shapes, Scalar, Scalars) {
  for (const std::size_t dim : {1u, 2u, 31u, 32u, 33u, 257u}) {
    Bound<nn::LayerNormLayer<Scalar, Space>> bound(test_rng(81), dim);
    // The reference takes the parameters as they were rounded to Scalar.
    std::vector<double> gain = random_vector(dim, 82, 1.0, 0.5), bias = random_vector(dim, 83, 0.0, 1.0);
    set_parameters(bound.parameters, gain, bias);
    for (std::size_t j = 0; j < dim; ++j)
      gain[j] = static_cast<Scalar>(gain[j]), bias[j] = static_cast<Scalar>(bias[j]);
    for (const std::size_t batch : {0u, 1u, 7u, 64u, 1000u}) {
      BOOST_TEST_CONTEXT("dim " << dim << " batch " << batch) {
        HostMatrix x = varied_rows(batch, dim, 84);
        const auto input = layers::to_device<Scalar>(x);
        x = layers::to_host(input); // the values the layer sees
        const auto output = layers::nan_matrix<Scalar>(batch, dim);
        bound.layer.forward(Space(), input, output);
        Space().fence();
        const Reference want = reference_layer_norm(x, gain, bias, 1e-5);
        const HostMatrix got = layers::to_host(output);
        std::size_t off = 0;
        double worst = 0;
        for (std::size_t r = 0; r < batch; ++r)
          for (std::size_t c = 0; c < dim; ++c) {
            const double error = std::abs(got(r, c) - want.y(r, c));
            const double allowed = layers::forward_tolerance<Scalar>() * (1 + std::abs(want.y(r, c))) +
                                   conditioning(x(r, c), want.mean[r], want.inv_std[r], gain[c]);
            if (!(error <= allowed)) ++off; // NaN counts
            worst = std::max(worst, error / allowed);
          }
        BOOST_TEST(off == 0u, off << " entries off; worst error / allowed " << worst);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(normalized_rows_have_mean_zero_and_unit_variance_before_the_affine_part, Scalar,
                              Scalars) {
  // gain 1, bias 0 after initialize: the output is the normalized input itself. Its row mean is 0 and
  // its row variance σ²/(σ² + ε): 1 up to ε/σ², which the rows with σ ≈ 1e-2 make visible.
  const std::size_t batch = 50, dim = 64;
  Bound<nn::LayerNormLayer<Scalar, Space>> bound(test_rng(91), dim);
  const HostMatrix x = layers::to_host(layers::to_device<Scalar>(varied_rows(batch, dim, 92)));
  const auto output = layers::nan_matrix<Scalar>(batch, dim);
  bound.layer.forward(Space(), layers::to_device<Scalar>(x), output);
  Space().fence();
  const HostMatrix y = layers::to_host(output);
  const auto mean = layers::to_host_vector(bound.layer.mean());
  const auto inv_std = layers::to_host_vector(bound.layer.inv_std());
  BOOST_TEST(mean.size() == batch);
  const double tolerance = layers::forward_tolerance<Scalar>();
  for (std::size_t r = 0; r < batch; ++r) {
    long double x_sum = 0, x_squares = 0, y_sum = 0, y_squares = 0;
    for (std::size_t c = 0; c < dim; ++c)
      x_sum += x(r, c);
    const long double x_mean = x_sum / dim;
    for (std::size_t c = 0; c < dim; ++c) {
      x_squares += (x(r, c) - x_mean) * (x(r, c) - x_mean);
      y_sum += y(r, c);
    }
    const long double y_mean = y_sum / dim;
    for (std::size_t c = 0; c < dim; ++c)
      y_squares += (y(r, c) - y_mean) * (y(r, c) - y_mean);
    const double variance = double(x_squares / dim), expected_variance = variance / (variance + 1e-5);
    BOOST_TEST_CONTEXT("row " << r << " σ² " << variance) {
      const double allowed = tolerance + conditioning(0, double(x_mean), inv_std[r], 1.0);
      BOOST_TEST(std::abs(double(y_mean)) <= allowed);
      BOOST_TEST(std::abs(double(y_squares / dim) - expected_variance) <= allowed);
      // The statistics the layer keeps (in double even for float) are the row's own.
      BOOST_TEST(std::abs(mean[r] - double(x_mean)) <= 1e-13 * (1 + std::abs(double(x_mean))));
      BOOST_TEST(std::abs(inv_std[r] - 1 / std::sqrt(variance + 1e-5)) <= 1e-12 * inv_std[r]);
    }
  }
}

BOOST_AUTO_TEST_CASE(layer_norm_gain_and_bias_are_views_of_the_bound_slice_and_start_at_one_and_zero) {
  Bound<nn::LayerNormLayer<double, Space>> bound(test_rng(95), 4);
  BOOST_TEST(bound.layer.gain().data() == bound.parameters.data());
  BOOST_TEST(bound.layer.bias().data() == bound.parameters.data() + 4);
  BOOST_TEST(bound.layer.gain_gradient().data() == bound.gradients.data());
  BOOST_TEST(bound.layer.bias_gradient().data() == bound.gradients.data() + 4);
  const std::vector<double> parameters = layers::to_host_vector(bound.parameters);
  const std::vector<double> expected = {1, 1, 1, 1, 0, 0, 0, 0};
  BOOST_TEST(parameters == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(layer_norm_backward_on_batch_zero_touches_nothing) {
  Bound<nn::LayerNormLayer<double, Space>> bound(test_rng(96), 3);
  Kokkos::deep_copy(bound.gradients, 0.5);
  const osbi::Matrix<double, Space> empty_input("x", 0, 3), empty_output("y", 0, 3), empty_grad("gx", 0, 3);
  bound.layer.forward(Space(), empty_input, empty_output);
  bound.layer.backward(Space(), empty_output, empty_grad);
  for (const double g : layers::to_host_vector(bound.gradients))
    BOOST_TEST(g == 0.5);
}

BOOST_AUTO_TEST_CASE(layer_norm_wrong_shapes_throw_dimension_mismatch_naming_both_sizes) {
  Bound<nn::LayerNormLayer<double, Space>> bound(test_rng(97), 5);
  auto& layer = bound.layer;
  using M = osbi::Matrix<double, Space>;
  std::string message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 6), M("y", 2, 5)); });
  BOOST_TEST(names_both(message, 6, 5), message);
  BOOST_TEST(message.find("LayerNormLayer") != std::string::npos, message);
  message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 5), M("y", 2, 4)); });
  BOOST_TEST(names_both(message, 4, 5), message);
  message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 5), M("y", 3, 5)); });
  BOOST_TEST(names_both(message, 3, 2), message);

  const M x("x", 2, 5), y("y", 2, 5);
  layer.forward(Space(), x, y);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 7, 5), M()); });
  BOOST_TEST(names_both(message, 7, 2), message);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 2, 3), M()); });
  BOOST_TEST(names_both(message, 3, 5), message);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 2, 5), M("gx", 2, 4)); });
  BOOST_TEST(names_both(message, 4, 5), message);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 2, 5), M("gx", 1, 5)); });
  BOOST_TEST(names_both(message, 1, 2), message);
  message =
      mismatch_message([&] { layer.bind(osbi::Vector<double, Space>("p", 9), osbi::Vector<double, Space>("g", 10)); });
  BOOST_TEST(names_both(message, 9, 10), message);
}

BOOST_AUTO_TEST_CASE(layer_norm_refuses_use_before_bind_zero_width_and_bad_epsilon) {
  nn::LayerNormLayer<double, Space> unbound(3);
  using M = osbi::Matrix<double, Space>;
  BOOST_CHECK_THROW(unbound.forward(Space(), M("x", 1, 3), M("y", 1, 3)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(unbound.backward(Space(), M("gy", 1, 3), M()), osbi::InvalidArgument);
  BOOST_CHECK_THROW(unbound.initialize(Space(), test_rng(98)), osbi::InvalidArgument);
  BOOST_CHECK_THROW((nn::LayerNormLayer<double, Space>(0)), osbi::InvalidArgument);
  BOOST_CHECK_THROW((nn::LayerNormLayer<double, Space>(3, 0.0)), osbi::InvalidArgument);
  BOOST_CHECK_THROW((nn::LayerNormLayer<double, Space>(3, std::nan(""))), osbi::InvalidArgument);
  const nn::LayerNormLayer<double, Space> custom(3, 1e-3);
  BOOST_TEST(custom.epsilon() == 1e-3);
}

#if defined(KOKKOS_ENABLE_OPENMP) && defined(KOKKOS_ENABLE_SERIAL)
BOOST_AUTO_TEST_CASE_TEMPLATE(layer_norm_is_identical_on_serial_and_openmp, Scalar, Scalars) {
  const std::size_t batch = 333, dim = 45;
  const HostMatrix x = varied_rows(batch, dim, 99), upstream = layers::random_host(batch, dim, 100);
  const std::vector<double> gain = random_vector(dim, 101, 1.0, 0.5), bias = random_vector(dim, 102, 0.0, 1.0);
  const auto run = [&](auto space) {
    using ExecutionSpace = decltype(space);
    Bound<nn::LayerNormLayer<Scalar, ExecutionSpace>> bound(test_rng(103), dim);
    set_parameters(bound.parameters, gain, bias);
    const auto input = layers::to_device<Scalar, ExecutionSpace>(x);
    const auto grad_output = layers::to_device<Scalar, ExecutionSpace>(upstream);
    const auto output = layers::nan_matrix<Scalar, ExecutionSpace>(batch, dim);
    const auto grad_input = layers::nan_matrix<Scalar, ExecutionSpace>(batch, dim);
    bound.layer.forward(space, input, output);
    bound.layer.backward(space, grad_output, grad_input);
    space.fence();
    std::vector<Scalar> all(output.data(), output.data() + output.size());
    all.insert(all.end(), grad_input.data(), grad_input.data() + grad_input.size());
    all.insert(all.end(), bound.gradients.data(), bound.gradients.data() + bound.gradients.size());
    return all;
  };
  const auto serial = run(Kokkos::Serial()), openmp = run(Kokkos::OpenMP());
  BOOST_TEST_REQUIRE(serial.size() == openmp.size());
  BOOST_TEST(std::memcmp(serial.data(), openmp.data(), serial.size() * sizeof(Scalar)) == 0);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
