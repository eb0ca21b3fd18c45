// SPDX-License-Identifier: BSD-3-Clause
/// \brief NllLoss on LinearGaussian against a double-precision reference: value, gradient and per-row values,
/// unweighted (bit for bit the density's own backward) and weighted; check_loss passes.
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/testing/check_loss.hpp>
#include <osbi/testing/conditional_density_archetype.hpp>

#include <osbi/estimator/conditional_density.hpp>
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

#include <cstddef>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using osbi::loss_test::LinearGaussianCase;
using osbi::loss_test::Space;
namespace tt = boost::test_tools;

const osbi::BatchRandom rng = osbi::RandomStream(1).at(0);

static_assert(osbi::Loss<osbi::NllLoss, osbi::LinearGaussian<double, Space>>);
static_assert(osbi::Loss<osbi::NllLoss, osbi::testing::ConditionalDensityArchetype>);

} // namespace

BOOST_AUTO_TEST_SUITE(loss_nll)

BOOST_AUTO_TEST_CASE(unweighted_value_gradient_and_rows_match_the_reference) {
  LinearGaussianCase test(9);
  const Space space;
  osbi::NllLoss loss;
  const auto [sum, gradient_sum] = test.combination(std::vector<double>(test.n, 1.0));
  const double expected = sum / test.n;

  BOOST_TEST(close(loss.value(test.density, space, test.batch(), rng), expected, 1e-13));
  test.density.zero_gradients(space);
  BOOST_TEST(close(loss.value_and_gradient(test.density, space, test.batch(), rng), expected, 1e-13));
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  for (std::size_t k = 0; k < gradient.size(); ++k)
    BOOST_TEST(close(gradient[k], gradient_sum[k] / test.n, 1e-12));

  osbi::Vector<double, Space> rows("rows", test.n);
  loss.per_row(test.density, space, test.batch(), rng, rows);
  const auto values = osbi::testing::host_values(rows);
  for (std::size_t i = 0; i < test.n; ++i) BOOST_TEST(close(values[i], test.nll(i), 1e-13));
}

BOOST_AUTO_TEST_CASE(unweighted_is_the_densitys_unweighted_backward_bit_for_bit) {
  LinearGaussianCase test(9);
  const Space space;
  test.density.zero_gradients(space);
  const double direct = osbi::nll_backward(test.density, space, test.theta, test.x);
  const auto direct_gradient = osbi::testing::host_values(test.density.gradients());
  test.density.zero_gradients(space);
  const double through_loss = osbi::NllLoss().value_and_gradient(test.density, space, test.batch(), rng);
  BOOST_TEST(through_loss == direct);
  BOOST_TEST(osbi::testing::host_values(test.density.gradients()) == direct_gradient, tt::per_element());
}

BOOST_AUTO_TEST_CASE(weighted_is_the_mean_of_weighted_terms_and_rows_stay_unweighted) {
  // L = (1/N) Σ w_i ℓ_i with signed weights (one zero, one negative): not self-normalized.
  LinearGaussianCase test(9);
  const Space space;
  const std::vector<double> weights = osbi::testing::signed_weights(test.n, 82);
  const auto [sum, gradient_sum] = test.combination(weights);
  osbi::NllLoss loss;
  BOOST_TEST(close(loss.value(test.density, space, test.batch(weights), rng), sum / test.n, 1e-12));
  test.density.zero_gradients(space);
  BOOST_TEST(close(loss.value_and_gradient(test.density, space, test.batch(weights), rng), sum / test.n, 1e-12));
  const auto gradient = osbi::testing::host_values(test.density.gradients());
  for (std::size_t k = 0; k < gradient.size(); ++k)
    BOOST_TEST(close(gradient[k], gradient_sum[k] / test.n, 1e-11));
  osbi::Vector<double, Space> rows("rows", test.n);
  loss.per_row(test.density, space, test.batch(weights), rng, rows);
  const auto values = osbi::testing::host_values(rows);
  for (std::size_t i = 0; i < test.n; ++i) BOOST_TEST(close(values[i], test.nll(i), 1e-13));
}

BOOST_AUTO_TEST_CASE(wrong_batches_are_rejected_before_any_work) {
  LinearGaussianCase test(5);
  const Space space;
  osbi::NllLoss loss;
  auto bad = test.batch();
  bad.x = osbi::Matrix<double, Space>("x", test.n, LinearGaussianCase::c + 1);
  BOOST_CHECK_THROW(loss.value(test.density, space, bad, rng), osbi::DimensionMismatch);
  bad = test.batch(std::vector<double>(test.n - 1, 1.0));
  test.density.zero_gradients(space);
  BOOST_CHECK_THROW(loss.value_and_gradient(test.density, space, bad, rng), osbi::DimensionMismatch);
  BOOST_TEST(osbi::testing::host_values(test.density.gradients()) == std::vector<double>(test.parameters.size(), 0.0),
             tt::per_element());
  auto empty = test.batch();
  empty.theta = osbi::Matrix<double, Space>("theta", 0, LinearGaussianCase::d);
  empty.x = osbi::Matrix<double, Space>("x", 0, LinearGaussianCase::c);
  BOOST_CHECK_THROW(loss.value(test.density, space, empty, rng), osbi::InvalidArgument);
  BOOST_CHECK_THROW(loss.value_and_gradient(test.density, space, empty, rng), osbi::InvalidArgument);
  osbi::Vector<double, Space> short_out("out", test.n - 1);
  BOOST_CHECK_THROW(loss.per_row(test.density, space, test.batch(), rng, short_out), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(check_loss_passes_on_linear_gaussian_and_the_archetype_density) {
  LinearGaussianCase test(16);
  osbi::NllLoss loss;
  auto report = osbi::testing::check_loss(loss, test.density, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  report = osbi::testing::check_loss(loss, test.density, test.batch(osbi::testing::signed_weights(test.n, 83)),
                                     osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  osbi::LinearGaussian<float, Space> in_float(2, 2);
  report = osbi::testing::check_loss(loss, in_float, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  osbi::testing::ConditionalDensityArchetype archetype(0.2);
  report = osbi::testing::check_loss(loss, archetype, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
