// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: satisfaction of .+Estimator<EstimatorType>.+required expression .+estimator\.zero_gradients\(space\).+ is invalid
/// \brief Must not compile: an estimator without zero_gradients() is not an osbi::Estimator, so training_step rejects it.
#include <osbi/testing/loss_archetype.hpp>
#include <osbi/train/step.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/optim/adam.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace {

using Space = osbi::DefaultExecutionSpace;

// Everything an Estimator needs except zero_gradients(space): the training step could not clear its gradients.
struct EstimatorWithoutZeroGradients {
  using scalar_type = double;
  using execution_space = Space;
  std::size_t theta_dim() const { return 1; }
  std::size_t context_dim() const { return 1; }
  osbi::Vector<double, Space> parameters() { return m_parameters; }
  osbi::Vector<double, Space> gradients() { return m_gradients; }
  void sample(const Space&, const osbi::ConstMatrix<double, Space>&, osbi::BatchRandom,
              const osbi::Matrix<double, Space>&) {}
  void sample(const Space&, const osbi::ConstMatrix<double, Space>&, std::size_t, osbi::BatchRandom,
              const osbi::Matrix<double, Space>&) {}
  osbi::Vector<double, Space> m_parameters, m_gradients;
};

} // namespace

int main() {
  EstimatorWithoutZeroGradients estimator;
  osbi::testing::LossArchetype loss(0.0);
  osbi::optim::Adam<double, Space> optimizer(1);
  const osbi::TrainingBatch<double, Space> batch;
  return static_cast<int>(osbi::training_step(estimator, loss, optimizer, Space(), batch, osbi::RandomStream(1).next()));
}
