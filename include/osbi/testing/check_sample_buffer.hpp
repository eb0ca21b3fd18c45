// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_sample_buffer(b): run-time conformance check of a SampleBuffer model against the specs in osbi/buffer/.
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>
#include <osbi/core/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::testing {

namespace check_sample_buffer_detail {

template <class... Args>
std::string text(const Args&... args) {
  std::ostringstream stream;
  stream.precision(17);
  (stream << ... << args);
  return stream.str();
}

/// Thrown inside the check when going on would only repeat an earlier failure.
struct Abort {};

// The values of sample `id`: θ_0 = id names the row wherever it comes out; exact in float for id < 2^20.
template <class Scalar>
std::vector<Scalar> theta_of(std::uint64_t id, std::size_t dim) {
  std::vector<Scalar> theta(dim);
  for (std::size_t j = 0; j < dim; ++j)
    theta[j] = static_cast<Scalar>(static_cast<double>(id) + 0.125 * double(j));
  return theta;
}
template <class Scalar>
std::vector<Scalar> x_of(std::uint64_t id, std::size_t dim) {
  std::vector<Scalar> x(dim);
  for (std::size_t j = 0; j < dim; ++j)
    x[j] = static_cast<Scalar>(-static_cast<double>(id) - 0.5 - 0.25 * double(j));
  return x;
}
inline SampleInfo info_of(std::uint64_t id) {
  return SampleInfo{3 * id + 1, 0.5 * static_cast<double>(id), -0.75 * static_cast<double>(id) - 1.0};
}

/// What the specs say the buffer holds and has counted, kept by the check from what the buffer
/// reported (push results, delivered rows).
struct Ledger {
  std::uint64_t pushed_total = 0, dropped_invalid = 0, rejected_closed = 0, arrivals = 0;
  std::uint64_t total_uses = 0, evicted_used = 0, evicted_unseen = 0;
  std::vector<std::uint64_t> uses; ///< per id
  std::vector<char> held;          ///< per id

  std::size_t held_count() const { return static_cast<std::size_t>(std::count(held.begin(), held.end(), 1)); }
  bool all_held_unseen() const {
    for (std::size_t id = 0; id < held.size(); ++id)
      if (held[id] && uses[id] > 0) return false;
    return true;
  }
  BufferAccounting accounting() const {
    BufferAccounting expected;
    expected.pushed_total = pushed_total;
    expected.dropped_invalid = dropped_invalid;
    expected.rejected_closed = rejected_closed;
    expected.in_buffer = held_count();
    expected.evicted_used = evicted_used;
    expected.evicted_unseen = evicted_unseen;
    expected.total_uses = total_uses;
    for (const std::uint64_t count : uses) {
      expected.max_uses = std::max(expected.max_uses, count);
      ++expected.use_histogram[use_histogram_bin(count)];
    }
    return expected;
  }
};

/// The first field in which two states differ, or "".
template <class Scalar>
std::string state_difference(const BufferState<Scalar>& a, const BufferState<Scalar>& b) {
  if (a.kind != b.kind) return "kind";
  if (a.capacity != b.capacity || a.theta_dim != b.theta_dim || a.x_dim != b.x_dim) return "capacity or dims";
  const auto same_bits = [](const auto& u, const auto& v) {
    if (u.size() != v.size()) return false;
    for (std::size_t k = 0; k < u.size(); ++k)
      if (!(u[k] == v[k] || (std::isnan(double(u[k])) && std::isnan(double(v[k]))))) return false;
    return true;
  };
  if (!same_bits(a.theta, b.theta)) return "theta";
  if (!same_bits(a.x, b.x)) return "x";
  if (a.ids != b.ids) return "ids";
  if (a.uses != b.uses) return "uses";
  if (a.generations != b.generations) return "generations";
  if (!same_bits(a.simulation_seconds, b.simulation_seconds)) return "simulation_seconds";
  if (!same_bits(a.proposal_log_probs, b.proposal_log_probs)) return "proposal_log_probs";
  if (!same_bits(a.priorities, b.priorities) || !(a.max_priority == b.max_priority)) return "priorities";
  if (a.pushed_total != b.pushed_total || a.dropped_invalid != b.dropped_invalid ||
      a.rejected_closed != b.rejected_closed || a.evicted_used != b.evicted_used ||
      a.evicted_unseen != b.evicted_unseen || a.total_uses != b.total_uses || a.arrivals != b.arrivals ||
      a.departed_uses != b.departed_uses || a.departed_max_uses != b.departed_max_uses ||
      a.departed_histogram != b.departed_histogram)
    return "counters";
  if (a.seed != b.seed || a.random_draws != b.random_draws) return "random state";
  return "";
}

/// The three sample_batch overloads.
enum class Overload { plain, ids, metadata };

inline std::string_view overload_name(Overload overload) {
  switch (overload) {
  case Overload::plain:
    return "sample_batch(n, theta, x)";
  case Overload::ids:
    return "sample_batch(n, theta, x, ids)";
  case Overload::metadata:
    return "sample_batch(n, theta, x, metadata)";
  }
  return "sample_batch";
}

template <class Buffer>
class Checker {
public:
  using Scalar = typename Buffer::scalar_type;
  static constexpr bool reuses = reuses_rows<Buffer>;
  static constexpr bool blocks = std::is_same_v<typename Buffer::overflow_policy, overflow::Block>;

  Checker(Buffer& buffer, ConformanceReport& report, std::chrono::milliseconds patience)
      : m_buffer(buffer), m_report(report), m_patience(patience), m_capacity(buffer.capacity()),
        m_theta_dim(buffer.theta_dim()), m_x_dim(buffer.x_dim()) {}

  void run() {
    if (m_capacity == 0 || m_theta_dim == 0 || m_x_dim == 0) {
      fail(text("capacity() = ", m_capacity, ", theta_dim() = ", m_theta_dim, ", x_dim() = ", m_x_dim,
                ": all must be > 0"));
      return;
    }
    fresh();
    dimension_errors();
    arrivals_wake_waiters();
    non_finite_rows();
    fill();
    full_buffer();
    deliveries();
    if constexpr (PrioritizedSampleSource<Buffer>) priorities();
    snapshot_and_restore();
    close_semantics();
  }

private:
  void fail(std::string line) { m_report.fail(std::move(line)); }

  // Runs `call` on another thread and waits at most the patience: a call the spec says returns at
  // once must not hang the check. After a timeout the buffer is closed (which wakes every waiter)
  // and the check ends.
  template <class Call>
  auto timed(std::string_view what, Call call) {
    auto future = std::async(std::launch::async, call);
    if (future.wait_for(m_patience) != std::future_status::ready) {
      fail(text(what, " did not return within ", m_patience.count(), " ms although the spec says it does not wait"));
      m_buffer.close();
      future.wait();
      throw Abort{};
    }
    return future.get();
  }

  // "" if `call` throws Exception, else what happened instead.
  template <class Exception, class Call>
  std::string expect_throw(Call call) {
    try {
      call();
    } catch (const Exception&) {
      return "";
    } catch (const Abort&) {
      throw;
    } catch (const std::exception& error) {
      return text("threw \"", error.what(), "\" of another type");
    }
    return "did not throw";
  }

  void check_accounting(std::string_view when) {
    const BufferAccounting actual = m_buffer.accounting();
    const BufferAccounting expected = m_ledger.accounting();
    if (!actual.consistent()) fail(text("after ", when, ": accounting().consistent() is false"));
    const auto compare = [&](std::string_view name, std::uint64_t got, std::uint64_t want) {
      if (got != want) fail(text("after ", when, ": ", name, " = ", got, ", expected ", want));
    };
    compare("accounting().pushed_total", actual.pushed_total, expected.pushed_total);
    compare("accounting().dropped_invalid", actual.dropped_invalid, expected.dropped_invalid);
    compare("accounting().rejected_closed", actual.rejected_closed, expected.rejected_closed);
    compare("accounting().in_buffer", actual.in_buffer, expected.in_buffer);
    compare("accounting().evicted_used", actual.evicted_used, expected.evicted_used);
    compare("accounting().evicted_unseen", actual.evicted_unseen, expected.evicted_unseen);
    compare("accounting().total_uses", actual.total_uses, expected.total_uses);
    compare("accounting().max_uses", actual.max_uses, expected.max_uses);
    if (actual.use_histogram != expected.use_histogram)
      fail(text("after ", when, ": accounting().use_histogram does not match the deliveries of each sample"));
    compare("size()", m_buffer.size(), expected.in_buffer);
    compare("arrivals()", m_buffer.arrivals(), m_ledger.arrivals);
  }

  // One push of sample `id` (the next arrival index if it is accepted), θ/x possibly spoiled.
  PushResult push(std::uint64_t id, std::string_view when, std::optional<std::pair<bool, std::size_t>> spoil = {},
                  Scalar spoiled_value = Scalar(0)) {
    std::vector<Scalar> theta = theta_of<Scalar>(id, m_theta_dim), x = x_of<Scalar>(id, m_x_dim);
    if (spoil) (spoil->first ? theta : x)[spoil->second] = spoiled_value;
    const SampleInfo info = info_of(id);
    return timed(text("push (", when, ")"),
                 [&] { return m_buffer.push(std::span<const Scalar>(theta), std::span<const Scalar>(x), info); });
  }

  // Whether the spec lets a push of a valid row wait now.
  bool push_may_wait() const {
    if (!blocks || m_closed) return false;
    if (m_ledger.held_count() < m_capacity) return false;
    return !reuses || m_ledger.all_held_unseen();
  }

  // Checks a push result of a valid row against the ledger (before the push) and books it.
  void book_push(const PushResult& result, bool was_full, std::string_view when) {
    ++m_ledger.pushed_total;
    if (m_closed) {
      if (result.status != PushStatus::closed)
        fail(text(when, ": a push after close() returned '", push_status_name(result.status), "', expected 'closed'"));
      ++m_ledger.rejected_closed;
      if (result.status == PushStatus::accepted) throw Abort{};
      return;
    }
    if (!result.accepted()) {
      fail(text(when, ": a push of a valid row returned '", push_status_name(result.status), "'"));
      throw Abort{};
    }
    if (result.id != m_ledger.arrivals) {
      fail(text(when, ": the accepted push got id ", result.id, ", expected the arrival index ", m_ledger.arrivals));
      throw Abort{};
    }
    if (result.evicted) {
      const std::uint64_t gone = *result.evicted;
      if (!was_full) fail(text(when, ": a push into a buffer that was not full evicted id ", gone));
      if (gone >= m_ledger.held.size() || !m_ledger.held[gone]) {
        fail(text(when, ": the push reports evicting id ", gone, ", which the buffer did not hold"));
        throw Abort{};
      }
      if (blocks && m_ledger.uses[gone] == 0)
        fail(text(when, ": under overflow::Block the push evicted id ", gone, ", which was never delivered"));
      m_ledger.held[gone] = 0;
      ++(m_ledger.uses[gone] == 0 ? m_ledger.evicted_unseen : m_ledger.evicted_used);
    } else if (was_full) {
      fail(text(when, ": a push into a full buffer was accepted without evicting a row"));
      throw Abort{};
    }
    m_ledger.uses.push_back(0);
    m_ledger.held.push_back(1);
    ++m_ledger.arrivals;
  }

  // A push that must not wait, checked and booked.
  PushResult push_valid(std::string_view when) {
    const bool was_full = m_ledger.held_count() == m_capacity;
    const PushResult result = push(m_ledger.arrivals, when);
    book_push(result, was_full, when);
    return result;
  }

  // One batch through one overload: every row must be a held row with its pushed values and
  // metadata; rows past the count stay untouched. `trace` (optional) records what came out.
  std::size_t take(std::size_t n, Overload overload, std::string_view when, std::vector<double>* trace = nullptr,
                   bool may_wait = false) {
    const Scalar sentinel = std::numeric_limits<Scalar>::quiet_NaN();
    std::vector<Scalar> theta(n * m_theta_dim, sentinel), x(n * m_x_dim, sentinel);
    std::vector<std::uint64_t> ids(n, ~std::uint64_t{0});
    std::vector<SampleMetadata> metadata(n, SampleMetadata{~std::uint64_t{0}, 0, 0, 0.0, 0.0});
    const auto call = [&] {
      switch (overload) {
      case Overload::plain:
        return m_buffer.sample_batch(n, std::span<Scalar>(theta), std::span<Scalar>(x));
      case Overload::ids:
        return m_buffer.sample_batch(n, std::span<Scalar>(theta), std::span<Scalar>(x), std::span<std::uint64_t>(ids));
      case Overload::metadata:
        return m_buffer.sample_batch(n, std::span<Scalar>(theta), std::span<Scalar>(x),
                                     std::span<SampleMetadata>(metadata));
      }
      return std::size_t{0};
    };
    const std::string what = text(overload_name(overload), " with n = ", n, " (", when, ")");
    const std::size_t rows = may_wait ? call() : timed(what, call);
    const std::size_t expected = std::min(n, m_ledger.held_count());
    if (rows != expected) {
      fail(text(what, " returned ", rows, " rows; the buffer held ", m_ledger.held_count(), ", expected ", expected));
      if (rows > n) throw Abort{};
    }
    if (trace) trace->push_back(static_cast<double>(rows));
    for (std::size_t r = 0; r < std::min(rows, n); ++r) {
      const double first = static_cast<double>(theta[r * m_theta_dim]);
      const bool integral = std::isfinite(first) && first >= 0 && first == std::floor(first) &&
                            first < static_cast<double>(m_ledger.held.size());
      const auto id = integral ? static_cast<std::uint64_t>(first) : ~std::uint64_t{0};
      if (!integral || !m_ledger.held[id]) {
        fail(text(what, ": row ", r, " (theta[0] = ", first, ") is not a row the buffer holds",
                  reuses ? "" : " (or it was delivered before, which a consuming buffer must not do)"));
        throw Abort{};
      }
      const auto want_theta = theta_of<Scalar>(id, m_theta_dim);
      const auto want_x = x_of<Scalar>(id, m_x_dim);
      if (!std::equal(want_theta.begin(), want_theta.end(), theta.begin() + std::ptrdiff_t(r * m_theta_dim)) ||
          !std::equal(want_x.begin(), want_x.end(), x.begin() + std::ptrdiff_t(r * m_x_dim)))
        fail(text(what, ": row ", r, " (id ", id, ") has values other than those pushed"));
      ++m_ledger.uses[id];
      ++m_ledger.total_uses;
      if (overload == Overload::ids && ids[r] != id)
        fail(text(what, ": ids_out[", r, "] = ", ids[r], " but the row is sample ", id));
      if (overload == Overload::metadata) {
        const SampleMetadata& got = metadata[r];
        const SampleInfo info = info_of(id);
        if (got.id != id) fail(text(what, ": metadata[", r, "].id = ", got.id, " but the row is sample ", id));
        if (got.uses != m_ledger.uses[id])
          fail(text(what, ": metadata[", r, "].uses = ", got.uses, " for sample ", id, ", expected ", m_ledger.uses[id],
                    " (its deliveries, this one included)"));
        if (got.generation != info.generation || got.simulation_seconds != info.simulation_seconds ||
            got.proposal_log_prob != info.proposal_log_prob)
          fail(text(what, ": metadata[", r, "] of sample ", id, " has generation ", got.generation,
                    ", simulation_seconds ", got.simulation_seconds, ", proposal_log_prob ", got.proposal_log_prob,
                    "; pushed ", info.generation, ", ", info.simulation_seconds, ", ", info.proposal_log_prob));
      }
      if (trace) {
        trace->push_back(static_cast<double>(id));
        if (overload == Overload::metadata) trace->push_back(static_cast<double>(metadata[r].uses));
      }
      if (!reuses) {
        m_ledger.held[id] = 0;
        ++m_ledger.evicted_used;
      }
    }
    for (std::size_t r = rows; r < n; ++r)
      if (!std::isnan(static_cast<double>(theta[r * m_theta_dim])) ||
          !std::isnan(static_cast<double>(x[r * m_x_dim]))) {
        fail(text(what, ": row ", r, " past the ", rows, " delivered rows was written"));
        break;
      }
    return rows;
  }

  // ---- the steps

  void fresh() {
    if (m_buffer.size() != 0 || m_buffer.arrivals() != 0 || m_buffer.closed()) {
      fail(text("check_sample_buffer needs a fresh buffer: size() = ", m_buffer.size(),
                ", arrivals() = ", m_buffer.arrivals(), ", closed() = ", m_buffer.closed()));
      throw Abort{};
    }
    if (m_buffer.blocked_producers() != 0)
      fail(text("a fresh buffer reports ", m_buffer.blocked_producers(), " blocked producers"));
    check_accounting("construction");
  }

  void dimension_errors() {
    // Views over storage large enough for any shape tried, so a model that forgets a check cannot
    // read or write outside it.
    const std::size_t room = 4 * (m_theta_dim + m_x_dim + 2);
    std::vector<Scalar> storage(room, Scalar(1));
    const std::span<const Scalar> all(storage);
    const auto push_shape = [&](std::size_t theta_size, std::size_t x_size) {
      const std::string what = expect_throw<DimensionMismatch>([&] {
        timed("push with a wrong shape", [&] { return m_buffer.push(all.first(theta_size), all.first(x_size), {}); });
      });
      if (!what.empty())
        fail(text("push with ", theta_size, " theta and ", x_size, " x values (theta_dim() = ", m_theta_dim,
                  ", x_dim() = ", m_x_dim, ") ", what, " osbi::DimensionMismatch"));
    };
    push_shape(m_theta_dim + 1, m_x_dim);
    push_shape(m_theta_dim, m_x_dim + 1);
    if (m_theta_dim > 1) push_shape(m_theta_dim - 1, m_x_dim);

    std::vector<Scalar> out(room, Scalar(0));
    std::vector<std::uint64_t> ids(4);
    std::vector<SampleMetadata> metadata(4);
    const std::span<Scalar> out_all(out);
    // On an empty buffer: the shape must be refused before any waiting.
    const auto batch_shape = [&](std::string_view description, auto call) {
      const std::string what =
          expect_throw<DimensionMismatch>([&] { timed(text("sample_batch ", description), call); });
      if (!what.empty()) fail(text("sample_batch ", description, " ", what, " osbi::DimensionMismatch"));
    };
    batch_shape(text("(2, theta of ", 2 * m_theta_dim + 1, " values)"), [&] {
      return m_buffer.sample_batch(2, out_all.first(2 * m_theta_dim + 1), out_all.first(2 * m_x_dim));
    });
    batch_shape(text("(2, x of ", 2 * m_x_dim - 1, " values)"), [&] {
      return m_buffer.sample_batch(2, out_all.first(2 * m_theta_dim), out_all.first(2 * m_x_dim - 1));
    });
    batch_shape("(2, ids of 3 entries)", [&] {
      return m_buffer.sample_batch(2, out_all.first(2 * m_theta_dim), out_all.first(2 * m_x_dim),
                                   std::span<std::uint64_t>(ids).first(3));
    });
    batch_shape("(2, metadata of 1 entry)", [&] {
      return m_buffer.sample_batch(2, out_all.first(2 * m_theta_dim), out_all.first(2 * m_x_dim),
                                   std::span<SampleMetadata>(metadata).first(1));
    });
    const std::string zero = expect_throw<InvalidArgument>([&] {
      timed("sample_batch with n = 0", [&] { return m_buffer.sample_batch(0, out_all.first(0), out_all.first(0)); });
    });
    if (!zero.empty()) fail(text("sample_batch with n = 0 ", zero, " osbi::InvalidArgument"));
    check_accounting("calls with wrong shapes (nothing may be counted)");
  }

  void arrivals_wake_waiters() {
    if (!timed("wait_for_arrivals(0)", [&] { return m_buffer.wait_for_arrivals(0); }))
      fail("wait_for_arrivals(0) returned false on an open buffer");
    auto waiter = std::async(std::launch::async, [&] { return m_buffer.wait_for_arrivals(1); });
    push_valid("the first push, with a wait_for_arrivals(1) waiting");
    if (waiter.wait_for(m_patience) != std::future_status::ready) {
      fail("wait_for_arrivals(1) did not wake up when the first row was accepted");
      m_buffer.close();
      waiter.wait();
      throw Abort{};
    }
    if (!waiter.get()) fail("wait_for_arrivals(1) returned false although a row was accepted");
    check_accounting("the first push");
  }

  void non_finite_rows() {
    constexpr Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    constexpr Scalar inf = std::numeric_limits<Scalar>::infinity();
    const std::pair<bool, std::size_t> spoils[] = {{true, m_theta_dim - 1}, {false, 0}, {true, 0}};
    const Scalar values[] = {nan, inf, -inf};
    for (int k = 0; k < 3; ++k) {
      const PushResult result = push(m_ledger.arrivals, "a row with a NaN or Inf", spoils[k], values[k]);
      ++m_ledger.pushed_total;
      ++m_ledger.dropped_invalid;
      if (result.status != PushStatus::dropped_invalid)
        fail(text("a push with ", values[k], " in ", spoils[k].first ? "theta[" : "x[", spoils[k].second,
                  "] returned '", push_status_name(result.status), "', expected 'dropped_invalid'"));
      if (result.accepted()) throw Abort{};
    }
    check_accounting("three pushes with NaN/Inf values");
  }

  void fill() {
    while (m_ledger.held_count() < m_capacity)
      push_valid("filling the buffer");
    check_accounting(text("filling the buffer to its capacity ", m_capacity));
  }

  // A full buffer of rows nobody has seen: Evict evicts at once, Block waits for a delivery.
  void full_buffer() {
    if constexpr (!blocks) {
      push_valid("a push into a full buffer (overflow::Evict: must not wait)");
    } else {
      const std::uint64_t id = m_ledger.arrivals;
      auto producer = std::async(std::launch::async, [&] {
        const auto theta = theta_of<Scalar>(id, m_theta_dim), x = x_of<Scalar>(id, m_x_dim);
        return m_buffer.push(std::span<const Scalar>(theta), std::span<const Scalar>(x), info_of(id));
      });
      const auto deadline = std::chrono::steady_clock::now() + m_patience;
      while (m_buffer.blocked_producers() != 1 &&
             producer.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready &&
             std::chrono::steady_clock::now() < deadline) {
      }
      if (producer.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        fail(text("a push into a full buffer of undelivered rows returned '", push_status_name(producer.get().status),
                  "' at once; under overflow::Block it must wait for a delivery"));
        throw Abort{};
      }
      if (m_buffer.blocked_producers() != 1) {
        fail("a push waiting in a full buffer (overflow::Block) is not counted by blocked_producers()");
        m_buffer.close();
        producer.wait();
        throw Abort{};
      }
      // A delivery makes room: a consuming buffer loses the row, a reusing one may replace it.
      take(1, Overload::metadata, "a delivery while a push waits in a full buffer");
      const bool was_full = m_ledger.held_count() == m_capacity;
      if (producer.wait_for(m_patience) != std::future_status::ready) {
        fail("a push waiting in a full buffer (overflow::Block) did not go on after a row was delivered");
        m_buffer.close();
        producer.wait();
        throw Abort{};
      }
      book_push(producer.get(), was_full, "the push that waited for a delivery");
      if (m_buffer.blocked_producers() != 0)
        fail(text("blocked_producers() = ", m_buffer.blocked_producers(), " after the waiting push returned"));
    }
    check_accounting("a push into a full buffer");
  }

  // Whole batches through each overload; n > capacity gives min(n, size()) rows.
  void deliveries() {
    const std::size_t n = std::min<std::size_t>(m_capacity, 2);
    for (int round = 0; round < 6; ++round) {
      while (m_ledger.held_count() < n)
        push_valid("refilling before a batch");
      const auto overload = static_cast<Overload>(round % 3);
      take(n, overload, text("delivery round ", round));
      check_accounting(text(overload_name(overload), " in delivery round ", round));
      if constexpr (reuses) {
        // A reusing buffer that holds delivered rows replaces one at once, under either policy.
        if (!push_may_wait()) push_valid(text("a push into a reusing buffer after round ", round));
      }
    }
    while (m_ledger.held_count() < m_capacity)
      push_valid("refilling to the capacity");
    take(m_capacity + 1, Overload::metadata, "a batch of capacity + 1 rows (delivers the capacity)");
    check_accounting("a batch larger than the capacity");
  }

  void priorities() {
    if constexpr (PrioritizedSampleSource<Buffer>) {
      std::vector<std::uint64_t> ids;
      for (std::uint64_t id = 0; id < m_ledger.held.size() && ids.size() < 2; ++id)
        if (m_ledger.held[id]) ids.push_back(id);
      if (ids.empty()) return;
      const BufferState<Scalar> before = m_buffer.snapshot();
      const std::vector<double> one{1.0}, bad_nan{std::numeric_limits<double>::quiet_NaN(), 1.0},
          bad_negative{-1.0, 1.0};
      const std::span<const std::uint64_t> id_span(ids);
      if (ids.size() == 2) {
        const std::string sizes =
            expect_throw<DimensionMismatch>([&] { m_buffer.update_priorities(id_span, std::span<const double>(one)); });
        if (!sizes.empty()) fail(text("update_priorities with 2 ids and 1 value ", sizes, " osbi::DimensionMismatch"));
      }
      for (const auto* values : {&bad_nan, &bad_negative}) {
        const std::string what = expect_throw<InvalidArgument>(
            [&] { m_buffer.update_priorities(id_span, std::span<const double>(*values).first(ids.size())); });
        if (!what.empty())
          fail(text("update_priorities with the value ", values->front(), " ", what, " osbi::InvalidArgument"));
      }
      if (const std::string field = state_difference(before, m_buffer.snapshot()); !field.empty())
        fail(text("a rejected update_priorities changed the buffer (", field, ")"));
      const std::vector<double> good(ids.size(), 2.5);
      m_buffer.update_priorities(id_span, std::span<const double>(good));
    }
  }

  // A fixed sequence of calls that never wait, recorded; priorities fed back when the model takes them.
  std::vector<double> script(std::string_view when) {
    std::vector<double> trace;
    for (int step = 0; step < 12; ++step) {
      if (step % 3 != 2) {
        if (push_may_wait()) continue;
        const PushResult result = push_valid(when);
        trace.insert(trace.end(), {double(result.id), result.evicted ? double(*result.evicted) : -1.0});
      } else if (m_ledger.held_count() > 0) {
        const std::size_t n = std::min<std::size_t>(m_ledger.held_count(), 3);
        std::vector<double> rows;
        take(n, Overload::metadata, when, &rows);
        trace.insert(trace.end(), rows.begin(), rows.end());
        if constexpr (PrioritizedSampleSource<Buffer>) {
          std::vector<std::uint64_t> ids;
          std::vector<double> values;
          for (std::size_t k = 1; k < rows.size(); k += 2) {
            ids.push_back(static_cast<std::uint64_t>(rows[k]));
            values.push_back(0.5 * double((ids.back() * 7 + std::uint64_t(step)) % 5));
          }
          m_buffer.update_priorities(std::span<const std::uint64_t>(ids), std::span<const double>(values));
        }
      }
      const BufferAccounting accounting = m_buffer.accounting();
      trace.insert(trace.end(), {double(accounting.total_uses), double(accounting.evicted_used),
                                 double(accounting.evicted_unseen), double(accounting.in_buffer)});
    }
    return trace;
  }

  void snapshot_and_restore() {
    const BufferState<Scalar> state = m_buffer.snapshot();
    // The snapshot holds what the ledger says.
    std::vector<std::uint64_t> held_ids;
    for (std::uint64_t id = 0; id < m_ledger.held.size(); ++id)
      if (m_ledger.held[id]) held_ids.push_back(id);
    std::vector<std::uint64_t> state_ids = state.ids;
    std::sort(state_ids.begin(), state_ids.end());
    if (state_ids != held_ids) fail("snapshot(): its ids are not those of the rows held");
    if (state.arrivals != m_ledger.arrivals || state.pushed_total != m_ledger.pushed_total ||
        state.total_uses != m_ledger.total_uses || state.evicted_used != m_ledger.evicted_used ||
        state.evicted_unseen != m_ledger.evicted_unseen)
      fail("snapshot(): its counters differ from accounting()");
    if (state.capacity != m_capacity || state.theta_dim != m_theta_dim || state.x_dim != m_x_dim)
      fail("snapshot(): its capacity or dims differ from the buffer's");
    if (state.uses.size() == state.rows() && state.generations.size() == state.rows() &&
        state.proposal_log_probs.size() == state.rows() && state.simulation_seconds.size() == state.rows())
      for (std::size_t k = 0; k < state.rows(); ++k) {
        const std::uint64_t id = state.ids[k];
        const SampleInfo info = info_of(id);
        if (id < m_ledger.uses.size() && state.uses[k] != m_ledger.uses[id])
          fail(text("snapshot(): sample ", id, " has ", state.uses[k], " uses, it was delivered ", m_ledger.uses[id],
                    " times"));
        if (state.generations[k] != info.generation || state.simulation_seconds[k] != info.simulation_seconds ||
            state.proposal_log_probs[k] != info.proposal_log_prob)
          fail(text("snapshot(): the metadata of sample ", id, " is not what was pushed"));
      }
    else
      fail(text("snapshot(): ", state.rows(), " ids but ", state.uses.size(), " uses, ", state.generations.size(),
                " generations, ", state.proposal_log_probs.size(), " proposal_log_probs"));

    // The same calls after restore(state) give the same results as the first time.
    const Ledger ledger = m_ledger;
    const std::vector<double> first = script("the calls after a snapshot");
    m_buffer.restore(state);
    if (const std::string field = state_difference(m_buffer.snapshot(), state); !field.empty())
      fail(text("snapshot() after restore(state) differs from the state (", field, ")"));
    m_ledger = ledger;
    const std::vector<double> second = script("the same calls after restore()");
    if (first != second) {
      std::size_t k = 0;
      while (k < std::min(first.size(), second.size()) && first[k] == second[k])
        ++k;
      fail(text("after restore(snapshot()), the same calls gave other results (first difference at value ", k, " of ",
                first.size(), ")"));
    }
    check_accounting("restore() and the same calls again");

    // Defective states are refused and change nothing.
    const BufferState<Scalar> good = m_buffer.snapshot();
    using State = BufferState<Scalar>;
    const auto refuses = [&]<class Exception>(std::string_view defect, auto spoil) {
      State bad = good;
      spoil(bad);
      const std::string what = expect_throw<Exception>([&] { m_buffer.restore(bad); });
      if (!what.empty())
        fail(text("restore() of a state with ", defect, " ", what, " ",
                  std::is_same_v<Exception, DataError> ? "osbi::DataError" : "osbi::DimensionMismatch"));
      if (const std::string field = state_difference(m_buffer.snapshot(), good); !field.empty())
        fail(text("restore() of a state with ", defect, " changed the buffer (", field, ")"));
    };
    refuses.template operator()<DimensionMismatch>("another capacity", [](State& s) { s.capacity += 1; });
    refuses.template operator()<DimensionMismatch>("another theta_dim", [](State& s) { s.theta_dim += 1; });
    refuses.template operator()<DataError>("another kind", [](State& s) { s.kind += "-other"; });
    refuses.template operator()<DataError>("a row too few in theta", [](State& s) {
      s.theta.resize(s.theta.size() >= s.theta_dim ? s.theta.size() - s.theta_dim : s.theta.size() + 1);
    });
    refuses.template operator()<DataError>("one arrival too many", [](State& s) { s.arrivals += 1; });
    if (good.rows() >= 1)
      refuses.template operator()<DataError>("a missing proposal_log_prob",
                                             [](State& s) { s.proposal_log_probs.pop_back(); });
    if (good.rows() >= 2)
      refuses.template operator()<DataError>("a duplicate id", [](State& s) { s.ids[1] = s.ids[0]; });
    check_accounting("the refused restores");
  }

  void close_semantics() {
    // A waiting producer (Block) or consumer (consuming model) and a wait_for_arrivals, all woken by close.
    std::optional<std::future<PushResult>> producer;
    std::optional<std::future<std::size_t>> consumer;
    std::vector<Scalar> theta(m_capacity * m_theta_dim), x(m_capacity * m_x_dim);
    if constexpr (blocks) {
      while (!push_may_wait())
        push_valid("filling the buffer with undelivered rows");
      const std::uint64_t id = m_ledger.arrivals;
      producer = std::async(std::launch::async, [&, id] {
        const auto values = theta_of<Scalar>(id, m_theta_dim), more = x_of<Scalar>(id, m_x_dim);
        return m_buffer.push(std::span<const Scalar>(values), std::span<const Scalar>(more), info_of(id));
      });
      const auto deadline = std::chrono::steady_clock::now() + m_patience;
      while (m_buffer.blocked_producers() != 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else if constexpr (!reuses) {
      if (m_ledger.held_count() == m_capacity) take(1, Overload::plain, "making the buffer not full");
      consumer = std::async(std::launch::async, [&] {
        return m_buffer.sample_batch(m_capacity, std::span<Scalar>(theta), std::span<Scalar>(x));
      });
    }
    const std::uint64_t arrivals = m_ledger.arrivals;
    auto waiter = std::async(std::launch::async, [&, arrivals] { return m_buffer.wait_for_arrivals(arrivals + 1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // let them park (the checks hold either way)
    m_buffer.close();
    m_closed = true;
    m_buffer.close(); // idempotent
    if (!m_buffer.closed()) fail("closed() is false after close()");
    const auto woken = [&](auto& future, std::string_view who) {
      if (future.wait_for(m_patience) != std::future_status::ready) {
        fail(text(who, " did not wake up on close()"));
        future.wait(); // cannot be abandoned: it refers to this check's locals
        throw Abort{};
      }
    };
    woken(waiter, "a wait_for_arrivals(arrivals() + 1)");
    if (waiter.get()) fail("wait_for_arrivals(arrivals() + 1) returned true after close() with no new arrival");
    if (producer) {
      woken(*producer, "a push waiting in a full buffer (overflow::Block)");
      book_push(producer->get(), true, "a push woken by close()");
    }
    if (consumer) {
      woken(*consumer, "a sample_batch waiting for a whole batch");
      const std::size_t rows = consumer->get();
      const std::size_t held = m_ledger.held_count();
      if (rows != held)
        fail(text("a sample_batch(capacity) woken by close() returned ", rows, " rows; it must drain the ", held,
                  " held"));
      for (std::size_t r = 0; r < std::min(rows, held); ++r) {
        const auto id = static_cast<std::uint64_t>(theta[r * m_theta_dim]);
        if (id < m_ledger.held.size() && m_ledger.held[id]) {
          m_ledger.held[id] = 0;
          ++m_ledger.uses[id];
          ++m_ledger.total_uses;
          ++m_ledger.evicted_used;
        }
      }
    }
    push_valid("a push after close()");
    if (timed("wait_for_arrivals(arrivals() + 1) after close()",
              [&] { return m_buffer.wait_for_arrivals(m_ledger.arrivals + 1); }))
      fail("wait_for_arrivals(arrivals() + 1) returned true on a closed buffer");
    if (!timed("wait_for_arrivals(arrivals()) after close()",
               [&] { return m_buffer.wait_for_arrivals(m_ledger.arrivals); }))
      fail("wait_for_arrivals(arrivals()) returned false although that many rows arrived");
    // After close nothing waits: a consuming buffer drains and then returns 0, a reusing one keeps serving.
    const std::size_t n = std::min<std::size_t>(m_capacity, 2);
    for (int k = 0; k < 3; ++k)
      take(n, static_cast<Overload>(k), "after close()");
    check_accounting("close()");
  }

  Buffer& m_buffer;
  ConformanceReport& m_report;
  std::chrono::milliseconds m_patience;
  std::size_t m_capacity, m_theta_dim, m_x_dim;
  Ledger m_ledger;
  bool m_closed = false;
};

} // namespace check_sample_buffer_detail

/*
 * check_sample_buffer(buffer, patience) — checks at run time what the SampleSink, SampleSource and
 * SampleBuffer specs (osbi/buffer/) promise and the concepts cannot; each violated promise adds one
 * readable line to the report. Call it in a test on a freshly constructed buffer that no other
 * thread uses (any capacity, dims and watermark; it is left closed):
 *   BOOST_TEST(report.passed(), report.summary()).
 *
 * The check keeps its own ledger of what the buffer must hold, from the push results and delivered
 * rows (θ_0 of every pushed row is its id), and compares exactly:
 *   a fresh buffer is empty, open, with zero counters; wrong shapes → DimensionMismatch (n = 0 →
 *     InvalidArgument) before any waiting and counted nowhere; a push wakes wait_for_arrivals;
 *   NaN/±Inf rows → dropped_invalid, no id; accepted ids are the arrival indices;
 *   a full buffer of undelivered rows: overflow::Evict evicts at once (reported in `evicted`),
 *     overflow::Block waits (seen in blocked_producers()) until a delivery makes room and never
 *     evicts an undelivered row;
 *   every delivered row is a held row with its pushed θ, x and metadata (uses counting this
 *     delivery) through each of the three sample_batch overloads; a consuming model never delivers
 *     a row twice; n > capacity gives the capacity; rows past the count are left as they were;
 *   accounting() — every counter and the use histogram — and size() / arrivals() match the ledger
 *     after every step; consistent() holds;
 *   PrioritizedSampleSource: update_priorities refuses mismatched sizes and NaN/negative values and
 *     changes nothing then;
 *   snapshot() holds the ledger's rows, uses and metadata; after restore(snapshot()) the same calls
 *     give the same results; states with another capacity/dim (DimensionMismatch), kind, row count,
 *     arrival count, a missing proposal_log_prob or a duplicate id (DataError) are refused and
 *     change nothing;
 *   close() wakes a waiting push (it returns `closed`), a waiting sample_batch (it drains) and
 *     wait_for_arrivals (false); is idempotent; later pushes are rejected and counted; nothing
 *     waits after close.
 * Calls the spec says return at once are run on another thread and given `patience`; one that
 * hangs is reported, the buffer is closed to wake it, and the check ends there.
 */
template <SampleBuffer Buffer>
ConformanceReport check_sample_buffer(Buffer& buffer,
                                      std::chrono::milliseconds patience = std::chrono::milliseconds(30000)) {
  ConformanceReport report;
  check_sample_buffer_detail::Checker<Buffer> checker(buffer, report, patience);
  try {
    checker.run();
  } catch (const check_sample_buffer_detail::Abort&) {
    report.fail("(the check stopped here: later steps depend on the failed one)");
  } catch (const std::exception& error) {
    report.fail(check_sample_buffer_detail::text("an unexpected exception ended the check: \"", error.what(), "\""));
  }
  return report;
}

} // namespace osbi::testing
