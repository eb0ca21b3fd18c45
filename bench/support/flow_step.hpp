// SPDX-License-Identifier: BSD-3-Clause
/// \brief A flow's NPE training-step throughput on any space, as ../shared/bench/peer_torch_npe.py --sections
/// throughput and bench/npe/peer_sbi_npe.py time it (bench/npe on the host, bench/gpu on a device).
#pragma once

#include <support/kernel_profile.hpp>
#include <support/timing.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/train/step.hpp>

#include <Kokkos_Core.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace osbi::bench {

/// The flows bench/npe times: sbi's MAF and NSF defaults, and the NSF behind the conditional affine map (the library's
/// NPE default on sbibm).
enum class StepFlow { maf, nsf, centered_nsf };

inline std::string flow_name(StepFlow flow) {
  switch (flow) {
  case StepFlow::maf: return "maf";
  case StepFlow::nsf: return "nsf";
  case StepFlow::centered_nsf: return "centered_nsf";
  }
  return "?";
}

/// What one timed run of the step yields: samples per second, and with profile_steps > 0 the kernels' totals
/// over that many further steps.
struct StepTiming {
  double samples_per_second = 0;
  ProfiledCalls profile; // empty when profile_steps is 0
};

namespace detail {

template <class Space, class Task, class Flow>
StepTiming flow_step_timing(const Task& task, Flow flow, std::size_t simulations, std::size_t batch, double min_seconds,
                            int repeats, int warmup, std::size_t profile_steps) {
  Space space;
  osbi::Matrix<float, Space> theta("theta", simulations, task.theta_dim()), x("x", simulations, task.x_dim());
  osbi::RandomStream rng(0);
  task.prior().sample(space, rng.next(), theta);
  task.simulate(space, theta, x, rng.next());
  osbi::RunningMoments<float, Space> theta_moments(task.theta_dim()), x_moments(task.x_dim());
  theta_moments.update(space, theta);
  x_moments.update(space, x);
  flow.set_standardization(theta_moments.mean(), theta_moments.standard_deviation(), x_moments.mean(),
                           x_moments.standard_deviation());
  if constexpr (requires { flow.initialize_from_data(space, theta, x); }) flow.initialize_from_data(space, theta, x);
  osbi::optim::Adam<float, Space> adam(flow.parameter_count());
  osbi::NllLoss loss;
  const std::size_t batches = simulations / batch;
  std::size_t step = 0;
  const auto one_step = [&] {
    const std::size_t b = step++ % batches;
    const auto rows = std::make_pair(b * batch, (b + 1) * batch);
    osbi::TrainingBatch<float, Space> rows_batch;
    rows_batch.theta = Kokkos::subview(theta, rows, Kokkos::ALL);
    rows_batch.x = Kokkos::subview(x, rows, Kokkos::ALL);
    osbi::training_step(flow, loss, adam, space, rows_batch, osbi::RandomStream(0).at(step));
    space.fence();
  };
  StepTiming out;
  out.samples_per_second = static_cast<double>(batch) / seconds_per_call(one_step, min_seconds, repeats, warmup);
  if (profile_steps > 0) out.profile = profile_calls(one_step, profile_steps);
  return out;
}

template <class Space, class Task, class Flow>
double flow_step_samples_per_second(const Task& task, Flow flow, std::size_t simulations, std::size_t batch,
                                    double min_seconds, int repeats, int warmup) {
  return flow_step_timing<Space>(task, std::move(flow), simulations, batch, min_seconds, repeats, warmup, 0).samples_per_second;
}

} // namespace detail

/// As flow_step_samples_per_second, then `profile_steps` more steps under KernelProfile.
template <class Space, class Task>
StepTiming flow_step_timing(StepFlow flow, const Task& task, std::size_t simulations, std::size_t batch, double min_seconds,
                            int repeats, int warmup, std::size_t profile_steps) {
  const std::size_t d = task.theta_dim(), c = task.x_dim();
  switch (flow) {
  case StepFlow::maf:
    return detail::flow_step_timing<Space>(task, osbi::sbi_default_maf<float, Space>(d, c, 0), simulations, batch, min_seconds,
                                           repeats, warmup, profile_steps);
  case StepFlow::nsf:
    return detail::flow_step_timing<Space>(task, osbi::sbi_default_nsf<float, Space>(d, c, 0), simulations, batch, min_seconds,
                                           repeats, warmup, profile_steps);
  case StepFlow::centered_nsf:
    return detail::flow_step_timing<Space>(task, osbi::centered_nsf<float, Space>(d, c, 0), simulations, batch, min_seconds,
                                           repeats, warmup, profile_steps);
  }
  return {};
}

/// Samples per second of the library's one training step (zero → NLL backward → clip at 5 → Adam) for a fresh
/// `flow` (seed 0) over `simulations` draws of `task` (seed 0, z-scored by their moments; the centered NSF also
/// starts from its data fit), stepping through pre-shuffled contiguous batches of `batch` rows. Timing as
/// seconds_per_call.
template <class Space, class Task>
double flow_step_samples_per_second(StepFlow flow, const Task& task, std::size_t simulations, std::size_t batch,
                                    double min_seconds, int repeats, int warmup) {
  return flow_step_timing<Space>(flow, task, simulations, batch, min_seconds, repeats, warmup, 0).samples_per_second;
}

/// The sbi-default MAF's step (bench/gpu).
template <class Space, class Task>
double maf_step_samples_per_second(const Task& task, std::size_t simulations, std::size_t batch, double min_seconds,
                                   int repeats, int warmup) {
  // The MAF alone: bench/gpu instantiates this for a device space, where the other flows are not needed.
  auto maf = osbi::sbi_default_maf<float, Space>(task.theta_dim(), task.x_dim(), 0);
  return detail::flow_step_samples_per_second<Space>(task, std::move(maf), simulations, batch, min_seconds, repeats,
                                                     warmup);
}

} // namespace osbi::bench
