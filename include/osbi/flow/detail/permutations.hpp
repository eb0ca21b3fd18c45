// SPDX-License-Identifier: BSD-3-Clause
/// \brief The fixed random permutations between the transforms of an autoregressive flow (MAF, NSF).
#pragma once

#include <osbi/core/random.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi::detail {

/*
 * K permutations π_k of {0 … D−1} (y_{k+1, j} = z_{π_k(j)}), drawn by Fisher–Yates from Philox rows
 * (row k of batch a of RandomStream(seed, stream)), so they are the same on every machine.
 *
 * In a MADE the outputs for position 0 of y_k depend on nothing but their bias (nflows' MADE, hence
 * sbi's, has the same property: bayesiains/nflows#85), so the coordinate of θ that sits at position 0
 * of every transform could never depend on x. With D = 2 and K = 5 that happens for 1 seed in 16. The
 * draw is therefore repeated with the next batch (a = 1, 2, …) until at least two different
 * coordinates of θ take position 0 across the transforms (when D >= 2 and K >= 2): then every coordinate
 * is conditioned on x in some transform. Seeds whose first draw is fine keep it.
 */
inline std::vector<std::vector<int>> flow_permutations(std::uint64_t seed, std::uint64_t stream, std::size_t transforms,
                                                       std::size_t dim) {
  const RandomStream source(seed, stream);
  std::vector<std::vector<int>> permutations(transforms, std::vector<int>(dim));
  for (std::uint64_t attempt = 0;; ++attempt) {
    const BatchRandom rng = source.at(attempt);
    for (std::size_t k = 0; k < transforms; ++k) {
      std::vector<int>& order = permutations[k];
      for (std::size_t j = 0; j < dim; ++j) order[j] = static_cast<int>(j);
      RowRandom generator = rng.row(static_cast<std::uint32_t>(k));
      for (std::size_t i = dim; i-- > 1;) {
        const std::size_t j = static_cast<std::size_t>(generator.next_u64() % (i + 1));
        std::swap(order[i], order[j]);
      }
    }
    if (dim < 2 || transforms < 2) return permutations;
    // position_of_theta[c] → which coordinate of θ sits at position c of y_k.
    std::vector<int> theta_at(dim);
    for (std::size_t c = 0; c < dim; ++c) theta_at[c] = static_cast<int>(c);
    const int first = theta_at[0];
    bool varies = false;
    for (std::size_t k = 0; k + 1 < transforms && !varies; ++k) {
      std::vector<int> next(dim);
      for (std::size_t c = 0; c < dim; ++c) next[c] = theta_at[static_cast<std::size_t>(permutations[k][c])];
      theta_at = std::move(next);
      varies = theta_at[0] != first;
    }
    if (varies) return permutations;
  }
}

} // namespace osbi::detail
