// SPDX-License-Identifier: BSD-3-Clause
/// \brief Example 02, the flagship: online SBI for a 2-D advection–diffusion PDE. A simulation worker runs
/// batches of PDE solves (our Kokkos stencil) and streams (θ, x) into a reservoir buffer while the trainer
/// fits a posterior estimator on a jointly trained embedding of the 32 × 32 field — at the same time, no
/// files in between. Then: the posterior for a held-back observation, its credible intervals against the
/// true θ, and files for the plots (scripts/demo.sh draws them).
///
///   osbi_example_02_online_advection_diffusion [--output DIR] [--grid N] [--budget SIMULATIONS]
///       [--seconds LIMIT] [--seed S] [--estimator nsf|fmpe|npse] [--embedding mlp|transformer] [--offline] [--quick]
///       [--resume] [--mpi [--learners L]] [--max-replay-ratio R] [--warmup-arrivals N] [--workers W]
///       [--plasticity KEEP [--plasticity-growth G]] [--buffer reservoir|fifo|firo|prioritized]
///
/// --estimator: a neural spline flow trained by NLL (nsf, the default), flow matching (fmpe: sbi's FMPE network, its
/// posterior drawn by an adaptive ODE solver) or score diffusion (npse: the VE SDE, drawn through its probability-flow
/// ODE), each
/// behind the same embedding and trained by its own loss; the validation loss printed is that loss.
/// --embedding: the summary network, an MLP on the 1 024 block means (the default) or a vision transformer on them
/// (8 × 8 patches → 16 tokens of width 32, learned positions, two pre-LayerNorm encoder blocks, then one linear map
/// from all 16 tokens: θ says *where* the plume is, which a mean over tokens would blur). 4 × 4 patches (64 tokens)
/// cost ~4× more per sample and, at grid 96 and 10⁴ simulations, stopped at the 600 s limit far from converged
/// (validation NLL 0.13 against −3.09 for 8 × 8 in the same time).
/// --offline runs the same pipeline as "simulate everything, then train" (the baseline of bench/online).
/// --resume continues a run that was killed (or stopped by Ctrl-C) from DIR/checkpoint.osbi, written every 30 s and
/// at the end: run it with the same options; the simulations, buffer, optimizer and counters carry on.
/// --mpi (osbi built with -DOSBI_ENABLE_MPI=ON; start it with mpirun/srun): the same pipeline over the ranks, with
/// osbi::mpi::Transport as its last template argument: ranks 0 … L − 1 (--learners, default 1) train data-parallel,
/// every other rank runs PDE solves and streams them to the learners (with as many learners as ranks, each learner
/// also simulates). Learner 0 writes the progress, the files and the checkpoint; --resume continues under mpirun
/// with the same --learners (the number of simulation ranks may change). A rank that dies takes the job down (MPI's
/// model): rerun the same command with --resume.
/// --max-replay-ratio / --warmup-arrivals: the pipeline's pacing (online/pacing.hpp): at most R samples trained per
/// simulation arrived until the budget is spent, and a learning rate that ramps up over the first N arrivals.
/// --plasticity KEEP: each time the arrivals double while simulations go on, the parameters move back toward their
/// initial values, keeping the fraction KEEP of the way travelled (online/options.hpp's Plasticity; 1: off);
/// --plasticity-growth: the arrivals' factor between two such pulls (default 2).
/// --workers: simulation worker threads (default 1). bench/online's simulation-bound offline baseline runs 2, so that
/// "simulate everything, then train" keeps both cores busy in its simulation phase.
/// --buffer: the buffer between simulations and training (default reservoir); the others (FIFO and FIRO consume each
/// row once, prioritized replays high-loss rows with importance weights) only in bench/online's build of this file,
/// online with the NSF and the MLP embedding, where bench/online compares them.
/// Threads: a worker thread runs the PDE solves (Kokkos::Serial, one core); the main thread trains on the
/// default execution space (OpenMP: give it OMP_NUM_THREADS = cores − 1), so both proceed at once.
#include <osbi/osbi.hpp>

#include <Kokkos_Core.hpp>

#if defined(OSBI_ENABLE_MPI)
#include <mpi.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Scalar = float;
// The trainer runs on the main thread on the default space (OpenMP); the PDE solves run on a worker
// thread on Kokkos::Serial (Kokkos 3.x accepts OpenMP work from the main thread only).
using TrainSpace = Kokkos::DefaultExecutionSpace;
using SimulationSpace = Kokkos::Serial;

// The summary networks: the 32 × 32 block means → 20 numbers (≈ 3 per parameter, sbi's rule of thumb).
namespace nn = osbi::nn;
using MlpEmbedding = nn::Sequential<nn::Dense<256, nn::init::TorchDefault, nn::activation::ReLU>,
                                    nn::Dense<64, nn::init::TorchDefault, nn::activation::ReLU>, nn::Dense<20>>;
constexpr std::size_t observation_side = 32, token_width = 32;
using TransformerEmbedding =
    nn::Sequential<nn::PatchEmbedding<observation_side, observation_side, 8, token_width>, nn::LearnedPositions<token_width>,
                   nn::TransformerEncoderBlock<token_width, 4, 2 * token_width>,
                   nn::TransformerEncoderBlock<token_width, 4, 2 * token_width>, nn::Tokenwise<token_width, nn::LayerNorm>,
                   nn::Dense<20>>;
template <class Embedding>
using Nsf = osbi::EmbeddedDensity<Embedding, osbi::ConditionalNSF<Scalar, TrainSpace>>;
template <class Embedding>
using Fmpe = osbi::EmbeddedVectorField<Embedding, osbi::FlowMatchingEstimator<Scalar, TrainSpace>>;
template <class Embedding>
using Npse = osbi::EmbeddedVectorField<Embedding, osbi::ScoreEstimator<Scalar, TrainSpace>>;
using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, Scalar>; // the default: keeps a uniform sample of all arrivals

constexpr std::array<const char*, 6> names{"log10_D", "v_x", "v_y", "x0", "y0", "log10_q"};

struct Options {
  std::filesystem::path output = "demo-output";
  std::size_t grid = 64, budget = 20'000;
  double seconds = 600;
  std::uint64_t seed = 1;
  std::string estimator = "nsf";
  std::string embedding = "mlp";
  bool offline = false;
  bool resume = false;
  bool mpi = false;
  int learners = 1;
  std::size_t workers = 1;
  double max_replay_ratio = 0;
  std::uint64_t warmup_arrivals = 0;
  double plasticity_keep = 1.0;
  double plasticity_growth = 2.0;
  std::string buffer = "reservoir";
};

Options parse(int argc, char* argv[]) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      osbi::require(i + 1 < argc, "example 02", flag, " needs a value");
      return argv[++i];
    };
    if (flag == "--output") options.output = value();
    else if (flag == "--grid") options.grid = std::stoull(value());
    else if (flag == "--budget") options.budget = std::stoull(value());
    else if (flag == "--seconds") options.seconds = std::stod(value());
    else if (flag == "--seed") options.seed = std::stoull(value());
    else if (flag == "--estimator") options.estimator = value();
    else if (flag == "--embedding") options.embedding = value();
    else if (flag == "--offline") options.offline = true;
    else if (flag == "--resume") options.resume = true;
    else if (flag == "--mpi") options.mpi = true;
    else if (flag == "--learners") options.learners = std::stoi(value());
    else if (flag == "--max-replay-ratio") options.max_replay_ratio = std::stod(value());
    else if (flag == "--workers") options.workers = std::stoull(value());
    else if (flag == "--warmup-arrivals") options.warmup_arrivals = std::stoull(value());
    else if (flag == "--plasticity") options.plasticity_keep = std::stod(value());
    else if (flag == "--plasticity-growth") options.plasticity_growth = std::stod(value());
    else if (flag == "--buffer") options.buffer = value();
    else if (flag == "--quick") options.budget = 3'000, options.grid = 32, options.seconds = 60;
    else if (flag.rfind("--kokkos", 0) == 0) continue;
    else throw osbi::InvalidArgument("example 02", "unknown flag " + flag);
  }
  osbi::require(options.budget >= 2'000, "example 02", "--budget must be >= 2000 (validation + warm-up rows)");
  osbi::require(options.estimator == "nsf" || options.estimator == "fmpe" || options.estimator == "npse", "example 02",
                "--estimator must be nsf, fmpe or npse (got ", options.estimator, ")");
  osbi::require(options.embedding == "mlp" || options.embedding == "transformer", "example 02",
                "--embedding must be mlp or transformer (got ", options.embedding, ")");
  osbi::require(options.embedding == "mlp" || options.grid >= observation_side, "example 02",
                "--embedding transformer needs --grid >= ", observation_side, " (a 32 × 32 observation)");
#if !defined(OSBI_ENABLE_MPI)
  osbi::require(!options.mpi, "example 02", "--mpi needs osbi built with -DOSBI_ENABLE_MPI=ON");
#endif
  osbi::require(options.mpi || options.learners == 1, "example 02", "--learners applies with --mpi");
  osbi::require(options.buffer == "reservoir" || options.buffer == "fifo" || options.buffer == "firo" || options.buffer == "prioritized",
                "example 02", "--buffer must be reservoir, fifo, firo or prioritized (got ", options.buffer, ")");
#if !defined(OSBI_FLAGSHIP_BUFFER_KINDS)
  osbi::require(options.buffer == "reservoir", "example 02", "--buffer ", options.buffer,
                ": the other buffers are compiled into bench/online's build of this file (osbi_bench_online_flagship) only");
#endif
  osbi::require(options.buffer == "reservoir" || (options.estimator == "nsf" && options.embedding == "mlp" && !options.mpi && !options.offline),
                "example 02", "--buffer ", options.buffer, " runs the online NSF with the MLP embedding in one process only");
  osbi::require(options.workers >= 1 && options.workers <= 64, "example 02", "--workers must lie in [1, 64] (got ", options.workers, ")");
  return options;
}

/// Where the simulations went: this process's accounting, or under MPI the sum over the learners (which hold the
/// accounting of every simulation group's samples).
struct Totals {
  std::uint64_t finished = 0, validation = 0, to_buffer = 0, threw = 0, non_finite = 0, timed_out = 0, held = 0, evicted = 0;
  std::uint64_t inconsistent = 0; ///< trainers whose own accounting does not add up
  std::uint64_t failed() const { return threw + non_finite + timed_out; }
};

template <class TransportType>
Totals totals(const osbi::online::PipelineAccounting& counts, const TransportType& transport) {
  Totals out;
  if (transport.trains())
    out = {counts.finished, counts.validation, counts.buffer.pushed_total, counts.failed_threw, counts.failed_non_finite, counts.timed_out,
           counts.buffer.in_buffer, counts.buffer.evicted_used + counts.buffer.evicted_unseen, counts.consistent() ? 0u : 1u};
#if defined(OSBI_ENABLE_MPI)
  if constexpr (std::is_same_v<TransportType, osbi::mpi::Transport>) {
    std::array<std::uint64_t*, 9> fields{&out.finished, &out.validation, &out.to_buffer, &out.threw,       &out.non_finite,
                                          &out.timed_out, &out.held,       &out.evicted,   &out.inconsistent};
    std::array<std::uint64_t, 9> sums{};
    for (std::size_t k = 0; k < sums.size(); ++k) sums[k] = *fields[k];
    osbi::mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums.data(), 9, MPI_UINT64_T, MPI_SUM, transport.roles().world().get()), "example 02",
                     "MPI_Allreduce");
    for (std::size_t k = 0; k < sums.size(); ++k) *fields[k] = sums[k];
  }
#endif
  return out;
}

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(position);
  const std::size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (position - static_cast<double>(low)) * (values[high] - values[low]);
}

/// A flow matching or score estimator (sbi's defaults, 6 parameters given a 20-number summary) behind the embedding.
template <class Model>
Model embedded_field(std::size_t x_dim, std::uint64_t seed) {
  using Field = typename Model::field_type;
  osbi::VectorFieldEstimatorOptions<typename Field::path_type> options;
  options.network.seed = seed;
  return Model(x_dim, Field(6, 20, options), seed);
}

/// Everything after the choice of estimator: the online run, the posterior for a held-back observation, the files.
template <class Estimator, class TransportType, class Buffer = ::Buffer>
int run_flagship(const Options& options, const osbi::AdvectionDiffusionOptions& pde,
                 const osbi::AdvectionDiffusion<Scalar, SimulationSpace>& simulator, Estimator estimator,
                 const std::string& loss_name, TransportType transport) {
  const bool lead = transport.reports(); // the one process that writes (learner 0 under MPI)
  osbi::online::PipelineOptions run;
  run.workers = options.workers;
  run.simulation_batch = 64;
  run.batch_size = 200;
  run.learning_rate = 5e-4;
  // 10 % of the budget held out (sbi's validation fraction), at most 1 000 rows; online, training starts once as many
  // rows again are in the buffer (offline: once every simulation is).
  run.validation_size = std::min<std::size_t>(1'000, options.budget / 10);
  run.validate_every = 100;
  run.train_after = options.offline ? options.budget - run.validation_size : run.validation_size;
  run.stop.max_simulations = options.budget;
  run.stop.plateau_patience = 25;
  run.stop.max_seconds = options.seconds;
  run.seed = options.seed;
  run.progress = &std::cout;
  run.progress_seconds = 5;
  run.metrics_csv = options.output / "metrics.csv";
  run.checkpoint = options.output / "checkpoint.osbi";
  run.checkpoint_every_seconds = 30;
  run.handle_interrupt = true;
  run.pacing.max_replay_ratio = options.max_replay_ratio;
  run.pacing.warmup_arrivals = options.warmup_arrivals;
  run.plasticity.keep = options.plasticity_keep;
  run.plasticity.growth = options.plasticity_growth;
  run.priority_correction.enabled = osbi::PrioritizedSampleSource<Buffer>; // unbiased replay of a prioritized buffer
  // A consuming buffer (FIFO/FIRO) trains each row once and ends when the last one is used, often within 100 steps.
  if constexpr (!osbi::reuses_rows<Buffer>) run.validate_every = 5;
  std::vector<std::array<double, 3>> validations; // step, seconds, validation loss
  const auto start = std::chrono::steady_clock::now();
  run.on_validation = [&](std::uint64_t step, double loss) {
    validations.push_back({static_cast<double>(step),
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), loss});
  };
  osbi::BufferOptions buffer_options;
  buffer_options.capacity = options.budget;
  buffer_options.theta_dim = simulator.theta_dim();
  buffer_options.x_dim = simulator.x_dim();
  buffer_options.seed = options.seed;
  Buffer buffer(buffer_options);
  // The posterior owns the estimator and maps the prior's box (the estimator models T⁻¹(θ)); the prior is also
  // the proposal θ is drawn from; the optimizer is Adam at run.learning_rate (sbi's).
  osbi::Posterior posterior(std::move(estimator), simulator.prior());
  using Prior = std::decay_t<decltype(simulator.prior())>;
  osbi::online::Pipeline<Prior, osbi::AdvectionDiffusion<Scalar, SimulationSpace>, Buffer, Estimator, osbi::DefaultLoss<Estimator>,
                         osbi::optim::Adam<Scalar, TrainSpace>, TransportType>
      pipeline(std::move(posterior), simulator.prior(), simulator, buffer, run, {}, {}, std::move(transport));
  if (options.resume) {
    osbi::require(std::filesystem::exists(run.checkpoint), "example 02", "--resume: no checkpoint at ", run.checkpoint.string(),
                  " (a run with the same --output writes one every 30 s and at its end)");
    pipeline.resume(run.checkpoint);
    if (lead) std::cout << "resuming from " << run.checkpoint.string() << "\n";
  }
  const auto report = pipeline.run();
  const Totals counts = totals(report.accounting, transport);
  if (!lead) return counts.inconsistent == 0 ? 0 : 1;
  const auto& metrics = report.final_metrics;

  std::cout << "\nstopped: " << report.reason << " after " << std::fixed << std::setprecision(1) << metrics.seconds
            << " s\n"
            << "simulations: " << counts.finished << " finished = " << counts.validation << " validation + " << counts.to_buffer
            << " to the buffer" << (options.mpi ? "s" : "") << " + " << counts.failed() << " failed (" << counts.threw << " threw, "
            << counts.non_finite << " NaN/Inf, " << counts.timed_out << " timed out); buffer" << (options.mpi ? "s" : "") << ": "
            << counts.held << " held, " << counts.evicted << " evicted, mean reuse " << std::setprecision(2)
            << report.accounting.buffer.mean_uses() << (options.mpi ? " (learner 0)" : "") << " — accounting "
            << (counts.inconsistent == 0 ? "consistent" : "INCONSISTENT") << "\n"
            << "training: " << metrics.steps << " steps, " << std::setprecision(0) << metrics.samples_trained_per_second
            << " samples/s, best validation " << loss_name << " " << std::setprecision(3) << metrics.best_validation_loss << " at step "
            << report.best_step << ", trainer idle " << std::setprecision(0) << 100 * metrics.trainer_idle_fraction << " %\n";

  // A held-back observation: the example θ, simulated with a stream no training simulation uses.
  const auto truth = simulator.true_theta();
  osbi::Matrix<Scalar, SimulationSpace> theta_true("theta_true", 1, 6), x_observed("x_observed", 1, simulator.x_dim());
  {
    auto host = Kokkos::create_mirror_view(theta_true);
    for (std::size_t j = 0; j < 6; ++j) host(0, j) = static_cast<Scalar>(truth[j]);
    Kokkos::deep_copy(theta_true, host);
    simulator.simulate(SimulationSpace(), theta_true, x_observed, osbi::RandomStream(options.seed, 999).next());
  }
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_observed);
  const std::size_t draws = 10'000;
  std::vector<double> x0(simulator.x_dim());
  for (std::size_t j = 0; j < simulator.x_dim(); ++j) x0[j] = x_host(0, j);
  osbi::RandomStream posterior_rng(options.seed, 1000);
  const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.posterior().sample(x0, draws, posterior_rng));

  std::ostringstream summary;
  summary << std::fixed << std::setprecision(3);
  summary << "posterior for the held-back observation (" << draws << " draws)\n"
          << "parameter     true      mean       sd        5%       50%       95%   in 90% CI\n";
  std::size_t covered = 0;
  for (std::size_t j = 0; j < 6; ++j) {
    std::vector<double> column(draws);
    for (std::size_t i = 0; i < draws; ++i) column[i] = theta(i, j);
    const double mean = std::accumulate(column.begin(), column.end(), 0.0) / static_cast<double>(draws);
    double square = 0;
    for (const double v : column) square += (v - mean) * (v - mean);
    const double low = quantile(column, 0.05), high = quantile(column, 0.95);
    const bool inside = truth[j] >= low && truth[j] <= high;
    covered += inside;
    summary << std::left << std::setw(10) << names[j] << std::right << std::setw(9) << truth[j] << std::setw(10) << mean
            << std::setw(9) << std::sqrt(square / static_cast<double>(draws - 1)) << std::setw(10) << low << std::setw(10)
            << quantile(column, 0.5) << std::setw(10) << high << "   " << (inside ? "yes" : "no") << "\n";
  }
  summary << covered << " of 6 true parameters inside their 90 % credible interval\n";
  std::cout << "\n" << summary.str();

  // Files for the plots and for bench/online.
  std::vector<float> samples(draws * 6), truth_f(truth.begin(), truth.end()), observed(simulator.x_dim());
  for (std::size_t i = 0; i < draws; ++i)
    for (std::size_t j = 0; j < 6; ++j) samples[i * 6 + j] = theta(i, j);
  for (std::size_t j = 0; j < simulator.x_dim(); ++j) observed[j] = x_host(0, j);
  osbi::write_npy(options.output / "posterior_samples.npy", samples.data(), {draws, 6});
  osbi::write_npy(options.output / "true_theta.npy", truth_f.data(), {6});
  osbi::write_npy(options.output / "observation.npy", observed.data(), {pde.observation_grid, pde.observation_grid});
  {
    std::ofstream loss(options.output / "train_loss.csv");
    loss << "step,train_loss\n";
    for (std::size_t k = 0; k < report.train_loss.size(); ++k) loss << k + 1 << ',' << report.train_loss[k] << '\n';
    std::ofstream validation(options.output / "validation.csv");
    validation << "step,seconds,validation_loss\n";
    for (const auto& v : validations) validation << v[0] << ',' << v[1] << ',' << v[2] << '\n';
    std::ofstream text(options.output / "summary.txt");
    text << "estimator: " << options.estimator << " (" << loss_name << "), embedding " << options.embedding << "\n"
         << "stopped: " << report.reason << ", " << metrics.steps << " steps, " << counts.finished << " simulations ("
         << counts.failed() << " failed), trainer idle " << metrics.trainer_idle_fraction << "\n"
         << summary.str();
  }
  // Machine-readable lines for bench/online.
  for (const auto& v : validations) std::printf("VALIDATION %.3f %.6f\n", v[1], v[2]);
  std::printf("IDLE %.4f\n", metrics.trainer_idle_fraction);
  std::cout << "wrote " << options.output.string()
            << "/{posterior_samples,true_theta,observation}.npy, train_loss.csv, validation.csv, metrics.csv, summary.txt\n";
  return counts.inconsistent == 0 ? 0 : 1;
}

/// The estimators differ in the model behind the same summary network and in the loss each trains by.
template <class Embedding, class TransportType>
int run_estimator(const Options& options, const osbi::AdvectionDiffusionOptions& pde,
                  const osbi::AdvectionDiffusion<Scalar, SimulationSpace>& simulator, const TransportType& transport) {
  if (options.estimator == "fmpe")
    return run_flagship(options, pde, simulator, embedded_field<Fmpe<Embedding>>(simulator.x_dim(), options.seed),
                        "flow-matching loss", transport);
  if (options.estimator == "npse")
    return run_flagship(options, pde, simulator, embedded_field<Npse<Embedding>>(simulator.x_dim(), options.seed),
                        "score-matching loss", transport);
  auto nsf = [&] {
    return Nsf<Embedding>(simulator.x_dim(), osbi::sbi_default_nsf<Scalar, TrainSpace>(6, 20, options.seed), options.seed);
  };
#if defined(OSBI_FLAGSHIP_BUFFER_KINDS)
  // Each buffer is a pipeline of its own type: compiled for the one combination bench/online compares them in.
  if constexpr (std::is_same_v<Embedding, MlpEmbedding> && std::is_same_v<TransportType, osbi::online::InProcess>) {
    using osbi::overflow::Block, osbi::overflow::Evict;
    if (options.buffer == "fifo") return run_flagship<Nsf<Embedding>, TransportType, osbi::FifoBuffer<Block, Scalar>>(options, pde, simulator, nsf(), "NLL", transport);
    if (options.buffer == "firo") return run_flagship<Nsf<Embedding>, TransportType, osbi::FiroBuffer<Block, Scalar>>(options, pde, simulator, nsf(), "NLL", transport);
    if (options.buffer == "prioritized")
      return run_flagship<Nsf<Embedding>, TransportType, osbi::PrioritizedBuffer<Evict, Scalar>>(options, pde, simulator, nsf(), "NLL", transport);
  }
#endif
  return run_flagship(options, pde, simulator, nsf(), "NLL", transport);
}

template <class TransportType>
int run_embedding(const Options& options, const osbi::AdvectionDiffusionOptions& pde,
                  const osbi::AdvectionDiffusion<Scalar, SimulationSpace>& simulator, const TransportType& transport) {
  if (options.embedding == "transformer") return run_estimator<TransformerEmbedding>(options, pde, simulator, transport);
  return run_estimator<MlpEmbedding>(options, pde, simulator, transport);
}

int run(int argc, char* argv[]) {
  const Options options = parse(argc, argv);
  osbi::AdvectionDiffusionOptions pde;
  pde.grid = options.grid;
  pde.observation_grid = 32 <= options.grid ? 32 : options.grid;
  const osbi::AdvectionDiffusion<Scalar, SimulationSpace> simulator(pde);
#if defined(OSBI_ENABLE_MPI)
  if (options.mpi) {
    // Every rank a simulation group of one (the PDE solves are a batched Kokkos simulator on each rank's Serial).
    const osbi::mpi::Roles roles(MPI_COMM_WORLD, {options.learners, 1});
    if (roles.world().rank() == 0) {
      std::filesystem::create_directories(options.output);
      std::cout << "osbi flagship under MPI: " << roles.learner_count() << " learner(s), " << roles.group_count()
                << " simulation rank(s) of " << roles.world().size() << "; grid " << pde.grid << "x" << pde.grid << ", budget "
                << options.budget << ", estimator " << options.estimator << ", embedding " << options.embedding << "\n";
    }
    return run_embedding(options, pde, simulator, osbi::mpi::Transport(roles));
  }
#endif
  std::filesystem::create_directories(options.output);
  std::cout << "osbi flagship: online SBI for 2-D advection-diffusion, grid " << pde.grid << "x" << pde.grid
            << ", x = " << simulator.x_dim() << " block means, θ = (log10 D, vx, vy, x0, y0, log10 q)\n"
            << "  simulations on a worker thread (" << SimulationSpace::name() << "), training on " << TrainSpace::name() << " ("
            << TrainSpace().concurrency() << " threads); " << (options.offline ? "OFFLINE baseline" : "online") << ", budget "
            << options.budget << " simulations, estimator " << options.estimator << ", embedding " << options.embedding << "\n";
  return run_embedding(options, pde, simulator, osbi::online::InProcess{});
}

} // namespace

int main(int argc, char* argv[]) {
#if defined(OSBI_ENABLE_MPI)
  // MPI only when asked for (--mpi): a plain run needs no MPI launcher.
  bool mpi = false;
  for (int i = 1; i < argc; ++i) mpi = mpi || std::string(argv[i]) == "--mpi";
  if (mpi) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided); // learners receive on a thread
  }
#endif
  int status = 0;
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    try {
      status = run(argc, argv);
    } catch (const std::exception& error) {
      std::cerr << "example 02: " << error.what() << "\n";
      status = 1;
    }
  }
#if defined(OSBI_ENABLE_MPI)
  if (mpi) {
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, status); // one rank's error ends the job (MPI's model), no rank hangs
    MPI_Finalize();
  }
#endif
  return status;
}
