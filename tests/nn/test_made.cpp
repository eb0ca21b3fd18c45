// SPDX-License-Identifier: BSD-3-Clause
/// \brief MaskedDenseLayer and the MADE helpers: nflows' degrees and masks, gradients (finite differences,
/// exact zeros under the mask), forward against a reference, and the autoregressive property of a MADE.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/masked_dense.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>
#include <support/test_seed.hpp>

#include <Eigen/Core>
#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace act = osbi::nn::activation;
namespace support = osbi::testing::layers;
using support::HostMatrix;
using Space = osbi::DefaultExecutionSpace;
using Degrees = std::vector<std::size_t>;
using Scalars = std::tuple<float, double>;

std::vector<double> as_double(const std::vector<std::uint8_t>& mask) { return {mask.begin(), mask.end()}; }

} // namespace

BOOST_AUTO_TEST_SUITE(nn_made)

BOOST_AUTO_TEST_CASE(degrees_follow_nflows_sequential_assignment) {
  BOOST_TEST(nn::made_input_degrees(4) == (Degrees{1, 2, 3, 4}));
  // nflows: arange(H) % max(1, D − 1) + min(1, D − 1)
  BOOST_TEST(nn::made_hidden_degrees(7, 4) == (Degrees{1, 2, 3, 1, 2, 3, 1}));
  BOOST_TEST(nn::made_hidden_degrees(3, 2) == (Degrees{1, 1, 1}));
  BOOST_TEST(nn::made_hidden_degrees(3, 1) == (Degrees{0, 0, 0}));
  // nflows: input degrees tiled (repeat) num_blocks times.
  BOOST_TEST(nn::made_output_degrees(8, 4) == (Degrees{1, 2, 3, 4, 1, 2, 3, 4}));
  BOOST_CHECK_THROW(nn::made_output_degrees(7, 4), osbi::InvalidArgument);
  BOOST_CHECK_THROW(nn::made_input_degrees(0), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(masks_compare_degrees_non_strictly_for_hidden_and_strictly_for_output) {
  const Degrees in{1, 2, 3};
  // hidden degrees 1, 2: unit o sees inputs of degree <= its own.
  BOOST_TEST(nn::made_mask(in, Degrees{1, 2}, nn::made::hidden) == (std::vector<std::uint8_t>{1, 0, 0, 1, 1, 0}));
  // output degrees 1, 2, 3: unit o sees inputs of degree < its own.
  BOOST_TEST(nn::made_mask(in, Degrees{1, 2, 3}, nn::made::output) ==
             (std::vector<std::uint8_t>{0, 0, 0, 1, 0, 0, 1, 1, 0}));
}

BOOST_AUTO_TEST_CASE(masked_dense_gradients_match_finite_differences_and_are_zero_under_the_mask) {
  const Degrees in = nn::made_input_degrees(5), hidden = nn::made_hidden_degrees(7, 5);
  const std::vector<std::uint8_t> mask = nn::made_mask(in, hidden, nn::made::hidden);
  auto check = [&](auto activation_tag) {
    using Activation = decltype(activation_tag);
    nn::MaskedDenseLayer<double, Space, Activation> layer(5, 7, mask);
    static_assert(nn::Layer<decltype(layer)>);
    const auto input = support::to_device<double>(support::random_host(4, 5, 201));
    const auto report = osbi::testing::check_gradients(Space(), layer, input);
    BOOST_TEST(report.passed(), report.summary());
    // The checker leaves one backward's gradients: exactly 0 wherever the mask is 0.
    const HostMatrix grad_weight = support::to_host(layer.weight_gradient());
    for (std::size_t o = 0; o < 7; ++o)
      for (std::size_t i = 0; i < 5; ++i)
        if (mask[o * 5 + i] == 0) BOOST_TEST(grad_weight(o, i) == 0.0);
  };
  check(act::Identity{});
  check(act::Tanh{});
  check(act::GELU{});
}

BOOST_AUTO_TEST_CASE(masked_weights_have_no_effect) {
  const std::vector<std::uint8_t> mask =
      nn::made_mask(nn::made_input_degrees(4), nn::made_output_degrees(4, 4), nn::made::output);
  support::Bound<nn::MaskedDenseLayer<double, Space>> bound(support::test_rng(202), std::size_t{4}, std::size_t{4},
                                                            mask);
  const auto x = support::to_device<double>(support::random_host(6, 4, 203));
  const auto before = support::nan_matrix<double>(6, 4), after = support::nan_matrix<double>(6, 4);
  bound.layer.forward(Space(), x, before);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), bound.parameters);
  for (std::size_t e = 0; e < 16; ++e)
    if (mask[e] == 0) host(e) = 1e6;
  Kokkos::deep_copy(bound.parameters, host);
  bound.layer.forward(Space(), x, after);
  BOOST_TEST(support::max_relative_difference(support::to_host(after), support::to_host(before)) == 0.0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(masked_dense_forward_matches_reference_on_edge_batches, Scalar, Scalars) {
  const std::vector<std::uint8_t> mask =
      nn::made_mask(nn::made_input_degrees(6), nn::made_hidden_degrees(11, 6), nn::made::hidden);
  support::Bound<nn::MaskedDenseLayer<Scalar, Space, act::SiLU>> bound(support::test_rng(204), std::size_t{6},
                                                                       std::size_t{11}, mask);
  const std::vector<double> flat = support::to_host_vector(bound.parameters);
  const std::vector<double> weight(flat.begin(), flat.begin() + 66), bias(flat.begin() + 66, flat.end());
  for (const std::size_t batch : {0u, 1u, 7u, 64u}) {
    HostMatrix x = support::random_host(batch, 6, 205);
    for (double& v : x.values)
      v = static_cast<double>(static_cast<Scalar>(v));
    const auto y = support::nan_matrix<Scalar>(batch, 11);
    bound.layer.forward(Space(), support::to_device<Scalar>(x), y);
    const HostMatrix expected =
        support::dense_reference(x, weight, bias, 11, support::reference::silu, as_double(mask));
    const double difference = support::max_relative_difference(support::to_host(y), expected);
    BOOST_TEST(difference <= support::forward_tolerance<Scalar>(), "batch " << batch);
  }
}

BOOST_AUTO_TEST_CASE(made_outputs_depend_only_on_inputs_of_lower_degree) {
  // D = 4 features, two hidden layers of 10, two outputs per feature (nflows' MADE layout).
  constexpr std::size_t features = 4, hidden = 10, outputs = 2 * features;
  const Degrees d_in = nn::made_input_degrees(features);
  const Degrees d_hidden = nn::made_hidden_degrees(hidden, features);
  const Degrees d_out = nn::made_output_degrees(outputs, features);
  support::Bound<nn::MaskedDenseLayer<double, Space, act::Tanh>> first(support::test_rng(206), features, hidden,
                                                                       nn::made_mask(d_in, d_hidden, nn::made::hidden));
  support::Bound<nn::MaskedDenseLayer<double, Space, act::Tanh>> second(
      support::test_rng(207), hidden, hidden, nn::made_mask(d_hidden, d_hidden, nn::made::hidden));
  support::Bound<nn::MaskedDenseLayer<double, Space>> last(support::test_rng(208), hidden, outputs,
                                                           nn::made_mask(d_hidden, d_out, nn::made::output));
  // Row k of the batch is the same point x; backward with grad_output = I gives row k = ∂out_k/∂x.
  const HostMatrix point = support::random_host(1, features, 209);
  HostMatrix x{outputs, features, {}};
  for (std::size_t k = 0; k < outputs; ++k)
    x.values.insert(x.values.end(), point.values.begin(), point.values.end());
  HostMatrix identity{outputs, outputs, std::vector<double>(outputs * outputs, 0.0)};
  for (std::size_t k = 0; k < outputs; ++k)
    identity(k, k) = 1.0;
  const auto input = support::to_device<double>(x);
  const auto h1 = support::nan_matrix<double>(outputs, hidden), h2 = support::nan_matrix<double>(outputs, hidden);
  const auto y = support::nan_matrix<double>(outputs, outputs);
  first.layer.forward(Space(), input, h1);
  second.layer.forward(Space(), h1, h2);
  last.layer.forward(Space(), h2, y);
  const auto g2 = support::nan_matrix<double>(outputs, hidden), g1 = support::nan_matrix<double>(outputs, hidden);
  const auto jacobian = support::nan_matrix<double>(outputs, features);
  last.layer.backward(Space(), support::to_device<double>(identity), g2);
  second.layer.backward(Space(), g2, g1);
  first.layer.backward(Space(), g1, jacobian);
  const HostMatrix j = support::to_host(jacobian);
  for (std::size_t k = 0; k < outputs; ++k)
    for (std::size_t i = 0; i < features; ++i) {
      if (d_in[i] >= d_out[k])
        BOOST_TEST(j(k, i) == 0.0, "output " << k << " (degree " << d_out[k] << ") on input " << i);
      else
        BOOST_TEST(j(k, i) != 0.0, "output " << k << " (degree " << d_out[k] << ") must see input " << i);
    }
  // The first output of each feature block sees nothing: a constant (its bias).
  for (std::size_t i = 0; i < features; ++i)
    BOOST_TEST(j(0, i) == 0.0);
}

// A mask of ones is not handed to the kernels (w·1 = w): the layer then is the dense layer, to the bit, and still
// reports its mask.
BOOST_AUTO_TEST_CASE(an_all_ones_mask_gives_the_dense_layer_bit_for_bit) {
  const std::vector<std::uint8_t> ones(7 * 5, 1);
  support::Bound<nn::MaskedDenseLayer<float, Space, act::Tanh>> masked(support::test_rng(206), std::size_t{5},
                                                                       std::size_t{7}, ones);
  support::Bound<nn::DenseLayer<float, Space, nn::init::TorchDefault, act::Tanh>> dense(
      support::test_rng(206), std::size_t{5}, std::size_t{7});
  BOOST_TEST(support::to_host_vector(masked.parameters) == support::to_host_vector(dense.parameters));
  BOOST_TEST(support::to_host(masked.layer.mask()).values == as_double(ones));
  const auto x = support::to_device<float>(support::random_host(37, 5, 207));
  const auto grad_y = support::to_device<float>(support::random_host(37, 7, 208));
  const auto y_masked = support::nan_matrix<float>(37, 7), y_dense = support::nan_matrix<float>(37, 7);
  const auto gx_masked = support::nan_matrix<float>(37, 5), gx_dense = support::nan_matrix<float>(37, 5);
  masked.layer.forward(Space(), x, y_masked);
  dense.layer.forward(Space(), x, y_dense);
  masked.layer.backward(Space(), grad_y, gx_masked);
  dense.layer.backward(Space(), grad_y, gx_dense);
  BOOST_TEST(support::to_host(y_masked).values == support::to_host(y_dense).values);
  BOOST_TEST(support::to_host(gx_masked).values == support::to_host(gx_dense).values);
  BOOST_TEST(support::to_host_vector(masked.gradients) == support::to_host_vector(dense.gradients));
}

BOOST_AUTO_TEST_CASE(masks_are_validated_and_eigen_masks_are_accepted) {
  std::string message = support::mismatch_message(
      [] { nn::MaskedDenseLayer<double, Space> layer(3, 2, std::vector<std::uint8_t>(5, 1)); });
  BOOST_TEST(support::names_both(message, 5, 6), message);
  BOOST_CHECK_THROW((nn::MaskedDenseLayer<double, Space>(2, 1, std::vector<std::uint8_t>{1, 2})),
                    osbi::InvalidArgument);
  Eigen::MatrixXd wrong(2, 2);
  wrong << 1, 0, 0.5, 1;
  BOOST_CHECK_THROW((nn::MaskedDenseLayer<double, Space>(2, 2, wrong)), osbi::InvalidArgument);
  message = support::mismatch_message([&] { nn::MaskedDenseLayer<double, Space> layer(3, 2, wrong); });
  BOOST_TEST(support::names_both(message, 2, 3), message);

  const std::vector<std::uint8_t> mask{1, 0, 1, 1, 1, 0};
  Eigen::Matrix<int, 2, 3, Eigen::RowMajor> eigen_mask;
  eigen_mask << 1, 0, 1, 1, 1, 0;
  const nn::MaskedDenseLayer<float, Space> from_vector(3, 2, mask), from_eigen(3, 2, eigen_mask);
  const HostMatrix a = support::to_host(from_vector.mask()), b = support::to_host(from_eigen.mask());
  BOOST_TEST(a.values == as_double(mask));
  BOOST_TEST(b.values == a.values);
}

BOOST_AUTO_TEST_SUITE_END()
