// SPDX-License-Identifier: BSD-3-Clause
/// \brief The same layers applied to every token of a row (shared weights); spec nn::Tokenwise<Width, Specs...>.
#pragma once

#include <osbi/nn/detail/tokens.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/sequential.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace osbi::nn {

/*
 * TokenwiseLayer — models Layer (layer.hpp): a row of tokens·width features, token-major, goes through
 * f = SequentialLayer<Scalar, ExecutionSpace, Specs...> (built from `width`) token by token with the same
 * parameters: y_t = f(x_t), output_dim = tokens · f.output_dim(). PyTorch applies nn.Linear and
 * nn.LayerNorm to a batch × tokens × width tensor this way; a transformer's LayerNorm and MLP, a patch
 * embedding's projection and a set embedding's per-trial network are all this layer. No copies: a batch of
 * N rows is an (N·tokens) × width matrix over the same memory (rows must be contiguous), so f sees N·tokens
 * rows. Parameters, bind, initialize and the gradient contract are f's.
 */
template <class Scalar, class ExecutionSpace, class... Specs>
class TokenwiseLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using inner_type = SequentialLayer<Scalar, ExecutionSpace, Specs...>;

  TokenwiseLayer(std::size_t input_dim, std::size_t width)
      : m_width(width), m_tokens(detail::token_count(input_dim, width, part, "the input (input_dim)")), m_inner(width) {
    require(m_tokens > 0, part, "input_dim must hold at least one token");
  }

  std::size_t input_dim() const { return m_tokens * m_width; }
  std::size_t output_dim() const { return m_tokens * m_inner.output_dim(); }
  std::size_t parameter_count() const { return m_inner.parameter_count(); }
  std::size_t tokens() const { return m_tokens; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    m_inner.bind(parameters, gradients);
  }
  void initialize(const ExecutionSpace& space, BatchRandom rng) { m_inner.initialize(space, rng); }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (tokens·width)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (tokens·inner output)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    m_inner.forward(space, detail::as_tokens(input, m_width, part, "forward: input"),
                    detail::as_tokens(output, m_inner.output_dim(), part, "forward: output"));
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count");
    Matrix<Scalar, ExecutionSpace> grad_tokens;
    if (grad_input.data() != nullptr) {
      require_extent(grad_input.extent(0), grad_output.extent(0), part,
                     "backward: grad_input's row count (grad_output's)");
      require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count (tokens·width)");
      grad_tokens = detail::as_tokens(grad_input, m_width, part, "backward: grad_input");
    }
    m_inner.backward(space, detail::as_tokens(grad_output, m_inner.output_dim(), part, "backward: grad_output"),
                     grad_tokens);
  }

  inner_type& inner() { return m_inner; }
  const inner_type& inner() const { return m_inner; }

private:
  static constexpr const char* part = "osbi::nn::TokenwiseLayer";

  std::size_t m_width, m_tokens;
  inner_type m_inner;
};

/// Spec: Specs applied to each Width-wide token of the previous layer's output (tokens = its output_dim /
/// Width), e.g. nn::Tokenwise<64, nn::LayerNorm> or nn::Tokenwise<64, nn::Dense<256>, nn::GELU, nn::Dense<64>>.
template <std::size_t Width, class... Specs>
struct Tokenwise {
  static_assert(Width > 0 && Width != dynamic_extent, "osbi::nn::Tokenwise<Width, Specs...>: Width must be > 0");
  static_assert(sizeof...(Specs) > 0, "osbi::nn::Tokenwise<Width>: give at least one layer spec");

  template <class Scalar, class ExecutionSpace>
  class layer : public TokenwiseLayer<Scalar, ExecutionSpace, Specs...> {
  public:
    explicit layer(std::size_t input_dim) : TokenwiseLayer<Scalar, ExecutionSpace, Specs...>(input_dim, Width) {}
  };
};

} // namespace osbi::nn
