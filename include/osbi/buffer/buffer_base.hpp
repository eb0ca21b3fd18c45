// SPDX-License-Identifier: BSD-3-Clause
/// \brief BufferBase: every SampleBuffer member written once (storage, locking, waiting, accounting, checkpoints); a
/// buffer model — ours or yours — only decides which row a batch gets and which row makes room.
#pragma once

#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::detail {

/// The Philox stream number of every buffer's draws (the seed tells buffers apart; other parts that
/// share the seed use other stream numbers: core/random_streams.hpp).
inline constexpr std::uint64_t buffer_random_stream = streams::buffer;

template <class Scalar>
bool all_finite(std::span<const Scalar> values) {
  for (const Scalar value : values)
    if (!std::isfinite(value)) return false;
  return true;
}

/// Uniform on {0, ..., count − 1} (count > 0) without bias. Below 2^32 (every buffer in practice):
/// Lemire's multiply-shift, the high half of a 32 × 32-bit product, rejecting the rare low halves
/// below 2^32 mod count, so almost never a division. Above: 64-bit draws below 2^64 mod count rejected.
inline std::uint64_t uniform_index(RowRandom& rng, std::uint64_t count) {
  if (count <= 0xFFFFFFFFu) {
    const auto range = static_cast<std::uint32_t>(count);
    std::uint64_t product = std::uint64_t{rng.next_u32()} * range;
    if (static_cast<std::uint32_t>(product) < range) {
      const std::uint32_t reject_below = (0u - range) % range;
      while (static_cast<std::uint32_t>(product) < reject_below) product = std::uint64_t{rng.next_u32()} * range;
    }
    return product >> 32;
  }
  const std::uint64_t reject_below = (0 - count) % count;
  while (true) {
    const std::uint64_t draw = rng.next_u64();
    if (draw >= reject_below) return draw % count;
  }
}

} // namespace osbi::detail

namespace osbi {

/*
 * BufferBase<Model, Overflow, Scalar>: the SampleBuffer members, written once; a model (CRTP, no
 * virtual calls) decides only which row to deliver and which to evict. One mutex guards everything;
 * rows are copied in and out under it (one copy per row: finer locking would cost more than it saves
 * at the rates simulations arrive and batches leave; see the stress test's throughput).
 *
 * Storage: `capacity` slots of θ and x, a free-slot stack, and the held slots in a dense array
 * (`position` 0 .. size−1; removal moves the last into the hole). Unseen rows (0 uses) are also on
 * a doubly linked list in arrival order, so the oldest unseen row is found in O(1).
 *
 * Every choice a model makes depends on positions, ids, use counts and priorities, never on slot
 * numbers. restore() therefore puts row k of a state in slot k at position k and is exact.
 *
 * What a Model provides (private is fine: it befriends its base):
 *   static constexpr std::string_view kind, part    state tag; class name for messages
 *   using delivery_policy (public)                  delivery::Consume: a delivered row leaves the
 *                                                   buffer; delivery::Reuse: it stays
 *   static constexpr bool random_delivery           sample_batch draws random numbers
 *   std::size_t pick(RowRandom& rng, std::size_t r) the slot to deliver as row r of a batch of
 *                                                   count <= size() rows
 *   std::size_t victim(bool allow_unseen) const     the slot to evict from a full buffer, or `none`
 *                                                   (only allowed when !allow_unseen)
 * and may hide the no-op hooks below: inserted, removing, moved, delivered (called as the events
 * happen, with the lock held), and save_state / check_model_state / restored for extra state.
 * What a model reads (protected, lock held): held(), slot_at(position), position_of(slot), id_of(slot),
 * uses_of(slot), oldest_unseen(), swap_positions(a, b), and `none`. FifoBuffer is the shortest model;
 * examples/03_custom_parts writes a sliding-window buffer in two dozen lines.
 */
template <class Model, class Overflow, class Scalar>
class BufferBase {
  static_assert(std::is_floating_point_v<Scalar>,
                "osbi buffers: Scalar must be a floating-point type (see osbi/buffer/sample_buffer.hpp)");
  static_assert(OverflowPolicy<Overflow>,
                "osbi buffers: Overflow must be osbi::overflow::Block or osbi::overflow::Evict "
                "(see osbi/buffer/sample_buffer.hpp)");

public:
  using scalar_type = Scalar;
  using overflow_policy = Overflow;

  BufferBase(const BufferBase&) = delete;
  BufferBase& operator=(const BufferBase&) = delete;

  std::size_t capacity() const { return m_options.capacity; }
  std::size_t theta_dim() const { return m_options.theta_dim; }
  std::size_t x_dim() const { return m_options.x_dim; }
  std::size_t watermark() const { return m_options.watermark; }
  /// The options given to the constructor (the seed there is the initial one: restore() replaces it).
  const BufferOptions& options() const { return m_options; }

  std::size_t size() const {
    const std::lock_guard lock(m_mutex);
    return m_live.size();
  }
  bool closed() const {
    const std::lock_guard lock(m_mutex);
    return m_closed;
  }
  std::uint64_t arrivals() const {
    const std::lock_guard lock(m_mutex);
    return m_arrivals;
  }
  /// Producers waiting in push (Block policy), consumers waiting in sample_batch: for monitoring
  /// (a stalled pipeline shows here) and for tests that must know a thread is parked.
  std::size_t blocked_producers() const {
    const std::lock_guard lock(m_mutex);
    return m_blocked_producers;
  }
  std::size_t blocked_consumers() const {
    const std::lock_guard lock(m_mutex);
    return m_blocked_consumers;
  }

  /// Stores one sample (see the SampleSink spec and osbi::overflow for a full buffer). `info`
  /// travels with the row and comes back in sample_batch's metadata_out.
  PushResult push(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info = {}) {
    require_extent(theta.size(), theta_dim(), Model::part, "push: theta");
    require_extent(x.size(), x_dim(), Model::part, "push: x");
    const bool finite = detail::all_finite(theta) && detail::all_finite(x);
    std::unique_lock lock(m_mutex);
    if (!finite) {
      ++m_pushed_total;
      ++m_dropped_invalid;
      return PushResult{PushStatus::dropped_invalid, 0, {}};
    }
    constexpr bool may_evict_unseen = std::is_same_v<Overflow, overflow::Evict>;
    if constexpr (!may_evict_unseen) {
      const auto room = [&] { return m_closed || m_live.size() < capacity() || model().victim(false) != none; };
      if (!room()) {
        ++m_blocked_producers;
        m_space_available.wait(lock, room);
        --m_blocked_producers;
      }
    }
    if (m_closed) {
      ++m_pushed_total;
      ++m_rejected_closed;
      return PushResult{PushStatus::closed, 0, {}};
    }
    PushResult result{PushStatus::accepted, m_arrivals, {}};
    if (m_live.size() == capacity()) {
      const std::size_t slot = model().victim(may_evict_unseen);
      result.evicted = m_meta[slot].id;
      remove(slot);
    }
    insert(theta, x, info);
    ++m_pushed_total;
    const bool wake = m_blocked_consumers > 0 || m_arrival_waiters > 0;
    lock.unlock();
    if (wake) m_rows_available.notify_all();
    return result;
  }

  /// Deliver up to n rows (see the SampleSource and SampleBuffer specs for when they wait and how
  /// many), without ids, with ids, or with each row's SampleMetadata.
  std::size_t sample_batch(std::size_t n, std::span<Scalar> theta_out, std::span<Scalar> x_out) {
    return deliver(n, theta_out, x_out, {}, {});
  }
  std::size_t sample_batch(std::size_t n, std::span<Scalar> theta_out, std::span<Scalar> x_out,
                           std::span<std::uint64_t> ids_out) {
    return deliver(n, theta_out, x_out, ids_out, {});
  }
  std::size_t sample_batch(std::size_t n, std::span<Scalar> theta_out, std::span<Scalar> x_out,
                           std::span<SampleMetadata> metadata_out) {
    return deliver(n, theta_out, x_out, {}, metadata_out);
  }

  /// Idempotent; wakes every waiting producer, consumer and wait_for_arrivals.
  void close() {
    {
      const std::lock_guard lock(m_mutex);
      m_closed = true;
    }
    m_space_available.notify_all();
    m_rows_available.notify_all();
  }

  /// Waits until arrivals() >= count; false if the buffer was closed first.
  bool wait_for_arrivals(std::uint64_t count) {
    std::unique_lock lock(m_mutex);
    const auto ready = [&] { return m_closed || m_arrivals >= count; };
    if (!ready()) {
      ++m_arrival_waiters;
      m_rows_available.wait(lock, ready);
      --m_arrival_waiters;
    }
    return m_arrivals >= count;
  }

  BufferAccounting accounting() const {
    const std::lock_guard lock(m_mutex);
    BufferAccounting accounting;
    accounting.pushed_total = m_pushed_total;
    accounting.dropped_invalid = m_dropped_invalid;
    accounting.rejected_closed = m_rejected_closed;
    accounting.in_buffer = m_live.size();
    accounting.evicted_used = m_evicted_used;
    accounting.evicted_unseen = m_evicted_unseen;
    accounting.total_uses = m_total_uses;
    accounting.max_uses = m_departed_max_uses;
    accounting.use_histogram = m_departed_histogram;
    for (const std::size_t slot : m_live) {
      ++accounting.use_histogram[use_histogram_bin(m_meta[slot].uses)];
      accounting.max_uses = std::max(accounting.max_uses, m_meta[slot].uses);
    }
    return accounting;
  }

  BufferState<Scalar> snapshot() const {
    const std::lock_guard lock(m_mutex);
    BufferState<Scalar> state;
    state.kind = std::string(Model::kind);
    state.capacity = capacity();
    state.theta_dim = theta_dim();
    state.x_dim = x_dim();
    const std::size_t n = m_live.size();
    state.theta.reserve(n * theta_dim());
    state.x.reserve(n * x_dim());
    for (const std::size_t slot : m_live) {
      const Meta& meta = m_meta[slot];
      state.theta.insert(state.theta.end(), m_theta.begin() + static_cast<std::ptrdiff_t>(slot * theta_dim()),
                         m_theta.begin() + static_cast<std::ptrdiff_t>((slot + 1) * theta_dim()));
      state.x.insert(state.x.end(), m_x.begin() + static_cast<std::ptrdiff_t>(slot * x_dim()),
                     m_x.begin() + static_cast<std::ptrdiff_t>((slot + 1) * x_dim()));
      state.ids.push_back(meta.id);
      state.uses.push_back(meta.uses);
      state.generations.push_back(meta.info.generation);
      state.simulation_seconds.push_back(meta.info.simulation_seconds);
      state.proposal_log_probs.push_back(meta.info.proposal_log_prob);
    }
    state.pushed_total = m_pushed_total;
    state.dropped_invalid = m_dropped_invalid;
    state.rejected_closed = m_rejected_closed;
    state.evicted_used = m_evicted_used;
    state.evicted_unseen = m_evicted_unseen;
    state.total_uses = m_total_uses;
    state.arrivals = m_arrivals;
    state.departed_uses = m_departed_uses;
    state.departed_max_uses = m_departed_max_uses;
    state.departed_histogram = m_departed_histogram;
    state.seed = m_random.seed();
    state.random_draws = m_random_draws;
    model().save_state(state);
    return state;
  }

  /// See the SampleBuffer spec. The closed flag is not state: a restored buffer is open unless
  /// close() was called on this object. Waiters are woken (the contents changed).
  void restore(const BufferState<Scalar>& state) {
    validate_state(state);
    {
      const std::lock_guard lock(m_mutex);
      const std::size_t n = state.rows();
      std::copy(state.theta.begin(), state.theta.end(), m_theta.begin());
      std::copy(state.x.begin(), state.x.end(), m_x.begin());
      m_live.clear();
      m_free.clear();
      for (std::size_t slot = capacity(); slot-- > n;) m_free.push_back(slot);
      m_unseen_head = m_unseen_tail = none;
      std::vector<std::size_t> unseen;
      for (std::size_t k = 0; k < n; ++k) {
        m_meta[k] = Meta{state.ids[k], state.uses[k],
                         SampleInfo{state.generations[k], state.simulation_seconds[k], state.proposal_log_probs[k]}};
        m_position[k] = k;
        m_live.push_back(k);
        if (state.uses[k] == 0) unseen.push_back(k);
      }
      const auto by_id = [&](std::size_t a, std::size_t b) { return m_meta[a].id < m_meta[b].id; };
      std::sort(unseen.begin(), unseen.end(), by_id);
      for (const std::size_t slot : unseen) link_unseen_back(slot);
      m_pushed_total = state.pushed_total;
      m_dropped_invalid = state.dropped_invalid;
      m_rejected_closed = state.rejected_closed;
      m_evicted_used = state.evicted_used;
      m_evicted_unseen = state.evicted_unseen;
      m_total_uses = state.total_uses;
      m_arrivals = state.arrivals;
      m_departed_uses = state.departed_uses;
      m_departed_max_uses = state.departed_max_uses;
      m_departed_histogram = state.departed_histogram;
      m_random = RandomStream(state.seed, detail::buffer_random_stream);
      m_random_draws = state.random_draws;
      model().restored(state);
    }
    m_space_available.notify_all();
    m_rows_available.notify_all();
  }

protected:
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

  explicit BufferBase(const BufferOptions& options)
      : m_options(options), m_random(options.seed, detail::buffer_random_stream) {
    validate_buffer_options(options, Model::part);
    m_theta.resize(capacity() * theta_dim());
    m_x.resize(capacity() * x_dim());
    m_meta.resize(capacity());
    m_position.assign(capacity(), none);
    m_previous.assign(capacity(), none);
    m_next.assign(capacity(), none);
    m_live.reserve(capacity());
    m_free.reserve(capacity());
    for (std::size_t slot = capacity(); slot-- > 0;) m_free.push_back(slot);
  }
  ~BufferBase() = default;

  // ---- for the models; the lock is held whenever the base calls a hook
  std::size_t held() const { return m_live.size(); }
  std::size_t slot_at(std::size_t position) const { return m_live[position]; }
  std::size_t position_of(std::size_t slot) const { return m_position[slot]; }
  std::uint64_t id_of(std::size_t slot) const { return m_meta[slot].id; }
  std::uint64_t uses_of(std::size_t slot) const { return m_meta[slot].uses; }
  /// The unseen row that arrived first, or `none`.
  std::size_t oldest_unseen() const { return m_unseen_head; }
  /// Exchanges two positions (for models that key nothing on positions).
  void swap_positions(std::size_t a, std::size_t b) {
    std::swap(m_live[a], m_live[b]);
    m_position[m_live[a]] = a;
    m_position[m_live[b]] = b;
  }
  /// For model members that touch shared state themselves (e.g. update_priorities).
  std::mutex& state_mutex() const { return m_mutex; }
  /// Wakes producers waiting for an evictable row (a model call that changed what victim() returns).
  void notify_space() { m_space_available.notify_all(); }

  // ---- hooks a model may hide (no-ops here)
  void inserted(std::size_t /*slot*/) {}
  void removing(std::size_t /*slot*/) {}
  void moved(std::size_t /*slot*/, std::size_t /*from*/, std::size_t /*to*/) {}
  void delivered(std::size_t /*slot*/, bool /*first_use*/) {}
  void save_state(BufferState<Scalar>& /*state*/) const {}
  void check_model_state(const BufferState<Scalar>& state) const {
    require<DataError>(state.priorities.empty(), Model::part, "restore: the state has ", state.priorities.size(),
                       " priorities; a ", Model::kind, " buffer has none");
  }
  void restored(const BufferState<Scalar>& /*state*/) {}

private:
  struct Meta {
    std::uint64_t id = 0;
    std::uint64_t uses = 0;
    SampleInfo info;
  };

  Model& model() { return static_cast<Model&>(*this); }
  const Model& model() const { return static_cast<const Model&>(*this); }

  std::size_t deliver(std::size_t n, std::span<Scalar> theta_out, std::span<Scalar> x_out,
                      std::span<std::uint64_t> ids_out, std::span<SampleMetadata> metadata_out) {
    require(n > 0, Model::part, "sample_batch: n must be > 0");
    require_extent(theta_out.size(), n * theta_dim(), Model::part, "sample_batch: theta_out (n × theta_dim)");
    require_extent(x_out.size(), n * x_dim(), Model::part, "sample_batch: x_out (n × x_dim)");
    if (!ids_out.empty()) require_extent(ids_out.size(), n, Model::part, "sample_batch: ids_out");
    if (!metadata_out.empty()) require_extent(metadata_out.size(), n, Model::part, "sample_batch: metadata_out");
    const std::size_t whole_batch = std::min(n, capacity());
    std::unique_lock lock(m_mutex);
    const auto ready = [&] { return m_closed || (m_arrivals >= watermark() && m_live.size() >= whole_batch); };
    if (!ready()) {
      ++m_blocked_consumers;
      m_rows_available.wait(lock, ready);
      --m_blocked_consumers;
    }
    const std::size_t count = std::min(n, m_live.size());
    if (count == 0) return 0;
    RowRandom rng = m_random.at(m_random_draws >> 32).row(m_random_draws & 0xFFFFFFFFu);
    if constexpr (Model::random_delivery) ++m_random_draws;
    bool made_room = false;
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t slot = model().pick(rng, r);
      std::copy_n(m_theta.begin() + static_cast<std::ptrdiff_t>(slot * theta_dim()), theta_dim(),
                  theta_out.begin() + static_cast<std::ptrdiff_t>(r * theta_dim()));
      std::copy_n(m_x.begin() + static_cast<std::ptrdiff_t>(slot * x_dim()), x_dim(),
                  x_out.begin() + static_cast<std::ptrdiff_t>(r * x_dim()));
      Meta& meta = m_meta[slot];
      if (!ids_out.empty()) ids_out[r] = meta.id;
      const bool first_use = meta.uses == 0;
      ++meta.uses;
      ++m_total_uses;
      if (!metadata_out.empty()) {
        metadata_out[r] = SampleMetadata{meta.id, meta.uses, meta.info.generation, meta.info.proposal_log_prob,
                                         meta.info.simulation_seconds};
        // A model that draws non-uniformly says how much more likely this row was than a uniform draw.
        if constexpr (requires(const Model& m) { m.relative_draw_probability(slot); })
          metadata_out[r].relative_draw_probability = model().relative_draw_probability(slot);
      }
      if (first_use) {
        unlink_unseen(slot);
        made_room = true; // a seen row may be replaced under Block
      }
      model().delivered(slot, first_use);
      if constexpr (!reuses_rows<Model>) remove(slot);
    }
    const bool wake = made_room && m_blocked_producers > 0;
    lock.unlock();
    if (wake) m_space_available.notify_all();
    return count;
  }

  void insert(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info) {
    const std::size_t slot = m_free.back();
    m_free.pop_back();
    std::copy(theta.begin(), theta.end(), m_theta.begin() + static_cast<std::ptrdiff_t>(slot * theta_dim()));
    std::copy(x.begin(), x.end(), m_x.begin() + static_cast<std::ptrdiff_t>(slot * x_dim()));
    m_meta[slot] = Meta{m_arrivals++, 0, info};
    m_position[slot] = m_live.size();
    m_live.push_back(slot);
    link_unseen_back(slot);
    model().inserted(slot);
  }

  void remove(std::size_t slot) {
    model().removing(slot);
    const std::size_t position = m_position[slot];
    const std::size_t last = m_live.size() - 1;
    if (position != last) {
      const std::size_t moved_slot = m_live[last];
      m_live[position] = moved_slot;
      m_position[moved_slot] = position;
      model().moved(moved_slot, last, position);
    }
    m_live.pop_back();
    m_position[slot] = none;
    const std::uint64_t uses = m_meta[slot].uses;
    if (uses == 0) {
      unlink_unseen(slot);
      ++m_evicted_unseen;
    } else {
      ++m_evicted_used;
    }
    ++m_departed_histogram[use_histogram_bin(uses)];
    m_departed_uses += uses;
    m_departed_max_uses = std::max(m_departed_max_uses, uses);
    m_free.push_back(slot);
  }

  void link_unseen_back(std::size_t slot) {
    m_previous[slot] = m_unseen_tail;
    m_next[slot] = none;
    if (m_unseen_tail != none)
      m_next[m_unseen_tail] = slot;
    else
      m_unseen_head = slot;
    m_unseen_tail = slot;
  }

  void unlink_unseen(std::size_t slot) {
    const std::size_t previous = m_previous[slot], next = m_next[slot];
    if (previous != none)
      m_next[previous] = next;
    else
      m_unseen_head = next;
    if (next != none)
      m_previous[next] = previous;
    else
      m_unseen_tail = previous;
    m_previous[slot] = m_next[slot] = none;
  }

  /// Everything restore() relies on, checked before anything changes.
  void validate_state(const BufferState<Scalar>& state) const {
    const std::string_view part = Model::part;
    require<DataError>(state.kind == Model::kind, part, "restore: the state is of a '", state.kind,
                       "' buffer, this is a '", Model::kind, "' buffer");
    require_extent(state.capacity, capacity(), part, "restore: the state's capacity");
    require_extent(state.theta_dim, theta_dim(), part, "restore: the state's theta_dim");
    require_extent(state.x_dim, x_dim(), part, "restore: the state's x_dim");
    const std::size_t n = state.rows();
    require<DataError>(n <= capacity(), part, "restore: the state holds ", n, " rows, the capacity is ", capacity());
    const auto check_length = [&](std::size_t actual, std::size_t expected, std::string_view what) {
      require<DataError>(actual == expected, part, "restore: the state's ", what, " has ", actual,
                         " entries, expected ", expected, " (", n, " rows)");
    };
    check_length(state.theta.size(), n * theta_dim(), "theta");
    check_length(state.x.size(), n * x_dim(), "x");
    check_length(state.uses.size(), n, "uses");
    check_length(state.generations.size(), n, "generations");
    check_length(state.simulation_seconds.size(), n, "simulation_seconds");
    check_length(state.proposal_log_probs.size(), n, "proposal_log_probs");
    for (std::size_t k = 0; k < n; ++k)
      require<DataError>(detail::all_finite(std::span<const Scalar>(state.theta).subspan(k * theta_dim(), theta_dim())) &&
                             detail::all_finite(std::span<const Scalar>(state.x).subspan(k * x_dim(), x_dim())),
                         part, "restore: row ", k, " (id ", state.ids[k], ") holds a NaN or Inf");
    std::vector<std::uint64_t> ids = state.ids;
    std::sort(ids.begin(), ids.end());
    for (std::size_t k = 0; k < n; ++k) {
      require<DataError>(k == 0 || ids[k] != ids[k - 1], part, "restore: id ", ids[k], " appears twice");
      require<DataError>(ids[k] < state.arrivals, part, "restore: id ", ids[k], " is not below the arrival count ",
                         state.arrivals);
    }
    std::uint64_t held_uses = 0;
    for (std::size_t k = 0; k < n; ++k) {
      require<DataError>(reuses_rows<Model> || state.uses[k] == 0, part, "restore: row ", k, " (id ", state.ids[k],
                         ") has ", state.uses[k], " uses; a ", Model::kind, " buffer holds only undelivered rows");
      held_uses += state.uses[k];
    }
    const std::uint64_t departed = state.evicted_used + state.evicted_unseen;
    require<DataError>(state.arrivals == n + departed, part, "restore: arrivals = ", state.arrivals,
                       " != held ", n, " + evicted_used ", state.evicted_used, " + evicted_unseen ",
                       state.evicted_unseen);
    require<DataError>(state.pushed_total == state.dropped_invalid + state.rejected_closed + state.arrivals, part,
                       "restore: pushed_total = ", state.pushed_total, " != dropped_invalid ", state.dropped_invalid,
                       " + rejected_closed ", state.rejected_closed, " + arrivals ", state.arrivals);
    require<DataError>(state.total_uses == held_uses + state.departed_uses, part, "restore: total_uses = ",
                       state.total_uses, " != uses of the held rows ", held_uses, " + of the departed ",
                       state.departed_uses);
    std::uint64_t histogram_total = 0;
    for (const std::uint64_t count : state.departed_histogram) histogram_total += count;
    require<DataError>(histogram_total == departed && state.departed_histogram[0] == state.evicted_unseen, part,
                       "restore: the departed-use histogram counts ", histogram_total, " rows (",
                       state.departed_histogram[0], " unused); the counters say ", departed, " (",
                       state.evicted_unseen, " unseen)");
    require<DataError>(state.departed_uses >= state.evicted_used && state.departed_max_uses <= state.departed_uses,
                       part, "restore: departed_uses = ", state.departed_uses, ", departed_max_uses = ",
                       state.departed_max_uses, " and evicted_used = ", state.evicted_used, " disagree");
    model().check_model_state(state);
  }

  BufferOptions m_options;
  mutable std::mutex m_mutex;
  std::condition_variable m_space_available; ///< producers (Block) wait here
  std::condition_variable m_rows_available;  ///< consumers and wait_for_arrivals wait here

  std::vector<Scalar> m_theta, m_x; ///< slot-major rows
  std::vector<Meta> m_meta;
  std::vector<std::size_t> m_live;     ///< position → slot
  std::vector<std::size_t> m_position; ///< slot → position (none when free)
  std::vector<std::size_t> m_free;     ///< free slots, a stack
  std::vector<std::size_t> m_previous, m_next;
  std::size_t m_unseen_head = none, m_unseen_tail = none;

  bool m_closed = false;
  std::size_t m_blocked_producers = 0, m_blocked_consumers = 0, m_arrival_waiters = 0;

  std::uint64_t m_pushed_total = 0, m_dropped_invalid = 0, m_rejected_closed = 0;
  std::uint64_t m_evicted_used = 0, m_evicted_unseen = 0, m_total_uses = 0, m_arrivals = 0;
  std::uint64_t m_departed_uses = 0, m_departed_max_uses = 0;
  std::array<std::uint64_t, use_histogram_bins> m_departed_histogram{};

  RandomStream m_random;
  std::uint64_t m_random_draws = 0;
};

} // namespace osbi
