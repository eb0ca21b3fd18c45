// SPDX-License-Identifier: BSD-3-Clause
/// \brief osbi on several ranks, measured (#15): samples/s and learner utilization against the number of simulation
/// ranks, the gradient allreduce against the parameter count, the cost of a message against batching, and the
/// learners' parameter difference after data-parallel training. Run under mpiexec by bench/mpi/run.sh.
///
///   mpiexec -n P osbi_bench_mpi --section stream    [--seconds 8] [--cost-us 2000] [--batch 200]
///   mpiexec -n P osbi_bench_mpi --section allreduce
///   mpiexec -n 2 osbi_bench_mpi --section messages  [--seconds 3]
///   mpiexec -n P osbi_bench_mpi --section data_parallel
///
/// stream: learner 0 trains the sbi-default MAF (float, two_moons' shapes) on batches of `batch` rows from a
/// consuming FIFO buffer fed by P − 1 simulation ranks (P = 1: the learner simulates itself), each simulating with
/// a solver that computes for `cost-us` µs per call. Prints `STREAM <sim_ranks> <samples_per_s> <utilization>
/// <sim_rate_bound>`: rows the learner trained per second, the fraction of its wall time spent in training steps,
/// and what the simulation ranks could deliver at most (ranks / cost).
/// allreduce: every rank a learner; `ALLREDUCE <learners> <parameters> <us_per_call>` (median of 200 calls).
/// messages: one sender, one learner, no-cost simulator; `MESSAGES <rows_per_message> <us_per_row>`.
/// data_parallel: every rank a learner, 50 steps of the MAF on disjoint batches; `PARAM_DIFF <learners> <max>`.
#include <osbi/mpi.hpp>

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/online/options.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/prior/box_uniform.hpp>
#include <osbi/train/step.hpp>

#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;
using Scalar = float;
using Flow = osbi::ConditionalMAF<Scalar, Space>;
using Fifo = osbi::FifoBuffer<osbi::overflow::Block, Scalar>;
using Prior = osbi::BoxUniform<Scalar, Kokkos::Serial>;

struct Arguments {
  std::string section = "stream";
  double seconds = 8, cost_us = 2000;
  std::size_t batch = 200;
};

Arguments parse(int argc, char* argv[]) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--kokkos", 0) == 0) continue;
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + key);
    const std::string value = argv[++i];
    if (key == "--section") args.section = value;
    else if (key == "--seconds") args.seconds = std::stod(value);
    else if (key == "--cost-us") args.cost_us = std::stod(value);
    else if (key == "--batch") args.batch = std::stoul(value);
    else throw std::invalid_argument("unknown option " + key);
  }
  return args;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// two_moons' shapes (θ 2-d, x 2-d); computes for `cost_us` µs of CPU per call (a solver on this rank's core).
struct SpinningSimulator {
  double cost_us = 0;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    const double until = now() + cost_us * 1e-6;
    double sink = 0;
    while (now() < until)
      for (int i = 0; i < 100; ++i) sink += std::sqrt(static_cast<double>(i) + sink * 1e-9);
    x[0] = theta[0] + 0.01 * rng.normal() + sink * 1e-300;
    x[1] = theta[1] + 0.01 * rng.normal();
  }
};

Prior prior() { return Prior({-1.0, -1.0}, {1.0, 1.0}); }
Flow sbi_maf() { return Flow(2, 2, osbi::MAFOptions{{.seed = 1}}); }

void stream_section(const Arguments& args) {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {1, 1});
  const osbi::mpi::StreamOptions stream{};
  std::optional<Fifo> buffer;
  std::optional<osbi::mpi::SampleReceiver<Fifo>> receiver;
  double trained_rows = 0, busy = 0, wall = 0;
  if (roles.is_learner()) {
    osbi::BufferOptions options;
    options.capacity = 16 * args.batch;
    options.theta_dim = 2;
    options.x_dim = 2;
    buffer.emplace(options);
    receiver.emplace(roles.stream(), roles.group_roots(), *buffer, stream);
    receiver->start();
  }
  auto train = [&] {
    // Kokkos 3's OpenMP space takes launches only from the thread that initialized it: training stays on the main
    // thread, and a learner that also simulates runs its simulation group on another (Serial launches only).
    Flow flow = sbi_maf();
    osbi::optim::Adam<Scalar, Space> adam(flow.parameters().extent(0));
    osbi::NllLoss loss;
    const Space space;
    osbi::Matrix<Scalar, Space> theta("theta", args.batch, 2), x("x", args.batch, 2);
    auto theta_host = Kokkos::create_mirror_view(theta);
    auto x_host = Kokkos::create_mirror_view(x);
    const double started = now();
    std::uint64_t step = 0;
    for (;;) {
      const std::size_t n = buffer->sample_batch(args.batch, std::span<Scalar>(theta_host.data(), args.batch * 2),
                                                 std::span<Scalar>(x_host.data(), args.batch * 2));
      if (n == 0) break;
      const double step_started = now();
      Kokkos::deep_copy(theta, theta_host);
      Kokkos::deep_copy(x, x_host);
      const auto rows = std::make_pair(std::size_t{0}, n);
      const osbi::TrainingBatch<Scalar, Space> batch{Kokkos::subview(theta, rows, Kokkos::ALL), Kokkos::subview(x, rows, Kokkos::ALL),
                                                     {}, {}, {}, {}, {}};
      osbi::training_step(flow, loss, adam, space, batch, osbi::RandomStream(1).at(step++));
      space.fence();
      busy += now() - step_started;
      trained_rows += static_cast<double>(n);
      if (now() - started >= args.seconds) receiver->request_stop();
    }
    wall = now() - started;
  };
  auto simulate = [&] {
    SpinningSimulator simulator{args.cost_us};
    Prior p = prior();
    osbi::online::PipelineOptions options;
    options.workers = 1;
    options.seed = 7;
    options.stop.max_seconds = args.seconds + 5; // the learner's stop ends it first
    osbi::mpi::run_simulation_group(roles, p, simulator, options, stream);
  };
  std::thread simulation;
  if (roles.simulates() && roles.is_learner()) simulation = std::thread(simulate);
  if (roles.is_learner()) train();
  else simulate();
  if (simulation.joinable()) simulation.join();
  if (receiver) receiver->join();
  if (roles.is_learner()) {
    const int sim_ranks = std::max(1, ranks - 1);
    std::printf("STREAM %d %.1f %.3f %.1f\n", sim_ranks, trained_rows / wall, busy / wall, sim_ranks * 1e6 / args.cost_us);
    std::fflush(stdout);
  }
}

void allreduce_section() {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {ranks, 1});
  const std::size_t sbi_maf_parameters = sbi_maf().parameters().extent(0);
  for (const std::size_t count : {std::size_t{1'000}, sbi_maf_parameters, std::size_t{100'000}, std::size_t{1'000'000}}) {
    osbi::Vector<Scalar, Space> gradients("gradients", count);
    osbi::mpi::AveragedGradients reduction(roles.learners());
    std::vector<double> times;
    for (int k = 0; k < 220; ++k) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double started = now();
      reduction.reduce(Space(), gradients);
      if (k >= 20) times.push_back(now() - started);
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    MPI_Allreduce(MPI_IN_PLACE, &median, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (roles.world().rank() == 0) std::printf("ALLREDUCE %d %zu %.2f%s\n", ranks, count, median * 1e6, count == sbi_maf_parameters ? " sbi_maf" : "");
  }
  std::fflush(stdout);
}

void messages_section(const Arguments& args) {
  for (const std::size_t rows_per_message : {std::size_t{1}, std::size_t{4}, std::size_t{16}, std::size_t{64}, std::size_t{256}}) {
    const osbi::mpi::Roles roles(MPI_COMM_WORLD, {1, 1});
    const osbi::mpi::StreamOptions stream{.rows_per_message = rows_per_message, .max_in_flight = 4};
    std::optional<Fifo> buffer;
    std::optional<osbi::mpi::SampleReceiver<Fifo>> receiver;
    std::thread drain;
    double rows = 0;
    const double started = now();
    if (roles.is_learner()) {
      osbi::BufferOptions options;
      options.capacity = 1 << 16;
      options.theta_dim = 2;
      options.x_dim = 2;
      buffer.emplace(options);
      receiver.emplace(roles.stream(), roles.group_roots(), *buffer, stream);
      receiver->start();
      drain = std::thread([&] {
        std::vector<Scalar> theta(2 * 1024), x(2 * 1024);
        while (const std::size_t n = buffer->sample_batch(1024, std::span<Scalar>(theta), std::span<Scalar>(x))) {
          rows += static_cast<double>(n);
          if (now() - started >= args.seconds) receiver->request_stop();
        }
      });
    }
    if (roles.simulates()) {
      SpinningSimulator simulator{0};
      Prior p = prior();
      osbi::online::PipelineOptions options;
      options.seed = 3;
      options.simulation_batch = 64;
      options.stop.max_seconds = args.seconds + 5;
      osbi::mpi::run_simulation_group(roles, p, simulator, options, stream);
    }
    if (receiver) {
      receiver->join();
      drain.join();
      std::printf("MESSAGES %zu %.3f\n", rows_per_message, (now() - started) * 1e6 / rows);
      std::fflush(stdout);
    }
  }
}

void data_parallel_section() {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {ranks, 1});
  Flow flow = sbi_maf();
  osbi::optim::Adam<Scalar, Space> adam(flow.parameters().extent(0));
  osbi::NllLoss loss;
  osbi::mpi::AveragedGradients reduction(roles.learners());
  const Space space;
  const std::size_t batch = 200;
  osbi::Matrix<Scalar, Space> theta("theta", batch, 2), x("x", batch, 2);
  auto theta_host = Kokkos::create_mirror_view(theta);
  auto x_host = Kokkos::create_mirror_view(x);
  for (std::uint64_t step = 0; step < 50; ++step) {
    osbi::RowRandom rng = osbi::RandomStream(11).at(step).row(static_cast<std::uint32_t>(roles.world().rank()));
    for (std::size_t i = 0; i < batch; ++i) {
      theta_host(i, 0) = static_cast<Scalar>(rng.uniform() * 2 - 1);
      theta_host(i, 1) = static_cast<Scalar>(rng.uniform() * 2 - 1);
      x_host(i, 0) = theta_host(i, 0) + static_cast<Scalar>(0.1 * rng.normal());
      x_host(i, 1) = theta_host(i, 0) * theta_host(i, 1) + static_cast<Scalar>(0.1 * rng.normal());
    }
    Kokkos::deep_copy(theta, theta_host);
    Kokkos::deep_copy(x, x_host);
    const osbi::TrainingBatch<Scalar, Space> training{theta, x, {}, {}, {}, {}, {}};
    osbi::training_step(flow, loss, adam, space, training, osbi::RandomStream(1).at(step), {}, reduction);
  }
  space.fence();
  auto parameters = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flow.parameters());
  std::vector<double> mine(parameters.extent(0)), first(parameters.extent(0));
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = first[i] = parameters(i);
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double difference = 0;
  for (std::size_t i = 0; i < mine.size(); ++i) difference = std::max(difference, std::abs(mine[i] - first[i]));
  MPI_Allreduce(MPI_IN_PLACE, &difference, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (roles.world().rank() == 0) std::printf("PARAM_DIFF %d %.17g\n", ranks, difference);
}

} // namespace

int main(int argc, char* argv[]) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int status = 0;
  try {
    const Arguments args = parse(argc, argv);
    Kokkos::ScopeGuard kokkos(argc, argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) std::printf("# %s\n", osbi::bench::kokkos_description().c_str());
    if (args.section == "stream") stream_section(args);
    else if (args.section == "allreduce") allreduce_section();
    else if (args.section == "messages") messages_section(args);
    else if (args.section == "data_parallel") data_parallel_section();
    else throw std::invalid_argument("unknown section " + args.section);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "osbi_bench_mpi: %s\n", e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
