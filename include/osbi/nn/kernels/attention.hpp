// SPDX-License-Identifier: BSD-3-Clause
/// \brief Scaled dot-product attention over heads, forward and backward, with an optional key-padding mask.
#pragma once

#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/kernels/block_row.hpp>
#include <osbi/nn/kernels/gemm.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// Software prefetches in host code (GCC and Clang); nothing in device passes.
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && !defined(__SYCL_DEVICE_ONLY__)
#define OSBI_ATTENTION_HOST_PREFETCH 1
#else
#define OSBI_ATTENTION_HOST_PREFETCH 0
#endif
// GCC's vector extensions (a vector ?: included) where GCC compiles the whole file; other compilers (Clang, and nvcc or
// hipcc for either pass) get the plain loops.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__) && !defined(__HIPCC__) && !defined(__NVCOMPILER) && \
    !defined(__SYCL_DEVICE_ONLY__)
#define OSBI_ATTENTION_HOST_VECTORS 1
#else
#define OSBI_ATTENTION_HOST_VECTORS 0
#endif

namespace osbi::nn::kernels {

/*
 * Multi-head scaled dot-product attention (Vaswani et al. 2017; PyTorch's F.scaled_dot_product_attention
 * per head):
 *   S = Q Kᵀ / √d,  P = row_softmax(S with masked keys at −∞),  O = P V
 * for every batch item n and head h, with Q a queries × d, K and V keys × d slices of token matrices.
 *
 * TokenOperand: element (n, t, h, c) of a batch of token matrices whose heads are adjacent column blocks
 * of width head_dim is data[n·batch_stride + t·token_stride + h·head_dim + c]. A packed QKV projection
 * ((batch·tokens) × 3·width, row-major) gives Q, K and V as three operands over one buffer: same strides,
 * data offset by 0, width and 2·width. A batch_stride of 0 shares one set of tokens across the batch
 * (learned query tokens); such an operand may be read, never written.
 *
 * keep_keys, when not null, is a batch × keys array of bytes (row stride `keys`): key j of item n takes
 * part only if keep_keys[n·keys + j] != 0 (PyTorch's key_padding_mask, inverted). A query whose keys are
 * all masked gets an all-zero probability row and a zero output (PyTorch gives NaN there).
 *
 * Memory: forward stores P, batch·heads·queries·keys scalars (caller-owned: backward reads it), which
 * grows as tokens² per head. Each team (one per (n, h) pair in flight) also takes head_dim·keys
 * scalars of scratch in forward, and head_dim·keys + queries·keys in backward.
 *
 * attention_forward   writes P and O (O overwritten).
 * attention_backward  from P, Q, K, V and dO, OVERWRITES dQ, dK, dV (the standard softmax Jacobian:
 *                     dS = P ⊙ (dP − rowsum(P ⊙ dP)), dP = dO Vᵀ; dQ = dS K/√d, dK = dSᵀ Q/√d, dV = Pᵀ dO).
 * Shapes are validated on the host; the work is enqueued on `space`.
 */
template <class Scalar>
struct TokenOperand {
  Scalar* data = nullptr;
  std::ptrdiff_t batch_stride = 0;
  std::ptrdiff_t token_stride = 0;

  /// The first of head_dim contiguous entries of token t, head h, item n.
  KOKKOS_INLINE_FUNCTION Scalar* at(std::size_t n, std::size_t t, std::size_t h, std::size_t head_dim) const {
    return data + static_cast<std::ptrdiff_t>(n) * batch_stride + static_cast<std::ptrdiff_t>(t) * token_stride +
           static_cast<std::ptrdiff_t>(h * head_dim);
  }
};

struct AttentionShape {
  std::size_t batch = 0;
  std::size_t heads = 0;
  std::size_t head_dim = 0;
  std::size_t queries = 0;
  std::size_t keys = 0;

  std::size_t probability_count() const { return batch * heads * queries * keys; }
};

namespace attention_detail {

template <class ExecutionSpace>
inline constexpr bool on_host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible;

/// One (n, h) pair per team: a host team is one thread (it walks the queries in order, which keeps the
/// transposed keys in L1); a device team spreads queries (forward) or keys over its threads.
template <class ExecutionSpace>
inline constexpr int team_size = on_host<ExecutionSpace> ? 1 : 64;

/// −∞ (HUGE_VAL is a constant in device code too, where std::numeric_limits needs nvcc's relaxed constexpr).
template <class Scalar>
KOKKOS_INLINE_FUNCTION constexpr Scalar minus_infinity() {
  return static_cast<Scalar>(-HUGE_VAL);
}

/// Lane count of the explicit partial reductions below: the compiler vectorizes independent lanes
/// without reassociating a single float sum (which it may not do without -ffast-math).
inline constexpr std::size_t lanes = 8;

template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar row_maximum(const Scalar* __restrict__ x, std::size_t count) {
  constexpr Scalar lowest = minus_infinity<Scalar>();
  Scalar part[lanes];
  for (std::size_t l = 0; l < lanes; ++l) part[l] = lowest;
  std::size_t j = 0;
#if OSBI_ATTENTION_HOST_VECTORS
  // The same compare-selects as the lane loop below, as one vector: GCC 12 left that loop scalar (to it a
  // compare-select is no max without -ffinite-math-only); a 64-key softmax row took 74 ns that way, 59 ns this
  // way on an AVX2 Zen.
  typedef Scalar Lanes __attribute__((vector_size(lanes * sizeof(Scalar))));
  Lanes best;
  std::memcpy(&best, part, sizeof best);
  for (; j + lanes <= count; j += lanes) {
    Lanes y;
    std::memcpy(&y, x + j, sizeof y);
    best = y > best ? y : best;
  }
  std::memcpy(part, &best, sizeof best);
#endif
  for (; j + lanes <= count; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) part[l] = x[j + l] > part[l] ? x[j + l] : part[l];
  for (; j < count; ++j) part[0] = x[j] > part[0] ? x[j] : part[0];
  Scalar result = part[0];
  for (std::size_t l = 1; l < lanes; ++l) result = part[l] > result ? part[l] : result;
  return result;
}

template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar row_dot(const Scalar* __restrict__ a, const Scalar* __restrict__ b, std::size_t count) {
  Scalar part[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= count; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) part[l] += a[j + l] * b[j + l];
  for (; j < count; ++j) part[0] += a[j] * b[j];
  Scalar result = 0;
  for (std::size_t l = 0; l < lanes; ++l) result += part[l];
  return result;
}

template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar row_sum(const Scalar* __restrict__ x, std::size_t count) {
  Scalar part[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= count; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) part[l] += x[j + l];
  for (; j < count; ++j) part[0] += x[j];
  Scalar result = 0;
  for (std::size_t l = 0; l < lanes; ++l) result += part[l];
  return result;
}

/// transposed[c·keys + j] = K(n, j, h, c): the keys' columns become contiguous, so a query's scores
/// s_j = Σ_c q_c K_jc are `head_dim` vector AXPYs along j.
template <class Member, class Scalar>
KOKKOS_INLINE_FUNCTION void transpose_head(const Member& team, const TokenOperand<const Scalar>& source,
                                           const AttentionShape& shape, std::size_t n, std::size_t h,
                                           Scalar* __restrict__ transposed) {
  const std::size_t keys = shape.keys, head_dim = shape.head_dim;
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, keys), [&](const std::size_t j) {
    const Scalar* row = source.at(n, j, h, head_dim);
    for (std::size_t c = 0; c < head_dim; ++c) transposed[c * keys + j] = row[c];
  });
  team.team_barrier();
}

/// scores[j] = scale · Σ_c q[c] · transposed[c·keys + j].
template <class Scalar>
KOKKOS_INLINE_FUNCTION void scores_row(const Scalar* __restrict__ q, const Scalar* __restrict__ transposed,
                                       std::size_t head_dim, std::size_t keys, Scalar scale,
                                       Scalar* __restrict__ scores) {
  for (std::size_t j = 0; j < keys; ++j) scores[j] = 0;
  for (std::size_t c = 0; c < head_dim; ++c) {
    const Scalar factor = q[c] * scale;
    const Scalar* __restrict__ column = transposed + c * keys;
    for (std::size_t j = 0; j < keys; ++j) scores[j] += factor * column[j];
  }
}

/*
 * The host path: every product of a head is a small GEMM run through the dense layers' register-tiled
 * micro-kernel (gemm.hpp): MR = 6 rows of A against a packed NR-column panel of B, b[k·NR + c]. The panels of a
 * head are packed once into the team's scratch (zero past the edge, so the micro-kernel never branches).
 */
template <class Scalar>
struct HostPanels {
  static constexpr int rows = HostTile<Scalar>::rows;
  static constexpr int columns = HostTile<Scalar>::columns;
  /// Columns of each panel of a B `width` wide: the micro-kernel's NR, or NR / 2 when the whole of B fits in half a
  /// panel (head_dim 8 on AVX2: full-width panels spent half their multiply-adds on zeros).
  static constexpr std::size_t panel_width(std::size_t width) {
    return width <= std::size_t(columns / 2) ? std::size_t(columns / 2) : std::size_t(columns);
  }
  static constexpr std::size_t count(std::size_t width) { return (width + panel_width(width) - 1) / panel_width(width); }
  /// Scalars of the panels of a B with `depth` rows (k) and `width` columns.
  static constexpr std::size_t size(std::size_t depth, std::size_t width) {
    return count(width) * depth * panel_width(width);
  }
  /// 64 extra bytes per buffer, so each can start on a cache line.
  static constexpr std::size_t slack = 64 / sizeof(Scalar);
};

template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar* align_line(Scalar* pointer) {
  const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(pointer);
  return pointer + ((64 - address % 64) % 64) / sizeof(Scalar);
}

/// pack_rows with panels PW columns wide.
template <int PW, class Scalar, class RowAt>
KOKKOS_INLINE_FUNCTION void pack_rows_into(std::size_t depth, std::size_t width, const RowAt& row_at, Scalar* panels) {
  for (std::size_t p = 0; p < (width + PW - 1) / PW; ++p) {
    const std::size_t column0 = p * PW;
    const std::size_t columns = width - column0 < std::size_t(PW) ? width - column0 : std::size_t(PW);
    for (std::size_t kk = 0; kk < depth; ++kk) {
      const Scalar* __restrict__ from = row_at(kk) + column0;
      Scalar* __restrict__ to = panels + (p * depth + kk) * PW;
      if (columns == std::size_t(PW)) {
        for (int c = 0; c < PW; ++c) to[c] = from[c];
      } else {
        for (std::size_t c = 0; c < columns; ++c) to[c] = from[c];
        for (std::size_t c = columns; c < std::size_t(PW); ++c) to[c] = Scalar(0);
      }
    }
  }
}

/// Packs B (depth × width) into panels (HostPanels' layout) from its rows: B(kk, c) = row_at(kk)[c], each row `width`
/// contiguous scalars (V or dO: a head's slice of a token). Contiguous copies, so the loads are vector loads of whole
/// lines.
template <class Scalar, class RowAt>
KOKKOS_INLINE_FUNCTION void pack_rows(std::size_t depth, std::size_t width, const RowAt& row_at, Scalar* panels) {
  constexpr int NR = HostPanels<Scalar>::columns;
  if (HostPanels<Scalar>::panel_width(width) == std::size_t(NR))
    pack_rows_into<NR>(depth, width, row_at, panels);
  else
    pack_rows_into<NR / 2>(depth, width, row_at, panels);
}

/// pack_columns with panels PW columns wide.
template <int PW, class Scalar, class ColumnAt>
KOKKOS_INLINE_FUNCTION void pack_columns_into(std::size_t depth, std::size_t width, const ColumnAt& column_at,
                                              Scalar* panels) {
  for (std::size_t p = 0; p < (width + PW - 1) / PW; ++p)
    for (int c = 0; c < PW; ++c) {
      const std::size_t j = p * PW + static_cast<std::size_t>(c);
      Scalar* __restrict__ to = panels + p * depth * PW + c;
      if (j < width) {
        const Scalar* __restrict__ from = column_at(j);
        for (std::size_t kk = 0; kk < depth; ++kk) to[kk * PW] = from[kk];
      } else {
        for (std::size_t kk = 0; kk < depth; ++kk) to[kk * PW] = Scalar(0);
      }
    }
}

/// Packs B (depth × width) into panels (HostPanels' layout) from its columns: B(kk, j) = column_at(j)[kk] (Kᵀ or Vᵀ:
/// column j is token j's head slice, `depth` contiguous scalars), each column read along its unit stride.
template <class Scalar, class ColumnAt>
KOKKOS_INLINE_FUNCTION void pack_columns(std::size_t depth, std::size_t width, const ColumnAt& column_at, Scalar* panels) {
  constexpr int NR = HostPanels<Scalar>::columns;
  if (HostPanels<Scalar>::panel_width(width) == std::size_t(NR))
    pack_columns_into<NR>(depth, width, column_at, panels);
  else
    pack_columns_into<NR / 2>(depth, width, column_at, panels);
}

/// panel_product on panels PW columns wide.
template <int PW, class Scalar, int MR>
KOKKOS_INLINE_FUNCTION void panel_product_of(std::size_t rows, std::size_t depth, std::size_t width,
                                             const Scalar* const (&a_rows)[MR], std::ptrdiff_t a_step,
                                             const Scalar* panels, Scalar factor, Scalar* const (&c_rows)[MR]) {
  Scalar acc[MR][PW];
  for (std::size_t p = 0; p < (width + PW - 1) / PW; ++p) {
    detail::micro_kernel<Scalar, MR, PW>(depth, a_rows, a_step, panels + p * depth * PW, acc);
    const std::size_t column0 = p * PW, columns = width - column0 < std::size_t(PW) ? width - column0 : std::size_t(PW);
    if (columns == std::size_t(PW)) {
      // A compile-time length: vector stores. With a run-time one and factor 1, GCC made each row a `rep movs`
      // (slow to start): a quarter of the backward pass at head_dim 16 on an AVX2 Zen.
      for (std::size_t r = 0; r < rows; ++r) {
        Scalar* __restrict__ to = c_rows[r] + column0;
        for (int c = 0; c < PW; ++c) to[c] = factor * acc[r][c];
      }
    } else {
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < columns; ++c) c_rows[r][column0 + c] = factor * acc[r][c];
    }
  }
}

/// C(r, c) = factor · Σ_k A(r, k) B(k, c) for the `rows` (≤ MR) rows at a_rows (stride a_step along k), all `width`
/// columns of the packed B (HostPanels' layout), written to c_rows[r][c] (overwritten).
template <class Scalar>
KOKKOS_INLINE_FUNCTION void panel_product(std::size_t rows, std::size_t depth, std::size_t width,
                                          const Scalar* const (&a_rows)[HostPanels<Scalar>::rows], std::ptrdiff_t a_step,
                                          const Scalar* panels, Scalar factor, Scalar* const (&c_rows)[HostPanels<Scalar>::rows]) {
  constexpr int NR = HostPanels<Scalar>::columns;
  if (HostPanels<Scalar>::panel_width(width) == std::size_t(NR))
    panel_product_of<NR>(rows, depth, width, a_rows, a_step, panels, factor, c_rows);
  else
    panel_product_of<NR / 2>(rows, depth, width, a_rows, a_step, panels, factor, c_rows);
}

/// Asks for the cache line at `address` ahead of its use (ForWriting: in the state a store needs, so the store does
/// not wait for it): host compilers only, nothing in device code.
template <bool ForWriting = false>
KOKKOS_FORCEINLINE_FUNCTION void prefetch_line(const void* address) {
#if OSBI_ATTENTION_HOST_PREFETCH
  __builtin_prefetch(address, ForWriting ? 1 : 0, 3);
#else
  (void)address;
#endif
}

/// Prefetches the head slices of tokens [first, end) of item n, head h (head_dim scalars each).
template <bool ForWriting = false, class Scalar>
KOKKOS_INLINE_FUNCTION void prefetch_head(const TokenOperand<Scalar>& tokens, std::size_t n, std::size_t h,
                                          std::size_t first, std::size_t end, std::size_t head_dim) {
  for (std::size_t t = first; t < end; ++t) {
    const char* begin = reinterpret_cast<const char*>(tokens.at(n, t, h, head_dim));
    const char* last = begin + head_dim * sizeof(Scalar) - 1;
    for (const char* line = begin; line < last; line += 64) prefetch_line<ForWriting>(line);
    prefetch_line<ForWriting>(last);
  }
}

/// The softmax of a row of scores in place (masked keys → 0; all masked → all 0). Returns whether any key is kept.
template <class Scalar>
KOKKOS_INLINE_FUNCTION bool softmax_row(Scalar* __restrict__ p, const std::uint8_t* keep, std::size_t keys) {
  if (keep != nullptr)
    for (std::size_t j = 0; j < keys; ++j)
      if (keep[j] == 0) p[j] = minus_infinity<Scalar>();
  const Scalar maximum = row_maximum(p, keys);
  if (maximum == minus_infinity<Scalar>()) { // every key masked
    for (std::size_t j = 0; j < keys; ++j) p[j] = 0;
    return false;
  }
  for (std::size_t j = 0; j < keys; ++j) p[j] = activation::exp_nonpositive(p[j] - maximum);
  const Scalar inverse_sum = Scalar(1) / row_sum(p, keys);
  for (std::size_t j = 0; j < keys; ++j) p[j] *= inverse_sum;
  return true;
}

/// softmax_row on each of `rows` rows (≤ MR), step by step across the rows: the same arithmetic per row, so the same
/// bits, but the maxima, sums and reciprocals of different rows are independent chains the core overlaps, where row
/// by row it waited on each row's serial sum and division (64 keys: 59 → 51 ns a row on an AVX2 Zen).
template <class Scalar, int MR>
KOKKOS_INLINE_FUNCTION void softmax_rows(Scalar* const (&p_rows)[MR], std::size_t rows, const std::uint8_t* keep,
                                         std::size_t keys) {
  Scalar maximum[MR], inverse_sum[MR];
  for (std::size_t r = 0; r < rows; ++r) {
    Scalar* __restrict__ p = p_rows[r];
    if (keep != nullptr)
      for (std::size_t j = 0; j < keys; ++j)
        if (keep[j] == 0) p[j] = minus_infinity<Scalar>();
    maximum[r] = row_maximum(p, keys);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    Scalar* __restrict__ p = p_rows[r];
    if (maximum[r] == minus_infinity<Scalar>()) { // every key masked: an all-zero row
      for (std::size_t j = 0; j < keys; ++j) p[j] = 0;
    } else {
      const Scalar m = maximum[r];
      for (std::size_t j = 0; j < keys; ++j) p[j] = activation::exp_nonpositive(p[j] - m);
    }
  }
  for (std::size_t r = 0; r < rows; ++r)
    inverse_sum[r] = maximum[r] == minus_infinity<Scalar>() ? Scalar(0) : Scalar(1) / row_sum(p_rows[r], keys);
  for (std::size_t r = 0; r < rows; ++r) {
    Scalar* __restrict__ p = p_rows[r];
    const Scalar factor = inverse_sum[r];
    for (std::size_t j = 0; j < keys; ++j) p[j] *= factor;
  }
}

/// The softmax's backward on one row, in place: dp (dP_i on entry) becomes dS_i = scale · p ⊙ (dp − p·dp).
template <class Scalar>
KOKKOS_INLINE_FUNCTION void softmax_backward_row(const Scalar* __restrict__ p, Scalar* __restrict__ dp, std::size_t keys,
                                                 Scalar scale) {
  const Scalar centre = row_dot(p, dp, keys);
  for (std::size_t j = 0; j < keys; ++j) dp[j] = scale * p[j] * (dp[j] - centre);
}

/// softmax_backward_row on each of `rows` rows (≤ MR): every row's P·dP first, then the updates (as softmax_rows:
/// independent dot products overlap where one row after another waited on each).
template <class Scalar, int MR>
KOKKOS_INLINE_FUNCTION void softmax_backward_rows(const Scalar* const (&p_rows)[MR], Scalar* const (&dp_rows)[MR],
                                                  std::size_t rows, std::size_t keys, Scalar scale) {
  Scalar centre[MR];
  for (std::size_t r = 0; r < rows; ++r) centre[r] = row_dot(p_rows[r], dp_rows[r], keys);
  for (std::size_t r = 0; r < rows; ++r) {
    const Scalar* __restrict__ p = p_rows[r];
    Scalar* __restrict__ dp = dp_rows[r];
    const Scalar c = centre[r];
    for (std::size_t j = 0; j < keys; ++j) dp[j] = scale * p[j] * (dp[j] - c);
  }
}

template <class Scalar, class ExecutionSpace>
struct Forward {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using ScratchView = Kokkos::View<Scalar*, typename ExecutionSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;

  AttentionShape shape;
  TokenOperand<const Scalar> q, k, v;
  const std::uint8_t* keep_keys;
  Scalar* probabilities;
  TokenOperand<Scalar> out;
  Scalar scale;

  std::size_t scratch_count() const {
    if constexpr (on_host<ExecutionSpace>)
      return HostPanels<Scalar>::size(shape.head_dim, shape.keys) + HostPanels<Scalar>::size(shape.keys, shape.head_dim) +
             2 * HostPanels<Scalar>::slack;
    return shape.head_dim * shape.keys;
  }

  KOKKOS_INLINE_FUNCTION void operator()(const typename Policy::member_type& team) const {
    if constexpr (on_host<ExecutionSpace>) {
      host_item(team);
      return;
    }
    const std::size_t item = static_cast<std::size_t>(team.league_rank());
    const std::size_t n = item / shape.heads, h = item % shape.heads;
    const std::size_t keys = shape.keys, head_dim = shape.head_dim;
    const ScratchView scratch(team.team_scratch(1), scratch_count());
    Scalar* const keys_transposed = scratch.data();
    transpose_head(team, k, shape, n, h, keys_transposed);
    const std::uint8_t* keep = keep_keys != nullptr ? keep_keys + n * keys : nullptr;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, shape.queries), [&](const std::size_t i) {
      Scalar* __restrict__ p = probabilities + (item * shape.queries + i) * keys;
      scores_row(q.at(n, i, h, head_dim), keys_transposed, head_dim, keys, scale, p);
      Scalar* __restrict__ o = out.at(n, i, h, head_dim);
      for (std::size_t c = 0; c < head_dim; ++c) o[c] = 0;
      if (!softmax_row(p, keep, keys)) return; // every key masked: P = 0, O = 0
      for (std::size_t j = 0; j < keys; ++j) {
        const Scalar weight = p[j];
        const Scalar* __restrict__ value = v.at(n, j, h, head_dim);
        for (std::size_t c = 0; c < head_dim; ++c) o[c] += weight * value[c];
      }
    });
  }

  /// One (n, h) on one host thread: S = scale·Q Kᵀ, softmax, O = P V through the micro-kernel, 6 queries at a time.
  KOKKOS_INLINE_FUNCTION void host_item(const typename Policy::member_type& team) const {
    using Panels = HostPanels<Scalar>;
    constexpr int MR = Panels::rows;
    const std::size_t item = static_cast<std::size_t>(team.league_rank());
    const std::size_t n = item / shape.heads, h = item % shape.heads;
    const std::size_t keys = shape.keys, queries = shape.queries, head_dim = shape.head_dim;
    const ScratchView scratch(team.team_scratch(1), scratch_count());
    Scalar* const keys_t = align_line(scratch.data());                                  // Kᵀ: depth head_dim
    Scalar* const values = align_line(keys_t + Panels::size(head_dim, keys));           // V: depth keys
    if (item + 1 < shape.batch * shape.heads) {
      // The (n, h) this thread takes next (a host team's league ranks are consecutive): its K, V and Q arrive while
      // this one computes. Without it each head slice was a cache miss when packed: 15 % of the forward pass's
      // samples at 64 tokens, width 64, 4 heads on an AVX2 Zen.
      const std::size_t next_n = (item + 1) / shape.heads, next_h = (item + 1) % shape.heads;
      prefetch_head(k, next_n, next_h, 0, keys, head_dim);
      prefetch_head(v, next_n, next_h, 0, keys, head_dim);
      prefetch_head(q, next_n, next_h, 0, queries, head_dim);
    }
    pack_columns(head_dim, keys, [&](std::size_t j) { return k.at(n, j, h, head_dim); }, keys_t);
    pack_rows(keys, head_dim, [&](std::size_t j) { return v.at(n, j, h, head_dim); }, values);
    const std::uint8_t* keep = keep_keys != nullptr ? keep_keys + n * keys : nullptr;
    Scalar* const p_block = probabilities + item * queries * keys;
    for (std::size_t i0 = 0; i0 < queries; i0 += MR) {
      const std::size_t rows = queries - i0 < std::size_t(MR) ? queries - i0 : std::size_t(MR);
      const Scalar* q_rows[MR];
      Scalar* p_rows[MR];
      Scalar* o_rows[MR];
      for (int r = 0; r < MR; ++r) {
        const std::size_t i = detail::block_row(i0, rows, static_cast<std::size_t>(r));
        q_rows[r] = q.at(n, i, h, head_dim);
        p_rows[r] = p_block + i * keys;
        o_rows[r] = out.at(n, i, h, head_dim);
      }
      panel_product(rows, head_dim, keys, q_rows, 1, keys_t, scale, p_rows);
      softmax_rows(p_rows, rows, keep, keys);
      const Scalar* a_rows[MR];
      for (int r = 0; r < MR; ++r) a_rows[r] = p_rows[r];
      // A fully masked row has P = 0, so its output is 0 too.
      panel_product(rows, keys, head_dim, a_rows, 1, values, Scalar(1), o_rows);
    }
  }
};

template <class Scalar, class ExecutionSpace>
struct Backward {
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using ScratchView = Kokkos::View<Scalar*, typename ExecutionSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;

  AttentionShape shape;
  TokenOperand<const Scalar> q, k, v;
  const Scalar* probabilities;
  TokenOperand<const Scalar> grad_out;
  TokenOperand<Scalar> grad_q, grad_k, grad_v;
  Scalar scale;

  std::size_t scratch_count() const {
    if constexpr (on_host<ExecutionSpace>)
      return HostPanels<Scalar>::size(shape.head_dim, shape.keys) + HostPanels<Scalar>::size(shape.keys, shape.head_dim) +
             2 * HostPanels<Scalar>::size(shape.queries, shape.head_dim) + shape.queries * shape.keys +
             5 * HostPanels<Scalar>::slack;
    return shape.head_dim * shape.keys + shape.queries * shape.keys;
  }

  KOKKOS_INLINE_FUNCTION void operator()(const typename Policy::member_type& team) const {
    if constexpr (on_host<ExecutionSpace>) {
      host_item(team);
      return;
    }
    const std::size_t item = static_cast<std::size_t>(team.league_rank());
    const std::size_t n = item / shape.heads, h = item % shape.heads;
    const std::size_t keys = shape.keys, queries = shape.queries, head_dim = shape.head_dim;
    const ScratchView scratch(team.team_scratch(1), scratch_count());
    Scalar* const values_transposed = scratch.data();
    Scalar* const score_gradient = scratch.data() + head_dim * keys; // dS, queries × keys
    const Scalar* const p_block = probabilities + item * queries * keys;
    transpose_head(team, v, shape, n, h, values_transposed);

    // Per query: dP_i = dO_i Vᵀ, dS_i = scale · P_i ⊙ (dP_i − P_i·dP_i), dQ_i = dS_i K.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, queries), [&](const std::size_t i) {
      const Scalar* __restrict__ p = p_block + i * keys;
      Scalar* __restrict__ ds = score_gradient + i * keys;
      scores_row(grad_out.at(n, i, h, head_dim), values_transposed, head_dim, keys, Scalar(1), ds);
      softmax_backward_row(p, ds, keys, scale);
      Scalar* __restrict__ dq = grad_q.at(n, i, h, head_dim);
      for (std::size_t c = 0; c < head_dim; ++c) dq[c] = 0;
      for (std::size_t j = 0; j < keys; ++j) {
        const Scalar weight = ds[j];
        const Scalar* __restrict__ key = k.at(n, j, h, head_dim);
        for (std::size_t c = 0; c < head_dim; ++c) dq[c] += weight * key[c];
      }
    });
    team.team_barrier();

    // Per key: dV_j = Σ_i P_ij dO_i, dK_j = Σ_i dS_ij Q_i.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, keys), [&](const std::size_t j) {
      Scalar* __restrict__ dv = grad_v.at(n, j, h, head_dim);
      Scalar* __restrict__ dk = grad_k.at(n, j, h, head_dim);
      for (std::size_t c = 0; c < head_dim; ++c) dv[c] = dk[c] = 0;
      for (std::size_t i = 0; i < queries; ++i) {
        const Scalar p = p_block[i * keys + j], ds = score_gradient[i * keys + j];
        const Scalar* __restrict__ upstream = grad_out.at(n, i, h, head_dim);
        const Scalar* __restrict__ query = q.at(n, i, h, head_dim);
        for (std::size_t c = 0; c < head_dim; ++c) {
          dv[c] += p * upstream[c];
          dk[c] += ds * query[c];
        }
      }
    });
  }

  /// One (n, h) on one host thread, every product through the micro-kernel: dP = dO Vᵀ and dQ = dS K six queries at a
  /// time, then dK = dSᵀ Q and dV = Pᵀ dO six keys at a time (dS and P read down their columns).
  KOKKOS_INLINE_FUNCTION void host_item(const typename Policy::member_type& team) const {
    using Panels = HostPanels<Scalar>;
    constexpr int MR = Panels::rows;
    const std::size_t item = static_cast<std::size_t>(team.league_rank());
    const std::size_t n = item / shape.heads, h = item % shape.heads;
    const std::size_t keys = shape.keys, queries = shape.queries, head_dim = shape.head_dim;
    const ScratchView scratch(team.team_scratch(1), scratch_count());
    Scalar* const values_t = align_line(scratch.data());                                   // Vᵀ: depth head_dim
    Scalar* const keys_packed = align_line(values_t + Panels::size(head_dim, keys));       // K: depth keys
    Scalar* const queries_packed = align_line(keys_packed + Panels::size(keys, head_dim)); // Q: depth queries
    Scalar* const upstream = align_line(queries_packed + Panels::size(queries, head_dim)); // dO: depth queries
    Scalar* const score_gradient = align_line(upstream + Panels::size(queries, head_dim)); // dS: queries × keys
    if (item + 1 < shape.batch * shape.heads) { // the next (n, h)'s operands, as in the forward pass
      const std::size_t next_n = (item + 1) / shape.heads, next_h = (item + 1) % shape.heads;
      prefetch_head(v, next_n, next_h, 0, keys, head_dim);
      prefetch_head(k, next_n, next_h, 0, keys, head_dim);
      prefetch_head(q, next_n, next_h, 0, queries, head_dim);
      prefetch_head(grad_out, next_n, next_h, 0, queries, head_dim);
    }
    pack_columns(head_dim, keys, [&](std::size_t j) { return v.at(n, j, h, head_dim); }, values_t);
    pack_rows(keys, head_dim, [&](std::size_t j) { return k.at(n, j, h, head_dim); }, keys_packed);
    pack_rows(queries, head_dim, [&](std::size_t i) { return q.at(n, i, h, head_dim); }, queries_packed);
    pack_rows(queries, head_dim, [&](std::size_t i) { return grad_out.at(n, i, h, head_dim); }, upstream);
    const Scalar* const p_block = probabilities + item * queries * keys;
    // The gradients' lines are requested two blocks of rows ahead of their stores: a store to a line not in cache
    // holds up the stores behind it, and dQ's took a fifth of this pass (64 tokens, width 64, 4 heads, AVX2 Zen).
    prefetch_head<true>(grad_q, n, h, 0, queries < 2 * MR ? queries : 2 * MR, head_dim);
    for (std::size_t i0 = 0; i0 < queries; i0 += MR) {
      const std::size_t rows = queries - i0 < std::size_t(MR) ? queries - i0 : std::size_t(MR);
      prefetch_head<true>(grad_q, n, h, i0 + 2 * MR, queries < i0 + 3 * MR ? queries : i0 + 3 * MR, head_dim);
      const Scalar* o_rows[MR];
      Scalar* ds_rows[MR];
      Scalar* dq_rows[MR];
      for (int r = 0; r < MR; ++r) {
        const std::size_t i = detail::block_row(i0, rows, static_cast<std::size_t>(r));
        o_rows[r] = grad_out.at(n, i, h, head_dim);
        ds_rows[r] = score_gradient + i * keys;
        dq_rows[r] = grad_q.at(n, i, h, head_dim);
      }
      panel_product(rows, head_dim, keys, o_rows, 1, values_t, Scalar(1), ds_rows);
      const Scalar* p_rows[MR];
      for (int r = 0; r < MR; ++r) p_rows[r] = p_block + detail::block_row(i0, rows, static_cast<std::size_t>(r)) * keys;
      softmax_backward_rows(p_rows, ds_rows, rows, keys, scale);
      const Scalar* s_rows[MR];
      for (int r = 0; r < MR; ++r) s_rows[r] = ds_rows[r];
      panel_product(rows, keys, head_dim, s_rows, 1, keys_packed, Scalar(1), dq_rows);
    }
    prefetch_head<true>(grad_k, n, h, 0, keys < 2 * MR ? keys : 2 * MR, head_dim);
    prefetch_head<true>(grad_v, n, h, 0, keys < 2 * MR ? keys : 2 * MR, head_dim);
    for (std::size_t j0 = 0; j0 < keys; j0 += MR) {
      const std::size_t rows = keys - j0 < std::size_t(MR) ? keys - j0 : std::size_t(MR);
      prefetch_head<true>(grad_k, n, h, j0 + 2 * MR, keys < j0 + 3 * MR ? keys : j0 + 3 * MR, head_dim);
      prefetch_head<true>(grad_v, n, h, j0 + 2 * MR, keys < j0 + 3 * MR ? keys : j0 + 3 * MR, head_dim);
      const Scalar* ds_columns[MR];
      const Scalar* p_columns[MR];
      Scalar* dk_rows[MR];
      Scalar* dv_rows[MR];
      for (int r = 0; r < MR; ++r) {
        const std::size_t j = detail::block_row(j0, rows, static_cast<std::size_t>(r));
        ds_columns[r] = score_gradient + j;
        p_columns[r] = p_block + j;
        dk_rows[r] = grad_k.at(n, j, h, head_dim);
        dv_rows[r] = grad_v.at(n, j, h, head_dim);
      }
      panel_product(rows, queries, head_dim, ds_columns, std::ptrdiff_t(keys), queries_packed, Scalar(1), dk_rows);
      panel_product(rows, queries, head_dim, p_columns, std::ptrdiff_t(keys), upstream, Scalar(1), dv_rows);
    }
  }
};

inline void check_shape(const char* step, const AttentionShape& shape) {
  require(shape.heads > 0 && shape.head_dim > 0, step, "heads = ", shape.heads, " and head_dim = ", shape.head_dim,
          " must both be > 0");
  require(shape.batch * shape.heads <= static_cast<std::size_t>(INT_MAX), step, "batch ", shape.batch, " × heads ",
          shape.heads, " exceeds Kokkos' league limit ", INT_MAX);
}

template <class Functor, class ExecutionSpace>
void launch(const ExecutionSpace& space, const char* label, const Functor& functor) {
  using Policy = typename Functor::Policy;
  using ScratchView = typename Functor::ScratchView;
  Policy policy(space, static_cast<int>(functor.shape.batch * functor.shape.heads), team_size<ExecutionSpace>);
  policy.set_scratch_size(1, Kokkos::PerTeam(ScratchView::shmem_size(functor.scratch_count())));
  Kokkos::parallel_for(label, policy, functor);
}

} // namespace attention_detail

/// The scale 1/√head_dim of the scores.
template <class Scalar>
Scalar attention_scale(std::size_t head_dim) {
  return Scalar(1) / math::sqrt(static_cast<Scalar>(head_dim));
}

/// P and O from Q, K, V (see the spec above). `probabilities` holds shape.probability_count() scalars.
template <class Scalar, class ExecutionSpace>
void attention_forward(const ExecutionSpace& space, const AttentionShape& shape, const TokenOperand<const Scalar>& q,
                       const TokenOperand<const Scalar>& k, const TokenOperand<const Scalar>& v,
                       const std::uint8_t* keep_keys, Scalar* probabilities, const TokenOperand<Scalar>& out) {
  constexpr const char* step = "osbi::nn::kernels::attention_forward";
  attention_detail::check_shape(step, shape);
  if (shape.batch == 0 || shape.queries == 0) return;
  require(shape.keys > 0, step, "keys = 0: every query needs at least one key");
  attention_detail::launch(space, step,
                           attention_detail::Forward<Scalar, ExecutionSpace>{
                               shape, q, k, v, keep_keys, probabilities, out, attention_scale<Scalar>(shape.head_dim)});
}

/// dQ, dK, dV (overwritten) from the forward's P and the output gradient dO.
template <class Scalar, class ExecutionSpace>
void attention_backward(const ExecutionSpace& space, const AttentionShape& shape, const TokenOperand<const Scalar>& q,
                        const TokenOperand<const Scalar>& k, const TokenOperand<const Scalar>& v,
                        const Scalar* probabilities, const TokenOperand<const Scalar>& grad_out,
                        const TokenOperand<Scalar>& grad_q, const TokenOperand<Scalar>& grad_k,
                        const TokenOperand<Scalar>& grad_v) {
  constexpr const char* step = "osbi::nn::kernels::attention_backward";
  attention_detail::check_shape(step, shape);
  if (shape.batch == 0 || shape.queries == 0 || shape.keys == 0) return;
  require(grad_q.batch_stride != 0 || shape.batch == 1, step,
          "grad_q has batch stride 0: each batch item needs its own query gradient (sum them afterwards)");
  attention_detail::launch(space, step,
                           attention_detail::Backward<Scalar, ExecutionSpace>{
                               shape, q, k, v, probabilities, grad_out, grad_q, grad_k, grad_v,
                               attention_scale<Scalar>(shape.head_dim)});
}

} // namespace osbi::nn::kernels

#undef OSBI_ATTENTION_HOST_VECTORS
#undef OSBI_ATTENTION_HOST_PREFETCH
