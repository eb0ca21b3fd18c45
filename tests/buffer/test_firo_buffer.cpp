// SPDX-License-Identifier: BSD-3-Clause
/// \brief FiroBuffer: each sample exactly once, the choice uniform among the rows held (χ²), reproducible from
/// the seed, Evict drops the oldest.
#include <osbi/buffer/firo_buffer.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <set>
#include <vector>

namespace {

using namespace osbi::testing;

} // namespace

BOOST_AUTO_TEST_SUITE(firo_buffer)

BOOST_AUTO_TEST_CASE(delivers_each_sample_exactly_once) {
  osbi::FiroBuffer<Block> buffer(buffer_options(100));
  for (std::uint64_t k = 0; k < 100; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  buffer.close(); // the last batch may be partial
  std::vector<std::uint64_t> delivered;
  while (true) {
    const auto batch = take(buffer, 7);
    if (batch.rows == 0) break;
    BOOST_TEST(rows_match_ids(batch, 3, 2));
    delivered.insert(delivered.end(), batch.ids.begin(), batch.ids.end());
  }
  std::vector<std::uint64_t> sorted = delivered, expected(100);
  std::sort(sorted.begin(), sorted.end());
  std::iota(expected.begin(), expected.end(), 0);
  BOOST_TEST(sorted == expected, boost::test_tools::per_element());
  BOOST_TEST(delivered != expected); // random order (identity has probability 1/100!)
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.evicted_used == 100u);
  BOOST_TEST(accounting.max_uses == 1u);
  BOOST_TEST(accounting.consistent());
}

// Keep 16 rows, take one, refill: the age rank of the row taken (0 = oldest held) must be uniform.
// Pearson χ² over the 16 ranks against χ²(15) at the default false-failure probability.
BOOST_AUTO_TEST_CASE(the_row_taken_is_uniform_among_the_rows_held) {
  constexpr std::size_t held = 16, rounds = 32000;
  osbi::FiroBuffer<Block> buffer(osbi::BufferOptions{held, 1, 1, 0, test_seed()});
  std::set<std::uint64_t> present;
  std::uint64_t next = 0;
  std::vector<double> counts(held, 0.0);
  for (std::size_t round = 0; round < rounds; ++round) {
    while (present.size() < held) {
      const osbi::PushResult result = push_sample(buffer, next++);
      present.insert(result.id);
    }
    const std::uint64_t id = take(buffer, 1).ids.at(0);
    const auto found = present.find(id);
    BOOST_REQUIRE(found != present.end());
    counts[static_cast<std::size_t>(std::distance(present.begin(), found))] += 1;
    present.erase(found);
  }
  const double expected = double(rounds) / double(held);
  double chi_square = 0;
  for (const double count : counts) chi_square += (count - expected) * (count - expected) / expected;
  BOOST_TEST(chi_square < chi_square_upper_quantile(double(held - 1)));
}

BOOST_AUTO_TEST_CASE(the_order_is_a_function_of_the_seed) {
  const auto order = [](std::uint64_t seed) {
    osbi::FiroBuffer<Block> buffer(osbi::BufferOptions{50, 1, 1, 0, seed});
    for (std::uint64_t k = 0; k < 50; ++k) push_sample(buffer, k);
    std::vector<std::uint64_t> ids;
    for (int batch = 0; batch < 10; ++batch) {
      const auto taken = take(buffer, 5);
      ids.insert(ids.end(), taken.ids.begin(), taken.ids.end());
    }
    return ids;
  };
  BOOST_TEST(order(test_seed()) == order(test_seed()), boost::test_tools::per_element());
  BOOST_TEST(order(test_seed()) != order(test_seed() + 1));
}

BOOST_AUTO_TEST_CASE(evict_drops_the_oldest_row_held) {
  osbi::FiroBuffer<Evict> buffer(buffer_options(4));
  for (std::uint64_t k = 0; k < 4; ++k) BOOST_REQUIRE(push_sample(buffer, k).accepted());
  const std::uint64_t taken = take(buffer, 1).ids.at(0);
  std::vector<std::uint64_t> oldest;
  for (std::uint64_t k = 0; k < 4; ++k)
    if (k != taken) oldest.push_back(k);
  BOOST_TEST(!push_sample(buffer, 4).evicted);
  BOOST_TEST(push_sample(buffer, 5).evicted.value_or(99) == oldest[0]);
  BOOST_TEST(push_sample(buffer, 6).evicted.value_or(99) == oldest[1]);
  const osbi::BufferAccounting accounting = buffer.accounting();
  BOOST_TEST(accounting.evicted_unseen == 2u);
  BOOST_TEST(accounting.evicted_used == 1u);
  BOOST_TEST(accounting.consistent());
}

BOOST_AUTO_TEST_SUITE_END()
