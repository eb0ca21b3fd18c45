// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: satisfaction of .+Loss<LossType, EstimatorType>.+required expression .+loss\.per_row\(.+ is invalid
/// \brief Must not compile: a loss without per_row is not an osbi::Loss, so training_step rejects it.
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/train/step.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/optim/adam.hpp>

#include <Kokkos_Core.hpp>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Estimator = osbi::testing::EstimatorArchetype;

// A training value and a validation value, but no per-row values (what a prioritized buffer samples by).
struct LossWithoutPerRow {
  double value_and_gradient(Estimator&, const Space&, const osbi::TrainingBatch<double, Space>&, osbi::BatchRandom) {
    return 0.0;
  }
  double value(Estimator&, const Space&, const osbi::TrainingBatch<double, Space>&, osbi::BatchRandom) { return 0.0; }
};

} // namespace

int main() {
  Estimator estimator(0.0);
  LossWithoutPerRow loss;
  osbi::optim::Adam<double, Space> optimizer(1);
  const osbi::TrainingBatch<double, Space> batch;
  return static_cast<int>(osbi::training_step(estimator, loss, optimizer, Space(), batch, osbi::RandomStream(1).next()));
}
