// SPDX-License-Identifier: BSD-3-Clause
/// \brief ParameterAverage: the average follows its recursion (with the warm-up weights), swap_in/swap_out/restart
/// move exactly the values they promise, decay 0 is a no-op, bad decays are refused; and train() validates and
/// returns the average while the raw parameters train exactly as without it.
#include <osbi/train/parameter_average.hpp>
#include <osbi/train/trainer.hpp>

#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>

#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow_matching/flow_matching_estimator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <train/train_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Average = osbi::ParameterAverage<double, Space>;
using Sgd = osbi::train_test::RecordingSgd<double, Space>;
namespace tt = boost::test_tools;

/// d_t of the t-th update (t from 1), written from the formula in the header's spec.
double weight(double decay, std::size_t t) {
  return std::min(decay, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
}

/// LossArchetype that records the estimator's parameter at every training and validation call.
struct ParameterRecordingLoss {
  osbi::testing::LossArchetype inner{0.1};
  std::vector<double> trained, validated; ///< μ before each step; μ at each validation

  template <osbi::Estimator E>
  double value_and_gradient(E& estimator, const Space& space, const osbi::TrainingBatch<double, Space>& batch,
                            osbi::BatchRandom rng) {
    space.fence();
    trained.push_back(osbi::testing::host_values(estimator.parameters())[0]);
    return inner.value_and_gradient(estimator, space, batch, rng);
  }
  template <osbi::Estimator E>
  double value(E& estimator, const Space& space, const osbi::TrainingBatch<double, Space>& batch, osbi::BatchRandom rng) {
    space.fence();
    validated.push_back(osbi::testing::host_values(estimator.parameters())[0]);
    return inner.value(estimator, space, batch, rng);
  }
  template <osbi::Estimator E>
  void per_row(E& estimator, const Space& space, const osbi::TrainingBatch<double, Space>& batch, osbi::BatchRandom rng,
               const osbi::Vector<double, Space>& out) {
    inner.per_row(estimator, space, batch, rng, out);
  }
};

/// θ = 0.4 + x + ε, 1 000 rows: 900 train in 9 batches of 100 per epoch.
osbi::Dataset<double, Space> noisy_data() { return osbi::train_test::shifted_normal_data(1'000, 0.4, 131, 132); }

} // namespace

BOOST_AUTO_TEST_SUITE(train_parameter_average)

BOOST_AUTO_TEST_CASE(the_average_follows_its_recursion_and_swaps_exactly) {
  const Space space;
  const std::size_t count = 5, updates = 40;
  const double decay = 0.9;
  const std::vector<double> start = osbi::testing::normals(count, 141), path = osbi::testing::normals(count * updates, 142);
  auto parameters = osbi::testing::device_vector<double>(start);
  Average average(space, parameters, decay);
  BOOST_TEST(average.enabled());
  std::vector<double> expected = start;
  for (std::size_t t = 1; t <= updates; ++t) {
    const std::vector<double> step(path.begin() + static_cast<std::ptrdiff_t>((t - 1) * count),
                                   path.begin() + static_cast<std::ptrdiff_t>(t * count));
    Kokkos::deep_copy(parameters, osbi::testing::device_vector<double>(step));
    BOOST_TEST(average.next_weight() == weight(decay, t));
    average.update(space, parameters);
    for (std::size_t k = 0; k < count; ++k) expected[k] = weight(decay, t) * expected[k] + (1 - weight(decay, t)) * step[k];
  }
  // The warm-up: 2/11 for the first update, the decay itself from t = 80 on (here: 41/50 at the last).
  BOOST_TEST(weight(decay, 1) == 2.0 / 11.0);
  BOOST_TEST(average.updates() == updates);
  BOOST_TEST(osbi::testing::host_values(average.average()) == expected, tt::tolerance(1e-14) << tt::per_element());

  const std::vector<double> raw = osbi::testing::host_values(parameters);
  average.swap_in(space, parameters);
  BOOST_TEST(osbi::testing::host_values(parameters) == osbi::testing::host_values(average.average()), tt::per_element());
  BOOST_CHECK_THROW(average.update(space, parameters), osbi::InvalidArgument);
  BOOST_CHECK_THROW(average.swap_in(space, parameters), osbi::InvalidArgument);
  average.swap_out(space, parameters);
  BOOST_TEST(osbi::testing::host_values(parameters) == raw, tt::per_element());
  BOOST_CHECK_THROW(average.swap_out(space, parameters), osbi::InvalidArgument);

  average.restart(space, parameters);
  BOOST_TEST(osbi::testing::host_values(average.average()) == raw, tt::per_element());
  BOOST_TEST(osbi::testing::host_values(parameters) == raw, tt::per_element());

  auto wrong = osbi::testing::device_vector<double>(std::vector<double>(count + 1, 0.0));
  BOOST_CHECK_THROW(average.update(space, wrong), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(decay_zero_is_off_and_bad_decays_are_refused) {
  const Space space;
  auto parameters = osbi::testing::device_vector<double>(std::vector<double>{1.0, 2.0});
  Average off(space, parameters, 0.0);
  BOOST_TEST(!off.enabled());
  off.update(space, parameters);
  off.swap_in(space, parameters);
  BOOST_TEST(osbi::testing::host_values(parameters) == (std::vector<double>{1.0, 2.0}), tt::per_element());
  BOOST_TEST(off.updates() == 0u);
  for (const double bad : {1.0, 1.5, -0.1, std::numeric_limits<double>::quiet_NaN()})
    BOOST_CHECK_THROW(Average(space, parameters, bad), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(train_validates_and_returns_the_average_while_the_raw_parameters_train_unchanged) {
  // SGD at lr 0.3 on a 1-parameter problem jitters around the optimum; with and without averaging the same batches and
  // gradients must drive the same raw parameters, and every validation must see the average of the raw path.
  const auto data = noisy_data();
  const double decay = 0.8;
  const std::size_t epochs = 6, steps_per_epoch = 9;
  const osbi::TrainingOptions plain{.batch_size = 100, .stop_after_epochs = 100, .max_epochs = epochs,
                                    .seed = osbi::testing::test_seed()};
  osbi::TrainingOptions averaged = plain;
  averaged.parameter_average_decay = decay;

  osbi::testing::EstimatorArchetype raw_estimator(-1.0), averaged_estimator(-1.0);
  ParameterRecordingLoss raw_loss, averaged_loss;
  Sgd raw_optimizer(1, 0.3), averaged_optimizer(1, 0.3);
  const auto raw_report = osbi::train(raw_estimator, data, plain, raw_loss, raw_optimizer);
  const auto report = osbi::train(averaged_estimator, data, averaged, averaged_loss, averaged_optimizer);

  BOOST_TEST_REQUIRE(report.epochs == epochs);
  BOOST_TEST_REQUIRE(averaged_loss.trained.size() == epochs * steps_per_epoch);
  BOOST_TEST(averaged_loss.trained == raw_loss.trained, tt::per_element()); // bit for bit

  // The raw path: μ_k after step k is what step k + 1 saw (the last epoch's final μ is not observed).
  const std::vector<double>& mu = averaged_loss.trained;
  double expected = -1.0;
  for (std::size_t k = 1; k < mu.size(); ++k) {
    expected = weight(decay, k) * expected + (1 - weight(decay, k)) * mu[k];
    if (k % steps_per_epoch == 0) BOOST_TEST(averaged_loss.validated[k / steps_per_epoch - 1] == expected, tt::tolerance(1e-14));
  }
  // Averaged and raw validations differ (the test would not notice a missing swap otherwise) ...
  BOOST_TEST(std::abs(averaged_loss.validated[2] - raw_loss.validated[2]) > 1e-6);
  // ... and the returned parameter is the best epoch's average.
  BOOST_TEST(osbi::testing::host_values(averaged_estimator.parameters())[0] == averaged_loss.validated[report.best_epoch - 1]);
  BOOST_TEST(report.validation_loss[report.best_epoch - 1] == report.best_validation_loss);
}

BOOST_AUTO_TEST_CASE(after_a_learning_rate_decay_training_and_average_restart_from_the_best_average) {
  const auto data = noisy_data();
  osbi::testing::EstimatorArchetype estimator(-1.0);
  ParameterRecordingLoss loss;
  Sgd optimizer(1, 0.3);
  const auto report = osbi::train(estimator, data,
                                  {.batch_size = 100, .stop_after_epochs = 1, .learning_rate_decays = 1,
                                   .learning_rate_decay = 0.5, .max_epochs = 200, .parameter_average_decay = 0.8,
                                   .seed = osbi::testing::test_seed()},
                                  loss, optimizer);
  BOOST_TEST_REQUIRE(report.learning_rate_decays == 1u);
  // The decay happened at the first epoch e whose validation was not better than the best before it (patience 1);
  // the step after it starts from that best average.
  std::size_t best = 0, decay_epoch = 0;
  for (std::size_t e = 1; e < loss.validated.size() && decay_epoch == 0; ++e) {
    const auto value = report.validation_loss;
    if (value[e] < value[best]) best = e;
    else decay_epoch = e;
  }
  BOOST_TEST_REQUIRE(decay_epoch > 0u);
  BOOST_TEST_REQUIRE(loss.trained.size() > (decay_epoch + 1) * 9);
  BOOST_TEST(loss.trained[(decay_epoch + 1) * 9] == loss.validated[best]);
  BOOST_TEST(osbi::testing::host_values(estimator.parameters())[0] == loss.validated[report.best_epoch - 1]);
}

BOOST_AUTO_TEST_CASE(unset_means_the_estimators_default_averaging_for_vector_fields_and_none_for_flows) {
  static_assert(osbi::default_parameter_average_decay<osbi::FlowMatchingEstimator<float, Space>>() == 0.999);
  static_assert(osbi::default_parameter_average_decay<osbi::ScoreEstimator<float, Space>>() == 0.999);
  static_assert(osbi::default_parameter_average_decay<osbi::ConditionalNSF<float, Space>>() == 0.0);
  // Two epochs of FMPE: unset trains (and returns) exactly what 0.999 does, not what 0 does.
  const auto data = noisy_data();
  const auto fit = [&](std::optional<double> decay) {
    osbi::FlowMatchingEstimator<double, Space>::Options options;
    options.network.hidden = 8;
    options.network.blocks = 1;
    options.network.seed = 5;
    osbi::FlowMatchingEstimator<double, Space> estimator(1, 1, options);
    osbi::TrainingOptions training{.batch_size = 100, .max_epochs = 2, .seed = 9};
    training.parameter_average_decay = decay;
    osbi::train(estimator, data.theta, data.x, training);
    return osbi::testing::host_values(estimator.parameters());
  };
  const auto by_default = fit(std::nullopt), averaged = fit(0.999), raw = fit(0.0);
  BOOST_TEST(by_default == averaged, tt::per_element());
  BOOST_TEST(by_default != raw);
}

BOOST_AUTO_TEST_SUITE_END()
