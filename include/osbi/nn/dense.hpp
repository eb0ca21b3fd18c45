// SPDX-License-Identifier: BSD-3-Clause
/// \brief Dense (fully connected) layer y = f(x·Wᵀ + b) with an optional fused activation; spec nn::Dense<Out>.
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/kernels/dense.hpp>
#include <osbi/nn/kernels/gemm.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace osbi::nn {

namespace detail {

/*
 * The affine layer behind DenseLayer and MaskedDenseLayer (models Layer; see layer.hpp):
 *   y = f(x · (W ⊙ M)ᵀ + b),  W out × in, b out, M an optional fixed 0/1 mask (MADE), f = Activation.
 * Parameters, in the bound flat slice: [W row-major (out·in) | b (out)]; weight()/bias() are views
 * over that slice, so writing the Network's flat buffer changes the layer.
 * Forward keeps handles: the input (for ∂W), and for a non-identity f the output y, plus (only when
 * f'(x, y) reads x: GELU, SiLU) the pre-activation z in a layer-owned buffer. Backward forms
 * grad_z = grad_y ⊙ f'(z, y) in a layer-owned buffer (none for the identity), then
 *   grad_W += (grad_zᵀ · x) ⊙ M, grad_b += Σ_rows grad_z, grad_x = grad_z · (W ⊙ M).
 * Entries of W under a 0 of M never act and always receive exactly 0 gradient.
 */
template <class Scalar, class ExecutionSpace, class Init, class Activation>
class AffineLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using initializer_type = Init;
  using activation_type = Activation;

  std::size_t input_dim() const { return m_in; }
  std::size_t output_dim() const { return m_out; }
  std::size_t parameter_count() const { return m_out * m_in + m_out; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), m_part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), m_part, "the bound gradient buffer");
    m_parameters = parameters;
    m_gradients = gradients;
    const std::size_t weight_size = m_out * m_in;
    // Unmanaged views over the caller's slice; m_parameters/m_gradients keep the memory alive.
    m_weight = Matrix<Scalar, ExecutionSpace>(parameters.data(), m_out, m_in);
    m_bias = Vector<Scalar, ExecutionSpace>(parameters.data() + weight_size, m_out);
    m_weight_gradient = Matrix<Scalar, ExecutionSpace>(gradients.data(), m_out, m_in);
    m_bias_gradient = Vector<Scalar, ExecutionSpace>(gradients.data() + weight_size, m_out);
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    require_bound("initialize");
    Init::fill(space, rng, m_weight, m_bias);
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), m_in, m_part, "forward: input's column count (the layer's input_dim)");
    require_extent(output.extent(1), m_out, m_part, "forward: output's column count (the layer's output_dim)");
    require_extent(output.extent(0), input.extent(0), m_part, "forward: output's row count (input's row count)");
    require_bound("forward");
    const std::size_t batch = input.extent(0);
    m_input = input;
    m_output = output;
    m_batch = batch;
    m_has_forward = true;
    if (batch == 0) return;
    if constexpr (Activation::needs_input) {
      // The pre-activation buffer ends up holding f'(z): backward multiplies by it (see
      // activation_forward_keeping_derivative).
      const Matrix<Scalar, ExecutionSpace> pre = m_pre_activation.rows(batch);
      kernels::dense_forward<activation::Identity>(space, input, m_weight, m_bias, pre, m_workspace, m_mask);
      activation_forward_keeping_derivative<Activation, Scalar>(space, m_label_activation, pre, output);
      m_derivative = pre;
    } else {
      kernels::dense_forward<Activation>(space, input, m_weight, m_bias, output, m_workspace, m_mask);
    }
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, m_part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, m_part,
                   "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), m_out, m_part,
                   "backward: grad_output's column count (the layer's output_dim)");
    const bool wants_input_gradient = grad_input.data() != nullptr;
    if (wants_input_gradient) {
      require_extent(grad_input.extent(0), m_batch, m_part,
                     "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), m_in, m_part, "backward: grad_input's column count (the layer's input_dim)");
    }
    if (m_batch == 0) return;
    ConstMatrix<Scalar, ExecutionSpace> grad_z = grad_output;
    if constexpr (!std::is_same_v<Activation, activation::Identity>) {
      const Matrix<Scalar, ExecutionSpace> buffer = m_grad_pre_activation.rows(m_batch);
      using Backward = std::conditional_t<Activation::needs_input, KeptDerivative, Activation>;
      activation_backward<Backward, Scalar>(space, m_label_activation_backward, m_derivative, m_output, grad_output,
                                            buffer);
      grad_z = buffer;
    }
    kernels::dense_backward_parameters(space, grad_z, m_input, m_weight_gradient, m_bias_gradient, m_workspace, m_mask);
    if (wants_input_gradient) kernels::dense_backward_input(space, grad_z, m_weight, grad_input, m_workspace, m_mask);
  }

  /// Views over the bound parameter slice (empty before bind).
  Matrix<Scalar, ExecutionSpace> weight() const { return m_weight; }
  Vector<Scalar, ExecutionSpace> bias() const { return m_bias; }
  Matrix<Scalar, ExecutionSpace> weight_gradient() const { return m_weight_gradient; }
  Vector<Scalar, ExecutionSpace> bias_gradient() const { return m_bias_gradient; }

protected:
  AffineLayer(const char* class_name, std::size_t in, std::size_t out)
      : m_part(std::string("osbi::nn::") + class_name), m_in(in), m_out(out),
        m_label_activation(m_part + "::activation"), m_label_activation_backward(m_part + "::activation_backward"),
        m_pre_activation(m_part + "::pre_activation", out),
        m_grad_pre_activation(m_part + "::grad_pre_activation", out) {
    require(in > 0, m_part, "input dimension must be > 0");
    require(out > 0, m_part, "output dimension must be > 0");
  }

  void require_bound(const char* step) const {
    require(m_weight.data() != nullptr, m_part, step, " before bind(): the layer has no parameter buffer");
  }

  const std::string& part() const { return m_part; }

  /// out × in, 0/1; empty for a plain dense layer.
  ConstMatrix<Scalar, ExecutionSpace> m_mask;

private:
  std::string m_part;
  std::size_t m_in, m_out;
  std::string m_label_activation, m_label_activation_backward;
  Vector<Scalar, ExecutionSpace> m_parameters, m_gradients;
  Matrix<Scalar, ExecutionSpace> m_weight, m_weight_gradient;
  Vector<Scalar, ExecutionSpace> m_bias, m_bias_gradient;
  kernels::GemmWorkspace<Scalar, ExecutionSpace> m_workspace;
  BatchBuffer<Scalar, ExecutionSpace> m_pre_activation, m_grad_pre_activation;
  ConstMatrix<Scalar, ExecutionSpace> m_input, m_output;
  ConstMatrix<Scalar, ExecutionSpace> m_derivative; ///< f'(z) of the last forward, for activations that need z
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

} // namespace detail

/// Fully connected layer with run-time sizes (in → out); Init fills [W | b] (init.hpp), Activation is
/// fused into the GEMM epilogue (kernels/activation.hpp). Models Layer.
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace, class Init = init::TorchDefault,
          class Activation = activation::Identity>
class DenseLayer : public detail::AffineLayer<Scalar, ExecutionSpace, Init, Activation> {
public:
  DenseLayer(std::size_t in, std::size_t out)
      : detail::AffineLayer<Scalar, ExecutionSpace, Init, Activation>("DenseLayer", in, out) {}
};

/// Spec: a dense layer with Out outputs, e.g. nn::Dense<64, init::KaimingNormal, activation::ReLU>.
/// Its bound layer is a DenseLayer whose input dimension comes from the previous layer. With
/// Out = dynamic_extent (layer.hpp) the width is a run-time argument: the bound layer is DenseLayer itself,
/// constructed from (input_dim, output_dim) — a DynamicLayerSpec whose dynamic_argument is the width.
template <std::size_t Out, class Init = init::TorchDefault, class Activation = activation::Identity>
struct Dense {
  static_assert(Out > 0, "osbi::nn::Dense<Out>: Out (the number of outputs) must be > 0");
  static constexpr std::size_t output_dim = Out;

  template <class Scalar, class ExecutionSpace>
  class layer : public DenseLayer<Scalar, ExecutionSpace, Init, Activation> {
  public:
    explicit layer(std::size_t input_dim) : DenseLayer<Scalar, ExecutionSpace, Init, Activation>(input_dim, Out) {}
  };
};

template <class Init, class Activation>
struct Dense<dynamic_extent, Init, Activation> {
  static constexpr std::size_t output_dim = dynamic_extent;
  /// The output width (> 0, checked by DenseLayer).
  using dynamic_argument = std::size_t;

  template <class Scalar, class ExecutionSpace>
  using layer = DenseLayer<Scalar, ExecutionSpace, Init, Activation>;
};

} // namespace osbi::nn
