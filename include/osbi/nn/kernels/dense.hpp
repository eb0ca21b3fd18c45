// SPDX-License-Identifier: BSD-3-Clause
/// \brief The dense-layer kernels: forward with fused bias + activation, and the two backward products.
#pragma once

#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/kernels/gemm.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <type_traits>

namespace osbi::nn::kernels {

/*
 * Shapes (PyTorch's convention): x is batch × in, weight is out × in, bias has out entries, y is
 * batch × out. A non-empty `mask` (out × in, entries 0 or 1) makes the layer use weight ⊙ mask (MADE).
 *
 *   dense_forward                y = activation(x · (weight ⊙ mask)ᵀ + bias)          (overwrites y)
 *   dense_backward_input         grad_x = grad_z · (weight ⊙ mask)                    (overwrites)
 *   dense_backward_parameters    grad_weight += (grad_zᵀ · x) ⊙ mask, grad_bias += Σ_rows grad_z
 *                                (accumulate: several backward passes may add into one gradient)
 * grad_z is the gradient with respect to the pre-activation. Each call validates shapes on the host
 * and throws DimensionMismatch naming both sizes; then it only enqueues work on `space`.
 */

template <class Type>
using same_t = std::type_identity_t<Type>; // keeps a parameter out of template deduction

namespace detail {

template <class XView, class WeightView>
void check_dense(std::string_view step, const XView& x, const WeightView& weight, std::size_t y_rows,
                 std::size_t y_columns, std::size_t bias_size, std::size_t mask_rows, std::size_t mask_columns,
                 bool has_mask) {
  require_extent(x.extent(1), weight.extent(1), step, "x's column count (must equal weight's in)");
  require_extent(y_rows, x.extent(0), step, "the output's row count (must equal x's)");
  require_extent(y_columns, weight.extent(0), step, "the output's column count (must equal weight's out)");
  if (bias_size != 0) require_extent(bias_size, weight.extent(0), step, "bias's size (must equal weight's out)");
  if (has_mask) {
    require_extent(mask_rows, weight.extent(0), step, "mask's row count (must equal weight's)");
    require_extent(mask_columns, weight.extent(1), step, "mask's column count (must equal weight's)");
  }
}

/// grad_bias += column sums of grad_z, as a GEMM side job. The host takes a chunk of adjacent columns
/// per item so it adds whole rows as vectors (one column per item would walk grad_z with stride
/// `out`, slower than the weight GEMM itself at sbi's sizes). A device takes one column and a block
/// of rows per item (neighbouring items read neighbouring columns, coalesced) and adds its partial sum
/// atomically, so a large batch spreads over many threads; the order of those additions varies.
template <class Scalar, class ExecutionSpace>
struct BiasGradient {
  static constexpr bool on_host =
      Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  static constexpr std::size_t chunk = on_host ? 16 : 1;
  static constexpr std::size_t device_rows = 256; ///< rows per item on a device
  ConstMatrix<Scalar, ExecutionSpace> grad_z;
  Vector<Scalar, ExecutionSpace> grad_bias;

  std::size_t items() const {
    const std::size_t out = grad_bias.extent(0);
    if (out == 0) return 0;
    if constexpr (on_host) return (out + chunk - 1) / chunk;
    return out * ((grad_z.extent(0) + device_rows - 1) / device_rows);
  }

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t item) const {
    if constexpr (on_host) {
      run(item, item + 1);
    } else {
      const std::size_t out = grad_bias.extent(0), batch = grad_z.extent(0);
      const std::size_t column = item % out, first_row = (item / out) * device_rows;
      const std::size_t end_row = first_row + device_rows < batch ? first_row + device_rows : batch;
      Scalar sum = 0;
      for (std::size_t row = first_row; row < end_row; ++row) sum += grad_z(row, column);
      Kokkos::atomic_add(&grad_bias(column), sum);
    }
  }

  /// Items [first, last) on the host in one pass, row by row over their columns, so grad_z is read in address
  /// order (item by item, each took one line of every row: a stride the prefetchers did not keep up with once
  /// grad_z had left L2). Each column sums its rows in order, so one item or many give the same bits.
  KOKKOS_INLINE_FUNCTION void run(std::size_t first, std::size_t last) const {
    static_assert(on_host, "osbi::nn::kernels::detail::BiasGradient::run is the host path");
    constexpr std::size_t slice = 256; // columns per pass: their running sums (1 KiB in float) stay in L1
    const std::size_t batch = grad_z.extent(0), out = grad_bias.extent(0);
    const std::size_t end = last * chunk < out ? last * chunk : out;
    const std::ptrdiff_t stride = static_cast<std::ptrdiff_t>(grad_z.stride(0));
    for (std::size_t c0 = first * chunk; c0 < end; c0 += slice) {
      const std::size_t count = end - c0 < slice ? end - c0 : slice;
      Scalar sums[slice] = {};
      for (std::size_t r = 0; r < batch; ++r) {
        const Scalar* __restrict__ from = grad_z.data() + static_cast<std::ptrdiff_t>(r) * stride + c0;
        Scalar* __restrict__ to = sums;
        for (std::size_t j = 0; j < count; ++j) to[j] += from[j];
      }
      for (std::size_t j = 0; j < count; ++j) grad_bias(c0 + j) += sums[j];
    }
  }
};

} // namespace detail

/// y = activation(x · (weight ⊙ mask)ᵀ + bias). An empty bias means none.
template <class Activation = activation::Identity, class ExecutionSpace, class Scalar>
void dense_forward(const ExecutionSpace& space, const same_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                   const same_t<ConstMatrix<Scalar, ExecutionSpace>>& weight,
                   const same_t<ConstVector<Scalar, ExecutionSpace>>& bias,
                   const same_t<Matrix<Scalar, ExecutionSpace>>& y, GemmWorkspace<Scalar, ExecutionSpace>& workspace,
                   const same_t<ConstMatrix<Scalar, ExecutionSpace>>& mask = {},
                   GemmAlgorithm algorithm = GemmAlgorithm::automatic) {
  detail::check_dense("osbi::nn::dense_forward", x, weight, y.extent(0), y.extent(1), bias.extent(0), mask.extent(0),
                      mask.extent(1), mask.data() != nullptr);
  const auto product = [&](const auto& finish) {
    gemm(space, x.extent(0), weight.extent(0), x.extent(1), operand(x), masked_operand(weight, mask).transposed(),
         y.data(), static_cast<std::ptrdiff_t>(y.stride(0)), finish, workspace, algorithm);
  };
  if (bias.extent(0) != 0)
    product(epilogue::BiasActivation<Scalar, Activation>{bias.data()});
  else
    product(epilogue::Activate<Activation>{});
}

/// grad_x = grad_z · (weight ⊙ mask).
template <class ExecutionSpace, class Scalar>
void dense_backward_input(const ExecutionSpace& space, const same_t<ConstMatrix<Scalar, ExecutionSpace>>& grad_z,
                          const same_t<ConstMatrix<Scalar, ExecutionSpace>>& weight,
                          const same_t<Matrix<Scalar, ExecutionSpace>>& grad_x,
                          GemmWorkspace<Scalar, ExecutionSpace>& workspace,
                          const same_t<ConstMatrix<Scalar, ExecutionSpace>>& mask = {},
                          GemmAlgorithm algorithm = GemmAlgorithm::automatic) {
  constexpr std::string_view step = "osbi::nn::dense_backward_input";
  require_extent(grad_z.extent(1), weight.extent(0), step, "grad_z's column count (must equal weight's out)");
  require_extent(grad_x.extent(0), grad_z.extent(0), step, "grad_x's row count (must equal grad_z's)");
  require_extent(grad_x.extent(1), weight.extent(1), step, "grad_x's column count (must equal weight's in)");
  if (mask.data() != nullptr) {
    require_extent(mask.extent(0), weight.extent(0), step, "mask's row count (must equal weight's)");
    require_extent(mask.extent(1), weight.extent(1), step, "mask's column count (must equal weight's)");
  }
  gemm(space, grad_z.extent(0), weight.extent(1), weight.extent(0), operand(grad_z), masked_operand(weight, mask),
       grad_x.data(), static_cast<std::ptrdiff_t>(grad_x.stride(0)), epilogue::Store{}, workspace, algorithm);
}

/// grad_weight += (grad_zᵀ · x) ⊙ mask; grad_bias += column sums of grad_z (skipped if empty).
template <class ExecutionSpace, class Scalar>
void dense_backward_parameters(const ExecutionSpace& space, const same_t<ConstMatrix<Scalar, ExecutionSpace>>& grad_z,
                               const same_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                               const same_t<Matrix<Scalar, ExecutionSpace>>& grad_weight,
                               const same_t<Vector<Scalar, ExecutionSpace>>& grad_bias,
                               GemmWorkspace<Scalar, ExecutionSpace>& workspace,
                               const same_t<ConstMatrix<Scalar, ExecutionSpace>>& mask = {},
                               GemmAlgorithm algorithm = GemmAlgorithm::automatic) {
  constexpr std::string_view step = "osbi::nn::dense_backward_parameters";
  require_extent(x.extent(0), grad_z.extent(0), step, "x's row count (must equal grad_z's)");
  require_extent(grad_weight.extent(0), grad_z.extent(1), step, "grad_weight's row count (must equal grad_z's columns)");
  require_extent(grad_weight.extent(1), x.extent(1), step, "grad_weight's column count (must equal x's columns)");
  if (grad_bias.extent(0) != 0)
    require_extent(grad_bias.extent(0), grad_z.extent(1), step, "grad_bias's size (must equal grad_z's columns)");
  const std::size_t out = grad_z.extent(1), batch = grad_z.extent(0);
  const detail::BiasGradient<Scalar, ExecutionSpace> bias_job{grad_z, grad_bias};
  if (mask.data() != nullptr) {
    require_extent(mask.extent(0), out, step, "mask's row count (must equal grad_weight's)");
    require_extent(mask.extent(1), x.extent(1), step, "mask's column count (must equal grad_weight's)");
    gemm(space, out, x.extent(1), batch, operand(grad_z).transposed(), operand(x), grad_weight.data(),
         static_cast<std::ptrdiff_t>(grad_weight.stride(0)),
         epilogue::AccumulateMasked<Scalar>{mask.data(), static_cast<std::ptrdiff_t>(mask.stride(0))}, workspace,
         algorithm, bias_job);
  } else {
    gemm(space, out, x.extent(1), batch, operand(grad_z).transposed(), operand(x), grad_weight.data(),
         static_cast<std::ptrdiff_t>(grad_weight.stride(0)), epilogue::Accumulate{}, workspace, algorithm, bias_job);
  }
}

} // namespace osbi::nn::kernels
