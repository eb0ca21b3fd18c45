// SPDX-License-Identifier: BSD-3-Clause
/// \brief Sequential and Network: whole-network and nested gradient checks, forward against a reference
/// computed from the flat buffer, the flat-buffer promise, buffer reuse, shape errors and determinism.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/network.hpp>
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
namespace act = osbi::nn::activation;
namespace support = osbi::testing::layers;
using support::HostMatrix;
using Space = osbi::DefaultExecutionSpace;

using Mlp = nn::Sequential<nn::Dense<16>, nn::Tanh, nn::Dense<8>, nn::GELU, nn::Dense<3>>;
using Nested = nn::Sequential<nn::Sequential<nn::Dense<6, nn::init::XavierUniform, act::SiLU>, nn::ELU>,
                              nn::Sequential<nn::Dense<4>, nn::Tanh>, nn::Dense<2, nn::init::KaimingNormal>>;
constexpr std::size_t mlp_in = 5;
constexpr std::size_t mlp_parameters = (5 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3);

/// Mlp's forward in double on the host, reading the weights from the flat buffer in the documented
/// layout: layer after layer, each [W out × in row-major | b].
HostMatrix mlp_reference(const HostMatrix& x, const std::vector<double>& flat) {
  std::size_t offset = 0;
  auto dense = [&](const HostMatrix& input, std::size_t out, double (*f)(double)) {
    const std::size_t in = input.columns;
    const std::vector<double> weight(flat.begin() + offset, flat.begin() + offset + out * in);
    const std::vector<double> bias(flat.begin() + offset + out * in, flat.begin() + offset + out * in + out);
    offset += out * in + out;
    return support::dense_reference(input, weight, bias, out, f);
  };
  const HostMatrix h1 = dense(x, 16, support::reference::tanh);
  const HostMatrix h2 = dense(h1, 8, support::reference::gelu);
  return dense(h2, 3, support::reference::identity);
}

using Scalars = std::tuple<float, double>;

} // namespace

BOOST_AUTO_TEST_SUITE(nn_sequential)

BOOST_AUTO_TEST_CASE(sequential_is_a_layer_spec_and_nests) {
  static_assert(nn::LayerSpec<Mlp, double, Space> && nn::LayerSpec<Mlp, float, Space>);
  static_assert(nn::LayerSpec<Nested, double, Space>);
  static_assert(nn::Layer<nn::bind_t<Nested, float, Kokkos::Serial>>);
  static_assert(
      std::is_same_v<nn::bind_t<Mlp, double, Space>::layer_type<1>, nn::ActivationLayer<double, Space, act::Tanh>>);
  const nn::bind_t<Mlp, double, Space> mlp(mlp_in);
  BOOST_TEST(mlp.input_dim() == mlp_in);
  BOOST_TEST(mlp.output_dim() == 3u);
  BOOST_TEST(mlp.parameter_count() == mlp_parameters);
  BOOST_TEST(mlp.get<2>().input_dim() == 16u);
  BOOST_TEST(mlp.parameter_offset<2>() == 96u);
  BOOST_TEST(mlp.parameter_offset<4>() == 96u + 136u);
  const nn::bind_t<Nested, double, Space> nested(3);
  BOOST_TEST(nested.output_dim() == 2u);
  BOOST_TEST(nested.parameter_count() == (3u * 6 + 6) + (6u * 4 + 4) + (4u * 2 + 2));
  BOOST_TEST(nested.get<1>().get<0>().input_dim() == 6u);
}

BOOST_AUTO_TEST_CASE(whole_network_gradients_match_finite_differences) {
  nn::Network<Mlp, double, Space> network(mlp_in, osbi::testing::test_seed());
  const auto input = support::to_device<double>(support::random_host(4, mlp_in, 101));
  const auto report = osbi::testing::check_gradients(Space(), network, input);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.inputs_checked == 4u * mlp_in);
  BOOST_TEST(report.parameters_checked == mlp_parameters);
}

BOOST_AUTO_TEST_CASE(nested_sequential_gradients_match_finite_differences) {
  const auto input = support::to_device<double>(support::random_host(3, 3, 102));
  nn::bind_t<Nested, double, Space> layer(3);
  auto report = osbi::testing::check_gradients(Space(), layer, input);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == layer.parameter_count());
  nn::Network<Nested, double, Space> network(3, osbi::testing::test_seed() + 1);
  report = osbi::testing::check_gradients(Space(), network, input);
  BOOST_TEST(report.passed(), report.summary());
  // A Sequential of one layer, and one that ends in an activation.
  nn::bind_t<nn::Sequential<nn::Dense<3, nn::init::TorchDefault, act::ReLU>>, double, Space> single(3);
  report = osbi::testing::check_gradients(Space(), single, input);
  BOOST_TEST(report.passed(), report.summary());
  nn::bind_t<nn::Sequential<nn::Dense<5>, nn::SiLU>, double, Space> trailing(3);
  report = osbi::testing::check_gradients(Space(), trailing, input);
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(network_forward_matches_reference_from_the_flat_buffer, Scalar, Scalars) {
  nn::Network<Mlp, Scalar, Space> network(mlp_in, osbi::testing::test_seed());
  const std::vector<double> flat = support::to_host_vector(network.parameters());
  for (const std::size_t batch : {0u, 1u, 7u, 64u, 7u}) {
    const HostMatrix x = support::random_host(batch, mlp_in, 103);
    HostMatrix x_rounded = x;
    for (double& v : x_rounded.values)
      v = static_cast<double>(static_cast<Scalar>(v));
    const auto output = network.forward(Space(), support::to_device<Scalar>(x));
    BOOST_TEST(output.extent(0) == batch);
    BOOST_TEST(output.extent(1) == 3u);
    const double difference =
        support::max_relative_difference(support::to_host(output), mlp_reference(x_rounded, flat));
    BOOST_TEST(difference <= 10 * support::forward_tolerance<Scalar>(), "batch " << batch << ": " << difference);
  }
}

BOOST_AUTO_TEST_CASE(sequential_forward_writes_every_output_entry) {
  nn::Network<Mlp, double, Space> network(mlp_in, 7);
  nn::bind_t<Mlp, double, Space>& layer = network.layer();
  const auto x = support::to_device<double>(support::random_host(9, mlp_in, 104));
  const auto output = support::nan_matrix<double>(9, 3);
  layer.forward(Space(), x, output);
  const HostMatrix y = support::to_host(output);
  for (const double v : y.values)
    BOOST_TEST(std::isfinite(v));
  const HostMatrix expected = mlp_reference(support::to_host(x), support::to_host_vector(network.parameters()));
  BOOST_TEST(support::max_relative_difference(y, expected) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(parameters_are_one_flat_buffer_that_the_layers_read) {
  nn::Network<Mlp, double, Space> network(mlp_in, osbi::testing::test_seed());
  const auto parameters = network.parameters();
  const auto gradients = network.gradients();
  BOOST_TEST(network.parameter_count() == mlp_parameters);
  BOOST_TEST(parameters.extent(0) == mlp_parameters);
  BOOST_TEST(gradients.extent(0) == mlp_parameters);
  BOOST_TEST(parameters.span_is_contiguous());
  auto& mlp = network.layer();
  BOOST_TEST(mlp.get<0>().weight().data() == parameters.data());
  BOOST_TEST(mlp.get<0>().bias().data() == parameters.data() + 80);
  BOOST_TEST(mlp.get<2>().weight().data() == parameters.data() + 96);
  BOOST_TEST(mlp.get<4>().weight().data() == parameters.data() + 232);
  BOOST_TEST(mlp.get<4>().bias().data() == parameters.data() + 256);
  BOOST_TEST(mlp.get<4>().bias_gradient().data() == gradients.data() + 256);
  BOOST_TEST(network.input_dim() == mlp_in);
  BOOST_TEST(network.output_dim() == 3u);

  const auto x = support::to_device<double>(support::random_host(5, mlp_in, 105));
  const HostMatrix before = support::to_host(network.forward(Space(), x));
  // +1 on the last layer's bias entry 1 moves output column 1 by 1 and nothing else.
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters);
  host(257) += 1.0;
  Kokkos::deep_copy(parameters, host);
  const HostMatrix after = support::to_host(network.forward(Space(), x));
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t c = 0; c < 3; ++c)
      BOOST_TEST(std::abs(after(r, c) - before(r, c) - (c == 1 ? 1.0 : 0.0)) <= 1e-12);
  // A first-layer weight moves every output.
  host(3) += 0.5;
  Kokkos::deep_copy(parameters, host);
  const HostMatrix moved = support::to_host(network.forward(Space(), x));
  BOOST_TEST(support::max_relative_difference(moved, after) > 1e-6);
}

BOOST_AUTO_TEST_CASE(buffers_grow_to_the_largest_batch_and_are_reused) {
  nn::Network<Mlp, double, Space> network(mlp_in, 3);
  const auto big = support::to_device<double>(support::random_host(64, mlp_in, 106));
  const auto small = support::to_device<double>(support::random_host(7, mlp_in, 107));
  const double* storage = network.forward(Space(), big).data();
  const auto seven = network.forward(Space(), small);
  BOOST_TEST(seven.data() == storage);
  BOOST_TEST(seven.extent(0) == 7u);
  BOOST_TEST(network.forward(Space(), big).data() == storage);
  BOOST_TEST(network.forward(Space(), osbi::Matrix<double, Space>("empty", 0, mlp_in)).extent(0) == 0u);
}

BOOST_AUTO_TEST_CASE(network_backward_accumulates_and_zero_gradients_resets) {
  nn::Network<Mlp, double, Space> network(mlp_in, 5);
  const auto x = support::to_device<double>(support::random_host(6, mlp_in, 108));
  const auto w = support::to_device<double>(support::random_host(6, 3, 109));
  network.forward(Space(), x);
  network.zero_gradients(Space());
  const auto grad_input = support::nan_matrix<double>(6, mlp_in);
  network.backward(Space(), w, grad_input);
  const std::vector<double> once = support::to_host_vector(network.gradients());
  for (const double v : support::to_host(grad_input).values)
    BOOST_TEST(std::isfinite(v));
  network.backward(Space(), w); // parameters only
  const std::vector<double> twice = support::to_host_vector(network.gradients());
  for (std::size_t i = 0; i < once.size(); ++i)
    BOOST_TEST(std::abs(twice[i] - 2 * once[i]) <= 1e-12 * (1 + std::abs(once[i])));
  network.zero_gradients(Space());
  for (const double v : support::to_host_vector(network.gradients()))
    BOOST_TEST(v == 0.0);
  // Batch 0: nothing to add.
  network.forward(Space(), osbi::Matrix<double, Space>("x0", 0, mlp_in));
  network.backward(Space(), osbi::Matrix<double, Space>("w0", 0, 3), osbi::Matrix<double, Space>("g0", 0, mlp_in));
  for (const double v : support::to_host_vector(network.gradients()))
    BOOST_TEST(v == 0.0);
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_dimension_mismatch_naming_both_sizes) {
  nn::Network<Mlp, double, Space> network(mlp_in, 5);
  std::string message =
      support::mismatch_message([&] { network.forward(Space(), osbi::Matrix<double, Space>("x", 2, 6)); });
  BOOST_TEST(support::names_both(message, 6, 5), message);
  network.forward(Space(), osbi::Matrix<double, Space>("x", 2, 5));
  message = support::mismatch_message([&] { network.backward(Space(), osbi::Matrix<double, Space>("w", 3, 3)); });
  BOOST_TEST(support::names_both(message, 3, 2), message);
  message = support::mismatch_message([&] { network.backward(Space(), osbi::Matrix<double, Space>("w", 2, 4)); });
  BOOST_TEST(support::names_both(message, 4, 3), message);
  message = support::mismatch_message([&] {
    network.backward(Space(), osbi::Matrix<double, Space>("w", 2, 3), osbi::Matrix<double, Space>("g", 2, 4));
  });
  BOOST_TEST(support::names_both(message, 4, 5), message);
  nn::bind_t<Mlp, double, Space> layer(mlp_in);
  message = support::mismatch_message(
      [&] { layer.bind(osbi::Vector<double, Space>("p", 10), osbi::Vector<double, Space>("g", 10)); });
  BOOST_TEST(support::names_both(message, 10, mlp_parameters), message);
  BOOST_TEST(message.find("SequentialLayer") != std::string::npos, message);
  message = support::mismatch_message(
      [&] { layer.forward(Space(), osbi::Matrix<double, Space>("x", 2, 5), osbi::Matrix<double, Space>("y", 2, 2)); });
  BOOST_TEST(support::names_both(message, 2, 3), message);
}

BOOST_AUTO_TEST_CASE(initialization_is_deterministic_and_backend_independent) {
  const std::uint64_t seed = osbi::testing::test_seed();
  nn::Network<Mlp, double, Kokkos::Serial> serial(mlp_in, seed);
  nn::Network<Mlp, double, Kokkos::OpenMP> openmp(mlp_in, seed);
  const auto a = support::to_host_vector(serial.parameters());
  const auto b = support::to_host_vector(openmp.parameters());
  BOOST_TEST(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  const HostMatrix x = support::random_host(7, mlp_in, 110);
  const HostMatrix ys =
      support::to_host(serial.forward(Kokkos::Serial(), support::to_device<double, Kokkos::Serial>(x)));
  const HostMatrix yo =
      support::to_host(openmp.forward(Kokkos::OpenMP(), support::to_device<double, Kokkos::OpenMP>(x)));
  BOOST_TEST(support::max_relative_difference(ys, yo) <= 1e-14);

  // A caller's stream hands each network its next batch: different parameters, stream advanced.
  osbi::RandomStream stream(seed, 3);
  nn::Network<Mlp, double, Space> first(mlp_in, stream), second(mlp_in, stream);
  BOOST_TEST(stream.batches_drawn() == 2u);
  BOOST_TEST(support::to_host_vector(first.parameters()) != support::to_host_vector(second.parameters()));
  nn::Network<Mlp, double, Space> different(mlp_in, seed + 1);
  BOOST_TEST(support::to_host_vector(different.parameters()) != a);
}

BOOST_AUTO_TEST_CASE(children_get_independent_generators) {
  // Two identical Dense layers in a row: child k draws from rng.split(k), so their weights differ.
  nn::Network<nn::Sequential<nn::Dense<8>, nn::Dense<8>>, double, Space> network(8, osbi::testing::test_seed());
  const auto flat = support::to_host_vector(network.parameters());
  const std::vector<double> first(flat.begin(), flat.begin() + 72), second(flat.begin() + 72, flat.end());
  BOOST_TEST(first != second);
  // And a child's values are those of the same layer initialized alone from split(k).
  support::Bound<nn::DenseLayer<double, Space>> alone(osbi::RandomStream(osbi::testing::test_seed()).next().split(1), 8,
                                                      8);
  BOOST_TEST(support::to_host_vector(alone.parameters) == second);
}

BOOST_AUTO_TEST_SUITE_END()
