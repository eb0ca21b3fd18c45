// SPDX-License-Identifier: BSD-3-Clause
/// \brief Loss-driven sampling trained with importance weights: rows drawn from the prior and then from a Breed-like
/// proposal (LossDrivenProposal) centred on large θ, weighted by p/q̄ with q̄ the draw-weighted mixture of both versions
/// (ProposalMixture), fit the analytic posterior by WeightedNllLoss, where plain NLL on the same rows is biased.
#include <osbi/loss/nll.hpp>
#include <osbi/loss/weighted_nll.hpp>
#include <osbi/proposal/loss_driven.hpp>
#include <osbi/proposal/proposal_mixture.hpp>

#include <osbi/prior/gaussian.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <loss/loss_test_support.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace {

using osbi::loss_test::Space;
using Prior = osbi::Gaussian<double, Space>;

} // namespace

BOOST_AUTO_TEST_SUITE(loss_importance_weighted_nll)

// Prior N(0, 1), x = θ + 0.5·ε: the posterior is N(0.8·x, 0.2), inside q(θ | x) = N(W x + b, e^{2s}). 2 000 prior rows,
// then 6 000 from the proposal updated with the parent θ = 1.5 (10 % prior, kernel σ = 0.3): the rows follow
// q̄ = 0.325 N(0, 1) + 0.675 N(1.5, 0.3²), for which plain NLL's least-squares fit has b = E θ·(1 − W) ≈ 0.22 (W ≈ 0.78).
// With weights p/q̄ the fit recovers the posterior; the weights' effective sample size (printed) is a few thousand
// rows, so W and b carry standard errors near 0.02: tolerances 0.08 on W and b, 20 % on the variance.
BOOST_AUTO_TEST_CASE(weighted_by_the_mixture_of_proposals_loss_driven_rows_fit_the_posterior,
                     *boost::unit_test::label("statistical")) {
  const Space space;
  const Prior prior = Prior::diagonal({0.0}, {1.0});
  osbi::LossDrivenProposal<Prior> proposal(prior, {.prior_fraction = 0.1, .kernel_width = 0.3, .parents = 1});
  osbi::ProposalMixture<osbi::LossDrivenProposal<Prior>> mixture;
  const std::size_t first = 2'000, second = 6'000, n = first + second;
  osbi::Matrix<double, Space> head("head", first, 1), tail("tail", second, 1), theta("theta", n, 1);
  osbi::RandomStream rng(osbi::testing::test_seed(), 31);
  mixture.add(proposal.snapshot(), first);
  proposal.sample(space, rng.next(), head);
  proposal.update({0.0, 1.5, 2.0, -1.0}, {0.1, 3.0, 2.0, 0.5});
  mixture.add(proposal.snapshot(), second);
  proposal.sample(space, rng.next(), tail);
  const auto head_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), head);
  const auto tail_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), tail);
  std::vector<double> theta_values(n), x_values(n);
  const osbi::BatchRandom noise = rng.next();
  for (std::size_t i = 0; i < n; ++i) {
    theta_values[i] = i < first ? head_host(i, 0) : tail_host(i - first, 0);
    osbi::RowRandom row = noise.row(i);
    x_values[i] = theta_values[i] + 0.5 * row.normal();
  }
  Kokkos::deep_copy(theta, osbi::testing::device_matrix<double>(theta_values, n, 1));
  const std::vector<double> weights = mixture.importance_weights(prior, space, theta);
  double sum = 0, square = 0, mean = 0;
  for (std::size_t i = 0; i < n; ++i) sum += weights[i], square += weights[i] * weights[i], mean += theta_values[i];
  BOOST_TEST_MESSAGE("mean θ of the rows " << mean / n << ", effective sample size " << sum * sum / square << " of " << n);
  BOOST_TEST(mean / n > 0.5); // the rows do lean to large θ

  const auto weighted = osbi::loss_test::fit_scalar_linear_gaussian(osbi::WeightedNllLoss(), theta_values, x_values, weights,
                                                                    osbi::testing::test_seed());
  const auto plain = osbi::loss_test::fit_scalar_linear_gaussian(osbi::NllLoss(), theta_values, x_values, {}, osbi::testing::test_seed());
  BOOST_REQUIRE(weighted.size() == 3u);
  BOOST_REQUIRE(plain.size() == 3u);
  BOOST_TEST_MESSAGE("weighted: W " << weighted[0] << " b " << weighted[1] << " var " << std::exp(2 * weighted[2]) << "; plain: W "
                                    << plain[0] << " b " << plain[1] << " var " << std::exp(2 * plain[2]));
  BOOST_TEST(std::abs(weighted[0] - 0.8) < 0.08);
  BOOST_TEST(std::abs(weighted[1]) < 0.08);
  BOOST_TEST(std::abs(std::exp(2 * weighted[2]) / 0.2 - 1) < 0.2);
  BOOST_TEST(plain[1] > 0.12); // the bias the weights remove
}

BOOST_AUTO_TEST_SUITE_END()
