// SPDX-License-Identifier: BSD-3-Clause
/// \brief FifoBuffer: each sample is delivered exactly once, in arrival order, and leaves the buffer.
#pragma once

#include <osbi/buffer/buffer_base.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>

namespace osbi {

/// First in, first out: sample_batch delivers the oldest rows, in arrival order (ids increasing),
/// and removes them (counted evicted_used). Nothing is random. When full: overflow::Block waits for
/// a consumer; overflow::Evict drops the oldest row (never delivered: evicted_unseen). The classic
/// online-training stream: every simulation is used once, in the order it finished.
template <OverflowPolicy Overflow = overflow::Block, std::floating_point Scalar = real_t>
class FifoBuffer : public BufferBase<FifoBuffer<Overflow, Scalar>, Overflow, Scalar> {
  using Base = BufferBase<FifoBuffer<Overflow, Scalar>, Overflow, Scalar>;
  friend Base;

public:
  using delivery_policy = delivery::Consume;
  static constexpr std::string_view kind = "fifo";
  static constexpr std::string_view part = "osbi::FifoBuffer";

  explicit FifoBuffer(const BufferOptions& options) : Base(options) {}

private:
  static constexpr bool random_delivery = false;

  std::size_t pick(RowRandom& /*rng*/, std::size_t /*row*/) const { return this->oldest_unseen(); }
  std::size_t victim(bool allow_unseen) const { return allow_unseen ? this->oldest_unseen() : Base::none; }
};

static_assert(SampleBuffer<FifoBuffer<overflow::Block>> && SampleBuffer<FifoBuffer<overflow::Evict, double>>);

} // namespace osbi
