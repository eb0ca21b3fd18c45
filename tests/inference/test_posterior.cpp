// SPDX-License-Identifier: BSD-3-Clause
/// \brief Posterior: transform and reject modes on a bounded prior (draws inside, log_prob exact inside and −∞
/// outside), prepare() z-scoring a Standardizable estimator from finite rows only, restore_standardization; and NPE
/// run with the archetypes and with a proposal that is not the prior (the batches carry its log density and round).
#include <osbi/inference/npe.hpp>
#include <osbi/inference/posterior.hpp>

#include <osbi/testing/conditional_density_archetype.hpp>
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>
#include <osbi/testing/prior_archetype.hpp>
#include <osbi/testing/proposal_archetype.hpp>

#include <osbi/estimator/capabilities.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <support/backends.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <train/train_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using Space = osbi::DefaultExecutionSpace;
namespace tt = boost::test_tools;
constexpr double minus_infinity = -std::numeric_limits<double>::infinity();

/// x = θ + 0.1·ε, one dimension, in double: SimulatorArchetype's behaviour with PriorArchetype's scalar type.
/// (SimulatorArchetype itself cannot enter NPE: it is neither movable nor of PriorArchetype's scalar type.)
struct ShiftSimulator {
  using scalar_type = double;
  using execution_space = Space;
  std::size_t theta_dim() const { return 1; }
  std::size_t x_dim() const { return 1; }
  void simulate(const Space& space, const osbi::ConstMatrix<double, Space>& theta, const osbi::Matrix<double, Space>& x,
                osbi::BatchRandom rng) {
    osbi::check_simulation_shapes("ShiftSimulator", theta, x, 1, 1);
    Kokkos::parallel_for(
        "osbi::test::ShiftSimulator::simulate", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { x(i, 0) = theta(i, 0) + 0.1 * rng.row(i).normal(); });
  }
};

static_assert(osbi::Simulator<ShiftSimulator>);

/// ProposalArchetype with a round: a VersionedProposal.
class RoundSeven {
public:
  using scalar_type = double;
  using execution_space = Space;
  std::size_t dim() const { return m_proposal.dim(); }
  void sample(const Space& space, osbi::BatchRandom rng, const osbi::Matrix<double, Space>& theta) const {
    m_proposal.sample(space, rng, theta);
  }
  void log_prob(const Space& space, const osbi::ConstMatrix<double, Space>& theta,
                const osbi::Vector<double, Space>& out) const {
    m_proposal.log_prob(space, theta, out);
  }
  std::uint64_t round() const { return 7; }

private:
  osbi::testing::ProposalArchetype m_proposal{std::in_place};
};

static_assert(osbi::VersionedProposal<RoundSeven>);

/// EstimatorArchetype that records the z-scoring and the data-dependent start it is given (Standardizable and
/// DataInitializable).
class ZScoredEstimator {
public:
  using scalar_type = double;
  using execution_space = Space;

  std::size_t theta_dim() const { return 1; }
  std::size_t context_dim() const { return 1; }
  osbi::Vector<double, Space> parameters() { return m_estimator.parameters(); }
  osbi::Vector<double, Space> gradients() { return m_estimator.gradients(); }
  void zero_gradients(const Space& space) { m_estimator.zero_gradients(space); }
  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) {
    m_estimator.sample(space, x, rng, theta);
  }
  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x, std::size_t n, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) {
    m_estimator.sample(space, x, n, rng, theta);
  }

  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    standardizations.push_back({theta_mean, theta_std, x_mean, x_std});
  }
  void initialize_from_data(const Space&, const osbi::ConstMatrix<double, Space>& theta,
                            const osbi::ConstMatrix<double, Space>& x) {
    starts.push_back({osbi::testing::host_values(theta), osbi::testing::host_values(x)});
  }

  std::vector<osbi::Standardization> standardizations;
  std::vector<std::pair<std::vector<double>, std::vector<double>>> starts;

private:
  osbi::testing::EstimatorArchetype m_estimator{0.0};
};

static_assert(osbi::Standardizable<ZScoredEstimator> && osbi::DataInitializable<ZScoredEstimator>);

/// Whether a Posterior offers log_prob (only for a ConditionalDensity) and an NPE the NLL train(options).
template <class PosteriorType>
concept HasLogProb = requires(PosteriorType& posterior, const osbi::ConstMatrix<double, Space>& theta) {
  posterior.log_prob(theta, std::vector<double>{});
};
template <class NpeType>
concept HasNllTrain = requires(NpeType& npe) { npe.train(osbi::TrainingOptions{}); };

double logit_jacobian(double theta, double low, double high) {
  return std::log((high - low) / ((theta - low) * (high - theta)));
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_posterior)

BOOST_AUTO_TEST_CASE(transform_mode_draws_inside_and_log_prob_is_the_density_of_the_bijection) {
  // A box on (0, 1) × (−1, 2); q_u a LinearGaussian in u = logit((θ − a)/(b − a)).
  const osbi::BoxUniform<double, Space> prior({0.0, -1.0}, {1.0, 2.0});
  osbi::LinearGaussian<double, Space> density(2, 1);
  Kokkos::deep_copy(density.parameters(),
                    osbi::testing::device_vector<double>(osbi::testing::normals(density.parameters().extent(0), 141, 0.5)));
  osbi::Posterior posterior(std::move(density), prior);
  BOOST_TEST(!posterior.rejecting());
  const std::vector<double> x0{0.3};
  BOOST_TEST(posterior.acceptance(x0) == 1.0);

  osbi::RandomStream rng(osbi::testing::test_seed(), 142);
  const std::size_t n = 2000;
  const auto draws = posterior.sample(x0, n, rng);
  const auto theta = osbi::testing::host_values(draws);
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_TEST((theta[2 * i] > 0.0 && theta[2 * i] < 1.0));
    BOOST_TEST((theta[2 * i + 1] > -1.0 && theta[2 * i + 1] < 2.0));
  }

  // log q(θ) = log q_u(T⁻¹θ | x0) + Σ_j log|du_j/dθ_j| at 20 draws, against the density and the Jacobian here.
  const std::size_t m = 20;
  const auto head = Kokkos::subview(draws, std::make_pair(std::size_t(0), m), Kokkos::ALL);
  const auto log_q = osbi::testing::host_values(posterior.log_prob(head, x0));
  std::vector<double> u(2 * m);
  for (std::size_t i = 0; i < m; ++i) {
    u[2 * i] = std::log(theta[2 * i] / (1.0 - theta[2 * i]));
    u[2 * i + 1] = std::log((theta[2 * i + 1] + 1.0) / (2.0 - theta[2 * i + 1]));
  }
  osbi::Vector<double, Space> log_q_u("log_q_u", m);
  posterior.estimator().log_prob(Space(), osbi::testing::device_matrix<double>(u, m, 2),
                                 osbi::testing::device_matrix<double>(std::vector<double>(m, 0.3), m, 1), log_q_u);
  const auto reference = osbi::testing::host_values(log_q_u);
  for (std::size_t i = 0; i < m; ++i)
    BOOST_TEST(close(log_q[i], reference[i] + logit_jacobian(theta[2 * i], 0.0, 1.0) + logit_jacobian(theta[2 * i + 1], -1.0, 2.0), 1e-9));

  // Outside the support, and on a bound: −∞.
  const auto outside =
      osbi::testing::device_matrix<double>({-0.1, 0.5, 0.5, 2.5, 1.0, 0.0, 0.5, -1.0}, 4, 2);
  for (const double value : osbi::testing::host_values(posterior.log_prob(outside, x0))) BOOST_TEST(value == minus_infinity);

  // Training coordinates: u = T⁻¹θ.
  osbi::Matrix<double, Space> u_out("u", m, 2);
  posterior.to_estimator_space(Space(), head, u_out);
  BOOST_TEST(all_close(osbi::testing::host_values(u_out), u, 1e-9));
}

BOOST_AUTO_TEST_CASE(reject_mode_draws_inside_and_renormalizes_by_the_acceptance) {
  // q(θ | x0) = N(θ; 0.5, 1) restricted to [0, 1]: mass 2Φ(0.5) − 1 = 0.38292.
  osbi::Posterior posterior(osbi::testing::ConditionalDensityArchetype(0.0), osbi::testing::PriorArchetype{},
                            osbi::PosteriorOptions{.bounded_support = osbi::BoundedSupport::reject,
                                                   .seed = osbi::testing::test_seed()});
  BOOST_TEST(posterior.rejecting());
  const std::vector<double> x0{0.5};
  // 10 000 draws: standard error 0.0049; 0.025 is 5 of them (false failure p < 1e-6).
  const double acceptance = posterior.acceptance(x0);
  BOOST_TEST(std::abs(acceptance - (std::erf(0.5 / std::sqrt(2.0)))) < 0.025);
  BOOST_TEST(posterior.acceptance(x0) == acceptance); // cached for the same observation

  osbi::RandomStream rng(osbi::testing::test_seed(), 143);
  const std::size_t n = 3000;
  const auto theta = osbi::testing::host_values(posterior.sample(x0, n, rng));
  double mean = 0;
  for (const double t : theta) {
    BOOST_TEST((t >= 0.0 && t <= 1.0));
    mean += t / n;
  }
  // The truncated normal is symmetric about 0.5 with sd < 0.29: |mean − 0.5| < 0.03 is > 5 standard errors.
  BOOST_TEST(std::abs(mean - 0.5) < 0.03);

  const auto points = osbi::testing::device_matrix<double>({0.1, 0.75, 1.0, -0.01, 1.01}, 5, 1);
  const auto log_q = osbi::testing::host_values(posterior.log_prob(points, x0));
  for (std::size_t i = 0; i < 3; ++i) {
    const double t = std::vector<double>{0.1, 0.75, 1.0}[i];
    const double expected = -0.5 * (t - 0.5) * (t - 0.5) - 0.5 * std::log(2 * M_PI) - std::log(acceptance);
    BOOST_TEST_CONTEXT("theta = " << t) {
      if (t < 1.0)
        BOOST_TEST(close(log_q[i], expected, 1e-12));
      else
        BOOST_TEST(log_q[i] == minus_infinity); // a finite bound counts as outside (the bijection's log-det is −∞)
    }
  }
  BOOST_TEST(log_q[3] == minus_infinity);
  BOOST_TEST(log_q[4] == minus_infinity);

  // Unnormalized: the same density without − log(acceptance), −∞ at the same points.
  const auto unnormalized = osbi::testing::host_values(posterior.log_prob_unnormalized(points, x0));
  for (std::size_t i = 0; i < 5; ++i) {
    BOOST_TEST_CONTEXT("point " << i) {
      if (log_q[i] == minus_infinity)
        BOOST_TEST(unnormalized[i] == minus_infinity);
      else
        BOOST_TEST(close(unnormalized[i], log_q[i] + std::log(acceptance), 1e-12));
    }
  }

  // The estimator models θ itself.
  osbi::Matrix<double, Space> u("u", 5, 1);
  posterior.to_estimator_space(Space(), points, u);
  BOOST_TEST(osbi::testing::host_values(u) == osbi::testing::host_values(points), tt::per_element());
}

BOOST_AUTO_TEST_CASE(the_unnormalized_log_prob_draws_no_acceptance_sample) {
  // Two posteriors with one seed: if log_prob_unnormalized drew the acceptance sample for x0, the first would take
  // x1's from a later stream position than the second does.
  const auto make = [] {
    return osbi::Posterior(osbi::testing::ConditionalDensityArchetype(0.0), osbi::testing::PriorArchetype{},
                           osbi::PosteriorOptions{.bounded_support = osbi::BoundedSupport::reject,
                                                  .seed = osbi::testing::test_seed()});
  };
  auto first = make(), second = make();
  const auto points = osbi::testing::device_matrix<double>({0.1, 0.75}, 2, 1);
  const auto unnormalized = osbi::testing::host_values(first.log_prob_unnormalized(points, {0.5}));
  BOOST_TEST(close(unnormalized[0], -0.5 * 0.4 * 0.4 - 0.5 * std::log(2 * M_PI), 1e-12));
  BOOST_TEST(first.acceptance({0.2}) == second.acceptance({0.2}));
}

BOOST_AUTO_TEST_CASE(reject_on_an_unbounded_prior_does_not_reject) {
  const auto prior = osbi::Gaussian<double, Space>::diagonal({0.0}, {1.0});
  osbi::Posterior posterior(osbi::testing::ConditionalDensityArchetype(0.0), prior,
                            osbi::PosteriorOptions{.bounded_support = osbi::BoundedSupport::reject});
  BOOST_TEST(!posterior.rejecting());
  BOOST_TEST(posterior.acceptance({0.0}) == 1.0);
}

BOOST_AUTO_TEST_CASE(prepare_z_scores_from_the_finite_rows_only_and_restore_brings_the_statistics_back) {
  // Rows 2 (θ NaN) and 4 (x Inf) are left out of both statistics and of the data-dependent start.
  osbi::Posterior posterior(ZScoredEstimator{}, osbi::SupportBounds::unbounded(1));
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> theta{1.0, 2.0, nan, 4.0, 5.0, 7.0}, x{-1.0, 0.5, 0.0, 2.0, inf, 3.5};
  const std::vector<std::size_t> finite{0, 1, 3, 5};
  const auto moments = [&](const std::vector<double>& values) {
    double mean = 0, square = 0;
    for (const std::size_t i : finite) mean += values[i] / 4;
    for (const std::size_t i : finite) square += (values[i] - mean) * (values[i] - mean) / 4;
    return std::make_pair(mean, std::sqrt(square)); // population standard deviation
  };
  posterior.prepare(Space(), osbi::testing::device_matrix<double>(theta, 6, 1), osbi::testing::device_matrix<double>(x, 6, 1));
  const osbi::Standardization& statistics = posterior.standardization();
  BOOST_TEST_REQUIRE(!statistics.empty());
  BOOST_TEST(close(statistics.theta_mean[0], moments(theta).first, 1e-14));
  BOOST_TEST(close(statistics.theta_std[0], moments(theta).second, 1e-14));
  BOOST_TEST(close(statistics.x_mean[0], moments(x).first, 1e-14));
  BOOST_TEST(close(statistics.x_std[0], moments(x).second, 1e-14));
  const ZScoredEstimator& estimator = posterior.estimator();
  BOOST_TEST_REQUIRE(estimator.standardizations.size() == 1u);
  BOOST_TEST(estimator.standardizations[0].theta_mean == statistics.theta_mean, tt::per_element());
  BOOST_TEST(estimator.standardizations[0].x_std == statistics.x_std, tt::per_element());
  BOOST_TEST_REQUIRE(estimator.starts.size() == 1u);
  BOOST_TEST(estimator.starts[0].first == (std::vector<double>{1.0, 2.0, 4.0, 7.0}), tt::per_element());
  BOOST_TEST(estimator.starts[0].second == (std::vector<double>{-1.0, 0.5, 2.0, 3.5}), tt::per_element());

  // A resumed run: the statistics come back, without a second data-dependent start.
  const osbi::Standardization saved{{0.25}, {2.0}, {-1.0}, {0.5}};
  posterior.restore_standardization(saved);
  BOOST_TEST(posterior.standardization().theta_std == saved.theta_std, tt::per_element());
  BOOST_TEST_REQUIRE(estimator.standardizations.size() == 2u);
  BOOST_TEST(estimator.standardizations[1].theta_mean == saved.theta_mean, tt::per_element());
  BOOST_TEST(estimator.standardizations[1].x_mean == saved.x_mean, tt::per_element());
  BOOST_TEST(estimator.starts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_estimator_without_z_scoring_gets_empty_statistics) {
  osbi::Posterior posterior(osbi::testing::EstimatorArchetype(0.0), osbi::SupportBounds::unbounded(1));
  posterior.prepare(Space(), osbi::testing::device_matrix<double>({1.0, 2.0}, 2, 1),
                    osbi::testing::device_matrix<double>({0.0, 1.0}, 2, 1));
  BOOST_TEST(posterior.standardization().empty());
}

BOOST_AUTO_TEST_CASE(an_estimator_that_is_not_a_density_samples_but_has_no_log_prob) {
  using EstimatorPosterior = osbi::Posterior<osbi::testing::EstimatorArchetype>;
  static_assert(!HasLogProb<EstimatorPosterior>);
  static_assert(HasLogProb<osbi::Posterior<osbi::testing::ConditionalDensityArchetype>>);
  EstimatorPosterior posterior(osbi::testing::EstimatorArchetype(0.25), osbi::SupportBounds::unbounded(1));
  osbi::RandomStream rng(osbi::testing::test_seed(), 144);
  const auto theta = osbi::testing::host_values(posterior.sample({1.0}, 4, rng));
  const osbi::BatchRandom used = osbi::RandomStream(osbi::testing::test_seed(), 144).at(0);
  for (std::size_t i = 0; i < 4; ++i) {
    osbi::RowRandom generator = used.row(i);
    const double want = 1.25 + generator.normal();
    BOOST_TEST(std::abs(theta[i] - want) <= osbi::testing::last_bits_tolerance<Kokkos::DefaultExecutionSpace> *
                                                 std::abs(want),
               "row " << i << ": " << theta[i] << " vs " << want);
  }
}

BOOST_AUTO_TEST_CASE(observations_are_validated) {
  osbi::Posterior posterior(osbi::testing::ConditionalDensityArchetype(0.0), osbi::testing::PriorArchetype{});
  osbi::RandomStream rng(1);
  BOOST_CHECK_THROW(posterior.sample({0.1, 0.2}, 4, rng), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(posterior.sample({std::numeric_limits<double>::quiet_NaN()}, 4, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW(posterior.sample({0.1}, 0, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW(posterior.log_prob(osbi::Matrix<double, Space>("theta", 2, 3), {0.1}), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(npe_runs_with_the_prior_estimator_and_loss_archetypes) {
  // EstimatorArchetype is not a density: NPE trains it with LossArchetype, and has no NLL train() or log_prob.
  using Npe = osbi::NPE<osbi::testing::PriorArchetype, ShiftSimulator, osbi::testing::EstimatorArchetype>;
  static_assert(!HasNllTrain<Npe>);
  static_assert(HasNllTrain<osbi::NPE<osbi::testing::PriorArchetype, ShiftSimulator, osbi::testing::ConditionalDensityArchetype>>);
  Npe npe(osbi::testing::PriorArchetype{}, ShiftSimulator{}, osbi::testing::EstimatorArchetype(0.0),
          osbi::NpeOptions{.seed = osbi::testing::test_seed(), .simulation_batch = 128});
  const auto counts = npe.simulate(600);
  BOOST_TEST(counts.ok == 600u);
  osbi::testing::LossArchetype loss(0.1);
  const auto& report = npe.train({.batch_size = 50, .max_epochs = 5}, loss); // Adam at the options' rate
  BOOST_TEST(report.rows_total == 600u);
  BOOST_TEST(report.rows_validation == 60u);
  BOOST_TEST(report.steps == report.epochs * 10);
  osbi::RandomStream rng(osbi::testing::test_seed(), 145);
  for (const double theta : osbi::testing::host_values(npe.sample({0.5}, 500, rng)))
    BOOST_TEST((theta > 0.0 && theta < 1.0));
  // And with a user's optimizer.
  osbi::train_test::RecordingSgd<double, Space> optimizer(1, 0.01);
  npe.train({.batch_size = 50, .max_epochs = 2}, loss, optimizer);
  BOOST_TEST(optimizer.step_count() == npe.training_report().steps);
}

BOOST_AUTO_TEST_CASE(npe_with_a_proposal_records_its_log_density_and_round) {
  // θ from RoundSeven (p̃(θ) = 2θ on (0, 1], round 7), the prior uniform on [0, 1]; appended rows count as prior draws.
  osbi::NPE npe(osbi::testing::PriorArchetype{}, RoundSeven{}, ShiftSimulator{}, osbi::testing::EstimatorArchetype(0.0),
                osbi::NpeOptions{.seed = osbi::testing::test_seed()});
  npe.simulate(300);
  const std::vector<double> appended = osbi::testing::normals(40, 146, 0.1);
  std::vector<double> appended_theta(40);
  for (std::size_t i = 0; i < 40; ++i) appended_theta[i] = 0.5 + appended[i];
  npe.append(osbi::testing::device_matrix<double>(appended_theta, 40, 1),
             osbi::testing::device_matrix<double>(appended_theta, 40, 1));
  osbi::train_test::RecordingLoss<osbi::testing::LossArchetype> loss{osbi::testing::LossArchetype(0.1), {}, {}};
  osbi::train_test::RecordingSgd<double, Space> optimizer(1, 0.01);
  npe.train({.batch_size = 34, .max_epochs = 2}, loss, optimizer);
  BOOST_TEST_REQUIRE(!loss.trained.empty());
  std::size_t proposal_rows = 0, prior_rows = 0;
  for (const auto& batch : loss.trained)
    for (std::size_t r = 0; r < batch.arrival.size(); ++r) {
      // The batch's θ is the estimator's u = logit(θ) (transform mode on the prior's [0, 1]).
      const double theta = 1.0 / (1.0 + std::exp(-batch.theta[r]));
      if (batch.arrival[r] < 300) {
        ++proposal_rows;
        BOOST_TEST(batch.round[r] == 7u);
        BOOST_TEST(close(batch.proposal_log_prob[r], std::log(2.0 * theta), 1e-9));
      } else {
        ++prior_rows;
        BOOST_TEST(batch.round[r] == 0u);
        BOOST_TEST(batch.proposal_log_prob[r] == 0.0); // PriorArchetype: log 1 on [0, 1]
      }
    }
  BOOST_TEST(proposal_rows > 0u);
  BOOST_TEST(prior_rows > 0u);

  // ProposalArchetype has no round(): round 0, its own log density.
  osbi::NPE plain(osbi::testing::PriorArchetype{}, osbi::testing::ProposalArchetype(std::in_place), ShiftSimulator{},
                  osbi::testing::EstimatorArchetype(0.0), osbi::NpeOptions{.seed = osbi::testing::test_seed()});
  plain.simulate(100);
  osbi::train_test::RecordingLoss<osbi::testing::LossArchetype> plain_loss{osbi::testing::LossArchetype(0.1), {}, {}};
  osbi::train_test::RecordingSgd<double, Space> plain_optimizer(1, 0.01);
  plain.train({.batch_size = 30, .max_epochs = 1}, plain_loss, plain_optimizer);
  BOOST_TEST_REQUIRE(!plain_loss.trained.empty());
  const auto& batch = plain_loss.trained[0];
  for (std::size_t r = 0; r < batch.arrival.size(); ++r) {
    BOOST_TEST(batch.round[r] == 0u);
    BOOST_TEST(close(batch.proposal_log_prob[r], std::log(2.0 / (1.0 + std::exp(-batch.theta[r]))), 1e-9));
  }
}

BOOST_AUTO_TEST_SUITE_END()
