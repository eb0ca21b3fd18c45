// SPDX-License-Identifier: BSD-3-Clause
/// \brief Residual block x + f(x), f a Sequential of layer specs with output_dim == input_dim; spec
/// nn::Residual<Specs...>.
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/sequential.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace osbi::nn {

namespace residual_detail {

/// out = a + b elementwise (same shapes; out may be a).
template <class Scalar, class ExecutionSpace>
void add(const ExecutionSpace& space, const char* kernel_label,
         const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& a,
         const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& b,
         const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& out) {
  if (out.extent(0) == 0 || out.extent(1) == 0) return;
  const ConstMatrix<Scalar, ExecutionSpace> left = a, right = b;
  const Matrix<Scalar, ExecutionSpace> result = out;
  using Policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>;
  Kokkos::parallel_for(
      kernel_label, Policy(space, {0, 0}, {out.extent(0), out.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
        result(row, column) = left(row, column) + right(row, column);
      });
}

} // namespace residual_detail

/*
 * ResidualLayer — models Layer (layer.hpp): y = x + f(x), f = SequentialLayer<Scalar, ExecutionSpace,
 * Specs...> built from dim, which must give output_dim() == dim (checked at construction:
 * DimensionMismatch naming both). Parameters are f's, in f's order (bind/initialize forward to it).
 * Forward lets f write into a layer-owned buffer, never into `output`: f's last layer may keep a
 * handle to its output for backward (Tanh does), so adding x in place would corrupt it.
 * Backward: f.backward(grad_y) accumulates f's parameter gradients and overwrites grad_x with the
 * gradient through f, then grad_x += grad_y (the skip path); an empty grad_x skips both input parts.
 */
template <class Scalar, class ExecutionSpace, class... Specs>
class ResidualLayer {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using inner_type = SequentialLayer<Scalar, ExecutionSpace, Specs...>;

  explicit ResidualLayer(std::size_t dim)
      : m_inner(dim), m_inner_output(std::string(part) + "::inner_output", m_inner.output_dim()) {
    require<DimensionMismatch>(m_inner.output_dim() == dim, part, "the inner layers map input_dim ", dim,
                               " to output_dim ", m_inner.output_dim(),
                               "; a residual block needs output_dim == input_dim");
  }

  std::size_t input_dim() const { return m_inner.input_dim(); }
  std::size_t output_dim() const { return m_inner.output_dim(); }
  std::size_t parameter_count() const { return m_inner.parameter_count(); }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    m_inner.bind(parameters, gradients);
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) { m_inner.initialize(space, rng); }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (the block's dim)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (the block's dim)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    const Matrix<Scalar, ExecutionSpace> inner_output = m_inner_output.rows(input.extent(0));
    m_inner.forward(space, input, inner_output);
    m_batch = input.extent(0);
    m_has_forward = true;
    residual_detail::add<Scalar>(space, "osbi::nn::ResidualLayer::forward_add", input, inner_output, output);
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part,
                   "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count (the block's dim)");
    if (grad_input.data() != nullptr) {
      require_extent(grad_input.extent(0), m_batch, part,
                     "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count (the block's dim)");
    }
    m_inner.backward(space, grad_output, grad_input);
    if (grad_input.data() != nullptr)
      residual_detail::add<Scalar>(space, "osbi::nn::ResidualLayer::backward_add", grad_input, grad_output, grad_input);
  }

  /// The wrapped Sequential (e.g. inner().get<0>().weight()).
  inner_type& inner() { return m_inner; }
  const inner_type& inner() const { return m_inner; }

private:
  static constexpr const char* part = "osbi::nn::ResidualLayer";

  inner_type m_inner;
  detail::BatchBuffer<Scalar, ExecutionSpace> m_inner_output;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: x + Sequential<Specs...>(x), e.g. nn::Residual<nn::Dense<64>, nn::GELU, nn::Dense<64>> after a
/// layer with 64 outputs. The block's input and output dimension is the previous layer's output_dim.
template <class... Specs>
struct Residual {
  static_assert(sizeof...(Specs) > 0, "osbi::nn::Residual<>: give at least one layer spec");

  template <class Scalar, class ExecutionSpace>
  using layer = ResidualLayer<Scalar, ExecutionSpace, Specs...>;
};

} // namespace osbi::nn
