// SPDX-License-Identifier: BSD-3-Clause
/// \brief Token views: a batch × (tokens·width) matrix seen as (batch·tokens) × width without a copy.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string_view>

namespace osbi::nn::detail {

/// The number of width-wide tokens in a row of `columns` entries; a clear error if it does not divide.
inline std::size_t token_count(std::size_t columns, std::size_t width, std::string_view part, std::string_view what) {
  require(width > 0, part, "the token width must be > 0");
  require<DimensionMismatch>(columns % width == 0, part, what, " has ", columns, " columns, not a whole number of ",
                             width, "-wide tokens");
  return columns / width;
}

/// `matrix` (batch × tokens·width, rows contiguous) as (batch·tokens) × width over the same memory,
/// untracked: `matrix` must outlive it (a layer's caller keeps its views alive until backward anyway).
template <class View>
auto as_tokens(const View& matrix, std::size_t width, std::string_view part, std::string_view what) {
  // A view built from a pointer does not own or track the memory.
  using Result = Kokkos::View<typename View::data_type, Kokkos::LayoutRight, typename View::memory_space>;
  const std::size_t tokens = token_count(matrix.extent(1), width, part, what);
  require(matrix.extent(0) <= 1 || static_cast<std::size_t>(matrix.stride(0)) == matrix.extent(1), part, what,
          " must have contiguous rows (row stride ", matrix.stride(0), ", ", matrix.extent(1), " columns)");
  return Result(matrix.data(), matrix.extent(0) * tokens, width);
}

} // namespace osbi::nn::detail
