// SPDX-License-Identifier: BSD-3-Clause
/// \brief The sbi-default MAF training step's throughput on any space, as ../shared/bench/peer_torch_npe.py
/// --sections throughput times it (bench/npe on the host, bench/gpu on a device).
#pragma once

#include <support/timing.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/train/step.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <utility>

namespace osbi::bench {

/// Samples per second of the library's one training step (zero → NLL backward → clip at 5 → Adam)
/// for a fresh sbi-default MAF over `simulations` draws of `task` (seed 0, z-scored by their
/// moments), stepping through pre-shuffled contiguous batches of `batch` rows. Timing as
/// seconds_per_call.
template <class Space, class Task>
double maf_step_samples_per_second(const Task& task, std::size_t simulations, std::size_t batch, double min_seconds,
                                   int repeats, int warmup) {
  Space space;
  osbi::Matrix<float, Space> theta("theta", simulations, task.theta_dim()), x("x", simulations, task.x_dim());
  osbi::RandomStream rng(0);
  task.prior().sample(space, rng.next(), theta);
  task.simulate(space, theta, x, rng.next());
  osbi::RunningMoments<float, Space> theta_moments(task.theta_dim()), x_moments(task.x_dim());
  theta_moments.update(space, theta);
  x_moments.update(space, x);
  auto maf = osbi::sbi_default_maf<float, Space>(task.theta_dim(), task.x_dim(), 0);
  maf.set_standardization(theta_moments.mean(), theta_moments.standard_deviation(), x_moments.mean(),
                          x_moments.standard_deviation());
  osbi::optim::Adam<float, Space> adam(maf.parameter_count());
  osbi::NllLoss loss;
  const std::size_t batches = simulations / batch;
  std::size_t step = 0;
  const double seconds = seconds_per_call(
      [&] {
        const std::size_t b = step++ % batches;
        const auto rows = std::make_pair(b * batch, (b + 1) * batch);
        osbi::TrainingBatch<float, Space> rows_batch;
        rows_batch.theta = Kokkos::subview(theta, rows, Kokkos::ALL);
        rows_batch.x = Kokkos::subview(x, rows, Kokkos::ALL);
        osbi::training_step(maf, loss, adam, space, rows_batch, osbi::RandomStream(0).at(step));
        space.fence();
      },
      min_seconds, repeats, warmup);
  return static_cast<double>(batch) / seconds;
}

} // namespace osbi::bench
