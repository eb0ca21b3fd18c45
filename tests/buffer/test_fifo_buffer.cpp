// SPDX-License-Identifier: BSD-3-Clause
/// \brief FifoBuffer: arrival order, each sample exactly once, Evict drops the oldest, Block waits for a consumer.
#include <osbi/buffer/fifo_buffer.hpp>

#include <buffer/buffer_test_support.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <vector>

namespace {

using namespace osbi::testing;

} // namespace

BOOST_AUTO_TEST_SUITE(fifo_buffer)

BOOST_AUTO_TEST_CASE(delivers_in_arrival_order_exactly_once) {
  osbi::FifoBuffer<Block> buffer(buffer_options(16));
  for (std::uint64_t k = 0; k < 10; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  std::vector<std::uint64_t> delivered;
  for (const std::size_t n : {3u, 3u, 4u}) {
    const auto batch = take(buffer, n);
    BOOST_REQUIRE(batch.rows == n);
    BOOST_TEST(rows_match_ids(batch, 3, 2));
    delivered.insert(delivered.end(), batch.ids.begin(), batch.ids.end());
  }
  const std::vector<std::uint64_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  BOOST_TEST(delivered == expected, boost::test_tools::per_element());
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.in_buffer == 0u);
  BOOST_TEST(accounting.evicted_used == 10u);
  BOOST_TEST(accounting.evicted_unseen == 0u);
  BOOST_TEST(accounting.total_uses == 10u);
  BOOST_TEST(accounting.max_uses == 1u);
  BOOST_TEST(accounting.use_histogram[1] == 10u);
  BOOST_TEST(accounting.consistent());
}

BOOST_AUTO_TEST_CASE(evict_drops_the_oldest_unseen_rows) {
  osbi::FifoBuffer<Evict> buffer(buffer_options(4));
  for (std::uint64_t k = 0; k < 4; ++k) BOOST_REQUIRE(!push_sample(buffer, k).evicted);
  BOOST_TEST(push_sample(buffer, 4).evicted.value_or(99) == 0u);
  BOOST_TEST(push_sample(buffer, 5).evicted.value_or(99) == 1u);
  BOOST_TEST(take(buffer, 1).ids.at(0) == 2u);
  BOOST_TEST(!push_sample(buffer, 6).evicted); // a consumer made room
  BOOST_TEST(push_sample(buffer, 7).evicted.value_or(99) == 3u);
  const auto rest = take(buffer, 4);
  const std::vector<std::uint64_t> expected{4, 5, 6, 7};
  BOOST_TEST(rest.ids == expected, boost::test_tools::per_element());
  BOOST_TEST(rows_match_ids(rest, 3, 2));
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.evicted_unseen == 3u);
  BOOST_TEST(accounting.evicted_used == 5u);
  BOOST_TEST(accounting.consistent());
}

BOOST_AUTO_TEST_CASE(block_waits_for_a_consumer_and_keeps_the_order) {
  Watchdog watchdog(deadline, "fifo block_waits_for_a_consumer");
  osbi::FifoBuffer<Block> buffer(buffer_options(2));
  BOOST_REQUIRE(push_sample(buffer, 0).accepted());
  BOOST_REQUIRE(push_sample(buffer, 1).accepted());
  std::atomic<bool> returned{false};
  auto producer = std::async(std::launch::async, [&] {
    const osbi::PushResult result = push_sample(buffer, 2);
    returned = true;
    return result;
  });
  BOOST_REQUIRE(eventually([&] { return buffer.blocked_producers() == 1 || returned; }));
  BOOST_TEST(!returned);
  BOOST_TEST(take(buffer, 1).ids.at(0) == 0u);
  const osbi::PushResult result = producer.get();
  BOOST_TEST(result.accepted());
  BOOST_TEST(result.id == 2u);
  BOOST_TEST(!result.evicted);
  const auto rest = take(buffer, 2);
  const std::vector<std::uint64_t> expected{1, 2};
  BOOST_TEST(rest.ids == expected, boost::test_tools::per_element());
  BOOST_TEST(buffer.accounting().evicted_unseen == 0u);
}

BOOST_AUTO_TEST_CASE(nothing_depends_on_the_seed) {
  osbi::FifoBuffer<Evict> first(osbi::BufferOptions{8, 1, 1, 0, 1}), second(osbi::BufferOptions{8, 1, 1, 0, 2});
  for (std::uint64_t k = 0; k < 20; ++k) {
    push_sample(first, k);
    push_sample(second, k);
    if (k % 3 == 2) BOOST_TEST(take(first, 2).ids == take(second, 2).ids, boost::test_tools::per_element());
  }
  BOOST_TEST(first.snapshot().random_draws == 0u); // FIFO draws no random numbers
}

BOOST_AUTO_TEST_SUITE_END()
