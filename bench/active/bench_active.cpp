// SPDX-License-Identifier: BSD-3-Clause
/// \brief Simulations to a target C2ST, by proposal: NPE trained in rounds on draws of the prior, or of TSNPE's
/// truncated prior refreshed from the posterior for x₀ after each round (#16, Q3). Same estimator, rounds and training
/// for every proposal; after each round the posterior for sbibm's observation is scored by C2ST against the reference.
///
///   osbi_bench_active [--tasks two_moons,lotka_volterra,gaussian_linear_narrow] [--proposals prior,tsnpe,breed,bandit[,tsnpe_apt]] [--rounds 6]
///                     [--per-round 1000]
///                     [--observation 1] [--samples 10000] [--seed 1] [--data <repo>/data]
///
/// One line per (task, proposal, round): `ROUND <task> <proposal> <seed> <round> <simulations> <c2st> <seconds> <simulate_s>
/// <train_s> <refresh_s> <proposal_figure>` — seconds cumulative over the rounds (simulation + training + refresh;
/// C2ST scoring excluded); proposal_figure: the prior mass of TSNPE's box after the round's refresh, the effective
/// sample size fraction (Σw)²/(N Σw²) of Breed's or the bandit's importance weights in the round's training, 1 for the prior.
/// bench/active/summarize.py turns them into simulations and wall time to a common target per task.
///
/// Training: NPE with osbi::centered_nsf (our sbibm default) trained after each round on every simulation so far (sbi's SNPE
/// retrains the same network on all rounds' data; NPE::train z-scores on the data it is given), bounded supports by
/// rejection (sbi's default). TSNPE trains by plain NLL: its proposals are the prior restricted to boxes that hold the
/// posterior's mass for x₀, where the posterior is unchanged (Deistler et al. 2022; proposal/truncated_prior.hpp).
/// Breed (proposal/loss_driven.hpp): after each round the 100 rows of highest NLL −log q(θ_i | x_i) become parents of
/// Gaussian kernels (σ = 0.1 prior sd, truncated to the support) mixed with 30 % prior draws; it trains by
/// WeightedNllLoss with weights p/q̄, q̄ the mixture of every version used, weighted by its draws (ProposalMixture).
/// tsnpe_apt: TSNPE's proposals trained by atomic APT (loss/atomic_apt.hpp) instead of NLL — a loss for Q2.
/// Bandit (proposal/region_bandit.hpp): UCB1 over 8 equal-prior-mass regions, 10 pulls a round, rewarded by the
/// prediction gain per simulation second (run_bandit); WeightedNllLoss with its exact weights P_r·N/N_r.
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/inference/estimator_space_prior.hpp>
#include <osbi/loss/atomic_apt.hpp>
#include <osbi/loss/weighted_nll.hpp>
#include <osbi/proposal/loss_driven.hpp>
#include <osbi/proposal/proposal_mixture.hpp>
#include <osbi/proposal/region_bandit.hpp>
#include <osbi/proposal/truncated_prior.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/lotka_volterra.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/sbibm_data.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Scalar = float;

struct Arguments {
  std::vector<std::string> tasks{"two_moons", "lotka_volterra"};
  std::vector<std::string> proposals{"prior", "tsnpe", "breed", "bandit"}; // tsnpe_apt on request: ~15x the training time
  std::size_t rounds = 6, per_round = 1'000, samples = 10'000;
  int observation = 1;
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
    if (key == "--tasks") args.tasks = osbi::bench::split_list(value);
    else if (key == "--proposals") args.proposals = osbi::bench::split_list(value);
    else if (key == "--rounds") args.rounds = std::stoul(value);
    else if (key == "--per-round") args.per_round = std::stoul(value);
    else if (key == "--observation") args.observation = std::stoi(value);
    else if (key == "--samples") args.samples = std::stoul(value);
    else if (key == "--seed") args.seed = std::stoull(value);
    else if (key == "--data") args.data = value;
    else throw std::invalid_argument("unknown option " + key);
  }
  for (const auto& p : args.proposals)
    if (p != "prior" && p != "tsnpe" && p != "tsnpe_apt" && p != "breed" && p != "bandit")
      throw std::invalid_argument("--proposals: prior, tsnpe, tsnpe_apt, breed or bandit, not " + p);
  if (args.rounds < 1 || args.per_round < 100) throw std::invalid_argument("--rounds >= 1 and --per-round >= 100");
  return args;
}

void report_round(const Arguments& args, const std::string& task, const std::string& proposal, std::size_t round, std::size_t simulations,
                  double accuracy, double simulate_s, double train_s, double refresh_s, double figure) {
  std::printf("ROUND %s %s %llu %zu %zu %.5f %.2f %.2f %.2f %.2f %.4g\n", task.c_str(), proposal.c_str(),
              static_cast<unsigned long long>(args.seed), round, simulations, accuracy, simulate_s + train_s + refresh_s, simulate_s,
              train_s, refresh_s, figure);
  std::fflush(stdout);
}

/// x₀ and 10 000 reference posterior draws: sbibm's for its tasks; for gaussian_linear_narrow (GaussianLinear with noise
/// σ = 0.01: a posterior ~30× narrower than the prior in each of 10 dimensions) a θ drawn from the prior with a fixed
/// stream, its simulation, and exact draws of the Gaussian posterior.
template <class Task>
std::pair<std::vector<double>, Eigen::MatrixXd> observation_for(const Arguments& args, const std::string& task_name, const Task& task) {
  if constexpr (std::is_same_v<Task, osbi::GaussianLinear<Scalar, Space>>) {
    if (task_name == "gaussian_linear_narrow") {
      const osbi::RandomStream stream(2026, static_cast<std::uint64_t>(args.observation));
      osbi::Matrix<Scalar, Space> theta("theta_true", 1, task.theta_dim()), x("x0", 1, task.x_dim());
      task.prior().sample(Space(), stream.at(0), theta);
      task.simulate(Space(), theta, x, stream.at(1));
      std::vector<double> x0(task.x_dim());
      for (std::size_t j = 0; j < x0.size(); ++j) x0[j] = x(0, j);
      const std::vector<double> mean = task.posterior_mean(x0), variance = task.posterior_variance();
      Eigen::MatrixXd reference(10'000, task.theta_dim());
      const osbi::BatchRandom draws = stream.at(2);
      for (Eigen::Index i = 0; i < reference.rows(); ++i) {
        osbi::RowRandom row = draws.row(static_cast<std::uint64_t>(i));
        for (Eigen::Index j = 0; j < reference.cols(); ++j) reference(i, j) = mean[j] + std::sqrt(variance[j]) * row.normal();
      }
      return {x0, reference};
    }
  }
  const osbi::bench::SbibmObservation observation(args.data, task_name, args.observation);
  return {observation.observation(), observation.reference_samples()};
}

/// The estimator of every arm: osbi::centered_nsf (sbi's NSF behind a learned conditional affine map; our sbibm
/// benchmark's default, which the bare NSF trails badly on lotka_volterra's narrow posteriors).
template <class Task>
auto make_estimator(const Task& task, std::uint64_t seed) {
  return osbi::centered_nsf<Scalar, Space>(task.theta_dim(), task.x_dim(), seed);
}

/// The rounds for one proposal. `refresh(npe, x0, rng)` runs after each round's training (TSNPE: a new box; the
/// prior: nothing) and returns the proposal's prior mass.
/// With `apt` it trains by AtomicAptLoss (10 atoms) instead of NLL.
template <class Task, class Proposal, class Refresh>
void run_rounds(const Arguments& args, const std::string& task_name, const std::string& proposal_name, const Task& task,
                Proposal proposal, Refresh refresh, bool apt = false) {
  const std::uint64_t seed = args.seed * 1'000'003ull + 17;
  osbi::NPE npe(task.prior(), proposal, task, make_estimator(task, seed),
                osbi::NpeOptions{.seed = seed, .bounded_support = osbi::BoundedSupport::reject});
  const auto [x0, reference] = observation_for(args, task_name, task);
  osbi::RandomStream refresh_rng(seed, 400), posterior_rng(seed, 401);
  double simulate_s = 0, train_s = 0, refresh_s = 0;
  for (std::size_t round = 1; round <= args.rounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    npe.simulate(args.per_round);
    simulate_s += osbi::bench::seconds_since(start);
    start = std::chrono::steady_clock::now();
    osbi::TrainingOptions options;
    options.seed = seed + round;
    if (apt) {
      osbi::AtomicAptLoss loss(osbi::estimator_space_prior(npe.posterior(), task.prior()));
      npe.train(options, loss);
    } else {
      npe.train(options);
    }
    train_s += osbi::bench::seconds_since(start);
    start = std::chrono::steady_clock::now();
    const double mass = refresh(npe, x0, refresh_rng);
    refresh_s += osbi::bench::seconds_since(start);
    const double accuracy = osbi::diagnostics::c2st(reference, osbi::bench::to_eigen(npe.sample(x0, args.samples, posterior_rng)));
    report_round(args, task_name, proposal_name, round, npe.simulation_count(), accuracy, simulate_s, train_s, refresh_s, mass);
  }
}

/// Every simulation of a bench-side run (Breed, bandit): θ and x kept on the host as they are appended to the NPE, for
/// the rows' losses and importance weights.
struct Rows {
  std::size_t d, c;
  std::vector<double> theta, x;

  std::size_t size() const { return theta.size() / d; }

  template <class Npe>
  void add(Npe& npe, const osbi::Matrix<Scalar, Space>& new_theta, const osbi::Matrix<Scalar, Space>& new_x) {
    npe.append(new_theta, new_x);
    for (std::size_t i = 0; i < new_theta.extent(0); ++i) {
      for (std::size_t j = 0; j < d; ++j) theta.push_back(new_theta(i, j));
      for (std::size_t j = 0; j < c; ++j) x.push_back(new_x(i, j));
    }
  }

  /// Rows [first, size()) as views.
  std::pair<osbi::Matrix<Scalar, Space>, osbi::Matrix<Scalar, Space>> matrices(std::size_t first = 0) const {
    const std::size_t n = size() - first;
    osbi::Matrix<Scalar, Space> t("rows_theta", n, d), v("rows_x", n, c);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < d; ++j) t(i, j) = static_cast<Scalar>(theta[(first + i) * d + j]);
      for (std::size_t j = 0; j < c; ++j) v(i, j) = static_cast<Scalar>(x[(first + i) * c + j]);
    }
    return {t, v};
  }
};

/// −log q(θ_i | x_i) under the NPE's current estimator for rows [first, size()) (NaN where the simulation failed).
template <class Npe>
std::vector<double> per_row_nll(Npe& npe, const Rows& rows, std::size_t first = 0) {
  const auto [theta, x] = rows.matrices(first);
  const std::size_t n = theta.extent(0);
  osbi::Matrix<Scalar, Space> u("u", n, rows.d);
  npe.posterior().to_estimator_space(Space(), theta, u);
  osbi::Vector<Scalar, Space> log_q("log_q", n);
  npe.estimator().log_prob(Space(), u, x, log_q);
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = -static_cast<double>(log_q(i));
  return out;
}

/// Trains on every row with importance weights (WeightedNllLoss); returns (Σw)²/(N Σw²), the effective sample fraction.
template <class Npe>
double train_weighted(Npe& npe, const std::vector<double>& weights, std::uint64_t seed) {
  double sum = 0, square = 0;
  for (const double w : weights) sum += w, square += w * w;
  npe.set_weights(weights);
  osbi::TrainingOptions options;
  options.seed = seed;
  osbi::WeightedNllLoss loss;
  npe.train(options, loss);
  return sum * sum / (static_cast<double>(weights.size()) * square);
}

template <class Task>
auto make_npe(const Task& task, std::uint64_t seed) {
  return osbi::NPE(task.prior(), task, make_estimator(task, seed),
                   osbi::NpeOptions{.seed = seed, .bounded_support = osbi::BoundedSupport::reject});
}

/// Breed's rounds: after each round's weighted training, the rows of highest NLL become the parents.
template <class Task>
void run_breed(const Arguments& args, const std::string& task_name, const Task& task) {
  using Prior = std::decay_t<decltype(task.prior())>;
  const std::uint64_t seed = args.seed * 1'000'003ull + 17;
  auto npe = make_npe(task, seed);
  osbi::LossDrivenProposal<Prior> proposal(task.prior(), {.seed = seed});
  osbi::ProposalMixture<osbi::LossDrivenProposal<Prior>> mixture;
  const auto [x0, reference] = observation_for(args, task_name, task);
  osbi::RandomStream proposal_rng(seed, 402), simulator_rng(seed, 403), posterior_rng(seed, 401);
  Rows rows{task.theta_dim(), task.x_dim(), {}, {}};
  double simulate_s = 0, train_s = 0, refresh_s = 0;
  for (std::size_t round = 1; round <= args.rounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    osbi::Matrix<Scalar, Space> theta("theta", args.per_round, rows.d), x("x", args.per_round, rows.c);
    proposal.sample(Space(), proposal_rng.next(), theta);
    task.simulate(Space(), theta, x, simulator_rng.next());
    rows.add(npe, theta, x);
    mixture.add(proposal.snapshot(), args.per_round);
    simulate_s += osbi::bench::seconds_since(start);
    start = std::chrono::steady_clock::now();
    const double ess = train_weighted(npe, mixture.importance_weights(task.prior(), Space(), rows.matrices().first), seed + round);
    train_s += osbi::bench::seconds_since(start);
    start = std::chrono::steady_clock::now();
    proposal.update(rows.theta, per_row_nll(npe, rows));
    refresh_s += osbi::bench::seconds_since(start);
    const double accuracy = osbi::diagnostics::c2st(reference, osbi::bench::to_eigen(npe.sample(x0, args.samples, posterior_rng)));
    report_round(args, task_name, "breed", round, rows.size(), accuracy, simulate_s, train_s, refresh_s, ess);
  }
}

/// The bandit's rounds: each round is 10 pulls; a pull simulates a tenth of the round from the region UCB1 chooses.
/// After the round's weighted training, each region pulled gets the reward (mean NLL of its new rows before the
/// training − after) / (seconds spent simulating them): the prediction gain of Graves et al. 2017 per unit of
/// simulation cost (the new rows are unseen by the estimator they are first scored with).
template <class Task>
void run_bandit(const Arguments& args, const std::string& task_name, const Task& task) {
  using Prior = std::decay_t<decltype(task.prior())>;
  const std::uint64_t seed = args.seed * 1'000'003ull + 17;
  auto npe = make_npe(task, seed);
  osbi::RegionBandit<Prior> bandit(task.prior(), {.seed = seed});
  const auto [x0, reference] = observation_for(args, task_name, task);
  osbi::RandomStream proposal_rng(seed, 402), simulator_rng(seed, 403), posterior_rng(seed, 401), choice_rng(seed, 404);
  Rows rows{task.theta_dim(), task.x_dim(), {}, {}};
  double simulate_s = 0, train_s = 0, refresh_s = 0;
  const std::size_t pulls = 10, per_pull = args.per_round / pulls;
  for (std::size_t round = 1; round <= args.rounds; ++round) {
    const std::size_t first = rows.size();
    std::vector<std::size_t> region_of_pull;
    std::vector<double> pull_seconds(bandit.regions(), 0.0);
    for (std::size_t p = 0; p < pulls; ++p) {
      const auto start = std::chrono::steady_clock::now();
      const std::size_t region = bandit.choose(choice_rng.next());
      osbi::Matrix<Scalar, Space> theta("theta", per_pull, rows.d), x("x", per_pull, rows.c);
      bandit.sample(Space(), proposal_rng.next(), theta);
      task.simulate(Space(), theta, x, simulator_rng.next());
      rows.add(npe, theta, x);
      bandit.record_draws(region, per_pull);
      region_of_pull.push_back(region);
      const double seconds = osbi::bench::seconds_since(start);
      pull_seconds[region] += seconds;
      simulate_s += seconds;
    }
    // Before: the estimator of the last round (none in round 1: no reward yet beyond the exploration pulls).
    const std::vector<double> before = round > 1 ? per_row_nll(npe, rows, first) : std::vector<double>{};
    auto start = std::chrono::steady_clock::now();
    const double ess = train_weighted(npe, bandit.importance_weights(Space(), rows.matrices().first), seed + round);
    train_s += osbi::bench::seconds_since(start);
    start = std::chrono::steady_clock::now();
    if (round > 1) {
      const std::vector<double> after = per_row_nll(npe, rows, first);
      std::vector<double> drop(bandit.regions(), 0.0), count(bandit.regions(), 0.0);
      for (std::size_t p = 0; p < pulls; ++p)
        for (std::size_t i = p * per_pull; i < (p + 1) * per_pull; ++i)
          if (std::isfinite(before[i]) && std::isfinite(after[i])) drop[region_of_pull[p]] += before[i] - after[i], count[region_of_pull[p]] += 1;
      for (std::size_t p = 0; p < pulls; ++p) {
        const std::size_t r = region_of_pull[p];
        if (count[r] > 0 && pull_seconds[r] > 0) bandit.reward(r, drop[r] / count[r] / pull_seconds[r]);
      }
    }
    refresh_s += osbi::bench::seconds_since(start);
    const double accuracy = osbi::diagnostics::c2st(reference, osbi::bench::to_eigen(npe.sample(x0, args.samples, posterior_rng)));
    report_round(args, task_name, "bandit", round, rows.size(), accuracy, simulate_s, train_s, refresh_s, ess);
  }
}

template <class Task>
void run_task(const Arguments& args, const std::string& name, const Task& task) {
  for (const auto& proposal : args.proposals) {
    if (proposal == "breed") {
      run_breed(args, name, task);
    } else if (proposal == "bandit") {
      run_bandit(args, name, task);
    } else if (proposal == "prior") {
      run_rounds(args, name, proposal, task, task.prior(), [](auto&, const std::vector<double>&, osbi::RandomStream&) { return 1.0; });
    } else {
      osbi::TruncatedPrior truncated(task.prior()); // copies share the box: the NPE's proposal sees each refresh
      run_rounds(
          args, name, proposal, task, truncated,
          [truncated](auto& npe, const std::vector<double>& x0, osbi::RandomStream& rng) mutable {
            truncated.refresh(npe.posterior(), x0, rng);
            return std::exp(truncated.log_mass());
          },
          proposal == "tsnpe_apt");
    }
  }
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    const Arguments args = parse(argc, argv);
    std::printf("osbi active-learning benchmark: %s; NSF NPE in %zu rounds of %zu simulations, observation %d, C2ST on %zu draws\n",
                osbi::bench::kokkos_description().c_str(), args.rounds, args.per_round, args.observation, args.samples);
    for (const auto& task : args.tasks) {
      if (task == "two_moons") run_task(args, task, osbi::TwoMoons<Scalar, Space>());
      else if (task == "gaussian_linear") run_task(args, task, osbi::GaussianLinear<Scalar, Space>());
      else if (task == "gaussian_linear_narrow") run_task(args, task, osbi::GaussianLinear<Scalar, Space>(10, 0.1, 1e-4));
      else if (task == "lotka_volterra") run_task(args, task, osbi::LotkaVolterra<Scalar, Space>());
      else throw std::invalid_argument("unknown task " + task);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "osbi_bench_active: %s\n", error.what());
    return 1;
  }
  return 0;
}
