// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `SampleBuffer`: the thread-safe store between simulation workers (its sink) and the trainer (its source).
#pragma once

#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>

#include <osbi/core/error.hpp>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace osbi {

/// Shape and gating of a buffer, checked once by the constructor.
struct BufferOptions {
  std::size_t capacity = 0;  ///< rows held at most (> 0)
  std::size_t theta_dim = 0; ///< D_θ (> 0)
  std::size_t x_dim = 0;     ///< D_x (> 0)
  /// No batch is delivered before this many samples have been accepted (<= capacity; 0 or 1: the
  /// first sample opens the gate). Once open, the gate stays open.
  std::size_t watermark = 0;
  std::uint64_t seed = 0; ///< of the Philox stream behind every random choice the buffer makes
};

/// Throws InvalidArgument naming the part and the values unless `options` describe a usable buffer.
inline void validate_buffer_options(const BufferOptions& options, std::string_view part) {
  require(options.capacity > 0, part, "capacity must be > 0");
  require(options.theta_dim > 0, part, "theta_dim must be > 0");
  require(options.x_dim > 0, part, "x_dim must be > 0");
  require(options.watermark <= options.capacity, part, "watermark = ", options.watermark,
          " must be <= capacity = ", options.capacity, " (the gate could never open)");
}

/// What happens to a push into a full buffer: a tag type, the buffer's template parameter.
namespace overflow {

/// The producer waits until the model can make room without discarding a sample nobody has seen:
/// a consuming model (FIFO, FIRO) waits for a consumer to take a row; a reusing model (reservoir,
/// prioritized) replaces a row delivered at least once at once and waits only while every row is
/// unseen. close() ends the wait (the push then returns `closed`). With Block, evicted_unseen stays
/// 0: every accepted sample reaches the trainer at least once. Choose it when simulations are
/// expensive and the trainer keeps up (back-pressure slows the workers down instead of wasting them).
struct Block {
  static constexpr std::string_view name = "block";
};

/// The producer never waits: the model evicts by its own rule, an unseen sample if it must
/// (counted evicted_unseen). Choose it when simulations are cheap or their wall time must not
/// depend on the trainer (workers never stall; the trainer sees the freshest samples).
struct Evict {
  static constexpr std::string_view name = "evict";
};

} // namespace overflow

/// One of the tags in osbi::overflow.
template <class Policy>
concept OverflowPolicy = std::same_as<Policy, overflow::Block> || std::same_as<Policy, overflow::Evict>;

/// Bins of BufferAccounting::use_histogram: bin 0 counts samples never delivered, bin k >= 1 those
/// delivered u times with 2^(k−1) <= u < 2^k (1 | 2–3 | 4–7 | ...).
inline constexpr std::size_t use_histogram_bins = 65;

inline std::size_t use_histogram_bin(std::uint64_t uses) { return static_cast<std::size_t>(std::bit_width(uses)); }

/// Where every push went, and how often samples were delivered. Taken under the buffer's lock, so
/// the counters are one consistent cut even while producers and consumers run.
struct BufferAccounting {
  std::uint64_t pushed_total = 0;    ///< every push that returned (accepted or not); not those still waiting
  std::uint64_t dropped_invalid = 0; ///< rows with a NaN or ±Inf
  std::uint64_t rejected_closed = 0; ///< pushes after (or cut short by) close()
  std::uint64_t in_buffer = 0;       ///< rows held now
  std::uint64_t evicted_used = 0;    ///< rows gone after >= 1 delivery (FIFO/FIRO: delivered and removed)
  std::uint64_t evicted_unseen = 0;  ///< rows gone without ever being delivered
  std::uint64_t total_uses = 0;      ///< rows delivered by sample_batch, counting repeats
  std::uint64_t max_uses = 0;        ///< most deliveries of one sample (held or gone)
  /// Samples (held or gone) by delivery count, in the bins of use_histogram_bin().
  std::array<std::uint64_t, use_histogram_bins> use_histogram{};

  /// Samples ever accepted (= arrivals()).
  std::uint64_t accepted() const { return in_buffer + evicted_used + evicted_unseen; }
  /// Deliveries per accepted sample.
  double mean_uses() const {
    return accepted() ? static_cast<double>(total_uses) / static_cast<double>(accepted()) : 0.0;
  }
  /// pushed_total == dropped_invalid + rejected_closed + in_buffer + evicted_used + evicted_unseen,
  /// and the histogram and use counts agree with it.
  bool consistent() const {
    std::uint64_t histogram_total = 0;
    for (const std::uint64_t count : use_histogram) histogram_total += count;
    return pushed_total == dropped_invalid + rejected_closed + accepted() && histogram_total == accepted() &&
           use_histogram[0] >= evicted_unseen && total_uses >= evicted_used && max_uses <= total_uses &&
           (total_uses == 0) == (use_histogram[0] == accepted());
  }
};

/// A buffer's whole state as plain data (see snapshot()/restore() in the spec below). Rows are in
/// the model's internal order, so a restored buffer makes the same choices as the original.
template <class Scalar>
struct BufferState {
  std::string kind;          ///< "fifo", "firo", "reservoir" or "prioritized"
  std::uint64_t capacity = 0, theta_dim = 0, x_dim = 0;
  std::vector<Scalar> theta; ///< rows × theta_dim, C order
  std::vector<Scalar> x;     ///< rows × x_dim
  std::vector<std::uint64_t> ids, uses, generations;
  std::vector<double> simulation_seconds;
  std::vector<double> proposal_log_probs; ///< SampleInfo::proposal_log_prob of each row
  std::vector<double> priorities; ///< one per row for a prioritized buffer, else empty
  double max_priority = 0.0;      ///< the priority a new row gets (prioritized buffer), else 0

  std::uint64_t pushed_total = 0, dropped_invalid = 0, rejected_closed = 0;
  std::uint64_t evicted_used = 0, evicted_unseen = 0, total_uses = 0;
  std::uint64_t arrivals = 0;      ///< the next id
  std::uint64_t departed_uses = 0; ///< deliveries of the rows no longer held
  std::uint64_t departed_max_uses = 0;
  std::array<std::uint64_t, use_histogram_bins> departed_histogram{};

  std::uint64_t seed = 0;         ///< of the buffer's random stream
  std::uint64_t random_draws = 0; ///< counter: random batches drawn so far

  std::size_t rows() const { return ids.size(); }
};

/*
 * SampleBuffer — a store in host memory that is both a SampleSink (osbi/buffer/sample_sink.hpp) and
 * a SampleSource (osbi/buffer/sample_source.hpp) of the same rows, plus what a store can tell and
 * save (spec). Every member is safe to call from any number of threads at once (producers,
 * consumers, a monitor), except restore().
 *
 *   SampleSink and SampleSource   push / close / closed / blocked_producers; sample_batch (three
 *                                 overloads) / arrivals / wait_for_arrivals; the rows pushed into
 *                                 this buffer are the rows it delivers. In addition:
 *                                 - sample_batch waits until the gate is open (arrivals() >=
 *                                   watermark) and size() >= min(n, capacity) — whole batches — or
 *                                   until close(); it then delivers k = min(n, size()) rows. After
 *                                   close() it waits no more: a consuming model drains what is left,
 *                                   a reusing model keeps delivering from what it holds.
 *                                 - push into a full buffer follows the overflow policy (see
 *                                   osbi::overflow): wait, or evict by the model's rule.
 *   typename B::overflow_policy   osbi::overflow::Block or Evict.
 *   B(BufferOptions)              validates the options (InvalidArgument naming the values).
 *   b.capacity()                  from the options (theta_dim, x_dim too).
 *   b.size()                      rows held now.
 *   b.accounting()                a BufferAccounting; consistent() holds at every instant, and
 *                                 accepted() == arrivals().
 *   b.snapshot()                  a BufferState<scalar_type> (rows, ids, uses, metadata, priorities,
 *                                 counters, random-stream counter), taken under the lock.
 *   b.restore(state)              replaces contents, counters and random state, so that the same
 *                                 calls afterwards give the same results as on the original. Checks
 *                                 everything first (strong guarantee): DimensionMismatch if capacity
 *                                 or dims differ, DataError naming the defect for any inconsistent
 *                                 state (other kind, bad sizes, non-finite row, duplicate or future
 *                                 id, counters that do not add up). Not concurrent with other calls.
 *                                 The closed flag is not state.
 *
 * Models: FifoBuffer, FiroBuffer (delivery::Consume: a row is delivered once, then leaves);
 * ReservoirBuffer, PrioritizedBuffer (delivery::Reuse: rows stay and are delivered again until
 * evicted; PrioritizedBuffer is also a PrioritizedSampleSource). Check a model of your own with
 * osbi::testing::check_sample_buffer (osbi/testing/check_sample_buffer.hpp).
 */
namespace sample_buffer_requirements {

template <class B>
concept HasTypes = OverflowPolicy<typename B::overflow_policy>;

template <class B>
concept ConstructibleFromOptions = std::constructible_from<B, const BufferOptions&>;

template <class B>
concept HasShape = requires(const B& buffer) {
  { buffer.capacity() } -> std::convertible_to<std::size_t>;
  { buffer.size() } -> std::convertible_to<std::size_t>;
};

template <class B>
concept HasAccounting = requires(const B& buffer) {
  { buffer.accounting() } -> std::same_as<BufferAccounting>;
};

template <class B>
concept HasState = requires(const B& view, B& buffer, const BufferState<typename B::scalar_type>& state) {
  { view.snapshot() } -> std::same_as<BufferState<typename B::scalar_type>>;
  buffer.restore(state);
};

} // namespace sample_buffer_requirements

template <class B>
concept SampleBuffer = SampleSink<B> && SampleSource<B> && sample_buffer_requirements::HasTypes<B> &&
                       sample_buffer_requirements::ConstructibleFromOptions<B> &&
                       sample_buffer_requirements::HasShape<B> && sample_buffer_requirements::HasAccounting<B> &&
                       sample_buffer_requirements::HasState<B>;

} // namespace osbi
