// SPDX-License-Identifier: BSD-3-Clause
/// \brief EstimatorSpacePrior: a box prior seen through the Posterior's logit transform is the logistic density
/// log σ(u) + log(1 − σ(u)) − nothing else (the box's width cancels against the Jacobian); with `reject` it is the box's
/// own density; an unbounded prior is itself; a prior on another execution space gives the same values.
#include <osbi/inference/estimator_space_prior.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/loss/atomic_apt.hpp>

#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Density = osbi::LinearGaussian<double, Space>;

const std::vector<double> u_values{-7.5, -1.0, 0.0, 0.25, 3.0, 12.0}; // 3 rows × 2 columns

double log_logistic(double u) { return -std::log1p(std::exp(-u)) - std::log1p(std::exp(u)); }

std::vector<double> evaluate(const auto& prior) {
  osbi::Vector<double, Space> out("out", 3);
  prior.log_prob(Space(), osbi::testing::device_matrix<double>(u_values, 3, 2), out);
  return osbi::testing::host_values(out);
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_estimator_space_prior)

BOOST_AUTO_TEST_CASE(a_box_through_the_logit_transform_is_the_logistic_density) {
  const osbi::BoxUniform<double, Space> box({-2.0, 0.0}, {3.0, 0.5});
  const osbi::Posterior posterior(Density(2, 1), box);
  const auto prior = osbi::estimator_space_prior(posterior, box);
  static_assert(osbi::PriorDensityOn<std::decay_t<decltype(prior)>, double, Space>);
  static_assert(osbi::Loss<osbi::AtomicAptLoss<std::decay_t<decltype(prior)>>, Density>);
  BOOST_TEST(prior.dim() == 2u);
  const auto values = evaluate(prior);
  for (std::size_t i = 0; i < 3; ++i) {
    const double expected = log_logistic(u_values[2 * i]) + log_logistic(u_values[2 * i + 1]);
    BOOST_TEST(std::abs(values[i] - expected) < 1e-9 * (1 + std::abs(expected)), "row " << i << ": " << values[i] << " vs " << expected);
  }
}

BOOST_AUTO_TEST_CASE(with_reject_or_an_unbounded_prior_it_is_the_prior_itself) {
  const osbi::BoxUniform<double, Space> box({-2.0, -1.0}, {3.0, 13.0});
  osbi::PosteriorOptions reject;
  reject.bounded_support = osbi::BoundedSupport::reject;
  const osbi::Posterior rejecting(Density(2, 1), box, reject);
  const auto values = evaluate(osbi::estimator_space_prior(rejecting, box));
  const double inside = -std::log(5.0) - std::log(14.0);
  BOOST_TEST(values[0] == -HUGE_VAL); // u = θ = −7.5 lies outside [−2, 3]
  BOOST_TEST(std::abs(values[1] - inside) < 1e-12);
  BOOST_TEST(std::abs(values[2] - inside) < 1e-12);

  const auto gaussian = osbi::Gaussian<double, Space>::diagonal({0.0, 1.0}, {1.0, 2.0});
  const osbi::Posterior unbounded(Density(2, 1), gaussian);
  const auto direct = evaluate(gaussian);
  BOOST_TEST(evaluate(osbi::estimator_space_prior(unbounded, gaussian)) == direct, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_prior_on_the_serial_space_gives_the_same_values) {
  const osbi::BoxUniform<double, Space> box({-2.0, 0.0}, {3.0, 0.5});
  const osbi::BoxUniform<double, Kokkos::Serial> serial_box({-2.0, 0.0}, {3.0, 0.5});
  const osbi::Posterior posterior(Density(2, 1), box);
  BOOST_TEST(evaluate(osbi::estimator_space_prior(posterior, serial_box)) == evaluate(osbi::estimator_space_prior(posterior, box)),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_prior_of_another_dimension_is_refused) {
  const osbi::BoxUniform<double, Space> box({-2.0, 0.0}, {3.0, 0.5});
  const osbi::BoxUniform<double, Space> wider({-2.0, 0.0, 0.0}, {3.0, 0.5, 1.0});
  const osbi::Posterior posterior(Density(2, 1), box);
  BOOST_CHECK_THROW(osbi::estimator_space_prior(posterior, wider), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_SUITE_END()
