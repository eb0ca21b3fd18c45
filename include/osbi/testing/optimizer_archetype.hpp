// SPDX-License-Identifier: BSD-3-Clause
/// \brief OptimizerArchetype: the least type that models osbi::optim::Optimizer (SGD with momentum), for compile tests.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>
#include <osbi/optim/optimizer.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace osbi::testing {

/// Exactly the members the Optimizer concept names, with exactly its signatures (plus a constructor,
/// which the concept leaves to each model): generic code that compiles with it uses no more than the
/// concept promises. The members also behave as the spec says — SGD with heavy-ball momentum,
///   v ← μ·v + g,   θ ← θ − lr·v   (μ = 0.9, lr 1e-2 unless set),
/// one per-parameter buffer ("velocity"), reals learning_rate and momentum, counter step — so
/// check_optimizer passes on it and generic code (checkpoints, training steps) can run with it.
class OptimizerArchetype {
public:
  using scalar_type = double;
  using execution_space = DefaultExecutionSpace;

  explicit OptimizerArchetype(std::size_t parameter_count)
      : m_velocity(label("testing", "OptimizerArchetype", "velocity"), parameter_count) {}

  std::size_t parameter_count() const { return m_velocity.extent(0); }

  void step(const execution_space& space, const Vector<scalar_type, execution_space>& parameters,
            const ConstVector<scalar_type, execution_space>& gradients) {
    optim::detail::check_step_sizes(part, parameter_count(), parameters.extent(0), gradients.extent(0));
    const auto velocity = m_velocity;
    const double lr = m_learning_rate, momentum = m_momentum;
    Kokkos::parallel_for(
        label("testing", "OptimizerArchetype", "step"),
        Kokkos::RangePolicy<execution_space>(space, 0, parameter_count()), KOKKOS_LAMBDA(const std::size_t i) {
          velocity(i) = momentum * velocity(i) + gradients(i);
          parameters(i) -= lr * velocity(i);
        });
    ++m_step;
  }

  double learning_rate() const { return m_learning_rate; }
  void set_learning_rate(double learning_rate) {
    require(std::isfinite(learning_rate) && learning_rate >= 0.0, part, "set_learning_rate(", learning_rate,
            "): the learning rate must be finite and >= 0");
    m_learning_rate = learning_rate;
  }
  std::uint64_t step_count() const { return m_step; }

  optim::OptimizerState<scalar_type, execution_space> state() const {
    optim::OptimizerState<scalar_type, execution_space> state;
    state.kind = std::string(kind);
    state.buffers = {{"velocity", m_velocity}};
    state.reals = {{"learning_rate", m_learning_rate}, {"momentum", m_momentum}};
    state.counters = {{"step", m_step}};
    return state;
  }

  /// Checks everything before changing anything.
  void load_state(const execution_space& space, const optim::OptimizerState<scalar_type, execution_space>& state) {
    require<DataError>(state.kind == kind, part, "the state is of an optimizer of kind '", state.kind, "', this is ",
                       kind);
    require<DataError>(state.buffers.size() == 1 && state.buffers.count("velocity") == 1 && state.reals.size() == 2 &&
                           state.reals.count("learning_rate") == 1 && state.reals.count("momentum") == 1 &&
                           state.counters.size() == 1 && state.counters.count("step") == 1,
                       part,
                       "the state must hold the buffer velocity, the reals learning_rate and momentum and the "
                       "counter step, and nothing else");
    require_extent(state.buffers.at("velocity").extent(0), parameter_count(), part, "the state's buffer 'velocity'");
    const double learning_rate = state.reals.at("learning_rate"), momentum = state.reals.at("momentum");
    require<DataError>(std::isfinite(learning_rate) && learning_rate >= 0.0, part,
                       "the state's learning_rate = ", learning_rate, " must be finite and >= 0");
    require<DataError>(momentum >= 0.0 && momentum < 1.0, part, "the state's momentum = ", momentum,
                       " must be in [0, 1)");
    Kokkos::deep_copy(space, m_velocity, state.buffers.at("velocity"));
    space.fence();
    m_learning_rate = learning_rate;
    m_momentum = momentum;
    m_step = state.counters.at("step");
  }

private:
  static constexpr const char* part = "osbi::testing::OptimizerArchetype";
  static constexpr const char* kind = "ArchetypeSGD";

  Vector<scalar_type, execution_space> m_velocity;
  double m_learning_rate = 1e-2;
  double m_momentum = 0.9;
  std::uint64_t m_step = 0;
};

static_assert(optim::Optimizer<OptimizerArchetype>,
              "osbi::testing::OptimizerArchetype must model osbi::optim::Optimizer (osbi/optim/optimizer.hpp)");

} // namespace osbi::testing
