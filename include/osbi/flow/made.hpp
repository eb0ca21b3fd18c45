// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalMADE: the masked autoregressive network of one MAF or NSF transform, conditioned on a context.
#pragma once

#include <osbi/nn/dense.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/masked_dense.hpp>
#include <osbi/nn/repeat.hpp>
#include <osbi/nn/sequential.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace osbi {

/*
 * ConditionalMADE — nflows' MADE with a context (sbi's MAF building block; the peer's class MADE):
 *
 *   h₀ = tanh( (W_in ⊙ M_in)·y + b_in + tanh(W_ctx·c + b_ctx) )        y: N × D, c: N × C, h: N × H
 *   h_{l+1} = tanh( (W_l ⊙ M_l)·h_l + b_l ),  l = 0 … blocks − 1
 *   params = (W_out ⊙ M_out)·h_blocks + b_out                          N × P·D
 *
 * P = outputs_per_feature: 2 for MAF ([scale parameter, shift]), 3K − 1 for a K-bin NSF (flow/nsf.hpp).
 * Degrees (nn/masked_dense.hpp): inputs 1 … D, hidden made_hidden_degrees(H, D), outputs
 * ⌊k/P⌋ + 1 for k = 0 … P·D − 1 — each dimension's P outputs side by side (dimension j at columns
 * P·j … P·j + P − 1, torch's repeat_interleave(P), nflows' MADE with output_multiplier = P), so
 * params(:, P·j … P·j + P − 1) depend on y(:, 0…j−1) only (and on c).
 *
 * Parameters, one flat slice bound by the owner: [input layer | context layer | hidden 0 … | output],
 * each [W row-major | b] (nn/dense.hpp). The hidden blocks and the output layer are one nn::Sequential of an
 * nn::Repeat of masked tanh layers and a masked linear layer, with run-time widths and masks; only the head (the
 * two inputs' sum and its tanh) is written here. Contract as nn::Layer's, with two inputs:
 *   forward(space, y, c)  → params (a view of an owned buffer, valid until the next forward); keeps
 *                         handles to y and c, which the caller leaves unchanged until backward.
 *   backward(space, grad_params, grad_y, grad_c)
 *                         ACCUMULATES the parameter gradients; OVERWRITES grad_y (N × D) and grad_c
 *                         (N × C), each skipped when empty (data() == nullptr).
 * Buffers grow with the largest batch seen and are reused.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class ConditionalMADE {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  ConditionalMADE(std::size_t features, std::size_t context_features, std::size_t hidden = 50,
                  std::size_t blocks = 2, std::size_t outputs_per_feature = 2)
      : m_features(check_positive(features, "features (D)")),
        m_context_features(check_positive(context_features, "context_features (C)")),
        m_hidden(check_positive(hidden, "hidden units (H)")), m_blocks(blocks),
        m_outputs_per_feature(check_positive(outputs_per_feature, "outputs_per_feature (P)")),
        m_input(features, hidden,
                nn::made_mask(nn::made_input_degrees(features), nn::made_hidden_degrees(hidden, features),
                              nn::made::hidden)),
        m_context(context_features, hidden),
        m_tail(hidden,
               nn::Blocks<nn::MaskedWidth>{blocks,
                                           {hidden, nn::made_mask(nn::made_hidden_degrees(hidden, features),
                                                                  nn::made_hidden_degrees(hidden, features),
                                                                  nn::made::hidden)}},
               nn::MaskedWidth{outputs_per_feature * features,
                               nn::made_mask(nn::made_hidden_degrees(hidden, features),
                                             output_degrees(features, outputs_per_feature), nn::made::output)}),
        m_sum(label("flow", "ConditionalMADE", "input_sum"), hidden),
        m_context_out(label("flow", "ConditionalMADE", "context_out"), hidden),
        m_grad_sum(label("flow", "ConditionalMADE", "grad_sum"), hidden),
        m_h0_buffer(label("flow", "ConditionalMADE", "hidden_0"), hidden),
        m_grad_h0(label("flow", "ConditionalMADE", "grad_hidden_0"), hidden),
        m_params(label("flow", "ConditionalMADE", "params"), outputs_per_feature * features) {}

  /// Output degrees of the P·D outputs: ⌊k/P⌋ + 1 (each dimension's P outputs together).
  static std::vector<std::size_t> output_degrees(std::size_t features, std::size_t outputs_per_feature = 2) {
    std::vector<std::size_t> degrees(outputs_per_feature * features);
    for (std::size_t k = 0; k < degrees.size(); ++k)
      degrees[k] = k / outputs_per_feature + 1;
    return degrees;
  }

  std::size_t features() const { return m_features; }
  std::size_t context_features() const { return m_context_features; }
  std::size_t hidden_units() const { return m_hidden; }
  std::size_t blocks() const { return m_blocks; }
  std::size_t outputs_per_feature() const { return m_outputs_per_feature; }
  std::size_t output_dim() const { return m_outputs_per_feature * m_features; }

  std::size_t parameter_count() const {
    return m_input.parameter_count() + m_context.parameter_count() + m_tail.parameter_count();
  }

  /// Binds every layer to its slice of `parameters`/`gradients` (parameter_count() entries each).
  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    std::size_t offset = 0;
    auto bind_one = [&](auto& layer) {
      const auto slice = std::make_pair(offset, offset + layer.parameter_count());
      layer.bind(Kokkos::subview(parameters, slice), Kokkos::subview(gradients, slice));
      offset += layer.parameter_count();
    };
    bind_one(m_input);
    bind_one(m_context);
    bind_one(m_tail);
    m_bound = true;
  }

  /// PyTorch's default nn.Linear initialization of every layer; layer k (input, context, hidden 0 …, output)
  /// draws from rng.split(k).
  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    require(m_bound, part, "initialize before bind(): the block has no parameter buffer");
    std::uint32_t index = 0;
    m_input.initialize(space, rng.split(index++));
    m_context.initialize(space, rng.split(index++));
    auto& hidden = m_tail.template get<0>();
    for (std::size_t b = 0; b < hidden.size(); ++b)
      hidden.block(b).initialize(space, rng.split(index++));
    m_tail.template get<1>().initialize(space, rng.split(index++));
  }

  ConstMatrix<Scalar, ExecutionSpace> forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& y,
                                              const ConstMatrix<Scalar, ExecutionSpace>& c) {
    require(m_bound, part, "forward before bind(): the block has no parameter buffer");
    require_extent(y.extent(1), m_features, part, "forward: y's column count (features D)");
    require_extent(c.extent(1), m_context_features, part, "forward: the context's column count (C)");
    require_extent(c.extent(0), y.extent(0), part, "forward: the context's row count (y's row count)");
    const std::size_t batch = y.extent(0);
    m_batch = batch;
    m_has_forward = true;
    const Matrix<Scalar, ExecutionSpace> sum = m_sum.rows(batch), context_out = m_context_out.rows(batch);
    const Matrix<Scalar, ExecutionSpace> params = m_params.rows(batch);
    m_input.forward(space, y, sum);
    m_context.forward(space, c, context_out);
    const Matrix<Scalar, ExecutionSpace> h0 = m_h0_buffer.rows(batch);
    if (batch > 0) {
      const ConstMatrix<Scalar, ExecutionSpace> a = sum, b = context_out;
      Kokkos::parallel_for(
          "osbi::flow::ConditionalMADE::input_tanh",
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, m_hidden}),
          KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
            h0(row, column) = nn::activation::Tanh::value(a(row, column) + b(row, column));
          });
    }
    m_tail.forward(space, h0, params);
    m_h0 = h0;
    return params;
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_params,
                const Matrix<Scalar, ExecutionSpace>& grad_y, const Matrix<Scalar, ExecutionSpace>& grad_c) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_params.extent(0), m_batch, part, "backward: grad_params' row count (the last forward's batch)");
    require_extent(grad_params.extent(1), output_dim(), part, "backward: grad_params' column count (P·D)");
    if (grad_y.data() != nullptr) {
      require_extent(grad_y.extent(0), m_batch, part, "backward: grad_y's row count (the last forward's batch)");
      require_extent(grad_y.extent(1), m_features, part, "backward: grad_y's column count (D)");
    }
    if (grad_c.data() != nullptr) {
      require_extent(grad_c.extent(0), m_batch, part, "backward: grad_c's row count (the last forward's batch)");
      require_extent(grad_c.extent(1), m_context_features, part, "backward: grad_c's column count (C)");
    }
    const std::size_t batch = m_batch;
    const Matrix<Scalar, ExecutionSpace> grad_h = m_grad_h0.rows(batch);
    m_tail.backward(space, grad_params, grad_h);
    // h₀ = tanh(s): grad_s = grad_h₀ ⊙ (1 − h₀²), shared by the input and the context layers.
    const Matrix<Scalar, ExecutionSpace> grad_sum = m_grad_sum.rows(batch);
    if (batch > 0) {
      const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_h, h0 = m_h0;
      Kokkos::parallel_for(
          "osbi::flow::ConditionalMADE::input_tanh_backward",
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, m_hidden}),
          KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
            const Scalar value = h0(row, column);
            grad_sum(row, column) = upstream(row, column) * (Scalar(1) - value * value);
          });
    }
    m_input.backward(space, grad_sum, grad_y);
    m_context.backward(space, grad_sum, grad_c);
  }

private:
  using Buffer = nn::detail::BatchBuffer<Scalar, ExecutionSpace>;
  static constexpr const char* part = "osbi::ConditionalMADE";

  static std::size_t check_positive(std::size_t value, const char* what) {
    require(value > 0, part, what, " must be > 0");
    return value;
  }

  using HiddenBlock = nn::MaskedDense<nn::dynamic_extent, nn::init::TorchDefault, nn::activation::Tanh>;
  /// hidden 0 … blocks − 1 (H → H, tanh), then the output layer (H → P·D, linear), widths and masks at run time.
  using Tail = nn::SequentialLayer<Scalar, ExecutionSpace, nn::Repeat<HiddenBlock>, nn::MaskedDense<nn::dynamic_extent>>;

  std::size_t m_features, m_context_features, m_hidden, m_blocks, m_outputs_per_feature;
  nn::MaskedDenseLayer<Scalar, ExecutionSpace, nn::activation::Identity> m_input;
  nn::DenseLayer<Scalar, ExecutionSpace, nn::init::TorchDefault, nn::activation::Tanh> m_context;
  Tail m_tail;
  Buffer m_sum, m_context_out, m_grad_sum, m_h0_buffer, m_grad_h0, m_params;
  ConstMatrix<Scalar, ExecutionSpace> m_h0;
  std::size_t m_batch = 0;
  bool m_bound = false, m_has_forward = false;
};

} // namespace osbi
