// SPDX-License-Identifier: BSD-3-Clause
/// \brief Multi-head attention over the tokens of each row: self-attention (spec nn::MultiHeadAttention) and
/// pooling by attention from learned query tokens (spec nn::AttentionPooling).
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/detail/tokens.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/kernels/attention.hpp>
#include <osbi/nn/kernels/dense.hpp>
#include <osbi/nn/kernels/gemm.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace osbi::nn {

/// The run-time size of an attention layer: token width (the model dimension) and head count (which must
/// divide the width); `query_tokens` > 0 makes it a pooling layer with that many learned queries.
struct AttentionSize {
  std::size_t width = 0;
  std::size_t heads = 0;
  std::size_t query_tokens = 0;
};

/*
 * MultiHeadAttentionLayer — models Layer (layer.hpp). A row of the input is `tokens` tokens of `width`
 * features, token-major (input_dim = tokens·width, rows contiguous). PyTorch's nn.MultiheadAttention
 * (batch_first, bias, no dropout), per row:
 *   self-attention (query_tokens = 0):   Q, K, V = X W_qᵀ + b_q, X W_kᵀ + b_k, X W_vᵀ + b_v (one fused GEMM),
 *                                        output tokens·width;
 *   pooling (query_tokens = M > 0):      Q = S W_qᵀ + b_q from M learned tokens S shared by every row,
 *                                        K, V from X as above (Set Transformer's PMA), output M·width;
 *   per head h (width/heads features):   O_h = softmax(Q_h K_hᵀ / √(width/heads)) V_h  (kernels/attention.hpp),
 *   Y = concat_h(O_h) W_oᵀ + b_o.
 * Parameters, in the bound slice, in PyTorch's order: [in_proj_weight (3·width × width: W_q; W_k; W_v) |
 * in_proj_bias (3·width) | out_proj.weight (width × width) | out_proj.bias (width) | S (M × width, pooling
 * only)]; initialize() follows PyTorch: Xavier-uniform in_proj_weight, TorchDefault out_proj.weight, zero
 * biases, and Xavier-uniform S.
 * set_key_padding_mask(keep) (batch × tokens bytes, 1 = attend, 0 = ignore) applies to the following
 * forwards until cleared with an empty view; a row whose keys are all masked gives the output bias.
 * Memory: forward keeps the attention probabilities, batch·heads·queries·tokens scalars (queries = tokens, or M
 * when pooling), plus (batch·tokens)·3·width and (batch·queries)·width activations; backward adds its
 * own buffers of the same sizes. Forward keeps a handle to the input (for the weight gradient).
 */
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
class MultiHeadAttentionLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using mask_type = Kokkos::View<const std::uint8_t**, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

  MultiHeadAttentionLayer(std::size_t input_dim, const AttentionSize& size)
      : m_width(size.width), m_heads(size.heads), m_query_tokens(size.query_tokens),
        m_tokens(detail::token_count(input_dim, size.width, part, "the input (input_dim)")),
        m_projected(std::string(part) + "::projected", projected_width()),
        m_attended(std::string(part) + "::attended", size.width),
        m_grad_projected(std::string(part) + "::grad_projected", projected_width()),
        m_grad_attended(std::string(part) + "::grad_attended", size.width),
        m_grad_query_rows(std::string(part) + "::grad_query_rows", size.width) {
    require(m_heads > 0, part, "heads must be > 0");
    require<DimensionMismatch>(m_width % m_heads == 0, part, "width ", m_width, " is not divisible by heads ", m_heads,
                               ": every head needs width/heads features");
    require(m_tokens > 0, part, "input_dim must hold at least one token");
    if (pooling()) {
      m_query = Matrix<Scalar, ExecutionSpace>(std::string(part) + "::query", m_query_tokens, m_width);
      m_grad_query = Matrix<Scalar, ExecutionSpace>(std::string(part) + "::grad_query", m_query_tokens, m_width);
    }
  }

  std::size_t input_dim() const { return m_tokens * m_width; }
  std::size_t output_dim() const { return query_count() * m_width; }
  std::size_t parameter_count() const { return 4 * m_width * m_width + 4 * m_width + m_query_tokens * m_width; }
  std::size_t width() const { return m_width; }
  std::size_t heads() const { return m_heads; }
  std::size_t tokens() const { return m_tokens; }
  /// Query tokens per row: `tokens()` for self-attention, the learned count when pooling.
  std::size_t query_count() const { return pooling() ? m_query_tokens : m_tokens; }
  bool pooling() const { return m_query_tokens > 0; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    m_parameters = parameters;
    m_gradients = gradients;
    m_values = slices(parameters.data());
    m_grads = slices(gradients.data());
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    require(m_values.in_weight.data() != nullptr, part, "initialize before bind(): the layer has no parameter buffer");
    init::XavierUniform::fill(space, rng.split(0), m_values.in_weight, m_values.in_bias);
    init::TorchDefault::fill(space, rng.split(1), m_values.out_weight, m_values.out_bias);
    Kokkos::deep_copy(space, m_values.out_bias, Scalar(0));
    if (pooling()) init::XavierUniform::fill(space, rng.split(2), m_values.seeds, Vector<Scalar, ExecutionSpace>());
  }

  /// Keys with keep(n, t) == 0 are ignored by every query of row n in the following forwards (batch × tokens;
  /// its batch must match theirs). An empty view removes the mask.
  void set_key_padding_mask(const mask_type& keep) { m_mask = keep; }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (tokens·width)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (queries·width)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    require(m_values.in_weight.data() != nullptr, part, "forward before bind(): the layer has no parameter buffer");
    const std::size_t batch = input.extent(0);
    if (m_mask.data() != nullptr) {
      require_extent(m_mask.extent(0), batch, part, "the key padding mask's row count (the batch)");
      require_extent(m_mask.extent(1), m_tokens, part, "the key padding mask's column count (tokens)");
    }
    m_batch = batch;
    m_has_forward = true;
    const ConstMatrix<Scalar, ExecutionSpace> tokens = detail::as_tokens(input, m_width, part, "forward: input");
    const Matrix<Scalar, ExecutionSpace> output_tokens = detail::as_tokens(output, m_width, part, "forward: output");
    m_input_tokens = tokens;
    if (batch == 0) return;
    const Matrix<Scalar, ExecutionSpace> projected = m_projected.rows(batch * m_tokens);
    m_projected_rows = projected;
    const Matrix<Scalar, ExecutionSpace> attended = m_attended.rows(batch * query_count());
    kernels::dense_forward(space, tokens, key_value_weight(m_values), key_value_bias(m_values), projected, m_workspace);
    if (pooling())
      kernels::dense_forward(space, m_values.seeds, query_weight(m_values), query_bias(m_values), m_query, m_workspace);
    reserve_probabilities(batch);
    kernels::attention_forward<Scalar>(space, shape(batch), as_const(query_operand()), as_const(key_operand()),
                                       as_const(value_operand()),
                                       m_mask.data(), m_probabilities.data(),
                                       kernels::TokenOperand<Scalar>{attended.data(), std::ptrdiff_t(query_count() * m_width),
                                                                     std::ptrdiff_t(m_width)});
    kernels::dense_forward(space, attended, m_values.out_weight, m_values.out_bias, output_tokens, m_workspace);
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count (queries·width)");
    const bool wants_input_gradient = grad_input.data() != nullptr;
    if (wants_input_gradient) {
      require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count (tokens·width)");
    }
    if (m_batch == 0) return;
    const std::size_t batch = m_batch, queries = query_count();
    const ConstMatrix<Scalar, ExecutionSpace> upstream =
        detail::as_tokens(grad_output, m_width, part, "backward: grad_output");
    const ConstMatrix<Scalar, ExecutionSpace> attended = m_attended.rows(batch * queries);
    const Matrix<Scalar, ExecutionSpace> grad_attended = m_grad_attended.rows(batch * queries);
    const Matrix<Scalar, ExecutionSpace> grad_projected = m_grad_projected.rows(batch * m_tokens);
    kernels::dense_backward_parameters(space, upstream, attended, m_grads.out_weight, m_grads.out_bias, m_workspace);
    kernels::dense_backward_input(space, upstream, m_values.out_weight, grad_attended, m_workspace);

    const std::size_t kv_offset = pooling() ? 0 : m_width;
    const std::ptrdiff_t projected_stride = std::ptrdiff_t(projected_width());
    const kernels::TokenOperand<Scalar> grad_key{grad_projected.data() + kv_offset,
                                                 projected_stride * std::ptrdiff_t(m_tokens), projected_stride};
    const kernels::TokenOperand<Scalar> grad_value{grad_key.data + m_width, grad_key.batch_stride, projected_stride};
    kernels::TokenOperand<Scalar> grad_query{grad_projected.data(), grad_key.batch_stride, projected_stride};
    Matrix<Scalar, ExecutionSpace> grad_query_rows;
    if (pooling()) {
      grad_query_rows = m_grad_query_rows.rows(batch * queries);
      grad_query = {grad_query_rows.data(), std::ptrdiff_t(queries * m_width), std::ptrdiff_t(m_width)};
    }
    kernels::attention_backward<Scalar>(
        space, shape(batch), as_const(query_operand()), as_const(key_operand()), as_const(value_operand()),
        m_probabilities.data(),
        kernels::TokenOperand<const Scalar>{grad_attended.data(), std::ptrdiff_t(queries * m_width), std::ptrdiff_t(m_width)},
        grad_query, grad_key, grad_value);

    kernels::dense_backward_parameters(space, grad_projected, m_input_tokens, key_value_weight(m_grads),
                                       key_value_bias(m_grads), m_workspace);
    if (wants_input_gradient)
      kernels::dense_backward_input(space, grad_projected, key_value_weight(m_values),
                                    detail::as_tokens(grad_input, m_width, part, "backward: grad_input"), m_workspace);
    if (pooling()) {
      // Every row shares the learned queries: their gradient is the sum over the batch.
      sum_over_batch(space, grad_query_rows, batch);
      kernels::dense_backward_parameters(space, m_grad_query, m_values.seeds, query_weight(m_grads), query_bias(m_grads),
                                         m_workspace);
      kernels::gemm(space, m_query_tokens, m_width, m_width, kernels::operand(m_grad_query),
                    kernels::operand(query_weight(m_values)), m_grads.seeds.data(), std::ptrdiff_t(m_width),
                    kernels::epilogue::Accumulate{}, m_workspace);
    }
  }

  /// Views over the bound parameter slice (empty before bind), PyTorch's names.
  Matrix<Scalar, ExecutionSpace> in_proj_weight() const { return m_values.in_weight; }
  Vector<Scalar, ExecutionSpace> in_proj_bias() const { return m_values.in_bias; }
  Matrix<Scalar, ExecutionSpace> out_proj_weight() const { return m_values.out_weight; }
  Vector<Scalar, ExecutionSpace> out_proj_bias() const { return m_values.out_bias; }
  /// The learned query tokens (query_tokens × width; empty for self-attention).
  Matrix<Scalar, ExecutionSpace> query_tokens() const { return m_values.seeds; }
  /// The last forward's attention probabilities, [n][h][query][key] flattened.
  Vector<Scalar, ExecutionSpace> probabilities() const {
    return Kokkos::subview(m_probabilities, std::make_pair(std::size_t{0}, shape(m_batch).probability_count()));
  }

private:
  static constexpr const char* part = "osbi::nn::MultiHeadAttentionLayer";

  struct Slices {
    Matrix<Scalar, ExecutionSpace> in_weight, out_weight, seeds;
    Vector<Scalar, ExecutionSpace> in_bias, out_bias;
  };

  Slices slices(Scalar* base) const {
    const std::size_t w = m_width;
    Slices s;
    s.in_weight = Matrix<Scalar, ExecutionSpace>(base, 3 * w, w);
    s.in_bias = Vector<Scalar, ExecutionSpace>(base + 3 * w * w, 3 * w);
    s.out_weight = Matrix<Scalar, ExecutionSpace>(base + 3 * w * w + 3 * w, w, w);
    s.out_bias = Vector<Scalar, ExecutionSpace>(base + 4 * w * w + 3 * w, w);
    if (pooling()) s.seeds = Matrix<Scalar, ExecutionSpace>(base + 4 * w * w + 4 * w, m_query_tokens, w);
    return s;
  }

  // Self-attention projects Q, K and V from the input in one GEMM; pooling projects only K and V (rows
  // width.. of in_proj_weight, contiguous) and the learned queries once per forward.
  std::size_t projected_width() const { return (pooling() ? 2 : 3) * m_width; }
  Matrix<Scalar, ExecutionSpace> key_value_weight(const Slices& s) const {
    return Kokkos::subview(s.in_weight, std::make_pair(3 * m_width - projected_width(), 3 * m_width), Kokkos::ALL);
  }
  Vector<Scalar, ExecutionSpace> key_value_bias(const Slices& s) const {
    return Kokkos::subview(s.in_bias, std::make_pair(3 * m_width - projected_width(), 3 * m_width));
  }
  Matrix<Scalar, ExecutionSpace> query_weight(const Slices& s) const {
    return Kokkos::subview(s.in_weight, std::make_pair(std::size_t{0}, m_width), Kokkos::ALL);
  }
  Vector<Scalar, ExecutionSpace> query_bias(const Slices& s) const {
    return Kokkos::subview(s.in_bias, std::make_pair(std::size_t{0}, m_width));
  }

  kernels::AttentionShape shape(std::size_t batch) const {
    return {batch, m_heads, m_width / m_heads, query_count(), m_tokens};
  }

  kernels::TokenOperand<Scalar> query_operand() const {
    if (pooling()) return {m_query.data(), 0, std::ptrdiff_t(m_width)};
    return projected_operand(0);
  }
  kernels::TokenOperand<Scalar> key_operand() const { return projected_operand(pooling() ? 0 : m_width); }
  kernels::TokenOperand<Scalar> value_operand() const { return projected_operand(pooling() ? m_width : 2 * m_width); }
  kernels::TokenOperand<Scalar> projected_operand(std::size_t offset) const {
    const std::ptrdiff_t stride = std::ptrdiff_t(projected_width());
    return {m_projected_rows.data() + offset, stride * std::ptrdiff_t(m_tokens), stride};
  }
  static kernels::TokenOperand<const Scalar> as_const(const kernels::TokenOperand<Scalar>& operand) {
    return {operand.data, operand.batch_stride, operand.token_stride};
  }

  void reserve_probabilities(std::size_t batch) {
    const std::size_t count = shape(batch).probability_count();
    if (m_probabilities.extent(0) >= count && m_probabilities.data() != nullptr) return;
    m_probabilities = Vector<Scalar, ExecutionSpace>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(part) + "::probabilities"), count > 0 ? count : 1);
  }

  // The kernels below are implementation, public only because nvcc's extended lambdas cannot live in private
  // member functions.
public:
  /// m_grad_query = Σ_n rows (n·M .. n·M + M) of `rows`.
  void sum_over_batch(const ExecutionSpace& space, const Matrix<Scalar, ExecutionSpace>& rows, std::size_t batch) {
    const Matrix<Scalar, ExecutionSpace> target = m_grad_query;
    const ConstMatrix<Scalar, ExecutionSpace> source = rows;
    const std::size_t queries = m_query_tokens, width = m_width;
    Kokkos::parallel_for(
        "osbi::nn::MultiHeadAttentionLayer::sum_query_gradients",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, queries * width), KOKKOS_LAMBDA(const std::size_t k) {
          const std::size_t query = k / width, column = k % width;
          Scalar total = 0;
          for (std::size_t n = 0; n < batch; ++n) total += source(n * queries + query, column);
          target(query, column) = total;
        });
  }

private:
  std::size_t m_width, m_heads, m_query_tokens, m_tokens;
  Vector<Scalar, ExecutionSpace> m_parameters, m_gradients;
  Slices m_values, m_grads;
  kernels::GemmWorkspace<Scalar, ExecutionSpace> m_workspace;
  detail::BatchBuffer<Scalar, ExecutionSpace> m_projected, m_attended, m_grad_projected, m_grad_attended,
      m_grad_query_rows;
  Matrix<Scalar, ExecutionSpace> m_projected_rows; ///< the last forward's Q|K|V (or K|V) rows
  Matrix<Scalar, ExecutionSpace> m_query, m_grad_query;
  Vector<Scalar, ExecutionSpace> m_probabilities;
  mask_type m_mask;
  ConstMatrix<Scalar, ExecutionSpace> m_input_tokens;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: self-attention over Width-wide tokens with Heads heads (Width % Heads == 0); the token count is the
/// previous layer's output_dim / Width. MultiHeadAttention<dynamic_extent> takes a run-time AttentionSize.
template <std::size_t Width, std::size_t Heads = dynamic_extent>
struct MultiHeadAttention {
  static_assert(Width > 0 && Heads > 0 && Heads != dynamic_extent && Width % Heads == 0,
                "osbi::nn::MultiHeadAttention<Width, Heads>: give Heads, and Heads must divide Width");

  template <class Scalar, class ExecutionSpace>
  class layer : public MultiHeadAttentionLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim)
        : MultiHeadAttentionLayer<Scalar, ExecutionSpace>(input_dim, AttentionSize{Width, Heads, 0}) {}
  };
};

template <>
struct MultiHeadAttention<dynamic_extent, dynamic_extent> {
  using dynamic_argument = AttentionSize;
  template <class Scalar, class ExecutionSpace>
  using layer = MultiHeadAttentionLayer<Scalar, ExecutionSpace>;
};

/// Spec: pooling by multi-head attention from Queries learned tokens (Set Transformer's PMA): a row of tokens
/// becomes Queries·Width summary features, invariant to the order of the tokens.
template <std::size_t Width, std::size_t Heads, std::size_t Queries = 1>
struct AttentionPooling {
  static_assert(Width > 0 && Heads > 0 && Width % Heads == 0,
                "osbi::nn::AttentionPooling<Width, Heads, Queries>: Heads must divide Width");
  static_assert(Queries > 0, "osbi::nn::AttentionPooling: Queries must be > 0");

  template <class Scalar, class ExecutionSpace>
  class layer : public MultiHeadAttentionLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim)
        : MultiHeadAttentionLayer<Scalar, ExecutionSpace>(input_dim, AttentionSize{Width, Heads, Queries}) {}
  };
};

} // namespace osbi::nn
