// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: satisfaction of .+Loss<LossType, EstimatorType>.+FlowMatchingLoss.+VarianceExploding.+loss\.value_and_gradient\(.+ is invalid
/// \brief Must not compile: flow matching trains a velocity field, not a score model (a diffusion estimator is no
/// VelocityModel: it has no flow_matching_loss), so training_step rejects the pair as not an osbi::Loss.
#include <osbi/diffusion/score_estimator.hpp>
#include <osbi/loss/flow_matching.hpp>
#include <osbi/train/step.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/optim/adam.hpp>

#include <Kokkos_Core.hpp>

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  using Space = osbi::DefaultExecutionSpace;
  osbi::ScoreEstimator<double, Space> estimator(2, 2);
  osbi::FlowMatchingLoss loss;
  osbi::optim::Adam<double, Space> optimizer(estimator.parameters().extent(0));
  const osbi::TrainingBatch<double, Space> batch;
  return static_cast<int>(osbi::training_step(estimator, loss, optimizer, Space(), batch, osbi::RandomStream(1).next()));
}
