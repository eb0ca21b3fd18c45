// SPDX-License-Identifier: BSD-3-Clause
/// \brief Example 04: one online pipeline over MPI ranks — simulation groups (each running an MPI-parallel solver on
/// its own communicator) stream (θ, x) to data-parallel learners. The pipeline is example 02's type with one more
/// template argument, osbi::mpi::Transport; every rank builds it and calls run().
///
///   mpirun -n 5 osbi_example_04_online_mpi [--learners 1] [--group-size 2] [--budget 10000] [--cost-ms 4] [--seed 1]
///
/// The solver: two_moons (sbibm's), with a fixed amount of work per simulation (--cost-ms of CPU) shared among the
/// ranks of its group, so a group of g ranks solves g times faster — the shape of a domain-decomposed PDE solver.
/// Ranks 0 … learners − 1 train an sbi-default neural spline flow; the others form groups of --group-size. With as
/// many learners as ranks, each learner also simulates (one process is enough to try it: mpirun -n 1).
#include <osbi/mpi.hpp>
#include <osbi/osbi.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>
#include <string>
#include <vector>

namespace {

using Scalar = float;
using TrainSpace = Kokkos::DefaultExecutionSpace;

struct Options {
  int learners = 1, group_size = 2;
  std::uint64_t budget = 10'000, seed = 1;
  double cost_ms = 4;
};

Options parse(int argc, char* argv[]) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag.rfind("--kokkos", 0) == 0) continue;
    osbi::require(i + 1 < argc, "example 04", "missing value after ", flag);
    const std::string value = argv[++i];
    if (flag == "--learners") options.learners = std::stoi(value);
    else if (flag == "--group-size") options.group_size = std::stoi(value);
    else if (flag == "--budget") options.budget = std::stoull(value);
    else if (flag == "--cost-ms") options.cost_ms = std::stod(value);
    else if (flag == "--seed") options.seed = std::stoull(value);
    else osbi::require(false, "example 04", "unknown option ", flag);
  }
  return options;
}

/// A ParallelSimulator: every rank of the group does its share of the solve's work, then the group's root assembles x
/// (here: two_moons from θ and the shared random stream, so x does not depend on how the work was split).
struct SplitTwoMoons {
  double cost_ms = 4;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(const osbi::mpi::Communicator& group, std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(cost_ms / group.size());
    double work = 0;
    while (std::chrono::steady_clock::now() < until) work += std::sqrt(work + 1.0);
    double done = work > 0 ? 1.0 : 0.0; // the group's reduction, as a solver's would be
    MPI_Allreduce(MPI_IN_PLACE, &done, 1, MPI_DOUBLE, MPI_SUM, group.get());
    if (group.rank() != 0) return;
    double out[2];
    osbi::TwoMoons<double>::simulate_one(theta[0], theta[1], rng, out);
    x[0] = out[0];
    x[1] = out[1];
  }
};

int run(const Options& options) {
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {options.learners, options.group_size});
  const bool lead = roles.world().rank() == 0;
  const auto prior = osbi::TwoMoons<Scalar, Kokkos::Serial>().prior();

  osbi::online::PipelineOptions run;
  run.workers = 1; // a group solves one θ at a time
  run.batch_size = 200;
  run.validation_size = 500;
  run.train_after = 500;
  run.validate_every = 50;
  run.stop.max_simulations = options.budget;
  run.seed = options.seed;
  if (lead) run.progress = &std::cout, run.progress_seconds = 2;

  osbi::BufferOptions buffer_options;
  buffer_options.capacity = options.budget;
  buffer_options.theta_dim = 2;
  buffer_options.x_dim = 2;
  buffer_options.seed = options.seed;
  osbi::ReservoirBuffer<osbi::overflow::Evict, Scalar> buffer(buffer_options);
  osbi::Posterior posterior(osbi::sbi_default_nsf<Scalar, TrainSpace>(2, 2), prior);
  using Estimator = osbi::ConditionalNSF<Scalar, TrainSpace>;
  osbi::online::Pipeline<osbi::BoxUniform<Scalar, Kokkos::Serial>, SplitTwoMoons, decltype(buffer), Estimator, osbi::NllLoss,
                         osbi::optim::Adam<Scalar, TrainSpace>, osbi::mpi::Transport>
      pipeline(std::move(posterior), prior, SplitTwoMoons{options.cost_ms}, buffer, run, osbi::NllLoss{}, {}, osbi::mpi::Transport(roles));
  const auto report = pipeline.run();

  // Where every simulation went, summed over the learners (they hold the accounting of all groups' simulations).
  const auto& counts = report.accounting;
  std::uint64_t sums[4] = {roles.is_learner() ? counts.finished : 0, roles.is_learner() ? counts.validation : 0,
                           roles.is_learner() ? counts.buffer.pushed_total : 0, roles.is_learner() ? counts.failed() : 0};
  MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (!lead) return 0;
  std::cout << "\n" << roles.learner_count() << " learner(s), " << roles.group_count() << " simulation group(s) of "
            << roles.layout().simulation_group_size << " rank(s); stopped: " << report.reason << "\nsimulations: " << sums[0]
            << " finished = " << sums[1] << " validation + " << sums[2] << " to the learners' buffers + " << sums[3]
            << " failed\ntraining: " << report.final_metrics.steps << " steps, best validation NLL "
            << report.final_metrics.best_validation_loss << "\n";
  // The posterior for sbibm's first two_moons observation.
  const std::vector<double> x_o{-0.6397, 0.1623};
  osbi::RandomStream rng(options.seed, 1000);
  const auto draws = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.posterior().sample(x_o, 5'000, rng));
  double mean[2] = {0, 0};
  for (std::size_t i = 0; i < draws.extent(0); ++i) mean[0] += draws(i, 0) / 5'000.0, mean[1] += draws(i, 1) / 5'000.0;
  std::printf("posterior for x_o = (%.4f, %.4f): mean (%.3f, %.3f); the two moons put θ on two arcs\n", x_o[0], x_o[1], mean[0], mean[1]);
  return 0;
}

} // namespace

int main(int argc, char* argv[]) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided); // the learners receive on a thread
  int status = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    try {
      status = run(parse(argc, argv));
    } catch (const std::exception& error) {
      std::cerr << "example 04: " << error.what() << "\n";
      status = 1;
    }
  }
  if (status != 0) MPI_Abort(MPI_COMM_WORLD, status); // one rank's error ends the job (MPI's model), no rank hangs
  MPI_Finalize();
  return 0;
}
