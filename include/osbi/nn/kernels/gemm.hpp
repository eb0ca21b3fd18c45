// SPDX-License-Identifier: BSD-3-Clause
/// \brief C = op(A)·op(B) with a fused epilogue: the one matrix-multiply engine behind every dense layer.
#pragma once

#include <osbi/nn/kernels/block_row.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

// `#pragma GCC unroll` for host compilers that know it; nothing for device compilers.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__) && !defined(__HIPCC__) && !defined(__NVCOMPILER)
#define OSBI_HOST_UNROLL_PRAGMA(text) _Pragma(#text)
#define OSBI_HOST_UNROLL(count) OSBI_HOST_UNROLL_PRAGMA(GCC unroll count)
#else
#define OSBI_HOST_UNROLL(count)
#endif

// GCC/Clang vector extensions in host code only (device compilers and their device passes get the
// plain loops).
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && !defined(__SYCL_DEVICE_ONLY__)
#define OSBI_HOST_VECTOR_EXTENSIONS 1
#else
#define OSBI_HOST_VECTOR_EXTENSIONS 0
#endif

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

/// C = activation(total + bias[column]); bias must not be null (Activate is the layer without one).
/// Two types rather than a null test per element: `bias ? total + bias[column] : total` is control
/// flow that kept GCC 12 from vectorizing the epilogue, and a scalar tanh per element cost four times
/// the 200×50×50 product it finished (bench/npe's profile: half of the MAF step's GEMM time).
template <class Scalar, class Activation>
struct BiasActivation {
  static constexpr bool accumulates = false;
  static constexpr bool linear = false;
  const Scalar* bias;
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t, std::size_t column, Scalar total) const {
    return Activation::value(total + bias[column]);
  }
};

/// C = activation(total) (a layer without bias).
template <class Activation>
struct Activate {
  static constexpr bool accumulates = false;
  static constexpr bool linear = false;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION Scalar finish(std::size_t, std::size_t, Scalar total) const {
    return Activation::value(total);
  }
};

} // namespace epilogue

/// Bytes in the widest vector register the compiler was told it may use: the host register tile
/// is two of them wide.
#if defined(__AVX512F__)
inline constexpr int host_vector_bytes = 64;
#elif defined(__AVX__)
inline constexpr int host_vector_bytes = 32;
#else
inline constexpr int host_vector_bytes = 16;
#endif

/// Register tile of the host micro-kernel: 6 rows × two of the widest vectors (AVX-512: 6×32 floats,
/// AVX2: 6×16, SSE: 6×8): 12 accumulators plus two B loads and a broadcast, the largest tile that
/// stays in the register file of AVX and SSE (16 registers) and a good one for AVX-512's 32. A tile
/// wider than the registers spills every accumulator on every k: on an AVX2 Zen the 6×32 tile ran at
/// 45 % of the FMA peak, the 6×16 one at ~80 %.
template <class Scalar>
struct HostTile {
  static constexpr int rows = 6;
  static constexpr int columns = 2 * host_vector_bytes / static_cast<int>(sizeof(Scalar));
  /// K block: keeps one packed B panel (k_block × columns) in L1/L2 while all row panels pass over it.
  static constexpr std::size_t k_block = 512;
  /// Column panels packed at once by one thread: bounds its packed B (k_block × 16 × columns, ≤ 1 MiB)
  /// to what L2 holds and far below Kokkos' per-team scratch limit.
  static constexpr std::size_t column_panels_per_pack = 16;
};

/// Packing buffer for an A operand that must be packed (a masked A; unmasked A is read in place),
/// reused across calls (grown on demand, never shrunk). One per concurrently used GEMM caller; not
/// thread-safe. B is packed per thread in team scratch memory, so it needs no buffer here.
template <class Scalar, class ExecutionSpace>
class GemmWorkspace {
public:
  Vector<Scalar, ExecutionSpace> packed_a() const { return m_packed_a; }
  /// The partial products of a K split (gemm_packed's k_chunks > 1), chunk after chunk.
  Vector<Scalar, ExecutionSpace> partials() const { return m_partials; }

  void reserve(std::size_t a_size) {
    if (m_packed_a.extent(0) < a_size)
      m_packed_a = Vector<Scalar, ExecutionSpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::nn::GemmWorkspace::packed_a"), a_size);
  }
  void reserve_partials(std::size_t size) {
    if (m_partials.extent(0) < size)
      m_partials = Vector<Scalar, ExecutionSpace>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::nn::GemmWorkspace::partials"), size);
  }

private:
  Vector<Scalar, ExecutionSpace> m_packed_a, m_partials;
};

/// Work that rides along in a GEMM's launch without depending on it (a layer's bias gradient beside
/// its weight gradient), saving a fork/join: `items()` independent pieces, `operator()(item)` does
/// one. Items must not touch C. A job may also offer `run(first, last)`, items [first, last) at once,
/// which the host path then calls for each thread's share (one pass over memory for them all).
struct NoSideJob {
  std::size_t items() const { return 0; }
  KOKKOS_INLINE_FUNCTION void operator()(std::size_t) const {}
};

/// Which implementation gemm() runs: `automatic` picks the packed micro-kernel on host spaces and
/// the team-tiled one elsewhere (GPUs); the others force one (tests run all three on the host).
/// `portable` (one thread per element of C) is the simple reference.
enum class GemmAlgorithm { automatic, packed, tiled, portable };

/// Tile of the team-tiled (device) path: a team computes a block_rows × block_columns block of C,
/// staging block_depth-deep slices of A and B in team scratch; each thread keeps a
/// thread_rows × thread_columns register tile, its rows and columns strided by the block's
/// (block_rows / thread_rows) so a warp's reads of B and writes of C are consecutive.
template <int BlockRows, int BlockColumns, int BlockDepth, int ThreadRows, int ThreadColumns>
struct TeamTile {
  static constexpr int block_rows = BlockRows, block_columns = BlockColumns, block_depth = BlockDepth;
  static constexpr int thread_rows = ThreadRows, thread_columns = ThreadColumns;
  static constexpr int row_threads = BlockRows / ThreadRows, column_threads = BlockColumns / ThreadColumns;
  /// Threads a device team has: one register tile each.
  static constexpr int threads = row_threads * column_threads;
  static_assert(BlockRows % ThreadRows == 0 && BlockColumns % ThreadColumns == 0);
};

/// The device path's tiles, largest first (each 256 threads): big tiles reuse each staged element
/// more, small ones keep every multiprocessor busy when C is small.
using LargeTeamTile = TeamTile<128, 128, 8, 8, 8>;
using MediumTeamTile = TeamTile<64, 64, 16, 4, 4>;
using SmallTeamTile = TeamTile<32, 32, 32, 2, 2>;

namespace detail {

/// Columns of C in column panel q (NR, fewer in the last) and the width of its packed panel: NR, or NR / 2 when
/// they fit in half (the half_panel tiles of gemm_packed).
template <int NR>
KOKKOS_INLINE_FUNCTION std::size_t panel_columns(std::size_t n, std::size_t q) {
  return n - q * NR < std::size_t(NR) ? n - q * NR : std::size_t(NR);
}
template <int NR>
KOKKOS_INLINE_FUNCTION std::size_t packed_panel_width(std::size_t columns) {
  return columns <= std::size_t(NR / 2) ? std::size_t(NR / 2) : std::size_t(NR);
}

/// acc[r][c] = Σ_k A(r, k) · b[k·NR + c], A row r at a_rows[r] + k·a_step (a packed panel has
/// a_step = MR and a_rows[r] = panel + r; A read in place has its column stride, 1 when row-major):
/// the register-tiled inner loop.
template <class Scalar, int MR, int NR>
KOKKOS_INLINE_FUNCTION void micro_kernel(std::size_t k_count, const Scalar* const (&a_rows)[MR], std::ptrdiff_t a_step,
                                         const Scalar* __restrict__ b, Scalar (&acc)[MR][NR]) {
#if OSBI_HOST_VECTOR_EXTENSIONS
  // Explicit vectors of the widest width: what the register tile was sized for, whatever the
  // vectorizer would make of the loops (GCC 12 turned the 6×16 float tile's loops into scalar code).
  // Same products in the same order as the loop below, so the same results.
  constexpr int lanes = host_vector_bytes / static_cast<int>(sizeof(Scalar));
  if constexpr (NR % lanes == 0) {
    typedef Scalar HostVector __attribute__((vector_size(host_vector_bytes)));
    constexpr int vectors = NR / lanes;
    HostVector sums[MR][vectors];
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < vectors; ++v) sums[r][v] = HostVector{};
    for (std::size_t k = 0; k < k_count; ++k) {
      HostVector b_k[vectors];
      for (int v = 0; v < vectors; ++v) std::memcpy(&b_k[v], b + k * NR + v * lanes, sizeof(HostVector));
      OSBI_HOST_UNROLL(6)
      for (int r = 0; r < MR; ++r) {
        // A broadcast: x − 0 is x for every x, so the compiler drops the subtraction (x + 0 is not:
        // −0 + 0 = +0, and GCC kept that addition in the loop).
        const HostVector a_rk = a_rows[r][static_cast<std::ptrdiff_t>(k) * a_step] - HostVector{};
        for (int v = 0; v < vectors; ++v) sums[r][v] += a_rk * b_k[v];
      }
    }
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < vectors; ++v) std::memcpy(&acc[r][v * lanes], &sums[r][v], sizeof(HostVector));
    return;
  }
#endif
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = Scalar(0);
  for (std::size_t k = 0; k < k_count; ++k) {
    const Scalar* b_k = b + k * NR;
    // Rows unrolled so the accumulators stay in registers at -O2 too (GCC 12 does it by itself only at
    // -O3: at -O2 the kernel ran 4× slower). The column loop is left to the vectorizer: unrolling it
    // first yields scalar code.
    OSBI_HOST_UNROLL(6)
    for (int r = 0; r < MR; ++r) {
      const Scalar a_rk = a_rows[r][static_cast<std::ptrdiff_t>(k) * a_step];
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
  // An accumulating epilogue adds finish(acc) for every K block (it is linear), so its tiles take this path on every
  // block, not only when K is one block: the element-wise path below was ~5 % of a long-K weight gradient.
  if (!output.swap_indices && output.column_stride == 1 && ((first && last) || Epilogue::accumulates)) {
    if (columns == std::size_t(NR)) {
      // A full tile: loops of a compile-time length, so each row is a few vector stores (the runtime-length
      // loop below paid an aliasing check and a remainder per row: most of a K = 4 product's time). The
      // epilogue writes a local row first: stores into C may alias what the epilogue reads (its bias), so
      // written straight into C the loop was vectorized only behind a runtime alias check, which failed and
      // left a fifth of a 200×50×50 forward in scalar stores.
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t row = row0 + r;
        Scalar* c_row = c + static_cast<std::ptrdiff_t>(row) * output.row_stride + column0;
        Scalar finished[NR];
        for (int cc = 0; cc < NR; ++cc) finished[cc] = finish.finish(row, column0 + cc, acc[r][cc]);
        if constexpr (Epilogue::accumulates) {
          for (int cc = 0; cc < NR; ++cc) c_row[cc] += finished[cc];
        } else {
          for (int cc = 0; cc < NR; ++cc) c_row[cc] = finished[cc];
        }
      }
      return;
    }
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

/// How the host path splits a C of row_panels × column_panels register tiles over its threads: a
/// grid of column_groups × row_groups blocks (block g covers column panels (g mod column_groups)·
/// group_columns.. and row panels (g div column_groups)·group_rows.., clipped at the edges).
/// Columns first, since every thread packs the B panels of its own columns; rows take the threads
/// left over. (Rows first, each thread packing all of a small B, measured slower even at 200×52×50,
/// where column seams make the threads share C's cache lines.) `rows_first` for a tall A far larger
/// than B: split by columns, every thread would stream all of A for its columns.
struct HostPartition {
  std::size_t column_groups, row_groups, group_columns, group_rows;
};

inline HostPartition host_partition(std::size_t threads, std::size_t row_panels, std::size_t column_panels,
                                    bool rows_first = false) {
  HostPartition partition{};
  if (rows_first) {
    partition.row_groups = std::max<std::size_t>(1, std::min(threads, row_panels));
    partition.column_groups = std::max<std::size_t>(1, std::min(column_panels, threads / partition.row_groups));
  } else {
    partition.column_groups = std::max<std::size_t>(1, std::min(threads, column_panels));
    partition.row_groups = std::max<std::size_t>(1, std::min(row_panels, threads / partition.column_groups));
  }
  partition.group_columns = (column_panels + partition.column_groups - 1) / partition.column_groups;
  partition.group_rows = (row_panels + partition.row_groups - 1) / partition.row_groups;
  return partition;
}

/// How many chunks of K gemm_packed splits a product into, each computed by its own team into its own partial C, the
/// partials then summed in chunk order into C: 2, 4 or 8 for an accumulating product with K ≥ 2 048 and C ≤ 128 Ki
/// entries (a weight gradient over a large batch: 12 800 tokens → 64 × 256), else 1. Split by C's panels instead,
/// every thread streamed all of the long A (grad_z) for its columns; in K chunks each reads only its part of A and B,
/// once (the transformer block's weight gradients scaled 1.2–1.65× from one thread to two before). The count depends
/// on the shape only, never on the thread count, so the sums, and the result's bits, are the same on any thread count.
template <class Epilogue>
std::size_t k_chunk_count(std::size_t m, std::size_t n, std::size_t k) {
  if constexpr (!(Epilogue::accumulates && Epilogue::linear)) {
    return 1;
  } else {
    if (m * n > (std::size_t(1) << 17)) return 1;
    std::size_t chunks = 1;
    while (chunks < 8 && k >= 2 * chunks * 1024) chunks *= 2;
    return chunks;
  }
}

/// gemm_packed's compute launch: C (or, for k_chunks > 1, k_chunks partial products at c, each m × n row-major and
/// zeroed by its team first) ← finish(A·B) over the teams of host_partition, or one team per chunk of K. `packed_a`
/// is A packed by gemm_packed when `pack_a`.
template <class Scalar, class ExecutionSpace, class Epilogue, class SideJob>
void gemm_packed_launch(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k,
                        const Operand<Scalar>& a, bool pack_a, const Scalar* packed_a, const Operand<Scalar>& b,
                        Scalar* c, const OutputMap& output, const Epilogue& finish, const SideJob& side_job,
                        std::size_t k_chunks) {
  constexpr int MR = HostTile<Scalar>::rows;
  constexpr int NR = HostTile<Scalar>::columns;
  constexpr std::size_t KC = HostTile<Scalar>::k_block;
  constexpr std::size_t QC = HostTile<Scalar>::column_panels_per_pack;
  constexpr std::size_t alignment = 64 / sizeof(Scalar);
  const std::size_t row_panels = (m + MR - 1) / MR;
  const std::size_t column_panels = (n + NR - 1) / NR;
  // A K split gives every chunk all of C (its own partial product), so chunks are the teams. A tall A beyond L2 with
  // a B an eighth its size or less is split by rows: each thread reads its rows of A once and packs all of the small
  // B (a transformer block's 12 800-token products: 256 → 64 forward scaled 1.66× on two threads split by columns).
  const bool rows_first = m * k * sizeof(Scalar) > (std::size_t(1) << 20) && 8 * n <= m;
  const HostPartition partition =
      k_chunks > 1 ? HostPartition{1, 1, column_panels, row_panels}
                   : host_partition(static_cast<std::size_t>(std::max(1, space.concurrency())), row_panels, column_panels,
                                    rows_first);
  const std::size_t column_groups = partition.column_groups, row_groups = partition.row_groups;
  const std::size_t group_columns = partition.group_columns, group_rows = partition.group_rows;
  const std::size_t groups = column_groups * row_groups, teams = groups * k_chunks;
  const std::size_t scratch_count = std::min(QC, group_columns) * NR * std::min(KC, k) + alignment;
  // B is packed by reading it along its smaller stride (a mask has its matrix's layout), so both a
  // row-major B (dX = dY·W) and a transposed one (Y = X·Wᵀ) are gathered from contiguous memory.
  const bool b_rows_contiguous = std::abs(b.column_stride) <= std::abs(b.row_stride);

  const std::size_t side_items = side_job.items();
  const std::size_t c_size = m * n;

  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using ScratchView = Kokkos::View<Scalar*, typename ExecutionSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  Policy policy(space, static_cast<int>(teams), 1);
  policy.set_scratch_size(1, Kokkos::PerTeam(ScratchView::shmem_size(scratch_count)));
  Kokkos::parallel_for(
      "osbi::nn::gemm::packed", policy, KOKKOS_LAMBDA(const typename Policy::member_type& team) {
        const std::size_t team_index = static_cast<std::size_t>(team.league_rank());
        // Side items spread evenly over the teams (a K split's eight teams and a bias gradient's four items: every
        // other team, so both threads get some).
        const std::size_t first_item = team_index * side_items / teams;
        const std::size_t last_item = (team_index + 1) * side_items / teams;
        const std::size_t group = team_index % groups, chunk = team_index / groups;
        // This team's range of K, in blocks of at most KC (equal ones within a chunk of a split).
        const std::size_t k_low = chunk * k / k_chunks, k_high = (chunk + 1) * k / k_chunks;
        const std::size_t k_length = k_high - k_low;
        const std::size_t k_blocks = k_length == 0 ? 1 : (k_length + KC - 1) / KC;
        const std::size_t k_step = k_chunks > 1 ? (k_length + k_blocks - 1) / k_blocks : KC;
        Scalar* const c_part = c + chunk * c_size;
        if (k_chunks > 1)
          for (std::size_t i = 0; i < c_size; ++i) c_part[i] = Scalar(0);
        if constexpr (requires { side_job.run(first_item, last_item); }) {
          side_job.run(first_item, last_item);
        } else {
          for (std::size_t item = first_item; item < last_item; ++item) side_job(item);
        }
        const std::size_t q_begin = (group % column_groups) * group_columns;
        const std::size_t q_end = std::min(column_panels, q_begin + group_columns);
        const std::size_t p_begin = (group / column_groups) * group_rows;
        const std::size_t p_end = std::min(row_panels, p_begin + group_rows);
        const ScratchView scratch(team.team_scratch(1), scratch_count);
        const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(scratch.data());
        Scalar* const packed_b =
            scratch.data() + ((64 - address % 64) % 64) / sizeof(Scalar); // 64-byte aligned vector loads

        for (std::size_t block = 0; block < k_blocks; ++block) {
          const std::size_t k_begin = k_low + block * k_step;
          const std::size_t k_count = std::min(k_step, k_high - std::min(k_high, k_begin));
          const bool first = block == 0, last = block + 1 == k_blocks;
          for (std::size_t q0 = q_begin; q0 < q_end; q0 += QC) {
            const std::size_t q1 = std::min(q_end, q0 + QC);
            // Panel q holds columns q·NR.. as [k][width], zero past n: the micro-kernel never branches.
            // width is NR, or NR / 2 for a last panel of at most NR / 2 columns (a 50-wide layer's last
            // 2 columns: half the wasted work of a full-width tile there; see half_panel below).
            if (b.mask == nullptr && b.column_stride == 1) {
              // Row-major B: row by row across this pass's panels, so B is read in address order. A weight
              // gradient's B is the layer's input, thousands of rows coming from L3 or memory; panel by panel,
              // each panel took one line from every row, a stride the prefetchers did not keep up with, and
              // the pack was a fifth of a transformer block's weight gradients on an AVX2 Zen (12 800 rows,
              // 64 → 256: 7.2 → 6.3 ms, one thread). Each panel row is a contiguous copy plus zeros past n.
              for (std::size_t kk = 0; kk < k_count; ++kk) {
                const Scalar* const row = b.data + static_cast<std::ptrdiff_t>(k_begin + kk) * b.row_stride;
                for (std::size_t q = q0; q < q1; ++q) {
                  const std::size_t columns = panel_columns<NR>(n, q);
                  const std::size_t width = packed_panel_width<NR>(columns);
                  Scalar* const target = packed_b + (q - q0) * NR * k_count + kk * width;
                  const Scalar* const source = row + static_cast<std::ptrdiff_t>(q * NR);
                  if (columns == std::size_t(NR)) {
                    std::memcpy(target, source, NR * sizeof(Scalar));
                  } else {
                    for (std::size_t cc = 0; cc < columns; ++cc) target[cc] = source[cc];
                    for (std::size_t cc = columns; cc < width; ++cc) target[cc] = Scalar(0);
                  }
                }
              }
            } else {
              for (std::size_t q = q0; q < q1; ++q) {
                Scalar* panel = packed_b + (q - q0) * NR * k_count;
                const std::size_t columns = panel_columns<NR>(n, q);
                const std::size_t width = packed_panel_width<NR>(columns);
                if (b_rows_contiguous) {
                  for (std::size_t kk = 0; kk < k_count; ++kk)
                    for (std::size_t cc = 0; cc < width; ++cc) {
                      const std::size_t column = q * NR + cc;
                      panel[kk * width + cc] = column < n ? b(k_begin + kk, column) : Scalar(0);
                    }
                } else if (b.mask == nullptr && columns == std::size_t(NR)) {
                  // Transposed B (Y = X·Wᵀ), a full panel: a panel row per k from NR source rows (they stay in L1
                  // across k). Going column by column instead wrote each element to a different cache line, one
                  // scalar store at a time: an eighth of a 200×100×100 forward on an AVX2 Zen.
                  const Scalar* columns_at[NR];
                  for (int cc = 0; cc < NR; ++cc)
                    columns_at[cc] = b.data + static_cast<std::ptrdiff_t>(q * NR + cc) * b.column_stride +
                                     static_cast<std::ptrdiff_t>(k_begin) * b.row_stride;
                  for (std::size_t kk = 0; kk < k_count; ++kk) {
                    Scalar* target = panel + kk * NR;
                    const std::ptrdiff_t offset = static_cast<std::ptrdiff_t>(kk) * b.row_stride;
                    for (int cc = 0; cc < NR; ++cc) target[cc] = columns_at[cc][offset];
                  }
                } else {
                  // Transposed B (Y = X·Wᵀ): read each column along its unit stride.
                  for (std::size_t cc = 0; cc < width; ++cc) {
                    if (cc < columns) {
                      for (std::size_t kk = 0; kk < k_count; ++kk)
                        panel[kk * width + cc] = b(k_begin + kk, q * NR + cc);
                    } else {
                      for (std::size_t kk = 0; kk < k_count; ++kk) panel[kk * width + cc] = Scalar(0);
                    }
                  }
                }
              }
            }
            // Column panel outermost: its packed B stays in L1 while the row panels stream past. But a tall,
            // narrow product (a sampler's 10 000 rows through a 100-wide layer) has an A far larger than L2
            // and a packed B that fits there: then rows go outermost, so each row panel's A is read from
            // memory once rather than once per column panel (NPSE sampling 1.33× faster on an AVX2 Zen).
            const std::size_t q_count = q1 - q0, p_count = p_end - p_begin;
            const bool rows_outermost = q_count * NR * k_count * sizeof(Scalar) <= (std::size_t(256) << 10) &&
                                        p_count * MR * k_count * sizeof(Scalar) > (std::size_t(1) << 20);
            for (std::size_t tile = 0; tile < q_count * p_count; ++tile) {
              const std::size_t q = q0 + (rows_outermost ? tile % q_count : tile / p_count);
              const std::size_t p = p_begin + (rows_outermost ? tile / q_count : tile % p_count);
              const std::size_t columns = panel_columns<NR>(n, q);
              const std::size_t rows = m - p * MR < std::size_t(MR) ? m - p * MR : std::size_t(MR);
              const Scalar* a_rows[MR];
              std::ptrdiff_t a_step = MR;
              if (pack_a) {
                for (int r = 0; r < MR; ++r) a_rows[r] = packed_a + p * MR * k + k_begin * MR + r;
              } else {
                // Rows past m repeat the last row: valid memory, results discarded.
                for (int r = 0; r < MR; ++r)
                  a_rows[r] = a.data +
                              static_cast<std::ptrdiff_t>(block_row(p * MR, rows, std::size_t(r))) * a.row_stride +
                              static_cast<std::ptrdiff_t>(k_begin) * a.column_stride;
                a_step = a.column_stride;
              }
              const Scalar* const panel = packed_b + (q - q0) * NR * k_count;
              if (columns <= std::size_t(NR / 2)) {
                // half_panel: the same products in the same order, on a tile half as wide.
                Scalar acc[MR][NR / 2];
                micro_kernel<Scalar, MR, NR / 2>(k_count, a_rows, a_step, panel, acc);
                write_tile<Scalar, MR, NR / 2>(acc, rows, columns, p * MR, q * NR, c_part, output, finish, first, last);
              } else {
                Scalar acc[MR][NR];
                micro_kernel<Scalar, MR, NR>(k_count, a_rows, a_step, panel, acc);
                write_tile<Scalar, MR, NR>(acc, rows, columns, p * MR, q * NR, c_part, output, finish, first, last);
              }
            }
          }
        }
      });
}

/// The host path in one launch. Each thread takes a block of column panels (when there are at least
/// as many panels as threads: nobody packs twice) or of row panels (a narrow C: each thread packs the
/// whole, small, B), packs its B panels into its own scratch, K block by K block, and runs its row
/// panels over them. One launch instead of pack-then-compute matters at sbi's sizes (a 200×52×50
/// layer is a few microseconds of arithmetic, and every fork/join costs about one). A long-K accumulating
/// product is split along K instead (k_chunk_count), plus one launch to sum the chunks.
template <class Scalar, class ExecutionSpace, class Epilogue, class SideJob>
void gemm_packed(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                 const Operand<Scalar>& b, Scalar* c, const OutputMap& output, const Epilogue& finish,
                 GemmWorkspace<Scalar, ExecutionSpace>& workspace, const SideJob& side_job) {
  constexpr int MR = HostTile<Scalar>::rows;
  const std::size_t row_panels = (m + MR - 1) / MR;

  // A masked A is packed once, [k][MR] per row panel, zero-padded past m, and so is a large A read
  // across its rows (the weight gradient's grad_yᵀ) when C is large too: there every k of the
  // micro-kernel touched MR new cache lines once per column panel, and packing made the 1024×512×512
  // weight gradient ~20 % faster on an AVX2 Zen. With a narrow C (few column panels to share the
  // packing) the extra pass over A costs more than it saves: the weight gradients of a transformer
  // block (12 800 tokens, 64 → 192 or 256, C ≤ 256 × 64) ran 20–30 % faster unpacked. Any other A is
  // read where it lies: the micro-kernel broadcasts one element per row and k, so its strides cost no
  // vector work, and a small A is not worth a launch to pack.
  const bool pack_a = a.mask != nullptr || (a.column_stride != 1 && m * k >= (std::size_t(1) << 16) &&
                                            m * n >= (std::size_t(1) << 16));
  workspace.reserve(pack_a ? row_panels * MR * k : 0);
  Scalar* const packed_a = workspace.packed_a().data();
  if (pack_a && a.mask == nullptr && a.row_stride == 1 && m * k * sizeof(Scalar) >= (std::size_t(1) << 20)) {
    // A read across its rows (grad_yᵀ: its rows are grad_y's columns, adjacent) and larger than L2: a block
    // of k at a time, every panel of it, so each line of grad_y is read once, in order. Panel by panel
    // (below), each panel streamed all of grad_y for its MR columns, a cache miss per scalar load: the
    // 16 384 × 128 → 512 weight gradient ran 1.6× faster this way on an AVX2 Zen (36 vs 60 ms, one thread),
    // 1024×512×512 2–5 %. An A that stays in L2 keeps the panel order (256³: 0.45 ms that way; 0.43–0.56 in k blocks).
    constexpr std::size_t k_chunk = 64;
    const Scalar* const a_data = a.data;
    const std::ptrdiff_t a_k_stride = a.column_stride;
    Kokkos::parallel_for(
        "osbi::nn::gemm::pack_a", Kokkos::RangePolicy<ExecutionSpace>(space, 0, (k + k_chunk - 1) / k_chunk),
        KOKKOS_LAMBDA(const std::size_t chunk) {
          const std::size_t k_end = std::min(k, (chunk + 1) * k_chunk);
          for (std::size_t kk = chunk * k_chunk; kk < k_end; ++kk) {
            const Scalar* __restrict__ from = a_data + static_cast<std::ptrdiff_t>(kk) * a_k_stride;
            for (std::size_t p = 0; p < row_panels; ++p) {
              Scalar* __restrict__ to = packed_a + p * MR * k + kk * MR;
              if ((p + 1) * MR <= m) {
                for (int r = 0; r < MR; ++r) to[r] = from[p * MR + r];
              } else {
                for (int r = 0; r < MR; ++r) to[r] = p * MR + r < m ? from[p * MR + r] : Scalar(0);
              }
            }
          }
        });
  } else if (pack_a) {
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

  const std::size_t k_chunks = k_chunk_count<Epilogue>(m, n, k);
  if (k_chunks == 1) {
    gemm_packed_launch(space, m, n, k, a, pack_a, packed_a, b, c, output, finish, side_job, k_chunks);
    return;
  }
  // K split: partial products in the workspace, then C += finish(their sum, in chunk order).
  workspace.reserve_partials(k_chunks * m * n);
  Scalar* const partials = workspace.partials().data();
  gemm_packed_launch(space, m, n, k, a, pack_a, packed_a, b, partials, OutputMap{static_cast<std::ptrdiff_t>(n), 1, false},
                     epilogue::Accumulate{}, side_job, k_chunks);
  const std::size_t c_size = m * n;
  Kokkos::parallel_for(
      "osbi::nn::gemm::k_split_sum", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m), KOKKOS_LAMBDA(const std::size_t i) {
        for (std::size_t j = 0; j < n; ++j) {
          Scalar total = partials[i * n + j];
          for (std::size_t s = 1; s < k_chunks; ++s) total += partials[s * c_size + i * n + j];
          const std::size_t epilogue_row = output.swap_indices ? j : i, epilogue_column = output.swap_indices ? i : j;
          c[static_cast<std::ptrdiff_t>(i) * output.row_stride + static_cast<std::ptrdiff_t>(j) * output.column_stride] +=
              finish.finish(epilogue_row, epilogue_column, total);
        }
      });
}

/// A side job in its own launch (the portable path, or an empty C).
template <class ExecutionSpace, class SideJob>
void run_side_job(const ExecutionSpace& space, const SideJob& side_job) {
  if (side_job.items() != 0)
    Kokkos::parallel_for("osbi::nn::gemm::side_job", Kokkos::RangePolicy<ExecutionSpace>(space, 0, side_job.items()),
                         side_job);
}

/// The team-tiled path's kernel: one team per block of C (times `k_splits`), A and B staged slice by
/// slice in team scratch, a register tile per thread. A named functor rather than a KOKKOS_LAMBDA:
/// nvcc 13 wraps extended host-device lambdas in __nv_hdl_wrapper_t, whose host-side copy called a
/// null pointer for some instantiations of this kernel on an H200 (double, and the portable kernel
/// in float), so the device kernels avoid it.
template <class Tile, class Scalar, class Policy, class Epilogue>
struct TiledGemmKernel {
  static constexpr int BM = Tile::block_rows, BN = Tile::block_columns, BK = Tile::block_depth;
  static constexpr int TM = Tile::thread_rows, TN = Tile::thread_columns;
  static constexpr int RT = Tile::row_threads, CT = Tile::column_threads;
  static constexpr int micro_tiles = Tile::threads;
  static constexpr int a_stride = BM + 1; // staged A is [k][row]; +1 spreads a row-major A's stores over the banks
  static constexpr std::size_t scratch_count = std::size_t(BK) * a_stride + std::size_t(BK) * BN;
  using ScratchView = Kokkos::View<Scalar*, typename Policy::execution_space::scratch_memory_space, Kokkos::MemoryUnmanaged>;

  std::size_t m, n, k, k_splits, column_blocks, k_slices, slices_per_split;
  Operand<Scalar> a, b;
  bool a_along_k, b_along_columns; // stage along the operand's unit stride: neighbouring threads, neighbouring addresses
  Scalar* c;
  std::ptrdiff_t ldc;
  Epilogue finish;

  KOKKOS_INLINE_FUNCTION void operator()(const typename Policy::member_type& team) const {
    const std::size_t league = static_cast<std::size_t>(team.league_rank());
    const std::size_t split = league % k_splits, block = league / k_splits;
    const std::size_t row0 = (block / column_blocks) * BM, column0 = (block % column_blocks) * BN;
    const std::size_t slice_begin = split * slices_per_split;
    const std::size_t slice_end = slice_begin + slices_per_split < k_slices ? slice_begin + slices_per_split : k_slices;
    const ScratchView scratch(team.team_scratch(0), scratch_count);
    Scalar* const staged_a = scratch.data();
    Scalar* const staged_b = staged_a + BK * a_stride;
    const int threads = team.team_size(), rank = team.team_rank();
    // Every thread runs the same number of register tiles (micro_tiles is a multiple of the team
    // size), so the barriers inside match up.
    for (int tile = rank; tile < micro_tiles; tile += threads) {
      const int ty = tile / CT, tx = tile % CT;
      Scalar acc[TM][TN];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = Scalar(0);
      for (std::size_t slice = slice_begin; slice < slice_end; ++slice) {
        const std::size_t k0 = slice * BK;
        team.team_barrier(); // the previous slice is no longer read
        for (int e = rank; e < BM * BK; e += threads) {
          const int r = a_along_k ? e / BK : e % BM, kk = a_along_k ? e % BK : e / BM;
          const std::size_t row = row0 + r, depth = k0 + kk;
          staged_a[kk * a_stride + r] = row < m && depth < k ? a(row, depth) : Scalar(0);
        }
        for (int e = rank; e < BN * BK; e += threads) {
          const int col = b_along_columns ? e % BN : e / BK, kk = b_along_columns ? e / BN : e % BK;
          const std::size_t column = column0 + col, depth = k0 + kk;
          staged_b[kk * BN + col] = column < n && depth < k ? b(depth, column) : Scalar(0);
        }
        team.team_barrier();
        for (int kk = 0; kk < BK; ++kk) {
          Scalar a_values[TM], b_values[TN];
          for (int i = 0; i < TM; ++i) a_values[i] = staged_a[kk * a_stride + ty + i * RT];
          for (int j = 0; j < TN; ++j) b_values[j] = staged_b[kk * BN + tx + j * CT];
          for (int i = 0; i < TM; ++i)
            for (int j = 0; j < TN; ++j) acc[i][j] += a_values[i] * b_values[j];
        }
      }
      for (int i = 0; i < TM; ++i) {
        const std::size_t row = row0 + ty + i * RT;
        if (row >= m) continue;
        for (int j = 0; j < TN; ++j) {
          const std::size_t column = column0 + tx + j * CT;
          if (column >= n) continue;
          Scalar& out = c[static_cast<std::ptrdiff_t>(row) * ldc + static_cast<std::ptrdiff_t>(column)];
          if constexpr (Epilogue::accumulates) {
            if (k_splits == 1)
              out += finish.finish(row, column, acc[i][j]);
            else
              Kokkos::atomic_add(&out, finish.finish(row, column, acc[i][j]));
          } else {
            out = finish.finish(row, column, acc[i][j]);
          }
        }
      }
    }
  }
};

/// The team-tiled path (TiledGemmKernel). Portable: on a GPU a team has Tile::threads threads, on
/// host spaces one thread walks every register tile of its block (each then restages the slices:
/// correct, not fast; the host uses the packed path). With k_splits > 1 (only for accumulating,
/// linear epilogues) teams split K and add their partial results atomically: C's summation order
/// then varies from run to run, by rounding.
template <class Tile, class Scalar, class ExecutionSpace, class Epilogue>
void gemm_tiled(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish,
                std::size_t k_splits = 1) {
  require(k_splits >= 1 && (k_splits == 1 || (Epilogue::accumulates && Epilogue::linear)), "osbi::nn::gemm",
          "splitting K needs an accumulating, linear epilogue");
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using Kernel = TiledGemmKernel<Tile, Scalar, Policy, Epilogue>;
  constexpr bool host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  const std::size_t row_blocks = (m + Tile::block_rows - 1) / Tile::block_rows;
  const std::size_t column_blocks = (n + Tile::block_columns - 1) / Tile::block_columns;
  const std::size_t k_slices = (k + Tile::block_depth - 1) / Tile::block_depth;
  const Kernel kernel{m, n, k, k_splits, column_blocks, k_slices, (k_slices + k_splits - 1) / k_splits, a, b,
                      a.column_stride == 1, b.column_stride == 1, c, ldc, finish};
  Policy policy(space, static_cast<int>(row_blocks * column_blocks * k_splits), host ? 1 : Tile::threads);
  policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::ScratchView::shmem_size(Kernel::scratch_count)));
  Kokkos::parallel_for("osbi::nn::gemm::tiled", policy, kernel);
}

/// The device path's choice: the largest tile that still gives every multiprocessor two blocks
/// (about concurrency / 2048 of them on NVIDIA GPUs); for an accumulating product with few blocks
/// and a long K (a weight gradient over a large batch), K is split across teams until it does.
template <class Scalar, class ExecutionSpace, class Epilogue>
void gemm_tiled_auto(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                     const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish) {
  const std::size_t target_blocks = 2 * std::max<std::size_t>(1, static_cast<std::size_t>(space.concurrency()) / 2048);
  const auto blocks = [&](std::size_t rows, std::size_t columns) {
    return ((m + rows - 1) / rows) * ((n + columns - 1) / columns);
  };
  const auto splits = [&](std::size_t block_count, std::size_t depth) -> std::size_t {
    if constexpr (!(Epilogue::accumulates && Epilogue::linear)) {
      return 1;
    } else {
      if (block_count >= target_blocks) return 1;
      // Each split keeps at least 16 slices of K, so the atomics stay a small part of the work.
      const std::size_t by_k = std::max<std::size_t>(1, k / (16 * depth));
      return std::max<std::size_t>(1, std::min(by_k, (target_blocks + block_count - 1) / block_count));
    }
  };
  if (blocks(LargeTeamTile::block_rows, LargeTeamTile::block_columns) >= target_blocks)
    gemm_tiled<LargeTeamTile>(space, m, n, k, a, b, c, ldc, finish);
  else if (blocks(MediumTeamTile::block_rows, MediumTeamTile::block_columns) >= target_blocks)
    gemm_tiled<MediumTeamTile>(space, m, n, k, a, b, c, ldc, finish);
  else {
    const std::size_t count = blocks(SmallTeamTile::block_rows, SmallTeamTile::block_columns);
    gemm_tiled<SmallTeamTile>(space, m, n, k, a, b, c, ldc, finish, splits(count, SmallTeamTile::block_depth));
  }
}

/// One thread per element of C: portable (any backend), simple, correct; the reference for the
/// others. A named functor, as the tiled kernel: see TiledGemmKernel.
template <class Scalar, class Epilogue>
struct PortableGemmKernel {
  std::size_t k;
  Operand<Scalar> a, b;
  Scalar* c;
  std::ptrdiff_t ldc;
  Epilogue finish;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t row, const std::size_t column) const {
    Scalar total = 0;
    for (std::size_t kk = 0; kk < k; ++kk) total += a(row, kk) * b(kk, column);
    Scalar& out = c[static_cast<std::ptrdiff_t>(row) * ldc + static_cast<std::ptrdiff_t>(column)];
    if constexpr (Epilogue::accumulates)
      out += finish.finish(row, column, total);
    else
      out = finish.finish(row, column, total);
  }
};

template <class Scalar, class ExecutionSpace, class Epilogue>
void gemm_portable(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
                   const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish) {
  using Policy = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>;
  Kokkos::parallel_for("osbi::nn::gemm::portable", Policy(space, {0, 0}, {m, n}),
                       PortableGemmKernel<Scalar, Epilogue>{k, a, b, c, ldc, finish});
}

} // namespace detail

/// C (m × n, row-major with leading dimension ldc) ← epilogue(A·B), A m × k, B k × n given as
/// operands (any strides, optional masks). Enqueued on `space`. k = 0 gives epilogue(0); m or n = 0
/// leaves C alone. The packed path requires host-accessible memory (it is chosen only for host
/// spaces). `side_job` (see NoSideJob) runs in the same launch where the algorithm allows, else in
/// its own; it always runs, also when C is empty.
template <class Scalar, class ExecutionSpace, class Epilogue, class SideJob = NoSideJob>
void gemm(const ExecutionSpace& space, std::size_t m, std::size_t n, std::size_t k, const Operand<Scalar>& a,
          const Operand<Scalar>& b, Scalar* c, std::ptrdiff_t ldc, const Epilogue& finish,
          GemmWorkspace<Scalar, ExecutionSpace>& workspace, GemmAlgorithm algorithm = GemmAlgorithm::automatic,
          const SideJob& side_job = SideJob{}) {
  static_assert(Epilogue::linear || !Epilogue::accumulates,
                "osbi::nn::kernels::gemm: an accumulating epilogue must be linear (see gemm.hpp, Epilogues)");
  if (m == 0 || n == 0) {
    detail::run_side_job(space, side_job);
    return;
  }
  constexpr bool host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;
  if (algorithm == GemmAlgorithm::automatic) algorithm = host ? GemmAlgorithm::packed : GemmAlgorithm::tiled;
  if constexpr (host) {
    if (algorithm == GemmAlgorithm::packed) {
      // A skinny C (few columns, many rows) wastes most of a 32-wide register tile; Cᵀ = Bᵀ·Aᵀ puts
      // the long side along the tile instead (the MADE output layer: n = 2·D).
      constexpr std::size_t tile_columns = HostTile<Scalar>::columns;
      if (n < tile_columns / 2 && m > n) {
        detail::gemm_packed(space, n, m, k, b.transposed(), a.transposed(), c, detail::OutputMap{1, ldc, true}, finish,
                            workspace, side_job);
      } else {
        detail::gemm_packed(space, m, n, k, a, b, c, detail::OutputMap{ldc, 1, false}, finish, workspace, side_job);
      }
      return;
    }
  }
  if (algorithm == GemmAlgorithm::tiled)
    detail::gemm_tiled_auto(space, m, n, k, a, b, c, ldc, finish);
  else
    detail::gemm_portable(space, m, n, k, a, b, c, ldc, finish);
  detail::run_side_job(space, side_job);
}

} // namespace osbi::nn::kernels

#undef OSBI_HOST_UNROLL
#undef OSBI_HOST_VECTOR_EXTENSIONS
#undef OSBI_HOST_UNROLL_PRAGMA
