// SPDX-License-Identifier: BSD-3-Clause
/// \brief Transformer pieces over Width-wide tokens: the pre-LayerNorm encoder block, positional encodings
/// (sinusoidal, learned) and mean pooling over tokens; specs nn::TransformerEncoderBlock, nn::SinusoidalPositions,
/// nn::LearnedPositions, nn::TokenMean.
#pragma once

#include <osbi/nn/activations.hpp>
#include <osbi/nn/attention.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/detail/tokens.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/nn/residual.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/tokenwise.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <string>

namespace osbi::nn {

/// Spec: PyTorch's nn.TransformerEncoderLayer(Width, Heads, dim_feedforward = Hidden, activation = "gelu",
/// norm_first = True, dropout = 0) on rows of Width-wide tokens:
///   x ← x + MHA(LN₁(x)),   x ← x + W₂ GELU(W₁ LN₂(x) + b₁) + b₂   (LayerNorm and the MLP per token).
/// Built from Residual, Tokenwise, LayerNorm, MultiHeadAttention and Dense, so its gradients are theirs.
template <std::size_t Width, std::size_t Heads, std::size_t Hidden = 4 * Width>
using TransformerEncoderBlock =
    Sequential<Residual<Tokenwise<Width, LayerNorm>, MultiHeadAttention<Width, Heads>>,
               Residual<Tokenwise<Width, LayerNorm, Dense<Hidden, init::TorchDefault, activation::GELU>, Dense<Width>>>>;

/// How a PositionalEncodingLayer tells tokens apart.
enum class Positions {
  sinusoidal, ///< the fixed table of Vaswani et al. (2017): no parameters
  learned,    ///< one trainable vector per token (ViT), initialized N(0, 0.02²)
};

/*
 * PositionalEncodingLayer — models Layer (layer.hpp): y = x + P on a row of `tokens` Width-wide tokens, P a
 * tokens × width table. Sinusoidal: P(t, 2i) = sin(t / 10000^(2i/width)), P(t, 2i+1) = cos(t / 10000^(2i/width));
 * learned: P is the layer's parameters (tokens·width, token-major). Backward: grad_x = grad_y (overwritten,
 * or skipped when empty); learned P accumulates Σ_rows grad_y.
 */
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
class PositionalEncodingLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  PositionalEncodingLayer(std::size_t input_dim, std::size_t width, Positions kind)
      : m_width(width), m_tokens(detail::token_count(input_dim, width, part, "the input (input_dim)")), m_kind(kind) {
    require(m_tokens > 0, part, "input_dim must hold at least one token");
    if (kind == Positions::sinusoidal) {
      m_table = Vector<Scalar, ExecutionSpace>(std::string(part) + "::table", input_dim);
      auto host = Kokkos::create_mirror_view(m_table);
      for (std::size_t t = 0; t < m_tokens; ++t)
        for (std::size_t e = 0; e < width; ++e) {
          const double frequency = std::pow(10000.0, -static_cast<double>(e - e % 2) / static_cast<double>(width));
          const double angle = static_cast<double>(t) * frequency;
          host(t * width + e) = static_cast<Scalar>(e % 2 == 0 ? std::sin(angle) : std::cos(angle));
        }
      Kokkos::deep_copy(m_table, host);
    }
  }

  std::size_t input_dim() const { return m_tokens * m_width; }
  std::size_t output_dim() const { return input_dim(); }
  std::size_t parameter_count() const { return m_kind == Positions::learned ? input_dim() : 0; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    if (m_kind == Positions::learned) {
      m_table = parameters;
      m_table_gradient = gradients;
    }
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    if (m_kind != Positions::learned) return;
    require(m_table.data() != nullptr, part, "initialize before bind(): the layer has no parameter buffer");
    const Vector<Scalar, ExecutionSpace> table = m_table;
    const std::size_t width = m_width;
    Kokkos::parallel_for(
        "osbi::nn::PositionalEncodingLayer::initialize", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_tokens),
        KOKKOS_LAMBDA(const std::size_t t) {
          RowRandom generator = rng.row(t);
          for (std::size_t e = 0; e < width; ++e) table(t * width + e) = static_cast<Scalar>(generator.normal(0.0, 0.02));
        });
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (tokens·width)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (tokens·width)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    require(m_table.data() != nullptr, part, "forward before bind(): the layer has no parameter buffer");
    m_batch = input.extent(0);
    m_has_forward = true;
    if (m_batch == 0) return;
    const ConstMatrix<Scalar, ExecutionSpace> x = input;
    const Matrix<Scalar, ExecutionSpace> y = output;
    const ConstVector<Scalar, ExecutionSpace> table = m_table;
    const std::size_t columns = input_dim();
    Kokkos::parallel_for(
        "osbi::nn::PositionalEncodingLayer::forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_batch),
        KOKKOS_LAMBDA(const std::size_t row) {
          for (std::size_t j = 0; j < columns; ++j) y(row, j) = x(row, j) + table(j);
        });
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count");
    if (grad_input.data() != nullptr) {
      require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count");
    }
    if (m_batch == 0) return;
    if (grad_input.data() != nullptr) Kokkos::deep_copy(space, grad_input, grad_output);
    if (m_kind != Positions::learned) return;
    const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_output;
    const Vector<Scalar, ExecutionSpace> gradient = m_table_gradient;
    const std::size_t batch = m_batch;
    Kokkos::parallel_for(
        "osbi::nn::PositionalEncodingLayer::backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, input_dim()),
        KOKKOS_LAMBDA(const std::size_t j) {
          Scalar total = 0;
          for (std::size_t row = 0; row < batch; ++row) total += upstream(row, j);
          gradient(j) += total;
        });
  }

  /// The table P (tokens·width, token-major): fixed, or the bound parameters.
  ConstVector<Scalar, ExecutionSpace> table() const { return m_table; }

private:
  static constexpr const char* part = "osbi::nn::PositionalEncodingLayer";

  std::size_t m_width, m_tokens;
  Positions m_kind;
  Vector<Scalar, ExecutionSpace> m_table, m_table_gradient;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: adds the sinusoidal position table to rows of Width-wide tokens.
template <std::size_t Width>
struct SinusoidalPositions {
  static_assert(Width > 0, "osbi::nn::SinusoidalPositions<Width>: Width must be > 0");
  template <class Scalar, class ExecutionSpace>
  class layer : public PositionalEncodingLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim)
        : PositionalEncodingLayer<Scalar, ExecutionSpace>(input_dim, Width, Positions::sinusoidal) {}
  };
};

/// Spec: adds one learned vector per token to rows of Width-wide tokens.
template <std::size_t Width>
struct LearnedPositions {
  static_assert(Width > 0, "osbi::nn::LearnedPositions<Width>: Width must be > 0");
  template <class Scalar, class ExecutionSpace>
  class layer : public PositionalEncodingLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim)
        : PositionalEncodingLayer<Scalar, ExecutionSpace>(input_dim, Width, Positions::learned) {}
  };
};

/*
 * TokenMeanLayer — models Layer: y(n, e) = (1/tokens) Σ_t x(n, t·width + e), a row of tokens pooled to one
 * Width-wide summary (invariant to the order of the tokens). No parameters; backward spreads grad_y/tokens.
 */
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
class TokenMeanLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  TokenMeanLayer(std::size_t input_dim, std::size_t width)
      : m_width(width), m_tokens(detail::token_count(input_dim, width, part, "the input (input_dim)")) {
    require(m_tokens > 0, part, "input_dim must hold at least one token");
  }

  std::size_t input_dim() const { return m_tokens * m_width; }
  std::size_t output_dim() const { return m_width; }
  std::size_t parameter_count() const { return 0; }
  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), 0, part, "the bound parameter buffer");
    require_extent(gradients.extent(0), 0, part, "the bound gradient buffer");
  }
  void initialize(const ExecutionSpace&, BatchRandom) {}

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (tokens·width)");
    require_extent(output.extent(1), m_width, part, "forward: output's column count (width)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    m_batch = input.extent(0);
    m_has_forward = true;
    if (m_batch == 0) return;
    const ConstMatrix<Scalar, ExecutionSpace> x = input;
    const Matrix<Scalar, ExecutionSpace> y = output;
    const std::size_t tokens = m_tokens, width = m_width;
    const Scalar inverse = Scalar(1) / static_cast<Scalar>(tokens);
    Kokkos::parallel_for(
        "osbi::nn::TokenMeanLayer::forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_batch),
        KOKKOS_LAMBDA(const std::size_t row) {
          for (std::size_t e = 0; e < width; ++e) y(row, e) = 0;
          for (std::size_t t = 0; t < tokens; ++t)
            for (std::size_t e = 0; e < width; ++e) y(row, e) += x(row, t * width + e);
          for (std::size_t e = 0; e < width; ++e) y(row, e) *= inverse;
        });
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), m_width, part, "backward: grad_output's column count (width)");
    if (grad_input.data() == nullptr || m_batch == 0) return;
    require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
    require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count");
    const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_output;
    const Matrix<Scalar, ExecutionSpace> result = grad_input;
    const std::size_t tokens = m_tokens, width = m_width;
    const Scalar inverse = Scalar(1) / static_cast<Scalar>(tokens);
    Kokkos::parallel_for(
        "osbi::nn::TokenMeanLayer::backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_batch),
        KOKKOS_LAMBDA(const std::size_t row) {
          for (std::size_t t = 0; t < tokens; ++t)
            for (std::size_t e = 0; e < width; ++e) result(row, t * width + e) = upstream(row, e) * inverse;
        });
  }

private:
  static constexpr const char* part = "osbi::nn::TokenMeanLayer";
  std::size_t m_width, m_tokens;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: the mean of the previous layer's Width-wide tokens.
template <std::size_t Width>
struct TokenMean {
  static_assert(Width > 0, "osbi::nn::TokenMean<Width>: Width must be > 0");
  template <class Scalar, class ExecutionSpace>
  class layer : public TokenMeanLayer<Scalar, ExecutionSpace> {
  public:
    explicit layer(std::size_t input_dim) : TokenMeanLayer<Scalar, ExecutionSpace>(input_dim, Width) {}
  };
};

} // namespace osbi::nn
