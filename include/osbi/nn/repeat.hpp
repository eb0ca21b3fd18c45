// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn::Repeat<Spec>: a run-time number of identical blocks of one width-preserving layer, chained (a MADE's
/// hidden stack).
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace osbi::nn {

namespace detail {
/// Spec has a run-time argument and it is Argument. (A concept, not an inline `typename
/// Spec::dynamic_argument` in a requires-clause: nvcc's front end instantiates that eagerly.)
template <class Spec, class Argument>
concept dynamic_argument_is =
    requires { typename Spec::dynamic_argument; } && std::same_as<Argument, typename Spec::dynamic_argument>;
} // namespace detail

/// The run-time argument of Repeat<Spec> for a dynamic Spec: how many blocks, and the argument each block is built
/// with (the same for all: the blocks are identical).
template <class BlockArgument>
struct Blocks {
  std::size_t count = 0;
  BlockArgument block{};
};

/*
 * RepeatLayer<Scalar, ExecutionSpace, Spec> — `count` blocks of Spec's layer, block k's output feeding block k + 1
 * (models Layer). Every block is built from the input dimension (and, for a DynamicLayerSpec, the one block
 * argument) and must keep it: output_dim() == input_dim() (DimensionMismatch otherwise). Block k's parameters
 * are the k-th consecutive slice of the bound buffers; initialize gives block k the generator rng.split(k).
 * Zero blocks are the identity (forward copies the input, backward the gradient). Intermediate activations and
 * gradients live in layer-owned buffers that grow with the largest batch, as in SequentialLayer. The blocks are
 * bound to slices of the caller's buffers: a copy would share them.
 */
template <class Scalar, class ExecutionSpace, class Spec>
class RepeatLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using block_type = bind_t<Spec, Scalar, ExecutionSpace>;

  /// `count` blocks of a static spec.
  RepeatLayer(std::size_t input_dim, std::size_t count) requires LayerSpec<Spec, Scalar, ExecutionSpace>
      : RepeatLayer(input_dim, count, [&] { return block_type(input_dim); }) {}

  /// blocks.count blocks of a dynamic spec, each built with blocks.block.
  template <class BlockArgument>
  requires DynamicLayerSpec<Spec, Scalar, ExecutionSpace> && detail::dynamic_argument_is<Spec, BlockArgument>
  RepeatLayer(std::size_t input_dim, const Blocks<BlockArgument>& blocks)
      : RepeatLayer(input_dim, blocks.count, [&] { return block_type(input_dim, blocks.block); }) {}

  std::size_t input_dim() const { return m_dim; }
  std::size_t output_dim() const { return m_dim; }
  std::size_t parameter_count() const { return m_offsets.back(); }
  /// The number of blocks.
  std::size_t size() const { return m_blocks.size(); }
  /// Block k (k < size(), unchecked), e.g. to initialize it from a stream of one's own.
  block_type& block(std::size_t k) { return m_blocks[k]; }
  const block_type& block(std::size_t k) const { return m_blocks[k]; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    for (std::size_t k = 0; k < m_blocks.size(); ++k) {
      const auto slice = std::make_pair(m_offsets[k], m_offsets[k + 1]);
      m_blocks[k].bind(Kokkos::subview(parameters, slice), Kokkos::subview(gradients, slice));
    }
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    for (std::size_t k = 0; k < m_blocks.size(); ++k)
      m_blocks[k].initialize(space, rng.split(static_cast<std::uint32_t>(k)));
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), m_dim, part, "forward: input's column count (the blocks' width)");
    require_extent(output.extent(1), m_dim, part, "forward: output's column count (the blocks' width)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    const std::size_t batch = input.extent(0), count = m_blocks.size();
    m_batch = batch;
    m_has_forward = true;
    if (count == 0) {
      Kokkos::deep_copy(space, output, input);
      return;
    }
    ConstMatrix<Scalar, ExecutionSpace> block_input = input;
    for (std::size_t k = 0; k < count; ++k) {
      const Matrix<Scalar, ExecutionSpace> block_output = k + 1 < count ? m_activations[k].rows(batch) : output;
      m_blocks[k].forward(space, block_input, block_output);
      block_input = block_output;
    }
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), m_dim, part, "backward: grad_output's column count (the blocks' width)");
    const bool wants_input_gradient = grad_input.data() != nullptr;
    if (wants_input_gradient) {
      require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), m_dim, part, "backward: grad_input's column count (the blocks' width)");
    }
    const std::size_t count = m_blocks.size();
    if (count == 0) {
      if (wants_input_gradient) Kokkos::deep_copy(space, grad_input, grad_output);
      return;
    }
    ConstMatrix<Scalar, ExecutionSpace> block_grad_output = grad_output;
    for (std::size_t k = count; k-- > 0;) {
      const Matrix<Scalar, ExecutionSpace> block_grad_input = k > 0 ? m_gradients[k - 1].rows(m_batch) : grad_input;
      m_blocks[k].backward(space, block_grad_output, block_grad_input);
      block_grad_output = block_grad_input;
    }
  }

private:
  static constexpr const char* part = "osbi::nn::RepeatLayer";

  template <class Make>
  RepeatLayer(std::size_t input_dim, std::size_t count, Make make) : m_dim(input_dim) {
    require(input_dim > 0, part, "input dimension must be > 0");
    m_blocks.reserve(count);
    m_offsets.push_back(0);
    for (std::size_t k = 0; k < count; ++k) {
      m_blocks.push_back(make());
      require_extent(m_blocks.back().output_dim(), input_dim, part,
                     "a block's output_dim (identical blocks chain, so it must equal the input_dim)");
      m_offsets.push_back(m_offsets.back() + m_blocks.back().parameter_count());
    }
    for (std::size_t k = 0; k + 1 < count; ++k) {
      m_activations.emplace_back(std::string(part) + "::activation", input_dim);
      m_gradients.emplace_back(std::string(part) + "::gradient", input_dim);
    }
  }

  std::size_t m_dim;
  std::vector<block_type> m_blocks;
  std::vector<std::size_t> m_offsets;
  // Boundary k lies between block k and block k + 1.
  std::vector<detail::BatchBuffer<Scalar, ExecutionSpace>> m_activations, m_gradients;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: a run-time number of identical blocks of Spec (a width-preserving layer), e.g. a MADE's hidden stack
///   nn::Repeat<nn::MaskedDense<nn::dynamic_extent, nn::init::TorchDefault, nn::activation::Tanh>>
/// A DynamicLayerSpec: its dynamic_argument is the count (std::size_t) for a static Spec, Blocks<the Spec's
/// argument> for a dynamic one.
template <class Spec>
struct Repeat {
  using dynamic_argument = std::size_t;

  template <class Scalar, class ExecutionSpace>
  using layer = RepeatLayer<Scalar, ExecutionSpace, Spec>;
};

template <class Spec>
requires requires { typename Spec::dynamic_argument; }
struct Repeat<Spec> {
  using dynamic_argument = Blocks<typename Spec::dynamic_argument>;

  template <class Scalar, class ExecutionSpace>
  using layer = RepeatLayer<Scalar, ExecutionSpace, Spec>;
};

} // namespace osbi::nn
