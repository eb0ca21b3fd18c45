// SPDX-License-Identifier: BSD-3-Clause
/// \brief Optimizer and schedule state in checkpoint sections, and parameters + optimizer as one training state.
#pragma once

#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/schedule.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>
#include <osbi/io/checkpoint.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

/*
 * The optimizer's adapters to the checkpoint container (io/checkpoint.hpp): the container knows
 * sections, this header knows what an Optimizer's state() and a ReduceOnPlateau's state() hold.
 * Calls found by argument-dependent lookup from any namespace: add_optimizer_state(writer, "o/", adam).
 */
namespace osbi::optim {

/// Adds an optimizer's state under `prefix` (e.g. "optimizer/"): "<prefix>kind" (string),
/// "<prefix>buffer/<name>" (Scalar arrays), "<prefix>real/<name>" (f64), "<prefix>counter/<name>" (u64).
template <Optimizer OptimizerType>
void add_optimizer_state(CheckpointWriter& writer, std::string_view prefix, const OptimizerType& optimizer) {
  const auto state = optimizer.state();
  const std::string base(prefix);
  writer.add_string(base + "kind", state.kind);
  for (const auto& [name, buffer] : state.buffers)
    writer.add(base + "buffer/" + name, buffer);
  for (const auto& [name, value] : state.reals)
    writer.add_scalar(base + "real/" + name, value);
  for (const auto& [name, value] : state.counters)
    writer.add_scalar(base + "counter/" + name, value);
}

/// Reads what add_optimizer_state wrote into `optimizer` (through its load_state, which validates
/// everything before changing anything). DataError if a section is missing, of the wrong type, or an
/// unexpected one sits under `prefix`; DimensionMismatch (naming both) if a buffer's length is not
/// the optimizer's parameter_count().
template <Optimizer OptimizerType>
void read_optimizer_state(const typename OptimizerType::execution_space& space, const CheckpointReader& reader,
                          std::string_view prefix, OptimizerType& optimizer) {
  using Scalar = typename OptimizerType::scalar_type;
  using ExecutionSpace = typename OptimizerType::execution_space;
  const std::string base(prefix);
  const auto expected = optimizer.state();
  OptimizerState<Scalar, ExecutionSpace> state;
  state.kind = reader.get_string(base + "kind");
  std::size_t consumed = 1;
  for (const auto& entry : expected.buffers) {
    const std::string name = base + "buffer/" + entry.first;
    const CheckpointSection& section = reader.section(name);
    if (section.type != CheckpointTypeOf<Scalar>::value || section.shape.size() != 1)
      throw DataError(
          "osbi::optim::read_optimizer_state",
          osbi::detail::concat(reader.path(), ": section '", name, "' holds ", checkpoint_type_name(section.type),
                               " of shape ", osbi::detail::checkpoint_shape_text(section.shape),
                               ", expected a vector of ", checkpoint_type_name(CheckpointTypeOf<Scalar>::value)));
    require_extent(section.shape[0], optimizer.parameter_count(), "osbi::optim::read_optimizer_state",
                   reader.path() + ": the optimizer buffer '" + name + "'");
    Vector<Scalar, ExecutionSpace> buffer(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, label("optim", "read_optimizer_state", name)),
        section.shape[0]);
    reader.read_into(name, buffer);
    state.buffers.emplace(entry.first, buffer);
    ++consumed;
  }
  for (const auto& entry : expected.reals) {
    state.reals.emplace(entry.first, reader.get_scalar<double>(base + "real/" + entry.first));
    ++consumed;
  }
  for (const auto& entry : expected.counters) {
    state.counters.emplace(entry.first, reader.get_scalar<std::uint64_t>(base + "counter/" + entry.first));
    ++consumed;
  }
  std::size_t under_prefix = 0;
  for (const CheckpointSection& section : reader.sections())
    if (section.name.compare(0, base.size(), base) == 0) ++under_prefix;
  if (under_prefix != consumed)
    throw DataError("osbi::optim::read_optimizer_state",
                    osbi::detail::concat(reader.path(), ": ", under_prefix, " sections under '", base, "', the ",
                                         expected.kind, " optimizer reads ", consumed));
  optimizer.load_state(space, state);
}

/// Adds a ReduceOnPlateau's state under `prefix` (f64 learning_rate, best; u64 bad_steps,
/// cooldown_counter, observations).
inline void add_schedule_state(CheckpointWriter& writer, std::string_view prefix, const ReduceOnPlateau& schedule) {
  const auto state = schedule.state();
  const std::string base(prefix);
  writer.add_scalar(base + "learning_rate", state.learning_rate);
  writer.add_scalar(base + "best", state.best);
  writer.add_scalar(base + "bad_steps", state.bad_steps);
  writer.add_scalar(base + "cooldown_counter", state.cooldown_counter);
  writer.add_scalar(base + "observations", state.observations);
}

/// Reads what add_schedule_state wrote; DataError if a section is missing or wrong, or the values
/// are not a state of `schedule`'s options.
inline void read_schedule_state(const CheckpointReader& reader, std::string_view prefix, ReduceOnPlateau& schedule) {
  const std::string base(prefix);
  ReduceOnPlateau::State state;
  state.learning_rate = reader.get_scalar<double>(base + "learning_rate");
  state.best = reader.get_scalar<double>(base + "best");
  state.bad_steps = reader.get_scalar<std::uint64_t>(base + "bad_steps");
  state.cooldown_counter = reader.get_scalar<std::uint64_t>(base + "cooldown_counter");
  state.observations = reader.get_scalar<std::uint64_t>(base + "observations");
  try {
    schedule.load_state(state);
  } catch (const InvalidArgument& error) {
    throw DataError("osbi::optim::read_schedule_state", reader.path() + ": " + error.what());
  }
}

/// A checkpoint of a training run: section "parameters" and the optimizer's state under "optimizer/".
template <Optimizer OptimizerType>
void save_training_state(
    const std::filesystem::path& path,
    const Vector<typename OptimizerType::scalar_type, typename OptimizerType::execution_space>& parameters,
    const OptimizerType& optimizer) {
  CheckpointWriter writer;
  writer.add("parameters", parameters);
  add_optimizer_state(writer, "optimizer/", optimizer);
  writer.write(path);
}

/// Restores what save_training_state wrote. Everything is validated first (file, parameter length
/// and optimizer state), then the optimizer and the parameters change; on an exception neither has.
/// Continuing training afterwards gives the same bits as a run that never stopped.
template <Optimizer OptimizerType>
void load_training_state(
    const typename OptimizerType::execution_space& space, const std::filesystem::path& path,
    const Vector<typename OptimizerType::scalar_type, typename OptimizerType::execution_space>& parameters,
    OptimizerType& optimizer) {
  const CheckpointReader reader(path);
  const CheckpointSection& section = reader.section("parameters");
  if (section.shape.size() == 1)
    require_extent(parameters.extent(0), section.shape[0], "osbi::optim::load_training_state",
                   osbi::detail::concat("the parameter vector (", path.string(), " holds 'parameters')"));
  require_extent(parameters.extent(0), optimizer.parameter_count(), "osbi::optim::load_training_state",
                 "the parameter vector (the optimizer's parameter_count)");
  // The type check of the parameters happens before the optimizer changes: read them first.
  using Scalar = typename OptimizerType::scalar_type;
  const CheckpointArray<Scalar> values = reader.get<Scalar>("parameters", {parameters.extent(0)});
  read_optimizer_state(space, reader, "optimizer/", optimizer);
  const Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(
      values.data.data(), values.data.size());
  Kokkos::deep_copy(space, parameters, host);
  space.fence();
}

} // namespace osbi::optim
