// SPDX-License-Identifier: BSD-3-Clause
/// \brief The bytes of one sample message between a simulation group and a learner: rows of (θ, x, SampleInfo), failures with their θ, and the end-of-stream totals.
#pragma once

#include <osbi/buffer/sample_sink.hpp>
#include <osbi/online/metrics.hpp>

#include <osbi/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::mpi {

/// Failed simulations by kind (online::FailureKind).
struct FailureCounts {
  std::uint64_t threw = 0, non_finite = 0, timed_out = 0;

  std::uint64_t total() const { return threw + non_finite + timed_out; }
  FailureCounts& operator+=(const FailureCounts& other) {
    threw += other.threw;
    non_finite += other.non_finite;
    timed_out += other.timed_out;
    return *this;
  }
  friend bool operator==(const FailureCounts&, const FailureCounts&) = default;
};

enum class MessageKind : std::uint32_t {
  samples = 1, ///< rows and/or failures
  end = 2,     ///< the sender's last message to this learner: the totals it sent, to check nothing was lost
};

/// Fixed-size head of every message (trivially copyable, sent as bytes: the ranks of one job share a layout).
struct MessageHeader {
  static constexpr std::uint32_t expected_magic = 0x6f736269; // "osbi"
  std::uint32_t magic = expected_magic;
  MessageKind kind = MessageKind::samples;
  std::uint32_t theta_dim = 0, x_dim = 0;
  std::uint32_t scalar_bytes = 0, reserved = 0;
  std::uint64_t sequence = 0;        ///< messages from this sender to this learner before this one
  std::uint64_t rows = 0;            ///< rows in this message
  FailureCounts failures;            ///< failures reported by this message
  std::uint64_t failure_records = 0; ///< of which θ and message travel here (the sender keeps a cap)
  std::uint64_t total_rows = 0;      ///< end: rows this sender sent to this learner, this stream
  FailureCounts total_failures;      ///< end: failures it reported to this learner
};
static_assert(std::is_trivially_copyable_v<MessageHeader>);

/// A message being filled: rows, then failures; bytes() frames it.
template <class Scalar>
class MessageWriter {
public:
  MessageWriter(std::size_t theta_dim, std::size_t x_dim) : m_theta_dim(theta_dim), m_x_dim(x_dim) {}

  std::size_t rows() const { return m_rows; }
  bool empty() const { return m_rows == 0 && m_failures.total() == 0; }
  /// Failures counted in the message being filled.
  const FailureCounts& failures() const { return m_failures; }

  void add_row(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info) {
    append(m_row_bytes, theta.data(), theta.size_bytes());
    append(m_row_bytes, x.data(), x.size_bytes());
    append(m_row_bytes, &info.generation, sizeof info.generation);
    append(m_row_bytes, &info.simulation_seconds, sizeof info.simulation_seconds);
    append(m_row_bytes, &info.proposal_log_prob, sizeof info.proposal_log_prob);
    ++m_rows;
  }

  /// Failures counted by kind; `records` (θ and message) may be fewer than counted.
  void add_failures(const FailureCounts& counts, std::span<const online::FailureRecord> records) {
    m_failures += counts;
    for (const auto& record : records) {
      require_extent(record.theta.size(), m_theta_dim, "osbi::mpi::MessageWriter", "a failure record's theta");
      append(m_failure_bytes, &record.simulation, sizeof record.simulation);
      const auto kind = static_cast<std::uint64_t>(record.kind);
      append(m_failure_bytes, &kind, sizeof kind);
      append(m_failure_bytes, record.theta.data(), record.theta.size() * sizeof(double));
      const auto length = static_cast<std::uint64_t>(record.message.size());
      append(m_failure_bytes, &length, sizeof length);
      append(m_failure_bytes, record.message.data(), record.message.size());
      ++m_records;
    }
  }

  /// The framed bytes; the writer is empty afterwards.
  std::vector<std::byte> take(MessageKind kind, std::uint64_t sequence, std::uint64_t total_rows = 0,
                              const FailureCounts& total_failures = {}) {
    MessageHeader header;
    header.kind = kind;
    header.theta_dim = static_cast<std::uint32_t>(m_theta_dim);
    header.x_dim = static_cast<std::uint32_t>(m_x_dim);
    header.scalar_bytes = sizeof(Scalar);
    header.sequence = sequence;
    header.rows = m_rows;
    header.failures = m_failures;
    header.failure_records = m_records;
    header.total_rows = total_rows;
    header.total_failures = total_failures;
    const auto* head = reinterpret_cast<const std::byte*>(&header);
    std::vector<std::byte> out;
    out.reserve(sizeof header + m_row_bytes.size() + m_failure_bytes.size());
    out.insert(out.end(), head, head + sizeof header);
    out.insert(out.end(), m_row_bytes.begin(), m_row_bytes.end());
    out.insert(out.end(), m_failure_bytes.begin(), m_failure_bytes.end());
    m_row_bytes.clear();
    m_failure_bytes.clear();
    m_rows = m_records = 0;
    m_failures = {};
    return out;
  }

private:
  static void append(std::vector<std::byte>& to, const void* data, std::size_t bytes) {
    const auto* begin = static_cast<const std::byte*>(data);
    to.insert(to.end(), begin, begin + bytes);
  }

  std::size_t m_theta_dim, m_x_dim;
  // Rows and failures arrive interleaved; a message holds all rows, then all failures.
  std::vector<std::byte> m_row_bytes, m_failure_bytes;
  std::uint64_t m_rows = 0, m_records = 0;
  FailureCounts m_failures;
};

/// A message read back: the header, and the rows and failure records it carries.
template <class Scalar>
struct DecodedMessage {
  MessageHeader header;
  std::vector<Scalar> theta, x; ///< rows × D_θ, rows × D_x
  std::vector<SampleInfo> info;
  std::vector<online::FailureRecord> failures;
};

/// Parses a message; DataError (naming what is wrong) if it is not one of D_θ, D_x and Scalar.
template <class Scalar>
DecodedMessage<Scalar> decode_message(std::span<const std::byte> bytes, std::size_t theta_dim, std::size_t x_dim) {
  constexpr const char* part = "osbi::mpi::decode_message";
  DecodedMessage<Scalar> out;
  std::size_t at = 0;
  auto take = [&](void* target, std::size_t count) {
    require<DataError>(count <= bytes.size() - at, part, "the message ends early (", bytes.size(), " bytes)");
    if (count) std::memcpy(target, bytes.data() + at, count);
    at += count;
  };
  require<DataError>(bytes.size() >= sizeof(MessageHeader), part, "a message of ", bytes.size(), " bytes has no header");
  take(&out.header, sizeof(MessageHeader));
  const MessageHeader& h = out.header;
  require<DataError>(h.magic == MessageHeader::expected_magic, part, "not an osbi sample message (magic ", h.magic, ")");
  require<DataError>(h.kind == MessageKind::samples || h.kind == MessageKind::end, part, "unknown message kind ",
                     static_cast<std::uint32_t>(h.kind));
  require<DataError>(h.theta_dim == theta_dim && h.x_dim == x_dim && h.scalar_bytes == sizeof(Scalar), part,
                     "the sender streams D_θ = ", h.theta_dim, ", D_x = ", h.x_dim, " in ", h.scalar_bytes,
                     "-byte scalars; this learner expects D_θ = ", theta_dim, ", D_x = ", x_dim, " in ", sizeof(Scalar));
  const std::size_t row_bytes = (theta_dim + x_dim) * sizeof(Scalar) + 3 * sizeof(std::uint64_t);
  require<DataError>(h.rows <= (bytes.size() - at) / row_bytes, part, "the header claims ", h.rows, " rows; the message holds fewer");
  const std::size_t rows = static_cast<std::size_t>(h.rows);
  out.theta.resize(rows * theta_dim);
  out.x.resize(rows * x_dim);
  out.info.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    take(out.theta.data() + r * theta_dim, theta_dim * sizeof(Scalar));
    take(out.x.data() + r * x_dim, x_dim * sizeof(Scalar));
    take(&out.info[r].generation, sizeof(std::uint64_t));
    take(&out.info[r].simulation_seconds, sizeof(double));
    take(&out.info[r].proposal_log_prob, sizeof(double));
  }
  require<DataError>(h.failure_records <= h.failures.total(), part, "more failure records (", h.failure_records,
                     ") than failures (", h.failures.total(), ")");
  for (std::uint64_t k = 0; k < h.failure_records; ++k) {
    online::FailureRecord record;
    std::uint64_t kind = 0, length = 0;
    take(&record.simulation, sizeof record.simulation);
    take(&kind, sizeof kind);
    require<DataError>(kind <= static_cast<std::uint64_t>(online::FailureKind::timed_out), part, "unknown failure kind ", kind);
    record.kind = static_cast<online::FailureKind>(kind);
    record.theta.resize(theta_dim);
    take(record.theta.data(), theta_dim * sizeof(double));
    take(&length, sizeof length);
    require<DataError>(length <= bytes.size() - at, part, "a failure message claims ", length, " bytes; the message holds fewer");
    record.message.resize(static_cast<std::size_t>(length));
    take(record.message.data(), record.message.size());
    out.failures.push_back(std::move(record));
  }
  require<DataError>(at == bytes.size(), part, bytes.size() - at, " unread bytes after the message's contents");
  return out;
}

} // namespace osbi::mpi
