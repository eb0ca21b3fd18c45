// SPDX-License-Identifier: BSD-3-Clause
/// \brief Row-wise reductions over batch × features: log-sum-exp, softmax, log-softmax, layer norm; each forward beside
/// its backward.
#pragma once

#include <osbi/nn/kernels/block_row.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <climits>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace osbi::nn::kernels {

/*
 * Every kernel here treats one row of a batch × features matrix as one independent problem and
 * reduces along it. Views may have any layout; x and the outputs share the scalar type.
 *
 *   log_sum_exp_rows(space, x, out)                  out(i) = log Σ_j exp x(i, j)
 *   softmax_rows(space, x, y)                        y(i, j) = exp x(i, j) / Σ_k exp x(i, k)
 *   softmax_rows_backward(space, y, grad_y, grad_x)  grad_x = y ⊙ (grad_y − ⟨grad_y, y⟩_row)
 *   log_softmax_rows(space, x, z)                    z(i, j) = x(i, j) − log Σ_k exp x(i, k)
 *   log_softmax_rows_backward(space, z, grad_z, grad_x)
 *                                                    grad_x = grad_z − exp z ⊙ Σ_row grad_z
 *   layer_norm_statistics(space, x, mean, inv_std, epsilon)
 *                                                    mean(i) = Σ_j x(i, j) / n,
 *                                                    inv_std(i) = 1 / √(Σ_j (x(i, j) − mean(i))² / n + ε)
 *                                                    (biased variance, as PyTorch's LayerNorm)
 *   layer_norm_forward(space, x, mean, inv_std, gain, bias, y)
 *                                                    y = (x − mean) · inv_std · gain + bias
 *   layer_norm_backward_input(space, x, mean, inv_std, gain, grad_y, grad_x)
 *                                                    grad_x = inv_std · (ĝ − mean_row(ĝ) − x̂ · mean_row(ĝ ⊙ x̂)),
 *                                                    ĝ = grad_y ⊙ gain, x̂ = (x − mean) · inv_std
 *   layer_norm_backward_parameters(space, x, mean, inv_std, grad_y, grad_gain, grad_bias)
 *                                                    grad_gain += Σ_rows grad_y ⊙ x̂, grad_bias += Σ_rows grad_y
 *
 * Outputs are overwritten except the two parameter gradients, which accumulate (several backward
 * passes may add into one gradient, as in dense.hpp). Each call checks shapes on the host and throws
 * DimensionMismatch naming both sizes; then it only enqueues work on `space`.
 *
 * Numerics. Exponentials are shifted by the row maximum, so no finite input overflows. Sums are
 * accumulated in accumulation_t<Scalar>: double for float and double input. The kernels are memory
 * bound, so the wider sum costs nothing measurable on the host, and float results come out within a
 * few float ulps of the exact value whatever the row length (4097 features included). Layer-norm
 * statistics are two-pass (mean, then the mean of squared deviations) in that type: no cancellation
 * even when |mean| ≫ standard deviation. mean and inv_std may be stored in Scalar or in
 * accumulation_t<Scalar>. Normalization runs in Scalar (eight floats to a vector) with the mean split
 * into a high and a low Scalar part (detail::NormalizeBy), so x − mean keeps the stored mean's
 * precision; the backward pass forms its products in Scalar and sums them in accumulation_t. Stored
 * in float, the mean's rounding (half an ulp of |mean|) shifts x̂ by up to ulp(mean)·inv_std, which
 * matters when |mean| ≫ standard deviation; LayerNorm therefore keeps them in double (2 × 8 bytes per
 * row).
 *
 * Special values, chosen to match PyTorch:
 *   a row of only −∞ (or no entries)   log-sum-exp −∞; softmax and log-softmax NaN (0/0)
 *   −∞ entries among finite ones       contribute exp(−∞) = 0; their log-softmax is −∞
 *   a +∞ entry                         log-sum-exp +∞; softmax and log-softmax of the row NaN
 *   a NaN entry                        NaN for the whole row, everywhere
 *   zero features                      layer norm: mean 0, inv_std 1/√ε (empty sums)
 *
 * Parallel shape (STYLE rule 8): one team per block of rows, TeamThreadRange over the block's rows,
 * ThreadVectorRange along each row. On host spaces a team is one thread with vector length one. Layer
 * norm has host paths for rows whose entries are adjacent (the usual row-major batch): pointer loops
 * GCC vectorizes; the statistics take rows in blocks of four whose row sums interleave
 * (detail::host_block_row_sums), the backward one row at a time; every row's sums have a fixed order
 * that does not depend on the blocking: Serial and OpenMP give identical bits.
 */

/// The type sums are accumulated in: at least double.
template <class Scalar>
using accumulation_t = std::conditional_t<(sizeof(Scalar) < sizeof(double)), double, Scalar>;

namespace detail {

// types.hpp's BatchViewFor/ValueViewFor use SpaceAccessibility<…>::accessible directly as an atomic
// constraint, which Kokkos 3.4.1 declares as an enum, not a bool: converted explicitly here.
template <class View, class ExecutionSpace>
concept RowMatrixFor =
    compat::is_view_v<View> &&(View::rank == 2) &&
    static_cast<bool>(Kokkos::SpaceAccessibility<ExecutionSpace, typename View::memory_space>::accessible);

template <class View, class ExecutionSpace>
concept RowVectorFor =
    compat::is_view_v<View> &&(View::rank == 1) &&
    static_cast<bool>(Kokkos::SpaceAccessibility<ExecutionSpace, typename View::memory_space>::accessible);

/// Teams for row-wise kernels: host spaces run one row per single-thread team; devices put
/// rows_per_team rows in a team, one vector (warp-sized) per row.
template <class ExecutionSpace>
struct RowTeams {
  static constexpr bool host = Kokkos::SpaceAccessibility<ExecutionSpace, Kokkos::HostSpace>::accessible;
  static constexpr int rows_per_team = host ? 1 : 8;
  static constexpr int vector_length = host ? 1 : 32;
};

template <class ExecutionSpace>
using RowMember = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;

/// Calls body(team, row) for every row in [0, rows), within teams of RowTeams' shape; body uses
/// ThreadVectorRange along the row.
template <class ExecutionSpace, class RowBody>
void for_each_row(const ExecutionSpace& space, const std::string& label, std::size_t rows, const RowBody& body) {
  if (rows == 0) return;
  constexpr int rows_per_team = RowTeams<ExecutionSpace>::rows_per_team;
  const std::size_t league = (rows + rows_per_team - 1) / rows_per_team;
  require(league <= static_cast<std::size_t>(INT_MAX), label, "batch of ", rows, " rows needs ", league,
          " teams, more than Kokkos' league limit ", INT_MAX);
  const Kokkos::TeamPolicy<ExecutionSpace> policy(space, static_cast<int>(league), rows_per_team,
                                                  RowTeams<ExecutionSpace>::vector_length);
  Kokkos::parallel_for(
      label, policy, KOKKOS_LAMBDA(const RowMember<ExecutionSpace>& team) {
        const std::size_t first = static_cast<std::size_t>(team.league_rank()) * rows_per_team;
        const std::size_t count = rows - first < std::size_t(rows_per_team) ? rows - first : std::size_t(rows_per_team);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](const std::size_t r) { body(team, first + r); });
      });
}

/// Σ_j term(j) over j ∈ [0, columns), in Accumulate. Host spaces: eight interleaved partial sums (lane l takes
/// j ≡ l mod 8), added pairwise at the end: independent chains the compiler vectorizes, where one running sum is a
/// chain of dependent adds (the vector-field network's LayerNorm spent ~14 % of its sampling time in those chains).
/// The order is fixed, so Serial and OpenMP still agree bit for bit. Devices: the vector lanes' reduction.
template <class Accumulate, class Term>
KOKKOS_INLINE_FUNCTION Accumulate host_row_sum(std::size_t columns, const Term& term) {
  constexpr std::size_t lanes = 8;
  Accumulate partial[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= columns; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) partial[l] += term(j + l);
  for (std::size_t l = 0; j < columns; ++j, ++l) partial[l] += term(j);
  for (std::size_t width = lanes / 2; width > 0; width /= 2)
    for (std::size_t l = 0; l < width; ++l) partial[l] += partial[l + width];
  return partial[0];
}

/// Layer norm's 1/√(σ² + ε) from the row's sum of squared deviations, in accumulation_t: shared by the kernels below
/// and by fused callers (VectorFieldNetwork::forward_shared), so they agree bit for bit.
template <class Accumulate>
KOKKOS_INLINE_FUNCTION Accumulate layer_norm_inverse_std(Accumulate squares, Accumulate inverse_count, Accumulate epsilon) {
  return Accumulate(1) / math::sqrt(squares * inverse_count + epsilon);
}

/// A row's statistics as its normalization uses them, in Scalar: the mean split into a high and a low part (μ = high +
/// low to accumulation_t's precision), so x − μ computed as (x − high) − low in Scalar loses nothing to the mean's
/// rounding (half an ulp of |μ|, which matters when |μ| ≫ σ), and 1/σ rounded once. Scalar arithmetic is what lets the
/// normalization run eight floats to a vector instead of four doubles with conversions on both sides. For double the
/// low part is 0 and nothing changes.
template <class Scalar>
struct NormalizeBy {
  Scalar mean_high, mean_low, inv_std;
};
template <class Scalar, class Statistic>
KOKKOS_INLINE_FUNCTION NormalizeBy<Scalar> normalize_by(Statistic mean, Statistic inv_std) {
  using Accumulate = std::conditional_t<(sizeof(Statistic) > sizeof(Scalar)), Statistic, Scalar>;
  const Scalar high = static_cast<Scalar>(mean);
  return {high, static_cast<Scalar>(static_cast<Accumulate>(mean) - static_cast<Accumulate>(high)),
          static_cast<Scalar>(inv_std)};
}
/// x̂ = (x − μ)/σ: within a few ulps of the exact value whatever |μ|/σ.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar layer_norm_normalized(Scalar x, const NormalizeBy<Scalar>& by) {
  return ((x - by.mean_high) - by.mean_low) * by.inv_std;
}
/// Layer norm's output x̂·gain + bias: shared by the kernels below and by fused callers.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar layer_norm_value(Scalar x, const NormalizeBy<Scalar>& by, Scalar gain, Scalar bias) {
  return layer_norm_normalized(x, by) * gain + bias;
}

/// Whether a host view's rows (a vector: its entries) are adjacent in memory, so the host paths below can walk them
/// through pointers: GCC vectorizes those loops, where ThreadVectorRange over a view's operator() stayed scalar.
template <class View>
bool host_entries_adjacent(const View& view) {
  if constexpr (View::rank == 2)
    return view.extent(1) <= 1 || view.stride(1) == 1;
  else
    return view.extent(0) <= 1 || view.stride(0) == 1;
}

/// Rows per block of the host layer-norm paths.
inline constexpr std::size_t host_norm_rows = 4;

/// Σ_j term(r, j) for the four rows r of a host block at once, in Accumulate: each row keeps four partial sums (lane l
/// takes the j ≡ l mod 4 below the last multiple of 4, the rest one tail sum), added as ((0 + 1) + (2 + 3)) + tail.
/// The rows' sums interleave, so their dependent add chains, and the square roots and divisions after them, overlap:
/// a row at a time waited on them (layer norm ran at ~2.5 cycles an entry at 100 features). A row's sum does not depend
/// on its block-mates, so any blocking of the rows gives the same bits.
template <class Accumulate, class Term>
KOKKOS_INLINE_FUNCTION void host_block_row_sums(std::size_t columns, const Term& term, Accumulate (&sums)[host_norm_rows]) {
  constexpr std::size_t lanes = 4;
  Accumulate partial[host_norm_rows][lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= columns; j += lanes)
    for (std::size_t r = 0; r < host_norm_rows; ++r)
      for (std::size_t l = 0; l < lanes; ++l) partial[r][l] += term(r, j + l);
  for (std::size_t r = 0; r < host_norm_rows; ++r) {
    Accumulate tail = 0;
    for (std::size_t k = j; k < columns; ++k) tail += term(r, k);
    sums[r] = ((partial[r][0] + partial[r][1]) + (partial[r][2] + partial[r][3])) + tail;
  }
}

/// Two-pass layer-norm statistics of a host block's four rows (rows[r][0 .. columns)), in Accumulate.
template <class Scalar, class Accumulate>
KOKKOS_INLINE_FUNCTION void host_block_layer_norm_statistics(const Scalar* const (&rows)[host_norm_rows],
                                                             std::size_t columns, Accumulate inverse_count,
                                                             Accumulate epsilon, Accumulate (&mean)[host_norm_rows],
                                                             Accumulate (&inv_std)[host_norm_rows]) {
  host_block_row_sums<Accumulate>(
      columns, [&](std::size_t r, std::size_t j) { return static_cast<Accumulate>(rows[r][j]); }, mean);
  for (std::size_t r = 0; r < host_norm_rows; ++r) mean[r] *= inverse_count;
  Accumulate squares[host_norm_rows];
  host_block_row_sums<Accumulate>(
      columns,
      [&](std::size_t r, std::size_t j) {
        const Accumulate deviation = static_cast<Accumulate>(rows[r][j]) - mean[r];
        return deviation * deviation;
      },
      squares);
  for (std::size_t r = 0; r < host_norm_rows; ++r)
    inv_std[r] = layer_norm_inverse_std(squares[r], inverse_count, epsilon);
}

/// Layer norm's backward row sums of one host row, in Accumulate: Σ_j ĝ and Σ_j ĝ·x̂ with ĝ = grad_y·gain and x̂ as
/// the forward forms it, both products in Scalar. Lane l takes the j ≡ l mod 8 below the last multiple of 8, the rest
/// one tail sum; the lanes are added pairwise, then the tail. One row's eight lanes fill a float vector; blocks of
/// rows as for the statistics measured slower (GCC vectorized across the rows, gathering scalars: 1.2 against 0.85 ns
/// an entry for the whole backward at 200×100 on Zen 3), and so did this loop written without the one-row arrays.
template <class Scalar, class Accumulate>
KOKKOS_INLINE_FUNCTION void host_row_layer_norm_backward_sums(const Scalar* const (&x)[1],
                                                              const Scalar* const (&grad_y)[1],
                                                              const Scalar* __restrict__ gain,
                                                              const NormalizeBy<Scalar> (&by)[1], std::size_t columns,
                                                              Accumulate& sum_g, Accumulate& sum_g_normalized) {
  constexpr std::size_t lanes = 8;
  Accumulate partial_g[1][lanes] = {}, partial_gx[1][lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= columns; j += lanes)
    for (std::size_t r = 0; r < 1; ++r)
      for (std::size_t l = 0; l < lanes; ++l) {
        const Scalar g = grad_y[r][j + l] * gain[j + l];
        partial_g[r][l] += static_cast<Accumulate>(g);
        partial_gx[r][l] += static_cast<Accumulate>(g * layer_norm_normalized(x[r][j + l], by[r]));
      }
  Accumulate tail_g = 0, tail_gx = 0;
  for (std::size_t k = j; k < columns; ++k) {
    const Scalar g = grad_y[0][k] * gain[k];
    tail_g += static_cast<Accumulate>(g);
    tail_gx += static_cast<Accumulate>(g * layer_norm_normalized(x[0][k], by[0]));
  }
  for (std::size_t width = lanes / 2; width > 0; width /= 2)
    for (std::size_t l = 0; l < width; ++l) {
      partial_g[0][l] += partial_g[0][l + width];
      partial_gx[0][l] += partial_gx[0][l + width];
    }
  sum_g = partial_g[0][0] + tail_g;
  sum_g_normalized = partial_gx[0][0] + tail_gx;
}

/// y[j] = layer_norm_value(x[j], by, gain[j], bias[j]) over one host row; y may be x.
template <class Scalar>
KOKKOS_INLINE_FUNCTION void host_layer_norm_row(const Scalar* x, Scalar* y, std::size_t columns,
                                                const NormalizeBy<Scalar>& by, const Scalar* __restrict__ gain,
                                                const Scalar* __restrict__ bias) {
  if (x == y) {
    for (std::size_t j = 0; j < columns; ++j) y[j] = layer_norm_value(y[j], by, gain[j], bias[j]);
  } else {
    const Scalar* __restrict__ in = x;
    Scalar* __restrict__ out = y;
    for (std::size_t j = 0; j < columns; ++j) out[j] = layer_norm_value(in[j], by, gain[j], bias[j]);
  }
}

/// host_row_sum on host spaces; the vector lanes' reduction on devices.
template <class ExecutionSpace, class Accumulate, class Member, class Term>
KOKKOS_INLINE_FUNCTION Accumulate row_sum(const Member& team, std::size_t columns, const Term& term) {
  if constexpr (RowTeams<ExecutionSpace>::host) {
    return host_row_sum<Accumulate>(columns, term);
  } else {
    Accumulate sum;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, columns), [&](const std::size_t j, Accumulate& local) { local += term(j); },
        Kokkos::Sum<Accumulate>(sum));
    return sum;
  }
}

/// max_j x(row, j), NaN entries skipped (the sums that follow propagate them). An empty or all −∞
/// row gives the Max reducer's identity (lowest finite) or −∞, depending on the Kokkos version.
template <class Member, class XView>
KOKKOS_INLINE_FUNCTION typename XView::non_const_value_type row_max(const Member& team, const XView& x,
                                                                    std::size_t row) {
  using Scalar = typename XView::non_const_value_type;
  Scalar maximum;
  Kokkos::parallel_reduce(
      Kokkos::ThreadVectorRange(team, x.extent(1)),
      [&](const std::size_t j, Scalar& local) {
        if (x(row, j) > local) local = x(row, j);
      },
      Kokkos::Max<Scalar>(maximum));
  return maximum;
}

/// The shift of a row's exponentials: its maximum, or 0 when that is −∞ (exp(x − 0) is then 0 for
/// every −∞ entry instead of NaN).
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar exp_shift(Scalar maximum) {
  return math::isinf(maximum) && maximum < Scalar(0) ? Scalar(0) : maximum;
}

/// Σ_j exp(x(row, j) − shift) in the accumulation type.
template <class Member, class XView, class Scalar>
KOKKOS_INLINE_FUNCTION accumulation_t<Scalar> row_exp_sum(const Member& team, const XView& x, std::size_t row,
                                                          Scalar shift) {
  using Accumulate = accumulation_t<Scalar>;
  Accumulate sum;
  Kokkos::parallel_reduce(
      Kokkos::ThreadVectorRange(team, x.extent(1)),
      [&](const std::size_t j, Accumulate& local) { local += static_cast<Accumulate>(math::exp(x(row, j) - shift)); },
      Kokkos::Sum<Accumulate>(sum));
  return sum;
}

/// Σ_j a(row, j) · b(row, j) in the accumulation type.
template <class Member, class AView, class BView>
KOKKOS_INLINE_FUNCTION accumulation_t<typename AView::non_const_value_type> row_dot(const Member& team, const AView& a,
                                                                                    const BView& b, std::size_t row) {
  using Accumulate = accumulation_t<typename AView::non_const_value_type>;
  Accumulate sum;
  Kokkos::parallel_reduce(
      Kokkos::ThreadVectorRange(team, a.extent(1)),
      [&](const std::size_t j, Accumulate& local) {
        local += static_cast<Accumulate>(a(row, j)) * static_cast<Accumulate>(b(row, j));
      },
      Kokkos::Sum<Accumulate>(sum));
  return sum;
}

template <class View>
using scalar_of = typename View::non_const_value_type;

/// The compile-time part of every entry: one floating-point scalar type, writable outputs.
template <class Reference, class... Views>
constexpr bool same_scalar = (std::is_same_v<scalar_of<Reference>, scalar_of<Views>> && ...);

template <class View>
constexpr bool writable = !std::is_const_v<typename View::value_type>;

/// Layer-norm statistics are stored in x's scalar type or in its accumulation type (both views alike).
template <class XView, class MeanView, class InvStdView>
constexpr bool statistics_type_ok = std::is_same_v<scalar_of<MeanView>, scalar_of<InvStdView>> &&
                                    (std::is_same_v<scalar_of<MeanView>, scalar_of<XView>> ||
                                     std::is_same_v<scalar_of<MeanView>, accumulation_t<scalar_of<XView>>>);

inline void check_same_shape(std::string_view step, std::size_t rows, std::size_t columns, std::size_t other_rows,
                             std::size_t other_columns, std::string_view what) {
  require_extent(other_rows, rows, step, std::string(what) + "'s row count (must equal x's)");
  require_extent(other_columns, columns, step, std::string(what) + "'s column count (must equal x's)");
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// log-sum-exp

/// out(i) = log Σ_j exp x(i, j), shifted by the row maximum (see the header comment for ±∞ and NaN).
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView,
          detail::RowVectorFor<ExecutionSpace> OutView>
void log_sum_exp_rows(const ExecutionSpace& space, const XView& x, const OutView& out) {
  static_assert(std::floating_point<detail::scalar_of<XView>> && detail::same_scalar<XView, OutView> &&
                    detail::writable<OutView>,
                "osbi::nn::kernels::log_sum_exp_rows: x and out must share one floating-point scalar type and out "
                "must be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::log_sum_exp_rows";
  require_extent(out.extent(0), x.extent(0), step, "out's size (must equal x's row count)");
  detail::for_each_row(
      space, "osbi::nn::rowwise::log_sum_exp", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Scalar maximum = detail::row_max(team, x, row);
        const bool plus_infinity = math::isinf(maximum) && maximum > Scalar(0);
        const Scalar shift = detail::exp_shift(maximum);
        Accumulate sum;
        // With a +∞ entry the value is +∞ unless the row also holds a NaN: sum the NaNs only.
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, x.extent(1)),
            [&](const std::size_t j, Accumulate& local) {
              const Scalar value = x(row, j);
              local += plus_infinity ? (math::isnan(value) ? static_cast<Accumulate>(value) : Accumulate(0))
                                     : static_cast<Accumulate>(math::exp(value - shift));
            },
            Kokkos::Sum<Accumulate>(sum));
        Kokkos::single(Kokkos::PerThread(team), [&] {
          out(row) = plus_infinity ? static_cast<Scalar>(static_cast<Accumulate>(maximum) + sum)
                                   : static_cast<Scalar>(static_cast<Accumulate>(shift) + math::log(sum));
        });
      });
}

// ---------------------------------------------------------------------------------------------
// softmax

/// y(i, j) = exp(x(i, j) − m_i) / Σ_k exp(x(i, k) − m_i), m_i the row maximum. y may alias x.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView, detail::RowMatrixFor<ExecutionSpace> YView>
void softmax_rows(const ExecutionSpace& space, const XView& x, const YView& y) {
  static_assert(std::floating_point<detail::scalar_of<XView>> && detail::same_scalar<XView, YView> &&
                    detail::writable<YView>,
                "osbi::nn::kernels::softmax_rows: x and y must share one floating-point scalar type and y must be "
                "writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Accumulate = accumulation_t<Scalar>;
  detail::check_same_shape("osbi::nn::softmax_rows", x.extent(0), x.extent(1), y.extent(0), y.extent(1), "y");
  detail::for_each_row(
      space, "osbi::nn::rowwise::softmax", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Scalar shift = detail::exp_shift(detail::row_max(team, x, row));
        const Accumulate scale = Accumulate(1) / detail::row_exp_sum(team, x, row, shift);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, x.extent(1)), [&](const std::size_t j) {
          y(row, j) = static_cast<Scalar>(static_cast<Accumulate>(math::exp(x(row, j) - shift)) * scale);
        });
      });
}

/// grad_x(i, j) = y(i, j) · (grad_y(i, j) − Σ_k grad_y(i, k) y(i, k)), y = softmax_rows(x).
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> YView,
          detail::RowMatrixFor<ExecutionSpace> GradYView, detail::RowMatrixFor<ExecutionSpace> GradXView>
void softmax_rows_backward(const ExecutionSpace& space, const YView& y, const GradYView& grad_y,
                           const GradXView& grad_x) {
  static_assert(std::floating_point<detail::scalar_of<YView>> && detail::same_scalar<YView, GradYView, GradXView> &&
                    detail::writable<GradXView>,
                "osbi::nn::kernels::softmax_rows_backward: y, grad_y and grad_x must share one floating-point scalar "
                "type and grad_x must be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<YView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::softmax_rows_backward";
  require_extent(grad_y.extent(0), y.extent(0), step, "grad_y's row count (must equal y's)");
  require_extent(grad_y.extent(1), y.extent(1), step, "grad_y's column count (must equal y's)");
  require_extent(grad_x.extent(0), y.extent(0), step, "grad_x's row count (must equal y's)");
  require_extent(grad_x.extent(1), y.extent(1), step, "grad_x's column count (must equal y's)");
  detail::for_each_row(
      space, "osbi::nn::rowwise::softmax_backward", y.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Accumulate dot = detail::row_dot(team, grad_y, y, row);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, y.extent(1)), [&](const std::size_t j) {
          grad_x(row, j) =
              static_cast<Scalar>(static_cast<Accumulate>(y(row, j)) * (static_cast<Accumulate>(grad_y(row, j)) - dot));
        });
      });
}

// ---------------------------------------------------------------------------------------------
// log-softmax

/// z(i, j) = x(i, j) − log Σ_k exp x(i, k), shifted by the row maximum. z may alias x.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView, detail::RowMatrixFor<ExecutionSpace> ZView>
void log_softmax_rows(const ExecutionSpace& space, const XView& x, const ZView& z) {
  static_assert(std::floating_point<detail::scalar_of<XView>> && detail::same_scalar<XView, ZView> &&
                    detail::writable<ZView>,
                "osbi::nn::kernels::log_softmax_rows: x and z must share one floating-point scalar type and z must "
                "be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Accumulate = accumulation_t<Scalar>;
  detail::check_same_shape("osbi::nn::log_softmax_rows", x.extent(0), x.extent(1), z.extent(0), z.extent(1), "z");
  detail::for_each_row(
      space, "osbi::nn::rowwise::log_softmax", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Scalar shift = detail::exp_shift(detail::row_max(team, x, row));
        const Accumulate log_sum = math::log(detail::row_exp_sum(team, x, row, shift));
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, x.extent(1)), [&](const std::size_t j) {
          // (x − shift) is exact near the maximum, where the result is small and precision matters.
          z(row, j) = static_cast<Scalar>(static_cast<Accumulate>(x(row, j) - shift) - log_sum);
        });
      });
}

/// grad_x(i, j) = grad_z(i, j) − exp z(i, j) · Σ_k grad_z(i, k), z = log_softmax_rows(x).
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> ZView,
          detail::RowMatrixFor<ExecutionSpace> GradZView, detail::RowMatrixFor<ExecutionSpace> GradXView>
void log_softmax_rows_backward(const ExecutionSpace& space, const ZView& z, const GradZView& grad_z,
                               const GradXView& grad_x) {
  static_assert(std::floating_point<detail::scalar_of<ZView>> && detail::same_scalar<ZView, GradZView, GradXView> &&
                    detail::writable<GradXView>,
                "osbi::nn::kernels::log_softmax_rows_backward: z, grad_z and grad_x must share one floating-point "
                "scalar type and grad_x must be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<ZView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::log_softmax_rows_backward";
  require_extent(grad_z.extent(0), z.extent(0), step, "grad_z's row count (must equal z's)");
  require_extent(grad_z.extent(1), z.extent(1), step, "grad_z's column count (must equal z's)");
  require_extent(grad_x.extent(0), z.extent(0), step, "grad_x's row count (must equal z's)");
  require_extent(grad_x.extent(1), z.extent(1), step, "grad_x's column count (must equal z's)");
  detail::for_each_row(
      space, "osbi::nn::rowwise::log_softmax_backward", z.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        Accumulate total;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, z.extent(1)),
            [&](const std::size_t j, Accumulate& local) { local += static_cast<Accumulate>(grad_z(row, j)); },
            Kokkos::Sum<Accumulate>(total));
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, z.extent(1)), [&](const std::size_t j) {
          grad_x(row, j) = static_cast<Scalar>(static_cast<Accumulate>(grad_z(row, j)) -
                                               static_cast<Accumulate>(math::exp(z(row, j))) * total);
        });
      });
}

// ---------------------------------------------------------------------------------------------
// layer norm

/// mean(i) and inv_std(i) = 1/√(biased variance + ε) of row i, two-pass in accumulation_t.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView,
          detail::RowVectorFor<ExecutionSpace> MeanView, detail::RowVectorFor<ExecutionSpace> InvStdView>
void layer_norm_statistics(const ExecutionSpace& space, const XView& x, const MeanView& mean, const InvStdView& inv_std,
                           double epsilon) {
  static_assert(std::floating_point<detail::scalar_of<XView>> &&
                    detail::statistics_type_ok<XView, MeanView, InvStdView> && detail::writable<MeanView> &&
                    detail::writable<InvStdView>,
                "osbi::nn::kernels::layer_norm_statistics: x must hold floating-point scalars, mean and inv_std must "
                "both hold x's scalar or accumulation_t of it, and be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Statistic = detail::scalar_of<MeanView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::layer_norm_statistics";
  require(std::isfinite(epsilon) && epsilon >= 0, step, "epsilon = ", epsilon, " must be finite and >= 0");
  require_extent(mean.extent(0), x.extent(0), step, "mean's size (must equal x's row count)");
  require_extent(inv_std.extent(0), x.extent(0), step, "inv_std's size (must equal x's row count)");
  const Accumulate eps = static_cast<Accumulate>(epsilon);
  const std::size_t columns = x.extent(1);
  // An empty row has mean 0 and variance 0 (its sums are empty), not 0/0.
  const Accumulate inverse_count = columns == 0 ? Accumulate(0) : Accumulate(1) / static_cast<Accumulate>(columns);
  if constexpr (detail::RowTeams<ExecutionSpace>::host) {
    if (detail::host_entries_adjacent(x)) {
      // Blocks of four rows (see host_block_row_sums); a short last block repeats its last row (block_row).
      const std::size_t rows = x.extent(0), row_stride = rows > 1 ? x.stride(0) : 0;
      const Scalar* const data = x.data();
      constexpr std::size_t block = detail::host_norm_rows;
      Kokkos::parallel_for(
          "osbi::nn::rowwise::layer_norm_statistics", Kokkos::RangePolicy<ExecutionSpace>(space, 0, (rows + block - 1) / block),
          KOKKOS_LAMBDA(const std::size_t b) {
            const std::size_t first = b * block, count = rows - first < block ? rows - first : block;
            const Scalar* row_data[block];
            for (std::size_t r = 0; r < block; ++r) row_data[r] = data + detail::block_row(first, count, r) * row_stride;
            Accumulate row_mean[block], row_inv_std[block];
            detail::host_block_layer_norm_statistics(row_data, columns, inverse_count, eps, row_mean, row_inv_std);
            for (std::size_t r = 0; r < count; ++r) {
              mean(first + r) = static_cast<Statistic>(row_mean[r]);
              inv_std(first + r) = static_cast<Statistic>(row_inv_std[r]);
            }
          });
      return;
    }
  }
  detail::for_each_row(
      space, "osbi::nn::rowwise::layer_norm_statistics", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Accumulate sum = detail::row_sum<ExecutionSpace, Accumulate>(
            team, columns, [&](const std::size_t j) { return static_cast<Accumulate>(x(row, j)); });
        const Accumulate row_mean = sum * inverse_count;
        const Accumulate squares = detail::row_sum<ExecutionSpace, Accumulate>(team, columns, [&](const std::size_t j) {
          const Accumulate deviation = static_cast<Accumulate>(x(row, j)) - row_mean;
          return deviation * deviation;
        });
        Kokkos::single(Kokkos::PerThread(team), [&] {
          mean(row) = static_cast<Statistic>(row_mean);
          inv_std(row) = static_cast<Statistic>(detail::layer_norm_inverse_std(squares, inverse_count, eps));
        });
      });
}

/// y(i, j) = (x(i, j) − mean(i)) · inv_std(i) · gain(j) + bias(j). y may alias x.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView,
          detail::RowVectorFor<ExecutionSpace> MeanView, detail::RowVectorFor<ExecutionSpace> InvStdView,
          detail::RowVectorFor<ExecutionSpace> GainView, detail::RowVectorFor<ExecutionSpace> BiasView,
          detail::RowMatrixFor<ExecutionSpace> YView>
void layer_norm_forward(const ExecutionSpace& space, const XView& x, const MeanView& mean, const InvStdView& inv_std,
                        const GainView& gain, const BiasView& bias, const YView& y) {
  static_assert(std::floating_point<detail::scalar_of<XView>> &&
                    detail::same_scalar<XView, GainView, BiasView, YView> &&
                    detail::statistics_type_ok<XView, MeanView, InvStdView> && detail::writable<YView>,
                "osbi::nn::kernels::layer_norm_forward: x, gain, bias and y must share one floating-point scalar "
                "type, mean and inv_std hold it or accumulation_t of it, and y must be writable (see "
                "osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  constexpr std::string_view step = "osbi::nn::layer_norm_forward";
  require_extent(mean.extent(0), x.extent(0), step, "mean's size (must equal x's row count)");
  require_extent(inv_std.extent(0), x.extent(0), step, "inv_std's size (must equal x's row count)");
  require_extent(gain.extent(0), x.extent(1), step, "gain's size (must equal x's column count)");
  require_extent(bias.extent(0), x.extent(1), step, "bias's size (must equal x's column count)");
  detail::check_same_shape(step, x.extent(0), x.extent(1), y.extent(0), y.extent(1), "y");
  if constexpr (detail::RowTeams<ExecutionSpace>::host) {
    if (detail::host_entries_adjacent(x) && detail::host_entries_adjacent(y) && detail::host_entries_adjacent(gain) &&
        detail::host_entries_adjacent(bias)) {
      const std::size_t columns = x.extent(1);
      const std::size_t x_stride = x.extent(0) > 1 ? x.stride(0) : 0, y_stride = y.extent(0) > 1 ? y.stride(0) : 0;
      const Scalar* const x_data = x.data();
      Scalar* const y_data = y.data();
      const Scalar *const gain_data = gain.data(), *const bias_data = bias.data();
      Kokkos::parallel_for(
          "osbi::nn::rowwise::layer_norm_forward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
          KOKKOS_LAMBDA(const std::size_t row) {
            detail::host_layer_norm_row(x_data + row * x_stride, y_data + row * y_stride, columns,
                                        detail::normalize_by<Scalar>(mean(row), inv_std(row)), gain_data, bias_data);
          });
      return;
    }
  }
  detail::for_each_row(
      space, "osbi::nn::rowwise::layer_norm_forward", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const auto by = detail::normalize_by<Scalar>(mean(row), inv_std(row));
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, x.extent(1)), [&](const std::size_t j) {
          y(row, j) = detail::layer_norm_value(static_cast<Scalar>(x(row, j)), by, static_cast<Scalar>(gain(j)),
                                               static_cast<Scalar>(bias(j)));
        });
      });
}

/// grad_x = inv_std · (ĝ − mean_row(ĝ) − x̂ · mean_row(ĝ ⊙ x̂)), ĝ = grad_y ⊙ gain, x̂ the normalized x.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView,
          detail::RowVectorFor<ExecutionSpace> MeanView, detail::RowVectorFor<ExecutionSpace> InvStdView,
          detail::RowVectorFor<ExecutionSpace> GainView, detail::RowMatrixFor<ExecutionSpace> GradYView,
          detail::RowMatrixFor<ExecutionSpace> GradXView>
void layer_norm_backward_input(const ExecutionSpace& space, const XView& x, const MeanView& mean,
                               const InvStdView& inv_std, const GainView& gain, const GradYView& grad_y,
                               const GradXView& grad_x) {
  static_assert(std::floating_point<detail::scalar_of<XView>> &&
                    detail::same_scalar<XView, GainView, GradYView, GradXView> &&
                    detail::statistics_type_ok<XView, MeanView, InvStdView> && detail::writable<GradXView>,
                "osbi::nn::kernels::layer_norm_backward_input: x, gain, grad_y and grad_x must share one "
                "floating-point scalar type, mean and inv_std hold it or accumulation_t of it, and grad_x must be "
                "writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::layer_norm_backward_input";
  require_extent(mean.extent(0), x.extent(0), step, "mean's size (must equal x's row count)");
  require_extent(inv_std.extent(0), x.extent(0), step, "inv_std's size (must equal x's row count)");
  require_extent(gain.extent(0), x.extent(1), step, "gain's size (must equal x's column count)");
  detail::check_same_shape(step, x.extent(0), x.extent(1), grad_y.extent(0), grad_y.extent(1), "grad_y");
  detail::check_same_shape(step, x.extent(0), x.extent(1), grad_x.extent(0), grad_x.extent(1), "grad_x");
  const std::size_t columns = x.extent(1);
  const Accumulate inverse_count = columns == 0 ? Accumulate(0) : Accumulate(1) / static_cast<Accumulate>(columns);
  if constexpr (detail::RowTeams<ExecutionSpace>::host) {
    if (detail::host_entries_adjacent(x) && detail::host_entries_adjacent(gain) &&
        detail::host_entries_adjacent(grad_y) && detail::host_entries_adjacent(grad_x)) {
      // The products in Scalar (x̂ as the forward forms it), their row sums in Accumulate.
      const std::size_t rows = x.extent(0);
      const std::size_t x_stride = rows > 1 ? x.stride(0) : 0, gy_stride = rows > 1 ? grad_y.stride(0) : 0,
                        gx_stride = rows > 1 ? grad_x.stride(0) : 0;
      const Scalar *const x_data = x.data(), *const gy_data = grad_y.data(), *const gain_data = gain.data();
      Scalar* const gx_data = grad_x.data();
      Kokkos::parallel_for(
          "osbi::nn::rowwise::layer_norm_backward_input", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
          KOKKOS_LAMBDA(const std::size_t row) {
            const detail::NormalizeBy<Scalar> by[1] = {detail::normalize_by<Scalar>(mean(row), inv_std(row))};
            const Scalar *const in = x_data + row * x_stride, *const g = gy_data + row * gy_stride;
            const Scalar* const in_row[1] = {in};
            const Scalar* const g_row[1] = {g};
            Accumulate sum_g, sum_g_normalized;
            detail::host_row_layer_norm_backward_sums(in_row, g_row, gain_data, by, columns, sum_g, sum_g_normalized);
            const Scalar mean_g = static_cast<Scalar>(sum_g * inverse_count),
                         mean_g_normalized = static_cast<Scalar>(sum_g_normalized * inverse_count);
            Scalar* const out = gx_data + row * gx_stride;
            for (std::size_t j = 0; j < columns; ++j)
              out[j] = by[0].inv_std * ((g[j] * gain_data[j] - mean_g) -
                                        detail::layer_norm_normalized(in[j], by[0]) * mean_g_normalized);
          });
      return;
    }
  }
  detail::for_each_row(
      space, "osbi::nn::rowwise::layer_norm_backward_input", x.extent(0),
      KOKKOS_LAMBDA(const detail::RowMember<ExecutionSpace>& team, const std::size_t row) {
        const Accumulate row_mean = mean(row), row_inv_std = inv_std(row);
        const Accumulate sum_g = detail::row_sum<ExecutionSpace, Accumulate>(team, columns, [&](const std::size_t j) {
          return static_cast<Accumulate>(grad_y(row, j)) * static_cast<Accumulate>(gain(j));
        });
        const Accumulate sum_g_normalized =
            detail::row_sum<ExecutionSpace, Accumulate>(team, columns, [&](const std::size_t j) {
              const Accumulate normalized = (static_cast<Accumulate>(x(row, j)) - row_mean) * row_inv_std;
              return static_cast<Accumulate>(grad_y(row, j)) * static_cast<Accumulate>(gain(j)) * normalized;
            });
        const Accumulate mean_g = sum_g * inverse_count, mean_g_normalized = sum_g_normalized * inverse_count;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, columns), [&](const std::size_t j) {
          const Accumulate normalized = (static_cast<Accumulate>(x(row, j)) - row_mean) * row_inv_std;
          const Accumulate g = static_cast<Accumulate>(grad_y(row, j)) * static_cast<Accumulate>(gain(j));
          grad_x(row, j) = static_cast<Scalar>(row_inv_std * (g - mean_g - normalized * mean_g_normalized));
        });
      });
}

/// grad_gain(j) += Σ_i grad_y(i, j) · x̂(i, j); grad_bias(j) += Σ_i grad_y(i, j). One thread per column
/// (host: per block of 64 columns), the rows summed in order.
template <class ExecutionSpace, detail::RowMatrixFor<ExecutionSpace> XView,
          detail::RowVectorFor<ExecutionSpace> MeanView, detail::RowVectorFor<ExecutionSpace> InvStdView,
          detail::RowMatrixFor<ExecutionSpace> GradYView, detail::RowVectorFor<ExecutionSpace> GradGainView,
          detail::RowVectorFor<ExecutionSpace> GradBiasView>
void layer_norm_backward_parameters(const ExecutionSpace& space, const XView& x, const MeanView& mean,
                                    const InvStdView& inv_std, const GradYView& grad_y, const GradGainView& grad_gain,
                                    const GradBiasView& grad_bias) {
  static_assert(std::floating_point<detail::scalar_of<XView>> &&
                    detail::same_scalar<XView, GradYView, GradGainView, GradBiasView> &&
                    detail::statistics_type_ok<XView, MeanView, InvStdView> && detail::writable<GradGainView> &&
                    detail::writable<GradBiasView>,
                "osbi::nn::kernels::layer_norm_backward_parameters: x, grad_y, grad_gain and grad_bias must share one "
                "floating-point scalar type, mean and inv_std hold it or accumulation_t of it, and grad_gain, "
                "grad_bias must be writable (see osbi/nn/kernels/rowwise.hpp)");
  using Scalar = detail::scalar_of<XView>;
  using Accumulate = accumulation_t<Scalar>;
  constexpr std::string_view step = "osbi::nn::layer_norm_backward_parameters";
  require_extent(mean.extent(0), x.extent(0), step, "mean's size (must equal x's row count)");
  require_extent(inv_std.extent(0), x.extent(0), step, "inv_std's size (must equal x's row count)");
  detail::check_same_shape(step, x.extent(0), x.extent(1), grad_y.extent(0), grad_y.extent(1), "grad_y");
  require_extent(grad_gain.extent(0), x.extent(1), step, "grad_gain's size (must equal x's column count)");
  require_extent(grad_bias.extent(0), x.extent(1), step, "grad_bias's size (must equal x's column count)");
  const std::size_t rows = x.extent(0), columns = x.extent(1);
  if (columns == 0) return;
  if constexpr (detail::RowTeams<ExecutionSpace>::host) {
    // Host: blocks of columns, the rows in order inside each block. The same sums in the same order as one thread
    // per column (bit-identical), but the loads are contiguous and vectorize across the block's columns; a thread
    // per column walked the batch with a stride of a whole row, one scalar add at a time. Blocks of up to 64
    // columns, narrower when that gives every thread a block (a 64-wide layer was one block: one thread worked).
    constexpr std::size_t widest = 64, narrowest = 16;
    const std::size_t threads = static_cast<std::size_t>(space.concurrency() > 1 ? space.concurrency() : 1);
    const std::size_t per_thread = ((columns + threads - 1) / threads + narrowest - 1) / narrowest * narrowest;
    const std::size_t block = per_thread < widest ? per_thread : widest;
    const std::size_t blocks = (columns + block - 1) / block;
    Kokkos::parallel_for(
        "osbi::nn::rowwise::layer_norm_backward_parameters", Kokkos::RangePolicy<ExecutionSpace>(space, 0, blocks),
        KOKKOS_LAMBDA(const std::size_t b) {
          const std::size_t first = b * block, width = columns - first < block ? columns - first : block;
          Accumulate sum_gain[widest] = {}, sum_bias[widest] = {};
          for (std::size_t row = 0; row < rows; ++row) {
            const Accumulate row_mean = static_cast<Accumulate>(mean(row)),
                             row_inv_std = static_cast<Accumulate>(inv_std(row));
            for (std::size_t c = 0; c < width; ++c) {
              const Accumulate g = static_cast<Accumulate>(grad_y(row, first + c));
              const Accumulate normalized = (static_cast<Accumulate>(x(row, first + c)) - row_mean) * row_inv_std;
              sum_gain[c] += g * normalized;
              sum_bias[c] += g;
            }
          }
          for (std::size_t c = 0; c < width; ++c) {
            grad_gain(first + c) += static_cast<Scalar>(sum_gain[c]);
            grad_bias(first + c) += static_cast<Scalar>(sum_bias[c]);
          }
        });
    return;
  }
  Kokkos::parallel_for(
      "osbi::nn::rowwise::layer_norm_backward_parameters", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns),
      KOKKOS_LAMBDA(const std::size_t j) {
        Accumulate sum_gain = 0, sum_bias = 0;
        for (std::size_t row = 0; row < rows; ++row) {
          const Accumulate g = static_cast<Accumulate>(grad_y(row, j));
          const Accumulate normalized = (static_cast<Accumulate>(x(row, j)) - static_cast<Accumulate>(mean(row))) *
                                        static_cast<Accumulate>(inv_std(row));
          sum_gain += g * normalized;
          sum_bias += g;
        }
        grad_gain(j) += static_cast<Scalar>(sum_gain);
        grad_bias(j) += static_cast<Scalar>(sum_bias);
      });
}

} // namespace osbi::nn::kernels
