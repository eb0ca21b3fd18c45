// SPDX-License-Identifier: BSD-3-Clause
/// \brief Machinery shared by the layers: grow-only batch buffers and the pointwise activation kernels.
#pragma once

#include <osbi/nn/kernels/activation.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

namespace osbi::nn::detail {

/// A layer-owned batch × columns scratch matrix. rows(n) hands out the first n rows as a Matrix
/// (a row subview: LayoutRight and contiguous); storage grows when a batch is larger than any before
/// and never shrinks, so a training loop allocates once. Contents are not preserved across growth.
template <class Scalar, class ExecutionSpace>
class BatchBuffer {
public:
  BatchBuffer() = default;
  BatchBuffer(std::string label, std::size_t columns) : m_label(std::move(label)), m_columns(columns) {}

  Matrix<Scalar, ExecutionSpace> rows(std::size_t count) {
    if (m_storage.data() == nullptr || m_storage.extent(0) < count)
      m_storage =
          Matrix<Scalar, ExecutionSpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, m_label), count, m_columns);
    return Kokkos::subview(m_storage, std::make_pair(std::size_t{0}, count), Kokkos::ALL);
  }

  std::size_t columns() const { return m_columns; }
  /// Rows allocated so far (tests check that smaller batches reuse the storage).
  std::size_t capacity() const { return m_storage.extent(0); }
  const Scalar* storage_data() const { return m_storage.data(); }

private:
  std::string m_label;
  std::size_t m_columns = 0;
  Matrix<Scalar, ExecutionSpace> m_storage;
};

/// Whether kernels on this space run on the host (memory the host can read): loops there are written for the
/// vectorizer, on a device for coalescing.
template <class ExecutionSpace>
inline constexpr bool host_space =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;

/// y = f(x) elementwise (x and y have the same shape; they may be the same view).
template <class Activation, class Scalar, class ExecutionSpace>
void activation_forward(const ExecutionSpace& space, const std::string& kernel_label,
                        const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                        const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& y) {
  if (x.extent(0) == 0 || x.extent(1) == 0) return;
  const ConstMatrix<Scalar, ExecutionSpace> in = x;
  const Matrix<Scalar, ExecutionSpace> out = y;
  if (in.span_is_contiguous() && out.span_is_contiguous()) {
    // One flat loop over contiguous rows: it vectorizes on the host (an MDRange tile loop does not) and
    // coalesces on a GPU.
    const Scalar* input = in.data();
    Scalar* output = out.data();
    if constexpr (host_space<ExecutionSpace>) {
      // A row per iteration with restrict-qualified locals: the compiler cannot otherwise prove that the stores
      // leave the functor's pointers alone, and keeps the loop scalar.
      const std::size_t columns = x.extent(1);
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
                           KOKKOS_LAMBDA(const std::size_t row) {
                             const Scalar* __restrict__ source = input + row * columns;
                             Scalar* __restrict__ target = output + row * columns;
                             for (std::size_t j = 0; j < columns; ++j) target[j] = Activation::value(source[j]);
                           });
    } else {
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0) * x.extent(1)),
                           KOKKOS_LAMBDA(const std::size_t k) { output[k] = Activation::value(input[k]); });
    }
    return;
  }
  using Policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>;
  Kokkos::parallel_for(
      kernel_label, Policy(space, {0, 0}, {x.extent(0), x.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
        out(row, column) = Activation::value(in(row, column));
      });
}

/// In place over `z` (a batch of pre-activations): y = f(z) and z := f'(z, y), for a layer whose
/// activation needs its input (GELU, SiLU). The backward pass is then a product (activation_backward<KeptDerivative>) instead of a
/// second evaluation of f' (for GELU an erf and an exp per element, a tenth of a vector-field training step); the
/// derivative is the same function of the same z, so the gradients keep their bits.
template <class Activation, class Scalar, class ExecutionSpace>
void activation_forward_keeping_derivative(const ExecutionSpace& space, const std::string& kernel_label,
                                           const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& z,
                                           const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& y) {
  if (z.extent(0) == 0 || z.extent(1) == 0) return;
  if (!z.span_is_contiguous() || !y.span_is_contiguous()) { // padded rows (a view allocated with AllowPadding)
    const Matrix<Scalar, ExecutionSpace> pre = z, out = y;
    Kokkos::parallel_for(
        kernel_label, Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {z.extent(0), z.extent(1)}),
        KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
          const Scalar value = Activation::value(pre(row, column));
          pre(row, column) = Activation::derivative(pre(row, column), value);
          out(row, column) = value;
        });
    return;
  }
  Scalar* pre = z.data();
  Scalar* output = y.data();
  if constexpr (host_space<ExecutionSpace>) {
    const std::size_t columns = z.extent(1);
    Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, z.extent(0)),
                         KOKKOS_LAMBDA(const std::size_t row) {
                           Scalar* __restrict__ source = pre + row * columns;
                           Scalar* __restrict__ target = output + row * columns;
                           for (std::size_t j = 0; j < columns; ++j) {
                             const Scalar value = Activation::value(source[j]);
                             source[j] = Activation::derivative(source[j], value);
                             target[j] = value;
                           }
                         });
  } else {
    Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, z.extent(0) * z.extent(1)),
                         KOKKOS_LAMBDA(const std::size_t k) {
                           const Scalar value = Activation::value(pre[k]);
                           pre[k] = Activation::derivative(pre[k], value);
                           output[k] = value;
                         });
  }
}

/// The pseudo-activation whose derivative is its input: activation_backward with it and the kept f'(z) as x
/// multiplies the upstream gradient by f'(z) (the backward of activation_forward_keeping_derivative).
struct KeptDerivative {
  static constexpr bool needs_input = true;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar kept, Scalar) {
    return kept;
  }
};

/// grad_x = grad_y ⊙ f'(x, y). When the activation does not need its input, `x` may be empty and y
/// stands in for it (derivative() ignores that argument then).
template <class Activation, class Scalar, class ExecutionSpace>
void activation_backward(const ExecutionSpace& space, const std::string& kernel_label,
                         const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                         const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& y,
                         const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& grad_y,
                         const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& grad_x) {
  if (grad_y.extent(0) == 0 || grad_y.extent(1) == 0) return;
  const ConstMatrix<Scalar, ExecutionSpace> input = Activation::needs_input ? x : y;
  const ConstMatrix<Scalar, ExecutionSpace> output = y;
  const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_y;
  const Matrix<Scalar, ExecutionSpace> result = grad_x;
  if (input.span_is_contiguous() && output.span_is_contiguous() && upstream.span_is_contiguous() &&
      result.span_is_contiguous()) {
    const Scalar *in = input.data(), *out = output.data(), *up = upstream.data();
    Scalar* res = result.data();
    if constexpr (host_space<ExecutionSpace>) {
      const std::size_t columns = grad_y.extent(1);
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, grad_y.extent(0)),
                           KOKKOS_LAMBDA(const std::size_t row) {
                             const std::size_t offset = row * columns;
                             const Scalar* __restrict__ a = in + offset;
                             const Scalar* __restrict__ b = out + offset;
                             const Scalar* __restrict__ g = up + offset;
                             Scalar* __restrict__ r = res + offset;
                             for (std::size_t j = 0; j < columns; ++j) r[j] = g[j] * Activation::derivative(a[j], b[j]);
                           });
    } else {
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, grad_y.extent(0) * grad_y.extent(1)),
                           KOKKOS_LAMBDA(const std::size_t k) { res[k] = up[k] * Activation::derivative(in[k], out[k]); });
    }
    return;
  }
  using Policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>;
  Kokkos::parallel_for(
      kernel_label, Policy(space, {0, 0}, {grad_y.extent(0), grad_y.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
        result(row, column) = upstream(row, column) * Activation::derivative(input(row, column), output(row, column));
      });
}

} // namespace osbi::nn::detail
