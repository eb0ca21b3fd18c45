// SPDX-License-Identifier: BSD-3-Clause
/// \brief ParameterAverage: an exponential moving average of the parameters over optimizer steps (Polyak
/// averaging), swapped into the estimator for validation and kept as the result.
#pragma once

#include <osbi/train/early_stopping.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace osbi {

/*
 * ParameterAverage<Scalar, ExecutionSpace> — ā ← d_t·ā + (1 − d_t)·θ after every optimizer step, with
 * d_t = min(decay, (1 + t)/(10 + t)) for the t-th update (t = 1, 2, …): the warm-up keeps the first steps from
 * being pulled back to the initial parameters (the ramp of TensorFlow's ExponentialMovingAverage), so ā follows θ
 * closely at first and averages over ~1/(1 − decay) steps later.
 *
 * Why: the stochastic losses of flow matching and score matching (a random time and noise per row) leave the
 * parameters wandering around their optimum at the learning rate's scale; the average sits nearer to it. Score and
 * flow-matching models are customarily evaluated with such an average (Song et al. 2021; Karras et al. 2022).
 *
 *   update(space, θ)   after a step;
 *   swap_in(space, θ)  θ is kept aside and replaced by ā (to validate, to keep as best);
 *   swap_out(space, θ) θ back as it was before swap_in;
 *   restart(space, θ)  ā = θ (after early stopping restored its best parameters: training goes on from there);
 *   load(space, ā, t)  a checkpoint's average and update count.
 *
 * decay 0 disables it (every call is then a no-op: `enabled()` is false). Throws InvalidArgument unless decay ∈ [0, 1).
 */
template <class Scalar, class ExecutionSpace>
class ParameterAverage {
public:
  ParameterAverage(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& parameters, double decay)
      : m_decay(decay) {
    require(decay >= 0.0 && decay < 1.0, part, "decay = ", decay, " must be in [0, 1) (0: no averaging)");
    if (!enabled()) return;
    m_average = Vector<Scalar, ExecutionSpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("train", "ParameterAverage", "average")),
                                               parameters.extent(0));
    m_held = Vector<Scalar, ExecutionSpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("train", "ParameterAverage", "held")),
                                            parameters.extent(0));
    detail::copy_parameters(space, m_average, parameters);
  }

  bool enabled() const { return m_decay > 0.0; }
  double decay() const { return m_decay; }
  std::uint64_t updates() const { return m_updates; }
  /// The weight d_t the next update gives the old average.
  double next_weight() const {
    const double t = static_cast<double>(m_updates + 1);
    return std::min(m_decay, (1.0 + t) / (10.0 + t));
  }
  /// ā (a handle; while swapped in, it is also what the estimator holds).
  ConstVector<Scalar, ExecutionSpace> average() const { return m_average; }

  void update(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& parameters) {
    if (!enabled()) return;
    require(!m_swapped, part, "update while the average is swapped in");
    require_extent(parameters.extent(0), m_average.extent(0), part, "update: the parameter vector");
    const Scalar keep = static_cast<Scalar>(next_weight());
    const Vector<Scalar, ExecutionSpace> average = m_average;
    Kokkos::parallel_for(
        "osbi::train::ParameterAverage::update", Kokkos::RangePolicy<ExecutionSpace>(space, 0, average.extent(0)),
        KOKKOS_LAMBDA(const std::size_t k) { average(k) = keep * average(k) + (Scalar(1) - keep) * parameters(k); });
    ++m_updates;
  }

  void swap_in(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& parameters) {
    if (!enabled()) return;
    require(!m_swapped, part, "swap_in twice");
    require_extent(parameters.extent(0), m_average.extent(0), part, "swap_in: the parameter vector");
    detail::copy_parameters(space, m_held, ConstVector<Scalar, ExecutionSpace>(parameters));
    detail::copy_parameters(space, parameters, ConstVector<Scalar, ExecutionSpace>(m_average));
    m_swapped = true;
  }

  void swap_out(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& parameters) {
    if (!enabled()) return;
    require(m_swapped, part, "swap_out without swap_in");
    detail::copy_parameters(space, parameters, ConstVector<Scalar, ExecutionSpace>(m_held));
    m_swapped = false;
  }

  /// ā = `average` after `updates` updates (a checkpoint's), so the next update weighs it as the uninterrupted run would.
  void load(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& average, std::uint64_t updates) {
    if (!enabled()) return;
    require(!m_swapped, part, "load while the average is swapped in");
    require_extent(average.extent(0), m_average.extent(0), part, "load: the average's size");
    detail::copy_parameters(space, m_average, average);
    m_updates = updates;
  }

  /// ā = θ (and θ stays: the parameters early stopping restored are where training and its average go on from).
  void restart(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& parameters) {
    if (!enabled()) return;
    require_extent(parameters.extent(0), m_average.extent(0), part, "restart: the parameter vector");
    detail::copy_parameters(space, m_average, parameters);
    m_swapped = false;
  }

private:
  static constexpr const char* part = "osbi::ParameterAverage";
  double m_decay;
  std::uint64_t m_updates = 0;
  bool m_swapped = false;
  Vector<Scalar, ExecutionSpace> m_average, m_held;
};

/// The decay train() uses when TrainingOptions::parameter_average_decay is unset: what the estimator type declares as
/// `static constexpr double default_parameter_average_decay`, else 0 (no averaging: sbi's recipe).
template <class EstimatorType>
constexpr double default_parameter_average_decay() {
  if constexpr (requires { EstimatorType::default_parameter_average_decay; })
    return static_cast<double>(EstimatorType::default_parameter_average_decay);
  else
    return 0.0;
}

} // namespace osbi
