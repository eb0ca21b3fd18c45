// SPDX-License-Identifier: BSD-3-Clause
/// \brief A complete binary tree of partial sums over non-negative weights: O(log n) update and proportional draw.
#pragma once

#include <bit>
#include <cstddef>
#include <vector>

namespace osbi::detail {

/// Leaves 0 .. leaves−1 (rounded up to a power of two) hold weights >= 0; every inner node holds the
/// sum of its two children, recomputed from them on each update (never adjusted by differences), so
/// the tree is a pure function of its leaves: the same weights give the same bits whatever the
/// order of the updates (what makes a restored prioritized buffer draw exactly as the original).
class SumTree {
public:
  explicit SumTree(std::size_t leaves = 1) : m_leaves(std::bit_ceil(leaves ? leaves : 1)), m_node(2 * m_leaves, 0.0) {}

  void set(std::size_t leaf, double weight) {
    std::size_t node = leaf + m_leaves;
    m_node[node] = weight;
    // The running sum stays in a register (no store-to-load chain); a + b == b + a exactly, so this
    // is the same as adding the two children from memory.
    double sum = weight;
    for (; node > 1; node /= 2) {
      sum += m_node[node ^ 1];
      m_node[node / 2] = sum;
    }
  }

  double weight(std::size_t leaf) const { return m_node[leaf + m_leaves]; }
  double total() const { return m_node[1]; }

  /// The leaf i whose interval [prefix(i), prefix(i) + weight(i)) holds `target` (0 <= target <
  /// total()). Rounding may carry a target near total() into a trailing zero leaf: callers clamp.
  std::size_t find(double target) const {
    std::size_t node = 1;
    while (node < m_leaves) { // branch-free: the direction is a coin flip the predictor cannot learn
      const double left = m_node[2 * node];
      const bool right = !(target < left);
      target -= right ? left : 0.0;
      node = 2 * node + static_cast<std::size_t>(right);
    }
    return node - m_leaves;
  }

  void clear() { m_node.assign(m_node.size(), 0.0); }

private:
  std::size_t m_leaves;
  std::vector<double> m_node; ///< 1-based: node k has children 2k and 2k+1; leaves at [m_leaves, 2 m_leaves)
};

} // namespace osbi::detail
