// SPDX-License-Identifier: BSD-3-Clause
/// \brief Learning-rate schedules: small value types mapping a step index to a rate (PyTorch's closed forms), and ReduceOnPlateau.
#pragma once

#include <osbi/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string_view>

namespace osbi::optim {

/*
 * LearningRateSchedule — schedule(step) is the learning rate of optimizer step `step`, counted from
 * 0 (the first step uses schedule(0)): call optimizer.set_learning_rate(schedule(optimizer.step_count()))
 * before optimizer.step(...). A pure function of the step for every type here but ReduceOnPlateau,
 * whose rate moves only when it observes a metric (it then ignores `step`).
 */
template <class S>
concept LearningRateSchedule = std::copy_constructible<S> && requires(const S& schedule, std::size_t step) {
  { schedule(step) } -> std::convertible_to<double>;
};

namespace detail {

inline void check_learning_rate(std::string_view part, double learning_rate) {
  require(std::isfinite(learning_rate) && learning_rate > 0.0, part, "learning_rate = ", learning_rate,
          " must be finite and > 0");
}

} // namespace detail

/// The same rate at every step.
class Constant {
public:
  explicit Constant(double learning_rate) : m_learning_rate(learning_rate) {
    detail::check_learning_rate("Constant", learning_rate);
  }
  double operator()(std::size_t) const { return m_learning_rate; }

private:
  double m_learning_rate;
};

/// lr · γ^⌊step / step_size⌋ (torch.optim.lr_scheduler.StepLR). step_size >= 1, γ finite and > 0.
class StepDecay {
public:
  StepDecay(double learning_rate, std::size_t step_size, double gamma = 0.1)
      : m_learning_rate(learning_rate), m_step_size(step_size), m_gamma(gamma) {
    detail::check_learning_rate("osbi::optim::StepDecay", learning_rate);
    require(step_size >= 1, "osbi::optim::StepDecay", "step_size = ", step_size, " must be >= 1");
    require(std::isfinite(gamma) && gamma > 0.0, "osbi::optim::StepDecay", "gamma = ", gamma, " must be finite and > 0");
  }
  double operator()(std::size_t step) const {
    return m_learning_rate * std::pow(m_gamma, static_cast<double>(step / m_step_size));
  }

private:
  double m_learning_rate;
  std::size_t m_step_size;
  double m_gamma;
};

/// lr · γ^step (torch.optim.lr_scheduler.ExponentialLR). γ finite and > 0.
class ExponentialDecay {
public:
  ExponentialDecay(double learning_rate, double gamma) : m_learning_rate(learning_rate), m_gamma(gamma) {
    detail::check_learning_rate("osbi::optim::ExponentialDecay", learning_rate);
    require(std::isfinite(gamma) && gamma > 0.0, "osbi::optim::ExponentialDecay", "gamma = ", gamma, " must be finite and > 0");
  }
  double operator()(std::size_t step) const { return m_learning_rate * std::pow(m_gamma, static_cast<double>(step)); }

private:
  double m_learning_rate;
  double m_gamma;
};

/*
 * Cosine annealing from lr to minimum over total_steps, optionally after a linear warm-up of W steps:
 *
 *   step < W:               lr · (f + (1 − f) · step / W)                       (LinearLR, start_factor f)
 *   W <= step < total:      min + (lr − min) · (1 + cos(π · (step − W) / (total − W))) / 2
 *   step >= total:          min                               (PyTorch's CosineAnnealingLR would rise again)
 *
 * Without warm-up this is the closed form of torch.optim.lr_scheduler.CosineAnnealingLR(T_max = total,
 * eta_min = min); with it, SequentialLR([LinearLR(f, total_iters=W), CosineAnnealingLR(total − W, min)],
 * milestones=[W]). Build as CosineAnnealing(1e-3, 10000).with_warmup(500).
 */
class CosineAnnealing {
public:
  CosineAnnealing(double learning_rate, std::size_t total_steps, double minimum_learning_rate = 0.0)
      : m_learning_rate(learning_rate), m_minimum(minimum_learning_rate), m_total_steps(total_steps) {
    detail::check_learning_rate("osbi::optim::CosineAnnealing", learning_rate);
    require(total_steps >= 1, "osbi::optim::CosineAnnealing", "total_steps = ", total_steps, " must be >= 1");
    require(minimum_learning_rate >= 0.0 && minimum_learning_rate <= learning_rate, "osbi::optim::CosineAnnealing",
            "minimum_learning_rate = ", minimum_learning_rate, " must be in [0, learning_rate = ", learning_rate, "]");
  }

  /// The same schedule with a linear warm-up over the first `warmup_steps` (<= total_steps) steps,
  /// starting at start_factor · lr, start_factor in (0, 1].
  CosineAnnealing with_warmup(std::size_t warmup_steps, double start_factor = 0.1) const {
    require(warmup_steps <= m_total_steps, "osbi::optim::CosineAnnealing", "warmup_steps = ", warmup_steps,
            " must be <= total_steps = ", m_total_steps);
    require(start_factor > 0.0 && start_factor <= 1.0, "osbi::optim::CosineAnnealing", "start_factor = ", start_factor,
            " must be in (0, 1]");
    CosineAnnealing copy = *this;
    copy.m_warmup_steps = warmup_steps;
    copy.m_start_factor = start_factor;
    return copy;
  }

  double operator()(std::size_t step) const {
    if (step < m_warmup_steps)
      return m_learning_rate * (m_start_factor + (1.0 - m_start_factor) * static_cast<double>(step) /
                                                     static_cast<double>(m_warmup_steps));
    if (step >= m_total_steps) return m_minimum;
    const double progress =
        static_cast<double>(step - m_warmup_steps) / static_cast<double>(m_total_steps - m_warmup_steps);
    return m_minimum + (m_learning_rate - m_minimum) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
  }

private:
  double m_learning_rate;
  double m_minimum;
  std::size_t m_total_steps;
  std::size_t m_warmup_steps = 0;
  double m_start_factor = 1.0;
};

/// Whether ReduceOnPlateau's metric should fall (a loss) or rise (an accuracy).
enum class PlateauMode { min, max };
/// Whether an improvement must beat best·(1 ∓ threshold) (relative) or best ∓ threshold (absolute).
enum class ThresholdMode { relative, absolute };

/// torch.optim.lr_scheduler.ReduceLROnPlateau's arguments, with its defaults.
struct ReduceOnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  double factor = 0.1;
  std::uint64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::relative;
  std::uint64_t cooldown = 0;
  double minimum_learning_rate = 0.0;
  double eps = 1e-8; ///< a reduction smaller than this is skipped
};

/*
 * ReduceOnPlateau — torch.optim.lr_scheduler.ReduceLROnPlateau, step for step. observe(metric) is
 * PyTorch's scheduler.step(metric): if the metric improves on the best so far (by `threshold`, see
 * ThresholdMode) it becomes the best and the bad-step count resets, else the count grows; during a
 * cooldown the count is held at 0; when the count exceeds `patience` the rate becomes
 * max(lr·factor, minimum) (unless that changes it by less than eps), the cooldown starts and the count
 * resets. A NaN metric is never an improvement (as in PyTorch). The rate it returns is for the
 * following optimizer steps; operator()(step) returns the current rate whatever the step. Its whole
 * state is State (five numbers), which checkpoints store.
 */
class ReduceOnPlateau {
public:
  struct State {
    double learning_rate = 0.0;
    double best = 0.0;                  ///< ±inf before the first observation
    std::uint64_t bad_steps = 0;        ///< PyTorch's num_bad_epochs
    std::uint64_t cooldown_counter = 0; ///< steps of cooldown left
    std::uint64_t observations = 0;     ///< PyTorch's last_epoch
  };

  explicit ReduceOnPlateau(double learning_rate, const ReduceOnPlateauOptions& options = {}) : m_options(options) {
    detail::check_learning_rate("osbi::optim::ReduceOnPlateau", learning_rate);
    require(options.factor > 0.0 && options.factor < 1.0, "osbi::optim::ReduceOnPlateau", "factor = ", options.factor,
            " must be in (0, 1)");
    require(std::isfinite(options.threshold) && options.threshold >= 0.0, "osbi::optim::ReduceOnPlateau",
            "threshold = ", options.threshold, " must be finite and >= 0");
    require(std::isfinite(options.minimum_learning_rate) && options.minimum_learning_rate >= 0.0, "osbi::optim::ReduceOnPlateau",
            "minimum_learning_rate = ", options.minimum_learning_rate, " must be finite and >= 0");
    require(std::isfinite(options.eps) && options.eps >= 0.0, "osbi::optim::ReduceOnPlateau", "eps = ", options.eps,
            " must be finite and >= 0");
    m_state.learning_rate = learning_rate;
    m_state.best = worst();
  }

  /// Records one metric value (one epoch or evaluation) and returns the learning rate to use next.
  double observe(double metric) {
    ++m_state.observations;
    if (is_better(metric, m_state.best)) {
      m_state.best = metric;
      m_state.bad_steps = 0;
    } else {
      ++m_state.bad_steps;
    }
    if (m_state.cooldown_counter > 0) {
      --m_state.cooldown_counter;
      m_state.bad_steps = 0;
    }
    if (m_state.bad_steps > m_options.patience) {
      const double old_rate = m_state.learning_rate;
      const double new_rate = std::max(old_rate * m_options.factor, m_options.minimum_learning_rate);
      if (old_rate - new_rate > m_options.eps) m_state.learning_rate = new_rate;
      m_state.cooldown_counter = m_options.cooldown;
      m_state.bad_steps = 0;
    }
    return m_state.learning_rate;
  }

  double operator()(std::size_t) const { return m_state.learning_rate; }
  double learning_rate() const { return m_state.learning_rate; }
  const ReduceOnPlateauOptions& options() const { return m_options; }

  State state() const { return m_state; }

  /// Restores a state from state(); InvalidArgument if it cannot be one (lr not finite or < 0, best
  /// NaN or infinite the wrong way, cooldown_counter above the cooldown option).
  void load_state(const State& state) {
    require(std::isfinite(state.learning_rate) && state.learning_rate >= 0.0, "osbi::optim::ReduceOnPlateau::load_state",
            "learning_rate = ", state.learning_rate, " must be finite and >= 0");
    require(!std::isnan(state.best) && state.best != -worst(), "osbi::optim::ReduceOnPlateau::load_state", "best = ", state.best,
            " is not a possible best value in this mode");
    require(state.cooldown_counter <= m_options.cooldown, "osbi::optim::ReduceOnPlateau::load_state", "cooldown_counter = ",
            state.cooldown_counter, " exceeds the cooldown option ", m_options.cooldown);
    m_state = state;
  }

private:
  double worst() const {
    return m_options.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                              : -std::numeric_limits<double>::infinity();
  }

  bool is_better(double a, double best) const {
    const double threshold = m_options.threshold;
    if (m_options.mode == PlateauMode::min)
      return m_options.threshold_mode == ThresholdMode::relative ? a < best * (1.0 - threshold) : a < best - threshold;
    return m_options.threshold_mode == ThresholdMode::relative ? a > best * (threshold + 1.0) : a > best + threshold;
  }

  ReduceOnPlateauOptions m_options;
  State m_state;
};

} // namespace osbi::optim
