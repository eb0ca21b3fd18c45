// SPDX-License-Identifier: BSD-3-Clause
/// \brief A binary heap of slot numbers that can remove or re-sift any slot in O(log n): the buffers' eviction order.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace osbi::detail {

/// Slots 0 .. capacity−1, at most once each. Every operation takes `first(a, b)`: true if slot a
/// must come out before slot b (a strict weak order on the slots' current keys; the buffers break
/// ties by sample id, so the top is unique and does not depend on the heap's history).
class IndexedHeap {
public:
  static constexpr std::size_t absent = std::numeric_limits<std::size_t>::max();

  explicit IndexedHeap(std::size_t capacity = 0) : m_index(capacity, absent) { m_heap.reserve(capacity); }

  bool empty() const { return m_heap.empty(); }
  std::size_t size() const { return m_heap.size(); }
  bool contains(std::size_t slot) const { return m_index[slot] != absent; }
  /// The slot that comes out first; the heap must not be empty.
  std::size_t top() const { return m_heap.front(); }

  template <class First>
  void insert(std::size_t slot, First first) {
    m_heap.push_back(slot);
    m_index[slot] = m_heap.size() - 1;
    sift_up(m_heap.size() - 1, first);
  }

  template <class First>
  void erase(std::size_t slot, First first) {
    const std::size_t i = m_index[slot];
    const std::size_t last = m_heap.size() - 1;
    m_index[slot] = absent;
    if (i != last) {
      place(i, m_heap[last]);
      m_heap.pop_back();
      sift(i, first);
    } else {
      m_heap.pop_back();
    }
  }

  /// Restores the order after the key of `slot` changed (in either direction).
  template <class First>
  void update(std::size_t slot, First first) {
    sift(m_index[slot], first);
  }

  void clear() {
    for (const std::size_t slot : m_heap) m_index[slot] = absent;
    m_heap.clear();
  }

private:
  template <class First>
  void sift(std::size_t i, First& first) {
    if (i > 0 && first(m_heap[i], m_heap[(i - 1) / 2]))
      sift_up(i, first);
    else
      sift_down(i, first);
  }

  template <class First>
  void sift_up(std::size_t i, First& first) {
    const std::size_t slot = m_heap[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!first(slot, m_heap[parent])) break;
      place(i, m_heap[parent]);
      i = parent;
    }
    place(i, slot);
  }

  template <class First>
  void sift_down(std::size_t i, First& first) {
    const std::size_t slot = m_heap[i];
    const std::size_t n = m_heap.size();
    while (true) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && first(m_heap[child + 1], m_heap[child])) ++child;
      if (!first(m_heap[child], slot)) break;
      place(i, m_heap[child]);
      i = child;
    }
    place(i, slot);
  }

  void place(std::size_t i, std::size_t slot) {
    m_heap[i] = slot;
    m_index[slot] = i;
  }

  std::vector<std::size_t> m_heap;  ///< heap order
  std::vector<std::size_t> m_index; ///< slot → its index in m_heap, or absent
};

} // namespace osbi::detail
