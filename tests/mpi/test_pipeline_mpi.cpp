// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pipeline with mpi::Transport, the same type as the threaded pipeline but for one template argument:
/// under every layout of the world it trains data-parallel with bitwise-equal learners, accounts for every simulation
/// on the learners, and learns; in deterministic mode (one learner) two runs give the same parameters.
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/transport.hpp>

#include <mpi/mpi_test_support.hpp>

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/io/checkpoint.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

namespace mt = osbi::mpi_test;
using Space = Kokkos::Serial;
using Density = osbi::LinearGaussian<double, Space>;
using Prior = osbi::Gaussian<double, Space>;
using Adam = osbi::optim::Adam<double, Space>;

/// x = θ + 0.5·ε; 2 % of the simulations throw (decided by the simulation's own first draw); each takes `seconds`.
struct NoisySimulator {
  double seconds = 0;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    if (rng.uniform() < 0.02) throw std::runtime_error("solver diverged");
    for (std::size_t j = 0; j < 2; ++j) x[j] = theta[j] + 0.5 * rng.normal();
  }
};

Prior standard_prior() { return Prior::diagonal({0.0, 0.0}, {1.0, 1.0}); }

osbi::BufferOptions buffer_options(std::size_t capacity) {
  osbi::BufferOptions options;
  options.capacity = capacity;
  options.theta_dim = 2;
  options.x_dim = 2;
  options.seed = 4;
  return options;
}

template <class Buffer>
using MpiPipeline = osbi::online::Pipeline<Prior, NoisySimulator, Buffer, Density, osbi::NllLoss, Adam, osbi::mpi::Transport>;

struct Outcome {
  osbi::online::PipelineReport report;
  std::vector<double> parameters;
  bool learner = false;
};

template <class Buffer>
Outcome run_pipeline(const osbi::mpi::Roles& roles, const osbi::online::PipelineOptions& options, std::size_t capacity,
                     const osbi::mpi::StreamOptions& stream = {}, const std::filesystem::path& resume_from = {},
                     NoisySimulator simulator = {}) {
  Buffer buffer(buffer_options(capacity));
  const Prior prior = standard_prior();
  osbi::Posterior<Density> posterior(Density(2, 2), prior);
  Adam adam(posterior.estimator().parameters().extent(0), {.learning_rate = 1e-2});
  MpiPipeline<Buffer> pipeline(std::move(posterior), prior, simulator, buffer, std::move(adam), options, osbi::NllLoss{}, {},
                               osbi::mpi::Transport(roles, stream));
  if (!resume_from.empty()) pipeline.resume(resume_from);
  Outcome out;
  out.report = pipeline.run();
  out.learner = roles.is_learner();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.estimator().parameters());
  out.parameters.assign(host.data(), host.data() + host.extent(0));
  return out;
}

/// The options of the data-parallel training cases: 2 workers per group, batches of 50, 100 validation rows checked
/// every 5 steps, the last parameters kept.
osbi::online::PipelineOptions data_parallel_options(std::uint64_t seed, std::size_t train_after, std::uint64_t budget) {
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.seed = seed;
  options.batch_size = 50;
  options.train_after = train_after;
  options.validation_size = 100;
  options.validate_every = 5;
  options.restore_best = false;
  options.stop.max_simulations = budget;
  return options;
}

/// The largest difference between any learner's parameters and learner 0's (learner 0 is world rank 0).
double learner_spread(const Outcome& outcome) {
  std::vector<double> first = outcome.parameters;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double spread = 0;
  if (outcome.learner)
    for (std::size_t i = 0; i < first.size(); ++i) spread = std::max(spread, std::abs(first[i] - outcome.parameters[i]));
  return mt::max_over_ranks(spread);
}

/// A directory every rank names alike (created by rank 0, removed by it at the end).
struct SharedDirectory {
  std::filesystem::path path;
  explicit SharedDirectory(const std::string& name)
      : path(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(mt::sum_over_ranks(::getpid())))) {
    if (mt::world_rank() == 0) std::filesystem::create_directories(path);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~SharedDirectory() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (mt::world_rank() == 0) std::filesystem::remove_all(path);
  }
};

/// Whether `run` threw an exception of type E (false if it returned).
template <class E, class F>
bool throws(F&& run) {
  try {
    run();
  } catch (const E&) {
    return true;
  }
  return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(mpi_pipeline)

BOOST_AUTO_TEST_CASE(trains_data_parallel_and_accounts_for_every_simulation) {
  const std::uint64_t budget = 6'000;
  for (const auto layout : mt::layouts(1)) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      const auto options = data_parallel_options(9, 200, budget);
      const Outcome outcome = run_pipeline<osbi::FifoBuffer<osbi::overflow::Block, double>>(roles, options, 1'000);
      const auto& counts = outcome.report.accounting;
      // The learners account for every simulation of the budget, once: validation, buffer or failure.
      BOOST_TEST(mt::sum_over_ranks(outcome.learner ? counts.finished : 0) == budget);
      BOOST_TEST(mt::on_every_rank(!outcome.learner || counts.consistent()));
      BOOST_TEST(mt::sum_over_ranks(outcome.learner ? counts.failed_threw : 0) > 0u);
      BOOST_TEST(mt::sum_over_ranks(outcome.learner ? outcome.report.failures.size() : 0) ==
                 mt::sum_over_ranks(outcome.learner ? counts.failed_threw : 0));
      // Every learner took the same steps and holds the same bits.
      BOOST_TEST(learner_spread(outcome) == 0.0);
      if (outcome.learner) {
        BOOST_TEST(outcome.report.reason == osbi::online::StopReason::simulation_budget);
        BOOST_TEST(counts.validation == options.validation_size);
        // It learned: x = θ + 0.5ε under a standard normal prior, the validation NLL falls well below its start.
        // (No BOOST_TEST_REQUIRE in these tests: a rank that leaves a case early leaves the others in a collective.)
        BOOST_TEST(outcome.report.validation_loss.size() >= 2u);
        if (outcome.report.validation_loss.size() >= 2u)
          BOOST_TEST(outcome.report.validation_loss.back() < outcome.report.validation_loss.front() - 0.3);
      } else {
        // A simulation rank reports its group's share.
        BOOST_TEST(counts.finished == osbi::mpi::group_budget(budget, roles.group_count(), roles.group_index()));
      }
    }
  }
}

// Plasticity's pulls come at arrival counts each learner sees at its own time: the learners agree on the step, so they
// stay bitwise equal (and the run still learns).
BOOST_AUTO_TEST_CASE(plasticity_keeps_the_learners_identical) {
  for (const auto layout : mt::layouts(1)) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      auto options = data_parallel_options(10, 100, 2'000);
      options.stop.epochs_after_budget = 20; // room to train after the last pull
      options.plasticity.keep = 0.5;
      // 0.1 ms a simulation: the trainer steps while the arrivals grow, so the milestones fall inside the run.
      const Outcome outcome = run_pipeline<osbi::ReservoirBuffer<osbi::overflow::Evict, double>>(roles, options, 2'000, {}, {},
                                                                                                 NoisySimulator{1e-4});
      BOOST_TEST(learner_spread(outcome) == 0.0);
      if (outcome.learner) {
        BOOST_TEST(!outcome.report.plasticity_steps.empty());
        BOOST_TEST(outcome.report.validation_loss.size() >= 2u);
        if (outcome.report.validation_loss.size() >= 2u)
          BOOST_TEST(outcome.report.validation_loss.back() < outcome.report.validation_loss.front() - 0.3);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(small_blocking_buffers_on_several_learners) {
  // Several learners fed by one group, one message in flight per learner, blocking buffers of 48 rows and
  // 4-row messages: the stream, the learners' lockstep and back-pressure together, with exact accounting.
  const int ranks = mt::world_size();
  if (ranks < 3) return;
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {ranks - 1, 1});
  osbi::online::PipelineOptions options;
  options.seed = 5;
  options.batch_size = 16;
  options.train_after = 40;
  options.validation_size = 20;
  options.validate_every = 10;
  options.stop.max_simulations = 2'000;
  const osbi::mpi::StreamOptions stream{.rows_per_message = 4, .max_in_flight = 1};
  const Outcome outcome = run_pipeline<osbi::FifoBuffer<osbi::overflow::Block, double>>(roles, options, 48, stream);
  BOOST_TEST(mt::sum_over_ranks(outcome.learner ? outcome.report.accounting.finished : 0) == 2'000u);
  BOOST_TEST(mt::on_every_rank(!outcome.learner || outcome.report.accounting.consistent()));
  BOOST_TEST(learner_spread(outcome) == 0.0);
}

BOOST_AUTO_TEST_CASE(deterministic_mode_repeats_its_bits) {
  // One learner (deterministic mode's rule under MPI), every other rank a simulation group.
  for (const auto layout : {mt::layouts(1).front()}) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      osbi::online::PipelineOptions options;
      options.workers = 1;
      options.seed = 21;
      options.batch_size = 32;
      options.train_after = 100;
      options.validation_size = 50;
      options.validate_every = 20;
      options.deterministic = true;
      options.arrivals_per_step = 8;
      options.stop.max_steps = 120;
      using Reservoir = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
      const Outcome first = run_pipeline<Reservoir>(roles, options, 400);
      const Outcome second = run_pipeline<Reservoir>(roles, options, 400);
      if (first.learner) {
        BOOST_TEST(first.report.reason == osbi::online::StopReason::max_steps);
        BOOST_TEST(first.parameters == second.parameters, boost::test_tools::per_element());
        BOOST_TEST(first.report.validation_loss == second.report.validation_loss, boost::test_tools::per_element());
      }
      BOOST_TEST(learner_spread(first) == 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(deterministic_mode_with_several_learners_is_refused) {
  if (mt::world_size() < 2) return;
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {2, 1});
  osbi::online::PipelineOptions options;
  options.deterministic = true;
  options.stop.max_steps = 1;
  using Reservoir = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
  BOOST_CHECK_THROW(run_pipeline<Reservoir>(roles, options, 100), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(learner_zero_alone_writes_progress_and_metrics) {
  // Every rank names its own file; only learner 0's may appear (one writer per file, one progress stream).
  const auto directory = std::filesystem::temp_directory_path() / ("osbi-mpi-metrics-" + std::to_string(mt::sum_over_ranks(::getpid())));
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {mt::world_size(), 1});
  if (mt::world_rank() == 0) std::filesystem::create_directories(directory);
  MPI_Barrier(MPI_COMM_WORLD);
  std::ostringstream progress;
  osbi::online::PipelineOptions options;
  options.seed = 2;
  options.batch_size = 20;
  options.train_after = 50;
  options.stop.max_seconds = 0.3; // the monitor looks every 20 ms: long enough for a few progress lines
  options.progress = &progress;
  options.progress_seconds = 0.005;
  options.metrics_csv = directory / ("rank" + std::to_string(mt::world_rank()) + ".csv");
  using Reservoir = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
  run_pipeline<Reservoir>(roles, options, 500);
  const bool lead = mt::world_rank() == 0;
  BOOST_TEST(std::filesystem::exists(options.metrics_csv) == lead);
  BOOST_TEST(progress.str().empty() == !lead);
  MPI_Barrier(MPI_COMM_WORLD);
  if (lead) std::filesystem::remove_all(directory);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_resumes_on_as_many_learners_and_the_budget_is_simulated_once) {
  // A run stopped after 40 steps writes its checkpoint; a run resumed from it simulates what is left of the budget.
  // Over both, the learners account for exactly the budget; the resumed run continues the first one's history.
  // 40 steps of 50 rows on 4 learners use 8 000; each learner's blocking FIFO (1 000), its validation rows and the rows
  // in flight come on top, so a budget of 12 000 was all simulated before the first run stopped on a loaded machine.
  const std::uint64_t budget = 20'000;
  for (const auto layout : mt::layouts(1)) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const SharedDirectory directory("osbi-mpi-resume");
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      osbi::online::PipelineOptions options;
      options.workers = 2;
      options.seed = 13;
      options.batch_size = 50;
      options.train_after = 200;
      options.validation_size = 100;
      options.validate_every = 5;
      options.restore_best = false;
      options.stop.max_simulations = budget;
      options.stop.max_steps = 40;
      options.checkpoint = directory.path / "run.ckpt";
      using Fifo = osbi::FifoBuffer<osbi::overflow::Block, double>;
      const Outcome first = run_pipeline<Fifo>(roles, options, 1'000);
      const std::uint64_t accounted = mt::sum_over_ranks(first.learner ? first.report.accounting.finished : 0);
      BOOST_TEST(accounted < budget);
      if (mt::world_rank() == 0)
        BOOST_TEST(osbi::CheckpointReader(options.checkpoint).get_scalar<std::uint64_t>("mpi/learners") ==
                   static_cast<std::uint64_t>(layout.learners));

      options.stop.max_steps = 0;
      const Outcome resumed = run_pipeline<Fifo>(roles, options, 1'000, {}, options.checkpoint);
      const auto& counts = resumed.report.accounting;
      BOOST_TEST(mt::on_every_rank(resumed.report.resumed));
      BOOST_TEST(mt::sum_over_ranks(resumed.learner ? counts.finished : 0) == budget);
      BOOST_TEST(mt::on_every_rank(!resumed.learner || counts.consistent()));
      BOOST_TEST(learner_spread(resumed) == 0.0);
      if (resumed.learner) {
        BOOST_TEST(resumed.report.reason == osbi::online::StopReason::simulation_budget);
        BOOST_TEST(counts.validation == options.validation_size); // the first run's set, kept
        const auto& before = first.report.train_loss;
        const auto& after = resumed.report.train_loss;
        BOOST_TEST(before.size() == 40u);
        BOOST_TEST(after.size() > before.size());
        // Each learner's train losses are its own batches'; the file keeps learner 0's (the one that reports).
        if (after.size() > before.size() && roles.learners().rank() == 0)
          BOOST_TEST(std::vector<double>(after.begin(), after.begin() + 40) == before, boost::test_tools::per_element());
      } else {
        // A group's share of what the checkpoint left.
        BOOST_TEST(counts.finished == osbi::mpi::group_budget(budget - accounted, roles.group_count(), roles.group_index()));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(resuming_one_checkpoint_twice_gives_the_same_bits) {
  // Deterministic mode (one learner): a resumed run is a function of its checkpoint and seed. The groups draw
  // fresh streams (mpi::group_seed), so it is not the bits of a run that never stopped; a threaded pipeline's is.
  const SharedDirectory directory("osbi-mpi-resume-twice");
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, mt::layouts(1).front());
  osbi::online::PipelineOptions options;
  options.workers = 1;
  options.seed = 23;
  options.batch_size = 32;
  options.train_after = 100;
  options.validation_size = 50;
  options.validate_every = 20;
  options.deterministic = true;
  options.arrivals_per_step = 8;
  options.stop.max_steps = 60;
  options.checkpoint = directory.path / "first.ckpt";
  using Reservoir = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
  const Outcome first = run_pipeline<Reservoir>(roles, options, 400);
  const std::filesystem::path from = options.checkpoint;
  options.stop.max_steps = 120;
  options.checkpoint = directory.path / "second.ckpt";
  const Outcome once = run_pipeline<Reservoir>(roles, options, 400, {}, from);
  const Outcome twice = run_pipeline<Reservoir>(roles, options, 400, {}, from);
  if (once.learner) {
    BOOST_TEST(once.report.train_loss.size() == 120u);
    BOOST_TEST(once.parameters == twice.parameters, boost::test_tools::per_element());
    BOOST_TEST(once.report.validation_loss == twice.report.validation_loss, boost::test_tools::per_element());
    BOOST_TEST(once.parameters != first.parameters);
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_layout_or_a_corrupt_one_is_refused_on_every_rank) {
  const SharedDirectory directory("osbi-mpi-refused");
  const int ranks = mt::world_size();
  const osbi::mpi::Roles all_learners(MPI_COMM_WORLD, {ranks, 1});
  osbi::online::PipelineOptions options;
  options.seed = 3;
  options.batch_size = 20;
  options.train_after = 50;
  options.stop.max_steps = 10;
  options.checkpoint = directory.path / "run.ckpt";
  using Fifo = osbi::FifoBuffer<osbi::overflow::Block, double>;
  run_pipeline<Fifo>(all_learners, options, 200);
  options.checkpoint.clear();
  options.stop.max_steps = 20;

  // Fewer learners than wrote it: every rank throws before anything runs (no rank is left waiting).
  if (ranks >= 2) {
    const osbi::mpi::Roles one_learner(MPI_COMM_WORLD, {1, 1});
    BOOST_TEST(mt::on_every_rank(throws<osbi::DataError>([&] { run_pipeline<Fifo>(one_learner, options, 200, {}, directory.path / "run.ckpt"); })));
  }
  // One flipped byte in learner 0's part of the file: the same.
  const auto corrupt = directory.path / "corrupt.ckpt";
  if (mt::world_rank() == 0) {
    std::string bytes;
    {
      std::ifstream in(directory.path / "run.ckpt", std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const osbi::CheckpointReader file(directory.path / "run.ckpt");
    const osbi::CheckpointSection& part = file.section("mpi/learner/0");
    bytes[part.offset + part.byte_length / 2] ^= 0x10;
    std::ofstream(corrupt, std::ios::binary) << bytes;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  BOOST_TEST(mt::on_every_rank(throws<osbi::DataError>([&] { run_pipeline<Fifo>(all_learners, options, 200, {}, corrupt); })));
  // The good file still resumes.
  BOOST_TEST(mt::on_every_rank(!throws<std::exception>([&] { run_pipeline<Fifo>(all_learners, options, 200, {}, directory.path / "run.ckpt"); })));
  // A threaded pipeline refuses an MPI checkpoint, naming the reason.
  if (mt::world_rank() == 0) {
    Fifo buffer(buffer_options(200));
    const Prior prior = standard_prior();
    osbi::Posterior<Density> posterior(Density(2, 2), prior);
    Adam adam(posterior.estimator().parameters().extent(0), {.learning_rate = 1e-2});
    osbi::online::Pipeline threaded(std::move(posterior), prior, NoisySimulator{}, buffer, std::move(adam), options);
    BOOST_CHECK_EXCEPTION(threaded.resume(directory.path / "run.ckpt"), osbi::DataError, [](const osbi::DataError& error) {
      return std::string(error.what()).find("written under MPI") != std::string::npos;
    });
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_that_cannot_be_written_fails_every_learner) {
  // Learner 0 cannot create the file (its directory does not exist): every learner throws at that step, the
  // simulation ranks end their streams normally, and no rank hangs.
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, mt::layouts(1).front());
  osbi::online::PipelineOptions options;
  options.seed = 4;
  options.batch_size = 20;
  options.train_after = 50;
  options.stop.max_steps = 40;
  options.checkpoint_every_steps = 10;
  options.checkpoint = std::filesystem::temp_directory_path() / "osbi-no-such-directory" / "run.ckpt";
  using Fifo = osbi::FifoBuffer<osbi::overflow::Block, double>;
  const bool threw = throws<osbi::Error>([&] { run_pipeline<Fifo>(roles, options, 200); });
  BOOST_TEST(mt::on_every_rank(threw == roles.is_learner()));
}

BOOST_AUTO_TEST_SUITE_END()
