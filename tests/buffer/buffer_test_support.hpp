// SPDX-License-Identifier: BSD-3-Clause
/// \brief Shared by the buffer tests: model × policy lists, row makers, a watchdog against deadlocks, bounded waits.
#pragma once

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <support/test_seed.hpp>

#include <boost/mpl/list.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::testing {

using Block = osbi::overflow::Block;
using Evict = osbi::overflow::Evict;

/// Every model under both overflow policies.
using AllBuffers = boost::mpl::list<FifoBuffer<Block>, FifoBuffer<Evict>, FiroBuffer<Block>, FiroBuffer<Evict>,
                                    ReservoirBuffer<Block>, ReservoirBuffer<Evict>, PrioritizedBuffer<Block>,
                                    PrioritizedBuffer<Evict>>;

/// Both overflow policies.
using Policies = boost::mpl::list<Block, Evict>;

/// FIFO and FIRO deliver a row once and remove it; reservoir and prioritized keep it.
template <class Buffer>
constexpr bool consumes_rows = !osbi::reuses_rows<Buffer>;

template <class Buffer>
constexpr bool blocks_when_full = std::is_same_v<typename Buffer::overflow_policy, Block>;

inline BufferOptions buffer_options(std::size_t capacity, std::size_t theta_dim = 3, std::size_t x_dim = 2,
                                    std::size_t watermark = 0) {
  return BufferOptions{capacity, theta_dim, x_dim, watermark, test_seed()};
}

/// θ and x of sample k: θ = (k, k + 0.25, −k, ...), x = (2k, 2k + 0.5, ...), exact in float for k < 2^21.
template <class Scalar>
std::vector<Scalar> theta_of(std::uint64_t k, std::size_t dim = 3) {
  std::vector<Scalar> theta(dim);
  for (std::size_t j = 0; j < dim; ++j)
    theta[j] = static_cast<Scalar>(j % 3 == 0 ? double(k) : j % 3 == 1 ? double(k) + 0.25 : -double(k));
  return theta;
}
template <class Scalar>
std::vector<Scalar> x_of(std::uint64_t k, std::size_t dim = 2) {
  std::vector<Scalar> x(dim);
  for (std::size_t j = 0; j < dim; ++j) x[j] = static_cast<Scalar>(2.0 * double(k) + 0.5 * double(j));
  return x;
}

/// Pushes sample k (θ = theta_of(k), x = x_of(k)) with the buffer's dimensions.
template <class Buffer>
PushResult push_sample(Buffer& buffer, std::uint64_t k) {
  using Scalar = typename Buffer::scalar_type;
  const auto theta = theta_of<Scalar>(k, buffer.theta_dim());
  const auto x = x_of<Scalar>(k, buffer.x_dim());
  return buffer.push(theta, x);
}

/// One call of sample_batch with owned outputs.
template <class Scalar>
struct Batch {
  std::size_t rows = 0;
  std::vector<Scalar> theta, x;
  std::vector<std::uint64_t> ids;
};

template <class Buffer>
Batch<typename Buffer::scalar_type> take(Buffer& buffer, std::size_t n) {
  Batch<typename Buffer::scalar_type> batch;
  batch.theta.assign(n * buffer.theta_dim(), 0);
  batch.x.assign(n * buffer.x_dim(), 0);
  batch.ids.assign(n, ~std::uint64_t{0});
  batch.rows = buffer.sample_batch(n, batch.theta, batch.x, batch.ids);
  batch.ids.resize(batch.rows);
  return batch;
}

/// True if every delivered row is the one pushed as sample `ids[r]` by push_sample with k = id + offset.
template <class Scalar>
bool rows_match_ids(const Batch<Scalar>& batch, std::size_t theta_dim, std::size_t x_dim, std::uint64_t offset = 0) {
  for (std::size_t r = 0; r < batch.rows; ++r) {
    const auto theta = theta_of<Scalar>(batch.ids[r] + offset, theta_dim);
    const auto x = x_of<Scalar>(batch.ids[r] + offset, x_dim);
    for (std::size_t j = 0; j < theta_dim; ++j)
      if (batch.theta[r * theta_dim + j] != theta[j]) return false;
    for (std::size_t j = 0; j < x_dim; ++j)
      if (batch.x[r * x_dim + j] != x[j]) return false;
  }
  return true;
}

/// Aborts the whole test program if not dismissed within `limit`: a deadlocked thread cannot be
/// joined, so a hang becomes a failure with a message instead of a CI timeout.
class Watchdog {
public:
  Watchdog(std::chrono::seconds limit, std::string what)
      : m_what(std::move(what)), m_thread([this, limit] {
          std::unique_lock lock(m_mutex);
          if (!m_done.wait_for(lock, limit, [this] { return m_dismissed; })) {
            std::cerr << "osbi buffer tests: '" << m_what << "' did not finish within " << limit.count()
                      << " s (deadlock?); aborting" << std::endl;
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      const std::lock_guard lock(m_mutex);
      m_dismissed = true;
    }
    m_done.notify_all();
    m_thread.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::string m_what;
  std::mutex m_mutex;
  std::condition_variable m_done;
  bool m_dismissed = false;
  std::thread m_thread; // last: starts after the members it uses
};

/// The generous limit of every wait in these tests (a correct run needs milliseconds).
inline constexpr std::chrono::seconds deadline{120};

/// Polls `condition` (yielding) until it holds or `limit` passes; returns whether it held.
template <class Condition>
bool eventually(Condition condition, std::chrono::seconds limit = deadline) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Number of samples held that were never delivered.
inline std::uint64_t unseen_held(const BufferAccounting& accounting) {
  return accounting.use_histogram[0] - accounting.evicted_unseen;
}

/// Whether push would return at once (not wait) on a buffer that nobody else touches.
template <class Buffer>
bool push_would_not_wait(const Buffer& buffer) {
  if (!blocks_when_full<Buffer> || buffer.closed()) return true;
  const BufferAccounting accounting = buffer.accounting();
  if (accounting.in_buffer < buffer.capacity()) return true;
  return !consumes_rows<Buffer> && unseen_held(accounting) < accounting.in_buffer;
}

} // namespace osbi::testing
