// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE through a set embedding of a variable number of iid trials: the training path with exact counts, and a
/// density that is invariant to the order of the trials and blind to the padding, through the whole estimator.
#include <osbi/embed/embedded_density.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/set_embedding.hpp>

#include <support/iid_gaussian.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace {

namespace nn = osbi::nn;
using Space = Kokkos::Serial;
using TrialNet = nn::Sequential<nn::Dense<16, nn::init::TorchDefault, nn::activation::ReLU>, nn::Dense<16>>;
using SetNet = nn::Sequential<nn::SetEmbedding<1, TrialNet>, nn::Dense<16, nn::init::TorchDefault, nn::activation::ReLU>,
                              nn::Dense<4>>;
using Model = osbi::EmbeddedDensity<SetNet, osbi::ConditionalNSF<float, Space>>;

} // namespace

BOOST_AUTO_TEST_SUITE(embedded_set)

BOOST_AUTO_TEST_CASE(npe_trains_through_a_set_embedding_and_its_density_ignores_order_and_padding) {
  // 1 000 simulations of 1–20 trials, batch 100, 3 epochs: exact counts (900/100 rows, 9 steps per epoch), a
  // validation loss that improves, finite draws; then log q(θ | x) is unchanged by reversing the trials or by
  // different padding values.
  const auto seed = osbi::testing::test_seed();
  const osbi::testing::IidGaussianSimulator simulator{1, 20};
  osbi::NPE npe(osbi::testing::NormalInverseGammaPrior{}, simulator,
                Model(simulator.x_dim(), osbi::sbi_default_nsf<float, Space>(2, 4, seed), seed),
                osbi::NpeOptions{.seed = seed});
  npe.simulate(1'000);
  osbi::TrainingOptions options;
  options.max_epochs = 3;
  options.batch_size = 100;
  const auto& report = npe.train(options);
  BOOST_TEST(report.rows_train == 900u);
  BOOST_TEST(report.rows_validation == 100u);
  BOOST_TEST(report.steps == 27u);
  BOOST_REQUIRE(report.validation_loss.size() == 3u);
  BOOST_TEST(report.best_validation_loss < report.validation_loss.front());

  const std::vector<double> x0 = osbi::testing::iid_gaussian_observation(7, 20, 0.5, -0.3, seed);
  osbi::RandomStream rng(seed, 5);
  const auto theta = npe.sample(x0, 200, rng);
  BOOST_REQUIRE(theta.extent(0) == 200u);
  for (std::size_t i = 0; i < 200; ++i) BOOST_TEST((std::isfinite(theta(i, 0)) && std::isfinite(theta(i, 1))));

  std::vector<double> reversed = x0, repadded = x0;
  for (std::size_t j = 0; j < 7; ++j) reversed[1 + j] = x0[7 - j];
  for (std::size_t j = 7; j < 20; ++j) repadded[1 + j] = 1e3 * double(j);
  auto& model = npe.posterior().estimator();
  osbi::Matrix<float, Space> thetas("theta", 3, 2), xs("x", 3, 21);
  const std::vector<double>* rows[3] = {&x0, &reversed, &repadded};
  for (std::size_t r = 0; r < 3; ++r) {
    thetas(r, 0) = 0.4f, thetas(r, 1) = -0.2f;
    for (std::size_t j = 0; j < 21; ++j) xs(r, j) = static_cast<float>((*rows[r])[j]);
  }
  osbi::Vector<float, Space> log_q("log_q", 3);
  model.log_prob(Space(), thetas, xs, log_q);
  Space().fence();
  BOOST_TEST(std::isfinite(log_q(0)));
  BOOST_TEST(std::abs(log_q(1) - log_q(0)) < 1e-4);
  BOOST_TEST(log_q(2) == log_q(0));
}

BOOST_AUTO_TEST_SUITE_END()
