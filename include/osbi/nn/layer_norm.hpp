// SPDX-License-Identifier: BSD-3-Clause
/// \brief Layer normalization over the features of each row with learnable gain and bias; spec nn::LayerNorm.
#pragma once

#include <osbi/nn/kernels/rowwise.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

namespace osbi::nn {

/*
 * LayerNormLayer — models Layer (layer.hpp); PyTorch's nn.LayerNorm(dim) over the last axis:
 *   y(i, j) = (x(i, j) − μ_i) / √(σ²_i + ε) · gain(j) + bias(j),
 *   μ_i, σ²_i the mean and biased variance of row i, ε = 1e-5 unless given.
 * Parameters, in the bound flat slice: [gain (dim) | bias (dim)]; initialize() sets gain = 1,
 * bias = 0 (the rng is not used). Forward keeps a handle to the input and the row statistics μ_i
 * and 1/√(σ²_i + ε) in layer-owned buffers of kernels::accumulation_t<Scalar> (double for float:
 * the normalization stays exact to float rounding even when |μ| ≫ σ). Backward gives the exact
 * gradients (kernels/rowwise.hpp): gain and bias gradients accumulate, the input gradient is
 * overwritten, or skipped when grad_input is empty.
 */
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
class LayerNormLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  /// The type the row statistics are kept in.
  using statistic_type = kernels::accumulation_t<Scalar>;

  static constexpr double default_epsilon = 1e-5;

  explicit LayerNormLayer(std::size_t dim, double epsilon = default_epsilon) : m_dim(dim), m_epsilon(epsilon) {
    require(dim > 0, part, "dimension must be > 0");
    require(std::isfinite(epsilon) && epsilon > 0, part, "epsilon = ", epsilon, " must be finite and > 0");
  }

  std::size_t input_dim() const { return m_dim; }
  std::size_t output_dim() const { return m_dim; }
  std::size_t parameter_count() const { return 2 * m_dim; }
  double epsilon() const { return m_epsilon; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    m_parameters = parameters;
    m_gradients = gradients;
    // Unmanaged views over the caller's slice; m_parameters/m_gradients keep the memory alive.
    m_gain = Vector<Scalar, ExecutionSpace>(parameters.data(), m_dim);
    m_bias = Vector<Scalar, ExecutionSpace>(parameters.data() + m_dim, m_dim);
    m_gain_gradient = Vector<Scalar, ExecutionSpace>(gradients.data(), m_dim);
    m_bias_gradient = Vector<Scalar, ExecutionSpace>(gradients.data() + m_dim, m_dim);
  }

  void initialize(const ExecutionSpace& space, BatchRandom) {
    require_bound("initialize");
    Kokkos::deep_copy(space, m_gain, Scalar(1));
    Kokkos::deep_copy(space, m_bias, Scalar(0));
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), m_dim, part, "forward: input's column count (the layer's dim)");
    require_extent(output.extent(1), m_dim, part, "forward: output's column count (the layer's dim)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    require_bound("forward");
    const std::size_t batch = input.extent(0);
    reserve(batch);
    m_input = input;
    m_batch = batch;
    m_has_forward = true;
    if (batch == 0) return;
    kernels::layer_norm_statistics(space, input, mean_rows(), inv_std_rows(), m_epsilon);
    kernels::layer_norm_forward(space, input, mean_rows(), inv_std_rows(), m_gain, m_bias, output);
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part,
                   "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), m_dim, part, "backward: grad_output's column count (the layer's dim)");
    const bool wants_input_gradient = grad_input.data() != nullptr;
    if (wants_input_gradient) {
      require_extent(grad_input.extent(0), m_batch, part,
                     "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), m_dim, part, "backward: grad_input's column count (the layer's dim)");
    }
    if (m_batch == 0) return;
    kernels::layer_norm_backward_parameters(space, m_input, mean_rows(), inv_std_rows(), grad_output, m_gain_gradient,
                                            m_bias_gradient);
    if (wants_input_gradient)
      kernels::layer_norm_backward_input(space, m_input, mean_rows(), inv_std_rows(), m_gain, grad_output, grad_input);
  }

  /// Views over the bound parameter slice (empty before bind).
  Vector<Scalar, ExecutionSpace> gain() const { return m_gain; }
  Vector<Scalar, ExecutionSpace> bias() const { return m_bias; }
  Vector<Scalar, ExecutionSpace> gain_gradient() const { return m_gain_gradient; }
  Vector<Scalar, ExecutionSpace> bias_gradient() const { return m_bias_gradient; }

  /// Row statistics of the last forward: μ_i and 1/√(σ²_i + ε), one entry per row.
  Kokkos::View<const statistic_type*, typename ExecutionSpace::memory_space> mean() const {
    return Kokkos::subview(m_mean_storage, std::make_pair(std::size_t{0}, m_batch));
  }
  Kokkos::View<const statistic_type*, typename ExecutionSpace::memory_space> inv_std() const {
    return Kokkos::subview(m_inv_std_storage, std::make_pair(std::size_t{0}, m_batch));
  }

private:
  static constexpr const char* part = "osbi::nn::LayerNormLayer";

  void require_bound(const char* step) const {
    require(m_gain.data() != nullptr, part, step, " before bind(): the layer has no parameter buffer");
  }

  // Statistics buffers grow to the largest batch seen and never shrink.
  void reserve(std::size_t batch) {
    if (m_mean_storage.data() != nullptr && m_mean_storage.extent(0) >= batch) return;
    const std::size_t size = batch > 0 ? batch : 1;
    m_mean_storage = Statistics(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(part) + "::mean"), size);
    m_inv_std_storage =
        Statistics(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(part) + "::inv_std"), size);
  }

  using Statistics = Kokkos::View<statistic_type*, typename ExecutionSpace::memory_space>;

  // The kernels write the statistics through these (mean()/inv_std() hand out read-only views).
  Statistics mean_rows() const { return Kokkos::subview(m_mean_storage, std::make_pair(std::size_t{0}, m_batch)); }
  Statistics inv_std_rows() const {
    return Kokkos::subview(m_inv_std_storage, std::make_pair(std::size_t{0}, m_batch));
  }

  std::size_t m_dim;
  double m_epsilon;
  Vector<Scalar, ExecutionSpace> m_parameters, m_gradients;
  Vector<Scalar, ExecutionSpace> m_gain, m_bias, m_gain_gradient, m_bias_gradient;
  Statistics m_mean_storage, m_inv_std_storage;
  ConstMatrix<Scalar, ExecutionSpace> m_input;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: layer normalization over the previous layer's outputs (ε = 1e-5, gain 1, bias 0 at start),
/// e.g. nn::Sequential<nn::Dense<64>, nn::LayerNorm, nn::GELU>.
struct LayerNorm {
  template <class Scalar, class ExecutionSpace>
  using layer = LayerNormLayer<Scalar, ExecutionSpace>;
};

} // namespace osbi::nn
