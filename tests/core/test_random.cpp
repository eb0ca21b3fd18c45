// SPDX-License-Identifier: BSD-3-Clause
/// \brief Philox known answers, uniformity and normality with stated false-failure probabilities, and
/// the counter-based promise: the same draws on every backend and thread count.
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/statistics.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <set>
#include <tuple>
#include <vector>

namespace {

// Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, expected output.
struct KnownAnswer {
  osbi::PhiloxBlock counter;
  std::uint32_t key0, key1;
  osbi::PhiloxBlock expected;
};

const KnownAnswer known_answers[] = {
    {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
    {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
     0xffffffffu,
     0xffffffffu,
     {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
    {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
     0xa4093822u,
     0x299f31d0u,
     {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
};

// Draws `per_row` values of each of `rows` rows with the given transform on ExecutionSpace.
template <class ExecutionSpace, class Draw>
std::vector<double> draw_on(const ExecutionSpace& space, osbi::BatchRandom rng, std::size_t rows, std::size_t per_row,
                            Draw draw) {
  osbi::Matrix<double, ExecutionSpace> values("osbi::test::values", rows, per_row);
  Kokkos::parallel_for(
      "osbi::test::draw", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows), KOKKOS_LAMBDA(const std::size_t row) {
        osbi::RowRandom generator = rng.row(row);
        for (std::size_t k = 0; k < per_row; ++k) values(row, k) = draw(generator);
      });
  space.fence();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  return std::vector<double>(host.data(), host.data() + rows * per_row);
}

struct UniformDraw {
  KOKKOS_INLINE_FUNCTION double operator()(osbi::RowRandom& generator) const { return generator.uniform(); }
};
struct NormalDraw {
  KOKKOS_INLINE_FUNCTION double operator()(osbi::RowRandom& generator) const { return generator.normal(); }
};
struct WordDraw {
  KOKKOS_INLINE_FUNCTION double operator()(osbi::RowRandom& generator) const { return generator.next_u32(); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(random_numbers)

BOOST_AUTO_TEST_CASE(philox_matches_random123_known_answers) {
  for (const auto& answer : known_answers) {
    const osbi::PhiloxBlock output = osbi::philox4x32_10(answer.counter, answer.key0, answer.key1);
    for (int i = 0; i < 4; ++i) BOOST_TEST(output.word[i] == answer.expected.word[i]);
  }
}

BOOST_AUTO_TEST_CASE(philox_known_answers_on_the_device) {
  Kokkos::View<std::uint32_t[3][4]> out("osbi::test::kat");
  Kokkos::parallel_for(
      "osbi::test::kat", 3, KOKKOS_LAMBDA(const int i) {
        osbi::PhiloxBlock counter{{0, 0, 0, 0}};
        std::uint32_t key0 = 0, key1 = 0;
        if (i == 1) counter = osbi::PhiloxBlock{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, key0 = key1 = 0xffffffffu;
        if (i == 2) counter = osbi::PhiloxBlock{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, key0 = 0xa4093822u, key1 = 0x299f31d0u;
        const osbi::PhiloxBlock result = osbi::philox4x32_10(counter, key0, key1);
        for (int k = 0; k < 4; ++k) out(i, k) = result.word[k];
      });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) BOOST_TEST(host(i, k) == known_answers[i].expected.word[k]);
}

BOOST_AUTO_TEST_CASE(row_words_are_philox_of_the_documented_counter) {
  // Counter layout (random.hpp): {block, row, batch, stream}, key = the seed's two halves.
  const std::uint64_t seed = 0x0123456789abcdefull;
  osbi::RandomStream stream(seed, 7);
  const osbi::BatchRandom batch = stream.at(3);
  osbi::RowRandom row = batch.row(11);
  for (std::uint32_t block = 0; block < 3; ++block) {
    const osbi::PhiloxBlock expected = osbi::philox4x32_10(osbi::PhiloxBlock{{block, 11, 3, 7}}, 0x89abcdefu, 0x01234567u);
    for (int k = 0; k < 4; ++k) BOOST_TEST(row.next_u32() == expected.word[k]);
  }
  BOOST_TEST(row.blocks_used() == 3u);
}

BOOST_AUTO_TEST_CASE(stream_hands_out_each_batch_once_and_resumes_from_its_counters) {
  osbi::RandomStream stream(osbi::testing::test_seed(), 2);
  std::set<std::uint32_t> first_words;
  for (int b = 0; b < 100; ++b) first_words.insert(stream.next().row(0).next_u32());
  BOOST_TEST(first_words.size() == 100u); // a 32-bit collision among 100 draws: p < 1.2e-6
  BOOST_TEST(stream.batches_drawn() == 100u);
  // A stream rebuilt from (seed, stream, batches_drawn) continues with identical numbers.
  osbi::RandomStream resumed(stream.seed(), stream.stream(), stream.batches_drawn());
  BOOST_TEST(stream.next().row(5).next_u32() == resumed.next().row(5).next_u32());
  BOOST_CHECK_THROW(osbi::RandomStream(1, osbi::RandomStream::max_stream + 1), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(split_parts_differ_from_each_other_and_from_the_parent) {
  const osbi::BatchRandom batch = osbi::RandomStream(osbi::testing::test_seed()).at(0);
  std::set<std::uint32_t> words{batch.row(0).next_u32()};
  for (std::uint32_t part = 0; part < 16; ++part) words.insert(batch.split(part).row(0).next_u32());
  BOOST_TEST(words.size() == 17u); // collision probability < 17²/2^33 ≈ 3.4e-8
}

BOOST_AUTO_TEST_CASE(uniform_passes_chi_square_and_bit_balance) {
  const std::size_t rows = 4096, per_row = 64, bins = 256;
  const auto values = draw_on(Kokkos::DefaultExecutionSpace(), osbi::RandomStream(osbi::testing::test_seed(), 1).next(),
                              rows, per_row, UniformDraw{});
  std::vector<double> counts(bins, 0.0);
  for (double u : values) {
    BOOST_REQUIRE(u > 0.0);
    BOOST_REQUIRE(u < 1.0);
    counts[static_cast<std::size_t>(u * bins)] += 1.0;
  }
  const double expected = static_cast<double>(values.size()) / bins;
  double chi_square = 0.0;
  for (double c : counts) chi_square += (c - expected) * (c - expected) / expected;
  // False-failure probability: default_false_failure (1e-9).
  BOOST_TEST(chi_square < osbi::testing::chi_square_upper_quantile(bins - 1));
  // Also too-good-to-be-true (a lattice, not random): lower tail at the same probability.
  BOOST_TEST(chi_square > osbi::testing::chi_square_lower_quantile(bins - 1));

  // Each of the 32 bits of the raw words is one with probability 1/2 (z-test, 1e-9 each).
  const auto words = draw_on(Kokkos::DefaultExecutionSpace(), osbi::RandomStream(osbi::testing::test_seed(), 2).next(),
                             rows, per_row, WordDraw{});
  const double n = static_cast<double>(words.size());
  for (int bit = 0; bit < 32; ++bit) {
    double ones = 0.0;
    for (double w : words) ones += (static_cast<std::uint32_t>(w) >> bit) & 1u;
    BOOST_TEST(std::abs(ones - n / 2) < osbi::testing::two_sided_z() * std::sqrt(n / 4), "bit " << bit);
  }
}

BOOST_AUTO_TEST_CASE(normal_passes_kolmogorov_smirnov_and_moments) {
  const std::size_t rows = 2048, per_row = 64;
  const auto values = draw_on(Kokkos::DefaultExecutionSpace(), osbi::RandomStream(osbi::testing::test_seed(), 3).next(),
                              rows, per_row, NormalDraw{});
  const std::size_t n = values.size();
  // DKW bound: false-failure probability 1e-9.
  BOOST_TEST(osbi::testing::ks_statistic(values, osbi::testing::standard_normal_cdf) < osbi::testing::ks_bound(n));
  double sum = 0.0, sum_squares = 0.0;
  for (double z : values) sum += z, sum_squares += z * z;
  const double mean = sum / n, second = sum_squares / n;
  const double z = osbi::testing::two_sided_z();
  BOOST_TEST(std::abs(mean) < z / std::sqrt(double(n)));            // sd of the mean: 1/√n
  BOOST_TEST(std::abs(second - 1.0) < z * std::sqrt(2.0 / double(n))); // sd of mean(z²): √(2/n)
  // Consecutive normals of one row (the Box–Muller pair included) are uncorrelated.
  double lag_product = 0.0;
  for (std::size_t row = 0; row < rows; ++row)
    for (std::size_t k = 0; k + 1 < per_row; ++k) lag_product += values[row * per_row + k] * values[row * per_row + k + 1];
  const double pairs = double(rows * (per_row - 1));
  BOOST_TEST(std::abs(lag_product / pairs) < z / std::sqrt(pairs));
}

using HostSpaces = std::tuple<
#if defined(KOKKOS_ENABLE_OPENMP)
    Kokkos::OpenMP,
#endif
    Kokkos::Serial>;

BOOST_AUTO_TEST_CASE_TEMPLATE(same_draws_on_every_backend_and_thread_count, ExecutionSpace, HostSpaces) {
  // The reference is computed one row at a time on the host, in reverse order, without Kokkos.
  const osbi::BatchRandom batch = osbi::RandomStream(osbi::testing::test_seed(), 4).at(9);
  const std::size_t rows = 1000, per_row = 7;
  const auto values = draw_on(ExecutionSpace(), batch, rows, per_row, NormalDraw{});
  for (std::size_t row = rows; row-- > 0;) {
    osbi::RowRandom generator = batch.row(row);
    for (std::size_t k = 0; k < per_row; ++k) BOOST_TEST(values[row * per_row + k] == generator.normal());
  }
}

BOOST_AUTO_TEST_SUITE_END()
