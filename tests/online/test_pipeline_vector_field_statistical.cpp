// SPDX-License-Identifier: BSD-3-Clause
/// \brief The online pipeline trains a flow-matching estimator (the default loss for it: flow matching) on two_moons
/// through a reservoir buffer: exact accounting, and a posterior that passes C2ST against the reference.
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <bench/support/sbibm_data.hpp>
#include <support/csv.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <span>
#include <type_traits>

namespace {

using Space = Kokkos::Serial;
using Scalar = float;

/// two_moons one θ at a time (a plain C++ point simulator: any number of worker threads may run it).
struct PointTwoMoons {
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    double out[2];
    osbi::TwoMoons<Scalar, Space>::simulate_one(theta[0], theta[1], rng, out);
    x[0] = out[0];
    x[1] = out[1];
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(online_vector_field)

// Statistical (skipped under the sanitizers): the offline FMPE runs there in test_vector_field.
BOOST_AUTO_TEST_CASE(flow_matching_trains_online_on_two_moons_through_a_reservoir, *boost::unit_test::label("statistical")) {
  const osbi::TwoMoons<Scalar, Space> task;
  const std::uint64_t seed = osbi::testing::test_seed();
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.seed = seed;
  options.train_after = 1'000;
  options.validation_size = 1'000;
  options.stop.max_simulations = 10'000;
  options.stop.plateau_patience = 20;
  osbi::BufferOptions buffer_options;
  buffer_options.capacity = 10'000;
  buffer_options.theta_dim = 2;
  buffer_options.x_dim = 2;
  buffer_options.seed = seed;
  using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, Scalar>;
  using Estimator = osbi::FlowMatchingEstimator<Scalar, Space>;
  Buffer buffer(buffer_options);
  Estimator::Options estimator_options;
  estimator_options.network.seed = seed;
  osbi::online::Pipeline pipeline(osbi::Posterior(Estimator(2, 2, estimator_options), task.prior()), task.prior(),
                                  PointTwoMoons{}, buffer, options);
  static_assert(std::is_same_v<typename decltype(pipeline)::loss_type, osbi::FlowMatchingLoss>);
  const auto report = pipeline.run();
  BOOST_TEST(report.accounting.consistent());
  BOOST_TEST(report.accounting.finished == 10'000u);
  BOOST_TEST(report.final_metrics.steps > 0u);

  const osbi::bench::SbibmObservation observation(osbi::testing::data_dir(), "two_moons", 1);
  osbi::RandomStream rng(seed, 3);
  const auto theta = pipeline.posterior().sample(observation.observation(), 10'000, rng);
  Eigen::MatrixXd samples(10'000, 2);
  for (int i = 0; i < 10'000; ++i)
    for (int j = 0; j < 2; ++j) samples(i, j) = theta(i, j);
  const double accuracy = osbi::diagnostics::c2st(observation.reference_samples(), samples);
  BOOST_TEST_MESSAGE("online FMPE on two_moons: " << report.final_metrics.steps << " steps, C2ST " << accuracy);
  BOOST_TEST(accuracy <= 0.70);
}

BOOST_AUTO_TEST_SUITE_END()
