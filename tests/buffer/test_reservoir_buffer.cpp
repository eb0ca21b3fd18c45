// SPDX-License-Identifier: BSD-3-Clause
/// \brief ReservoirBuffer: rows are reused, a batch never repeats a row, reuse is uniform (χ²), eviction takes the
/// most-used seen row first (ties: oldest) and an unseen row only when none is seen (Evict) or waits (Block).
#include <osbi/buffer/reservoir_buffer.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <type_traits>
#include <vector>

namespace {

using namespace osbi::testing;

// The expected victim among `uses` (id → uses of the held rows): most used seen row, ties oldest.
std::uint64_t most_used_oldest(const std::map<std::uint64_t, std::uint64_t>& uses) {
  std::uint64_t best = 0, best_uses = 0;
  for (const auto& [id, count] : uses)
    if (count > best_uses) best = id, best_uses = count;
  return best;
}

} // namespace

BOOST_AUTO_TEST_SUITE(reservoir_buffer)

BOOST_AUTO_TEST_CASE(rows_are_reused_and_a_batch_never_repeats_one) {
  osbi::ReservoirBuffer<Block> buffer(buffer_options(8));
  for (std::uint64_t k = 0; k < 8; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  std::vector<std::uint64_t> all(8);
  std::iota(all.begin(), all.end(), 0);
  for (int round = 0; round < 10; ++round) {
    auto batch = take(buffer, 8);
    BOOST_REQUIRE(batch.rows == 8u);
    BOOST_TEST(rows_match_ids(batch, 3, 2));
    std::sort(batch.ids.begin(), batch.ids.end());
    BOOST_TEST(batch.ids == all, boost::test_tools::per_element()); // a batch of the whole buffer: a permutation
  }
  for (int round = 0; round < 50; ++round) {
    const auto batch = take(buffer, 5);
    BOOST_TEST(std::set<std::uint64_t>(batch.ids.begin(), batch.ids.end()).size() == 5u);
  }
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.in_buffer == 8u);
  BOOST_TEST(accounting.total_uses == 80u + 250u);
  BOOST_TEST(accounting.evicted_used + accounting.evicted_unseen == 0u);
  BOOST_TEST(accounting.consistent());
}

// Each batch of 4 out of 16 is a uniform subset, so every row's count has mean N·4/16. The counts of a
// subset draw vary less than multinomial ones (Pearson's statistic is about 0.8·χ²(15) here), so the
// χ²(15) bound at the default false-failure probability is conservative.
BOOST_AUTO_TEST_CASE(reuse_is_uniform) {
  constexpr std::size_t held = 16, per_batch = 4, batches = 20000;
  osbi::ReservoirBuffer<Block> buffer(osbi::BufferOptions{held, 1, 1, 0, test_seed()});
  for (std::uint64_t k = 0; k < held; ++k) push_sample(buffer, k);
  std::vector<double> counts(held, 0.0);
  for (std::size_t b = 0; b < batches; ++b)
    for (const std::uint64_t id : take(buffer, per_batch).ids) counts.at(id) += 1;
  const double expected = double(batches * per_batch) / double(held);
  double chi_square = 0;
  for (const double count : counts) chi_square += (count - expected) * (count - expected) / expected;
  BOOST_TEST(chi_square < chi_square_upper_quantile(double(held - 1)));
  BOOST_TEST(buffer.accounting().max_uses >= std::uint64_t(expected));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(eviction_takes_the_most_used_seen_row_first, Policy, Policies) {
  Watchdog watchdog(deadline, "reservoir eviction order");
  osbi::ReservoirBuffer<Policy> buffer(buffer_options(4));
  std::map<std::uint64_t, std::uint64_t> uses; // held id → uses
  for (std::uint64_t k = 0; k < 4; ++k) {
    push_sample(buffer, k);
    uses[k] = 0;
  }
  for (const std::size_t n : {4u, 2u, 3u, 1u})
    for (const std::uint64_t id : take(buffer, n).ids) ++uses.at(id);
  // Four pushes replace the four seen rows, most used first, ties by age.
  for (std::uint64_t k = 4; k < 8; ++k) {
    const std::uint64_t expected = most_used_oldest(uses);
    const osbi::PushResult result = push_sample(buffer, k);
    BOOST_TEST(result.accepted());
    BOOST_TEST(result.evicted.value_or(99) == expected);
    uses.erase(expected);
  }
  BOOST_TEST(buffer.accounting().evicted_used == 4u);
  // Now every row is unseen.
  if constexpr (std::is_same_v<Policy, Evict>) {
    BOOST_TEST(push_sample(buffer, 8).evicted.value_or(99) == 4u);
    BOOST_TEST(push_sample(buffer, 9).evicted.value_or(99) == 5u);
    BOOST_TEST(buffer.accounting().evicted_unseen == 2u);
  } else {
    std::atomic<bool> returned{false};
    auto producer = std::async(std::launch::async, [&] {
      const osbi::PushResult result = push_sample(buffer, 8);
      returned = true;
      return result;
    });
    BOOST_REQUIRE(eventually([&] { return buffer.blocked_producers() == 1 || returned; }));
    BOOST_TEST(!returned);
    const std::uint64_t seen = take(buffer, 1).ids.at(0); // the only seen row: the producer replaces it
    const osbi::PushResult result = producer.get();
    BOOST_TEST(result.accepted());
    BOOST_TEST(result.evicted.value_or(99) == seen);
    BOOST_TEST(buffer.accounting().evicted_unseen == 0u);
  }
  BOOST_TEST(buffer.accounting().consistent());
}

BOOST_AUTO_TEST_SUITE_END()
