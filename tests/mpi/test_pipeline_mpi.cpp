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

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
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

/// x = θ + 0.5·ε; 2 % of the simulations throw (decided by the simulation's own first draw).
struct NoisySimulator {
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
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
                     const osbi::mpi::StreamOptions& stream = {}) {
  Buffer buffer(buffer_options(capacity));
  const Prior prior = standard_prior();
  osbi::Posterior<Density> posterior(Density(2, 2), prior);
  Adam adam(posterior.estimator().parameters().extent(0), {.learning_rate = 1e-2});
  MpiPipeline<Buffer> pipeline(std::move(posterior), prior, NoisySimulator{}, buffer, std::move(adam), options, osbi::NllLoss{}, {},
                               osbi::mpi::Transport(roles, stream));
  Outcome out;
  out.report = pipeline.run();
  out.learner = roles.is_learner();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.estimator().parameters());
  out.parameters.assign(host.data(), host.data() + host.extent(0));
  return out;
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

} // namespace

BOOST_AUTO_TEST_SUITE(mpi_pipeline)

BOOST_AUTO_TEST_CASE(trains_data_parallel_and_accounts_for_every_simulation) {
  const std::uint64_t budget = 6'000;
  for (const auto layout : mt::layouts(1)) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      osbi::online::PipelineOptions options;
      options.workers = 2;
      options.seed = 9;
      options.batch_size = 50;
      options.train_after = 200;
      options.validation_size = 100;
      options.validate_every = 5;
      options.restore_best = false;
      options.stop.max_simulations = budget;
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

BOOST_AUTO_TEST_CASE(checkpoints_are_refused_under_mpi_for_now) {
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {mt::world_size(), 1});
  osbi::online::PipelineOptions options;
  options.stop.max_steps = 1;
  options.checkpoint = "never-written.ckpt";
  using Fifo = osbi::FifoBuffer<osbi::overflow::Block, double>;
  BOOST_CHECK_THROW(run_pipeline<Fifo>(roles, options, 100), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
