// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: satisfaction of .+Proposal<ProposalType>.+required expression .+\.log_prob\(space, theta, out\).+ is invalid
/// \brief Must not compile: a sampler without log_prob is not an osbi::Proposal (a loss could not correct for it), so
/// NPE rejects it.
#include <osbi/inference/npe.hpp>
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/prior_archetype.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/simulator/simulator.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace {

using Space = osbi::DefaultExecutionSpace;

struct Simulator {
  using scalar_type = double;
  using execution_space = Space;
  std::size_t theta_dim() const { return 1; }
  std::size_t x_dim() const { return 1; }
  void simulate(const Space&, const osbi::ConstMatrix<double, Space>&, const osbi::Matrix<double, Space>&,
                osbi::BatchRandom) {}
};

// dim() and sample, but no log_prob: the batches could not carry the proposal's log density.
struct ProposalWithoutLogProb {
  using scalar_type = double;
  using execution_space = Space;
  std::size_t dim() const { return 1; }
  void sample(const Space&, osbi::BatchRandom, const osbi::Matrix<double, Space>&) const {}
};

} // namespace

int main() {
  using Npe = osbi::NPE<osbi::testing::PriorArchetype, Simulator, osbi::testing::EstimatorArchetype, ProposalWithoutLogProb>;
  Npe npe(osbi::testing::PriorArchetype{}, ProposalWithoutLogProb{}, Simulator{}, osbi::testing::EstimatorArchetype(0.0));
  return static_cast<int>(npe.theta_dim());
}
