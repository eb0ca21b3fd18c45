// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedDensity: one parameter buffer for embedding + flow, exact joint (weighted) gradients (finite
/// differences over every parameter, θ and x), and a posterior learned through a summary of a padded observation.
#include <osbi/embed/embedded_density.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using Space = Kokkos::Serial;
template <class Scalar>
using Flow = osbi::ConditionalNSF<Scalar, Space>;
using SmoothEmbedding = osbi::nn::Sequential<osbi::nn::Dense<8, osbi::nn::init::TorchDefault, osbi::nn::activation::Tanh>,
                                             osbi::nn::Dense<3>>;

static_assert(osbi::ConditionalDensity<osbi::EmbeddedDensity<SmoothEmbedding, Flow<float>>>);
static_assert(osbi::EmbeddableDensity<Flow<double>>);
static_assert(osbi::EmbeddableDensity<osbi::ConditionalMAF<double, Space>>);

Flow<double> small_flow(std::size_t d, std::size_t c, std::uint64_t seed) {
  osbi::NSFOptions options;
  options.transforms = 2;
  options.hidden = 8;
  options.seed = seed;
  return Flow<double>(d, c, options);
}

template <class T>
std::vector<double> host_values(const T& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

osbi::Matrix<double, Space> filled(std::size_t rows, std::size_t columns, std::uint64_t seed, double scale) {
  osbi::Matrix<double, Space> m("m", rows, columns);
  osbi::RowRandom generator = osbi::RandomStream(seed).at(0).row(0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) m(i, j) = scale * generator.normal();
  return m;
}

/// x = (θ + 0.3 ε, 8 pure-noise coordinates): the posterior is N(x₀₁ / 1.09, 0.09/1.09 I) and the
/// summary must learn to ignore the noise.
struct PaddedGaussian {
  using scalar_type = float;
  using execution_space = Space;
  static constexpr double noise = 0.3;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 10; }
  void simulate(const Space& space, const osbi::ConstMatrix<float, Space>& theta, const osbi::Matrix<float, Space>& x,
                osbi::BatchRandom rng) const {
    Kokkos::parallel_for(
        "test::PaddedGaussian", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)), KOKKOS_LAMBDA(const std::size_t i) {
          osbi::RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < 2; ++j) x(i, j) = static_cast<float>(theta(i, j) + noise * generator.normal());
          for (std::size_t j = 2; j < 10; ++j) x(i, j) = static_cast<float>(generator.normal());
        });
  }
};
static_assert(osbi::Simulator<PaddedGaussian>);

/// NPE of the sbi-default MAF behind a jointly trained 10 → 16 → 2 summary, on PaddedGaussian.
auto summary_npe(std::uint64_t seed) {
  using Embedding = osbi::nn::Sequential<osbi::nn::Dense<16, osbi::nn::init::TorchDefault, osbi::nn::activation::Tanh>,
                                         osbi::nn::Dense<2>>;
  using Model = osbi::EmbeddedDensity<Embedding, osbi::ConditionalMAF<float, Space>>;
  const auto prior = osbi::Gaussian<float, Space>::diagonal({0.0, 0.0}, {1.0, 1.0});
  return osbi::NPE(prior, PaddedGaussian{}, Model(10, osbi::sbi_default_maf<float, Space>(2, 2, seed), seed),
                   osbi::NpeOptions{.seed = seed});
}

/// The observation both NPE tests condition on.
const std::vector<double> summary_x0{0.8, -0.5, 0.3, -1.2, 0.5, 0.0, 1.1, -0.4, 0.2, 0.9};

} // namespace

BOOST_AUTO_TEST_SUITE(embedded_density)

BOOST_AUTO_TEST_CASE(one_buffer_holds_embedding_then_flow_and_rebind_keeps_the_flow_unchanged) {
  const auto seed = osbi::testing::test_seed();
  auto reference = small_flow(2, 3, seed);
  const auto theta = filled(5, 2, seed + 1, 1.0), context = filled(5, 3, seed + 2, 1.0);
  osbi::Vector<double, Space> before("before", 5), after("after", 5);
  reference.log_prob(Space(), theta, context, before);
  osbi::EmbeddedDensity<SmoothEmbedding, Flow<double>> model(6, small_flow(2, 3, seed), seed);
  BOOST_TEST(model.parameter_count() == model.embedding_parameter_count() + reference.parameter_count());
  BOOST_TEST(model.embedding_parameter_count() == 6u * 8u + 8u + 8u * 3u + 3u);
  // The flow now lives in the tail of the shared buffer, with the same values.
  const auto all = host_values(model.parameters()), flow = host_values(reference.parameters());
  BOOST_TEST(std::equal(flow.begin(), flow.end(), all.begin() + static_cast<std::ptrdiff_t>(model.embedding_parameter_count())));
  model.density().log_prob(Space(), theta, context, after);
  BOOST_TEST(host_values(before) == host_values(after));
  // Writing the shared buffer changes the flow.
  Kokkos::deep_copy(Kokkos::subview(model.parameters(), std::make_pair(model.embedding_parameter_count(), model.parameter_count())),
                    0.05);
  model.density().log_prob(Space(), theta, context, after);
  BOOST_TEST(host_values(before) != host_values(after));
  BOOST_CHECK_THROW((osbi::EmbeddedDensity<SmoothEmbedding, Flow<double>>(6, small_flow(2, 4, seed), seed)),
                    osbi::DimensionMismatch);
}

namespace {

// L = (1/N) Σ w_i·(−log q_i) of a batch (w_i = 1: the mean NLL) through the density checker: central differences
// (h = 1e-6·max(1, |v|)) over every embedding and flow parameter and every θ and x entry, relative error <= 1e-5
// against max(|g|, 1e-3) (Tanh embedding: no kinks), with a non-trivial x z-scoring; the loss is the weighted mean
// of −log_prob (1e-12); gradients accumulate (1e-12); unit weights are the unweighted call bit for bit.
template <class FlowType>
void check_nll_gradient(FlowType flow, std::uint64_t seed, bool weighted) {
  osbi::EmbeddedDensity<SmoothEmbedding, FlowType> model(6, std::move(flow), seed);
  model.set_standardization({0.1, -0.2}, {1.5, 0.7}, {0, 1, 2, 3, 4, 5}, {1, 2, 1, 0.5, 1, 3});
  const auto theta = filled(7, 2, seed + 3, 1.0), x = filled(7, 6, seed + 4, 2.0);
  osbi::Vector<double, Space> weights;
  if (weighted) {
    weights = osbi::Vector<double, Space>("weights", 7);
    osbi::RowRandom generator = osbi::RandomStream(seed + 5).at(0).row(0);
    for (std::size_t i = 0; i < 7; ++i) weights(i) = 0.5 + generator.normal();
    weights(0) = 0.0;
    weights(1) = -std::abs(weights(1)) - 0.25;
  }
  osbi::testing::DensityGradientCheckOptions options;
  options.step = 1e-6;
  const auto report = osbi::testing::check_density_gradients(Space(), model, theta, x, weights, options);
  BOOST_TEST(report.passed(), report.summary() << " (embedding: first " << model.embedding_parameter_count()
                                               << " parameters)");
  BOOST_TEST(report.parameters_checked == model.parameter_count());
  BOOST_TEST(report.theta_checked == 7u * 2u);
  BOOST_TEST(report.x_checked == 7u * 6u);
  if (!weighted) {
    osbi::Vector<double, Space> out("out", 7);
    model.log_prob(Space(), theta, x, out);
    double sum = 0;
    for (std::size_t i = 0; i < 7; ++i) sum -= out(i);
    BOOST_TEST(report.loss == sum / 7, boost::test_tools::tolerance(1e-12));
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(nll_gradient_matches_finite_differences_for_every_parameter_nsf) {
  check_nll_gradient(small_flow(2, 3, osbi::testing::test_seed()), osbi::testing::test_seed(), false);
}

BOOST_AUTO_TEST_CASE(weighted_nll_gradient_matches_finite_differences_nsf) {
  check_nll_gradient(small_flow(2, 3, osbi::testing::test_seed()), osbi::testing::test_seed(), true);
}

namespace {

osbi::ConditionalMAF<double, Space> small_maf() {
  osbi::MAFOptions options;
  options.transforms = 2;
  options.hidden = 8;
  options.seed = osbi::testing::test_seed();
  return osbi::ConditionalMAF<double, Space>(2, 3, options);
}

} // namespace

BOOST_AUTO_TEST_CASE(nll_gradient_matches_finite_differences_for_every_parameter_maf) {
  check_nll_gradient(small_maf(), osbi::testing::test_seed(), false);
}

BOOST_AUTO_TEST_CASE(weighted_nll_gradient_matches_finite_differences_maf) {
  check_nll_gradient(small_maf(), osbi::testing::test_seed(), true);
}

BOOST_AUTO_TEST_CASE(npe_trains_and_samples_through_a_summary) {
  // The path of the statistical test below in a few epochs (what the sanitizers run): 1 000 padded
  // observations, batch 100, 4 epochs at most. Exact counts (900 training / 100 validation rows, 9 steps per
  // epoch), a validation loss that improves on its first epoch, and 500 finite draws.
  const auto seed = osbi::testing::test_seed();
  auto npe = summary_npe(seed);
  npe.simulate(1'000);
  osbi::TrainingOptions options;
  options.max_epochs = 4;
  options.batch_size = 100;
  options.learning_rate = 1e-3;
  const auto& report = npe.train(options);
  BOOST_TEST(report.rows_train == 900u);
  BOOST_TEST(report.rows_validation == 100u);
  BOOST_TEST(report.epochs == 4u);
  BOOST_TEST(report.steps == 36u);
  BOOST_REQUIRE(report.validation_loss.size() == 4u);
  BOOST_TEST(report.best_validation_loss < report.validation_loss.front());
  const std::vector<double> x0 = summary_x0;
  osbi::RandomStream rng(seed, 5);
  const auto theta = npe.sample(x0, 500, rng);
  BOOST_REQUIRE(theta.extent(0) == 500u);
  std::size_t finite = 0;
  for (std::size_t i = 0; i < 500; ++i) finite += std::isfinite(theta(i, 0)) && std::isfinite(theta(i, 1)) ? 1 : 0;
  BOOST_TEST(finite == 500u);
}

// Statistical (skipped under the sanitizers, see scripts/test.sh): npe_trains_and_samples_through_a_summary takes
// the same path there in a few epochs.
BOOST_AUTO_TEST_CASE(npe_through_a_learned_summary_recovers_the_analytic_posterior,
                     *boost::unit_test::label("statistical")) {
  // Prior N(0, I₂); x = (θ + 0.3 ε, 8 noise coordinates). With a 10 → 16 → 2 summary trained jointly
  // with the sbi-default MAF, the posterior at x₀ must match N(x₀[0:2]/1.09, (0.09/1.09) I): means within 0.08,
  // standard deviations within 20 % of 0.287 (the estimator's error at 10⁴ simulations; Monte-Carlo error
  // of 10⁴ draws is 0.003).
  const auto seed = osbi::testing::test_seed();
  auto npe = summary_npe(seed);
  npe.simulate(10'000);
  osbi::TrainingOptions options;
  options.max_epochs = 100;
  options.learning_rate = 1e-3;
  const auto& report = npe.train(options);
  BOOST_TEST_MESSAGE("embedded NPE: " << report.epochs << " epochs, best validation " << report.best_validation_loss
                                      << " (exact posterior: " << 2 * (0.5 * std::log(2 * M_PI * 0.09 / 1.09) + 0.5) << ")");
  const std::vector<double> x0 = summary_x0;
  osbi::RandomStream rng(seed, 5);
  const auto theta = npe.sample(x0, 10'000, rng);
  const double posterior_sd = std::sqrt(0.09 / 1.09);
  for (std::size_t j = 0; j < 2; ++j) {
    double mean = 0, square = 0;
    for (std::size_t i = 0; i < 10'000; ++i) mean += theta(i, j), square += theta(i, j) * theta(i, j);
    mean /= 10'000;
    const double sd = std::sqrt(square / 10'000 - mean * mean);
    BOOST_TEST(std::abs(mean - x0[j] / 1.09) < 0.08, "θ" << j << " mean " << mean << " vs " << x0[j] / 1.09);
    BOOST_TEST(std::abs(sd / posterior_sd - 1) < 0.2, "θ" << j << " sd " << sd << " vs " << posterior_sd);
  }
}

BOOST_AUTO_TEST_SUITE_END()
