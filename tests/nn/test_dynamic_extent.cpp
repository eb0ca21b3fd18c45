// SPDX-License-Identifier: BSD-3-Clause
/// \brief Layers with run-time widths: Dense<dynamic_extent>, MaskedDense, Repeat and Sequential with dynamic
/// children — the layer contract and exact gradients through the generic checker, the same numbers as the static
/// forms, run-time sizes checked.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/masked_dense.hpp>
#include <osbi/nn/repeat.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace act = osbi::nn::activation;
namespace support = osbi::testing::layers;
using Space = osbi::DefaultExecutionSpace;
using nn::dynamic_extent;

using TanhDense = nn::Dense<dynamic_extent, nn::init::TorchDefault, act::Tanh>;
using DynamicMlp = nn::Sequential<TanhDense, nn::Dense<dynamic_extent>>;
using StaticMlp = nn::Sequential<nn::Dense<16, nn::init::TorchDefault, act::Tanh>, nn::Dense<3>>;
using HiddenBlock = nn::MaskedDense<dynamic_extent, nn::init::TorchDefault, act::Tanh>;

// The spec kinds: a dynamic extent makes a DynamicLayerSpec (not a LayerSpec), and a Sequential is dynamic exactly
// when a child is.
static_assert(nn::DynamicLayerSpec<nn::Dense<dynamic_extent>, double, Space>);
static_assert(!nn::LayerSpec<nn::Dense<dynamic_extent>, double, Space>);
static_assert(std::is_same_v<nn::bind_t<nn::Dense<dynamic_extent>, float, Space>, nn::DenseLayer<float, Space>>);
static_assert(nn::LayerSpec<StaticMlp, double, Space> && !nn::DynamicLayerSpec<StaticMlp, double, Space>);
static_assert(nn::DynamicLayerSpec<DynamicMlp, double, Space> && !nn::LayerSpec<DynamicMlp, double, Space>);
static_assert(std::is_same_v<DynamicMlp::dynamic_argument, std::tuple<std::size_t, std::size_t>>);
static_assert(nn::DynamicLayerSpec<nn::MaskedDense<4>, double, Space>);
static_assert(nn::DynamicLayerSpec<nn::Repeat<nn::Dense<6>>, double, Space>);
static_assert(std::is_same_v<nn::Repeat<HiddenBlock>::dynamic_argument, nn::Blocks<nn::MaskedWidth>>);

/// A MADE-like hidden mask: unit o sees unit i when o's degree >= i's.
std::vector<std::uint8_t> hidden_mask(std::size_t width) {
  const auto degrees = nn::made_hidden_degrees(width, 3);
  return nn::made_mask(degrees, degrees, nn::made::hidden);
}

osbi::testing::GradientCheckOptions seeded() {
  osbi::testing::GradientCheckOptions options;
  options.seed = osbi::testing::test_seed();
  return options;
}

} // namespace

BOOST_AUTO_TEST_SUITE(nn_dynamic_extent)

BOOST_AUTO_TEST_CASE(dense_with_a_run_time_width_is_the_static_layer) {
  // Same parameters, same input: the same output bits as Dense<16> … Dense<3>, and exact gradients.
  nn::bind_t<DynamicMlp, double, Space> dynamic(5, 16, 3);
  nn::bind_t<StaticMlp, double, Space> fixed(5);
  BOOST_TEST(dynamic.output_dim() == 3u);
  BOOST_TEST(dynamic.get<1>().input_dim() == 16u);
  BOOST_TEST(dynamic.parameter_count() == fixed.parameter_count());
  osbi::Vector<double, Space> parameters("parameters", fixed.parameter_count()), gradients("g", fixed.parameter_count());
  fixed.bind(parameters, gradients);
  fixed.initialize(Space(), support::test_rng(1));
  dynamic.bind(parameters, gradients);
  const auto x = support::to_device<double>(support::random_host(7, 5, 2));
  osbi::Matrix<double, Space> a("a", 7, 3), b("b", 7, 3);
  fixed.forward(Space(), x, a);
  dynamic.forward(Space(), x, b);
  BOOST_TEST(support::to_host(a).values == support::to_host(b).values);

  nn::bind_t<DynamicMlp, double, Space> checked(5, std::tuple<std::size_t, std::size_t>{16, 3});
  const auto report = osbi::testing::check_gradients(Space(), checked, x, seeded());
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == checked.parameter_count());
  BOOST_CHECK_THROW((nn::bind_t<DynamicMlp, double, Space>(5, 0, 3)), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(masked_dense_specs_take_their_mask_at_run_time) {
  const auto x = support::to_device<double>(support::random_host(4, 6, 3));
  nn::bind_t<HiddenBlock, double, Space> dynamic(6, nn::MaskedWidth{6, hidden_mask(6)});
  auto report = osbi::testing::check_gradients(Space(), dynamic, x, seeded());
  BOOST_TEST(report.passed(), report.summary());
  nn::bind_t<nn::MaskedDense<6>, double, Space> fixed(6, hidden_mask(6));
  report = osbi::testing::check_gradients(Space(), fixed, x, seeded());
  BOOST_TEST(report.passed(), report.summary());
  // Entries under a 0 of the mask get exactly 0 gradient.
  const auto mask = hidden_mask(6);
  const auto gradient = support::to_host(dynamic.weight_gradient()).values;
  for (std::size_t k = 0; k < mask.size(); ++k)
    if (mask[k] == 0) BOOST_TEST(gradient[k] == 0.0);
  BOOST_CHECK_THROW((nn::bind_t<HiddenBlock, double, Space>(6, nn::MaskedWidth{5, hidden_mask(6)})),
                    osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(repeat_chains_a_run_time_number_of_identical_blocks) {
  using Block = nn::Dense<6, nn::init::TorchDefault, act::Tanh>;
  const auto x = support::to_device<double>(support::random_host(5, 6, 4));
  for (const std::size_t count : {0u, 1u, 3u}) {
    nn::bind_t<nn::Repeat<Block>, double, Space> repeat(6, count);
    BOOST_TEST(repeat.size() == count);
    BOOST_TEST(repeat.parameter_count() == count * (6u * 6u + 6u));
    const auto report = osbi::testing::check_gradients(Space(), repeat, x, seeded());
    BOOST_TEST(report.passed(), "count " << count << ": " << report.summary());
    BOOST_TEST(report.inputs_checked == 5u * 6u);
  }
  // Zero blocks are the identity.
  nn::bind_t<nn::Repeat<Block>, double, Space> none(6, 0);
  osbi::Matrix<double, Space> y("y", 5, 6);
  none.forward(Space(), x, y);
  BOOST_TEST(support::to_host(y).values == support::to_host(x).values);
  // Three blocks compute block 2 ∘ block 1 ∘ block 0, each block k initialized from rng.split(k).
  nn::bind_t<nn::Repeat<Block>, double, Space> three(6, 3);
  osbi::Vector<double, Space> parameters("p", three.parameter_count()), gradients("g", three.parameter_count());
  three.bind(parameters, gradients);
  three.initialize(Space(), support::test_rng(5));
  three.forward(Space(), x, y);
  osbi::Matrix<double, Space> a("a", 5, 6), b("b", 5, 6);
  three.block(0).forward(Space(), x, a);
  three.block(1).forward(Space(), a, b);
  three.block(2).forward(Space(), b, a);
  BOOST_TEST(support::to_host(y).values == support::to_host(a).values);
  nn::bind_t<nn::Dense<6>, double, Space> lone(6);
  osbi::Vector<double, Space> lone_p("p", lone.parameter_count()), lone_g("g", lone.parameter_count());
  lone.bind(lone_p, lone_g);
  lone.initialize(Space(), support::test_rng(5).split(1));
  const auto second = support::to_host_vector(Kokkos::subview(parameters, std::make_pair(42, 84)));
  BOOST_TEST(second == support::to_host_vector(lone_p));
  // A block that changes the width cannot repeat.
  BOOST_CHECK_THROW((nn::bind_t<nn::Repeat<nn::Dense<4>>, double, Space>(6, 2)), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(sequential_takes_the_dynamic_children_arguments_in_order_and_nests) {
  // [6] → Repeat of 2 masked tanh blocks (width 6) → Dense<dynamic> (width 4) → Tanh → Dense<2>, and the same inside
  // an outer Sequential (the inner one's arguments as one tuple).
  using Inner = nn::Sequential<nn::Repeat<HiddenBlock>, nn::Dense<dynamic_extent>, nn::Tanh, nn::Dense<2>>;
  using Outer = nn::Sequential<nn::Dense<6>, Inner>;
  static_assert(nn::DynamicLayerSpec<Outer, double, Space>);
  const nn::Blocks<nn::MaskedWidth> blocks{2, {6, hidden_mask(6)}};
  nn::bind_t<Inner, double, Space> inner(6, blocks, std::size_t{4});
  BOOST_TEST(inner.parameter_count() == 2u * (6u * 6u + 6u) + (6u * 4u + 4u) + (4u * 2u + 2u));
  BOOST_TEST(inner.get<0>().size() == 2u);
  nn::bind_t<Outer, double, Space> outer(3, Inner::dynamic_argument{blocks, 4});
  BOOST_TEST(outer.output_dim() == 2u);
  BOOST_TEST(outer.parameter_count() == (3u * 6u + 6u) + inner.parameter_count());
  const auto inner_report =
      osbi::testing::check_gradients(Space(), inner, support::to_device<double>(support::random_host(4, 6, 6)), seeded());
  BOOST_TEST(inner_report.passed(), inner_report.summary());
  const auto report =
      osbi::testing::check_gradients(Space(), outer, support::to_device<double>(support::random_host(4, 3, 7)), seeded());
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == outer.parameter_count());
}

BOOST_AUTO_TEST_SUITE_END()
