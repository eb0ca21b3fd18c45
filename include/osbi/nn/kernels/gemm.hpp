// SPDX-License-Identifier: BSD-3-Clause
/// \brief C = op(A)·op(B) with a fused epilogue: the one matrix-multiply engine behind every dense layer.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace osbi::nn::kernels {

/// A read-only matrix operand given by a pointer and two strides, so one kernel serves A, Aᵀ, B and
/// Bᵀ: element (r, c) is data[r·row_stride + c·column_stride]. An optional elementwise mask of the
/// same logical shape (MADE) multiplies every element as it is read.
template <class Scalar>
struct Operand {
  const Scalar* data = nullptr;
  std::ptrdiff_t row_stride = 0;
  std::ptrdiff_t column_stride = 0;
  const Scalar* mask = nullptr;
  std::ptrdiff_t mask_row_stride = 0;
  std::ptrdiff_t mask_column_stride = 0;

  KOKKOS_INLINE_FUNCTION Scalar operator()(std::size_t r, std::size_t c) const {
    const Scalar value = data[static_cast<std::ptrdiff_t>(r) * row_stride + static_cast<std::ptrdiff_t>(c) * column_stride];
    if (mask == nullptr) return value;
    return value * mask[static_cast<std::ptrdiff_t>(r) * mask_row_stride + static_cast<std::ptrdiff_t>(c) * mask_column_stride];
  }

  /// The transposed operand (swaps the strides; no data moves).
  Operand transposed() const {
    return Operand{data, column_stride, row_stride, mask, mask_column_stride, mask_row_stride};
  }
};

/// The row-major matrix `m` as an operand.
template <class View>
Operand<typename View::non_const_value_type> operand(const View& m) {
  using Scalar = typename View::non_const_value_type;
  return Operand<Scalar>{m.data(), static_cast<std::ptrdiff_t>(m.stride(0)), static_cast<std::ptrdiff_t>(m.stride(1)),
                         nullptr, 0, 0};
}

/// `m` masked elementwise by `mask` (same shape) as an operand.
template <class View, class MaskView>
Operand<typename View::non_const_value_type> masked_operand(const View& m, const MaskView& mask) {
  Operand<typename View::non_const_value_type> result = operand(m);
  if (mask.data() != nullptr) {
    result.mask = mask.data();
    result.mask_row_stride = static_cast<std::ptrdiff_t>(mask.stride(0));
    result.mask_column_stride = static_cast<std::ptrdiff_t>(mask.stride(1));
  }
  return result;
}

/*
 * Epilogues say what happens to the finished dot product `total` of C(row, column):
 *   static constexpr bool accumulates   C += finish(total) (else C = finish(total))
 *   static constexpr bool linear        finish(a + b) == finish(a) + finish(b) (lets a blocked K
 *                                       loop apply it per block when accumulating)
 *   Scalar finish(row, column, total)   bias, activation, mask, ...
 */
namespace epilogue {

/// C = total.
struct Store {
  static constexpr bool accumulates = false;
  static constexpr bool linear = true;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t, std::size_t, Scalar total) const { return total; }
};

/// C += total.
struct Accumulate {
  static constexpr bool accumulates = true;
  static constexpr bool linear = true;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t, std::size_t, Scalar total) const { return total; }
};

/// C += total ⊙ mask (a masked layer's weight gradient).
template <class Scalar>
struct AccumulateMasked {
  static constexpr bool accumulates = true;
  static constexpr bool linear = true;
  const Scalar* mask;
  std::ptrdiff_t row_stride;
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t row, std::size_t column, Scalar total) const {
    return total * mask[static_cast<std::ptrdiff_t>(row) * row_stride + static_cast<std::ptrdiff_t>(column)];
  }
};

/// C = activation(total + bias[column]) (bias may be null).
template <class Scalar, class Activation>
struct BiasActivation {
  static constexpr bool accumulates = false;
  static constexpr bool linear = false;
  const Scalar* bias;
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t, std::size_t column, Scalar total) const {
    return Activation::value(bias != nullptr ? total + bias[column] : total);
  }
};

} // namespace epilogue

/// Register tile of the host micro-kernel: 6 rows × two 64-byte vectors (6×32 in float, 6×16 in
/// double): 12 accumulators, the largest tile that stays in AVX-512's 32 registers with the
/// broadcast and B loads.
template <class Scalar>
struct HostTile {
  static constexpr int rows = 6;
  static constexpr int columns = 128 / static_cast<int>(sizeof(Scalar));
  /// K block: keeps one packed B panel (k_block × columns) in L1/L2 while all row panels pass over it.
  static constexpr std::size_t k_block = 512;
};

/// Packing buffers reused across calls (grown on demand, never shrunk). One per concurrently used
/// GEMM caller; not thread-safe.
template <class Scalar, class ExecutionSpace>
class GemmWorkspace {
public:
  Vector<Scalar, ExecutionSpace> packed_a() const { return m_packed_a; }
  Vector<Scalar, ExecutionSpace> packed_b() const { return m_packed_b; }

  void reserve(std::size_t a_size, std::size_t b_size) {
    if (m_packed_a.extent(0) < a_size)
      m_packed_a = Vector<Scalar, ExecutionSpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::nn::GemmWorkspace::packed_a"), a_size);
    if (m_packed_b.extent(0) < b_size)
      m_packed_b = Vector<Scalar, ExecutionSpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::nn::GemmWorkspace::packed_b"), b_size);
  }

private:
  Vector<Scalar, ExecutionSpace> m_packed_a;
  Vector<Scalar, ExecutionSpace> m_packed_b;
};

/// Which implementation gemm() runs: `automatic` picks the packed micro-kernel on host spaces and
/// the portable one elsewhere; the others force one (tests run both on the host).
enum class GemmAlgorithm { automatic, packed, portable };

namespace detail {

/// acc[r][c] = Σ_k A(r, k) · b[k·NR + c], A row r at a_rows[r] + k·a_step (a packed panel has
/// a_step = MR and a_rows[r] = panel + r; a row-major A is read in place with a_step = 1): the
/// register-tiled inner loop.
template <class Scalar, int MR, int NR>
KOKKOS_INLINE_FUNCTION void micro_kernel(std::size_t k_count, const Scalar* const (&a_rows)[MR], std::size_t a_step,
                                         const Scalar* __restrict__ b, Scalar (&acc)[MR][NR]) {
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = Scalar(0);
  for (std::size_t k = 0; k < k_count; ++k) {
    const Scalar* b_k = b + k * NR;
    for (int r = 0; r < MR; ++r) {
      const Scalar a_rk = a_rows[r][k * a_step];
      for (int c = 0; c < NR; ++c) acc[r][c] += a_rk * b_k[c];
    }
  }
}

/// Where C(row, column) lives and which (row, column) its epilogue sees: a transposed problem
/// (Cᵀ = Bᵀ·Aᵀ, chosen for skinny outputs) swaps both.
struct OutputMap {
  std::ptrdiff_t row_stride, column_stride;
  bool swap_indices;
};

/// Writes one finished register tile through the epilogue. The plain case (row-major C, one K block)
/// is a contiguous loop the compiler vectorizes; the others are rare or small.
template <class Scalar, int MR, int NR, class Epilogue>
KOKKOS_INLINE_FUNCTION void write_tile(const Scalar (&acc)[MR][NR], std::size_t rows, std::size_t columns,
                                       std::size_t row0, std::size_t column0, Scalar* c, const OutputMap& output,
                                       const Epilogue& finish, bool first, bool last) {
  if (!output.swap_indices && output.column_stride == 1 && first && last) {
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t row = row0 + r;
      Scalar* c_row = c + static_cast<std::ptrdiff_t>(row) * output.row_stride + column0;
      if constexpr (Epilogue::accumulates) {
        for (std::size_t cc = 0; cc < columns; ++cc) c_row[cc] += finish.finish(row, column0 + cc, acc[r][cc]);
      } else {
        for (std::size_t cc = 0; cc < columns; ++cc) c_row[cc] = finish.finish(row, column0 + cc, acc[r][cc]);
      }
    }
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t row = row0 + r;
    for (std::size_t cc = 0; cc < columns; ++cc) {
      const std::size_t column = column0 + cc;
      const std::size_t epilogue_row = output.swap_indices ? column : row;
      const std::size_t epilogue_column = output.swap_indices ? row : column;
      Scalar& out = c[static_cast<std::ptrdiff_t>(row) * output.row_stride +
                      static_cast<std::ptrdiff_t>(column) * output.column_stride];
      if constexpr (Epilogue::accumulates) {
        out += finish.finish(epilogue_row, epilogue_column, acc[r][cc]);
      } else if (first && last) {
        out = finish.finish(epilogue_row, epilogue_column, acc[r][cc]);
      } else if (first) {
        out = acc[r][cc];
      } else if (!last) {
        out += acc[r][cc];
      } else {
        out = finish.finish(epilogue_row, epilogue_column, out + acc[r][cc]);
      }
    }
  }
}

template <class Scalar, class ExecutionSpace, class Epilogue>
void gemm_packed(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                 const Operand<Scalar>& b, Scalar* c, const OutputMap& output, const Epilogue& finish,
                 GemmWorkspace<Scalar, ExecutionSpace>& workspace) {
  constexpr int MR = HostTile<Scalar>::rows;
  constexpr int NR = HostTile<Scalar>::columns;
  constexpr std::size_t KC = HostTile<Scalar>::k_block;
  const std::size_t row_panels = (m + MR - 1) / MR;
  const std::size_t column_panels = (n + NR - 1) / NR;
  // A row-major A (unit column stride, no mask) is read where it is; anything else is packed.
  const bool pack_a = a.column_stride != 1 || a.mask != nullptr;
  workspace.reserve(pack_a ? row_panels * MR * k : 0, column_panels * NR * k);
  Scalar* const packed_a = workspace.packed_a().data();
  Scalar* const packed_b = workspace.packed_b().data();

  // Panel layouts: A panel p holds rows p·MR.. as [k][MR]; B panel q holds columns q·NR.. as [k][NR];
  // zero padding past m and n keeps the micro-kernel branch-free.
  if (pack_a) {
    Kokkos::parallel_for(
        "osbi::nn::gemm::pack_a", Kokkos::RangePolicy<ExecutionSpace>(space, 0, row_panels),
        KOKKOS_LAMBDA(const std::size_t p) {
          Scalar* panel = packed_a + p * MR * k;
          for (std::size_t kk = 0; kk < k; ++kk)
            for (int r = 0; r < MR; ++r) {
              const std::size_t row = p * MR + r;
              panel[kk * MR + r] = row < m ? a(row, kk) : Scalar(0);
            }
        });
  }
  Kokkos::parallel_for(
      "osbi::nn::gemm::pack_b", Kokkos::RangePolicy<ExecutionSpace>(space, 0, column_panels),
      KOKKOS_LAMBDA(const std::size_t q) {
        Scalar* panel = packed_b + q * NR * k;
        for (std::size_t kk = 0; kk < k; ++kk)
          for (int cc = 0; cc < NR; ++cc) {
            const std::size_t column = q * NR + cc;
            panel[kk * NR + cc] = column < n ? b(kk, column) : Scalar(0);
          }
      });

  const std::size_t k_blocks = k == 0 ? 1 : (k + KC - 1) / KC;
  for (std::size_t block = 0; block < k_blocks; ++block) {
    const std::size_t k_begin = block * KC;
    const std::size_t k_count = std::min(KC, k - std::min(k, k_begin));
    const bool first = block == 0, last = block + 1 == k_blocks;
    Kokkos::parallel_for(
        "osbi::nn::gemm::micro_tiles", Kokkos::RangePolicy<ExecutionSpace>(space, 0, row_panels),
        KOKKOS_LAMBDA(const std::size_t p) {
          const std::size_t rows = m - p * MR < std::size_t(MR) ? m - p * MR : std::size_t(MR);
          const Scalar* a_rows[MR];
          std::size_t a_step = 1;
          if (pack_a) {
            for (int r = 0; r < MR; ++r) a_rows[r] = packed_a + p * MR * k + k_begin * MR + r;
            a_step = MR;
          } else {
            // Rows past m repeat the last row: valid memory, results discarded.
            for (int r = 0; r < MR; ++r)
              a_rows[r] = a.data + static_cast<std::ptrdiff_t>(p * MR + (std::size_t(r) < rows ? r : rows - 1)) * a.row_stride +
                          static_cast<std::ptrdiff_t>(k_begin);
          }
          for (std::size_t q = 0; q < column_panels; ++q) {
            Scalar acc[MR][NR];
            micro_kernel<Scalar, MR, NR>(k_count, a_rows, a_step, packed_b + q * NR * k + k_begin * NR, acc);
            const std::size_t columns = n - q * NR < std::size_t(NR) ? n - q * NR : std::size_t(NR);
            write_tile<Scalar, MR, NR>(acc, rows, columns, p * MR, q * NR, c, output, finish, first, last);
          }
        });
  }
}

/// One thread per element of C: portable (any backend), simple, correct; the GPU path until a tuned
/// team kernel replaces it.
template <class Scalar, class ExecutionSpace, class Epilogue>
void gemm_portable(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                   const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish) {
  using Policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>;
  Kokkos::parallel_for(
      "osbi::nn::gemm::portable", Policy(space, {0, 0}, {m, n}), KOKKOS_LAMBDA(const std::size_t row, const std::size_t column) {
        Scalar total = 0;
        for (std::size_t kk = 0; kk < k; ++kk) total += a(row, kk) * b(kk, column);
        Scalar& out = c[static_cast<std::ptrdiff_t>(row) * ldc + static_cast<std::ptrdiff_t>(column)];
        if constexpr (Epilogue::accumulates)
          out += finish.finish(row, column, total);
        else
          out = finish.finish(row, column, total);
      });
}

} // namespace detail

/// C (m × n, row-major with leading dimension ldc) ← epilogue(A·B), A m × k, B k × n given as
/// operands (any strides, optional masks). Enqueued on `space`. k = 0 gives epilogue(0); m or n = 0
/// does nothing. The packed path requires host-accessible memory (it is chosen only for host spaces).
template <class Scalar, class ExecutionSpace, class Epilogue>
void gemm(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
          const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish,
          GemmWorkspace<Scalar, ExecutionSpace>& workspace, GemmAlgorithm algorithm = GemmAlgorithm::automatic) {
  static_assert(Epilogue::linear || !Epilogue::accumulates,
                "osbi::nn::kernels::gemm: an accumulating epilogue must be linear (see gemm.hpp, Epilogues)");
  if (m == 0 || n == 0) return;
  constexpr bool host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  if (algorithm == GemmAlgorithm::automatic) algorithm = host ? GemmAlgorithm::packed : GemmAlgorithm::portable;
  if constexpr (host) {
    if (algorithm == GemmAlgorithm::packed) {
      // A skinny C (few columns, many rows) wastes most of a 32-wide register tile; Cᵀ = Bᵀ·Aᵀ puts
      // the long side along the tile instead (the MADE output layer: n = 2·D).
      constexpr std::size_t tile_columns = HostTile<Scalar>::columns;
      if (n < tile_columns / 2 && m > n) {
        detail::gemm_packed(space, n, m, k, b.transposed(), a.transposed(), c, detail::OutputMap{1, ldc, true}, finish,
                            workspace);
      } else {
        detail::gemm_packed(space, m, n, k, a, b, c, detail::OutputMap{ldc, 1, false}, finish, workspace);
      }
      return;
    }
  }
  detail::gemm_portable(space, m, n, k, a, b, c, ldc, finish);
}

} // namespace osbi::nn::kernels
