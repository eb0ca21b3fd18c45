// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Optimizer` (a first-order update of one flat parameter buffer) and `OptimizerState`, its serializable state.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace osbi::optim {

/// Everything an optimizer needs to continue exactly where it stopped: a kind ("Adam", "AdamW")
/// that a loader checks, named per-parameter buffers (moments, ...), named real hyperparameters
/// (learning rate, betas, ...) and named counters (the step count). The buffers returned by
/// `state()` are HANDLES to the optimizer's live buffers, not copies: copy them (CheckpointWriter
/// does) before the next step changes them.
template <class Scalar, class ExecutionSpace>
struct OptimizerState {
  std::string kind;
  std::map<std::string, Vector<Scalar, ExecutionSpace>> buffers;
  std::map<std::string, double> reals;
  std::map<std::string, std::uint64_t> counters;
};

/*
 * Optimizer — updates one flat parameter buffer from one flat gradient buffer (spec). Networks
 * expose all their trainable scalars as ONE Vector<scalar_type, execution_space> and their
 * gradients as another of the same length (nn/layer.hpp), so an optimizer never sees layers.
 *
 *   typename O::scalar_type, typename O::execution_space
 *   o.parameter_count()          the buffer length the optimizer was built for (its per-parameter
 *                                state has exactly this many entries).
 *   o.step(space, parameters, gradients)
 *                                one update in place: parameters is Vector<scalar_type>, gradients
 *                                ConstVector<scalar_type>, both of parameter_count() entries, else
 *                                DimensionMismatch naming both sizes (checked on the host before any
 *                                work is enqueued). Gradients are not modified. Enqueues on `space`
 *                                only; the caller fences when it needs the values. Increments
 *                                step_count() by one.
 *   o.learning_rate(), o.set_learning_rate(lr)
 *                                the rate the next step uses, a double; set_learning_rate accepts any
 *                                finite lr >= 0 (schedules reach 0) and throws InvalidArgument else.
 *   o.step_count()               steps taken since construction (or since the loaded state's origin).
 *   o.state()                    an OptimizerState: handles to the live buffers, plus every real and
 *                                counter that the next step depends on.
 *   o.load_state(space, state)   restores a state produced by state() of an optimizer of the same
 *                                kind: DataError if the kind or a name differs or a value is out of its
 *                                domain, DimensionMismatch (naming both) if a buffer's length is not
 *                                parameter_count(). Buffers are deep-copied on `space`, which is
 *                                fenced before returning, so `state` may be dropped afterwards.
 *                                Continuing after load_state(state()) gives bit-identical updates.
 */
namespace optimizer_requirements {

template <class O>
concept HasTypes = HasScalarAndSpace<O>;

template <class O>
concept CanStep = requires(O& optimizer, const typename O::execution_space& space,
                           const Vector<typename O::scalar_type, typename O::execution_space>& parameters,
                           const ConstVector<typename O::scalar_type, typename O::execution_space>& gradients) {
  { optimizer.parameter_count() } -> std::convertible_to<std::size_t>;
  optimizer.step(space, parameters, gradients);
};

template <class O>
concept HasLearningRate = requires(O& optimizer, const O& const_optimizer, double lr) {
  { const_optimizer.learning_rate() } -> std::convertible_to<double>;
  optimizer.set_learning_rate(lr);
  { const_optimizer.step_count() } -> std::convertible_to<std::uint64_t>;
};

template <class O>
concept HasState = requires(O& optimizer, const O& const_optimizer, const typename O::execution_space& space,
                            const OptimizerState<typename O::scalar_type, typename O::execution_space>& state) {
  { const_optimizer.state() } -> std::same_as<OptimizerState<typename O::scalar_type, typename O::execution_space>>;
  optimizer.load_state(space, state);
};

} // namespace optimizer_requirements

template <class O>
concept Optimizer = optimizer_requirements::HasTypes<O> && optimizer_requirements::CanStep<O> &&
                    optimizer_requirements::HasLearningRate<O> && optimizer_requirements::HasState<O>;

namespace detail {

/// The shape check every optimizer's step starts with.
inline void check_step_sizes(std::string_view part, std::size_t parameter_count, std::size_t parameters,
                             std::size_t gradients) {
  require_extent(parameters, parameter_count, part, "the parameter buffer (must equal the optimizer's parameter_count)");
  require_extent(gradients, parameters, part, "the gradient buffer (must equal the parameter buffer's length)");
}

} // namespace detail

} // namespace osbi::optim
