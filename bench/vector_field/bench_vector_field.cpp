// SPDX-License-Identifier: BSD-3-Clause
/// \brief Flow matching (FMPE) and score diffusion (NPSE) against sbi 0.27 (bench/vector_field/peer_sbi.py, the same
/// measurements): training-step throughput, posterior draws per second, a whole two_moons run, C2ST against sampler steps.
///
///   osbi_bench_vector_field [--sections train,sample,run,steps,profile] [--estimators fmpe,npse] [--quick] [--seed 1]
///                           [--baseline conditional|marginal] [--time-prior α] [--patience 20] [--data <repo>/data]
///   osbi_bench_vector_field --c2st a.npy b.npy …   scores other draws (the sbi peer's, two_moons observation 1)
///                                                 against the same reference instead     → C2ST <file stem> <c2st>
///
/// All on one thread (Kokkos::Serial), sbi's defaults: the 5 × 100 GELU/LayerNorm residual MLP with a 32-feature time
/// embedding; batch 200, Adam 5e-4, clip 5, 10 % validation, patience 20. Each side samples with its default sampler:
/// ours the probability-flow ODE by adaptive Dormand–Prince at atol = rtol = 1e-4 for both; sbi's FMPE the same
/// solver at atol 1e-6 / rtol 1e-5, its NPSE 500 Euler–Maruyama steps of the VE SDE; rejection into the prior's box.
///   train   samples/s of one training step (zero → loss backward → clip → Adam) at batch 200 on 10 000 two_moons
///           simulations, cycling through contiguous pre-shuffled batches            → CASE train <est> <samples/s>
///   sample  draws/s of 10 000 posterior draws for two_moons observation 1 after 5 epochs on 2 000 simulations (the speed
///           does not depend on the quality; the ODE's step count does a little)  → CASE sample <est> <draws/s> <s> <evaluations>
///   run     two_moons at 10⁴ simulations: train to convergence and draw 10 000 (the timed part, as the peer's); and
///           C2ST against the reference                                    → CASE run <est> <seconds> <c2st> <epochs>
///   steps   the trained estimator of `run` sampled with fewer/more steps (FMPE: RK4 with k steps; NPSE: Euler–
///           Maruyama with k steps; both: the adaptive probability-flow ODE at sbi's tolerances, k = 0)
///                                                          → CASE steps <est> <method> <k> <c2st> <draws/s>
///           and at atol = rtol = 1e-2, 1e-3, 1e-4                → CASE tolerance <est> <tol> <evaluations> <c2st> <draws/s>
///   profile where train's step spends its time: 400 more steps with each Kokkos kernel label's wall time summed through
///           Kokkos' tool callbacks (support/kernel_profile.hpp; not in the default sections)
///                       → PROFILE <est> 200 <label> <µs/step> <launches/step>, PROFILE_STEP <est> 200 <µs/step> <µs in kernels>
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/simulator/two_moons.hpp>
#include <osbi/train/step.hpp>

#include <support/fma_peak.hpp>
#include <support/kernel_profile.hpp>
#include <support/sbibm_data.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Scalar = float;
using Fmpe = osbi::FlowMatchingEstimator<Scalar, Space>;
using Npse = osbi::ScoreEstimator<Scalar, Space>;

struct Arguments {
  std::vector<std::string> sections{"train", "sample", "run", "steps"};
  std::vector<std::string> estimators{"fmpe", "npse"};
  bool quick = false;
  std::uint64_t seed = 1;
  std::string baseline = "conditional";
  double time_prior_exponent = 0.0;
  std::size_t patience = 20;
  std::filesystem::path data = OSBI_REPOSITORY_DATA;
  std::vector<std::string> c2st_files; // --c2st: score these draws instead of running any section
};

Arguments parse(int argc, char* argv[]) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--quick") { args.quick = true; continue; }
    if (key.rfind("--kokkos", 0) == 0) continue;
    if (key == "--c2st") { // every argument after it is a file
      args.sections.clear();
      while (i + 1 < argc) args.c2st_files.emplace_back(argv[++i]);
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + key);
    const std::string value = argv[++i];
    if (key == "--sections") args.sections = osbi::bench::split_list(value);
    else if (key == "--estimators") args.estimators = osbi::bench::split_list(value);
    else if (key == "--seed") args.seed = std::stoull(value);
    else if (key == "--baseline") args.baseline = value;
    else if (key == "--time-prior") args.time_prior_exponent = std::stod(value);
    else if (key == "--patience") args.patience = std::stoul(value);
    else if (key == "--data") args.data = value;
    else throw std::invalid_argument("unknown option " + key);
  }
  return args;
}

Arguments g_arguments; // the options every estimator here is built with

bool has_section(const Arguments& args, const char* section) {
  return std::find(args.sections.begin(), args.sections.end(), section) != args.sections.end();
}

template <class Estimator>
Estimator make_estimator(std::uint64_t seed) {
  typename Estimator::Options options;
  options.network.seed = seed;
  options.baseline = g_arguments.baseline == "marginal" ? osbi::GaussianBaseline::marginal : osbi::GaussianBaseline::conditional;
  options.time_prior_exponent = g_arguments.time_prior_exponent;
  return Estimator(2, 2, options);
}

/// Multiply-add flops of one training sample through the default network (both sides run the same one): every
/// weight once forward, once for its gradient, and once more for the input gradient except in the first layers
/// (θ, x and the time features need none). Biases, GELU, LayerNorm and Adam are left out: a lower bound.
double training_flops_per_sample(std::size_t theta_dim, std::size_t x_dim, const osbi::VectorFieldNetworkOptions& network) {
  const double h = static_cast<double>(network.hidden), blocks = static_cast<double>(network.blocks);
  const double first = (static_cast<double>(theta_dim) + static_cast<double>(x_dim) + static_cast<double>(network.time.features)) * h;
  const double rest = 2 * h * h + blocks * h * h + h * static_cast<double>(theta_dim);
  return 2.0 * (2 * (first + rest) + rest);
}

template <class Estimator>
void train_throughput(const std::string& name, const Arguments& args) {
  const osbi::TwoMoons<Scalar, Space> task;
  const Space space;
  const std::size_t simulations = 10'000, batch = 200;
  osbi::Matrix<Scalar, Space> theta("theta", simulations, 2), x("x", simulations, 2);
  osbi::RandomStream rng(args.seed);
  task.prior().sample(space, rng.next(), theta);
  task.simulate(space, theta, x, rng.next());
  auto estimator = make_estimator<Estimator>(args.seed);
  osbi::prepare_from_data(estimator, space, theta, x);
  osbi::optim::Adam<Scalar, Space> adam(estimator.parameters().extent(0));
  osbi::DefaultLoss<Estimator> loss;
  osbi::RandomStream loss_rng(args.seed, 5);
  std::size_t step = 0;
  const auto one_step = [&] {
    const std::size_t b = step++ % (simulations / batch);
    const auto rows = std::make_pair(b * batch, (b + 1) * batch);
    osbi::TrainingBatch<Scalar, Space> rows_batch;
    rows_batch.theta = Kokkos::subview(theta, rows, Kokkos::ALL);
    rows_batch.x = Kokkos::subview(x, rows, Kokkos::ALL);
    osbi::training_step(estimator, loss, adam, space, rows_batch, loss_rng.next());
    space.fence();
  };
  if (has_section(args, "train")) {
    const double seconds = osbi::bench::seconds_per_call(one_step, args.quick ? 0.3 : 1.0, args.quick ? 3 : 5, 20);
    std::printf("CASE train %s %.1f\n", name.c_str(), static_cast<double>(batch) / seconds);
    std::printf("CASE train_flops %s %.0f\n", name.c_str(), training_flops_per_sample(2, 2, typename Estimator::Options{}.network));
    std::fflush(stdout);
  }
  if (has_section(args, "profile")) {
    for (int k = 0; k < 20; ++k) one_step(); // warm, as the timed part is
    osbi::bench::print_profile(name, batch, osbi::bench::profile_calls(one_step, 400));
  }
}

template <class Estimator>
auto make_npe(const Arguments& args) {
  const osbi::TwoMoons<Scalar, Space> task;
  return osbi::NPE(task.prior(), task, make_estimator<Estimator>(args.seed),
                   osbi::NpeOptions{.seed = args.seed, .bounded_support = osbi::BoundedSupport::reject});
}

template <class Estimator>
void sample_throughput(const std::string& name, const Arguments& args) {
  auto npe = make_npe<Estimator>(args);
  npe.simulate(2'000); // as the peer: 5 epochs on 2 000 simulations (sampling speed only)
  osbi::TrainingOptions training;
  training.max_epochs = 5;
  npe.train(training);
  const osbi::bench::SbibmObservation observation(args.data, "two_moons", 1);
  const std::size_t draws = args.quick ? 2'000 : 10'000;
  osbi::RandomStream rng(args.seed, 7);
  npe.sample(observation.observation(), 100, rng); // warm-up (allocations)
  std::vector<double> times;
  for (int r = 0; r < (args.quick ? 1 : 3); ++r) {
    const auto start = std::chrono::steady_clock::now();
    npe.sample(observation.observation(), draws, rng);
    times.push_back(osbi::bench::seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  const double seconds = times[times.size() / 2];
  // The field evaluations of the last sampler call (the rejection step's redraws call it again on fewer rows).
  std::printf("CASE sample %s %.1f %.3f %zu\n", name.c_str(), static_cast<double>(draws) / seconds, seconds,
              npe.estimator().last_solve().evaluations);
  std::fflush(stdout);
}

template <class Estimator>
void whole_run(const std::string& name, const Arguments& args, bool with_steps) {
  const std::size_t budget = args.quick ? 1'000 : 10'000, draws = 10'000;
  const osbi::bench::SbibmObservation observation(args.data, "two_moons", 1);
  const Eigen::MatrixXd reference = observation.reference_samples();
  auto npe = make_npe<Estimator>(args);
  npe.simulate(budget); // not timed: the peer times training and sampling only
  const auto start = std::chrono::steady_clock::now();
  osbi::TrainingOptions training;
  training.stop_after_epochs = args.patience;
  const auto& report = npe.train(training);
  osbi::RandomStream rng(args.seed, 3);
  const auto samples = osbi::bench::to_eigen(npe.sample(observation.observation(), draws, rng));
  const double seconds = osbi::bench::seconds_since(start);
  const double accuracy = osbi::diagnostics::c2st(reference, samples);
  std::printf("CASE run %s %.2f %.4f %zu\n", name.c_str(), seconds, accuracy, report.epochs);
  std::fflush(stdout);
  if (!with_steps) return;
  auto& estimator = npe.estimator();
  const auto measure = [&](const std::string& method, std::size_t steps, osbi::VectorFieldSamplerOptions sampler) {
    estimator.set_sampler(sampler);
    const auto begin = std::chrono::steady_clock::now();
    const auto draws_k = osbi::bench::to_eigen(npe.sample(observation.observation(), draws, rng));
    const double rate = static_cast<double>(draws) / osbi::bench::seconds_since(begin);
    std::printf("CASE steps %s %s %zu %.4f %.1f\n", name.c_str(), method.c_str(), steps,
                osbi::diagnostics::c2st(reference, draws_k), rate);
    std::fflush(stdout);
  };
  const auto defaults = estimator.options().sampler;
  osbi::VectorFieldSamplerOptions adaptive = defaults; // at sbi's tolerances
  adaptive.ode.absolute_tolerance = 1e-6;
  adaptive.ode.relative_tolerance = 1e-5;
  measure("dopri5", 0, adaptive);
  // The adaptive probability-flow ODE at looser tolerances (atol = rtol): C2ST and draws/s against field evaluations.
  for (double tolerance : {1e-2, 1e-3, 1e-4}) {
    osbi::VectorFieldSamplerOptions sampler = defaults;
    sampler.ode.absolute_tolerance = sampler.ode.relative_tolerance = tolerance;
    estimator.set_sampler(sampler);
    const auto begin = std::chrono::steady_clock::now();
    const auto draws_k = osbi::bench::to_eigen(npe.sample(observation.observation(), draws, rng));
    const double rate = static_cast<double>(draws) / osbi::bench::seconds_since(begin);
    std::printf("CASE tolerance %s %g %zu %.4f %.1f\n", name.c_str(), tolerance, estimator.last_solve().evaluations,
                osbi::diagnostics::c2st(reference, draws_k), rate);
    std::fflush(stdout);
  }
  if constexpr (Estimator::kind == osbi::VectorFieldKind::velocity) {
    for (std::size_t k : {1, 2, 4, 8, 16, 32}) {
      osbi::VectorFieldSamplerOptions sampler;
      sampler.ode.method = osbi::OdeMethod::rk4;
      sampler.ode.steps = k;
      measure("rk4", k, sampler);
    }
  } else {
    for (std::size_t k : {25, 50, 100, 250, 500, 1000}) {
      osbi::VectorFieldSamplerOptions sampler;
      sampler.method = osbi::SamplingMethod::sde;
      sampler.sde_steps = k;
      measure("euler_maruyama", k, sampler);
    }
  }
  estimator.set_sampler(defaults);
}

template <class Estimator>
void run_estimator(const std::string& name, const Arguments& args) {
  const auto has = [&](const char* section) { return has_section(args, section); };
  if (has("train") || has("profile")) train_throughput<Estimator>(name, args);
  if (has("sample")) sample_throughput<Estimator>(name, args);
  if (has("run") || has("steps")) whole_run<Estimator>(name, args, has("steps"));
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    const Arguments args = parse(argc, argv);
    g_arguments = args;
    if (!args.c2st_files.empty()) {
      const osbi::bench::SbibmObservation observation(args.data, "two_moons", 1);
      const Eigen::MatrixXd reference = observation.reference_samples();
      for (const auto& file : args.c2st_files)
        std::printf("C2ST %s %.4f\n", std::filesystem::path(file).stem().c_str(),
                    osbi::diagnostics::c2st(reference, osbi::bench::read_npy_draws(file, 2)));
      return 0;
    }
    std::printf("osbi vector field benchmark: %s; Kokkos::Serial (1 thread)%s\n", osbi::bench::kokkos_description().c_str(),
                args.quick ? ", quick" : "");
    if (std::find(args.sections.begin(), args.sections.end(), "train") != args.sections.end())
      std::printf("CASE peak 1 %.3f\n", osbi::bench::fma_peak_gflops<Kokkos::Serial>()); // the yardstick of train's GFLOP/s
    for (const auto& estimator : args.estimators) {
      if (estimator == "fmpe") run_estimator<Fmpe>(estimator, args);
      else if (estimator == "npse") run_estimator<Npse>(estimator, args);
      else throw std::invalid_argument("unknown estimator " + estimator + " (fmpe or npse)");
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "osbi_bench_vector_field: %s\n", error.what());
    return 1;
  }
  return 0;
}
