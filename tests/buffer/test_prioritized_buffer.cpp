// SPDX-License-Identifier: BSD-3-Clause
/// \brief PrioritizedBuffer: draw frequencies ∝ (p + ε)^α (χ²), new rows get the largest priority, priorities
/// are validated, eviction takes the lowest-priority seen row (ties: most used, oldest).
#include <osbi/buffer/prioritized_buffer.hpp>

#include <osbi/core/error.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/errors.hpp>
#include <support/files.hpp>
#include <support/statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <span>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using namespace osbi::testing;

} // namespace

BOOST_AUTO_TEST_SUITE(prioritized_buffer)

BOOST_AUTO_TEST_CASE(options_are_checked) {
  const auto options = buffer_options(4);
  BOOST_CHECK_THROW(osbi::PrioritizedBuffer<>(options, osbi::PriorityOptions{-1, 1e-6, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::PrioritizedBuffer<>(options, osbi::PriorityOptions{0.6, 0, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::PrioritizedBuffer<>(options, osbi::PriorityOptions{0.6, 1e-6, 0}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::PrioritizedBuffer<>(options, osbi::PriorityOptions{std::nan(""), 1e-6, 1}),
                    osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(new_rows_get_the_largest_priority_so_far) {
  osbi::PrioritizedBuffer<Block> buffer(buffer_options(8), osbi::PriorityOptions{0.6, 1e-6, 2.0});
  for (std::uint64_t k = 0; k < 3; ++k) push_sample(buffer, k);
  BOOST_TEST(buffer.priority_of(1).value_or(-1) == 2.0);
  const std::vector<std::uint64_t> ids{0, 1, 42};
  const std::vector<double> priorities{5.0, 0.5, 100.0};
  BOOST_TEST(buffer.update_priorities(ids, priorities) == 2u); // id 42 is not held: skipped
  BOOST_TEST(buffer.priority_of(0).value_or(-1) == 5.0);
  BOOST_TEST(buffer.priority_of(1).value_or(-1) == 0.5);
  BOOST_TEST(!buffer.priority_of(42));
  BOOST_TEST(buffer.max_priority() == 5.0);
  push_sample(buffer, 3);
  BOOST_TEST(buffer.priority_of(3).value_or(-1) == 5.0);
}

BOOST_AUTO_TEST_CASE(bad_priorities_change_nothing) {
  osbi::PrioritizedBuffer<Block> buffer(buffer_options(8));
  for (std::uint64_t k = 0; k < 2; ++k) push_sample(buffer, k);
  const std::vector<std::uint64_t> ids{0, 1};
  const auto rejects = [&](double bad) {
    const std::vector<double> priorities{3.0, bad};
    BOOST_CHECK_EXCEPTION(buffer.update_priorities(ids, priorities), osbi::InvalidArgument,
                          [](const osbi::InvalidArgument& error) { return contains(error.what(), "priority[1]"); });
  };
  rejects(-1.0);
  rejects(std::numeric_limits<double>::quiet_NaN());
  rejects(std::numeric_limits<double>::infinity());
  BOOST_TEST(buffer.priority_of(0).value_or(-1) == 1.0); // the valid first entry was not applied either
  const std::vector<double> one{1.0};
  BOOST_CHECK_EXCEPTION(buffer.update_priorities(ids, one), osbi::DimensionMismatch, names_sizes(1, 2));
}

// 16 rows with priorities 0, 1, ..., 15, α = 0.7, ε = 0.1: 10⁵ independent draws (batches of 10) must
// match the probabilities (p + ε)^α / Σ within Pearson's χ²(15) bound at the default false-failure
// probability. Row 0 (priority 0) still gets its ε share.
BOOST_AUTO_TEST_CASE(draws_are_proportional_to_the_weights) {
  constexpr std::size_t held = 16, batch = 10, batches = 10000;
  constexpr double alpha = 0.7, epsilon = 0.1;
  osbi::PrioritizedBuffer<Block> buffer(osbi::BufferOptions{held, 1, 1, 0, test_seed()},
                                        osbi::PriorityOptions{alpha, epsilon, 1.0});
  std::vector<std::uint64_t> ids(held);
  std::vector<double> priorities(held);
  for (std::uint64_t k = 0; k < held; ++k) {
    ids[k] = push_sample(buffer, k).id;
    priorities[k] = double(k);
  }
  BOOST_REQUIRE(buffer.update_priorities(ids, priorities) == held);
  std::vector<double> counts(held, 0.0), weights(held);
  for (std::size_t k = 0; k < held; ++k) weights[k] = std::pow(priorities[k] + epsilon, alpha);
  const double total_weight = std::accumulate(weights.begin(), weights.end(), 0.0);
  for (std::size_t b = 0; b < batches; ++b) {
    const auto taken = take(buffer, batch);
    BOOST_REQUIRE(taken.rows == batch);
    BOOST_REQUIRE(rows_match_ids(taken, 1, 1));
    for (const std::uint64_t id : taken.ids) counts.at(id) += 1;
  }
  double chi_square = 0;
  for (std::size_t k = 0; k < held; ++k) {
    const double expected = double(batch * batches) * weights[k] / total_weight;
    chi_square += (counts[k] - expected) * (counts[k] - expected) / expected;
  }
  BOOST_TEST(chi_square < chi_square_upper_quantile(double(held - 1)));
  BOOST_TEST(buffer.accounting().total_uses == batch * batches);
}

// Each delivered row carries N·P(i), its draw probability relative to uniform, and (N·P)^(−1) undoes the
// skew: the importance-weighted mean of any function of the rows is the rows' plain mean (here the arrival id).
BOOST_AUTO_TEST_CASE(each_draw_carries_its_relative_probability_and_inverse_weights_undo_the_skew) {
  constexpr std::size_t held = 16, batch = 10, batches = 20000;
  constexpr double alpha = 1.0, epsilon = 0.1;
  osbi::PrioritizedBuffer<Block> buffer(osbi::BufferOptions{held, 1, 1, 0, test_seed()},
                                        osbi::PriorityOptions{alpha, epsilon, 1.0});
  std::vector<std::uint64_t> ids(held);
  std::vector<double> priorities(held);
  for (std::uint64_t k = 0; k < held; ++k) {
    ids[k] = push_sample(buffer, k).id;
    priorities[k] = double(k); // late rows favoured
  }
  BOOST_REQUIRE(buffer.update_priorities(ids, priorities) == held);
  double total_weight = 0;
  for (std::size_t k = 0; k < held; ++k) total_weight += priorities[k] + epsilon;
  using Scalar = osbi::PrioritizedBuffer<Block>::scalar_type;
  std::vector<Scalar> theta(batch), x(batch);
  std::vector<osbi::SampleMetadata> metadata(batch);
  double weighted_sum = 0, weight_sum = 0, plain_sum = 0;
  for (std::size_t b = 0; b < batches; ++b) {
    BOOST_REQUIRE(buffer.sample_batch(batch, std::span<Scalar>(theta), std::span<Scalar>(x), std::span<osbi::SampleMetadata>(metadata)) == batch);
    for (const auto& row : metadata) {
      const double expected = double(held) * (priorities[row.id] + epsilon) / total_weight;
      BOOST_REQUIRE(std::abs(row.relative_draw_probability - expected) <= 1e-12 * expected);
      weighted_sum += double(row.id) / row.relative_draw_probability;
      weight_sum += 1.0 / row.relative_draw_probability;
      plain_sum += double(row.id);
    }
  }
  const double uniform_mean = double(held - 1) / 2; // 7.5
  BOOST_TEST(plain_sum / double(batch * batches) > 9.5); // the skew: E[id] = 10.3 under the priorities
  BOOST_TEST(std::abs(weighted_sum / weight_sum - uniform_mean) < 0.25); // sd of the estimate ≈ 0.04
}

BOOST_AUTO_TEST_CASE_TEMPLATE(eviction_takes_the_lowest_priority_seen_row_first, Policy,
                              Policies) {
  osbi::PrioritizedBuffer<Policy> buffer(buffer_options(4));
  std::map<std::uint64_t, std::uint64_t> uses;
  for (std::uint64_t k = 0; k < 4; ++k) {
    push_sample(buffer, k);
    uses[k] = 0;
  }
  // Deliver until rows 0, 1, 2 are seen (row 3 may be seen too).
  while (uses[0] == 0 || uses[1] == 0 || uses[2] == 0)
    for (const std::uint64_t id : take(buffer, 1).ids) ++uses.at(id);
  const std::vector<std::uint64_t> ids{0, 1, 2, 3};
  const std::vector<double> priorities{3.0, 1.0, 1.0, 0.0};
  buffer.update_priorities(ids, priorities);
  // Expected order among the seen rows: priority ascending, then uses descending, then id ascending.
  std::vector<std::tuple<double, std::int64_t, std::uint64_t>> order;
  for (std::uint64_t id = 0; id < 4; ++id)
    if (uses[id] > 0) order.emplace_back(priorities[id], -std::int64_t(uses[id]), id);
  std::sort(order.begin(), order.end());
  std::uint64_t next = 4;
  for (const auto& [priority, minus_uses, id] : order) {
    const osbi::PushResult result = push_sample(buffer, next++);
    BOOST_TEST(result.accepted());
    BOOST_TEST(result.evicted.value_or(99) == id);
  }
  BOOST_TEST(buffer.accounting().evicted_used == order.size());
  if (order.size() == 3) { // row 3 never delivered: it remains, unseen, with the new ones
    BOOST_TEST(buffer.priority_of(3).value_or(-1) == 0.0);
  }
  if constexpr (std::is_same_v<Policy, Evict>) {
    // Only unseen rows remain: the oldest goes.
    const std::uint64_t oldest = order.size() == 3 ? 3 : 4;
    BOOST_TEST(push_sample(buffer, next++).evicted.value_or(99) == oldest);
    BOOST_TEST(buffer.accounting().evicted_unseen == 1u);
  } else {
    BOOST_TEST(!push_would_not_wait(buffer));
  }
  BOOST_TEST(buffer.accounting().consistent());
}

BOOST_AUTO_TEST_SUITE_END()
