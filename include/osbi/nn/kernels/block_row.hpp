// SPDX-License-Identifier: BSD-3-Clause
/// \brief The row index of a fixed-size block of rows whose last block is short.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace osbi::nn::kernels::detail {

/// Row r of the block of rows [first, first + count) that a kernel runs as a block of a fixed size (a GEMM register
/// tile, an attention tile, layer norm's four rows at a time): past `count`, the block's last row again, so the kernel
/// reads valid rows at a compile-time count and drops the repeats' results.
KOKKOS_INLINE_FUNCTION std::size_t block_row(std::size_t first, std::size_t count, std::size_t r) {
  return first + (r < count ? r : count - 1);
}

} // namespace osbi::nn::kernels::detail
