// SPDX-License-Identifier: BSD-3-Clause
/// \brief training_step runs zero → loss → reduce → clip → step: the reduction hook sees a fresh backward's gradient,
/// clipping bounds the reduced gradient, the optimizer steps with the clipped one; and it runs with the archetypes.
#include <osbi/train/gradient_reduction.hpp>
#include <osbi/train/step.hpp>

#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>

#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/nll.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <loss/loss_test_support.hpp>
#include <estimator/estimator_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <train/train_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using osbi::loss_test::LinearGaussianCase;
using osbi::loss_test::Space;
using osbi::train_test::RecordingReduction;
using Sgd = osbi::train_test::RecordingSgd<double, Space>;
namespace tt = boost::test_tools;

const osbi::BatchRandom rng = osbi::RandomStream(3).at(0);

double norm(const std::vector<double>& values) {
  double sum = 0;
  for (const double v : values) sum += v * v;
  return std::sqrt(sum);
}

/// The loss and gradient of one backward pass from zero: what the step must hand the reduction.
std::pair<double, std::vector<double>> fresh_backward(LinearGaussianCase& test) {
  const Space space;
  test.density.zero_gradients(space);
  const double value = osbi::NllLoss().value_and_gradient(test.density, space, test.batch(), rng);
  return {value, osbi::testing::host_values(test.density.gradients())};
}

} // namespace

BOOST_AUTO_TEST_SUITE(train_step)

BOOST_AUTO_TEST_CASE(zero_loss_reduce_clip_step_in_that_order) {
  LinearGaussianCase test(9);
  const Space space;
  const auto [expected_value, expected_gradient] = fresh_backward(test);
  const std::vector<double> before = osbi::testing::host_values(test.density.parameters());
  // Stale gradients: a step that forgot to zero them would hand the reduction something else.
  Kokkos::deep_copy(test.density.gradients(), 1e3);

  RecordingReduction reduction(10.0);
  Sgd optimizer(before.size(), 0.01);
  osbi::NllLoss loss;
  const double max_norm = 0.5;
  BOOST_TEST_REQUIRE(10.0 * norm(expected_gradient) > 2 * max_norm); // so the clipping acts
  const double value = osbi::training_step(test.density, loss, optimizer, space, test.batch(), rng,
                                           osbi::StepOptions{.clip_max_norm = max_norm}, reduction);
  space.fence();
  BOOST_TEST(value == expected_value);
  // The reduction saw the gradient of one backward pass from zero, before clipping.
  BOOST_TEST(reduction.seen == expected_gradient, tt::per_element());
  // Clipping acted on the reduced gradient (10×): its norm is the bound, its direction the gradient's.
  const std::vector<double> clipped = osbi::testing::host_values(test.density.gradients());
  BOOST_TEST(norm(clipped) <= max_norm);
  BOOST_TEST(close(norm(clipped), max_norm, 1e-5));
  const double coefficient = clipped[0] / (10.0 * expected_gradient[0]);
  for (std::size_t k = 0; k < clipped.size(); ++k)
    BOOST_TEST(close(clipped[k], coefficient * 10.0 * expected_gradient[k], 1e-12));
  // The optimizer stepped once, with the clipped gradient.
  BOOST_TEST(optimizer.step_count() == 1u);
  BOOST_TEST(optimizer.last_gradient == clipped, tt::per_element());
  const std::vector<double> after = osbi::testing::host_values(test.density.parameters());
  for (std::size_t k = 0; k < after.size(); ++k) BOOST_TEST(close(after[k], before[k] - 0.01 * clipped[k], 1e-15));
}

BOOST_AUTO_TEST_CASE(no_clipping_at_zero_or_infinite_bound_and_below_the_bound) {
  for (const double bound : {0.0, std::numeric_limits<double>::infinity(), 1e6}) {
    LinearGaussianCase test(9);
    const Space space;
    const auto [expected_value, expected_gradient] = fresh_backward(test);
    RecordingReduction reduction(10.0);
    Sgd optimizer(expected_gradient.size(), 0.01);
    osbi::NllLoss loss;
    osbi::training_step(test.density, loss, optimizer, space, test.batch(), rng, osbi::StepOptions{.clip_max_norm = bound},
                        reduction);
    space.fence();
    std::vector<double> reduced(expected_gradient);
    for (double& g : reduced) g *= 10.0;
    BOOST_TEST(optimizer.last_gradient == reduced, tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(default_reduction_is_local) {
  // Without a hook the optimizer gets the backward's gradient (clipping off).
  LinearGaussianCase test(9);
  const Space space;
  const auto [expected_value, expected_gradient] = fresh_backward(test);
  Sgd optimizer(expected_gradient.size(), 0.01);
  osbi::NllLoss loss;
  BOOST_TEST(osbi::training_step(test.density, loss, optimizer, space, test.batch(), rng, {.clip_max_norm = 0}) ==
             expected_value);
  space.fence();
  BOOST_TEST(optimizer.last_gradient == expected_gradient, tt::per_element());
}

BOOST_AUTO_TEST_CASE(runs_with_the_estimator_and_loss_archetypes_and_a_custom_optimizer) {
  // μ = 0.2, targets θ − x = 1 (no noise): L = ½(μ − 1)², g = μ − 1 = −0.8, SGD lr 0.5 → μ = 0.6.
  osbi::testing::EstimatorArchetype estimator(0.2);
  osbi::testing::LossArchetype loss(0.0);
  const Space space;
  osbi::TrainingBatch<double, Space> batch;
  batch.theta = osbi::testing::device_matrix<double>({1.5, 2.0, 0.0}, 3, 1);
  batch.x = osbi::testing::device_matrix<double>({0.5, 1.0, -1.0}, 3, 1);
  Sgd optimizer(1, 0.5);
  const double value = osbi::training_step(estimator, loss, optimizer, space, batch, rng);
  space.fence();
  BOOST_TEST(close(value, 0.5 * 0.8 * 0.8, 1e-15));
  BOOST_TEST(close(osbi::testing::host_values(estimator.parameters())[0], 0.6, 1e-15));
}

BOOST_AUTO_TEST_SUITE_END()
