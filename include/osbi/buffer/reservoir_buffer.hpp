// SPDX-License-Identifier: BSD-3-Clause
/// \brief ReservoirBuffer: samples stay and are reused at random; when full, the most-used seen sample goes first.
#pragma once

#include <osbi/buffer/buffer_base.hpp>
#include <osbi/buffer/detail/indexed_heap.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>

namespace osbi {

/// A replay buffer: rows stay after delivery and are drawn again. A batch is a uniform random
/// subset of the rows held (no row twice in one batch; batches are independent).
///
/// Eviction, when a push meets a full buffer: among the rows delivered at least once, the most used
/// (ties: the oldest, lowest id) — it has given the trainer the most already; a row never delivered
/// only when none has been (overflow::Evict: the oldest unseen; overflow::Block: the push waits
/// until a consumer has seen some row). Use counts therefore stay even, and under Block every
/// sample reaches the trainer at least once.
template <OverflowPolicy Overflow = overflow::Block, std::floating_point Scalar = real_t>
class ReservoirBuffer : public BufferBase<ReservoirBuffer<Overflow, Scalar>, Overflow, Scalar> {
  using Base = BufferBase<ReservoirBuffer<Overflow, Scalar>, Overflow, Scalar>;
  friend Base;

public:
  using delivery_policy = delivery::Reuse;
  static constexpr std::string_view kind = "reservoir";
  static constexpr std::string_view part = "osbi::ReservoirBuffer";

  explicit ReservoirBuffer(const BufferOptions& options) : Base(options), m_seen(options.capacity) {}

private:
  static constexpr bool random_delivery = true;

  /// Eviction order of the seen rows: more uses first, then lower id.
  auto evict_first() const {
    return [this](std::size_t a, std::size_t b) {
      const auto uses_a = this->uses_of(a), uses_b = this->uses_of(b);
      return uses_a != uses_b ? uses_a > uses_b : this->id_of(a) < this->id_of(b);
    };
  }

  // A partial Fisher–Yates shuffle of the positions: row r of the batch comes from positions r..end.
  std::size_t pick(RowRandom& rng, std::size_t row) {
    this->swap_positions(row, row + detail::uniform_index(rng, this->held() - row));
    return this->slot_at(row);
  }

  std::size_t victim(bool allow_unseen) const {
    if (!m_seen.empty()) return m_seen.top();
    return allow_unseen ? this->oldest_unseen() : Base::none;
  }

  void delivered(std::size_t slot, bool first_use) {
    if (first_use)
      m_seen.insert(slot, evict_first());
    else
      m_seen.update(slot, evict_first());
  }

  void removing(std::size_t slot) {
    if (m_seen.contains(slot)) m_seen.erase(slot, evict_first());
  }

  void restored(const BufferState<Scalar>& /*state*/) {
    m_seen.clear();
    for (std::size_t position = 0; position < this->held(); ++position) {
      const std::size_t slot = this->slot_at(position);
      if (this->uses_of(slot) > 0) m_seen.insert(slot, evict_first());
    }
  }

  detail::IndexedHeap m_seen; ///< the rows delivered at least once, in eviction order
};

static_assert(SampleBuffer<ReservoirBuffer<overflow::Block>> &&
              SampleBuffer<ReservoirBuffer<overflow::Evict, double>>);

} // namespace osbi
