// SPDX-License-Identifier: BSD-3-Clause
/// \brief ProposalHistory: versions are kept once per round and stay frozen; row counts add up exactly (also from
/// several threads at once) and never go below 0; its mixture is the row-weighted density of the versions, either
/// over all rows counted or over a given set of rows' rounds; unknown rounds are refused.
#include <osbi/proposal/loss_driven.hpp>
#include <osbi/proposal/proposal_history.hpp>

#include <osbi/prior/box_uniform.hpp>
#include <osbi/proposal/truncated_prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Prior = osbi::BoxUniform<double, Space>;
using Breed = osbi::LossDrivenProposal<Prior>;

static_assert(osbi::SnapshotProposal<Breed>);
static_assert(!osbi::SnapshotProposal<Prior>);                      // not versioned
static_assert(!osbi::SnapshotProposal<osbi::TruncatedPrior<Prior>>); // versioned, no snapshot()

Prior unit_square() { return Prior({0.0, 0.0}, {1.0, 1.0}); }

/// Parents (0.02, 0.5) and (0.7, 0.97): the two highest of four finite losses.
void move(Breed& proposal) {
  proposal.update({0.5, 0.5, 0.02, 0.5, 0.3, 0.3, 0.7, 0.97}, {1.0, 5.0, 0.5, 4.0});
}

double log_prob_at(const auto& density, double a, double b) {
  osbi::Matrix<double, Space> theta("theta", 1, 2);
  theta(0, 0) = a, theta(0, 1) = b;
  osbi::Vector<double, Space> out("out", 1);
  density.log_prob(Space(), theta, out);
  return out(0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(prior_proposal_history)

BOOST_AUTO_TEST_CASE(versions_are_kept_once_per_round_and_counts_add_up) {
  Breed proposal(unit_square(), {.prior_fraction = 0.2, .parents = 2});
  osbi::ProposalHistory<Breed> history;
  BOOST_TEST(!history.knows(0));
  BOOST_CHECK_THROW(history.count(0, 1), osbi::InvalidArgument); // rows of a version never noted
  history.note(proposal.snapshot());
  move(proposal);
  history.note(proposal.snapshot());
  history.note(proposal.snapshot()); // the same round again: ignored
  BOOST_TEST(history.knows(0));
  BOOST_TEST(history.knows(1));
  BOOST_TEST(!history.knows(2));
  history.count(0, 3);
  history.count(1, 5);
  history.count(1, -1); // a row the buffer refused
  BOOST_CHECK_THROW(history.count(0, -4), osbi::InvalidArgument);
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{{0, 3}, {1, 4}};
  BOOST_TEST((history.draws() == expected));
}

BOOST_AUTO_TEST_CASE(counts_from_several_threads_are_exact) {
  Breed proposal(unit_square());
  osbi::ProposalHistory<Breed> history;
  history.note(proposal.snapshot());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        history.count(0, 2);
        history.count(0, -1);
      }
    });
  for (auto& thread : threads) thread.join();
  BOOST_TEST(history.draws().front().second == 40'000u);
}

BOOST_AUTO_TEST_CASE(the_mixture_weights_each_frozen_version_by_its_rows) {
  Breed proposal(unit_square(), {.prior_fraction = 0.2, .parents = 2});
  osbi::ProposalHistory<Breed> history;
  history.note(proposal.snapshot()); // round 0: the prior (density 1 on the square)
  move(proposal);
  const double q1 = std::exp(log_prob_at(proposal, 0.05, 0.45));
  history.note(proposal.snapshot());
  move(proposal); // round 2 moves the live proposal on, but is never noted: the history keeps round 1 as it was
  history.count(0, 1'000);
  history.count(1, 3'000);
  BOOST_TEST(std::abs(log_prob_at(history.mixture(), 0.05, 0.45) - std::log(0.25 + 0.75 * q1)) < 1e-12);
  // Over a given set of rounds (three rows of round 1, one of round 0), whatever the counts say.
  BOOST_TEST(std::abs(log_prob_at(history.mixture({1, 0, 1, 1}), 0.05, 0.45) - std::log(0.25 + 0.75 * q1)) < 1e-12);
  BOOST_TEST(std::abs(log_prob_at(history.mixture({1}), 0.05, 0.45) - std::log(q1)) < 1e-12);
  BOOST_CHECK_THROW(history.mixture({0, 2}), osbi::InvalidArgument);
  // A version with no rows is not a component.
  osbi::ProposalHistory<Breed> partial;
  partial.note(Breed(unit_square()).snapshot());
  partial.note(proposal.snapshot());
  partial.count(2, 7);
  BOOST_TEST(partial.mixture().components() == 1u);
  BOOST_TEST(partial.mixture().total_draws() == 7u);
}

BOOST_AUTO_TEST_SUITE_END()
