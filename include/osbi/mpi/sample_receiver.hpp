// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::SampleReceiver: on a learner, a thread that receives the group roots' sample messages into a local sink (any buffer), counting every row and failure.
#pragma once

#include <osbi/mpi/communicator.hpp>
#include <osbi/mpi/sample_message.hpp>
#include <osbi/mpi/stream_options.hpp>

#include <osbi/buffer/sample_sink.hpp>
#include <osbi/core/error.hpp>
#include <osbi/online/metrics.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace osbi::mpi {

/// Where the rows and failures that reached one learner went. Invariant once every sender ended:
/// rows == accepted + dropped_invalid + closed, and rows / failures equal the senders' end totals.
struct ReceiverCounts {
  std::uint64_t messages = 0;
  std::uint64_t rows = 0;                 ///< rows received (each pushed into the sink once)
  std::uint64_t accepted = 0, dropped_invalid = 0, closed = 0; ///< the sink's answers to those pushes
  FailureCounts failures;                 ///< failed simulations reported by the senders
  std::uint64_t senders_ended = 0;

  std::uint64_t simulations() const { return rows + failures.total(); }
};

/*
 * SampleReceiver<Sink> — on a learner: start() runs a thread that receives sample messages from the group roots
 * (`senders`, ranks in Roles::stream()) and pushes every row into `sink` (with its SampleInfo), so any buffer
 * model fills from remote simulations as from local workers. A full blocking buffer makes the thread wait,
 * so the senders' synchronous sends stay unreceived and their simulations wait (StreamOptions::max_in_flight).
 *
 * Failures reported by the senders are counted by kind and their records kept (θ and message, up to
 * max_failure_records). The end message of each sender carries its totals for this learner; a mismatch, a
 * message out of sequence or a malformed one is a DataError, rethrown by join() (the thread keeps receiving
 * until every sender ended, so no sender waits forever). When every sender has ended the sink is closed:
 * nothing more will arrive.
 *
 * request_stop() (any thread) closes the sink and asks every sender that has not ended to stop (one stop
 * message each: a sender waits for exactly one from every learner before it returns from finish(), so after an
 * end message the receiver sends its stop too). join() waits for the end of every sender.
 *
 * With StreamOptions::ordered the senders' messages are taken in a fixed rotation (sender 0's next, then sender 1's,
 * ..., skipping those that ended), so with deterministic message boundaries the rows reach the sink in one order.
 *
 * Needs MPI_THREAD_MULTIPLE: the thread receives while the trainer's thread reduces gradients.
 */
template <SampleSink Sink>
class SampleReceiver {
public:
  using Scalar = typename Sink::scalar_type;

  SampleReceiver(const Communicator& stream, std::vector<int> senders, Sink& sink, const StreamOptions& options = {})
      : m_stream(&stream), m_senders(std::move(senders)), m_sink(sink), m_options(options), m_expected(m_senders.size(), 0),
        m_rows_from(m_senders.size(), 0), m_failures_from(m_senders.size()), m_ended(m_senders.size(), false),
        m_stop_sent(m_senders.size(), false), m_stop_words(m_senders.size(), 0), m_stop_requests(m_senders.size(), MPI_REQUEST_NULL) {
    constexpr const char* part = "osbi::mpi::SampleReceiver";
    require_thread_level(MPI_THREAD_MULTIPLE, part, "the receiving thread runs beside the trainer's gradient allreduce");
    require(stream.member(), part, "this rank is not in the stream communicator");
    require(!m_senders.empty(), part, "no senders to receive from");
  }

  SampleReceiver(const SampleReceiver&) = delete;
  SampleReceiver& operator=(const SampleReceiver&) = delete;
  ~SampleReceiver() {
    if (m_thread.joinable()) {
      request_stop();
      m_thread.join();
    }
    wait_stop_sends();
  }

  void start() {
    require(!m_thread.joinable() && !m_started, "osbi::mpi::SampleReceiver", "start() was already called");
    m_started = true;
    m_thread = std::thread([this] { receive_loop(); });
  }

  /// Closes the sink and asks every sender still streaming to stop (see the class comment). Any thread.
  void request_stop() {
    m_sink.close();
    const std::lock_guard lock(m_mutex);
    for (std::size_t s = 0; s < m_senders.size(); ++s) send_stop(s);
  }

  /// Waits until every sender ended; rethrows what went wrong in the receiving thread.
  void join() {
    if (m_thread.joinable()) m_thread.join();
    wait_stop_sends();
    const std::lock_guard lock(m_mutex);
    if (m_error) std::rethrow_exception(m_error);
  }

  /// Whether every sender has ended (nothing more will arrive).
  bool finished() const {
    const std::lock_guard lock(m_mutex);
    return m_counts.senders_ended == m_senders.size();
  }
  ReceiverCounts counts() const {
    const std::lock_guard lock(m_mutex);
    return m_counts;
  }
  std::vector<online::FailureRecord> failures() const {
    const std::lock_guard lock(m_mutex);
    return m_failures;
  }

private:
  void send_stop(std::size_t s) { // m_mutex held
    if (m_stop_sent[s]) return;
    m_stop_sent[s] = true;
    check(MPI_Isend(&m_stop_words[s], 1, MPI_UINT64_T, m_senders[s], stop_tag, m_stream->get(), &m_stop_requests[s]),
          "osbi::mpi::SampleReceiver", "MPI_Isend");
  }

  void wait_stop_sends() {
    for (auto& request : m_stop_requests)
      if (request != MPI_REQUEST_NULL) wait_politely(request, "osbi::mpi::SampleReceiver");
  }

  std::size_t sender_index(int rank) const {
    const auto found = std::find(m_senders.begin(), m_senders.end(), rank);
    require<DataError>(found != m_senders.end(), "osbi::mpi::SampleReceiver", "a sample message from rank ", rank,
                       ", which is not one of the senders");
    return static_cast<std::size_t>(found - m_senders.begin());
  }

  void receive_loop() {
    std::vector<std::byte> bytes;
    auto pause = std::chrono::microseconds(1);
    std::size_t turn = 0; // ordered: the sender whose message comes next
    for (;;) {
      int source = MPI_ANY_SOURCE;
      {
        const std::lock_guard lock(m_mutex);
        if (m_counts.senders_ended == m_senders.size()) break;
        if (m_options.ordered) {
          while (m_ended[turn]) turn = (turn + 1) % m_senders.size();
          source = m_senders[turn];
        }
      }
      int flag = 0;
      MPI_Status status;
      try {
        check(MPI_Iprobe(source, sample_tag, m_stream->get(), &flag, &status), "osbi::mpi::SampleReceiver", "MPI_Iprobe");
        if (!flag) {
          // Poll with a growing sleep: a blocking probe spins a core that simulations and training need.
          std::this_thread::sleep_for(pause);
          pause = std::min(pause * 2, std::chrono::microseconds(1000));
          continue;
        }
        pause = std::chrono::microseconds(1);
        int size = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &size), "osbi::mpi::SampleReceiver", "MPI_Get_count");
        bytes.resize(static_cast<std::size_t>(size));
        check(MPI_Recv(bytes.data(), size, MPI_BYTE, status.MPI_SOURCE, sample_tag, m_stream->get(), MPI_STATUS_IGNORE),
              "osbi::mpi::SampleReceiver", "MPI_Recv");
      } catch (...) {
        // MPI itself failed: nothing more can be received.
        const std::lock_guard lock(m_mutex);
        if (!m_error) m_error = std::current_exception();
        break;
      }
      turn = (turn + 1) % m_senders.size();
      try {
        handle(status.MPI_SOURCE, bytes);
      } catch (...) {
        const std::lock_guard lock(m_mutex);
        if (!m_error) m_error = std::current_exception();
        // A bad message from one sender says nothing about the others: keep receiving until all end.
        if (const auto found = std::find(m_senders.begin(), m_senders.end(), status.MPI_SOURCE); found != m_senders.end()) {
          const auto s = static_cast<std::size_t>(found - m_senders.begin());
          if (!m_ended[s] && bytes.size() >= sizeof(MessageHeader)) {
            MessageHeader header;
            std::memcpy(&header, bytes.data(), sizeof header);
            if (header.magic == MessageHeader::expected_magic && header.kind == MessageKind::end) end_sender(s);
          }
        }
      }
    }
    m_sink.close();
  }

  void handle(int source, const std::vector<std::byte>& bytes) {
    constexpr const char* part = "osbi::mpi::SampleReceiver";
    const std::size_t s = sender_index(source);
    const auto message = decode_message<Scalar>(bytes, m_sink.theta_dim(), m_sink.x_dim());
    const MessageHeader& h = message.header;
    {
      const std::lock_guard lock(m_mutex);
      require<DataError>(!m_ended[s], part, "a message from rank ", source, " after its end message");
      require<DataError>(h.sequence == m_expected[s], part, "message ", h.sequence, " from rank ", source, " where ",
                         m_expected[s], " was next: a message was lost or reordered");
      ++m_expected[s];
    }
    const std::size_t d_theta = m_sink.theta_dim(), d_x = m_sink.x_dim();
    ReceiverCounts pushed;
    for (std::size_t r = 0; r < h.rows; ++r) {
      const PushResult result = m_sink.push(std::span<const Scalar>(message.theta.data() + r * d_theta, d_theta),
                                            std::span<const Scalar>(message.x.data() + r * d_x, d_x), message.info[r]);
      switch (result.status) {
      case PushStatus::accepted: ++pushed.accepted; break;
      case PushStatus::dropped_invalid: ++pushed.dropped_invalid; break;
      case PushStatus::closed: ++pushed.closed; break;
      }
    }
    const std::lock_guard lock(m_mutex);
    ++m_counts.messages;
    m_counts.rows += h.rows;
    m_counts.accepted += pushed.accepted;
    m_counts.dropped_invalid += pushed.dropped_invalid;
    m_counts.closed += pushed.closed;
    m_counts.failures += h.failures;
    m_rows_from[s] += h.rows;
    m_failures_from[s] += h.failures;
    for (const auto& record : message.failures)
      if (m_failures.size() < m_options.max_failure_records) m_failures.push_back(record);
    if (h.kind == MessageKind::end) {
      end_sender(s);
      require<DataError>(h.total_rows == m_rows_from[s] && h.total_failures == m_failures_from[s], part, "rank ", source,
                         " sent ", h.total_rows, " rows and ", h.total_failures.total(), " failures to this learner; ",
                         m_rows_from[s], " rows and ", m_failures_from[s].total(), " failures arrived");
    }
  }

  void end_sender(std::size_t s) { // m_mutex held
    m_ended[s] = true;
    ++m_counts.senders_ended;
    send_stop(s);
  }

  const Communicator* m_stream;
  std::vector<int> m_senders;
  Sink& m_sink;
  StreamOptions m_options;

  mutable std::mutex m_mutex;
  std::vector<std::uint64_t> m_expected, m_rows_from;
  std::vector<FailureCounts> m_failures_from;
  std::vector<bool> m_ended, m_stop_sent;
  std::vector<std::uint64_t> m_stop_words;
  std::vector<MPI_Request> m_stop_requests;
  ReceiverCounts m_counts;
  std::vector<online::FailureRecord> m_failures;
  std::exception_ptr m_error;
  std::thread m_thread;
  bool m_started = false;
};

} // namespace osbi::mpi
