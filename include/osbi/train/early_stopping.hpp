// SPDX-License-Identifier: BSD-3-Clause
/// \brief EarlyStopping: the one rule for best parameters, patience, learning-rate decays and restore, offline and online.
#pragma once

#include <osbi/optim/optimizer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace osbi {

struct EarlyStoppingOptions {
  /// Observations in a row without a better validation value before the rule acts (sbi: 20 epochs);
  /// 0: never acts — the best parameters are still tracked and restored.
  std::size_t patience = 20;
  /// When the patience runs out with decays left: restore the best parameters, multiply the learning rate by
  /// learning_rate_decay and start a fresh patience (a plateau schedule with restarts from the best point;
  /// the optimizer's moment estimates carry on). 0 decays is sbi's recipe.
  std::size_t learning_rate_decays = 0;
  double learning_rate_decay = 0.2;
};

/// What observe() decided.
enum class StoppingVerdict : std::uint8_t {
  improved, ///< a new best: its parameters were kept
  waiting,  ///< no better value; patience not yet spent
  decayed,  ///< patience spent with decays left: best parameters restored, learning rate decayed
  stop      ///< patience spent, no decays left: training should end (and restore_best)
};

/// EarlyStopping's counters, for checkpoints (its best parameters travel separately).
struct EarlyStoppingState {
  double best_value = std::numeric_limits<double>::infinity();
  std::uint64_t best_index = 0;   ///< the caller's index (epoch, step) of the best value
  std::uint64_t since_best = 0;   ///< observations without improvement, since the best or the last decay
  std::uint64_t decays_taken = 0;
  bool has_best = false;
};

namespace detail {

/// dst = src for two equal-length parameter vectors. Between host views a memcpy after a fence: Kokkos 3.4.1's
/// host-to-host deep_copy of more than 80 kB launches on the default host space (OpenMP), which another
/// host thread (a simulation worker, with Kokkos ≥ 4) may be using at that moment.
template <class ExecutionSpace, class Scalar>
void copy_parameters(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& dst,
                     const ConstVector<Scalar, ExecutionSpace>& src) {
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecutionSpace::memory_space>::accessible) {
    space.fence();
    std::memcpy(dst.data(), src.data(), src.extent(0) * sizeof(Scalar));
  } else {
    Kokkos::deep_copy(space, dst, src);
  }
}

} // namespace detail

/*
 * EarlyStopping<Scalar, ExecutionSpace> — observe(value) after every validation (an epoch offline, every
 * validate_every steps online):
 *   value < best      → improved: best = value, the parameters are copied aside, patience restarts;
 *   otherwise         → one more observation without improvement (NaN never improves); once `patience` of them
 *                       in a row: `decayed` if decays are left (best parameters restored, learning rate ×
 *                       decay, fresh patience), else `stop`.
 * restore_best() puts the best parameters back (before any improvement: the parameters it was built with).
 * state()/load_state() carry it through a checkpoint with best_parameters().
 */
template <class Scalar, class ExecutionSpace>
class EarlyStopping {
public:
  using State = EarlyStoppingState;


  /// Keeps a copy of `parameters` as the best so far (the starting point).
  EarlyStopping(const ExecutionSpace& space, const ConstVector<Scalar, ExecutionSpace>& parameters,
                const EarlyStoppingOptions& options = {})
      : m_options(options),
        m_best(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("train", "EarlyStopping", "best_parameters")),
               parameters.extent(0)) {
    require(options.learning_rate_decays == 0 ||
                (options.learning_rate_decay > 0.0 && options.learning_rate_decay < 1.0),
            part, "learning_rate_decay = ", options.learning_rate_decay, " must be in (0, 1)");
    detail::copy_parameters(space, m_best, parameters);
  }

  template <optim::Optimizer OptimizerType>
  StoppingVerdict observe(const ExecutionSpace& space, double value, std::uint64_t index,
                          const Vector<Scalar, ExecutionSpace>& parameters, OptimizerType& optimizer) {
    if (value < m_state.best_value) {
      m_state.best_value = value;
      m_state.best_index = index;
      m_state.since_best = 0;
      m_state.has_best = true;
      detail::copy_parameters(space, m_best, ConstVector<Scalar, ExecutionSpace>(parameters));
      return StoppingVerdict::improved;
    }
    ++m_state.since_best;
    if (m_options.patience == 0 || m_state.since_best < m_options.patience) return StoppingVerdict::waiting;
    if (m_state.decays_taken == m_options.learning_rate_decays) return StoppingVerdict::stop;
    ++m_state.decays_taken;
    optimizer.set_learning_rate(optimizer.learning_rate() * m_options.learning_rate_decay);
    restore_best(space, parameters);
    m_state.since_best = 0;
    return StoppingVerdict::decayed;
  }

  void restore_best(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& parameters) const {
    require_extent(parameters.extent(0), m_best.extent(0), part, "restore_best: the parameter vector");
    detail::copy_parameters(space, parameters, ConstVector<Scalar, ExecutionSpace>(m_best));
  }

  const EarlyStoppingOptions& options() const { return m_options; }
  const State& state() const { return m_state; }
  double best_value() const { return m_state.best_value; }
  std::uint64_t best_index() const { return m_state.best_index; }
  bool has_best() const { return m_state.has_best; }
  std::uint64_t since_best() const { return m_state.since_best; }
  std::uint64_t decays_taken() const { return m_state.decays_taken; }
  /// The kept parameters (a handle: copy before the next observe).
  Vector<Scalar, ExecutionSpace> best_parameters() const { return m_best; }

  /// Continues from a checkpointed state; `best` holds best_parameters() as they were (same length).
  void load_state(const ExecutionSpace& space, const State& state, const ConstVector<Scalar, ExecutionSpace>& best) {
    require_extent(best.extent(0), m_best.extent(0), part, "load_state: the best-parameter vector");
    require(state.decays_taken <= m_options.learning_rate_decays, part, "load_state: ", state.decays_taken,
            " decays taken, more than the ", m_options.learning_rate_decays, " allowed");
    detail::copy_parameters(space, m_best, best);
    m_state = state;
  }

private:
  static constexpr const char* part = "osbi::EarlyStopping";
  EarlyStoppingOptions m_options;
  State m_state;
  Vector<Scalar, ExecutionSpace> m_best;
};

} // namespace osbi
