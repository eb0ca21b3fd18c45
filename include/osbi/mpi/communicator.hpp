// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::Communicator: osbi's own duplicate of a communicator the caller gives it, with MPI errors turned into exceptions.
#pragma once

#include <osbi/core/error.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace osbi::mpi {

/// Throws osbi::Error naming the part and MPI's own text unless `code` is MPI_SUCCESS.
inline void check(int code, std::string_view part, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(part, osbi::detail::concat(call, " failed: ", std::string(text, static_cast<std::size_t>(std::max(length, 0)))));
}

/// The MPI datatype of a C++ scalar osbi sends (floating-point samples and gradients, 64-bit counts).
template <class T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else
    static_assert(sizeof(T) == 0, "osbi::mpi::datatype: no MPI datatype for this type (float, double, 64-bit integers)");
}

/// The thread level MPI was initialized with (MPI_Query_thread). Requires MPI to be initialized.
inline int thread_level() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  require(initialized != 0, "osbi::mpi", "MPI is not initialized: the application calls MPI_Init_thread before using osbi::mpi");
  int level = MPI_THREAD_SINGLE;
  check(MPI_Query_thread(&level), "osbi::mpi", "MPI_Query_thread");
  return level;
}

inline std::string_view thread_level_name(int level) {
  if (level == MPI_THREAD_SINGLE) return "MPI_THREAD_SINGLE";
  if (level == MPI_THREAD_FUNNELED) return "MPI_THREAD_FUNNELED";
  if (level == MPI_THREAD_SERIALIZED) return "MPI_THREAD_SERIALIZED";
  if (level == MPI_THREAD_MULTIPLE) return "MPI_THREAD_MULTIPLE";
  return "an unknown thread level";
}

/// Throws InvalidArgument naming the part unless MPI was initialized with at least `needed`.
inline void require_thread_level(int needed, std::string_view part, std::string_view why) {
  const int level = thread_level();
  require(level >= needed, part, "needs ", thread_level_name(needed), " (", why, "), but MPI was initialized with ",
          thread_level_name(level), ": call MPI_Init_thread(&argc, &argv, ", thread_level_name(needed), ", &provided)");
}

/// Waits for a request: MPI_Test in a tight loop (yielding the core) for the first 200 µs, so a request that
/// completes soon costs no more than MPI_Wait; then with a growing sleep (up to 1 ms) instead of MPI_Wait's busy
/// progress loop, which would take a whole core from the simulations and the trainer sharing the node.
inline void wait_politely(MPI_Request& request, std::string_view part) {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  auto pause = std::chrono::microseconds(1);
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), part, "MPI_Test");
    if (done) return;
    if (std::chrono::steady_clock::now() < spin_until) {
      std::this_thread::yield();
      continue;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

/*
 * Communicator — a communicator osbi owns: MPI_Comm_dup of the one the caller passes (so osbi's
 * messages never match the application's), with MPI_ERRORS_RETURN so a failed call becomes an
 * osbi::Error instead of an abort. Freed on destruction (unless MPI was finalized first). Move-only.
 * An empty Communicator (MPI_COMM_NULL) stands for "this rank is not a member".
 */
class Communicator {
public:
  Communicator() = default;

  /// Duplicates `parent` (a collective over parent).
  explicit Communicator(MPI_Comm parent) {
    require(parent != MPI_COMM_NULL, "osbi::mpi::Communicator", "the communicator to duplicate is MPI_COMM_NULL");
    check(MPI_Comm_dup(parent, &m_comm), "osbi::mpi::Communicator", "MPI_Comm_dup");
    init();
  }

  /// Takes ownership of a communicator osbi created itself (MPI_Comm_split): no second duplicate.
  static Communicator adopt(MPI_Comm owned) {
    Communicator out;
    out.m_comm = owned;
    if (owned != MPI_COMM_NULL) out.init();
    return out;
  }

  Communicator(Communicator&& other) noexcept : m_comm(std::exchange(other.m_comm, MPI_COMM_NULL)), m_rank(other.m_rank), m_size(other.m_size) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      m_comm = std::exchange(other.m_comm, MPI_COMM_NULL);
      m_rank = other.m_rank;
      m_size = other.m_size;
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { release(); }

  /// Whether this rank belongs to the communicator.
  bool member() const { return m_comm != MPI_COMM_NULL; }
  MPI_Comm get() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }

  /// Splits this communicator (a collective over it): ranks with the same color share a new one, ordered
  /// by key; color < 0 gives an empty Communicator.
  Communicator split(int color, int key) const {
    MPI_Comm out = MPI_COMM_NULL;
    check(MPI_Comm_split(m_comm, color < 0 ? MPI_UNDEFINED : color, key, &out), "osbi::mpi::Communicator", "MPI_Comm_split");
    return adopt(out);
  }

private:
  void init() {
    check(MPI_Comm_set_errhandler(m_comm, MPI_ERRORS_RETURN), "osbi::mpi::Communicator", "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(m_comm, &m_rank), "osbi::mpi::Communicator", "MPI_Comm_rank");
    check(MPI_Comm_size(m_comm, &m_size), "osbi::mpi::Communicator", "MPI_Comm_size");
  }
  void release() noexcept {
    if (m_comm == MPI_COMM_NULL) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&m_comm);
    m_comm = MPI_COMM_NULL;
  }

  MPI_Comm m_comm = MPI_COMM_NULL;
  int m_rank = -1, m_size = 0;
};

/// In-place sum over the communicator's ranks (MPI_Iallreduce, then wait_politely): every rank gets the sum.
inline void sum_politely(void* values, int count, MPI_Datatype type, const Communicator& communicator, std::string_view part) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Iallreduce(MPI_IN_PLACE, values, count, type, MPI_SUM, communicator.get(), &request), part, "MPI_Iallreduce");
  wait_politely(request, part);
}

namespace detail {

/// A byte string of any length from one rank to another (its length, then pieces of at most 1 GiB: MPI counts are int).
inline constexpr std::size_t bytes_per_piece = std::size_t{1} << 30;

inline void send_bytes(const Communicator& communicator, int destination, int tag, const std::string& bytes, std::string_view part) {
  std::uint64_t length = bytes.size();
  check(MPI_Send(&length, 1, MPI_UINT64_T, destination, tag, communicator.get()), part, "MPI_Send");
  for (std::size_t at = 0; at < bytes.size(); at += bytes_per_piece) {
    const std::size_t piece = std::min(bytes_per_piece, bytes.size() - at);
    check(MPI_Send(bytes.data() + at, static_cast<int>(piece), MPI_BYTE, destination, tag, communicator.get()), part, "MPI_Send");
  }
}

inline std::string receive_bytes(const Communicator& communicator, int source, int tag, std::string_view part) {
  std::uint64_t length = 0;
  check(MPI_Recv(&length, 1, MPI_UINT64_T, source, tag, communicator.get(), MPI_STATUS_IGNORE), part, "MPI_Recv");
  std::string bytes(static_cast<std::size_t>(length), '\0');
  for (std::size_t at = 0; at < bytes.size(); at += bytes_per_piece) {
    const std::size_t piece = std::min(bytes_per_piece, bytes.size() - at);
    check(MPI_Recv(bytes.data() + at, static_cast<int>(piece), MPI_BYTE, source, tag, communicator.get(), MPI_STATUS_IGNORE), part,
          "MPI_Recv");
  }
  return bytes;
}

} // namespace detail

} // namespace osbi::mpi
