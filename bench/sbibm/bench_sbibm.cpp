// SPDX-License-Identifier: BSD-3-Clause
/// \brief The sbibm NPE benchmark: for each task and simulation budget, train NPE once (amortized), draw
/// posterior samples for observations 1..10 and score them by C2ST against sbibm's reference samples.
///
///   osbi_bench_sbibm [--tasks two_moons,gaussian_linear,lotka_volterra] [--budgets 1000,10000,100000]
///                    [--observations 1-10] [--samples 10000] [--estimator centered-nsf|nsf|maf|fmpe|npse]
///                    [--batch 200] [--support reject|transform] [--tail-bound 3] [--lr-decays 0] [--average D]
///                    [--seed 1] [--data <repo>/data] [--progress] [--calibration ROWS [--calibration-draws 1000]]
///                    [--samplers ode:1e-4,ode:1e-6,sde:500,rk4:16]
///
/// Estimators: centered-nsf (default: osbi::centered_nsf, sbi's NSF behind a learned conditional affine map,
/// flow/conditionally_centered.hpp), nsf (sbi_default_nsf alone: what sbibm's NPE column ran), maf
/// (sbi_default_maf), fmpe (FlowMatchingEstimator: sbi's vector-field MLP on the linear path, adaptive ODE sampler)
/// and npse (ScoreEstimator: the same network on the VE SDE, probability-flow ODE sampler), both from the conditional
/// Gaussian baseline (vector_field/vector_field_estimator.hpp). --tail-bound sets the splines' box (z-scored units), --lr-decays the trainer's
/// learning-rate decays (TrainingOptions::learning_rate_decays; 0 is sbi's recipe), --average the decay of the parameters'
/// moving average (TrainingOptions::parameter_average_decay; 0, sbi's recipe, is none; unset, the estimator's default:
/// 0.999 for fmpe and npse, none for the flows).
///
/// One line per (task, budget, observation): `RUN <task> <budget> <obs> <c2st> <simulate_s> <train_s>
/// <sample_s> <c2st_s> <epochs>`; scripts/bench.sh sbibm runs it and tabulates against sbibm's NPE column.
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/diagnostics/calibration.hpp>
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/lotka_volterra.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/sbibm_data.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Training on one thread: at sbi's batch of 200 a step is too small to share; the C2ST classifier and
// the simulations use the default backend.
using Space = Kokkos::Serial;
using Scalar = float;

struct Arguments {
  std::vector<std::string> tasks{"two_moons", "gaussian_linear", "lotka_volterra"};
  std::vector<std::size_t> budgets{1'000, 10'000, 100'000};
  std::vector<int> observations{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::size_t samples = 10'000;
  std::string estimator = "centered-nsf";
  std::string support = "reject"; // sbi's default for a bounded prior (NpeOptions::bounded_support)
  std::size_t batch = 200;
  double tail_bound = 3.0;
  std::size_t learning_rate_decays = 0;
  std::optional<double> average{}; ///< unset: the estimator's default
  /// fmpe/npse: after each observation's RUN line, the same trained estimator sampled again with each of these
  /// (ode:T adaptive Dormand–Prince at atol = rtol = T; rk4:K fixed steps; sde:K Euler–Maruyama steps)
  std::vector<std::string> samplers;
  std::uint64_t seed = 1;
  std::filesystem::path data = OSBI_REPOSITORY_DATA;
  bool progress = false;
  std::size_t calibration = 0, calibration_draws = 1'000; ///< prior-predictive rows for SBC and expected coverage (0: none)
};

Arguments parse(int argc, char* argv[]) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--progress") { args.progress = true; continue; }
    if (key.rfind("--kokkos", 0) == 0) continue;
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + key);
    const std::string value = argv[++i];
    if (key == "--tasks") args.tasks = osbi::bench::split_list(value);
    else if (key == "--budgets") {
      args.budgets.clear();
      for (const auto& b : osbi::bench::split_list(value)) args.budgets.push_back(static_cast<std::size_t>(std::stod(b)));
    } else if (key == "--observations") {
      args.observations.clear();
      for (const auto& range : osbi::bench::split_list(value)) {
        const auto dash = range.find('-');
        const int first = std::stoi(range.substr(0, dash));
        const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
        for (int k = first; k <= last; ++k) args.observations.push_back(k);
      }
    } else if (key == "--samples") args.samples = std::stoul(value);
    else if (key == "--estimator") args.estimator = value;
    else if (key == "--support") args.support = value;
    else if (key == "--batch") args.batch = std::stoul(value);
    else if (key == "--lr-decays") args.learning_rate_decays = std::stoul(value);
    else if (key == "--average") args.average = std::stod(value);
    else if (key == "--samplers") args.samplers = osbi::bench::split_list(value);
    else if (key == "--tail-bound") args.tail_bound = std::stod(value);
    else if (key == "--seed") args.seed = std::stoull(value);
    else if (key == "--calibration") args.calibration = std::stoul(value);
    else if (key == "--calibration-draws") args.calibration_draws = std::stoul(value);
    else if (key == "--data") args.data = value;
    else throw std::invalid_argument("unknown option " + key);
  }
  if (args.estimator != "maf" && args.estimator != "nsf" && args.estimator != "centered-nsf" && args.estimator != "fmpe" &&
      args.estimator != "npse")
    throw std::invalid_argument("--estimator must be maf, nsf, centered-nsf, fmpe or npse, not " + args.estimator);
  if (args.support != "reject" && args.support != "transform")
    throw std::invalid_argument("--support must be reject or transform, not " + args.support);
  return args;
}

/// SBC ranks and the expected coverage of the trained posterior on `rows` fresh prior-predictive pairs (rows whose
/// simulation failed are left out): `CALIBRATION <task> <budget> <rows> <coverage error> <smallest KS p of the marginal
/// ranks> <KS p of the density ranks> <seconds>`.
template <class Posterior, class Task>
void calibrate(const Arguments& args, const std::string& name, const Task& task, std::size_t budget, std::uint64_t seed, Posterior& posterior) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t rows = args.calibration, d_theta = task.theta_dim(), d_x = task.x_dim();
  osbi::RandomStream rng(seed, 300);
  osbi::Matrix<Scalar, Space> theta("calibration_theta", rows, d_theta), x("calibration_x", rows, d_x);
  task.prior().sample(Space(), rng.next(), theta);
  task.simulate(Space(), theta, x, rng.next());
  std::vector<double> theta_rows, x_rows;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    bool finite = true;
    for (std::size_t j = 0; j < d_x; ++j) finite = finite && std::isfinite(static_cast<double>(x(i, j)));
    if (!finite) continue;
    for (std::size_t j = 0; j < d_theta; ++j) theta_rows.push_back(theta(i, j));
    for (std::size_t j = 0; j < d_x; ++j) x_rows.push_back(x(i, j));
    ++kept;
  }
  osbi::RandomStream draws(seed, 301);
  const auto ranks = osbi::diagnostics::calibration_ranks(posterior, theta_rows, x_rows, kept, {.draws = args.calibration_draws}, draws);
  double smallest = 1;
  for (std::size_t d = 0; d < d_theta; ++d)
    smallest = std::min(smallest, osbi::diagnostics::rank_uniformity_pvalue(ranks.marginal_column(d), ranks.draws));
  std::printf("CALIBRATION %s %zu %zu %.4f %.3g %.3g %.1f\n", name.c_str(), budget, kept, osbi::diagnostics::coverage_error(ranks), smallest,
              osbi::diagnostics::rank_uniformity_pvalue(ranks.density, ranks.draws), osbi::bench::seconds_since(start));
  std::fflush(stdout);
}

/// ode:T, rk4:K or sde:K (see Arguments::samplers).
/// Each starts from the estimator's defaults (`defaults`), so ode:T keeps e.g. flow matching's first step.
osbi::VectorFieldSamplerOptions parse_sampler(const std::string& text, const osbi::VectorFieldSamplerOptions& defaults) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw std::invalid_argument("--samplers: " + text + " is not kind:value");
  const std::string kind = text.substr(0, colon), value = text.substr(colon + 1);
  osbi::VectorFieldSamplerOptions sampler = defaults;
  if (kind == "ode") {
    sampler.ode.absolute_tolerance = sampler.ode.relative_tolerance = std::stod(value);
  } else if (kind == "rk4") {
    sampler.ode.method = osbi::OdeMethod::rk4;
    sampler.ode.steps = std::stoul(value);
  } else if (kind == "sde") {
    sampler.method = osbi::SamplingMethod::sde;
    sampler.sde_steps = std::stoul(value);
  } else {
    throw std::invalid_argument("--samplers: the kind must be ode, rk4 or sde, not " + kind);
  }
  return sampler;
}

template <class Density, class Task>
void run(const Arguments& args, const std::string& name, const Task& task, std::size_t budget, Density density) {
  const std::uint64_t seed = args.seed * 1'000'003ull + budget;
  osbi::NPE npe(task.prior(), task, std::move(density),
                osbi::NpeOptions{.seed = seed,
                                 .bounded_support = args.support == "reject" ? osbi::BoundedSupport::reject
                                                                            : osbi::BoundedSupport::transform});
  auto start = std::chrono::steady_clock::now();
  const auto counts = npe.simulate(budget);
  const double simulate_s = osbi::bench::seconds_since(start);
  osbi::TrainingOptions options;
  options.batch_size = args.batch;
  options.learning_rate_decays = args.learning_rate_decays;
  options.parameter_average_decay = args.average;
  options.seed = seed;
  if (args.progress) options.progress = &std::cerr, options.progress_every = 10;
  start = std::chrono::steady_clock::now();
  const auto& report = npe.train(options);
  const double train_s = osbi::bench::seconds_since(start);
  std::fprintf(stderr, "[sbibm] %s %zu: %zu ok / %zu failed simulations, %zu epochs, best validation NLL %.4f, %.1f s\n",
               name.c_str(), budget, counts.ok, counts.total() - counts.ok, report.epochs, report.best_validation_loss,
               train_s);
  for (const int k : args.observations) {
    const osbi::bench::SbibmObservation observation(args.data, name, k);
    osbi::RandomStream rng(seed, 100 + static_cast<std::uint64_t>(k));
    start = std::chrono::steady_clock::now();
    const auto samples = osbi::bench::to_eigen(npe.sample(observation.observation(), args.samples, rng));
    const double sample_s = osbi::bench::seconds_since(start);
    const Eigen::MatrixXd reference = observation.reference_samples();
    start = std::chrono::steady_clock::now();
    const double accuracy = osbi::diagnostics::c2st(reference, samples);
    const double c2st_s = osbi::bench::seconds_since(start);
    std::printf("RUN %s %zu %d %.5f %.2f %.2f %.2f %.2f %zu\n", name.c_str(), budget, k, accuracy, simulate_s, train_s,
                sample_s, c2st_s, report.epochs);
    std::fflush(stdout);
    if constexpr (requires { npe.estimator().set_sampler(osbi::VectorFieldSamplerOptions{}); }) {
      const auto defaults = npe.estimator().options().sampler;
      for (const std::string& sampler : args.samplers) {
        npe.estimator().set_sampler(parse_sampler(sampler, defaults));
        start = std::chrono::steady_clock::now();
        const auto again = osbi::bench::to_eigen(npe.sample(observation.observation(), args.samples, rng));
        const double again_s = osbi::bench::seconds_since(start);
        std::printf("SAMPLER %s %zu %d %s %.5f %.2f\n", name.c_str(), budget, k, sampler.c_str(),
                    osbi::diagnostics::c2st(reference, again), again_s);
        std::fflush(stdout);
      }
      npe.estimator().set_sampler(defaults);
    }
  }
  if (args.calibration > 0) calibrate(args, name, task, budget, seed, npe);
}

template <class Task>
void run_task(const Arguments& args, const std::string& name, const Task& task) {
  for (const std::size_t budget : args.budgets) {
    const std::uint64_t seed = args.seed + budget;
    if (args.estimator == "maf")
      run(args, name, task, budget, osbi::sbi_default_maf<Scalar, Space>(task.theta_dim(), task.x_dim(), seed));
    else if (args.estimator == "fmpe") {
      osbi::FlowMatchingEstimator<Scalar, Space>::Options options;
      options.network.seed = seed;
      run(args, name, task, budget, osbi::FlowMatchingEstimator<Scalar, Space>(task.theta_dim(), task.x_dim(), options));
    } else if (args.estimator == "npse") {
      osbi::ScoreEstimator<Scalar, Space>::Options options;
      options.network.seed = seed;
      run(args, name, task, budget, osbi::ScoreEstimator<Scalar, Space>(task.theta_dim(), task.x_dim(), options));
    } else {
      osbi::NSFOptions nsf;
      nsf.seed = seed;
      nsf.spline.tail_bound = args.tail_bound;
      osbi::ConditionalNSF<Scalar, Space> flow(task.theta_dim(), task.x_dim(), nsf);
      if (args.estimator == "nsf") run(args, name, task, budget, std::move(flow));
      else run(args, name, task, budget, osbi::ConditionallyCentered(std::move(flow), osbi::CenteringOptions{.seed = seed}));
    }
  }
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    const Arguments args = parse(argc, argv);
    std::printf("osbi sbibm benchmark: %s; estimator %s, bounded support by %s, batch %zu, %zu posterior samples; NPE "
                "on Kokkos::Serial\n",
                osbi::bench::kokkos_description().c_str(), args.estimator.c_str(), args.support.c_str(), args.batch,
                args.samples);
    for (const auto& task : args.tasks) {
      if (task == "two_moons") run_task(args, task, osbi::TwoMoons<Scalar, Space>());
      else if (task == "gaussian_linear") run_task(args, task, osbi::GaussianLinear<Scalar, Space>());
      else if (task == "lotka_volterra") run_task(args, task, osbi::LotkaVolterra<Scalar, Space>());
      else throw std::invalid_argument("unknown task " + task);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "osbi_bench_sbibm: %s\n", error.what());
    return 1;
  }
  return 0;
}
