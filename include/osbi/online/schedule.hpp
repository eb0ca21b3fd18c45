// SPDX-License-Identifier: BSD-3-Clause
/// \brief SimulationSchedule: which simulations to run next and which are finished (chunks, retries, the frontier).
#pragma once

#include <osbi/core/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <vector>

namespace osbi::online {

/*
 * SimulationSchedule — simulation k belongs to chunk c = k / chunk_size (row k mod chunk_size); a worker takes a
 * whole chunk (one proposal draw, one batched simulator launch). The schedule hands out chunks in order, retries
 * first (a chunk whose worker timed out is redone, finished rows skipped), and knows which simulations are
 * finished: every index below the frontier (all chunks before it complete) plus a sparse set above it. That
 * (frontier, set) pair is the whole checkpoint state; a restored schedule hands out the frontier chunk next and
 * skips the finished rows in it.
 *
 * Not thread-safe: the pipeline calls it under its state mutex.
 */
class SimulationSchedule {
public:
  /// budget = 0: unlimited.
  SimulationSchedule(std::uint64_t budget, std::size_t chunk_size) : m_budget(budget), m_chunk_size(chunk_size) {
    require(chunk_size >= 1, "osbi::online::SimulationSchedule", "chunk_size must be >= 1");
  }

  std::size_t chunk_size() const { return m_chunk_size; }
  std::uint64_t chunk_count() const {
    return m_budget ? (m_budget + m_chunk_size - 1) / m_chunk_size : std::numeric_limits<std::uint64_t>::max();
  }
  std::size_t chunk_rows(std::uint64_t chunk) const {
    if (!m_budget) return m_chunk_size;
    return static_cast<std::size_t>(std::min<std::uint64_t>(m_chunk_size, m_budget - chunk * m_chunk_size));
  }
  std::uint64_t first_index(std::uint64_t chunk) const { return chunk * m_chunk_size; }

  bool is_done(std::uint64_t index) const { return index < m_frontier * m_chunk_size || m_done.count(index); }

  /// Marks one simulation finished and moves the frontier past every complete chunk.
  void mark_done(std::uint64_t index) {
    m_done.insert(index);
    while (m_frontier < chunk_count()) {
      const std::uint64_t first = first_index(m_frontier);
      const std::size_t rows = chunk_rows(m_frontier);
      bool complete = true;
      for (std::size_t r = 0; r < rows && complete; ++r) complete = m_done.count(first + r) != 0;
      if (!complete) break;
      for (std::size_t r = 0; r < rows; ++r) m_done.erase(first + r);
      ++m_frontier;
    }
  }

  /// The next chunk to simulate (retries first); none once the budget is handed out.
  std::optional<std::uint64_t> take() {
    if (!m_retry.empty()) {
      const std::uint64_t chunk = m_retry.front();
      m_retry.pop_front();
      return chunk;
    }
    if (m_next >= chunk_count()) return std::nullopt;
    return m_next++;
  }

  /// The chunk of `index` is handed out again (its finished rows are skipped).
  void retry(std::uint64_t index) { m_retry.push_back(index / m_chunk_size); }

  std::uint64_t frontier() const { return m_frontier; }
  /// Finished simulations above the frontier, ascending.
  std::vector<std::uint64_t> done_above_frontier() const { return {m_done.begin(), m_done.end()}; }

  /// Continues from a checkpointed (frontier, finished-above-frontier) pair.
  void restore(std::uint64_t frontier, const std::vector<std::uint64_t>& done) {
    m_frontier = m_next = frontier;
    m_done = std::set<std::uint64_t>(done.begin(), done.end());
    m_retry.clear();
  }

private:
  std::uint64_t m_budget;
  std::size_t m_chunk_size;
  std::uint64_t m_next = 0, m_frontier = 0;
  std::set<std::uint64_t> m_done;
  std::deque<std::uint64_t> m_retry;
};

} // namespace osbi::online
