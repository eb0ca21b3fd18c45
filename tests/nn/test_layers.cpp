// SPDX-License-Identifier: BSD-3-Clause
/// \brief Dense and activation layers: finite-difference gradients (the one checker), forward against a
/// double-precision reference, edge batches, shape errors, initializer statistics and determinism.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>
#include <support/statistics.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace act = osbi::nn::activation;
namespace ref = osbi::testing::layers::reference;
using osbi::testing::layers::HostMatrix;
using Space = osbi::DefaultExecutionSpace;

using Activations = std::tuple<act::Identity, act::ReLU, act::Tanh, act::GELU, act::SiLU, act::ELU>;
using Initializers = std::tuple<nn::init::TorchDefault, nn::init::XavierUniform, nn::init::KaimingNormal>;
using Scalars = std::tuple<float, double>;
using DerivativeKeepingActivations = std::tuple<act::GELU, act::SiLU>; // needs_input: dense.hpp keeps f'(z)

template <class Activation>
double reference_activation(double x) {
  if constexpr (std::is_same_v<Activation, act::Identity>) return ref::identity(x);
  if constexpr (std::is_same_v<Activation, act::ReLU>) return ref::relu(x);
  if constexpr (std::is_same_v<Activation, act::Tanh>) return ref::tanh(x);
  if constexpr (std::is_same_v<Activation, act::GELU>) return ref::gelu(x);
  if constexpr (std::is_same_v<Activation, act::SiLU>) return ref::silu(x);
  if constexpr (std::is_same_v<Activation, act::ELU>) return ref::elu(x);
}

using osbi::testing::layers::Bound;
using osbi::testing::layers::mismatch_message;
using osbi::testing::layers::names_both;
using osbi::testing::layers::test_rng;

} // namespace

BOOST_AUTO_TEST_SUITE(nn_layers)

// ---------------------------------------------------------------------------------------------- Dense

BOOST_AUTO_TEST_CASE_TEMPLATE(dense_gradients_match_finite_differences_for_every_init, Activation, Activations) {
  std::apply(
      [&](auto... inits) {
        (
            [&](auto init) {
              using Init = decltype(init);
              nn::DenseLayer<double, Space, Init, Activation> layer(5, 4);
              const auto input = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(3, 5, 11));
              osbi::testing::GradientCheckOptions options;
              options.seed = osbi::testing::test_seed();
              const auto report = osbi::testing::check_gradients(Space(), layer, input, options);
              BOOST_TEST(report.passed(), report.summary());
              BOOST_TEST(report.inputs_checked == 15u);
              BOOST_TEST(report.parameters_checked == 24u);
            }(inits),
            ...);
      },
      Initializers{});
}

BOOST_AUTO_TEST_CASE(dense_models_layer_and_its_spec_binds_the_output_width) {
  static_assert(nn::Layer<nn::DenseLayer<double, Space>>);
  static_assert(nn::LayerSpec<nn::Dense<7>, double, Space>);
  static_assert(nn::LayerSpec<nn::Dense<7, nn::init::KaimingNormal, act::ReLU>, float, Space>);
  static_assert(!std::is_constructible_v<nn::DenseLayer<double, Space>, std::size_t>);
  const nn::bind_t<nn::Dense<7>, double, Space> layer(3);
  BOOST_TEST(layer.input_dim() == 3u);
  BOOST_TEST(layer.output_dim() == 7u);
  BOOST_TEST(layer.parameter_count() == 7u * 3u + 7u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(dense_forward_matches_double_reference_on_edge_batches, Scalar, Scalars) {
  // 13 → 9 crosses no tile boundary evenly (tiles are 6 rows × 16/32 columns).
  auto check = [](auto activation_tag) {
    using Activation = decltype(activation_tag);
    Bound<nn::DenseLayer<Scalar, Space, nn::init::TorchDefault, Activation>> bound(test_rng(21), 13, 9);
    const std::vector<double> parameters = osbi::testing::layers::to_host_vector(bound.parameters);
    const std::vector<double> weight(parameters.begin(), parameters.begin() + 9 * 13);
    const std::vector<double> bias(parameters.begin() + 9 * 13, parameters.end());
    for (const std::size_t batch : {0u, 1u, 7u, 64u}) {
      const HostMatrix x = osbi::testing::layers::random_host(batch, 13, 22);
      const auto input = osbi::testing::layers::to_device<Scalar>(x);
      const auto output = osbi::testing::layers::nan_matrix<Scalar>(batch, 9);
      bound.layer.forward(Space(), input, output);
      Space().fence();
      const HostMatrix expected =
          osbi::testing::layers::dense_reference(x, weight, bias, 9, reference_activation<Activation>);
      const double difference =
          osbi::testing::layers::max_relative_difference(osbi::testing::layers::to_host(output), expected);
      BOOST_TEST(difference <= osbi::testing::layers::forward_tolerance<Scalar>(),
                 "batch " << batch << " difference " << difference);
    }
  };
  std::apply([&](auto... activations) { (check(activations), ...); }, Activations{});
}

// GELU and SiLU layers keep f'(z) from the forward pass for backward. Output and upstream-gradient views with padded
// rows (not contiguous) take the general path, which must give the same numbers as contiguous ones.
BOOST_AUTO_TEST_CASE_TEMPLATE(dense_padded_output_and_gradient_views_match_contiguous_ones, Activation,
                              DerivativeKeepingActivations) {
  using M = osbi::Matrix<double, Space>;
  Bound<nn::DenseLayer<double, Space, nn::init::TorchDefault, Activation>> bound(test_rng(33), 5, 9);
  const std::size_t batch = 7;
  const auto input = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(batch, 5, 34));
  const auto upstream = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(batch, 9, 35));
  const auto run = [&](const M& output, const M& grad_output) {
    Kokkos::deep_copy(grad_output, upstream);
    Kokkos::deep_copy(bound.gradients, 0.0);
    const M grad_input("grad_input", batch, 5);
    bound.layer.forward(Space(), input, output);
    bound.layer.backward(Space(), grad_output, grad_input);
    Space().fence();
    return std::make_tuple(osbi::testing::layers::to_host(output), osbi::testing::layers::to_host(grad_input),
                           osbi::testing::layers::to_host_vector(bound.gradients));
  };
  const auto contiguous = run(M("y", batch, 9), M("grad_y", batch, 9));
  const M padded_output(Kokkos::view_alloc("y", Kokkos::AllowPadding), batch, 9);
  const M padded_grad(Kokkos::view_alloc("grad_y", Kokkos::AllowPadding), batch, 9);
  if (padded_output.span_is_contiguous())
    BOOST_TEST_MESSAGE("this Kokkos did not pad a " << batch << " x 9 view: the general path is not exercised");
  const auto padded = run(padded_output, padded_grad);
  BOOST_TEST((std::get<0>(padded).values == std::get<0>(contiguous).values));
  BOOST_TEST((std::get<1>(padded).values == std::get<1>(contiguous).values));
  BOOST_TEST((std::get<2>(padded) == std::get<2>(contiguous)));
}

BOOST_AUTO_TEST_CASE(dense_weight_and_bias_are_views_of_the_bound_slice) {
  Bound<nn::DenseLayer<double, Space>> bound(test_rng(31), 4, 3);
  BOOST_TEST(bound.layer.weight().data() == bound.parameters.data());
  BOOST_TEST(bound.layer.bias().data() == bound.parameters.data() + 12);
  BOOST_TEST(bound.layer.weight_gradient().data() == bound.gradients.data());
  BOOST_TEST(bound.layer.bias_gradient().data() == bound.gradients.data() + 12);
  BOOST_TEST(bound.layer.weight().extent(0) == 3u);
  BOOST_TEST(bound.layer.weight().extent(1) == 4u);
}

BOOST_AUTO_TEST_CASE(dense_backward_accumulates_on_batch_zero_without_touching_anything) {
  Bound<nn::DenseLayer<double, Space, nn::init::TorchDefault, act::GELU>> bound(test_rng(32), 4, 3);
  Kokkos::deep_copy(bound.gradients, 0.5);
  const osbi::Matrix<double, Space> empty_input("x", 0, 4), empty_output("y", 0, 3), empty_grad("gx", 0, 4);
  bound.layer.forward(Space(), empty_input, empty_output);
  bound.layer.backward(Space(), empty_output, empty_grad);
  for (const double g : osbi::testing::layers::to_host_vector(bound.gradients))
    BOOST_TEST(g == 0.5);
}

BOOST_AUTO_TEST_CASE(dense_wrong_shapes_throw_dimension_mismatch_naming_both_sizes) {
  Bound<nn::DenseLayer<double, Space, nn::init::TorchDefault, act::Tanh>> bound(test_rng(33), 5, 3);
  auto& layer = bound.layer;
  std::string message = mismatch_message(
      [&] { layer.forward(Space(), osbi::Matrix<double, Space>("x", 2, 6), osbi::Matrix<double, Space>("y", 2, 3)); });
  BOOST_TEST(names_both(message, 6, 5), message);
  BOOST_TEST(message.find("DenseLayer") != std::string::npos, message);
  message = mismatch_message(
      [&] { layer.forward(Space(), osbi::Matrix<double, Space>("x", 2, 5), osbi::Matrix<double, Space>("y", 2, 4)); });
  BOOST_TEST(names_both(message, 4, 3), message);
  message = mismatch_message(
      [&] { layer.forward(Space(), osbi::Matrix<double, Space>("x", 2, 5), osbi::Matrix<double, Space>("y", 3, 3)); });
  BOOST_TEST(names_both(message, 3, 2), message);

  const osbi::Matrix<double, Space> x("x", 2, 5), y("y", 2, 3);
  layer.forward(Space(), x, y);
  message = mismatch_message(
      [&] { layer.backward(Space(), osbi::Matrix<double, Space>("gy", 7, 3), osbi::Matrix<double, Space>()); });
  BOOST_TEST(names_both(message, 7, 2), message);
  message = mismatch_message([&] {
    layer.backward(Space(), osbi::Matrix<double, Space>("gy", 2, 3), osbi::Matrix<double, Space>("gx", 2, 4));
  });
  BOOST_TEST(names_both(message, 4, 5), message);
  message =
      mismatch_message([&] { layer.bind(osbi::Vector<double, Space>("p", 19), osbi::Vector<double, Space>("g", 18)); });
  BOOST_TEST(names_both(message, 19, 18), message);
}

BOOST_AUTO_TEST_CASE(dense_refuses_use_before_bind_and_zero_sizes) {
  nn::DenseLayer<double, Space> unbound(3, 2);
  BOOST_CHECK_THROW(
      unbound.forward(Space(), osbi::Matrix<double, Space>("x", 1, 3), osbi::Matrix<double, Space>("y", 1, 2)),
      osbi::InvalidArgument);
  BOOST_CHECK_THROW((nn::DenseLayer<double, Space>(0, 2)), osbi::InvalidArgument);
  BOOST_CHECK_THROW((nn::DenseLayer<double, Space>(2, 0)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(unbound.backward(Space(), osbi::Matrix<double, Space>("gy", 1, 2), osbi::Matrix<double, Space>()),
                    osbi::InvalidArgument);
}

// ---------------------------------------------------------------------------------------- activations

BOOST_AUTO_TEST_CASE_TEMPLATE(activation_gradients_match_finite_differences, Activation, Activations) {
  nn::ActivationLayer<double, Space, Activation> layer(6);
  static_assert(nn::Layer<decltype(layer)>);
  // Away from 0, where ReLU and ELU have their kink: no entry may need the kink rule.
  const auto away = osbi::testing::layers::to_device<double>(osbi::testing::layers::random_host(4, 6, 41, 1.5, 0.05));
  auto report = osbi::testing::check_gradients(Space(), layer, away);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.kinks == 0u);
  BOOST_TEST(report.inputs_checked == 24u);
  BOOST_TEST(report.parameters_checked == 0u);
  // Near and at 0 (smooth activations must pass plainly there).
  HostMatrix near = osbi::testing::layers::random_host(2, 6, 42, 1e-3);
  near(0, 0) = 0.0;
  near(1, 1) = 1e-7;
  near(1, 2) = -1e-7;
  report = osbi::testing::check_gradients(Space(), layer, osbi::testing::layers::to_device<double>(near));
  BOOST_TEST(report.passed(), report.summary());
  if constexpr (!std::is_same_v<Activation, act::ReLU> && !std::is_same_v<Activation, act::ELU>)
    BOOST_TEST(report.kinks == 0u);
}

BOOST_AUTO_TEST_CASE(relu_at_its_kink_uses_the_zero_subgradient_and_the_checker_accepts_it) {
  nn::ActivationLayer<double, Space, act::ReLU> layer(3);
  HostMatrix x{1, 3, {0.0, 1e-7, -1e-7}};
  const auto input = osbi::testing::layers::to_device<double>(x);
  const auto output = osbi::testing::layers::nan_matrix<double>(1, 3);
  layer.forward(Space(), input, output);
  const auto grad_input = osbi::testing::layers::nan_matrix<double>(1, 3);
  const auto ones = osbi::testing::layers::to_device<double>(HostMatrix{1, 3, {1.0, 1.0, 1.0}});
  layer.backward(Space(), ones, grad_input);
  const HostMatrix g = osbi::testing::layers::to_host(grad_input);
  BOOST_TEST(g(0, 0) == 0.0); // PyTorch's convention: relu'(0) = 0
  BOOST_TEST(g(0, 1) == 1.0);
  BOOST_TEST(g(0, 2) == 0.0);
  const auto report = osbi::testing::check_gradients(Space(), layer, input);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.kinks == 3u); // each entry lies within a step of the kink
}

BOOST_AUTO_TEST_CASE_TEMPLATE(activation_forward_matches_double_reference_on_edge_batches, Scalar, Scalars) {
  auto check = [](auto activation_tag) {
    using Activation = decltype(activation_tag);
    nn::ActivationLayer<Scalar, Space, Activation> layer(5);
    for (const std::size_t batch : {0u, 1u, 7u, 64u}) {
      const HostMatrix x = osbi::testing::layers::random_host(batch, 5, 43, 2.0);
      const auto output = osbi::testing::layers::nan_matrix<Scalar>(batch, 5);
      layer.forward(Space(), osbi::testing::layers::to_device<Scalar>(x), output);
      HostMatrix expected = x;
      for (double& value : expected.values)
        value = reference_activation<Activation>(static_cast<double>(static_cast<Scalar>(value)));
      const double difference =
          osbi::testing::layers::max_relative_difference(osbi::testing::layers::to_host(output), expected);
      BOOST_TEST(difference <= osbi::testing::layers::forward_tolerance<Scalar>(), "batch " << batch);
    }
  };
  std::apply([&](auto... activations) { (check(activations), ...); }, Activations{});
}

/// Error of `got` from the double `exact`, in units of the float spacing at float(exact).
double float_ulps(float got, double exact) {
  const float rounded = static_cast<float>(exact);
  const double spacing = static_cast<double>(std::nextafter(rounded, 2.0f * rounded + 1.0f) - rounded);
  return std::fabs(static_cast<double>(got) - exact) / spacing;
}

/// The branch-free float approximations the softplus of the flows relies on, against the double library, over
/// every 61st float of their domains (about 17 million arguments each): within the 2 ulp their comments state.
BOOST_AUTO_TEST_CASE(float_exp_and_log1p_approximations_stay_within_two_ulp) {
  double worst_log1p = 0, worst_exp = 0;
  float at_log1p = 0, at_exp = 0;
  for (std::uint32_t bits = 0x00800000u; bits <= 0x3f800000u; bits += 61) { // [2⁻¹²⁶, 1]
    float e;
    std::memcpy(&e, &bits, sizeof e);
    const double error = float_ulps(act::fast_log1p_unit(e), std::log1p(static_cast<double>(e)));
    if (error > worst_log1p) worst_log1p = error, at_log1p = e;
  }
  for (std::uint32_t bits = 0x80000000u; bits <= 0xc2ae0000u; bits += 61) { // [−87, −0]
    float x;
    std::memcpy(&x, &bits, sizeof x);
    const double error = float_ulps(act::fast_exp_nonpositive(x), std::exp(static_cast<double>(x)));
    if (error > worst_exp) worst_exp = error, at_exp = x;
  }
  BOOST_TEST_INFO("worst log1p at " << at_log1p << ", worst exp at " << at_exp);
  BOOST_TEST(worst_log1p <= 2.0);
  BOOST_TEST(worst_exp <= 2.0);
  BOOST_TEST(act::fast_log1p_unit(0.0f) == 0.0f);
  BOOST_TEST(act::fast_exp_nonpositive(0.0f) == 1.0f);
  BOOST_TEST(act::fast_exp_nonpositive(-100.0f) == 0.0f);
  BOOST_TEST(std::isnan(act::fast_log1p_unit(std::nanf(""))));
}

/// fast_log (the spline's log-slope across lanes) against the double log over every 61st positive float, subnormals
/// and the largest included: within the 2 ulp its comment states; log 0 = −∞, log ∞ = ∞, NaN below 0 and for NaN.
BOOST_AUTO_TEST_CASE(float_log_approximation_stays_within_two_ulp) {
  double worst = 0;
  float at = 0;
  for (std::uint32_t bits = 1; bits < 0x7f800000u; bits += 61) {
    float v;
    std::memcpy(&v, &bits, sizeof v);
    const double exact = std::log(static_cast<double>(v));
    const float rounded = static_cast<float>(exact);
    const double spacing = static_cast<double>(
        std::nextafter(std::fabs(rounded), std::numeric_limits<float>::infinity()) - std::fabs(rounded));
    const double error = std::fabs(static_cast<double>(act::fast_log(v)) - exact) / spacing;
    if (error > worst) worst = error, at = v;
  }
  BOOST_TEST_INFO("worst at " << at);
  BOOST_TEST(worst <= 2.0);
  BOOST_TEST(act::fast_log(1.0f) == 0.0f);
  BOOST_TEST(act::fast_log(0.0f) == -std::numeric_limits<float>::infinity());
  BOOST_TEST(act::fast_log(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  BOOST_TEST(std::isnan(act::fast_log(-1.0f)));
  BOOST_TEST(std::isnan(act::fast_log(-std::numeric_limits<float>::infinity())));
  BOOST_TEST(std::isnan(act::fast_log(std::nanf(""))));
}

BOOST_AUTO_TEST_CASE(activation_specs_bind_to_activation_layers_without_parameters) {
  static_assert(nn::LayerSpec<nn::ReLU, double, Space> && nn::LayerSpec<nn::Tanh, float, Space> &&
                nn::LayerSpec<nn::GELU, double, Space> && nn::LayerSpec<nn::SiLU, double, Space> &&
                nn::LayerSpec<nn::ELU, double, Space>);
  static_assert(std::is_same_v<nn::bind_t<nn::GELU, double, Space>, nn::ActivationLayer<double, Space, act::GELU>>);
  nn::bind_t<nn::Tanh, double, Space> layer(4);
  BOOST_TEST(layer.parameter_count() == 0u);
  BOOST_TEST(layer.output_dim() == 4u);
  layer.bind({}, {});
  std::string message = mismatch_message(
      [&] { layer.forward(Space(), osbi::Matrix<double, Space>("x", 2, 3), osbi::Matrix<double, Space>("y", 2, 4)); });
  BOOST_TEST(names_both(message, 3, 4), message);
  message = mismatch_message([&] { layer.bind(osbi::Vector<double, Space>("p", 2), {}); });
  BOOST_TEST(names_both(message, 2, 0), message);
}

// --------------------------------------------------------------------------------------- initializers

namespace {

struct Moments {
  double mean = 0, variance = 0;
};

Moments moments(const std::vector<double>& values) {
  Moments m;
  for (const double v : values)
    m.mean += v;
  m.mean /= static_cast<double>(values.size());
  for (const double v : values)
    m.variance += (v - m.mean) * (v - m.mean);
  m.variance /= static_cast<double>(values.size() - 1);
  return m;
}

// Checks i.i.d. samples against a symmetric distribution with variance `variance`, fourth moment
// `fourth_moment` and CDF `cdf`; each assertion has false-failure probability default_false_failure
// (the mean and variance tests through the CLT, the KS test exactly by DKW–Massart).
void check_distribution(const std::vector<double>& values, double variance, double fourth_moment,
                        const std::function<double(double)>& cdf, const std::string& what) {
  const double n = static_cast<double>(values.size());
  const double z = osbi::testing::two_sided_z();
  const Moments m = moments(values);
  BOOST_TEST(std::abs(m.mean) <= z * std::sqrt(variance / n), what << ": mean " << m.mean);
  const double variance_sd = std::sqrt((fourth_moment - variance * variance) / n);
  BOOST_TEST(std::abs(m.variance - variance) <= z * variance_sd,
             what << ": variance " << m.variance << " vs " << variance);
  const double ks = osbi::testing::ks_statistic(values, cdf);
  BOOST_TEST(ks <= osbi::testing::ks_bound(values.size()), what << ": KS " << ks);
}

} // namespace

BOOST_AUTO_TEST_CASE(initializers_draw_from_their_documented_distributions) {
  constexpr std::size_t in = 256, out = 128;
  {
    Bound<nn::DenseLayer<double, Space, nn::init::TorchDefault>> b(test_rng(51), in, out);
    const std::vector<double> all = osbi::testing::layers::to_host_vector(b.parameters);
    const std::vector<double> weight(all.begin(), all.begin() + in * out), bias(all.begin() + in * out, all.end());
    const double a = nn::init::TorchDefault::bound(in, out);
    BOOST_TEST(a == 1.0 / 16.0);
    const auto uniform_cdf = [a](double x) { return std::clamp((x + a) / (2 * a), 0.0, 1.0); };
    check_distribution(weight, a * a / 3, a * a * a * a / 5, uniform_cdf, "TorchDefault weight");
    check_distribution(bias, a * a / 3, a * a * a * a / 5, uniform_cdf, "TorchDefault bias");
    for (const double v : all)
      BOOST_TEST((-a < v && v < a));
  }
  {
    Bound<nn::DenseLayer<double, Space, nn::init::XavierUniform>> b(test_rng(52), in, out);
    const std::vector<double> all = osbi::testing::layers::to_host_vector(b.parameters);
    const std::vector<double> weight(all.begin(), all.begin() + in * out);
    const double a = nn::init::XavierUniform::bound(in, out);
    BOOST_TEST(std::abs(a - std::sqrt(6.0 / 384.0)) < 1e-15);
    check_distribution(
        weight, a * a / 3, a * a * a * a / 5, [a](double x) { return std::clamp((x + a) / (2 * a), 0.0, 1.0); },
        "XavierUniform weight");
    for (std::size_t o = 0; o < out; ++o)
      BOOST_TEST(all[in * out + o] == 0.0);
  }
  {
    Bound<nn::DenseLayer<double, Space, nn::init::KaimingNormal>> b(test_rng(53), in, out);
    const std::vector<double> all = osbi::testing::layers::to_host_vector(b.parameters);
    const std::vector<double> weight(all.begin(), all.begin() + in * out);
    const double s = nn::init::KaimingNormal::standard_deviation(in, out);
    BOOST_TEST(std::abs(s * s - 2.0 / 256.0) < 1e-15);
    check_distribution(
        weight, s * s, 3 * s * s * s * s, [s](double x) { return osbi::testing::standard_normal_cdf(x / s); },
        "KaimingNormal weight");
    for (std::size_t o = 0; o < out; ++o)
      BOOST_TEST(all[in * out + o] == 0.0);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(initialization_is_identical_on_serial_and_openmp_and_across_scalars, Init, Initializers) {
  const osbi::BatchRandom rng = test_rng(61);
  Bound<nn::DenseLayer<double, Kokkos::Serial, Init>> serial(rng, 37, 19);
  Bound<nn::DenseLayer<double, Kokkos::OpenMP, Init>> openmp(rng, 37, 19);
  Bound<nn::DenseLayer<float, Kokkos::OpenMP, Init>> single(rng, 37, 19);
  const auto a = osbi::testing::layers::to_host_vector(serial.parameters);
  const auto b = osbi::testing::layers::to_host_vector(openmp.parameters);
  const auto c = osbi::testing::layers::to_host_vector(single.parameters);
  BOOST_TEST(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  for (std::size_t i = 0; i < a.size(); ++i)
    BOOST_TEST(c[i] == static_cast<double>(static_cast<float>(a[i])));
  // Another batch of the stream gives other values; the same batch again the same ones.
  Bound<nn::DenseLayer<double, Kokkos::OpenMP, Init>> again(rng, 37, 19);
  Bound<nn::DenseLayer<double, Kokkos::OpenMP, Init>> other(test_rng(62), 37, 19);
  BOOST_TEST(osbi::testing::layers::to_host_vector(again.parameters) == a);
  BOOST_TEST(osbi::testing::layers::to_host_vector(other.parameters) != a);
  // Row o of the weight draws from rng.row(o) alone: a wider layer starts with the same rows (for
  // Xavier, whose scale depends on out, the same rows up to that scale).
  Bound<nn::DenseLayer<double, Kokkos::OpenMP, Init>> wider(rng, 37, 23);
  const auto w = osbi::testing::layers::to_host_vector(wider.parameters);
  double scale = 1.0;
  if constexpr (std::is_same_v<Init, nn::init::XavierUniform>)
    scale = nn::init::XavierUniform::bound(37, 23) / nn::init::XavierUniform::bound(37, 19);
  for (std::size_t i = 0; i < 37 * 19; ++i)
    BOOST_TEST(std::abs(w[i] - scale * a[i]) <= 1e-15);
}

BOOST_AUTO_TEST_SUITE_END()
