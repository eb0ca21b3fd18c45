// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pipeline: exact accounting with faulty simulators, timeouts, stop rules, training
/// quality against the closed-form posterior, determinism, and kill-and-resume.
#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/files.hpp>
#include <support/test_seed.hpp>

#include "online_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Density = osbi::LinearGaussian<double, Space>;
using Prior = osbi::Gaussian<double, Space>;

constexpr double noise = 0.5;

/// x = θ + 0.5·ε in 2-D; a fraction of the simulations throw, return NaN, or hang — decided by the
/// simulation's own first uniform draw, so a test can replay exactly which ones fail.
struct FaultySimulator {
  double throw_rate = 0, nan_rate = 0, hang_rate = 0, hang_seconds = 0;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    const double u = rng.uniform();
    if (u < throw_rate) throw std::runtime_error("solver diverged");
    if (u < throw_rate + nan_rate) return; // x stays NaN
    if (u < throw_rate + nan_rate + hang_rate) std::this_thread::sleep_for(std::chrono::duration<double>(hang_seconds));
    for (std::size_t j = 0; j < 2; ++j) x[j] = theta[j] + noise * rng.normal();
  }
};

/// How many of the first `budget` simulations fall in [low, high) of the fault draw (replays the
/// pipeline's documented random streams: simulation k = chunk·batch + row uses stream (seed, 12)).
std::size_t replay_count(std::uint64_t seed, std::size_t budget, std::size_t batch, double low, double high) {
  std::size_t count = 0;
  for (std::size_t k = 0; k < budget; ++k) {
    osbi::RowRandom rng = osbi::RandomStream(seed, 12).at(k / batch).row(static_cast<std::uint32_t>(k % batch));
    const double u = rng.uniform();
    count += u >= low && u < high;
  }
  return count;
}

Prior standard_prior() { return Prior::diagonal({0.0, 0.0}, {1.0, 1.0}); }

using osbi::online_test::buffer_options;

std::vector<double> host_copy(const osbi::Vector<double, Space>& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.extent(0));
}

/// A pipeline and the buffer it streams into (built first: the buffer is the caller's and outlives the pipeline).
template <class Buffer, class PriorType, class SimulatorType, class EstimatorType>
struct Online {
  std::unique_ptr<Buffer> buffer;
  osbi::online::Pipeline<PriorType, SimulatorType, Buffer, EstimatorType> pipeline;
};

/// The prior is the proposal; the estimator's posterior maps the prior's support.
template <class Buffer, class PriorType, class SimulatorType, class EstimatorType>
Online<Buffer, PriorType, SimulatorType, EstimatorType> online(PriorType prior, SimulatorType simulator,
                                                               const osbi::BufferOptions& buffer_options, EstimatorType estimator,
                                                               const osbi::online::PipelineOptions& options) {
  auto buffer = std::make_unique<Buffer>(buffer_options);
  Buffer& sink = *buffer;
  osbi::Posterior<EstimatorType> posterior(std::move(estimator), prior);
  return {std::move(buffer), osbi::online::Pipeline<PriorType, SimulatorType, Buffer, EstimatorType>(
                                 std::move(posterior), prior, std::move(simulator), sink, options)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(online_pipeline)

// 2 % throwing and 2 % NaN simulations over 3 workers: every simulation is accounted for exactly,
// and the posterior still matches the closed form: θ | x ~ N(x/(1+σ²), σ²/(1+σ²) I).
BOOST_AUTO_TEST_CASE(faulty_simulations_are_counted_exactly_and_training_is_unaffected) {
  const std::uint64_t seed = osbi::testing::test_seed();
  const std::size_t budget = 12'000, batch = 16;
  osbi::online::PipelineOptions options;
  options.workers = 3;
  options.simulation_batch = batch;
  options.seed = seed;
  options.validation_size = 1'000;
  options.validate_every = 50;
  options.train_after = 500;
  options.learning_rate = 1e-2;
  options.stop.max_simulations = budget;
  // No plateau rule: it could end the run before the budget is spent when simulations lag (a loaded
  // machine), and this test counts the whole budget.
  options.stop.epochs_after_budget = 30;
  using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
  auto pipeline_run = online<Buffer>(standard_prior(), FaultySimulator{0.02, 0.02}, buffer_options(4'000, seed),
                                  Density(2, 2), options);
  auto& pipeline = pipeline_run.pipeline;
  const auto report = pipeline.run();
  const auto& counts = report.accounting;
  BOOST_TEST_MESSAGE("faulty run: " << osbi::online::stop_reason_name(report.reason) << ", " << report.final_metrics.steps
                                    << " steps, best validation " << report.final_metrics.best_validation_loss);
  BOOST_TEST(counts.consistent());
  BOOST_TEST(counts.finished == budget);
  BOOST_TEST(counts.failed_threw == replay_count(seed, budget, batch, 0.0, 0.02));
  BOOST_TEST(counts.failed_non_finite == replay_count(seed, budget, batch, 0.02, 0.04));
  BOOST_TEST(counts.validation == 1'000u);
  BOOST_TEST(counts.buffer.pushed_total == budget - counts.failed() - 1'000);
  BOOST_TEST(counts.buffer.dropped_invalid == 0u);
  BOOST_TEST(report.failures.size() == counts.failed());
  for (const auto& failure : report.failures) {
    BOOST_TEST(failure.theta.size() == 2u);
    BOOST_TEST((failure.kind == osbi::online::FailureKind::threw ? failure.message.find("solver diverged") != std::string::npos
                                                                   : failure.kind == osbi::online::FailureKind::non_finite));
  }
  // Expected NLL of the exact posterior: 2·(½ log(2π v) + ½), v = σ²/(1+σ²); 1 000 validation rows
  // give a standard error of ~0.045, so 0.15 means the fit is near exact.
  const double v = noise * noise / (1 + noise * noise);
  const double expected = 2 * (0.5 * std::log(2 * M_PI * v) + 0.5);
  BOOST_TEST(std::abs(report.final_metrics.best_validation_loss - expected) < 0.15,
             report.final_metrics.best_validation_loss << " vs " << expected);
}

// Hanging simulations are cut off by the timeout, recorded with their θ, and replaced by fresh
// workers; the rest of the run is unaffected and every simulation is accounted for.
BOOST_AUTO_TEST_CASE(hanging_simulations_time_out_and_the_run_goes_on) {
  const std::uint64_t seed = osbi::testing::test_seed() + 7;
  const std::size_t budget = 3'000, batch = 4;
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.simulation_batch = batch;
  options.seed = seed;
  options.train_after = 200;
  options.simulation_timeout = 0.05;
  options.stop.max_simulations = budget;
  using Buffer = osbi::FifoBuffer<osbi::overflow::Block, double>;
  auto pipeline_run = online<Buffer>(standard_prior(), FaultySimulator{0.0, 0.0, 0.003, 0.4},
                                                      buffer_options(1'000, seed), Density(2, 2), options);
  auto& pipeline = pipeline_run.pipeline;
  const auto report = pipeline.run();
  const auto& counts = report.accounting;
  BOOST_TEST(counts.consistent());
  BOOST_TEST(counts.finished == budget);
  BOOST_TEST(counts.timed_out == replay_count(seed, budget, batch, 0.0, 0.003));
  BOOST_TEST(counts.timed_out > 0u);
  BOOST_TEST(counts.failed_threw + counts.failed_non_finite == 0u);
  // FIFO: every accepted sample was trained on exactly once (the budget ends the run, the buffer drains).
  BOOST_TEST(report.reason == osbi::online::StopReason::simulation_budget);
  BOOST_TEST(counts.buffer.in_buffer == 0u);
  BOOST_TEST(counts.buffer.evicted_unseen == 0u);
  BOOST_TEST(counts.buffer.total_uses == counts.buffer.pushed_total);
  BOOST_TEST(report.final_metrics.samples_trained == counts.buffer.pushed_total);
  for (const auto& failure : report.failures) BOOST_TEST(failure.kind == osbi::online::FailureKind::timed_out);
  // Let the abandoned solver threads finish before the test ends.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

// request_stop() from another thread drains the run: workers and trainer return, nothing is lost.
BOOST_AUTO_TEST_CASE(request_stop_drains_cleanly) {
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.seed = 5;
  options.train_after = 100;
  options.stop.max_seconds = 60;
  using Buffer = osbi::FifoBuffer<osbi::overflow::Block, double>;
  auto pipeline_run = online<Buffer>(standard_prior(), FaultySimulator{0.05, 0.0, 0.01, 0.01},
                                                      buffer_options(300, 5), Density(2, 2), options);
  auto& pipeline = pipeline_run.pipeline;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    pipeline.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const auto report = pipeline.run();
  stopper.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(seconds < 10.0);
  BOOST_TEST(report.reason == osbi::online::StopReason::requested);
  BOOST_TEST(report.accounting.consistent());
  BOOST_TEST(report.accounting.finished > 100u);
}

// A batched Kokkos simulator (two_moons) runs in the pipeline too; its failures are rows, not throws.
BOOST_AUTO_TEST_CASE(a_batched_kokkos_simulator_streams_into_the_buffer) {
  using FloatSpace = Kokkos::Serial;
  const osbi::TwoMoons<double, FloatSpace> task;
  osbi::online::PipelineOptions options;
  options.simulation_batch = 256;
  options.seed = 11;
  options.train_after = 512;
  options.stop.max_simulations = 4'096;
  using Buffer = osbi::PrioritizedBuffer<osbi::overflow::Evict, double>;
  auto pipeline_run = online<Buffer>(task.prior(), task, buffer_options(1'024, 11), Density(2, 2), options);
  auto& pipeline = pipeline_run.pipeline;
  const auto report = pipeline.run();
  BOOST_TEST(report.accounting.consistent());
  BOOST_TEST(report.accounting.finished == 4'096u);
  BOOST_TEST(report.accounting.buffer.pushed_total == 4'096u);
  BOOST_TEST(report.reason == osbi::online::StopReason::simulation_budget);
  BOOST_TEST(report.final_metrics.steps > 0u);
}

// The z-scoring rows also give a ConditionallyCentered density its data-dependent start: after one step its
// affine map is still the regression of θ on x over the first train_after arrivals, so q(θ | x) is close to the
// closed-form posterior N(x/1.25, 0.2 I) already (the flow behind the map starts near the identity). 20 000
// draws at x = (1, −0.5): mean within 0.12 of (0.8, −0.4) and standard deviation within 0.1 of √0.2 (512 rows:
// standard errors ≈ 0.02 on the regression; sampling error 0.003; off by up to 0.08 over seeds 1–12).
BOOST_AUTO_TEST_CASE(the_first_arrivals_give_a_centered_density_its_data_dependent_start) {
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.seed = osbi::testing::test_seed();
  options.train_after = 512;
  options.validation_size = 64;
  options.stop.max_steps = 1;
  using Buffer = osbi::FifoBuffer<osbi::overflow::Block, double>;
  auto pipeline_run = online<Buffer>(standard_prior(), FaultySimulator{}, buffer_options(1'024, 5),
                                                     osbi::centered_nsf<double, Space>(2, 2, options.seed), options);
  auto& pipeline = pipeline_run.pipeline;
  const auto report = pipeline.run();
  BOOST_TEST(report.accounting.consistent());
  BOOST_TEST(report.final_metrics.steps == 1u);
  constexpr std::size_t n = 20'000;
  osbi::Matrix<double, Space> x("x", 1, 2), theta("theta", n, 2);
  x(0, 0) = 1.0;
  x(0, 1) = -0.5;
  pipeline.estimator().sample(Space(), x, n, osbi::RandomStream(options.seed, 3).next(), theta);
  for (std::size_t j = 0; j < 2; ++j) {
    double mean = 0, square = 0;
    for (std::size_t i = 0; i < n; ++i) mean += theta(i, j) / n;
    for (std::size_t i = 0; i < n; ++i) square += (theta(i, j) - mean) * (theta(i, j) - mean) / (n - 1);
    BOOST_TEST_MESSAGE("θ" << j << ": mean " << mean << ", sd " << std::sqrt(square));
    BOOST_TEST(std::abs(mean - 0.8 * x(0, j)) <= 0.12);
    BOOST_TEST(std::abs(std::sqrt(square) - std::sqrt(0.2)) <= 0.1);
  }
}

BOOST_AUTO_TEST_CASE(bad_configurations_are_rejected_with_clear_errors) {
  using Buffer = osbi::FifoBuffer<osbi::overflow::Block, double>;
  osbi::online::PipelineOptions options;
  options.stop.max_simulations = 10;
  options.train_after = 5;
  const auto build = [&](const osbi::online::PipelineOptions& o, std::size_t density_context = 2) {
    auto p_run = online<Buffer>(standard_prior(), FaultySimulator{}, buffer_options(100, 1),
                                                 Density(2, density_context), o);
    auto& p = p_run.pipeline;
    return p.theta_dim();
  };
  BOOST_CHECK_NO_THROW(build(options));
  BOOST_CHECK_THROW(build(options, 3), osbi::DimensionMismatch);
  auto no_rule = options;
  no_rule.stop = {};
  BOOST_CHECK_THROW(build(no_rule), osbi::InvalidArgument);
  auto two_workers = options;
  two_workers.deterministic = true;
  two_workers.workers = 2;
  BOOST_CHECK_THROW(build(two_workers), osbi::InvalidArgument);
  auto big_warmup = options;
  big_warmup.train_after = 101;
  BOOST_CHECK_THROW(build(big_warmup), osbi::InvalidArgument);
  auto plateau_without_validation = options;
  plateau_without_validation.stop.plateau_patience = 3;
  BOOST_CHECK_THROW(build(plateau_without_validation), osbi::InvalidArgument);
}

// A corrupt checkpoint is rejected before anything changes.
BOOST_AUTO_TEST_CASE(a_corrupt_checkpoint_is_rejected) {
  const osbi::testing::ScratchDirectory scratch;
  auto options = osbi::online::PipelineOptions{};
  options.deterministic = true;
  options.seed = 3;
  options.simulation_batch = 8;
  options.batch_size = 32;
  options.train_after = 64;
  options.arrivals_per_step = 2;
  options.stop.max_steps = 40;
  options.checkpoint = scratch.path / "run.ckpt";
  using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
  auto first_run = online<Buffer>(standard_prior(), FaultySimulator{}, buffer_options(200, 3), Density(2, 2), options);
  auto& first = first_run.pipeline;
  first.run();
  auto bytes = osbi::testing::read_bytes(options.checkpoint);
  bytes[bytes.size() / 2] ^= 0x20;
  osbi::testing::write_bytes(scratch.path / "corrupt.ckpt", bytes);
  auto second_run = online<Buffer>(standard_prior(), FaultySimulator{}, buffer_options(200, 3), Density(2, 2), options);
  auto& second = second_run.pipeline;
  const auto before = host_copy(second.estimator().parameters());
  BOOST_CHECK_THROW(second.resume(scratch.path / "corrupt.ckpt"), osbi::DataError);
  BOOST_TEST(host_copy(second.estimator().parameters()) == before);
  // The intact one loads.
  BOOST_CHECK_NO_THROW(second.resume(options.checkpoint));
}

namespace {

using DeterministicBuffer = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;

osbi::online::PipelineOptions deterministic_options(std::uint64_t seed) {
  osbi::online::PipelineOptions options;
  options.deterministic = true;
  options.seed = seed;
  options.simulation_batch = 8;
  options.batch_size = 64;
  options.train_after = 200;
  options.validation_size = 200;
  options.validate_every = 25;
  options.arrivals_per_step = 3;
  options.learning_rate = 5e-3;
  options.stop.max_steps = 600;
  return options;
}

auto deterministic_pipeline(const osbi::online::PipelineOptions& options) {
  return online<DeterministicBuffer>(standard_prior(), FaultySimulator{0.01, 0.01},
                                                          buffer_options(500, options.seed), Density(2, 2), options);
}

} // namespace

// The lockstep schedule makes a run a function of its seed: two runs agree to the bit.
BOOST_AUTO_TEST_CASE(deterministic_mode_is_bit_reproducible) {
  const auto options = deterministic_options(osbi::testing::test_seed());
  auto first_run = deterministic_pipeline(options);
  auto& first = first_run.pipeline;
  const auto a = first.run();
  auto second_run = deterministic_pipeline(options);
  auto& second = second_run.pipeline;
  const auto b = second.run();
  BOOST_TEST(a.reason == osbi::online::StopReason::max_steps);
  BOOST_TEST(a.final_metrics.steps == 600u);
  BOOST_TEST(host_copy(first.estimator().parameters()) == host_copy(second.estimator().parameters()));
  BOOST_TEST(a.train_loss == b.train_loss);
  // Arrivals follow the schedule: batch k was drawn with exactly train_after + 3k rows accepted; after
  // the last one the worker may or may not add its next 3 before the stop (that race touches no batch).
  for (const auto* report : {&a, &b}) {
    BOOST_TEST(report->accounting.buffer.accepted() >= 200u + 599u * 3u);
    BOOST_TEST(report->accounting.buffer.accepted() <= 200u + 600u * 3u);
  }
  BOOST_TEST(a.accounting.consistent());
}

// A run killed with SIGKILL resumes from its last checkpoint and ends with the same parameters, bit for
// bit, as a run that never stopped.
BOOST_AUTO_TEST_CASE(a_killed_run_resumes_from_its_checkpoint_to_the_same_parameters) {
  const osbi::testing::ScratchDirectory scratch;
  auto options = deterministic_options(osbi::testing::test_seed() + 1);
  options.checkpoint_every_steps = 50;

  options.checkpoint = scratch.path / "uninterrupted.ckpt";
  auto reference_pipeline_run = deterministic_pipeline(options);
  auto& reference_pipeline = reference_pipeline_run.pipeline;
  const auto reference = reference_pipeline.run();
  const auto expected = host_copy(reference_pipeline.estimator().parameters());

  options.checkpoint = scratch.path / "killed.ckpt";
  const pid_t child = fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    // The child trains slowly enough to be killed midway, then would finish normally.
    auto slow = options;
    auto pipeline_run = online<DeterministicBuffer>(
        standard_prior(), FaultySimulator{0.01, 0.01, 1.0, 2e-4}, buffer_options(500, slow.seed), Density(2, 2), slow);
    auto& pipeline = pipeline_run.pipeline;
    pipeline.run();
    _exit(0);
  }
  // Kill once a checkpoint beyond the first one exists.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uintmax_t first_size = 0;
  bool seen_two = false;
  auto first_time = std::filesystem::file_time_type::min();
  while (std::chrono::steady_clock::now() < deadline && !seen_two) {
    std::error_code error;
    const auto time = std::filesystem::last_write_time(options.checkpoint, error);
    if (!error) {
      if (first_time == std::filesystem::file_time_type::min()) first_time = time, first_size = 1;
      else if (time != first_time) seen_two = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_TEST_REQUIRE(first_size == 1u);
  BOOST_TEST(WIFSIGNALED(status));

  auto resumed_run = deterministic_pipeline(options);
  auto& resumed = resumed_run.pipeline;
  resumed.resume(options.checkpoint);
  const auto report = resumed.run();
  BOOST_TEST(report.resumed);
  BOOST_TEST(report.final_metrics.steps == 600u);
  BOOST_TEST(host_copy(resumed.estimator().parameters()) == expected);
  BOOST_TEST(report.train_loss == reference.train_loss);
  BOOST_TEST(report.accounting.consistent());
}

// Parameter averaging online, as offline train(): the raw parameters take the same path bit for bit, and what is
// validated, kept as best and returned is their moving average.
BOOST_AUTO_TEST_CASE(parameter_averaging_validates_and_keeps_the_average_while_the_raw_path_is_unchanged) {
  auto options = deterministic_options(osbi::testing::test_seed() + 2);
  options.stop.max_steps = 300;
  std::vector<std::vector<double>> plain_validated, averaged_validated;
  std::function<std::vector<double>()> parameters_now;
  options.on_validation = [&](std::uint64_t, double) { plain_validated.push_back(parameters_now()); };
  auto plain_run = deterministic_pipeline(options);
  parameters_now = [&] { return host_copy(plain_run.pipeline.estimator().parameters()); };
  const auto plain = plain_run.pipeline.run();

  options.parameter_average_decay = 0.9;
  options.on_validation = [&](std::uint64_t, double) { averaged_validated.push_back(parameters_now()); };
  auto averaged_run = deterministic_pipeline(options);
  parameters_now = [&] { return host_copy(averaged_run.pipeline.estimator().parameters()); };
  const auto averaged = averaged_run.pipeline.run();

  BOOST_TEST(averaged.final_metrics.steps == 300u);
  BOOST_TEST(averaged.train_loss == plain.train_loss); // the raw parameters' path
  BOOST_TEST_REQUIRE(averaged_validated.size() == 12u);
  BOOST_TEST_REQUIRE(plain_validated.size() == 12u);
  for (std::size_t k = 0; k < averaged_validated.size(); ++k) {
    BOOST_TEST_INFO("validation " << k);
    BOOST_TEST((averaged_validated[k] != plain_validated[k])); // the average, not the raw parameters
  }
  BOOST_TEST((averaged.validation_loss != plain.validation_loss));
  // The result is the best validated average.
  BOOST_TEST_REQUIRE(averaged.restored_best);
  const auto best = std::min_element(averaged.validation_loss.begin(), averaged.validation_loss.end());
  const auto best_index = static_cast<std::size_t>(best - averaged.validation_loss.begin());
  BOOST_TEST(host_copy(averaged_run.pipeline.estimator().parameters()) == averaged_validated[best_index]);
}

// The average and its update count travel in the checkpoint: a run resumed from the step-300 checkpoint of an
// averaging run validates the same values and ends with the same parameters, bit for bit, as the run itself.
BOOST_AUTO_TEST_CASE(an_averaging_run_resumes_with_its_average) {
  const osbi::testing::ScratchDirectory scratch;
  auto options = deterministic_options(osbi::testing::test_seed() + 3);
  options.parameter_average_decay = 0.95;
  options.checkpoint_every_steps = 50;
  options.checkpoint = scratch.path / "run.ckpt";
  const auto midway = scratch.path / "step300.ckpt";
  // At validation 325 the file holds the checkpoint written after step 300 (none is due at 325).
  options.on_validation = [&](std::uint64_t step, double) {
    if (step == 325) std::filesystem::copy_file(options.checkpoint, midway);
  };
  auto reference_run = deterministic_pipeline(options);
  const auto reference = reference_run.pipeline.run();
  const auto expected = host_copy(reference_run.pipeline.estimator().parameters());
  BOOST_TEST_REQUIRE(std::filesystem::exists(midway));

  options.on_validation = nullptr;
  options.checkpoint = scratch.path / "resumed.ckpt";
  auto resumed_run = deterministic_pipeline(options);
  resumed_run.pipeline.resume(midway);
  const auto report = resumed_run.pipeline.run();
  BOOST_TEST(report.resumed);
  BOOST_TEST(report.final_metrics.steps == 600u);
  BOOST_TEST(report.validation_loss == reference.validation_loss); // the average went on where it was
  BOOST_TEST(report.train_loss == reference.train_loss);
  BOOST_TEST(host_copy(resumed_run.pipeline.estimator().parameters()) == expected);

  // A run without averaging resumes from it too (the average is ignored), and an averaging run from a checkpoint
  // without one (its average starts from the parameters).
  auto plain = options;
  plain.parameter_average_decay = 0.0;
  plain.checkpoint = scratch.path / "plain.ckpt";
  auto plain_run = deterministic_pipeline(plain);
  plain_run.pipeline.resume(midway);
  BOOST_TEST(plain_run.pipeline.run().final_metrics.steps == 600u);
  auto averaging_again = options;
  averaging_again.checkpoint = scratch.path / "again.ckpt";
  auto again_run = deterministic_pipeline(averaging_again);
  again_run.pipeline.resume(plain.checkpoint);
  BOOST_TEST(again_run.pipeline.run().resumed);
}

BOOST_AUTO_TEST_SUITE_END()
