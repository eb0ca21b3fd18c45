// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE: neural posterior estimation in one object — simulate from a proposal, train the estimator, sample and evaluate the posterior.
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/estimator/log_prob_estimator.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/proposal/proposal.hpp>
#include <osbi/simulator/simulation_report.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/train/dataset.hpp>
#include <osbi/train/trainer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi {

struct NpeOptions {
  std::uint64_t seed = 0;
  std::size_t simulation_batch = 10'000; ///< rows per simulator call
  BoundedSupport bounded_support = BoundedSupport::transform;
  /// `reject` gives up (osbi::Error naming the rate) when fewer than this fraction of draws for an
  /// observation lands inside the support: the posterior estimate is then mostly outside the prior.
  double min_acceptance = 1e-4;
  /// Draws that estimate the acceptance rate for `reject`'s log_prob.
  std::size_t acceptance_draws = 10'000;
};

/*
 * NPE<Prior, Simulator, Estimator, Proposal = Prior> — the offline recipe of Papamakarios & Murray (2016) /
 * Greenberg et al. (2019) with sbi's defaults: draw θ from the proposal (the prior unless one is given),
 * simulate x, fit the estimator (osbi::train: NLL and Adam unless given), then its Posterior is p(θ | x₀).
 *
 *   simulate(n)          appends n proposal draws and their simulations, each with the proposal's log density at θ
 *                        and round (the batch metadata a loss may use); returns the accounting (rows whose x is
 *                        NaN/Inf are kept in the dataset but marked, and dropped — counted — by train).
 *   append(theta, x)     adds simulations made elsewhere, recorded as prior draws (round 0, the prior's log density).
 *   set_weights(w)       per-row weights for the next train calls (one per simulation so far, finite, >= 0; empty:
 *                        none) — importance weights p/q̄ of rows from other proposals (ProposalMixture), which a
 *                        weighted loss (WeightedNllLoss) applies. A count that no longer matches the simulations
 *                        when train runs is a DimensionMismatch: set them again after simulating more.
 *   train(options[, loss[, optimizer]])
 *                        maps θ to the estimator's coordinates, z-scores and gives the data-dependent start
 *                        (Posterior::prepare), then trains on the whole dataset.
 *   posterior()          the Posterior: sample(x0, n, rng), log_prob(theta, x0), log_prob_unnormalized(theta, x0),
 *                        acceptance(x0) in θ space; NPE's sample/log_prob/acceptance forward to it.
 *
 * When the prior's support is bounded (see BoundedSupport): by default the estimator is trained on
 * u = T⁻¹(θ) (SupportTransform), so its samples T(u) never leave the support and log q(θ) =
 * log q_u(u) + log|du/dθ| — the sbi "transformed posterior" without rejection; with `reject` it is
 * trained on θ and its draws are restricted to the support by rejection, as sbi's default does.
 */
template <Prior PriorType, Simulator SimulatorType, Estimator EstimatorType, Proposal ProposalType = PriorType>
class NPE {
  static_assert(std::is_same_v<typename PriorType::scalar_type, typename EstimatorType::scalar_type> &&
                    std::is_same_v<typename SimulatorType::scalar_type, typename EstimatorType::scalar_type> &&
                    std::is_same_v<typename ProposalType::scalar_type, typename EstimatorType::scalar_type>,
                "osbi::NPE: the prior, proposal, simulator and estimator must share one scalar_type (see osbi/inference/npe.hpp)");
  static_assert(std::is_same_v<typename PriorType::execution_space, typename EstimatorType::execution_space> &&
                    std::is_same_v<typename SimulatorType::execution_space, typename EstimatorType::execution_space> &&
                    std::is_same_v<typename ProposalType::execution_space, typename EstimatorType::execution_space>,
                "osbi::NPE: the prior, proposal, simulator and estimator must share one execution_space (see osbi/inference/npe.hpp)");

public:
  using scalar_type = typename EstimatorType::scalar_type;
  using execution_space = typename EstimatorType::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;

  /// The proposal is the prior.
  NPE(PriorType prior, SimulatorType simulator, EstimatorType estimator, NpeOptions options = {})
    requires std::is_same_v<ProposalType, PriorType>
      : NPE(prior, prior, std::move(simulator), std::move(estimator), options) {}

  NPE(PriorType prior, ProposalType proposal, SimulatorType simulator, EstimatorType estimator, NpeOptions options = {})
      : m_prior(std::move(prior)), m_proposal(std::move(proposal)), m_simulator(std::move(simulator)),
        m_posterior(std::move(estimator), m_prior.support(),
                    PosteriorOptions{.bounded_support = options.bounded_support,
                                     .min_acceptance = options.min_acceptance,
                                     .acceptance_draws = options.acceptance_draws,
                                     .seed = options.seed}),
        m_options(options), m_proposal_rng(options.seed, streams::npe_proposal),
        m_simulator_rng(options.seed, streams::npe_simulator) {
    require(options.simulation_batch > 0, part, "simulation_batch must be > 0");
    require_extent(m_proposal.dim(), m_prior.dim(), part, "the proposal's dim (must equal the prior's dim)");
    require_extent(m_simulator.theta_dim(), m_prior.dim(), part, "the simulator's theta_dim (must equal the prior's dim)");
    require_extent(estimator_ref().theta_dim(), m_prior.dim(), part, "the estimator's theta_dim (must equal the prior's dim)");
    require_extent(estimator_ref().context_dim(), m_simulator.x_dim(), part, "the estimator's context_dim (the simulator's x_dim)");
  }

  std::size_t theta_dim() const { return m_prior.dim(); }
  std::size_t x_dim() const { return m_simulator.x_dim(); }
  std::size_t simulation_count() const { return m_theta.size() / theta_dim(); }
  const SimulationCounts& simulation_counts() const { return m_counts; }
  EstimatorType& estimator() { return m_posterior.estimator(); }
  /// The estimator (named for the common case of a density).
  EstimatorType& density() { return m_posterior.estimator(); }
  Posterior<EstimatorType>& posterior() { return m_posterior; }
  const PriorType& prior() const { return m_prior; }
  const ProposalType& proposal() const { return m_proposal; }
  const TrainingReport& training_report() const { return m_report; }

  SimulationCounts simulate(std::size_t n) {
    Space space;
    SimulationCounts counts;
    for (std::size_t done = 0; done < n; done += m_options.simulation_batch) {
      const std::size_t rows = std::min(m_options.simulation_batch, n - done);
      Matrix<Scalar, Space> theta(label("inference", "NPE", "theta"), rows, theta_dim());
      Matrix<Scalar, Space> x(label("inference", "NPE", "x"), rows, x_dim());
      Vector<Scalar, Space> log_prob(label("inference", "NPE", "proposal_log_prob"), rows);
      m_proposal.sample(space, m_proposal_rng.next(), theta);
      m_simulator.simulate(space, theta, x, m_simulator_rng.next());
      m_proposal.log_prob(space, theta, log_prob);
      counts += classify_rows(space, theta, x).counts();
      append_rows(theta, x, log_prob, proposal_round(m_proposal));
    }
    m_counts += counts;
    return counts;
  }

  void append(const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x) {
    require_extent(theta.extent(1), theta_dim(), "osbi::NPE::append", "theta's column count");
    require_extent(x.extent(1), x_dim(), "osbi::NPE::append", "x's column count");
    require_extent(x.extent(0), theta.extent(0), "osbi::NPE::append", "x's row count (must equal theta's)");
    Vector<Scalar, Space> log_prob(label("inference", "NPE", "prior_log_prob"), theta.extent(0));
    m_prior.log_prob(Space(), theta, log_prob);
    append_rows(theta, x, log_prob, 0);
  }

  void set_weights(std::vector<double> weights) {
    for (std::size_t i = 0; i < weights.size(); ++i)
      require(std::isfinite(weights[i]) && weights[i] >= 0, "osbi::NPE::set_weights", "weight ", i, " = ", weights[i],
              " must be finite and >= 0");
    m_weights = std::move(weights);
  }

  /// Trains with the estimator's default loss (NLL for a density, flow matching, denoising score matching;
  /// loss/default_loss.hpp) and Adam at options.learning_rate (sbi's recipe).
  const TrainingReport& train(TrainingOptions options = {})
    requires HasDefaultLoss<EstimatorType>
  {
    DefaultLoss<EstimatorType> loss;
    return train(options, loss);
  }

  /// Trains with `loss` and Adam at options.learning_rate.
  template <Loss<EstimatorType> LossType>
  const TrainingReport& train(TrainingOptions options, LossType& loss) {
    auto optimizer = default_optimizer(estimator_ref(), options);
    return train(options, loss, optimizer);
  }

  /// Trains with `loss` and `optimizer` (its own learning rate; options.learning_rate is not used).
  template <Loss<EstimatorType> LossType, optim::Optimizer OptimizerType>
  const TrainingReport& train(TrainingOptions options, LossType& loss, OptimizerType& optimizer) {
    const std::size_t n = simulation_count();
    require(n >= 2, "osbi::NPE::train", "there are ", n, " simulations; simulate() or append() at least 2");
    Space space;
    using HostMatrix = Kokkos::View<const Scalar**, Kokkos::LayoutRight, Kokkos::HostSpace>;
    Matrix<Scalar, Space> theta(label("inference", "NPE", "train_theta"), n, theta_dim());
    Matrix<Scalar, Space> x(label("inference", "NPE", "train_x"), n, x_dim());
    Matrix<Scalar, Space> u(label("inference", "NPE", "train_u"), n, theta_dim()); // what the estimator models
    Vector<double, Space> log_prob(label("inference", "NPE", "train_proposal_log_prob"), n);
    Kokkos::View<std::uint64_t*, typename Space::memory_space> round(label("inference", "NPE", "train_round"), n);
    Kokkos::deep_copy(theta, HostMatrix(m_theta.data(), n, theta_dim()));
    Kokkos::deep_copy(x, HostMatrix(m_x.data(), n, x_dim()));
    Kokkos::deep_copy(log_prob, Kokkos::View<const double*, Kokkos::HostSpace>(m_proposal_log_prob.data(), n));
    Kokkos::deep_copy(round, Kokkos::View<const std::uint64_t*, Kokkos::HostSpace>(m_round.data(), n));
    m_posterior.to_estimator_space(space, theta, u);
    m_posterior.prepare(space, u, x);
    if (options.seed == 0) options.seed = m_options.seed;
    Dataset<Scalar, Space> data;
    data.theta = u;
    data.x = x;
    data.proposal_log_prob = log_prob;
    data.round = round;
    if (!m_weights.empty()) {
      require_extent(m_weights.size(), n, "osbi::NPE::train", "the weights' count (set_weights; the simulation count)");
      Vector<Scalar, Space> weights(label("inference", "NPE", "train_weights"), n);
      const auto host = Kokkos::create_mirror_view(weights);
      for (std::size_t i = 0; i < n; ++i) host(i) = static_cast<Scalar>(m_weights[i]);
      Kokkos::deep_copy(weights, host);
      data.weights = weights;
    }
    m_report = osbi::train(estimator_ref(), data, options, loss, optimizer);
    return m_report;
  }

  /// n posterior draws θ ~ q(θ | x0) (n × theta_dim), inside the prior's support.
  Matrix<Scalar, Space> sample(const std::vector<double>& x0, std::size_t n, RandomStream& rng) {
    return m_posterior.sample(x0, n, rng);
  }

  /// The fraction of q(θ | x0)'s mass inside the prior's support (Posterior::acceptance).
  double acceptance(const std::vector<double>& x0) { return m_posterior.acceptance(x0); }

  /// log q(θ_i | x0) for every row of theta; −∞ outside the prior's support.
  Vector<Scalar, Space> log_prob(const ConstMatrix<Scalar, Space>& theta, const std::vector<double>& x0)
    requires LogProbEstimator<EstimatorType>
  {
    return m_posterior.log_prob(theta, x0);
  }

  /// log_prob up to a constant in θ (Posterior::log_prob_unnormalized: no acceptance draws).
  Vector<Scalar, Space> log_prob_unnormalized(const ConstMatrix<Scalar, Space>& theta, const std::vector<double>& x0)
    requires LogProbEstimator<EstimatorType>
  {
    return m_posterior.log_prob_unnormalized(theta, x0);
  }

private:
  static constexpr const char* part = "osbi::NPE";

  EstimatorType& estimator_ref() { return m_posterior.estimator(); }

  void append_rows(const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                   const ConstVector<Scalar, Space>& log_prob, std::uint64_t round) {
    const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    const auto log_prob_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), log_prob);
    m_theta.insert(m_theta.end(), theta_host.data(), theta_host.data() + theta.extent(0) * theta_dim());
    m_x.insert(m_x.end(), x_host.data(), x_host.data() + x.extent(0) * x_dim());
    for (std::size_t i = 0; i < theta.extent(0); ++i) m_proposal_log_prob.push_back(static_cast<double>(log_prob_host(i)));
    m_round.insert(m_round.end(), theta.extent(0), round);
  }

  PriorType m_prior;
  ProposalType m_proposal;
  SimulatorType m_simulator;
  Posterior<EstimatorType> m_posterior;
  NpeOptions m_options;
  RandomStream m_proposal_rng, m_simulator_rng;
  std::vector<Scalar> m_theta, m_x;
  std::vector<double> m_proposal_log_prob;
  std::vector<std::uint64_t> m_round;
  std::vector<double> m_weights; ///< empty: unweighted
  SimulationCounts m_counts;
  TrainingReport m_report;
};

template <Prior PriorType, Simulator SimulatorType, Estimator EstimatorType>
NPE(PriorType, SimulatorType, EstimatorType, NpeOptions = {}) -> NPE<PriorType, SimulatorType, EstimatorType, PriorType>;

template <Prior PriorType, Proposal ProposalType, Simulator SimulatorType, Estimator EstimatorType>
NPE(PriorType, ProposalType, SimulatorType, EstimatorType, NpeOptions = {})
    -> NPE<PriorType, SimulatorType, EstimatorType, ProposalType>;

} // namespace osbi
