// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::SampleSender: a SampleSink on a simulation group's root that batches rows into messages to the learners, with bounded messages in flight.
#pragma once

#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/sample_message.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/buffer/sample_sink.hpp>
#include <osbi/core/error.hpp>
#include <osbi/online/metrics.hpp>

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace osbi::mpi {

/// What a sender did (its own view; the learners account for every row: SampleReceiver).
struct SenderCounts {
  std::uint64_t rows = 0;             ///< rows pushed, hence sent
  std::uint64_t messages = 0;         ///< sample messages sent (end messages not included)
  FailureCounts failures;             ///< failures reported to the learners
  std::uint64_t failure_records = 0;  ///< of which with θ and message
  std::uint64_t stops_received = 0;   ///< stop messages from learners (one per learner by the end)
};

/*
 * SampleSender<Scalar> — models SampleSink on a group root. push() appends the row to the message being
 * filled; a message leaves (MPI_Issend on Roles::stream()) once it holds rows_per_message rows or its first row
 * waited max_delay_seconds (push and poll check). Messages go to the learners in turn (from `first_learner`); each
 * learner has at most max_in_flight unreceived messages from this sender, and a push that would exceed that waits —
 * back-pressure from the learners' buffers to the simulations. (Sending past a full learner to the next one with
 * room was tried: in 1 of ~25 runs of four co-located learners on 2 cores the stream then stalled for about a
 * minute; the strict turn stays until that is understood.) Every row pushed is sent, even
 * after close() or a learner's stop: the learner's buffer then counts it (accepted or rejected_closed), so the
 * learners account for every simulation. push returns `accepted` (id = this sender's push index) until close()
 * or a stop from a learner, then `closed`; dropped_invalid never (the learner's buffer drops non-finite rows).
 *
 * add_failures() reports failed simulations (counts, and θ with message up to max_failure_records): they ride
 * on the next message. finish() ends the stream: sends what is pending, an end message to every learner with
 * the totals sent to it (the learner checks them), waits until every message was received and until each
 * learner's stop message arrived (each learner sends exactly one), so nothing is in flight when it returns.
 *
 * Thread-safe (one mutex; MPI calls are made under it): needs MPI_THREAD_SERIALIZED or more.
 */
template <class Scalar>
class SampleSender {
public:
  using scalar_type = Scalar;

  SampleSender(const Communicator& stream, std::vector<int> learners, std::size_t theta_dim, std::size_t x_dim,
               const StreamOptions& options = {}, std::size_t first_learner = 0)
      : m_stream(&stream), m_learners(std::move(learners)), m_theta_dim(theta_dim), m_x_dim(x_dim), m_options(options),
        m_next_learner(first_learner), m_writer(theta_dim, x_dim), m_in_flight(m_learners.size()), m_sequence(m_learners.size(), 0),
        m_rows_to(m_learners.size(), 0), m_failures_to(m_learners.size()) {
    constexpr const char* part = "osbi::mpi::SampleSender";
    require_thread_level(MPI_THREAD_SERIALIZED, part, "simulation workers push from several threads");
    require(stream.member(), part, "this rank is not in the stream communicator");
    require(!m_learners.empty(), part, "no learners to send to");
    require(theta_dim > 0 && x_dim > 0, part, "theta_dim and x_dim must be > 0");
    require(options.rows_per_message >= 1 && options.max_in_flight >= 1, part, "rows_per_message and max_in_flight must be >= 1");
    m_next_learner %= m_learners.size();
  }

  SampleSender(const SampleSender&) = delete;
  SampleSender& operator=(const SampleSender&) = delete;
  ~SampleSender() {
    // A sender destroyed without finish() (an exception unwinding) still must not leave MPI reading freed memory.
    try {
      finish();
    } catch (...) {
    }
  }

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t x_dim() const { return m_x_dim; }

  PushResult push(std::span<const Scalar> theta, std::span<const Scalar> x, const SampleInfo& info = {}) {
    require_extent(theta.size(), m_theta_dim, "osbi::mpi::SampleSender", "push: theta");
    require_extent(x.size(), m_x_dim, "osbi::mpi::SampleSender", "push: x");
    const InFlight counting(m_pushing);
    const std::lock_guard lock(m_mutex);
    require(!m_finished, "osbi::mpi::SampleSender", "push after finish(): the stream to the learners has ended");
    poll_stops();
    if (m_writer.empty()) m_pending_since = now();
    m_writer.add_row(theta, x, info);
    const std::uint64_t id = m_counts.rows++;
    if (m_writer.rows() >= m_options.rows_per_message || now() - m_pending_since >= m_options.max_delay_seconds) send_pending();
    PushResult result;
    result.status = (m_closed || m_stop_seen) ? PushStatus::closed : PushStatus::accepted;
    result.id = id;
    return result;
  }

  /// Reports failed simulations; `records` beyond max_failure_records are counted only.
  void add_failures(const FailureCounts& counts, std::span<const online::FailureRecord> records) {
    const std::lock_guard lock(m_mutex);
    require(!m_finished, "osbi::mpi::SampleSender", "add_failures after finish()");
    const std::size_t room = m_options.max_failure_records - std::min<std::size_t>(m_options.max_failure_records, m_counts.failure_records);
    const auto kept = records.first(std::min(room, records.size()));
    if (m_writer.empty()) m_pending_since = now();
    m_writer.add_failures(counts, kept);
    m_counts.failure_records += kept.size();
  }

  /// Sends a message whose delay is up and reads stop messages; call it now and then when pushes are rare.
  void poll() {
    const std::lock_guard lock(m_mutex);
    if (m_finished) return;
    poll_stops();
    if (!m_writer.empty() && now() - m_pending_since >= m_options.max_delay_seconds) send_pending();
  }

  /// Idempotent: later pushes return `closed` (their rows still travel, see the class comment).
  void close() {
    const std::lock_guard lock(m_mutex);
    m_closed = true;
  }
  bool closed() const {
    const std::lock_guard lock(m_mutex);
    return m_closed || m_stop_seen;
  }
  /// A learner asked the simulations to stop.
  bool stop_requested() const {
    const std::lock_guard lock(m_mutex);
    return m_stop_seen;
  }
  /// Pushes in progress (waiting for the lock or for a message to be received count).
  std::size_t blocked_producers() const { return m_pushing.load(); }

  /// Ends the stream (see the class comment). Idempotent; collective with the learners' receivers.
  void finish() {
    const std::lock_guard lock(m_mutex);
    if (m_finished) return;
    m_finished = true;
    m_closed = true;
    if (!m_writer.empty()) send_pending();
    for (std::size_t l = 0; l < m_learners.size(); ++l) {
      wait_for_room(l);
      issue(l, m_writer.take(MessageKind::end, m_sequence[l]++, m_rows_to[l], m_failures_to[l]));
    }
    for (auto& messages : m_in_flight)
      while (!messages.empty()) {
        wait_politely(messages.front().request, "osbi::mpi::SampleSender::finish");
        messages.pop_front();
      }
    auto pause = std::chrono::microseconds(1);
    while (m_counts.stops_received < m_learners.size()) {
      if (!poll_stops()) {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
      }
    }
  }

  SenderCounts counts() const {
    const std::lock_guard lock(m_mutex);
    return m_counts;
  }

private:
  struct Message {
    std::vector<std::byte> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  struct InFlight {
    explicit InFlight(std::atomic<std::size_t>& count) : count(count) { ++count; }
    ~InFlight() { --count; }
    std::atomic<std::size_t>& count;
  };

  static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

  void wait_for_room(std::size_t learner) { // m_mutex held
    auto& messages = m_in_flight[learner];
    while (messages.size() >= m_options.max_in_flight) {
      wait_politely(messages.front().request, "osbi::mpi::SampleSender");
      messages.pop_front();
      poll_stops();
    }
  }

  /// The learner the next message goes to: the next in turn; waits until it has room.
  std::size_t next_learner() { // m_mutex held
    const std::size_t l = m_next_learner;
    m_next_learner = (l + 1) % m_learners.size();
    wait_for_room(l);
    return l;
  }

  void send_pending() { // m_mutex held
    const std::size_t l = next_learner();
    m_rows_to[l] += m_writer.rows();
    ++m_counts.messages;
    const FailureCounts reported = m_writer.failures();
    auto bytes = m_writer.take(MessageKind::samples, m_sequence[l]++);
    m_failures_to[l] += reported;
    m_counts.failures += reported;
    issue(l, std::move(bytes));
  }

  /// Sends to a learner with room (the caller made sure).
  void issue(std::size_t learner, std::vector<std::byte> bytes) { // m_mutex held
    m_in_flight[learner].push_back(Message{std::move(bytes), MPI_REQUEST_NULL});
    Message& message = m_in_flight[learner].back();
    check(MPI_Issend(message.bytes.data(), static_cast<int>(message.bytes.size()), MPI_BYTE, m_learners[learner], sample_tag,
                     m_stream->get(), &message.request),
          "osbi::mpi::SampleSender", "MPI_Issend");
  }

  /// Receives the stop messages that have arrived; true if there was one.
  bool poll_stops() { // m_mutex held
    bool any = false;
    for (;;) {
      int flag = 0;
      MPI_Status status;
      check(MPI_Iprobe(MPI_ANY_SOURCE, stop_tag, m_stream->get(), &flag, &status), "osbi::mpi::SampleSender", "MPI_Iprobe");
      if (!flag) return any;
      std::uint64_t word = 0;
      check(MPI_Recv(&word, 1, MPI_UINT64_T, status.MPI_SOURCE, stop_tag, m_stream->get(), MPI_STATUS_IGNORE),
            "osbi::mpi::SampleSender", "MPI_Recv");
      ++m_counts.stops_received;
      m_stop_seen = true;
      any = true;
    }
  }

  const Communicator* m_stream;
  std::vector<int> m_learners;
  std::size_t m_theta_dim, m_x_dim;
  StreamOptions m_options;
  std::size_t m_next_learner;

  mutable std::mutex m_mutex;
  std::atomic<std::size_t> m_pushing{0};
  MessageWriter<Scalar> m_writer;
  double m_pending_since = 0;
  std::vector<std::deque<Message>> m_in_flight; // per learner, oldest first
  std::vector<std::uint64_t> m_sequence, m_rows_to;
  std::vector<FailureCounts> m_failures_to;
  SenderCounts m_counts;
  bool m_closed = false, m_stop_seen = false, m_finished = false;
};

static_assert(SampleSink<SampleSender<double>>);

} // namespace osbi::mpi
