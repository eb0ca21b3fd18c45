// SPDX-License-Identifier: BSD-3-Clause
/// \brief WeightedNllLoss on LinearGaussian against a double-precision reference: self-normalized value and gradient,
/// independence of the weights' scale, the effective sample size, NllLoss exactly without weights, invalid weights
/// rejected with a clear error before any gradient is touched; check_loss passes.
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/loss/weighted_nll.hpp>
#include <osbi/testing/check_loss.hpp>

#include <osbi/flow/linear_gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <loss/loss_test_support.hpp>
#include <estimator/estimator_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using osbi::loss_test::LinearGaussianCase;
using osbi::loss_test::Space;
namespace tt = boost::test_tools;

const osbi::BatchRandom rng = osbi::RandomStream(2).at(0);

static_assert(osbi::Loss<osbi::WeightedNllLoss, osbi::LinearGaussian<double, Space>>);

/// Positive importance-like weights exp(N(0, 1)).
std::vector<double> positive_weights(std::size_t n, std::uint64_t stream) {
  std::vector<double> weights = osbi::testing::normals(n, stream);
  for (double& w : weights) w = std::exp(w);
  return weights;
}

} // namespace

BOOST_AUTO_TEST_SUITE(loss_weighted_nll)

BOOST_AUTO_TEST_CASE(self_normalized_value_gradient_and_effective_sample_size_match_the_reference) {
  LinearGaussianCase test(11);
  const Space space;
  const std::vector<double> weights = positive_weights(test.n, 91);
  double sum = 0, sum_of_squares = 0;
  for (const double w : weights) sum += w, sum_of_squares += w * w;
  const auto [weighted, weighted_gradient] = test.combination(weights);

  osbi::WeightedNllLoss loss;
  BOOST_TEST(loss.effective_sample_size() == 0.0);
  BOOST_TEST(close(loss.value(test.density, space, test.batch(weights), rng), weighted / sum, 1e-12));
  test.density.zero_gradients(space);
  BOOST_TEST(close(loss.value_and_gradient(test.density, space, test.batch(weights), rng), weighted / sum, 1e-12));
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  for (std::size_t k = 0; k < gradient.size(); ++k)
    BOOST_TEST(close(gradient[k], weighted_gradient[k] / sum, 1e-11));
  BOOST_TEST(close(loss.effective_sample_size(), sum * sum / sum_of_squares, 1e-14));
  BOOST_TEST(loss.effective_sample_size() < static_cast<double>(test.n));

  // per_row: the unweighted terms.
  osbi::Vector<double, Space> rows("rows", test.n);
  loss.per_row(test.density, space, test.batch(weights), rng, rows);
  const auto values = osbi::testing::host_values(rows);
  for (std::size_t i = 0; i < test.n; ++i) BOOST_TEST(close(values[i], test.nll(i), 1e-13));
}

BOOST_AUTO_TEST_CASE(the_weights_scale_does_not_matter) {
  LinearGaussianCase test(11);
  const Space space;
  const std::vector<double> weights = positive_weights(test.n, 92);
  std::vector<double> scaled(weights);
  for (double& w : scaled) w *= 37.5;
  osbi::WeightedNllLoss loss;
  test.density.zero_gradients(space);
  const double value = loss.value_and_gradient(test.density, space, test.batch(weights), rng);
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  const double ess = loss.effective_sample_size();
  test.density.zero_gradients(space);
  BOOST_TEST(close(loss.value_and_gradient(test.density, space, test.batch(scaled), rng), value, 1e-14));
  BOOST_TEST(all_close(osbi::testing::host_values(test.density.gradients()), gradient, 1e-13));
  BOOST_TEST(close(loss.effective_sample_size(), ess, 1e-14));
}

BOOST_AUTO_TEST_CASE(zero_weights_drop_rows_exactly) {
  // Weight 0 on rows 5… is NllLoss on rows 0…4 (same value and gradient).
  LinearGaussianCase test(10);
  const Space space;
  std::vector<double> weights(test.n, 0.0);
  for (std::size_t i = 0; i < 5; ++i) weights[i] = 1.0;
  osbi::WeightedNllLoss weighted;
  test.density.zero_gradients(space);
  const double value = weighted.value_and_gradient(test.density, space, test.batch(weights), rng);
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  BOOST_TEST(close(weighted.effective_sample_size(), 5.0, 1e-15));

  osbi::TrainingBatch<double, Space> head;
  head.theta = Kokkos::subview(test.theta, std::make_pair(0, 5), Kokkos::ALL);
  head.x = Kokkos::subview(test.x, std::make_pair(0, 5), Kokkos::ALL);
  test.density.zero_gradients(space);
  BOOST_TEST(close(osbi::NllLoss().value_and_gradient(test.density, space, head, rng), value, 1e-14));
  BOOST_TEST(all_close(osbi::testing::host_values(test.density.gradients()), gradient, 1e-13));
}

BOOST_AUTO_TEST_CASE(without_weights_it_is_nll_loss_bit_for_bit) {
  LinearGaussianCase test(8);
  const Space space;
  osbi::WeightedNllLoss weighted;
  test.density.zero_gradients(space);
  const double value = weighted.value_and_gradient(test.density, space, test.batch(), rng);
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  BOOST_TEST(weighted.effective_sample_size() == static_cast<double>(test.n));
  test.density.zero_gradients(space);
  BOOST_TEST(osbi::NllLoss().value_and_gradient(test.density, space, test.batch(), rng) == value);
  BOOST_TEST(osbi::testing::host_values(test.density.gradients()) == gradient, tt::per_element());
  BOOST_TEST(weighted.value(test.density, space, test.batch(), rng) == osbi::NllLoss().value(test.density, space, test.batch(), rng));
}

BOOST_AUTO_TEST_CASE(invalid_weights_are_rejected_naming_the_loss_and_the_weight) {
  LinearGaussianCase test(6);
  const Space space;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::vector<double> weights;
    std::string expected;
  };
  const std::vector<Case> cases{{{1, 1, -0.5, 1, 1, 1}, "weight 2 = -0.5 must be finite and >= 0"},
                                {{1, nan, 1, 1, 1, 1}, "weight 1 = nan must be finite and >= 0"},
                                {{1, 1, 1, 1, 1, inf}, "weight 5 = inf must be finite and >= 0"},
                                {{0, 0, 0, 0, 0, 0}, "weights sum to 0; a self-normalized loss needs a positive sum"}};
  osbi::WeightedNllLoss loss;
  for (const Case& bad : cases) {
    for (const bool training : {true, false}) {
      test.density.zero_gradients(space);
      try {
        if (training)
          loss.value_and_gradient(test.density, space, test.batch(bad.weights), rng);
        else
          loss.value(test.density, space, test.batch(bad.weights), rng);
        BOOST_ERROR("weights " << bad.expected << " were accepted");
      } catch (const osbi::InvalidArgument& error) {
        const std::string text = error.what();
        BOOST_TEST(text.find(osbi::WeightedNllLoss::part) != std::string::npos, text);
        BOOST_TEST(text.find("WeightedNllLoss") != std::string::npos, text);
        BOOST_TEST(text.find(bad.expected) != std::string::npos, text);
      }
      // Rejected before the backward pass: no gradient was touched.
      BOOST_TEST(osbi::testing::host_values(test.density.gradients()) == std::vector<double>(test.parameters.size(), 0.0),
                 tt::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(check_loss_passes_with_and_without_weights) {
  LinearGaussianCase test(16);
  osbi::WeightedNllLoss loss;
  auto report = osbi::testing::check_loss(loss, test.density, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  report = osbi::testing::check_loss(loss, test.density, test.batch(positive_weights(test.n, 93)), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
