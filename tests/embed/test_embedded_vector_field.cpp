// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedVectorField: FMPE and NPSE behind a jointly trained embedding — one parameter buffer, the loss checker
/// with finite differences over every parameter (embedding, network, baseline), the x gradient against finite
/// differences, and NPE through a summary of a padded observation.
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/embed/embedded_vector_field.hpp>
#include <osbi/estimator/capabilities.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/loss/default_loss.hpp>
#include <osbi/loss/denoising_score_matching.hpp>
#include <osbi/loss/flow_matching.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/testing/check_loss.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using Space = Kokkos::Serial;
template <class Scalar>
using Fmpe = osbi::FlowMatchingEstimator<Scalar, Space>;
template <class Scalar>
using Npse = osbi::ScoreEstimator<Scalar, Space>;
using SmoothEmbedding = osbi::nn::Sequential<osbi::nn::Dense<8, osbi::nn::init::TorchDefault, osbi::nn::activation::Tanh>,
                                             osbi::nn::Dense<3>>;
using EmbeddedFmpe = osbi::EmbeddedVectorField<SmoothEmbedding, Fmpe<double>>;
using EmbeddedNpse = osbi::EmbeddedVectorField<SmoothEmbedding, Npse<double>>;

static_assert(osbi::EmbeddableVectorField<Fmpe<double>> && osbi::EmbeddableVectorField<Npse<float>>);
static_assert(osbi::VelocityModel<EmbeddedFmpe> && !osbi::ScoreModel<EmbeddedFmpe>);
static_assert(osbi::ScoreModel<EmbeddedNpse> && !osbi::VelocityModel<EmbeddedNpse>);
static_assert(std::is_same_v<osbi::DefaultLoss<EmbeddedFmpe>, osbi::FlowMatchingLoss> &&
              std::is_same_v<osbi::DefaultLoss<EmbeddedNpse>, osbi::DenoisingScoreMatchingLoss>);
static_assert(osbi::LogProbEstimator<EmbeddedFmpe> && osbi::Standardizable<EmbeddedNpse> &&
              osbi::DataInitializable<EmbeddedFmpe>);

template <class Path>
osbi::VectorFieldEstimatorOptions<Path> small_options(std::uint64_t seed) {
  osbi::VectorFieldEstimatorOptions<Path> options;
  options.network.hidden = 6;
  options.network.blocks = 2;
  options.network.time.features = 4;
  options.network.seed = seed;
  return options;
}

using osbi::testing::host_values;

/// rows × columns of scale·N(0, 1) from stream `stream` of the test seed.
osbi::Matrix<double, Space> filled(std::size_t rows, std::size_t columns, std::uint64_t stream, double scale) {
  return osbi::testing::device_matrix<double, Space>(osbi::testing::normals(rows * columns, stream, scale), rows, columns);
}

/// Every parameter to N(0, 0.5²): the field's output layer and LayerNorms away from their start, a non-zero baseline B.
template <class Model>
void randomize(Model& model, std::uint64_t seed) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.parameters());
  osbi::RowRandom random = osbi::RandomStream(seed, 77).next().row(0);
  for (std::size_t p = 0; p < host.extent(0); ++p) host(p) = 0.5 * random.normal();
  Kokkos::deep_copy(model.parameters(), host);
}

/// The model's loss (its DefaultLoss's estimator call) on a batch, with a fixed rng; grad_x when not empty.
template <class Model>
double loss_value(Model& model, const osbi::Matrix<double, Space>& theta, const osbi::Matrix<double, Space>& x,
                  osbi::LossPass pass, const osbi::Matrix<double, Space>& grad_x = {}) {
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 9).next();
  if constexpr (osbi::VelocityModel<Model>)
    return model.flow_matching_loss(Space(), theta, x, {}, rng, {}, pass, grad_x);
  else
    return model.score_matching_loss(Space(), theta, x, {}, rng, {}, pass, grad_x);
}

/// The loss checker over every parameter (embedding, network, Gaussian baseline) with a non-trivial z-scoring, then
/// the x gradient against central differences (the loss is a pure function of its rng, so the same t and ε).
template <class Model, class Loss>
void check_gradients(Model& model, Loss& loss, const std::string& what) {
  const auto seed = osbi::testing::test_seed();
  model.set_standardization({0.1, -0.2}, {1.5, 0.7}, {0, 1, 2, 3, 4, 5}, {1, 2, 1, 0.5, 1, 3});
  randomize(model, seed);
  const auto theta = filled(7, 2, 3, 1.0), x = filled(7, 6, 4, 2.0);
  const auto report = osbi::testing::check_loss(loss, model, osbi::TrainingBatch<double, Space>{theta, x, {}, {}, {}, {}, {}},
                                                seed, model.parameter_count());
  BOOST_TEST_INFO(what << ": " << report.summary());
  BOOST_TEST(report.passed());

  osbi::Matrix<double, Space> grad_x("grad_x", 7, 6);
  Kokkos::deep_copy(grad_x, std::nan(""));
  model.zero_gradients(Space());
  loss_value(model, theta, x, osbi::LossPass::gradient, grad_x);
  const auto analytic = host_values(grad_x);
  double worst = 0;
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 6; ++j) {
      const double keep = x(i, j), h = 1e-6 * std::max(1.0, std::abs(keep));
      x(i, j) = keep + h;
      const double up = loss_value(model, theta, x, osbi::LossPass::value);
      x(i, j) = keep - h;
      const double down = loss_value(model, theta, x, osbi::LossPass::value);
      x(i, j) = keep;
      const double numeric = (up - down) / (2 * h), exact = analytic[i * 6 + j];
      worst = std::max(worst, std::abs(numeric - exact) / std::max(std::abs(exact), 1e-3));
    }
  // Tanh embedding and GELU network: smooth, so central differences agree to ~h² (relative 1e-5 is generous).
  BOOST_TEST(worst < 1e-5, what << ": worst relative error of ∂L/∂x " << worst);
}

/// x = (θ + 0.3 ε, 8 pure-noise coordinates) (as test_embedded_density.cpp): the posterior is
/// N(x₀[0:2]/1.09, 0.09/1.09 I) and the summary must learn to ignore the noise.
struct PaddedGaussian {
  using scalar_type = float;
  using execution_space = Space;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 10; }
  void simulate(const Space& space, const osbi::ConstMatrix<float, Space>& theta, const osbi::Matrix<float, Space>& x,
                osbi::BatchRandom rng) const {
    Kokkos::parallel_for(
        "test::PaddedGaussian", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)), KOKKOS_LAMBDA(const std::size_t i) {
          osbi::RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < 2; ++j) x(i, j) = static_cast<float>(theta(i, j) + 0.3 * generator.normal());
          for (std::size_t j = 2; j < 10; ++j) x(i, j) = static_cast<float>(generator.normal());
        });
  }
};
static_assert(osbi::Simulator<PaddedGaussian>);

} // namespace

BOOST_AUTO_TEST_SUITE(embedded_vector_field)

BOOST_AUTO_TEST_CASE(one_buffer_holds_embedding_then_field_and_rebind_keeps_the_field_unchanged) {
  const auto seed = osbi::testing::test_seed();
  Fmpe<double> reference(2, 3, small_options<osbi::LinearPath>(seed));
  randomize(reference, seed);
  const auto theta = filled(5, 2, 1, 1.0), context = filled(5, 3, 2, 1.0);
  osbi::Vector<double, Space> before("before", 5), after("after", 5);
  reference.log_prob(Space(), theta, context, before);
  const auto field_values = host_values(reference.parameters());
  EmbeddedFmpe model(6, std::move(reference), seed);
  BOOST_TEST(model.parameter_count() == model.embedding_parameter_count() + field_values.size());
  BOOST_TEST(model.embedding_parameter_count() == 6u * 8u + 8u + 8u * 3u + 3u);
  const auto all = host_values(model.parameters());
  BOOST_TEST(std::equal(field_values.begin(), field_values.end(),
                        all.begin() + static_cast<std::ptrdiff_t>(model.embedding_parameter_count())));
  model.field().log_prob(Space(), theta, context, after);
  BOOST_TEST(host_values(before) == host_values(after));
  // Writing the shared buffer changes the field (its network and its baseline).
  Kokkos::deep_copy(Kokkos::subview(model.parameters(), std::make_pair(model.embedding_parameter_count(), model.parameter_count())),
                    0.05);
  model.field().log_prob(Space(), theta, context, after);
  BOOST_TEST(host_values(before) != host_values(after));
  BOOST_CHECK_THROW((EmbeddedFmpe(6, Fmpe<double>(2, 4, small_options<osbi::LinearPath>(seed)), seed)), osbi::DimensionMismatch);
  osbi::Matrix<double, Space> wrong_x("wrong_x", 5, 5), grad_x("grad_x", 5, 6);
  const osbi::BatchRandom rng = osbi::RandomStream(seed).next();
  BOOST_CHECK_THROW(model.flow_matching_loss(Space(), theta, wrong_x, {}, rng, {}, osbi::LossPass::value), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(model.flow_matching_loss(Space(), theta, filled(5, 6, 5, 1.0), {}, rng, {}, osbi::LossPass::value, grad_x),
                    osbi::InvalidArgument); // an x gradient needs the gradient pass
}

BOOST_AUTO_TEST_CASE(flow_matching_gradients_match_finite_differences_for_every_parameter_and_x) {
  const auto seed = osbi::testing::test_seed();
  EmbeddedFmpe model(6, Fmpe<double>(2, 3, small_options<osbi::LinearPath>(seed)), seed);
  osbi::FlowMatchingLoss loss;
  check_gradients(model, loss, "embedded flow matching");
}

BOOST_AUTO_TEST_CASE(score_matching_gradients_match_finite_differences_for_every_parameter_and_x) {
  const auto seed = osbi::testing::test_seed();
  EmbeddedNpse model(6, Npse<double>(2, 3, small_options<osbi::VarianceExploding>(seed)), seed);
  osbi::DenoisingScoreMatchingLoss loss;
  check_gradients(model, loss, "embedded score matching (VE)");
}

BOOST_AUTO_TEST_CASE(npe_with_flow_matching_trains_through_a_summary) {
  // NPE of FMPE behind a 10 → 16 → 2 summary on the padded Gaussian: exact counts (900 training / 100 validation
  // rows, 9 steps per epoch), a validation loss that improves on its first epoch, and 500 finite draws (a few
  // epochs, what the sanitizers also run; the flagship example trains this pairing for accuracy).
  using Embedding = osbi::nn::Sequential<osbi::nn::Dense<16, osbi::nn::init::TorchDefault, osbi::nn::activation::Tanh>,
                                         osbi::nn::Dense<2>>;
  using Model = osbi::EmbeddedVectorField<Embedding, Fmpe<float>>;
  const auto seed = osbi::testing::test_seed();
  const auto prior = osbi::Gaussian<float, Space>::diagonal({0.0, 0.0}, {1.0, 1.0});
  osbi::VectorFieldEstimatorOptions<osbi::LinearPath> options;
  options.network.seed = seed;
  auto npe = osbi::NPE(prior, PaddedGaussian{}, Model(10, Fmpe<float>(2, 2, options), seed), osbi::NpeOptions{.seed = seed});
  npe.simulate(1'000);
  osbi::TrainingOptions training;
  training.max_epochs = 4;
  training.batch_size = 100;
  training.learning_rate = 1e-3;
  const auto& report = npe.train(training);
  BOOST_TEST(report.rows_train == 900u);
  BOOST_TEST(report.rows_validation == 100u);
  BOOST_TEST(report.steps == 36u);
  BOOST_REQUIRE(report.validation_loss.size() == 4u);
  BOOST_TEST(report.best_validation_loss < report.validation_loss.front());
  const std::vector<double> x0{0.8, -0.5, 0.3, -1.2, 0.5, 0.0, 1.1, -0.4, 0.2, 0.9};
  osbi::RandomStream rng(seed, 5);
  const auto theta = npe.sample(x0, 500, rng);
  BOOST_REQUIRE(theta.extent(0) == 500u);
  std::size_t finite = 0;
  for (std::size_t i = 0; i < 500; ++i) finite += std::isfinite(theta(i, 0)) && std::isfinite(theta(i, 1)) ? 1 : 0;
  BOOST_TEST(finite == 500u);
}

BOOST_AUTO_TEST_SUITE_END()
