// SPDX-License-Identifier: BSD-3-Clause
/// \brief Online vs offline SBI, measured: time until the posterior is good enough, at an equal
/// simulation budget, with a simulator of a given cost; and the buffers' overhead per sample.
///
///   osbi_bench_online [--sections buffer,two_moons,buffers,breed] [--costs 1,10] [--budget 10000] [--workers 4]
///                     [--target 0.6] [--seed 1] [--data <repo>/data]
///
/// two_moons: the simulator sleeps `cost` ms per simulation (a solver running elsewhere — another node
/// or MPI ranks — while this process only waits), `workers` simulations at a time. Offline = the same
/// pipeline with train_after = the whole budget (simulate everything, then train); online = training
/// starts after 1 000 samples and overlaps the simulations. Both sample a reservoir that keeps every
/// simulation, stop on a validation plateau, and snapshot their parameters about once a second. After
/// the runs, the C2ST of each snapshot's posterior for observation 1 (10 000 draws vs sbibm's
/// reference) finds the first snapshot at or below the target (binary search over time, assuming the
/// C2ST falls as training proceeds). Lines: `TTA <task> <cost_ms> <mode> <seconds> <c2st>` and
/// `BUFFER <kind> <producers> <ns_per_sample>`.
/// buffers: the online two_moons run at the last (dearest) cost with each buffer kind, all of
/// capacity = budget (an equal budget): FIFO and FIRO consume each row once (first in first out / random out),
/// the reservoir keeps and reuses every row, the prioritized buffer reuses rows by loss with its importance
/// correction on. Lines: `TTA_BUFFER two_moons <cost_ms> <kind> <seconds to target> <c2st then> <run seconds>
/// <final c2st>` (the final C2ST: the last snapshot's, at the run's own end, for a comparison at equal wall time).
/// breed: the online two_moons run at the last cost with a loss-driven proposal (parents updated every 1 000
/// simulations) trained by weighted NLL with the pipeline's importance weights p/q̄. Line: `TTA_BREED two_moons
/// <cost_ms> <seconds to target> <c2st then> <run seconds> <final c2st> <mean importance effective fraction>`.
#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/loss/weighted_nll.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/proposal/loss_driven.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <online/bench_buffer.hpp>
#include <support/sbibm_data.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Scalar = float;

struct Arguments {
  std::vector<std::string> sections{"buffer", "two_moons", "buffers", "breed"};
  std::vector<double> costs{1.0, 10.0};
  std::size_t budget = 10'000, workers = 4;
  double target = 0.6;
  std::uint64_t seed = 1;
  std::filesystem::path data = OSBI_REPOSITORY_DATA;
};

Arguments parse(int argc, char* argv[]) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--kokkos", 0) == 0) continue;
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + key);
    const std::string value = argv[++i];
    if (key == "--sections") args.sections = osbi::bench::split_list(value);
    else if (key == "--costs") {
      args.costs.clear();
      for (const auto& c : osbi::bench::split_list(value)) args.costs.push_back(std::stod(c));
    } else if (key == "--budget") args.budget = std::stoul(value);
    else if (key == "--workers") args.workers = std::stoul(value);
    else if (key == "--target") args.target = std::stod(value);
    else if (key == "--seed") args.seed = std::stoull(value);
    else if (key == "--data") args.data = value;
    else throw std::invalid_argument("unknown option " + key);
  }
  return args;
}

bool wants(const Arguments& args, const std::string& section) {
  for (const auto& s : args.sections) if (s == section) return true;
  return false;
}

// ---- buffers ------------------------------------------------------------------------------------

template <class Buffer>
void buffer_case(const char* kind) {
  for (const std::size_t producers : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
    std::vector<double> runs;
    for (int repeat = 0; repeat < 3; ++repeat) runs.push_back(osbi::bench::buffer_ns_per_sample<Buffer>(producers, 400'000));
    std::sort(runs.begin(), runs.end());
    std::printf("buffer %-12s %zu producer(s): %7.1f ns per sample (push + sample, median of 3)\n", kind, producers, runs[1]);
    std::printf("BUFFER %s %zu %.2f\n", kind, producers, runs[1]);
  }
}

void run_buffers() {
  using namespace osbi;
  buffer_case<FifoBuffer<overflow::Block, float>>("fifo");
  buffer_case<FiroBuffer<overflow::Block, float>>("firo");
  buffer_case<ReservoirBuffer<overflow::Evict, float>>("reservoir");
  buffer_case<PrioritizedBuffer<overflow::Evict, float>>("prioritized");
}

// ---- two_moons time to accuracy -------------------------------------------------------------------

/// two_moons as a point simulator that takes `cost_seconds` of wall time per call.
struct CostlyTwoMoons {
  double cost_seconds = 0.01;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    std::this_thread::sleep_for(std::chrono::duration<double>(cost_seconds));
    double out[2];
    osbi::TwoMoons<Scalar, Space>::simulate_one(theta[0], theta[1], rng, out);
    x[0] = out[0];
    x[1] = out[1];
  }
};

struct Snapshot {
  double seconds;
  std::vector<Scalar> parameters;
};

template <class Pipeline>
double snapshot_c2st(Pipeline& pipeline, const Snapshot& snapshot, const std::vector<double>& x0,
                     const Eigen::MatrixXd& reference, std::uint64_t seed) {
  const Space space;
  auto& density = pipeline.estimator();
  const Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(
      snapshot.parameters.data(), snapshot.parameters.size());
  Kokkos::deep_copy(density.parameters(), host);
  osbi::Matrix<Scalar, Space> context("x0", 1, x0.size()), u("u", 10'000, 2), theta("theta", 10'000, 2);
  for (std::size_t j = 0; j < x0.size(); ++j) context(0, j) = static_cast<Scalar>(x0[j]);
  density.sample(space, context, 10'000, osbi::RandomStream(seed, 77).at(0), u);
  pipeline.posterior().to_theta_space(space, u, theta);
  space.fence();
  Eigen::MatrixXd samples(10'000, 2);
  for (int i = 0; i < 10'000; ++i)
    for (int j = 0; j < 2; ++j) samples(i, j) = theta(i, j);
  return osbi::diagnostics::c2st(reference, samples);
}

struct TimeToAccuracy {
  double seconds = std::numeric_limits<double>::infinity(), c2st = 1.0, run_seconds = 0, final_c2st = 1.0;
  osbi::online::PipelineReport report;
};

/// The first snapshot at or below the target C2ST (result.seconds, .c2st) and the last one's C2ST (.final_c2st).
template <class Pipeline>
void score_snapshots(const Arguments& args, Pipeline& pipeline, const std::vector<Snapshot>& snapshots, TimeToAccuracy& result) {
  const osbi::bench::SbibmObservation observation(args.data, "two_moons", 1);
  const auto x0 = observation.observation();
  const Eigen::MatrixXd reference = observation.reference_samples();
  // Binary search for the first snapshot at or below the target.
  std::size_t low = 0, high = snapshots.size();
  std::vector<double> known(snapshots.size(), -1.0);
  const auto value = [&](std::size_t k) {
    if (known[k] < 0) known[k] = snapshot_c2st(pipeline, snapshots[k], x0, reference, args.seed);
    return known[k];
  };
  if (!snapshots.empty()) result.final_c2st = value(snapshots.size() - 1);
  if (snapshots.empty() || result.final_c2st > args.target) {
    result.c2st = result.final_c2st;
    return;
  }
  while (low < high) {
    const std::size_t mid = (low + high) / 2;
    if (value(mid) <= args.target) high = mid;
    else low = mid + 1;
  }
  result.seconds = snapshots[low].seconds;
  result.c2st = value(low);
}

/// The two_moons runs' pipeline: validation on a tenth of the budget every 50 steps, a plateau of 20 validations;
/// online trains from 1 000 arrivals, offline once every simulation is in.
osbi::online::PipelineOptions two_moons_options(const Arguments& args, bool online) {
  osbi::online::PipelineOptions options;
  options.workers = args.workers;
  options.seed = args.seed;
  options.validation_size = args.budget / 10;
  options.validate_every = 50;
  options.train_after = online ? 1'000 : args.budget - options.validation_size;
  options.stop.max_simulations = args.budget;
  options.stop.plateau_patience = 20;
  options.stop.max_seconds = 600;
  options.restore_best = false;
  return options;
}

/// A buffer of capacity = budget (every simulation fits: an equal budget for every kind).
osbi::BufferOptions two_moons_buffer(const Arguments& args) {
  osbi::BufferOptions buffer_options;
  buffer_options.capacity = args.budget;
  buffer_options.theta_dim = 2;
  buffer_options.x_dim = 2;
  buffer_options.seed = args.seed;
  return buffer_options;
}

template <class Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, Scalar>>
TimeToAccuracy time_to_accuracy(const Arguments& args, double cost_ms, bool online) {
  const osbi::TwoMoons<Scalar, Space> task;
  osbi::online::PipelineOptions options = two_moons_options(args, online);
  options.priority_correction.enabled = osbi::PrioritizedSampleSource<Buffer>;
  const osbi::BufferOptions buffer_options = two_moons_buffer(args);
  std::vector<Snapshot> snapshots;
  auto start = std::chrono::steady_clock::now();
  const auto clock = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  using Density = osbi::ConditionalNSF<Scalar, Space>;
  Density* density = nullptr; // set below; the callback runs only inside run()
  double next = 0;
  const auto snapshot = [&](double now) {
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), density->parameters());
    snapshots.push_back({now, std::vector<Scalar>(host.data(), host.data() + host.extent(0))});
  };
  options.on_validation = [&](std::uint64_t, double) {
    const double now = clock();
    if (now < next) return;
    next = now + 1.0;
    snapshot(now);
  };
  Buffer buffer(buffer_options);
  osbi::online::Pipeline pipeline(osbi::Posterior(osbi::sbi_default_nsf<Scalar, Space>(2, 2, args.seed), task.prior()),
                                  task.prior(), CostlyTwoMoons{cost_ms * 1e-3}, buffer, options);
  density = &pipeline.estimator();
  start = std::chrono::steady_clock::now();
  TimeToAccuracy result;
  result.report = pipeline.run();
  result.run_seconds = clock();
  snapshot(result.run_seconds); // the parameters the run ends with (a consuming buffer's run may end before its first validation)
  score_snapshots(args, pipeline, snapshots, result);
  return result;
}

void run_two_moons(const Arguments& args) {
  for (const double cost : args.costs) {
    for (const bool online : {false, true}) {
      const auto r = time_to_accuracy(args, cost, online);
      const char* mode = online ? "online" : "offline";
      std::printf("two_moons cost %5.1f ms %-7s: C2ST <= %.2f after %7.1f s (C2ST %.3f; run %.1f s, %llu steps, %s, "
                  "final C2ST %.3f, trainer idle %.0f %%)\n",
                  cost, mode, args.target, r.seconds, r.c2st, r.run_seconds,
                  static_cast<unsigned long long>(r.report.final_metrics.steps),
                  std::string(osbi::online::stop_reason_name(r.report.reason)).c_str(), r.final_c2st,
                  100 * r.report.final_metrics.trainer_idle_fraction);
      std::printf("TTA two_moons %g %s %.3f %.4f\n", cost, mode, r.seconds, r.c2st);
      std::fflush(stdout);
    }
  }
}

template <class Buffer>
void buffer_time_to_accuracy(const Arguments& args, const char* kind) {
  const double cost = args.costs.back();
  const auto r = time_to_accuracy<Buffer>(args, cost, true);
  std::printf("two_moons cost %5.1f ms online, %-11s: C2ST <= %.2f after %7.1f s (C2ST %.3f); run %.1f s, %llu steps, %s, "
              "final C2ST %.3f, trainer idle %.0f %%\n",
              cost, kind, args.target, r.seconds, r.c2st, r.run_seconds, static_cast<unsigned long long>(r.report.final_metrics.steps),
              std::string(osbi::online::stop_reason_name(r.report.reason)).c_str(), r.final_c2st,
              100 * r.report.final_metrics.trainer_idle_fraction);
  std::printf("TTA_BUFFER two_moons %g %s %.3f %.4f %.3f %.4f\n", cost, kind, r.seconds, r.c2st, r.run_seconds, r.final_c2st);
  std::fflush(stdout);
}

void run_buffer_kinds(const Arguments& args) {
  using namespace osbi;
  buffer_time_to_accuracy<FifoBuffer<overflow::Block, Scalar>>(args, "fifo");
  buffer_time_to_accuracy<FiroBuffer<overflow::Block, Scalar>>(args, "firo");
  buffer_time_to_accuracy<ReservoirBuffer<overflow::Evict, Scalar>>(args, "reservoir");
  buffer_time_to_accuracy<PrioritizedBuffer<overflow::Evict, Scalar>>(args, "prioritized");
}

// ---- two_moons online with a loss-driven proposal ------------------------------------------------------

/// Every simulation's (θ, x), kept for the proposal's updates (shared by the workers' copies of the simulator).
struct SimulationRecord {
  std::mutex mutex;
  std::vector<double> theta, x; // row-major, 2 values per row each
};

/// CostlyTwoMoons that also records each (θ, x) it simulates.
struct RecordedTwoMoons {
  CostlyTwoMoons inner;
  std::shared_ptr<SimulationRecord> record;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    inner.simulate(theta, x, rng);
    const std::lock_guard lock(record->mutex);
    record->theta.insert(record->theta.end(), theta.begin(), theta.end());
    record->x.insert(record->x.end(), x.begin(), x.end());
  }
};

/// Online Breed (#16): the online two_moons run of time_to_accuracy with a LossDrivenProposal instead of the prior,
/// trained by WeightedNllLoss with the pipeline's importance weights p/q̄ (PipelineOptions::importance_weights). Every
/// 1 000 simulations (bench/active's round) the 100 rows of highest −log q(θ | x) among the last 2 000 simulated become
/// the parents (30 % prior draws, kernels of 0.1 prior sd: bench/active's Breed).
TimeToAccuracy breed_time_to_accuracy(const Arguments& args, double cost_ms) {
  using Prior = std::decay_t<decltype(osbi::TwoMoons<Scalar, Space>().prior())>;
  using Proposal = osbi::LossDrivenProposal<Prior>;
  using Density = osbi::ConditionalNSF<Scalar, Space>;
  using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, Scalar>;
  using Pipeline = osbi::online::Pipeline<Proposal, RecordedTwoMoons, Buffer, Density, osbi::WeightedNllLoss, osbi::optim::Adam<Scalar, Space>>;
  const osbi::TwoMoons<Scalar, Space> task;
  osbi::online::PipelineOptions options = two_moons_options(args, true);
  options.importance_weights = true;
  Buffer buffer(two_moons_buffer(args));
  Proposal proposal(task.prior(), {.seed = args.seed});
  const auto record = std::make_shared<SimulationRecord>();
  std::vector<Snapshot> snapshots;
  auto start = std::chrono::steady_clock::now();
  const auto clock = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  Pipeline* pipeline = nullptr; // set below; the callback runs only inside run()
  double next = 0;
  std::size_t next_update = 2'000, updates = 0;
  const auto snapshot = [&](double now) {
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline->estimator().parameters());
    snapshots.push_back({now, std::vector<Scalar>(host.data(), host.data() + host.extent(0))});
  };
  options.on_validation = [&](std::uint64_t, double) {
    const double now = clock();
    if (now >= next) {
      next = now + 1.0;
      snapshot(now);
    }
    std::vector<double> theta, x;
    {
      const std::lock_guard lock(record->mutex);
      if (record->theta.size() / 2 < next_update) return;
      const std::size_t rows = std::min<std::size_t>(2'000, record->theta.size() / 2), first = record->theta.size() / 2 - rows;
      theta.assign(record->theta.begin() + static_cast<std::ptrdiff_t>(2 * first), record->theta.end());
      x.assign(record->x.begin() + static_cast<std::ptrdiff_t>(2 * first), record->x.end());
    }
    next_update += 1'000;
    const std::size_t rows = theta.size() / 2;
    osbi::Matrix<Scalar, Space> t("breed_theta", rows, 2), u("breed_u", rows, 2), c("breed_x", rows, 2);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < 2; ++j) t(i, j) = static_cast<Scalar>(theta[2 * i + j]), c(i, j) = static_cast<Scalar>(x[2 * i + j]);
    const Space space;
    pipeline->posterior().to_estimator_space(space, t, u);
    osbi::Vector<Scalar, Space> log_q("breed_log_q", rows);
    pipeline->estimator().log_prob(space, u, c, log_q);
    space.fence();
    std::vector<double> losses(rows);
    for (std::size_t i = 0; i < rows; ++i) losses[i] = -static_cast<double>(log_q(i));
    proposal.update(theta, losses);
    ++updates;
  };
  Pipeline run(osbi::Posterior(osbi::sbi_default_nsf<Scalar, Space>(2, 2, args.seed), task.prior()), proposal,
               RecordedTwoMoons{CostlyTwoMoons{cost_ms * 1e-3}, record}, buffer, options);
  pipeline = &run;
  start = std::chrono::steady_clock::now();
  TimeToAccuracy result;
  result.report = run.run();
  result.run_seconds = clock();
  snapshot(result.run_seconds);
  score_snapshots(args, run, snapshots, result);
  std::printf("two_moons cost %5.1f ms online, breed (p/q̄): %zu proposal updates, %zu versions, importance effective fraction %.3f\n",
              cost_ms, updates, result.report.proposal_rows.size(), result.report.importance_effective_fraction);
  return result;
}

void run_breed(const Arguments& args) {
  const double cost = args.costs.back();
  const auto r = breed_time_to_accuracy(args, cost);
  std::printf("two_moons cost %5.1f ms online, breed      : C2ST <= %.2f after %7.1f s (C2ST %.3f); run %.1f s, %llu steps, %s, "
              "final C2ST %.3f, trainer idle %.0f %%\n",
              cost, args.target, r.seconds, r.c2st, r.run_seconds, static_cast<unsigned long long>(r.report.final_metrics.steps),
              std::string(osbi::online::stop_reason_name(r.report.reason)).c_str(), r.final_c2st,
              100 * r.report.final_metrics.trainer_idle_fraction);
  std::printf("TTA_BREED two_moons %g %.3f %.4f %.3f %.4f %.3f\n", cost, r.seconds, r.c2st, r.run_seconds, r.final_c2st,
              r.report.importance_effective_fraction);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    const Arguments args = parse(argc, argv);
    std::printf("osbi online benchmark: %s; trainer on Kokkos::Serial, %zu simulation workers, budget %zu\n",
                osbi::bench::kokkos_description().c_str(), args.workers, args.budget);
    if (wants(args, "buffer")) run_buffers();
    if (wants(args, "two_moons")) run_two_moons(args);
    if (wants(args, "buffers")) run_buffer_kinds(args);
    if (wants(args, "breed")) run_breed(args);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "osbi_bench_online: %s\n", error.what());
    return 1;
  }
  return 0;
}
