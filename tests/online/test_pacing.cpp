// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pacing: the replay-ratio cap's arithmetic, a pipeline that keeps samples trained within the cap of
/// the arrivals at every step (and one without the cap that does not), a schedule, and the learning-rate warm-up's
/// exact rate per step in deterministic mode.
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/online/pacing.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>

#include <support/test_seed.hpp>

#include "online_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Density = osbi::LinearGaussian<double, Space>;
using Prior = osbi::Gaussian<double, Space>;
using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;

/// x = θ + 0.5·ε, taking `seconds` of wall time: a simulator slower than the trainer.
struct SlowSimulator {
  double seconds = 0;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    for (std::size_t j = 0; j < 2; ++j) x[j] = theta[j] + 0.5 * rng.normal();
  }
};

/// Adam that records, at every step, the rate it steps with and the buffer's arrivals then.
struct RecordingAdam : osbi::optim::Adam<double, Space> {
  using Base = osbi::optim::Adam<double, Space>;
  using Base::Base;
  std::vector<double>* rates = nullptr;
  std::vector<std::uint64_t>* arrivals = nullptr;
  const Buffer* buffer = nullptr;
  void step(const Space& space, const osbi::Vector<double, Space>& parameters, const osbi::ConstVector<double, Space>& gradients) {
    rates->push_back(learning_rate());
    arrivals->push_back(buffer->arrivals());
    Base::step(space, parameters, gradients);
  }
};

struct Recorded {
  std::vector<double> rates;
  std::vector<std::uint64_t> arrivals;
  double final_rate = 0;
};

Recorded run(const osbi::online::PipelineOptions& options, double simulation_seconds) {
  Buffer buffer(osbi::online_test::buffer_options(20'000, options.seed));
  const Prior prior = Prior::diagonal({0.0, 0.0}, {1.0, 1.0});
  osbi::Posterior<Density> posterior(Density(2, 2), prior);
  Recorded out;
  RecordingAdam adam(posterior.estimator().parameters().extent(0), {.learning_rate = 1e-2});
  adam.rates = &out.rates;
  adam.arrivals = &out.arrivals;
  adam.buffer = &buffer;
  osbi::online::Pipeline<Prior, SlowSimulator, Buffer, Density, osbi::NllLoss, RecordingAdam> pipeline(
      std::move(posterior), prior, SlowSimulator{simulation_seconds}, buffer, std::move(adam), options);
  pipeline.run();
  out.final_rate = pipeline.optimizer().learning_rate();
  return out;
}

osbi::online::PipelineOptions paced_options() {
  osbi::online::PipelineOptions options;
  options.seed = osbi::testing::test_seed();
  options.batch_size = 50;
  options.train_after = 100;
  options.stop.max_simulations = 1'000'000; // never reached: the runs end by their step count
  options.stop.max_steps = 300;
  return options;
}

/// The largest samples trained per arrival over the steps (samples after step k: (k + 1)·batch).
double largest_replay_ratio(const Recorded& recorded, std::size_t batch) {
  double largest = 0;
  for (std::size_t k = 0; k < recorded.arrivals.size(); ++k)
    largest = std::max(largest, static_cast<double>((k + 1) * batch) / static_cast<double>(recorded.arrivals[k]));
  return largest;
}

} // namespace

BOOST_AUTO_TEST_SUITE(online_pacing)

BOOST_AUTO_TEST_CASE(the_cap_arithmetic) {
  osbi::online::Pacing pacing;
  BOOST_TEST(osbi::online::replay_allows(pacing, 1'000'000, 50, 10)); // no cap
  BOOST_TEST(osbi::online::arrivals_for_next_batch(pacing, 1'000'000, 50, 10) == 10u);
  pacing.max_replay_ratio = 4;
  BOOST_TEST(osbi::online::replay_allows(pacing, 350, 50, 100));  // 400 <= 4·100
  BOOST_TEST(!osbi::online::replay_allows(pacing, 400, 50, 100)); // 450 > 400
  BOOST_TEST(osbi::online::arrivals_for_next_batch(pacing, 400, 50, 100) == 113u); // ⌈450 / 4⌉
  BOOST_TEST(osbi::online::arrivals_for_next_batch(pacing, 350, 51, 100) == 101u); // at least one more
  pacing.replay_ratio_schedule = [](std::uint64_t arrivals) { return arrivals < 1'000 ? 1.0 : 10.0; };
  BOOST_TEST(!osbi::online::replay_allows(pacing, 900, 200, 999));
  BOOST_TEST(osbi::online::replay_allows(pacing, 900, 200, 1'000));
  pacing.replay_ratio_schedule = [](std::uint64_t) { return -1.0; };
  BOOST_CHECK_THROW(osbi::online::replay_cap(pacing, 5), osbi::InvalidArgument);
  BOOST_TEST(osbi::online::learning_rate_factor({}, 7) == 1.0);
  osbi::online::Pacing warmup;
  warmup.warmup_arrivals = 400;
  BOOST_TEST(osbi::online::learning_rate_factor(warmup, 100) == 0.25);
  BOOST_TEST(osbi::online::learning_rate_factor(warmup, 4'000) == 1.0);
}

BOOST_AUTO_TEST_CASE(a_capped_trainer_waits_for_arrivals_and_an_uncapped_one_does_not) {
  // Simulations take 0.2 ms and a step a few µs: uncapped, 300 steps of 50 rows come from the first ~100 arrivals.
  auto options = paced_options();
  const Recorded free = run(options, 2e-4);
  BOOST_TEST(free.arrivals.size() == 300u);
  BOOST_TEST(largest_replay_ratio(free, 50) > 8.0);
  options.pacing.max_replay_ratio = 2;
  const Recorded capped = run(options, 2e-4);
  BOOST_TEST(capped.arrivals.size() == 300u);
  BOOST_TEST(largest_replay_ratio(capped, 50) <= 2.0);
  BOOST_TEST_MESSAGE("largest samples trained per arrival: uncapped " << largest_replay_ratio(free, 50) << ", capped at 2 "
                                                                      << largest_replay_ratio(capped, 50));
  // A schedule: at most 1 sample per arrival until 2 000 arrivals, then 4.
  options.pacing.max_replay_ratio = 0;
  options.pacing.replay_ratio_schedule = [](std::uint64_t arrivals) { return arrivals < 2'000 ? 1.0 : 4.0; };
  const Recorded scheduled = run(options, 2e-4);
  for (std::size_t k = 0; k < scheduled.arrivals.size(); ++k) {
    const double cap = scheduled.arrivals[k] < 2'000 ? 1.0 : 4.0;
    BOOST_TEST(static_cast<double>((k + 1) * 50) <= cap * static_cast<double>(scheduled.arrivals[k]), "step " << k);
  }
}

BOOST_AUTO_TEST_CASE(the_warm_up_scales_each_step_by_its_arrivals) {
  // Deterministic mode: batch k is drawn at exactly train_after + k·arrivals_per_step arrivals.
  auto options = paced_options();
  options.deterministic = true;
  options.arrivals_per_step = 10;
  options.stop.max_steps = 40;
  options.pacing.warmup_arrivals = 400;
  const Recorded recorded = run(options, 0);
  BOOST_TEST(recorded.rates.size() == 40u);
  for (std::size_t k = 0; k < recorded.rates.size(); ++k) {
    const double expected = 1e-2 * std::min(1.0, static_cast<double>(100 + 10 * k) / 400.0);
    BOOST_TEST(std::abs(recorded.rates[k] - expected) <= 1e-15, "step " << k << ": " << recorded.rates[k] << " vs " << expected);
  }
  BOOST_TEST(recorded.final_rate == 1e-2); // the optimizer's own rate is untouched
}

BOOST_AUTO_TEST_CASE(deterministic_mode_takes_no_cap) {
  auto options = paced_options();
  options.deterministic = true;
  options.arrivals_per_step = 10;
  options.pacing.max_replay_ratio = 2;
  BOOST_CHECK_THROW(run(options, 0), osbi::InvalidArgument);
  options.pacing.max_replay_ratio = -1;
  options.deterministic = false;
  BOOST_CHECK_THROW(run(options, 0), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
