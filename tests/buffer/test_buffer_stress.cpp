// SPDX-License-Identifier: BSD-3-Clause
/// \brief Stress: 8 producers × 2 consumers on every model × overflow policy, OSBI_STRESS_OPS operations each
/// (default 10⁶); exact accounting, no torn rows, every delivered id pushed with that content, no id delivered
/// more often than the model allows, per-id use counts equal to the buffer's histogram.
#include <osbi/buffer/sample_buffer.hpp>

#include <buffer/buffer_test_support.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace osbi::testing;

/// Pushes plus deliveries per configuration: $OSBI_STRESS_OPS (TSan CI uses 10⁵), else 10⁶.
std::uint64_t stress_operations() {
  if (const char* text = std::getenv("OSBI_STRESS_OPS")) return std::max<std::uint64_t>(std::stoull(text), 64);
  return 1'000'000;
}

constexpr std::size_t producers = 8, consumers = 2, capacity = 1024, batch = 32, watermark = 64;
constexpr std::uint64_t invalid_every = 97; // sequence numbers ≡ 13 (mod 97) carry a NaN

// Producer p's sample s: θ = (p, s, p·2^20 + s), x = (s/2, −p); exact in float for s < 2^20.
std::uint64_t packed(std::uint64_t producer, std::uint64_t sequence) { return (producer << 32) | sequence; }

struct ConsumerReport {
  std::uint64_t delivered = 0, torn_rows = 0, unknown_ids = 0, content_mismatches = 0, order_violations = 0;
};

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_stress)

BOOST_AUTO_TEST_CASE_TEMPLATE(eight_producers_two_consumers, Buffer, AllBuffers) {
  const std::uint64_t operations = stress_operations();
  const std::uint64_t per_producer = std::max<std::uint64_t>(1, operations / 2 / producers);
  BOOST_REQUIRE(per_producer < (1u << 20));
  const std::uint64_t total_pushes = per_producer * producers;
  Watchdog watchdog(std::chrono::seconds(900), std::string("stress of ") + std::string(Buffer::part));
  Buffer buffer(osbi::BufferOptions{capacity, 3, 2, watermark, test_seed()});

  // Per id (< total_pushes): deliveries, and the content seen at delivery (packed + 1; 0 = not yet).
  std::vector<std::atomic<std::uint32_t>> deliveries(total_pushes);
  std::vector<std::atomic<std::uint64_t>> content(total_pushes);
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> accepted(producers); // (id, packed)
  std::vector<std::uint64_t> unexpected_status(producers, 0);
  std::vector<ConsumerReport> reports(consumers);

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> consumer_threads;
  for (std::size_t c = 0; c < consumers; ++c)
    consumer_threads.emplace_back([&, c] {
      ConsumerReport& report = reports[c];
      std::vector<float> theta(batch * 3), x(batch * 2);
      std::vector<std::uint64_t> ids(batch);
      std::uint64_t last_id = 0;
      bool first = true;
      while (true) {
        const std::size_t rows = buffer.sample_batch(batch, theta, x, ids);
        if (rows == 0) break;
        report.delivered += rows;
        for (std::size_t r = 0; r < rows; ++r) {
          const float* row_theta = &theta[3 * r];
          const float* row_x = &x[2 * r];
          const auto producer = static_cast<std::uint64_t>(row_theta[0]);
          const auto sequence = static_cast<std::uint64_t>(row_theta[1]);
          if (row_theta[2] != float(producer * (1u << 20) + sequence) || row_x[0] != 0.5f * float(sequence) ||
              row_x[1] != -float(producer)) {
            ++report.torn_rows;
            continue;
          }
          const std::uint64_t id = ids[r];
          if (id >= total_pushes) {
            ++report.unknown_ids;
            continue;
          }
          deliveries[id].fetch_add(1, std::memory_order_relaxed);
          std::uint64_t expected = 0;
          const std::uint64_t seen = packed(producer, sequence) + 1;
          if (!content[id].compare_exchange_strong(expected, seen, std::memory_order_relaxed) && expected != seen)
            ++report.content_mismatches;
          if (Buffer::kind == std::string_view("fifo") && !first && id <= last_id) ++report.order_violations;
          last_id = id;
          first = false;
        }
        if (!consumes_rows<Buffer> && buffer.closed()) break; // a reusing model would serve forever
      }
    });
  std::vector<std::thread> producer_threads;
  for (std::size_t p = 0; p < producers; ++p)
    producer_threads.emplace_back([&, p] {
      std::vector<float> theta(3), x(2);
      accepted[p].reserve(per_producer);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        theta = {float(p), float(s), float(p * (1u << 20) + s)};
        x = {0.5f * float(s), -float(p)};
        const bool invalid = s % invalid_every == 13;
        if (invalid) x[0] = std::numeric_limits<float>::quiet_NaN();
        const osbi::PushResult result = buffer.push(theta, x);
        if (result.status != (invalid ? osbi::PushStatus::dropped_invalid : osbi::PushStatus::accepted))
          ++unexpected_status[p];
        if (result.accepted()) accepted[p].emplace_back(result.id, packed(p, s));
      }
    });
  for (std::thread& thread : producer_threads) thread.join();
  buffer.close();
  for (std::thread& thread : consumer_threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  BOOST_TEST((push_sample(buffer, 0).status == osbi::PushStatus::closed));
  const osbi::BufferAccounting accounting = buffer.accounting();

  ConsumerReport total;
  for (const ConsumerReport& report : reports) {
    total.delivered += report.delivered;
    total.torn_rows += report.torn_rows;
    total.unknown_ids += report.unknown_ids;
    total.content_mismatches += report.content_mismatches;
    total.order_violations += report.order_violations;
  }
  BOOST_TEST_MESSAGE(Buffer::part << "<" << Buffer::overflow_policy::name << ">: " << total_pushes << " pushes, "
                                  << total.delivered << " rows delivered in " << seconds << " s ("
                                  << (double(total_pushes + total.delivered) / seconds / 1e6) << " M operations/s)");
  BOOST_TEST(total.torn_rows == 0u);
  BOOST_TEST(total.unknown_ids == 0u);
  BOOST_TEST(total.content_mismatches == 0u);
  BOOST_TEST(total.order_violations == 0u);

  // Every accepted push got a distinct id below arrivals(), increasing within a producer, and every
  // delivery of that id carried that producer's row.
  const std::uint64_t invalid_per_producer = per_producer / invalid_every + (per_producer % invalid_every > 13 ? 1 : 0);
  const std::uint64_t arrivals = total_pushes - producers * invalid_per_producer;
  BOOST_TEST(buffer.arrivals() == arrivals);
  std::vector<bool> id_taken(arrivals, false);
  std::uint64_t accepted_total = 0, duplicate_or_bad = 0, wrong_content = 0, not_increasing = 0;
  for (std::size_t p = 0; p < producers; ++p) {
    BOOST_TEST(unexpected_status[p] == 0u);
    for (std::size_t k = 0; k < accepted[p].size(); ++k) {
      const auto [id, row] = accepted[p][k];
      if (id >= arrivals || id_taken[id]) {
        ++duplicate_or_bad;
        continue;
      }
      id_taken[id] = true;
      if (k > 0 && id <= accepted[p][k - 1].first) ++not_increasing;
      const std::uint64_t seen = content[id].load();
      if (seen != 0 && seen != row + 1) ++wrong_content;
      ++accepted_total;
    }
  }
  BOOST_TEST(accepted_total == arrivals);
  BOOST_TEST(duplicate_or_bad == 0u);
  BOOST_TEST(not_increasing == 0u);
  BOOST_TEST(wrong_content == 0u);

  // The accounting, exactly.
  BOOST_TEST(accounting.consistent());
  BOOST_TEST(accounting.pushed_total == total_pushes + 1);
  BOOST_TEST(accounting.dropped_invalid == producers * invalid_per_producer);
  BOOST_TEST(accounting.rejected_closed == 1u);
  BOOST_TEST(accounting.accepted() == arrivals);
  BOOST_TEST(accounting.total_uses == total.delivered);
  std::array<std::uint64_t, osbi::use_histogram_bins> histogram{};
  std::uint64_t max_uses = 0, never_delivered = 0, delivered_more_than_once = 0;
  for (std::uint64_t id = 0; id < total_pushes; ++id) {
    const std::uint64_t uses = deliveries[id].load();
    if (id >= arrivals) {
      BOOST_TEST(uses == 0u);
      continue;
    }
    ++histogram[osbi::use_histogram_bin(uses)];
    max_uses = std::max(max_uses, uses);
    never_delivered += uses == 0;
    delivered_more_than_once += uses > 1;
  }
  BOOST_TEST(histogram == accounting.use_histogram, boost::test_tools::per_element());
  BOOST_TEST(max_uses == accounting.max_uses);
  if constexpr (consumes_rows<Buffer>) {
    BOOST_TEST(delivered_more_than_once == 0u);
    BOOST_TEST(accounting.in_buffer == 0u); // drained after close
    BOOST_TEST(accounting.evicted_used == total.delivered);
    BOOST_TEST(accounting.evicted_unseen == never_delivered);
  }
  if constexpr (blocks_when_full<Buffer>) {
    BOOST_TEST(accounting.evicted_unseen == 0u);
    BOOST_TEST(never_delivered == unseen_held(accounting)); // only rows still held can be unseen
  }
}

BOOST_AUTO_TEST_SUITE_END()
