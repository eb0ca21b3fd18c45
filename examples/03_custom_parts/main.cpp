// SPDX-License-Identifier: BSD-3-Clause
/// \brief Example 03: your own parts in the online pipeline — a proposal, a loss and a buffer written here, each a
/// few dozen lines, plugged into osbi::online::Pipeline next to the library's estimator and trained end to end.
///
///   osbi_example_03_custom_parts [--simulations N] [--seed S]
///
/// The problem has a closed-form answer: θ ~ N(0, I₂), x = θ + 0.5·ε, so p(θ | x) = N(x/1.25, 0.2·I). θ is drawn
/// from a *wider* Gaussian than the prior (our proposal), so plain NLL would fit the wrong posterior; our loss
/// importance-weights each row back to the prior with the proposal density every sample carries; our buffer keeps a
/// sliding window of the newest simulations. The run prints the posterior mean and spread at one x against the
/// closed form.
#include <osbi/osbi.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace {

using Scalar = double;
using TrainSpace = Kokkos::DefaultExecutionSpace;
using SimulationSpace = Kokkos::Serial; // proposals draw on worker threads (Kokkos 3.x: not OpenMP)

// ---- 1. A proposal: N(0, s²·I), a prior-like sampler with a log density (models osbi::Proposal) ----------------
struct WideGaussian {
  using scalar_type = Scalar;
  using execution_space = SimulationSpace;
  std::size_t dimension = 2;
  double scale = 1.5;

  std::size_t dim() const { return dimension; }
  void sample(const execution_space& space, osbi::BatchRandom rng, const osbi::Matrix<Scalar, execution_space>& theta) const {
    const double s = scale;
    const std::size_t d = dimension;
    Kokkos::parallel_for(
        "example03::WideGaussian::sample", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          osbi::RowRandom row = rng.row(i); // row i from its own counter: the same draws on any backend
          for (std::size_t j = 0; j < d; ++j) theta(i, j) = s * row.normal();
        });
  }
  void log_prob(const execution_space& space, const osbi::ConstMatrix<Scalar, execution_space>& theta,
                const osbi::Vector<Scalar, execution_space>& out) const {
    const double s = scale;
    const std::size_t d = dimension;
    Kokkos::parallel_for(
        "example03::WideGaussian::log_prob", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double squares = 0;
          for (std::size_t j = 0; j < d; ++j) squares += theta(i, j) * theta(i, j);
          out(i) = -0.5 * squares / (s * s) - static_cast<double>(d) * (osbi::math::log(s) + 0.918938533204672742);
        });
  }
};
static_assert(osbi::Proposal<WideGaussian>);

// ---- 2. A loss: NLL importance-weighted back to the N(0, I) prior (models osbi::Loss for any density) ---------
// w_i = p(θ_i) / p̃(θ_i) from the metadata every sample carries (batch.proposal_log_prob), normalized to mean 1
// over the batch, then the density's weighted backward pass: L = (1/N) Σ w_i·(−log q(θ_i | x_i)).
struct PriorReweightedNll {
  template <osbi::ConditionalDensity Density>
  double value_and_gradient(Density& density, const typename Density::execution_space& space,
                            const osbi::TrainingBatch<Scalar, typename Density::execution_space>& batch, osbi::BatchRandom) {
    return density.nll_backward(space, batch.theta, batch.x, weights(space, batch), {}, {});
  }
  template <osbi::ConditionalDensity Density>
  double value(Density& density, const typename Density::execution_space& space,
               const osbi::TrainingBatch<Scalar, typename Density::execution_space>& batch, osbi::BatchRandom rng) {
    osbi::TrainingBatch<Scalar, typename Density::execution_space> weighted = batch;
    weighted.weights = weights(space, batch);
    return osbi::NllLoss().value(density, space, weighted, rng);
  }
  template <osbi::ConditionalDensity Density>
  void per_row(Density& density, const typename Density::execution_space& space,
               const osbi::TrainingBatch<Scalar, typename Density::execution_space>& batch, osbi::BatchRandom rng,
               const osbi::Vector<Scalar, typename Density::execution_space>& out) {
    osbi::NllLoss().per_row(density, space, batch, rng, out);
  }

  // A helper, yet public: nvcc (CUDA builds) does not allow a KOKKOS_LAMBDA inside a private member function.
  template <class Space>
  osbi::ConstVector<Scalar, Space> weights(const Space& space, const osbi::TrainingBatch<Scalar, Space>& batch) {
    osbi::require_metadata(batch, "example03::PriorReweightedNll");
    const std::size_t n = batch.rows(), d = batch.theta.extent(1);
    osbi::Vector<Scalar, Space> w("example03::weights", n);
    const auto theta = batch.theta;
    const auto proposal = batch.proposal_log_prob;
    double sum = 0;
    Kokkos::parallel_reduce(
        "example03::PriorReweightedNll::weights", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& total) {
          double squares = 0;
          for (std::size_t j = 0; j < d; ++j) squares += theta(i, j) * theta(i, j);
          const double log_prior = -0.5 * squares - static_cast<double>(d) * 0.918938533204672742;
          w(i) = osbi::math::exp(log_prior - proposal(i));
          total += w(i);
        },
        sum);
    const double mean = sum / static_cast<double>(n);
    Kokkos::parallel_for(
        "example03::PriorReweightedNll::normalize", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i) { w(i) /= mean; });
    return w;
  }
};

// ---- 3. A buffer: a sliding window of the newest rows, drawn with replacement (models osbi::SampleBuffer) ------
// osbi::BufferBase writes every member of the concept (locking, accounting, checkpoints, close); a buffer model only
// says which row a batch gets and which row makes room.
template <class Overflow>
class SlidingWindowBuffer : public osbi::BufferBase<SlidingWindowBuffer<Overflow>, Overflow, Scalar> {
  using Base = osbi::BufferBase<SlidingWindowBuffer<Overflow>, Overflow, Scalar>;
  friend Base;

public:
  using delivery_policy = osbi::delivery::Reuse; // delivered rows stay until the window moves past them
  static constexpr std::string_view kind = "sliding_window";
  static constexpr std::string_view part = "example03::SlidingWindowBuffer";
  explicit SlidingWindowBuffer(const osbi::BufferOptions& options) : Base(options) {}

private:
  static constexpr bool random_delivery = true;
  std::size_t pick(osbi::RowRandom& rng, std::size_t /*row*/) const {
    return this->slot_at(static_cast<std::size_t>(rng.uniform() * static_cast<double>(this->held())) % this->held());
  }
  std::size_t victim(bool allow_unseen) const { // the oldest row (lowest id); unseen ones only if allowed
    std::size_t best = Base::none;
    for (std::size_t position = 0; position < this->held(); ++position) {
      const std::size_t slot = this->slot_at(position);
      if ((allow_unseen || this->uses_of(slot) > 0) && (best == Base::none || this->id_of(slot) < this->id_of(best))) best = slot;
    }
    return best;
  }
};
static_assert(osbi::SampleBuffer<SlidingWindowBuffer<osbi::overflow::Evict>>);

/// The simulator: x = θ + 0.5·ε, one θ at a time (a PointSimulator, as an external solver would be).
struct NoisyIdentity {
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    for (std::size_t j = 0; j < 2; ++j) x[j] = theta[j] + 0.5 * rng.normal();
  }
};

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::size_t simulations = 20'000;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--simulations") simulations = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  try {
    const auto prior = osbi::Gaussian<Scalar, SimulationSpace>::diagonal({0.0, 0.0}, {1.0, 1.0});
    // The library's parts: a MAF (sbi's default) inside a Posterior that knows the prior's support.
    osbi::Posterior posterior(osbi::sbi_default_maf<Scalar, TrainSpace>(2, 2, seed), prior);

    osbi::online::PipelineOptions options;
    options.workers = 2;
    options.seed = seed;
    options.validation_size = 1'000;
    options.train_after = 1'000;
    options.learning_rate = 1e-3;
    options.stop.max_simulations = simulations;
    options.stop.epochs_after_budget = 20;
    SlidingWindowBuffer<osbi::overflow::Evict> buffer({.capacity = 8'000, .theta_dim = 2, .x_dim = 2, .seed = seed});
    osbi::online::Pipeline pipeline(std::move(posterior), WideGaussian{}, NoisyIdentity{}, buffer, options, PriorReweightedNll{});
    const auto report = pipeline.run();
    std::printf("example 03: %s after %llu steps; %llu simulations, accounting %s; best validation loss %.3f\n",
                std::string(osbi::online::stop_reason_name(report.reason)).c_str(),
                static_cast<unsigned long long>(report.final_metrics.steps),
                static_cast<unsigned long long>(report.accounting.finished),
                report.accounting.consistent() ? "consistent" : "INCONSISTENT", report.final_metrics.best_validation_loss);

    // The posterior at x = (1, −0.5) against the closed form N(x/1.25, 0.2·I).
    const std::vector<double> x0{1.0, -0.5};
    osbi::RandomStream rng(seed, 99);
    const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.posterior().sample(x0, 20'000, rng));
    int status = report.accounting.consistent() ? EXIT_SUCCESS : EXIT_FAILURE;
    for (std::size_t j = 0; j < 2; ++j) {
      double mean = 0, square = 0;
      for (std::size_t i = 0; i < theta.extent(0); ++i) mean += theta(i, j) / static_cast<double>(theta.extent(0));
      for (std::size_t i = 0; i < theta.extent(0); ++i) square += (theta(i, j) - mean) * (theta(i, j) - mean);
      const double sd = std::sqrt(square / static_cast<double>(theta.extent(0) - 1));
      std::printf("θ%zu | x0: mean %+.3f (exact %+.3f), sd %.3f (exact %.3f)\n", j, mean, x0[j] / 1.25, sd, std::sqrt(0.2));
      if (std::abs(mean - x0[j] / 1.25) > 0.15 || std::abs(sd - std::sqrt(0.2)) > 0.1) status = EXIT_FAILURE;
    }
    return status;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "example 03: %s\n", error.what());
    return EXIT_FAILURE;
  }
}
