// SPDX-License-Identifier: BSD-3-Clause
/// \brief FiroBuffer: first in, random out — each sample is delivered exactly once, in random order, and leaves.
#pragma once

#include <osbi/buffer/buffer_base.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>

namespace osbi {

/// First in, random out: each delivered row is drawn uniformly from the rows held (a batch is a
/// uniform random subset) and removed (counted evicted_used). Shuffling within the buffer breaks
/// the correlation of consecutive simulations (same worker, same proposal round) that FIFO passes
/// on to a batch. When full: overflow::Block waits for a consumer; overflow::Evict drops the oldest
/// row (evicted_unseen). Draws come from the buffer's Philox stream, one counter per sample_batch.
template <OverflowPolicy Overflow = overflow::Block, std::floating_point Scalar = real_t>
class FiroBuffer : public BufferBase<FiroBuffer<Overflow, Scalar>, Overflow, Scalar> {
  using Base = BufferBase<FiroBuffer<Overflow, Scalar>, Overflow, Scalar>;
  friend Base;

public:
  using delivery_policy = delivery::Consume;
  static constexpr std::string_view kind = "firo";
  static constexpr std::string_view part = "osbi::FiroBuffer";

  explicit FiroBuffer(const BufferOptions& options) : Base(options) {}

private:
  static constexpr bool random_delivery = true;

  std::size_t pick(RowRandom& rng, std::size_t /*row*/) const {
    return this->slot_at(detail::uniform_index(rng, this->held()));
  }
  std::size_t victim(bool allow_unseen) const { return allow_unseen ? this->oldest_unseen() : Base::none; }
};

static_assert(SampleBuffer<FiroBuffer<overflow::Block>> && SampleBuffer<FiroBuffer<overflow::Evict, double>>);

} // namespace osbi
