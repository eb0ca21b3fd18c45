// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::PriorityCorrection: a pipeline on a prioritized buffer hands its loss the importance weights
/// (N·P(i))^(−β) / max, with β rising from beta_start to 1; without the correction the batch has no weights; a
/// uniform buffer refuses it.
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>

#include <online/online_test_support.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Density = osbi::LinearGaussian<double, Space>;
using Prior = osbi::Gaussian<double, Space>;
using Adam = osbi::optim::Adam<double, Space>;

using Simulator = osbi::online_test::NoisyIdentity;

/// NllLoss that keeps each training batch's weights (empty when the batch has none).
struct RecordingNll {
  std::vector<std::vector<double>>* batches;
  double value_and_gradient(Density& density, const Space& space, const osbi::TrainingBatch<double, Space>& batch, osbi::BatchRandom rng) {
    std::vector<double> weights;
    for (std::size_t i = 0; batch.weighted() && i < batch.rows(); ++i) weights.push_back(batch.weights(i));
    batches->push_back(weights);
    return osbi::NllLoss().value_and_gradient(density, space, batch, rng);
  }
  double value(Density& density, const Space& space, const osbi::TrainingBatch<double, Space>& batch, osbi::BatchRandom rng) {
    return osbi::NllLoss().value(density, space, batch, rng);
  }
  void per_row(Density& density, const Space& space, const osbi::TrainingBatch<double, Space>& batch, osbi::BatchRandom rng,
               const osbi::Vector<double, Space>& out) {
    osbi::NllLoss().per_row(density, space, batch, rng, out);
  }
};

template <class Buffer>
std::vector<std::vector<double>> run(const osbi::online::PipelineOptions& options, Buffer& buffer) {
  const Prior prior = Prior::diagonal({0.0, 0.0}, {1.0, 1.0});
  osbi::Posterior<Density> posterior(Density(2, 2), prior);
  std::vector<std::vector<double>> batches;
  Adam adam(posterior.estimator().parameters().extent(0), {.learning_rate = 1e-2});
  osbi::online::Pipeline<Prior, Simulator, Buffer, Density, RecordingNll, Adam> pipeline(
      std::move(posterior), prior, Simulator{}, buffer, std::move(adam), options, RecordingNll{&batches});
  pipeline.run();
  return batches;
}

osbi::BufferOptions buffer_options() {
  osbi::BufferOptions options;
  options.capacity = 500;
  options.theta_dim = 2;
  options.x_dim = 2;
  options.seed = osbi::testing::test_seed();
  return options;
}

osbi::online::PipelineOptions options() {
  osbi::online::PipelineOptions out;
  out.seed = osbi::testing::test_seed();
  out.batch_size = 32;
  out.train_after = 200;
  out.stop.max_simulations = 1'000'000; // never reached: the runs end by their step count
  out.stop.max_steps = 200;
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(online_priority_correction)

BOOST_AUTO_TEST_CASE(the_loss_sees_normalized_importance_weights_as_beta_rises) {
  osbi::PrioritizedBuffer<osbi::overflow::Evict, double> buffer(buffer_options());
  auto paced = options();
  paced.priority_correction = {.enabled = true, .beta_start = 0.0, .beta_steps = 100};
  const auto batches = run(paced, buffer);
  BOOST_TEST(batches.size() == 200u);
  std::size_t uneven = 0;
  for (std::size_t k = 0; k < batches.size(); ++k) {
    const auto& weights = batches[k];
    BOOST_TEST(weights.size() == 32u);
    if (weights.empty()) continue;
    // Divided by the batch's largest: the largest is 1, all lie in (0, 1].
    BOOST_TEST(*std::max_element(weights.begin(), weights.end()) == 1.0);
    BOOST_TEST(*std::min_element(weights.begin(), weights.end()) > 0.0);
    // β = 0 at the first step: (N·P)^0 = 1 for every row.
    if (k == 0) BOOST_TEST(*std::min_element(weights.begin(), weights.end()) == 1.0);
    uneven += *std::min_element(weights.begin(), weights.end()) < 0.999;
  }
  // Once the priorities differ (the trainer feeds back per-row losses) and β > 0, the weights do too.
  BOOST_TEST(uneven > 100u);
}

BOOST_AUTO_TEST_CASE(without_the_correction_the_batch_has_no_weights) {
  osbi::PrioritizedBuffer<osbi::overflow::Evict, double> buffer(buffer_options());
  const auto batches = run(options(), buffer);
  BOOST_TEST(batches.size() == 200u);
  for (const auto& weights : batches) BOOST_TEST(weights.empty());
}

BOOST_AUTO_TEST_CASE(a_uniform_buffer_refuses_the_correction) {
  osbi::ReservoirBuffer<osbi::overflow::Evict, double> buffer(buffer_options());
  auto corrected = options();
  corrected.priority_correction.enabled = true;
  BOOST_CHECK_THROW(run(corrected, buffer), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
