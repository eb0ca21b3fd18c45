// SPDX-License-Identifier: BSD-3-Clause
/// \brief SampleBufferArchetype: the least type that models osbi::SampleBuffer, for compile tests of generic code.
#pragma once

#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>

#include <osbi/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace osbi::testing {

/// Exactly the members the SampleBuffer concept names (those of SampleSink and SampleSource
/// included), with exactly its signatures, and nothing else: no default arguments, no
/// update_priorities, no `kind`, no accessors. Generic code that compiles with it uses no more than
/// the concept promises. The members also behave as the specs say — a thread-safe FIFO of doubles
/// that evicts the oldest row when full (overflow::Evict, delivery::Consume), with the watermark
/// gate and whole batches — so check_sample_buffer passes on it and generic code can run with it.
class SampleBufferArchetype {
public:
  using scalar_type = double;
  using overflow_policy = overflow::Evict;
  using delivery_policy = delivery::Consume;

  explicit SampleBufferArchetype(const BufferOptions& options) : m_options(options) {
    validate_buffer_options(options, part);
  }

  std::size_t capacity() const { return m_options.capacity; }
  std::size_t theta_dim() const { return m_options.theta_dim; }
  std::size_t x_dim() const { return m_options.x_dim; }

  std::size_t size() const {
    const std::lock_guard lock(m_mutex);
    return m_rows.size();
  }

  PushResult push(std::span<const double> theta, std::span<const double> x, const SampleInfo& info) {
    require_extent(theta.size(), theta_dim(), part, "push: theta");
    require_extent(x.size(), x_dim(), part, "push: x");
    const auto finite = [](std::span<const double> values) {
      return std::all_of(values.begin(), values.end(), [](double value) { return std::isfinite(value); });
    };
    PushResult result;
    {
      const std::lock_guard lock(m_mutex);
      ++m_pushed_total;
      if (!finite(theta) || !finite(x)) {
        ++m_dropped_invalid;
        return PushResult{PushStatus::dropped_invalid, 0, {}};
      }
      if (m_closed) {
        ++m_rejected_closed;
        return PushResult{PushStatus::closed, 0, {}};
      }
      result = PushResult{PushStatus::accepted, m_arrivals, {}};
      if (m_rows.size() == capacity()) { // Evict: the oldest row, never delivered (delivered rows left)
        result.evicted = m_rows.front().id;
        m_rows.pop_front();
        ++m_evicted_unseen;
      }
      m_rows.push_back(Row{m_arrivals++, std::vector<double>(theta.begin(), theta.end()),
                           std::vector<double>(x.begin(), x.end()), info});
    }
    m_changed.notify_all();
    return result;
  }

  std::size_t sample_batch(std::size_t n, std::span<double> theta_out, std::span<double> x_out) {
    return deliver(n, theta_out, x_out, {}, {});
  }
  std::size_t sample_batch(std::size_t n, std::span<double> theta_out, std::span<double> x_out,
                           std::span<std::uint64_t> ids_out) {
    return deliver(n, theta_out, x_out, ids_out, {});
  }
  std::size_t sample_batch(std::size_t n, std::span<double> theta_out, std::span<double> x_out,
                           std::span<SampleMetadata> metadata_out) {
    return deliver(n, theta_out, x_out, {}, metadata_out);
  }

  void close() {
    {
      const std::lock_guard lock(m_mutex);
      m_closed = true;
    }
    m_changed.notify_all();
  }
  bool closed() const {
    const std::lock_guard lock(m_mutex);
    return m_closed;
  }
  /// Under overflow::Evict no push ever waits.
  std::size_t blocked_producers() const { return 0; }

  std::uint64_t arrivals() const {
    const std::lock_guard lock(m_mutex);
    return m_arrivals;
  }
  bool wait_for_arrivals(std::uint64_t count) {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_closed || m_arrivals >= count; });
    return m_arrivals >= count;
  }

  // A consuming buffer: every held row is unseen, every departed row was delivered once
  // (evicted_used) or never (evicted_unseen).
  BufferAccounting accounting() const {
    const std::lock_guard lock(m_mutex);
    BufferAccounting accounting;
    accounting.pushed_total = m_pushed_total;
    accounting.dropped_invalid = m_dropped_invalid;
    accounting.rejected_closed = m_rejected_closed;
    accounting.in_buffer = m_rows.size();
    accounting.evicted_used = m_evicted_used;
    accounting.evicted_unseen = m_evicted_unseen;
    accounting.total_uses = m_evicted_used;
    accounting.max_uses = m_evicted_used > 0 ? 1 : 0;
    accounting.use_histogram[0] = m_rows.size() + m_evicted_unseen;
    accounting.use_histogram[1] = m_evicted_used;
    return accounting;
  }

  BufferState<double> snapshot() const {
    const std::lock_guard lock(m_mutex);
    BufferState<double> state;
    state.kind = std::string(kind);
    state.capacity = capacity();
    state.theta_dim = theta_dim();
    state.x_dim = x_dim();
    for (const Row& row : m_rows) {
      state.theta.insert(state.theta.end(), row.theta.begin(), row.theta.end());
      state.x.insert(state.x.end(), row.x.begin(), row.x.end());
      state.ids.push_back(row.id);
      state.uses.push_back(0);
      state.generations.push_back(row.info.generation);
      state.simulation_seconds.push_back(row.info.simulation_seconds);
      state.proposal_log_probs.push_back(row.info.proposal_log_prob);
    }
    state.pushed_total = m_pushed_total;
    state.dropped_invalid = m_dropped_invalid;
    state.rejected_closed = m_rejected_closed;
    state.evicted_used = m_evicted_used;
    state.evicted_unseen = m_evicted_unseen;
    state.total_uses = m_evicted_used;
    state.arrivals = m_arrivals;
    state.departed_uses = m_evicted_used;
    state.departed_max_uses = m_evicted_used > 0 ? 1 : 0;
    state.departed_histogram[0] = m_evicted_unseen;
    state.departed_histogram[1] = m_evicted_used;
    state.seed = m_options.seed;
    return state;
  }

  /// Checks everything first (strong guarantee), then replaces contents and counters.
  void restore(const BufferState<double>& state) {
    validate(state);
    {
      const std::lock_guard lock(m_mutex);
      m_rows.clear();
      for (std::size_t k = 0; k < state.rows(); ++k)
        m_rows.push_back(
            Row{state.ids[k],
                std::vector<double>(state.theta.begin() + std::ptrdiff_t(k * theta_dim()),
                                    state.theta.begin() + std::ptrdiff_t((k + 1) * theta_dim())),
                std::vector<double>(state.x.begin() + std::ptrdiff_t(k * x_dim()),
                                    state.x.begin() + std::ptrdiff_t((k + 1) * x_dim())),
                SampleInfo{state.generations[k], state.simulation_seconds[k], state.proposal_log_probs[k]}});
      m_pushed_total = state.pushed_total;
      m_dropped_invalid = state.dropped_invalid;
      m_rejected_closed = state.rejected_closed;
      m_evicted_used = state.evicted_used;
      m_evicted_unseen = state.evicted_unseen;
      m_arrivals = state.arrivals;
    }
    m_changed.notify_all();
  }

private:
  static constexpr std::string_view part = "osbi::testing::SampleBufferArchetype";
  static constexpr std::string_view kind = "archetype";

  struct Row {
    std::uint64_t id;
    std::vector<double> theta, x;
    SampleInfo info;
  };

  std::size_t deliver(std::size_t n, std::span<double> theta_out, std::span<double> x_out,
                      std::span<std::uint64_t> ids_out, std::span<SampleMetadata> metadata_out) {
    require(n > 0, part, "sample_batch: n must be > 0");
    require_extent(theta_out.size(), n * theta_dim(), part, "sample_batch: theta_out (n × theta_dim)");
    require_extent(x_out.size(), n * x_dim(), part, "sample_batch: x_out (n × x_dim)");
    if (!ids_out.empty()) require_extent(ids_out.size(), n, part, "sample_batch: ids_out");
    if (!metadata_out.empty()) require_extent(metadata_out.size(), n, part, "sample_batch: metadata_out");
    std::unique_lock lock(m_mutex);
    const std::size_t whole_batch = std::min(n, capacity());
    m_changed.wait(lock,
                   [&] { return m_closed || (m_arrivals >= m_options.watermark && m_rows.size() >= whole_batch); });
    const std::size_t count = std::min(n, m_rows.size());
    for (std::size_t r = 0; r < count; ++r) {
      const Row& row = m_rows.front();
      std::copy(row.theta.begin(), row.theta.end(), theta_out.begin() + std::ptrdiff_t(r * theta_dim()));
      std::copy(row.x.begin(), row.x.end(), x_out.begin() + std::ptrdiff_t(r * x_dim()));
      if (!ids_out.empty()) ids_out[r] = row.id;
      if (!metadata_out.empty())
        metadata_out[r] =
            SampleMetadata{row.id, 1, row.info.generation, row.info.proposal_log_prob, row.info.simulation_seconds};
      m_rows.pop_front();
      ++m_evicted_used;
    }
    return count;
  }

  void validate(const BufferState<double>& state) const {
    require<DataError>(state.kind == kind, part, "restore: the state is of a '", state.kind, "' buffer");
    require_extent(state.capacity, capacity(), part, "restore: the state's capacity");
    require_extent(state.theta_dim, theta_dim(), part, "restore: the state's theta_dim");
    require_extent(state.x_dim, x_dim(), part, "restore: the state's x_dim");
    const std::size_t n = state.rows();
    require<DataError>(n <= capacity(), part, "restore: ", n, " rows for a capacity of ", capacity());
    require<DataError>(state.theta.size() == n * theta_dim() && state.x.size() == n * x_dim() &&
                           state.uses.size() == n && state.generations.size() == n &&
                           state.simulation_seconds.size() == n && state.proposal_log_probs.size() == n &&
                           state.priorities.empty(),
                       part, "restore: the state's arrays do not all have one entry per row (", n, " rows)");
    for (std::size_t k = 0; k < n; ++k) {
      require<DataError>(state.uses[k] == 0, part, "restore: row ", k, " was delivered; a FIFO holds unseen rows");
      require<DataError>(k == 0 || state.ids[k - 1] < state.ids[k], part, "restore: ids must increase (row ", k, ")");
      require<DataError>(state.ids[k] < state.arrivals, part, "restore: id ", state.ids[k], " >= arrivals");
    }
    const auto finite = [](const std::vector<double>& values) {
      return std::all_of(values.begin(), values.end(), [](double value) { return std::isfinite(value); });
    };
    require<DataError>(finite(state.theta) && finite(state.x), part, "restore: a row holds a NaN or Inf");
    require<DataError>(state.arrivals == n + state.evicted_used + state.evicted_unseen &&
                           state.pushed_total == state.dropped_invalid + state.rejected_closed + state.arrivals &&
                           state.total_uses == state.evicted_used && state.departed_uses == state.evicted_used,
                       part, "restore: the state's counters do not add up");
    bool histogram = state.departed_histogram[0] == state.evicted_unseen &&
                     state.departed_histogram[1] == state.evicted_used &&
                     state.departed_max_uses == (state.evicted_used > 0 ? 1u : 0u);
    for (std::size_t bin = 2; bin < use_histogram_bins; ++bin)
      histogram = histogram && state.departed_histogram[bin] == 0;
    require<DataError>(histogram, part, "restore: the departed-use histogram does not match the counters");
  }

  BufferOptions m_options;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Row> m_rows; ///< oldest first
  bool m_closed = false;
  std::uint64_t m_pushed_total = 0, m_dropped_invalid = 0, m_rejected_closed = 0;
  std::uint64_t m_evicted_used = 0, m_evicted_unseen = 0, m_arrivals = 0;
};

static_assert(SampleBuffer<SampleBufferArchetype>,
              "osbi::testing::SampleBufferArchetype must model osbi::SampleBuffer (osbi/buffer/sample_buffer.hpp)");
static_assert(!PrioritizedSampleSource<SampleBufferArchetype>);

} // namespace osbi::testing
