// SPDX-License-Identifier: BSD-3-Clause
/// \brief The SampleBuffer contract on every model × overflow policy: options, dimension errors, NaN/Inf
/// accounting, closed pushes, ids, metadata, the watermark gate, whole batches, close waking every waiter.
#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>

#include <osbi/core/error.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/errors.hpp>
#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <latch>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace osbi::testing;
using osbi::BufferOptions;
using osbi::PushStatus;

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
constexpr float infinity_value = std::numeric_limits<float>::infinity();

// Not a buffer: lacks everything but the types.
struct NotABuffer {
  using scalar_type = float;
  using overflow_policy = osbi::overflow::Block;
};

static_assert(osbi::SampleBuffer<osbi::FifoBuffer<>> && osbi::SampleBuffer<osbi::FiroBuffer<>> &&
              osbi::SampleBuffer<osbi::ReservoirBuffer<>> && osbi::SampleBuffer<osbi::PrioritizedBuffer<>>);
static_assert(osbi::SampleBuffer<osbi::ReservoirBuffer<osbi::overflow::Evict, double>>);
static_assert(!osbi::SampleBuffer<NotABuffer> && !osbi::SampleBuffer<int>);
static_assert(osbi::OverflowPolicy<osbi::overflow::Block> && !osbi::OverflowPolicy<int>);
static_assert(osbi::DeliveryPolicy<osbi::delivery::Consume> && !osbi::DeliveryPolicy<osbi::overflow::Block>);

// A buffer is both halves; the trait and the prioritized refinement tell the models apart.
static_assert(osbi::SampleSink<osbi::FifoBuffer<>> && osbi::SampleSource<osbi::FifoBuffer<>>);
static_assert(osbi::SampleSink<osbi::PrioritizedBuffer<>> && osbi::SampleSource<osbi::PrioritizedBuffer<>>);
static_assert(!osbi::reuses_rows<osbi::FifoBuffer<>> && !osbi::reuses_rows<osbi::FiroBuffer<>>);
static_assert(osbi::reuses_rows<osbi::ReservoirBuffer<>> && osbi::reuses_rows<osbi::PrioritizedBuffer<>>);
static_assert(osbi::PrioritizedSampleSource<osbi::PrioritizedBuffer<osbi::overflow::Evict, double>>);
static_assert(!osbi::PrioritizedSampleSource<osbi::ReservoirBuffer<>> &&
              !osbi::PrioritizedSampleSource<osbi::FifoBuffer<>>);

// Only a sink: push, close, closed, blocked_producers.
struct SinkOnly {
  using scalar_type = double;
  std::size_t theta_dim() const { return 1; }
  std::size_t x_dim() const { return 1; }
  osbi::PushResult push(std::span<const double>, std::span<const double>, const osbi::SampleInfo&) { return {}; }
  void close() {}
  bool closed() const { return true; }
  std::size_t blocked_producers() const { return 0; }
};
static_assert(osbi::SampleSink<SinkOnly> && !osbi::SampleSource<SinkOnly> && !osbi::SampleBuffer<SinkOnly>);

} // namespace

BOOST_AUTO_TEST_SUITE(sample_buffer)

BOOST_AUTO_TEST_CASE_TEMPLATE(options_are_checked_with_the_values_in_the_message, Buffer, AllBuffers) {
  const auto rejects = [](BufferOptions options, const std::string& expected) {
    BOOST_CHECK_EXCEPTION(Buffer{options}, osbi::InvalidArgument, [&](const osbi::InvalidArgument& error) {
      return contains(error.what(), expected) && contains(error.what(), std::string(Buffer::part));
    });
  };
  rejects(BufferOptions{0, 3, 2, 0, 1}, "capacity must be > 0");
  rejects(BufferOptions{8, 0, 2, 0, 1}, "theta_dim must be > 0");
  rejects(BufferOptions{8, 3, 0, 0, 1}, "x_dim must be > 0");
  rejects(BufferOptions{8, 3, 2, 9, 1}, "watermark = 9 must be <= capacity = 8");
  const Buffer buffer(BufferOptions{8, 3, 2, 8, 1});
  BOOST_TEST(buffer.capacity() == 8u);
  BOOST_TEST(buffer.theta_dim() == 3u);
  BOOST_TEST(buffer.x_dim() == 2u);
  BOOST_TEST(buffer.size() == 0u);
  BOOST_TEST(!buffer.closed());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wrong_sizes_throw_and_count_nothing, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(8));
  const std::vector<float> theta2(2), theta3(3), x2(2), x3(3);
  BOOST_CHECK_EXCEPTION(buffer.push(theta2, x2), osbi::DimensionMismatch, names_sizes(2, 3));
  BOOST_CHECK_EXCEPTION(buffer.push(theta3, x3), osbi::DimensionMismatch, names_sizes(3, 2));
  BOOST_REQUIRE(push_sample(buffer, 0).accepted());
  std::vector<float> theta_out(6), x_out(4), wrong(5);
  std::vector<std::uint64_t> ids(3);
  BOOST_CHECK_EXCEPTION(buffer.sample_batch(2, wrong, x_out), osbi::DimensionMismatch, names_sizes(5, 6));
  BOOST_CHECK_EXCEPTION(buffer.sample_batch(2, theta_out, wrong), osbi::DimensionMismatch, names_sizes(5, 4));
  BOOST_CHECK_EXCEPTION(buffer.sample_batch(2, theta_out, x_out, ids), osbi::DimensionMismatch, names_sizes(3, 2));
  BOOST_CHECK_THROW(buffer.sample_batch(0, std::span<float>(), std::span<float>()), osbi::InvalidArgument);
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.pushed_total == 1u);
  BOOST_TEST(accounting.total_uses == 0u);
  BOOST_TEST(accounting.consistent());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(non_finite_rows_are_dropped_and_counted, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(8));
  BOOST_REQUIRE(push_sample(buffer, 0).accepted());
  std::vector<float> theta = theta_of<float>(1), x = x_of<float>(1);
  theta[1] = nan_value;
  BOOST_TEST((buffer.push(theta, x).status == PushStatus::dropped_invalid));
  theta[1] = 0;
  x[0] = infinity_value;
  BOOST_TEST((buffer.push(theta, x).status == PushStatus::dropped_invalid));
  x[0] = -infinity_value;
  BOOST_TEST((buffer.push(theta, x).status == PushStatus::dropped_invalid));
  const osbi::PushResult next = push_sample(buffer, 1);
  BOOST_TEST(next.accepted());
  BOOST_TEST(next.id == 1u); // dropped rows take no id
  BOOST_TEST(buffer.size() == 2u);
  BOOST_TEST(buffer.arrivals() == 2u);
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.pushed_total == 5u);
  BOOST_TEST(accounting.dropped_invalid == 3u);
  BOOST_TEST(accounting.in_buffer == 2u);
  BOOST_TEST(accounting.consistent());
  const auto batch = take(buffer, 2); // neither delivered row is a dropped one
  BOOST_TEST(rows_match_ids(batch, 3, 2));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(ids_are_arrival_indices_and_metadata_travels_with_the_row, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(8));
  for (std::uint64_t k = 0; k < 5; ++k) {
    const osbi::SampleInfo info{10 + k, 0.5 * double(k), -1.25 * double(k)};
    const osbi::PushResult result = buffer.push(theta_of<float>(k), x_of<float>(k), info);
    BOOST_TEST(result.accepted());
    BOOST_TEST(result.id == k);
    BOOST_TEST(!result.evicted.has_value());
  }
  std::vector<float> theta(15), x(10);
  std::vector<std::uint64_t> ids(5);
  std::vector<osbi::SampleMetadata> info(5);
  BOOST_TEST(buffer.sample_batch(5, theta, x, std::span<osbi::SampleMetadata>(info)) == 5u);
  for (std::size_t r = 0; r < 5; ++r) {
    ids[r] = info[r].id;
    BOOST_TEST(info[r].generation == 10 + ids[r]);
    BOOST_TEST(info[r].simulation_seconds == 0.5 * double(ids[r]));
    BOOST_TEST(info[r].proposal_log_prob == -1.25 * double(ids[r]));
    // The first batch: a row's use count is how often it came so far (prioritized draws may repeat).
    BOOST_TEST(info[r].uses == std::uint64_t(std::count(ids.begin(), ids.begin() + std::ptrdiff_t(r) + 1, ids[r])));
    BOOST_TEST(theta[3 * r] == float(ids[r]));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_three_sample_batch_overloads_agree_and_metadata_counts_uses, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(4));
  for (std::uint64_t k = 0; k < 4; ++k)
    BOOST_REQUIRE(buffer.push(theta_of<float>(k), x_of<float>(k), osbi::SampleInfo{k, 0.0, 2.0 * double(k)}).accepted());
  std::vector<std::uint64_t> deliveries(4, 0);
  // Each overload in turn; θ's first value is the id (theta_of), so every row is identified.
  for (int round = 0; round < 6 && buffer.size() >= 2; ++round) {
    std::vector<float> theta(6), x(4);
    std::vector<std::uint64_t> ids(2, ~0ull);
    std::vector<osbi::SampleMetadata> metadata(2);
    std::size_t rows = 0;
    if (round % 3 == 0) rows = buffer.sample_batch(2, theta, x);
    if (round % 3 == 1) rows = buffer.sample_batch(2, theta, x, ids);
    if (round % 3 == 2) rows = buffer.sample_batch(2, theta, x, std::span<osbi::SampleMetadata>(metadata));
    BOOST_TEST(rows == 2u);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto id = static_cast<std::uint64_t>(theta[3 * r]);
      BOOST_REQUIRE(id < 4u);
      ++deliveries[id];
      if (round % 3 == 1) BOOST_TEST(ids[r] == id);
      if (round % 3 == 2) {
        BOOST_TEST(metadata[r].id == id);
        BOOST_TEST(metadata[r].uses == deliveries[id]); // this delivery included
        BOOST_TEST(metadata[r].generation == id);
        BOOST_TEST(metadata[r].proposal_log_prob == 2.0 * double(id));
      }
    }
  }
  std::uint64_t total = 0;
  for (const std::uint64_t count : deliveries) {
    if constexpr (consumes_rows<Buffer>) BOOST_TEST(count <= 1u);
    total += count;
  }
  BOOST_TEST(buffer.accounting().total_uses == total);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pushes_after_close_are_rejected_and_counted, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(8));
  BOOST_REQUIRE(push_sample(buffer, 0).accepted());
  BOOST_REQUIRE(push_sample(buffer, 1).accepted());
  buffer.close();
  buffer.close(); // idempotent
  BOOST_TEST(buffer.closed());
  for (std::uint64_t k = 2; k < 5; ++k) BOOST_TEST((push_sample(buffer, k).status == PushStatus::closed));
  BOOST_TEST(buffer.arrivals() == 2u);
  osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.pushed_total == 5u);
  BOOST_TEST(accounting.rejected_closed == 3u);
  BOOST_TEST(accounting.consistent());
  // After close nothing waits: a consuming model drains, a reusing one keeps serving what it holds.
  BOOST_TEST(take(buffer, 4).rows == 2u);
  if constexpr (consumes_rows<Buffer>) {
    BOOST_TEST(take(buffer, 4).rows == 0u);
    BOOST_TEST(buffer.size() == 0u);
  } else {
    BOOST_TEST(take(buffer, 4).rows == 2u);
    BOOST_TEST(buffer.size() == 2u);
  }
  BOOST_TEST(!buffer.wait_for_arrivals(3));
  BOOST_TEST(buffer.wait_for_arrivals(2));
  accounting = buffer.accounting();
  BOOST_TEST(accounting.consistent());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(no_batch_before_the_watermark, Buffer, AllBuffers) {
  Watchdog watchdog(deadline, "no_batch_before_the_watermark");
  constexpr std::size_t watermark = 10;
  Buffer buffer(buffer_options(16, 3, 2, watermark));
  std::latch started(1);
  std::atomic<bool> returned{false};
  auto consumer = std::async(std::launch::async, [&] {
    started.count_down();
    const auto batch = take(buffer, 1);
    const std::uint64_t arrivals_at_return = buffer.arrivals(); // arrivals only grow
    returned = true;
    return std::make_pair(batch.rows, arrivals_at_return);
  });
  started.wait();
  for (std::uint64_t k = 0; k + 1 < watermark; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  // The consumer is parked (or, if broken, has returned): either way the next check is decided.
  BOOST_REQUIRE(eventually([&] { return buffer.blocked_consumers() == 1 || returned; }));
  BOOST_TEST(!returned);
  BOOST_REQUIRE(push_sample(buffer, watermark - 1).accepted());
  const auto [rows, arrivals_at_return] = consumer.get();
  BOOST_TEST(rows == 1u);
  BOOST_TEST(arrivals_at_return >= watermark);
  BOOST_TEST(buffer.accounting().consistent());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_batch_waits_until_it_can_be_whole, Buffer, AllBuffers) {
  Watchdog watchdog(deadline, "a_batch_waits_until_it_can_be_whole");
  Buffer buffer(buffer_options(6));
  std::atomic<bool> returned{false};
  auto consumer = std::async(std::launch::async, [&] {
    const auto batch = take(buffer, 4);
    returned = true;
    return batch.rows;
  });
  for (std::uint64_t k = 0; k < 3; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  BOOST_REQUIRE(eventually([&] { return buffer.blocked_consumers() == 1 || returned; }));
  BOOST_TEST(!returned);
  BOOST_REQUIRE(push_sample(buffer, 3).accepted());
  BOOST_TEST(consumer.get() == 4u);
  // More than the capacity: a batch of the whole capacity is the most there can ever be.
  for (std::uint64_t k = 4; buffer.size() < buffer.capacity(); ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  BOOST_TEST(take(buffer, 50).rows == 6u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_wakes_blocked_consumers, Buffer, AllBuffers) {
  Watchdog watchdog(deadline, "close_wakes_blocked_consumers");
  Buffer buffer(buffer_options(8, 3, 2, 4));
  std::latch started(2);
  auto first = std::async(std::launch::async, [&] {
    started.count_down();
    return take(buffer, 2).rows;
  });
  auto arrivals = std::async(std::launch::async, [&] {
    started.count_down();
    return buffer.wait_for_arrivals(100);
  });
  started.wait();
  BOOST_REQUIRE(push_sample(buffer, 0).accepted()); // below the watermark
  BOOST_REQUIRE(eventually([&] { return buffer.blocked_consumers() == 1; }));
  buffer.close();
  // Closed below the watermark: what is held is delivered (training on a short run still works).
  BOOST_TEST(first.get() == 1u);
  BOOST_TEST(!arrivals.get());
  if constexpr (consumes_rows<Buffer>) BOOST_TEST(take(buffer, 2).rows == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_full_buffer_blocks_or_evicts_by_policy_and_close_wakes_producers, Buffer,
                              AllBuffers) {
  Watchdog watchdog(deadline, "a_full_buffer_blocks_or_evicts_by_policy");
  Buffer buffer(buffer_options(3));
  for (std::uint64_t k = 0; k < 3; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  if constexpr (blocks_when_full<Buffer>) {
    // Every row unseen: whatever the model, Block never discards one, so the producer waits.
    std::atomic<bool> returned{false};
    auto producer = std::async(std::launch::async, [&] {
      const osbi::PushResult result = push_sample(buffer, 3);
      returned = true;
      return result;
    });
    BOOST_REQUIRE(eventually([&] { return buffer.blocked_producers() == 1 || returned; }));
    BOOST_TEST(!returned);
    buffer.close();
    const osbi::PushResult result = producer.get();
    BOOST_TEST((result.status == PushStatus::closed));
    const osbi::BufferAccounting accounting = buffer.accounting();
    BOOST_TEST(accounting.rejected_closed == 1u);
    BOOST_TEST(accounting.pushed_total == 4u);
    BOOST_TEST(accounting.evicted_unseen == 0u);
    BOOST_TEST(accounting.consistent());
  } else {
    const osbi::PushResult result = push_sample(buffer, 3);
    BOOST_TEST(result.accepted());
    BOOST_TEST(result.evicted.value_or(99) == 0u); // nothing seen yet: every model drops the oldest unseen
    const osbi::BufferAccounting accounting = buffer.accounting();
    BOOST_TEST(accounting.evicted_unseen == 1u);
    BOOST_TEST(accounting.in_buffer == 3u);
    BOOST_TEST(accounting.consistent());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(wait_for_arrivals_counts_accepted_pushes, Buffer, AllBuffers) {
  Watchdog watchdog(deadline, "wait_for_arrivals_counts_accepted_pushes");
  Buffer buffer(buffer_options(8));
  BOOST_TEST(buffer.wait_for_arrivals(0));
  auto waiter = std::async(std::launch::async, [&] { return buffer.wait_for_arrivals(3); });
  std::vector<float> bad = theta_of<float>(0);
  bad[0] = nan_value;
  for (std::uint64_t k = 0; k < 3; ++k) {
    BOOST_REQUIRE((buffer.push(bad, x_of<float>(k)).status == PushStatus::dropped_invalid)); // does not count
    BOOST_REQUIRE(push_sample(buffer, k).accepted());
  }
  BOOST_TEST(waiter.get());
  BOOST_TEST(buffer.arrivals() == 3u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_use_histogram_and_means_follow_deliveries, Buffer, AllBuffers) {
  Buffer buffer(buffer_options(4));
  for (std::uint64_t k = 0; k < 4; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  BOOST_TEST(take(buffer, 2).rows == 2u);
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.total_uses == 2u);
  BOOST_TEST(accounting.mean_uses() == 0.5);
  BOOST_TEST(accounting.consistent());
  std::uint64_t delivered_rows = 0;
  for (std::size_t bin = 1; bin < osbi::use_histogram_bins; ++bin) delivered_rows += accounting.use_histogram[bin];
  BOOST_TEST(accounting.use_histogram[0] + delivered_rows == 4u);
  BOOST_TEST(accounting.max_uses >= 1u);
  if constexpr (consumes_rows<Buffer>) {
    BOOST_TEST(accounting.use_histogram[1] == 2u);
    BOOST_TEST(accounting.evicted_used == 2u);
    BOOST_TEST(accounting.in_buffer == 2u);
  }
  BOOST_TEST(osbi::use_histogram_bin(0) == 0u);
  BOOST_TEST(osbi::use_histogram_bin(1) == 1u);
  BOOST_TEST(osbi::use_histogram_bin(3) == 2u);
  BOOST_TEST(osbi::use_histogram_bin(4) == 3u);
}

BOOST_AUTO_TEST_CASE(inconsistent_accounting_is_detected) {
  osbi::BufferAccounting accounting;
  accounting.pushed_total = 3;
  accounting.in_buffer = 2;
  accounting.dropped_invalid = 1;
  accounting.use_histogram[0] = 2;
  BOOST_TEST(accounting.consistent());
  accounting.pushed_total = 4; // a push that went nowhere
  BOOST_TEST(!accounting.consistent());
  accounting.pushed_total = 3;
  accounting.use_histogram[0] = 1; // a row missing from the histogram
  BOOST_TEST(!accounting.consistent());
}

BOOST_AUTO_TEST_SUITE_END()
