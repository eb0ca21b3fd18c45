// SPDX-License-Identifier: BSD-3-Clause
/// \brief Residual blocks: the shared finite-difference checker (alone, inside a Sequential, inside a
/// Network), forward against an independent double reference, the output_dim == input_dim check,
/// shape errors, and identical bits on Serial and OpenMP.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/nn/network.hpp>
#include <osbi/nn/residual.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
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

using Block = nn::Residual<nn::Dense<8>, nn::Tanh, nn::Dense<8>>;
// Blocks inside a Sequential: a plain one, a pre-norm one, and one whose inner width differs from its own.
using Stack = nn::Sequential<nn::Dense<8>, Block, nn::Residual<nn::LayerNorm, nn::Dense<8>, nn::GELU, nn::Dense<8>>,
                             nn::Residual<nn::Dense<16>, nn::SiLU, nn::Dense<8>>, nn::Dense<3>>;

/// y = x + W2·tanh(W1·x + b1) + b2 in double, the parameters read from the flat slice
/// [W1 (8×8) | b1 (8) | W2 (8×8) | b2 (8)].
HostMatrix block_reference(const HostMatrix& x, const std::vector<double>& parameters) {
  const auto slice = [&](std::size_t begin, std::size_t size) {
    return std::vector<double>(parameters.begin() + begin, parameters.begin() + begin + size);
  };
  const HostMatrix hidden = layers::dense_reference(x, slice(0, 64), slice(64, 8), 8, layers::reference::tanh);
  HostMatrix y = layers::dense_reference(hidden, slice(72, 64), slice(136, 8), 8, layers::reference::identity);
  for (std::size_t i = 0; i < y.values.size(); ++i)
    y.values[i] += x.values[i];
  return y;
}

} // namespace

BOOST_AUTO_TEST_SUITE(nn_residual)

BOOST_AUTO_TEST_CASE(residual_models_layer_and_its_parameters_are_the_inner_ones) {
  using Bound8 = nn::bind_t<Block, double, Space>;
  static_assert(nn::Layer<Bound8>);
  static_assert(nn::LayerSpec<Block, double, Space>);
  static_assert(nn::LayerSpec<Block, float, Space>);
  static_assert(nn::LayerSpec<Stack, float, Space>);
  const Bound8 block(8);
  BOOST_TEST(block.input_dim() == 8u);
  BOOST_TEST(block.output_dim() == 8u);
  BOOST_TEST(block.parameter_count() == 2u * (8u * 8u + 8u));
  BOOST_TEST(block.parameter_count() == block.inner().parameter_count());
  const nn::bind_t<Stack, double, Space> stack(5);
  BOOST_TEST(stack.output_dim() == 3u);
  // Dense 5→8, Block, LayerNorm 8 + Dense 8→8 twice, Dense 8→16 + Dense 16→8, Dense 8→3.
  BOOST_TEST(stack.parameter_count() == 48u + 144u + (16u + 144u) + (144u + 136u) + 27u);
}

BOOST_AUTO_TEST_CASE(residual_block_gradients_match_finite_differences) {
  osbi::testing::GradientCheckOptions options;
  options.seed = osbi::testing::test_seed();
  nn::bind_t<Block, double, Space> block(8);
  const auto input = layers::to_device<double>(layers::random_host(5, 8, 111));
  const auto report = osbi::testing::check_gradients(Space(), block, input, options);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.inputs_checked == 40u);
  BOOST_TEST(report.parameters_checked == 144u);
  // A block ending in an activation, whose backward reads the output it cached: the skip connection
  // must not be added into that output.
  nn::bind_t<nn::Residual<nn::Dense<8>, nn::Tanh>, double, Space> ends_in_tanh(8);
  const auto tanh_report = osbi::testing::check_gradients(Space(), ends_in_tanh, input, options);
  BOOST_TEST(tanh_report.passed(), tanh_report.summary());
}

BOOST_AUTO_TEST_CASE(residual_blocks_inside_a_sequential_and_a_network_match_finite_differences) {
  osbi::testing::GradientCheckOptions options;
  options.seed = osbi::testing::test_seed();
  const auto input = layers::to_device<double>(layers::random_host(4, 5, 112));
  nn::bind_t<Stack, double, Space> stack(5);
  auto report = osbi::testing::check_gradients(Space(), stack, input, options);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == stack.parameter_count());

  nn::Network<Stack, double, Space> network(5, osbi::testing::test_seed());
  report = osbi::testing::check_gradients(Space(), network, input, options);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.inputs_checked == 20u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(residual_forward_matches_double_reference_on_edge_batches, Scalar, Scalars) {
  Bound<nn::bind_t<Block, Scalar, Space>> bound(test_rng(121), 8);
  const std::vector<double> parameters = layers::to_host_vector(bound.parameters);
  for (const std::size_t batch : {0u, 1u, 7u, 64u, 1000u}) {
    const auto input = layers::to_device<Scalar>(layers::random_host(batch, 8, 122, 2.0));
    const HostMatrix x = layers::to_host(input);
    const auto output = layers::nan_matrix<Scalar>(batch, 8);
    bound.layer.forward(Space(), input, output);
    Space().fence();
    const double difference = layers::max_relative_difference(layers::to_host(output), block_reference(x, parameters));
    BOOST_TEST(difference <= layers::forward_tolerance<Scalar>(), "batch " << batch << " difference " << difference);
  }
}

BOOST_AUTO_TEST_CASE(residual_backward_adds_the_skip_path_and_skips_it_without_grad_input) {
  // With both Dense layers' parameters zero the inner path contributes nothing: grad_x = grad_y exactly,
  // and the parameter gradients are those of the inner Sequential alone.
  Bound<nn::bind_t<Block, double, Space>> bound(test_rng(131), 8);
  Kokkos::deep_copy(bound.parameters, 0.0);
  const auto input = layers::to_device<double>(layers::random_host(6, 8, 132));
  const auto upstream = layers::to_device<double>(layers::random_host(6, 8, 133));
  const auto output = layers::nan_matrix<double>(6, 8), grad_input = layers::nan_matrix<double>(6, 8);
  bound.layer.forward(Space(), input, output);
  Kokkos::deep_copy(bound.gradients, 0.0);
  bound.layer.backward(Space(), upstream, grad_input);
  Space().fence();
  BOOST_TEST(layers::to_host(grad_input).values == layers::to_host(upstream).values, boost::test_tools::per_element());
  BOOST_TEST(layers::to_host(output).values == layers::to_host(input).values, boost::test_tools::per_element());
  const std::vector<double> once = layers::to_host_vector(bound.gradients);
  bound.layer.backward(Space(), upstream, osbi::Matrix<double, Space>());
  Space().fence();
  const std::vector<double> twice = layers::to_host_vector(bound.gradients);
  for (std::size_t j = 0; j < once.size(); ++j)
    BOOST_TEST(twice[j] == 2 * once[j]);
}

BOOST_AUTO_TEST_CASE(residual_refuses_an_inner_width_change_naming_both_dimensions) {
  using Narrowing = nn::Residual<nn::Dense<8>, nn::Tanh, nn::Dense<7>>;
  std::string message = mismatch_message([] { nn::bind_t<Narrowing, double, Space> block(8); });
  BOOST_TEST(message.find("ResidualLayer") != std::string::npos, message);
  BOOST_TEST(message.find("input_dim 8") != std::string::npos, message);
  BOOST_TEST(message.find("output_dim 7") != std::string::npos, message);
  // Inside a Sequential the block's width comes from the previous layer: Dense<8> then a block that
  // keeps 8 wide is fine, the same block after Dense<6> is not.
  BOOST_CHECK_NO_THROW((nn::bind_t<nn::Sequential<nn::Dense<8>, Block>, double, Space>(3)));
  message = mismatch_message([] { nn::bind_t<nn::Sequential<nn::Dense<6>, Block>, double, Space> stack(3); });
  BOOST_TEST(message.find("input_dim 6") != std::string::npos, message);
  BOOST_TEST(message.find("output_dim 8") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(residual_wrong_shapes_throw_dimension_mismatch_naming_both_sizes) {
  Bound<nn::bind_t<Block, double, Space>> bound(test_rng(141), 8);
  auto& layer = bound.layer;
  using M = osbi::Matrix<double, Space>;
  std::string message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 9), M("y", 2, 8)); });
  BOOST_TEST(names_both(message, 9, 8), message);
  BOOST_TEST(message.find("ResidualLayer") != std::string::npos, message);
  message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 8), M("y", 2, 7)); });
  BOOST_TEST(names_both(message, 7, 8), message);
  message = mismatch_message([&] { layer.forward(Space(), M("x", 2, 8), M("y", 3, 8)); });
  BOOST_TEST(names_both(message, 3, 2), message);
  BOOST_CHECK_THROW(layer.backward(Space(), M("gy", 2, 8), M()), osbi::InvalidArgument); // before any forward

  const M x("x", 2, 8), y("y", 2, 8);
  layer.forward(Space(), x, y);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 5, 8), M()); });
  BOOST_TEST(names_both(message, 5, 2), message);
  message = mismatch_message([&] { layer.backward(Space(), M("gy", 2, 8), M("gx", 2, 6)); });
  BOOST_TEST(names_both(message, 6, 8), message);
  message = mismatch_message(
      [&] { layer.bind(osbi::Vector<double, Space>("p", 143), osbi::Vector<double, Space>("g", 144)); });
  BOOST_TEST(names_both(message, 143, 144), message);
}

#if defined(KOKKOS_ENABLE_OPENMP) && defined(KOKKOS_ENABLE_SERIAL)
BOOST_AUTO_TEST_CASE_TEMPLATE(residual_stack_is_identical_on_serial_and_openmp, Scalar, Scalars) {
  const std::size_t batch = 97;
  const HostMatrix x = layers::random_host(batch, 5, 151), upstream = layers::random_host(batch, 3, 152);
  const auto run = [&](auto space) {
    using ExecutionSpace = decltype(space);
    nn::Network<Stack, Scalar, ExecutionSpace> network(5, osbi::testing::test_seed());
    const auto input = layers::to_device<Scalar, ExecutionSpace>(x);
    const auto grad_output = layers::to_device<Scalar, ExecutionSpace>(upstream);
    const auto grad_input = layers::nan_matrix<Scalar, ExecutionSpace>(batch, 5);
    const auto output = network.forward(space, input);
    network.backward(space, grad_output, grad_input);
    space.fence();
    std::vector<Scalar> all(output.data(), output.data() + output.size());
    all.insert(all.end(), grad_input.data(), grad_input.data() + grad_input.size());
    const auto gradients = network.gradients();
    all.insert(all.end(), gradients.data(), gradients.data() + gradients.size());
    return all;
  };
  const auto serial = run(Kokkos::Serial()), openmp = run(Kokkos::OpenMP());
  BOOST_TEST_REQUIRE(serial.size() == openmp.size());
  BOOST_TEST(std::memcmp(serial.data(), openmp.data(), serial.size() * sizeof(Scalar)) == 0);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
