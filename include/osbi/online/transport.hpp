// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Transport`: how a pipeline's simulations reach its trainers and how several trainers agree; InProcess (threads, one trainer) is the default.
#pragma once

#include <osbi/online/simulation_workers.hpp>
#include <osbi/train/gradient_reduction.hpp>

#include <concepts>
#include <vector>

namespace osbi::online {

/*
 * Transport — the policy that makes online::Pipeline run in one process or over MPI ranks with one code path (spec):
 *
 *   template <P, S, B> using workers_type   the simulation side as the pipeline drives it: SimulationWorkers<P, S, B>'s
 *                                          public members (start, stop, join, wait_for_warmup, warmup, validation_set,
 *                                          counts, failures, ...), constructed from (transport, proposal, simulator,
 *                                          buffer, options, instances) or, without the transport, as SimulationWorkers.
 *   using reduction_type                   the GradientReduction of every training step.
 *   t.reduction()                          one for the pipeline's trainer.
 *   t.trains()                             whether this process trains (a simulation-only rank does not).
 *   t.reports()                            whether this process writes the progress lines and the metrics file
 *                                          (one trainer does).
 *   t.any(flag)                            collective over the trainers: true if any trainer's flag is true. Every
 *                                          stop decision of the training loop goes through it, so all trainers stop
 *                                          at the same step.
 *   static constexpr bool checkpoints      whether checkpoint/resume work with this transport.
 */
template <class T>
concept Transport = requires(const T& transport, bool flag) {
  typename T::reduction_type;
  { transport.reduction() } -> std::same_as<typename T::reduction_type>;
  { transport.trains() } -> std::same_as<bool>;
  { transport.reports() } -> std::same_as<bool>;
  { transport.any(flag) } -> std::same_as<bool>;
  { T::checkpoints } -> std::convertible_to<bool>;
};

/// Threads in one process: the workers simulate beside the one trainer; nothing to agree on.
struct InProcess {
  template <class ProposalType, class SimulatorType, class Buffer>
  using workers_type = SimulationWorkers<ProposalType, SimulatorType, Buffer>;
  using reduction_type = LocalGradients;
  static constexpr bool checkpoints = true;

  reduction_type reduction() const { return {}; }
  bool trains() const { return true; }
  bool reports() const { return true; }
  bool any(bool flag) const { return flag; }
};

static_assert(Transport<InProcess>);

namespace detail {

/// Builds a transport's workers: with the transport as first argument if they take it.
template <class Workers, class TransportType, class... Args>
Workers make_workers(const TransportType& transport, Args&&... args) {
  if constexpr (std::is_constructible_v<Workers, const TransportType&, Args&&...>)
    return Workers(transport, std::forward<Args>(args)...);
  else
    return Workers(std::forward<Args>(args)...);
}

} // namespace detail

} // namespace osbi::online
