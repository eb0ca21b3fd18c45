// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE through a set embedding recovers the closed-form posterior of a Gaussian's mean and scale from 1–20 iid
/// trials (normal-inverse-gamma conjugacy): C2ST against exact draws at trial counts it was trained on.
#include <osbi/embed/embedded_density.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/set_embedding.hpp>

#include <support/c2st_draws.hpp>
#include <support/iid_gaussian.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <vector>

namespace {

namespace nn = osbi::nn;
using Space = Kokkos::Serial;
using Relu = nn::activation::ReLU;
using TrialNet = nn::Sequential<nn::Dense<32, nn::init::TorchDefault, Relu>, nn::Dense<32, nn::init::TorchDefault, Relu>>;
using SetNet = nn::Sequential<nn::SetEmbedding<1, TrialNet>, nn::Dense<32, nn::init::TorchDefault, Relu>, nn::Dense<8>>;
using Model = osbi::EmbeddedDensity<SetNet, osbi::ConditionalNSF<float, Space>>;

} // namespace

BOOST_AUTO_TEST_SUITE(embedded_set_statistical)

// Statistical (skipped under the sanitizers): test_embedded_set runs the same path in a few epochs.
BOOST_AUTO_TEST_CASE(set_embedding_npe_recovers_the_normal_inverse_gamma_posterior,
                     *boost::unit_test::label("statistical")) {
  // 10⁴ simulations of 1–20 trials; the sbi-default NSF behind a mean-pooled set embedding. At 3 and 15 trials the
  // 10⁴ posterior draws must pass C2ST ≤ 0.7 against 10⁴ exact draws (draws that cannot be told apart score 0.5;
  // with 1–100 trials at the same budget the 4-trial posterior scored 0.75: the small counts get too few
  // simulations). Why 0.7: the run stops early after 119–213 epochs depending on the seed, and over seeds 1–4 and
  // the default one the scores spread over 0.526–0.653 (0.6 was set from the default seed alone, which scored
  // 0.530/0.556 then and 0.526/0.617 after the float softplus of f033d3b; seed 2 failed 0.6 before and after).
  const auto start = std::chrono::steady_clock::now();
  const auto seed = osbi::testing::test_seed();
  const osbi::testing::IidGaussianSimulator simulator{1, 20};
  osbi::NPE npe(osbi::testing::NormalInverseGammaPrior{}, simulator,
                Model(simulator.x_dim(), osbi::sbi_default_nsf<float, Space>(2, 8, seed), seed),
                osbi::NpeOptions{.seed = seed});
  npe.simulate(10'000);
  const auto& report = npe.train();
  for (const std::size_t trials : {3u, 15u}) {
    const std::vector<double> x0 = osbi::testing::iid_gaussian_observation(trials, 20, 0.7, -0.4, seed + trials);
    osbi::RandomStream rng(seed, 7 + trials);
    const auto theta = npe.sample(x0, 10'000, rng);
    const double accuracy =
        osbi::testing::c2st_of_draws(osbi::testing::nig_posterior_samples(x0, 10'000, seed + 1), theta);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_MESSAGE("set embedding NPE, " << trials << " trials: " << report.epochs << " epochs, C2ST " << accuracy
                                             << ", " << seconds << " s");
    BOOST_TEST(accuracy <= 0.7, trials << " trials: C2ST " << accuracy);
  }
}

BOOST_AUTO_TEST_SUITE_END()
