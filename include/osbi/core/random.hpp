// SPDX-License-Identifier: BSD-3-Clause
/// \brief Counter-based Philox-4x32-10 random numbers: a draw is a pure function of (seed, stream, batch, row, index).
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace osbi {

namespace detail {

KOKKOS_INLINE_FUNCTION std::uint32_t mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& high) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b);
  high = static_cast<std::uint32_t>(product >> 32);
  return static_cast<std::uint32_t>(product);
}

} // namespace detail

/// Four 32-bit words: a Philox counter or its output block.
struct PhiloxBlock {
  std::uint32_t word[4];
};

/// Philox-4x32 with 10 rounds (Salmon et al., SC'11; the Random123 reference, whose known-answer
/// vectors the tests check). Pure function: no state, same bits on every backend.
KOKKOS_INLINE_FUNCTION PhiloxBlock philox4x32_10(PhiloxBlock counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t multiplier0 = 0xD2511F53u;
  constexpr std::uint32_t multiplier1 = 0xCD9E8D57u;
  constexpr std::uint32_t weyl0 = 0x9E3779B9u;
  constexpr std::uint32_t weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t high0 = 0, high1 = 0;
    const std::uint32_t low0 = detail::mulhilo32(multiplier0, counter.word[0], high0);
    const std::uint32_t low1 = detail::mulhilo32(multiplier1, counter.word[2], high1);
    counter = PhiloxBlock{{high1 ^ counter.word[1] ^ key0, low1, high0 ^ counter.word[3] ^ key1, low0}};
    key0 += weyl0;
    key1 += weyl1;
  }
  return counter;
}

/// The generator one thread uses for one row of a batch: an endless sequence of 32-bit words
/// (counter word 0 walks; the others are fixed by seed, stream, batch and row), plus the usual
/// continuous transforms. Trivially copyable; host and device.
class RowRandom {
public:
  KOKKOS_INLINE_FUNCTION RowRandom(std::uint32_t key0, std::uint32_t key1, std::uint32_t row, std::uint32_t batch,
                                   std::uint32_t stream)
      : m_key0(key0), m_key1(key1), m_row(row), m_batch(batch), m_stream(stream) {}

  /// Next 32 random bits.
  KOKKOS_INLINE_FUNCTION std::uint32_t next_u32() {
    if (m_used == 4) {
      m_block = philox4x32_10(PhiloxBlock{{m_block_index, m_row, m_batch, m_stream}}, m_key0, m_key1);
      ++m_block_index;
      m_used = 0;
    }
    return m_block.word[m_used++];
  }

  /// Next 64 random bits (two words).
  KOKKOS_INLINE_FUNCTION std::uint64_t next_u64() {
    const std::uint64_t high = next_u32();
    return (high << 32) | next_u32();
  }

  /// Uniform on the open interval (0, 1), 53 random bits: safe to take the log of.
  KOKKOS_INLINE_FUNCTION double uniform() {
    return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53;
  }

  /// Uniform on (low, high).
  KOKKOS_INLINE_FUNCTION double uniform(double low, double high) { return low + (high - low) * uniform(); }

  /// Standard normal by Box–Muller; the second value of each pair is kept for the next call.
  KOKKOS_INLINE_FUNCTION double normal() {
    if (m_has_spare_normal) {
      m_has_spare_normal = false;
      return m_spare_normal;
    }
    constexpr double two_pi = 6.283185307179586476925;
    const double radius = math::sqrt(-2.0 * math::log(uniform()));
    const double angle = two_pi * uniform();
    m_spare_normal = radius * math::sin(angle);
    m_has_spare_normal = true;
    return radius * math::cos(angle);
  }

  /// Normal with the given mean and standard deviation.
  KOKKOS_INLINE_FUNCTION double normal(double mean, double standard_deviation) {
    return mean + standard_deviation * normal();
  }

  /// How many Philox blocks this row has consumed (each block is four 32-bit words).
  KOKKOS_INLINE_FUNCTION std::uint32_t blocks_used() const { return m_block_index; }

private:
  std::uint32_t m_key0, m_key1, m_row, m_batch, m_stream;
  std::uint32_t m_block_index = 0;
  int m_used = 4;
  PhiloxBlock m_block{{0, 0, 0, 0}};
  bool m_has_spare_normal = false;
  double m_spare_normal = 0.0;
};

/// The random numbers of one batched call: row i of the batch draws from row(i), whichever thread
/// or backend runs it. Trivially copyable, so kernels capture it by value.
class BatchRandom {
public:
  KOKKOS_INLINE_FUNCTION BatchRandom(std::uint32_t key0, std::uint32_t key1, std::uint32_t batch, std::uint32_t stream)
      : m_key0(key0), m_key1(key1), m_batch(batch), m_stream(stream) {}

  /// The generator of row i (rows beyond 2^32 wrap; RandomStream's callers check batch sizes).
  KOKKOS_INLINE_FUNCTION RowRandom row(std::uint64_t i) const {
    return RowRandom(m_key0, m_key1, static_cast<std::uint32_t>(i), m_batch, m_stream);
  }

  /// An independent generator for part `part` of a composite model (e.g. component k of an
  /// Independent prior): the key is replaced by a Philox hash of (key, part, batch, stream), so
  /// the parts' rows never share counters with each other or with the parent.
  KOKKOS_INLINE_FUNCTION BatchRandom split(std::uint32_t part) const {
    constexpr std::uint32_t split_tag = 0x5EED5B17u;
    const PhiloxBlock derived = philox4x32_10(PhiloxBlock{{part, split_tag, m_batch, m_stream}}, m_key0, m_key1);
    return BatchRandom(derived.word[0], derived.word[1], m_batch, m_stream);
  }

  KOKKOS_INLINE_FUNCTION std::uint32_t batch_index() const { return m_batch; }
  KOKKOS_INLINE_FUNCTION std::uint32_t stream() const { return m_stream; }

private:
  std::uint32_t m_key0, m_key1, m_batch, m_stream;
};

/// Host-side handle of one random stream: a seed, a stream number (one per purpose or worker),
/// and the count of batches handed out so far. Its whole state is three integers, so a checkpoint
/// stores them and a restart continues the exact sequence.
class RandomStream {
public:
  static constexpr std::uint64_t max_stream = 0xFFFFFFFFull;
  static constexpr std::uint64_t max_batches = 0xFFFFFFFFull;

  explicit RandomStream(std::uint64_t seed, std::uint64_t stream = 0, std::uint64_t batches_drawn = 0)
      : m_seed(seed), m_stream(stream), m_batches_drawn(batches_drawn) {
    require(stream <= max_stream, "osbi::RandomStream", "stream = ", stream, " must be <= ", max_stream);
    require(batches_drawn <= max_batches, "osbi::RandomStream", "batches_drawn = ", batches_drawn, " must be <= ",
            max_batches);
  }

  /// The generator for the next batched call; each call gets fresh, never reused counters.
  BatchRandom next() {
    require(m_batches_drawn < max_batches, "osbi::RandomStream", "stream ", m_stream, " of seed ", m_seed,
            " has handed out all ", max_batches, " batches");
    return at(m_batches_drawn++);
  }

  /// The generator of batch k, without advancing (for replay and tests).
  BatchRandom at(std::uint64_t batch) const {
    require(batch <= max_batches, "osbi::RandomStream", "batch = ", batch, " must be <= ", max_batches);
    return BatchRandom(static_cast<std::uint32_t>(m_seed), static_cast<std::uint32_t>(m_seed >> 32),
                       static_cast<std::uint32_t>(batch), static_cast<std::uint32_t>(m_stream));
  }

  /// A different stream of the same seed (e.g. one per simulation worker).
  RandomStream substream(std::uint64_t stream) const { return RandomStream(m_seed, stream); }

  std::uint64_t seed() const { return m_seed; }
  std::uint64_t stream() const { return m_stream; }
  std::uint64_t batches_drawn() const { return m_batches_drawn; }

private:
  std::uint64_t m_seed;
  std::uint64_t m_stream;
  std::uint64_t m_batches_drawn;
};

} // namespace osbi
