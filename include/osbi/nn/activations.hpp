// SPDX-License-Identifier: BSD-3-Clause
/// \brief Pointwise activation layers (ReLU, Tanh, GELU, SiLU, ELU): specs and the bound ActivationLayer.
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace osbi::nn {

/// y = f(x) elementwise, f = Activation (kernels/activation.hpp); models Layer with no parameters.
/// Forward keeps handles to its input and output; backward writes grad_x = grad_y ⊙ f'(x, y) (nothing
/// to do when grad_input is empty). Where f has a kink (ReLU, ELU at 0) the derivative at the kink is
/// the one kernels/activation.hpp defines (0 for ReLU, as PyTorch).
template <class Scalar, class ExecutionSpace, class Activation>
class ActivationLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using activation_type = Activation;

  explicit ActivationLayer(std::size_t dim) : m_dim(dim) {}

  std::size_t input_dim() const { return m_dim; }
  std::size_t output_dim() const { return m_dim; }
  std::size_t parameter_count() const { return 0; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), 0, part, "the bound parameter buffer");
    require_extent(gradients.extent(0), 0, part, "the bound gradient buffer");
  }

  void initialize(const ExecutionSpace&, BatchRandom) {}

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), m_dim, part, "forward: input's column count (the layer's dimension)");
    require_extent(output.extent(1), m_dim, part, "forward: output's column count (the layer's dimension)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    m_input = input;
    m_output = output;
    m_has_forward = true;
    detail::activation_forward<Activation, Scalar>(space, "osbi::nn::ActivationLayer::forward", input, output);
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    const std::size_t batch = m_input.extent(0);
    require_extent(grad_output.extent(0), batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), m_dim, part, "backward: grad_output's column count (the layer's dimension)");
    if (grad_input.data() == nullptr) return;
    require_extent(grad_input.extent(0), batch, part, "backward: grad_input's row count (the last forward's batch)");
    require_extent(grad_input.extent(1), m_dim, part, "backward: grad_input's column count (the layer's dimension)");
    detail::activation_backward<Activation, Scalar>(space, "osbi::nn::ActivationLayer::backward", m_input, m_output,
                                                    grad_output, grad_input);
  }

private:
  static constexpr const char* part = "osbi::nn::ActivationLayer";
  std::size_t m_dim;
  ConstMatrix<Scalar, ExecutionSpace> m_input, m_output;
  bool m_has_forward = false;
};

/// Spec of a pointwise activation f (any type following kernels/activation.hpp's interface).
template <class Activation>
struct Pointwise {
  template <class Scalar, class ExecutionSpace>
  using layer = ActivationLayer<Scalar, ExecutionSpace, Activation>;
};

// Named specs; structs rather than aliases so that compiler messages and type names read
// `osbi::nn::Tanh`.
struct ReLU : Pointwise<activation::ReLU> {};
struct Tanh : Pointwise<activation::Tanh> {};
/// Exact (erf) GELU, PyTorch's default.
struct GELU : Pointwise<activation::GELU> {};
struct SiLU : Pointwise<activation::SiLU> {};
/// ELU with α = 1.
struct ELU : Pointwise<activation::ELU> {};

} // namespace osbi::nn
