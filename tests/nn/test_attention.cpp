// SPDX-License-Identifier: BSD-3-Clause
/// \brief Multi-head attention (self and pooling), Tokenwise and the pre-LayerNorm transformer block:
/// forward against a plain double-precision reference on odd shapes (one token, one head, a masked row),
/// finite differences over every input and parameter with and without a key mask, shape errors, and the
/// pooling layer's invariance to the order of the tokens.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/attention.hpp>
#include <osbi/nn/kernels/attention.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/nn/patch_embedding.hpp>
#include <osbi/nn/tokenwise.hpp>
#include <osbi/nn/transformer.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace layers = osbi::testing::layers;
using layers::Bound;
using layers::HostMatrix;
using layers::test_rng;
using Space = osbi::DefaultExecutionSpace;
using Scalars = std::tuple<float, double>;
using Mask = Kokkos::View<std::uint8_t**, Kokkos::LayoutRight, Space::memory_space>;

struct Case {
  std::size_t batch, tokens, width, heads, queries; // queries 0: self-attention
  bool masked;
};

/// keep(n, t): the last row keeps no key at all, the others drop every third key (never key 0).
std::vector<std::uint8_t> mask_pattern(std::size_t batch, std::size_t tokens) {
  std::vector<std::uint8_t> keep(batch * tokens, 1);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t t = 0; t < tokens; ++t)
      keep[n * tokens + t] = (batch > 1 && n + 1 == batch) ? 0 : static_cast<std::uint8_t>(t % 3 != 2);
  return keep;
}

Mask to_device_mask(const std::vector<std::uint8_t>& keep, std::size_t batch, std::size_t tokens) {
  Mask mask("osbi::test::mask", batch, tokens);
  auto host = Kokkos::create_mirror_view(mask);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t t = 0; t < tokens; ++t) host(n, t) = keep[n * tokens + t];
  Kokkos::deep_copy(mask, host);
  return mask;
}

/// PyTorch's nn.MultiheadAttention in double from the flat parameters [W_in | b_in | W_o | b_o | S].
HostMatrix attention_reference(const HostMatrix& x, const std::vector<double>& p, const Case& c,
                               const std::vector<std::uint8_t>& keep) {
  const std::size_t w = c.width, d = w / c.heads, T = c.tokens, M = c.queries > 0 ? c.queries : T;
  auto W_in = [&](std::size_t r, std::size_t k) { return p[r * w + k]; };
  auto b_in = [&](std::size_t r) { return p[3 * w * w + r]; };
  auto W_o = [&](std::size_t r, std::size_t k) { return p[3 * w * w + 3 * w + r * w + k]; };
  auto b_o = [&](std::size_t r) { return p[4 * w * w + 3 * w + r]; };
  auto seed = [&](std::size_t m, std::size_t k) { return p[4 * w * w + 4 * w + m * w + k]; };
  HostMatrix y{x.rows, M * w, std::vector<double>(x.rows * M * w)};
  for (std::size_t n = 0; n < x.rows; ++n) {
    // Projections: q from the seeds when pooling, else from x; k, v from x.
    std::vector<double> q(M * w), k(T * w), v(T * w), o(M * w, 0.0);
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t r = 0; r < w; ++r) {
        double kk = b_in(w + r), vv = b_in(2 * w + r);
        for (std::size_t i = 0; i < w; ++i) {
          kk += W_in(w + r, i) * x(n, t * w + i);
          vv += W_in(2 * w + r, i) * x(n, t * w + i);
        }
        k[t * w + r] = kk;
        v[t * w + r] = vv;
      }
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t r = 0; r < w; ++r) {
        double qq = b_in(r);
        for (std::size_t i = 0; i < w; ++i) qq += W_in(r, i) * (c.queries > 0 ? seed(m, i) : x(n, m * w + i));
        q[m * w + r] = qq;
      }
    for (std::size_t h = 0; h < c.heads; ++h)
      for (std::size_t m = 0; m < M; ++m) {
        std::vector<double> s(T);
        double maximum = -std::numeric_limits<double>::infinity();
        for (std::size_t t = 0; t < T; ++t) {
          double dot = 0;
          for (std::size_t e = 0; e < d; ++e) dot += q[m * w + h * d + e] * k[t * w + h * d + e];
          s[t] = dot / std::sqrt(double(d));
          if (keep.empty() || keep[n * T + t]) maximum = std::max(maximum, s[t]);
        }
        if (std::isinf(maximum)) continue; // every key masked: zero attention output
        double total = 0;
        for (std::size_t t = 0; t < T; ++t) {
          s[t] = (keep.empty() || keep[n * T + t]) ? std::exp(s[t] - maximum) : 0.0;
          total += s[t];
        }
        for (std::size_t t = 0; t < T; ++t)
          for (std::size_t e = 0; e < d; ++e) o[m * w + h * d + e] += s[t] / total * v[t * w + h * d + e];
      }
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t r = 0; r < w; ++r) {
        double total = b_o(r);
        for (std::size_t i = 0; i < w; ++i) total += W_o(r, i) * o[m * w + i];
        y(n, m * w + r) = total;
      }
  }
  return y;
}

const std::vector<Case> odd_cases = {
    {3, 1, 4, 1, 0, false}, // one token, one head
    {2, 5, 6, 3, 0, false}, // head width 2
    {4, 7, 8, 2, 0, true},  // masked keys, and a row with every key masked
    {3, 9, 12, 4, 0, true},
    {3, 4, 4, 2, 0, true},  // small enough for finite differences, masked
    {2, 6, 8, 2, 1, false}, // pooling with one query
    {4, 5, 6, 3, 3, true},  // pooling with three queries and masks
};

} // namespace

BOOST_AUTO_TEST_SUITE(attention)

BOOST_AUTO_TEST_CASE_TEMPLATE(forward_matches_double_reference_on_odd_shapes, Scalar, Scalars) {
  for (const Case& c : odd_cases) {
    const nn::AttentionSize size{c.width, c.heads, c.queries};
    Bound<nn::MultiHeadAttentionLayer<Scalar, Space>> bound(test_rng(11), c.tokens * c.width, size);
    auto& layer = bound.layer;
    // Random parameters (biases included), rounded to Scalar before the reference sees them.
    const HostMatrix random_parameters = layers::random_host(1, layer.parameter_count(), 12, 0.4);
    const auto parameters = layers::to_device<Scalar>(random_parameters);
    Kokkos::deep_copy(bound.parameters, Kokkos::subview(parameters, 0, Kokkos::ALL));
    const std::vector<double> p = layers::to_host_vector(bound.parameters);
    const HostMatrix x = layers::random_host(c.batch, c.tokens * c.width, 13);
    const std::vector<std::uint8_t> keep = c.masked ? mask_pattern(c.batch, c.tokens) : std::vector<std::uint8_t>{};
    if (c.masked) layer.set_key_padding_mask(to_device_mask(keep, c.batch, c.tokens));
    const auto output = layers::nan_matrix<Scalar>(c.batch, layer.output_dim());
    layer.forward(Space(), layers::to_device<Scalar>(x), output);
    Space().fence();
    const double error = layers::max_relative_difference(layers::to_host(output), attention_reference(x, p, c, keep));
    BOOST_TEST(error < 50 * layers::forward_tolerance<Scalar>(),
               "batch " << c.batch << " tokens " << c.tokens << " width " << c.width << " heads " << c.heads
                        << " queries " << c.queries << " masked " << c.masked << ": error " << error);
    // Every probability row of a query with a kept key sums to 1; masked keys get exactly 0.
    const std::vector<double> probabilities = layers::to_host_vector(layer.probabilities());
    const std::size_t queries = layer.query_count();
    for (std::size_t n = 0; n < c.batch; ++n)
      for (std::size_t h = 0; h < c.heads; ++h)
        for (std::size_t i = 0; i < queries; ++i) {
          double total = 0, masked_mass = 0;
          bool any_kept = false;
          for (std::size_t t = 0; t < c.tokens; ++t) {
            const double value = probabilities[((n * c.heads + h) * queries + i) * c.tokens + t];
            const bool kept = keep.empty() || keep[n * c.tokens + t];
            any_kept = any_kept || kept;
            (kept ? total : masked_mass) += value;
          }
          BOOST_TEST(masked_mass == 0.0);
          BOOST_TEST(std::abs(total - (any_kept ? 1.0 : 0.0)) < 1e-5);
        }
  }
}

BOOST_AUTO_TEST_CASE(finite_differences_over_every_input_and_parameter) {
  for (const Case& c : odd_cases) {
    if (c.batch * c.tokens * c.width > 200) continue; // the checker runs two forwards per entry
    nn::MultiHeadAttentionLayer<double, Space> layer(c.tokens * c.width, nn::AttentionSize{c.width, c.heads, c.queries});
    if (c.masked) layer.set_key_padding_mask(to_device_mask(mask_pattern(c.batch, c.tokens), c.batch, c.tokens));
    const auto input = layers::to_device<double>(layers::random_host(c.batch, c.tokens * c.width, 21));
    const auto report = osbi::testing::check_gradients(Space(), layer, input);
    BOOST_TEST(report.passed(), "tokens " << c.tokens << " width " << c.width << " heads " << c.heads << " queries "
                                          << c.queries << " masked " << c.masked << ": " << report.summary());
    BOOST_TEST(report.inputs_checked == c.batch * c.tokens * c.width);
    BOOST_TEST(report.parameters_checked == layer.parameter_count());
  }
}

/// The attention kernels' backward in double from Q, K, V (each n × tokens × heads·d, heads adjacent) and dO:
/// S = QKᵀ/√d, P = softmax over the kept keys, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d, dQ = dS K,
/// dK = dSᵀ Q, dV = Pᵀ dO. Returns {dQ, dK, dV} in the same layout.
std::array<std::vector<double>, 3> attention_backward_reference(const std::vector<double>& q, const std::vector<double>& k,
                                                                const std::vector<double>& v, const std::vector<double>& dO,
                                                                const std::vector<std::uint8_t>& keep, std::size_t batch,
                                                                std::size_t heads, std::size_t d, std::size_t M, std::size_t T) {
  const std::size_t w = heads * d;
  std::array<std::vector<double>, 3> out{std::vector<double>(batch * M * w, 0.0), std::vector<double>(batch * T * w, 0.0),
                                         std::vector<double>(batch * T * w, 0.0)};
  auto& [dq, dk, dv] = out;
  const double scale = 1.0 / std::sqrt(double(d));
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t m = 0; m < M; ++m) {
        auto at = [&](std::size_t tokens, std::size_t t, std::size_t e) { return (n * tokens + t) * w + h * d + e; };
        std::vector<double> p(T, 0.0), dp(T, 0.0);
        double maximum = -std::numeric_limits<double>::infinity();
        for (std::size_t t = 0; t < T; ++t) {
          for (std::size_t e = 0; e < d; ++e) p[t] += q[at(M, m, e)] * k[at(T, t, e)] * scale;
          if (keep.empty() || keep[n * T + t]) maximum = std::max(maximum, p[t]);
        }
        if (std::isinf(maximum)) continue; // every key masked: P = 0, no gradient
        double total = 0;
        for (std::size_t t = 0; t < T; ++t) total += p[t] = (keep.empty() || keep[n * T + t]) ? std::exp(p[t] - maximum) : 0.0;
        double centre = 0;
        for (std::size_t t = 0; t < T; ++t) {
          p[t] /= total;
          for (std::size_t e = 0; e < d; ++e) dp[t] += dO[at(M, m, e)] * v[at(T, t, e)];
          centre += p[t] * dp[t];
        }
        for (std::size_t t = 0; t < T; ++t) {
          const double ds = p[t] * (dp[t] - centre) * scale;
          for (std::size_t e = 0; e < d; ++e) {
            dq[at(M, m, e)] += ds * k[at(T, t, e)];
            dk[at(T, t, e)] += ds * q[at(M, m, e)];
            dv[at(T, t, e)] += p[t] * dO[at(M, m, e)];
          }
        }
      }
  return out;
}

BOOST_AUTO_TEST_CASE(float_kernels_backward_matches_double_reference_on_wide_heads) {
  // Head widths and token counts past the host micro-kernel's panel width (16 floats with AVX2, 32 with AVX-512):
  // several panels, a partial last one, and the half-width panels of narrow heads; NaN-filled gradients before.
  struct Shape {
    std::size_t batch, heads, d, queries, keys;
    bool masked;
  };
  const Shape shapes[] = {{2, 2, 20, 19, 19, false}, {2, 3, 8, 37, 37, true}, {3, 1, 40, 5, 70, true}, {1, 2, 16, 64, 64, false}};
  namespace kernels = osbi::nn::kernels;
  for (const Shape& c : shapes) {
    const std::size_t w = c.heads * c.d;
    // Operands as 1 × (tokens·w) device rows (to_device rounds to float; the reference gets the same rounded values).
    const HostMatrix q = layers::random_host(1, c.batch * c.queries * w, 61), k = layers::random_host(1, c.batch * c.keys * w, 62),
                     v = layers::random_host(1, c.batch * c.keys * w, 63), dO = layers::random_host(1, c.batch * c.queries * w, 64);
    const auto rounded = [](std::vector<double> values) {
      for (double& x : values) x = double(float(x));
      return values;
    };
    const auto vq = layers::to_device<float>(q), vk = layers::to_device<float>(k), vv = layers::to_device<float>(v),
               vdo = layers::to_device<float>(dO);
    const auto out = layers::nan_matrix<float>(1, c.batch * c.queries * w), dq = layers::nan_matrix<float>(1, c.batch * c.queries * w),
               dk = layers::nan_matrix<float>(1, c.batch * c.keys * w), dv = layers::nan_matrix<float>(1, c.batch * c.keys * w),
               p = layers::nan_matrix<float>(1, c.batch * c.heads * c.queries * c.keys);
    const std::vector<std::uint8_t> keep = c.masked ? mask_pattern(c.batch, c.keys) : std::vector<std::uint8_t>{};
    const Mask keep_mask = c.masked ? to_device_mask(keep, c.batch, c.keys) : Mask{};
    const kernels::AttentionShape shape{c.batch, c.heads, c.d, c.queries, c.keys};
    const auto tokens = [&](const auto& row, std::size_t count) {
      return kernels::TokenOperand<const float>{row.data(), std::ptrdiff_t(count * w), std::ptrdiff_t(w)};
    };
    const auto writable = [&](const auto& row, std::size_t count) {
      return kernels::TokenOperand<float>{row.data(), std::ptrdiff_t(count * w), std::ptrdiff_t(w)};
    };
    kernels::attention_forward<float>(Space(), shape, tokens(vq, c.queries), tokens(vk, c.keys), tokens(vv, c.keys),
                                      c.masked ? keep_mask.data() : nullptr, p.data(), writable(out, c.queries));
    kernels::attention_backward<float>(Space(), shape, tokens(vq, c.queries), tokens(vk, c.keys), tokens(vv, c.keys), p.data(),
                                       tokens(vdo, c.queries), writable(dq, c.queries), writable(dk, c.keys),
                                       writable(dv, c.keys));
    const auto reference = attention_backward_reference(rounded(q.values), rounded(k.values), rounded(v.values),
                                                        rounded(dO.values), keep, c.batch, c.heads, c.d, c.queries, c.keys);
    const HostMatrix got[3] = {layers::to_host(dq), layers::to_host(dk), layers::to_host(dv)};
    const char* names[3] = {"dQ", "dK", "dV"};
    for (int g = 0; g < 3; ++g) {
      double largest = 0, error = 0;
      for (std::size_t i = 0; i < reference[g].size(); ++i) largest = std::max(largest, std::abs(reference[g][i]));
      for (std::size_t i = 0; i < reference[g].size(); ++i)
        error = std::max(error, std::isfinite(got[g].values[i]) ? std::abs(got[g].values[i] - reference[g][i]) : HUGE_VAL);
      BOOST_TEST(error <= 2e-5 * largest, names[g] << " heads " << c.heads << " d " << c.d << " queries " << c.queries << " keys "
                                                   << c.keys << ": error " << error << " of largest " << largest);
    }
  }
}

BOOST_AUTO_TEST_CASE(masked_keys_change_nothing_and_get_no_gradient) {
  // Row 0 has 3 real tokens; appending padding tokens with any values, masked, leaves its output alone.
  const std::size_t width = 4, heads = 2;
  Bound<nn::MultiHeadAttentionLayer<double, Space>> pooled_short(test_rng(31), 3 * width,
                                                                 nn::AttentionSize{width, heads, 2});
  Bound<nn::MultiHeadAttentionLayer<double, Space>> pooled_long(test_rng(31), 5 * width,
                                                                nn::AttentionSize{width, heads, 2});
  const HostMatrix x_long = layers::random_host(1, 5 * width, 32);
  HostMatrix x_short{1, 3 * width, std::vector<double>(x_long.values.begin(), x_long.values.begin() + 3 * width)};
  pooled_long.layer.set_key_padding_mask(to_device_mask({1, 1, 1, 0, 0}, 1, 5));
  const auto y_short = layers::nan_matrix<double>(1, 2 * width), y_long = layers::nan_matrix<double>(1, 2 * width);
  pooled_short.layer.forward(Space(), layers::to_device<double>(x_short), y_short);
  const auto device_long = layers::to_device<double>(x_long);
  pooled_long.layer.forward(Space(), device_long, y_long);
  BOOST_TEST(layers::max_relative_difference(layers::to_host(y_long), layers::to_host(y_short)) < 1e-14);
  // The padded tokens' input gradient is exactly zero.
  const auto upstream = layers::to_device<double>(layers::random_host(1, 2 * width, 33));
  const auto grad_input = layers::nan_matrix<double>(1, 5 * width);
  pooled_long.layer.backward(Space(), upstream, grad_input);
  const HostMatrix g = layers::to_host(grad_input);
  for (std::size_t j = 3 * width; j < 5 * width; ++j) BOOST_TEST(g(0, j) == 0.0);
}

BOOST_AUTO_TEST_CASE(pooling_is_invariant_to_the_order_of_the_tokens) {
  const std::size_t width = 6, heads = 3, tokens = 7;
  Bound<nn::MultiHeadAttentionLayer<float, Space>> bound(test_rng(41), tokens * width, nn::AttentionSize{width, heads, 2});
  const HostMatrix x = layers::random_host(3, tokens * width, 42);
  HostMatrix permuted = x;
  const std::size_t order[tokens] = {4, 0, 6, 2, 1, 5, 3};
  for (std::size_t n = 0; n < x.rows; ++n)
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t e = 0; e < width; ++e) permuted(n, t * width + e) = x(n, order[t] * width + e);
  const auto y = layers::nan_matrix<float>(3, 2 * width), y_permuted = layers::nan_matrix<float>(3, 2 * width);
  bound.layer.forward(Space(), layers::to_device<float>(x), y);
  bound.layer.forward(Space(), layers::to_device<float>(permuted), y_permuted);
  BOOST_TEST(layers::max_relative_difference(layers::to_host(y_permuted), layers::to_host(y)) < 1e-5);
}

BOOST_AUTO_TEST_CASE(bad_shapes_are_rejected_with_clear_errors) {
  using Layer = nn::MultiHeadAttentionLayer<float, Space>;
  const std::string heads_message = layers::mismatch_message([] { Layer(4 * 6, nn::AttentionSize{6, 4, 0}); });
  BOOST_TEST(heads_message.find("width 6 is not divisible by heads 4") != std::string::npos, heads_message);
  const std::string tokens_message = layers::mismatch_message([] { Layer(10, nn::AttentionSize{4, 2, 0}); });
  BOOST_TEST(tokens_message.find("not a whole number of 4-wide tokens") != std::string::npos, tokens_message);
  Bound<Layer> bound(test_rng(51), 3 * 4, nn::AttentionSize{4, 2, 0});
  bound.layer.set_key_padding_mask(to_device_mask(std::vector<std::uint8_t>(2 * 3, 1), 2, 3));
  const std::string mask_message = layers::mismatch_message([&] {
    bound.layer.forward(Space(), layers::to_device<float>(layers::random_host(5, 12, 52)), layers::nan_matrix<float>(5, 12));
  });
  BOOST_TEST(layers::names_both(mask_message, 2, 5), mask_message);
}

BOOST_AUTO_TEST_CASE(tokenwise_applies_the_same_layers_to_every_token) {
  using Spec = nn::Tokenwise<3, nn::Dense<5>, nn::Tanh>;
  Bound<nn::bind_t<Spec, double, Space>> tokenwise(test_rng(61), 4 * 3);
  BOOST_TEST(tokenwise.layer.output_dim() == 4u * 5u);
  BOOST_TEST(tokenwise.layer.parameter_count() == 3u * 5u + 5u);
  const HostMatrix x = layers::random_host(2, 12, 62);
  const auto y = layers::nan_matrix<double>(2, 20);
  tokenwise.layer.forward(Space(), layers::to_device<double>(x), y);
  const std::vector<double> p = layers::to_host_vector(tokenwise.parameters);
  const HostMatrix actual = layers::to_host(y);
  double worst = 0;
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t t = 0; t < 4; ++t)
      for (std::size_t o = 0; o < 5; ++o) {
        double total = p[15 + o];
        for (std::size_t i = 0; i < 3; ++i) total += p[o * 3 + i] * x(n, t * 3 + i);
        worst = std::max(worst, std::abs(actual(n, t * 5 + o) - std::tanh(total)));
      }
  BOOST_TEST(worst < 1e-14);
  nn::bind_t<Spec, double, Space> fresh(12);
  const auto report = osbi::testing::check_gradients(Space(), fresh, layers::to_device<double>(x));
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(transformer_encoder_block_finite_differences) {
  using Block = nn::TransformerEncoderBlock<4, 2, 8>;
  nn::bind_t<Block, double, Space> block(3 * 4);
  BOOST_TEST(block.output_dim() == 12u);
  const auto input = layers::to_device<double>(layers::random_host(2, 12, 71));
  const auto report = osbi::testing::check_gradients(Space(), block, input);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == block.parameter_count());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transformer_pieces)

BOOST_AUTO_TEST_CASE(sinusoidal_table_has_vaswanis_values) {
  const std::size_t width = 6, tokens = 3;
  nn::PositionalEncodingLayer<double, Space> layer(tokens * width, width, nn::Positions::sinusoidal);
  BOOST_TEST(layer.parameter_count() == 0u);
  const std::vector<double> table = layers::to_host_vector(layer.table());
  for (std::size_t t = 0; t < tokens; ++t)
    for (std::size_t i = 0; i < width / 2; ++i) {
      const double angle = double(t) / std::pow(10000.0, 2.0 * double(i) / double(width));
      BOOST_TEST(std::abs(table[t * width + 2 * i] - std::sin(angle)) < 1e-15);
      BOOST_TEST(std::abs(table[t * width + 2 * i + 1] - std::cos(angle)) < 1e-15);
    }
}

BOOST_AUTO_TEST_CASE(positions_and_token_mean_finite_differences) {
  const auto input = layers::to_device<double>(layers::random_host(3, 4 * 5, 81));
  for (const nn::Positions kind : {nn::Positions::sinusoidal, nn::Positions::learned}) {
    nn::PositionalEncodingLayer<double, Space> positions(20, 5, kind);
    const auto report = osbi::testing::check_gradients(Space(), positions, input);
    BOOST_TEST(report.passed(), report.summary());
    BOOST_TEST(report.parameters_checked == (kind == nn::Positions::learned ? 20u : 0u));
  }
  nn::TokenMeanLayer<double, Space> mean(20, 5);
  const auto report = osbi::testing::check_gradients(Space(), mean, input);
  BOOST_TEST(report.passed(), report.summary());
  // The mean of tokens (1, 2, 3, 4)·c is 2.5·c.
  HostMatrix x{1, 20, std::vector<double>(20)};
  for (std::size_t t = 0; t < 4; ++t)
    for (std::size_t e = 0; e < 5; ++e) x(0, t * 5 + e) = double(t + 1) * double(e);
  const auto y = layers::nan_matrix<double>(1, 5);
  mean.forward(Space(), layers::to_device<double>(x), y);
  const HostMatrix pooled = layers::to_host(y);
  for (std::size_t e = 0; e < 5; ++e) BOOST_TEST(pooled(0, e) == 2.5 * double(e));
}

BOOST_AUTO_TEST_CASE(patchify_cuts_a_field_into_row_major_tiles) {
  // A 4 × 6 field with 2 channels, value = 100·y + 10·x + c: token (py, px) entry (dy, dx, c) must hold
  // 100·(2py + dy) + 10·(2px + dx) + c.
  const nn::FieldShape shape{4, 6, 2, 2};
  nn::PatchifyLayer<double, Space> layer(48, shape);
  HostMatrix field{1, 48, std::vector<double>(48)};
  for (std::size_t y = 0; y < 4; ++y)
    for (std::size_t x = 0; x < 6; ++x)
      for (std::size_t c = 0; c < 2; ++c) field(0, (y * 6 + x) * 2 + c) = 100.0 * double(y) + 10.0 * double(x) + double(c);
  const auto tokens = layers::nan_matrix<double>(1, 48);
  layer.forward(Space(), layers::to_device<double>(field), tokens);
  const HostMatrix t = layers::to_host(tokens);
  for (std::size_t py = 0; py < 2; ++py)
    for (std::size_t px = 0; px < 3; ++px)
      for (std::size_t dy = 0; dy < 2; ++dy)
        for (std::size_t dx = 0; dx < 2; ++dx)
          for (std::size_t c = 0; c < 2; ++c)
            BOOST_TEST(t(0, (py * 3 + px) * 8 + (dy * 2 + dx) * 2 + c) ==
                       100.0 * double(2 * py + dy) + 10.0 * double(2 * px + dx) + double(c));
  const auto report = osbi::testing::check_gradients(Space(), layer, layers::to_device<double>(layers::random_host(2, 48, 91)));
  BOOST_TEST(report.passed(), report.summary());
  const std::string message = layers::mismatch_message([] { nn::PatchifyLayer<double, Space>(30, nn::FieldShape{5, 6, 1, 2}); });
  BOOST_TEST(message.find("does not split into 2 × 2 patches") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(patch_transformer_embedding_finite_differences) {
  // A 4 × 4 field → 4 tokens of width 4 → positions → one encoder block → mean: the flagship's embedding in small.
  using Embedding = nn::Sequential<nn::PatchEmbedding<4, 4, 2, 4>, nn::LearnedPositions<4>, nn::TransformerEncoderBlock<4, 2, 8>,
                                   nn::TokenMean<4>, nn::Dense<3>>;
  nn::bind_t<Embedding, double, Space> embedding(16);
  BOOST_TEST(embedding.output_dim() == 3u);
  const auto report = osbi::testing::check_gradients(Space(), embedding, layers::to_device<double>(layers::random_host(2, 16, 92)));
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == embedding.parameter_count());
}

BOOST_AUTO_TEST_SUITE_END()
