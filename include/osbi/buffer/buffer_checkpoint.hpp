// SPDX-License-Identifier: BSD-3-Clause
/// \brief A buffer's state in checkpoint sections: add_buffer_state / read_buffer_state (osbi/io/checkpoint.hpp).
#pragma once

#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/*
 * Sections under `prefix` (e.g. "buffer/"), n = rows held:
 *   kind                 bytes  "fifo", "firo", "reservoir" or "prioritized"
 *   shape                u64 (3)            capacity, theta_dim, x_dim
 *   theta, x             Scalar (n, D_θ), (n, D_x)
 *   ids, uses, generations                 u64 (n)
 *   simulation_seconds   f64 (n)
 *   proposal_log_probs   f64 (n)
 *   priorities           f64 (n, or 0 for a buffer without priorities)
 *   max_priority         f64 scalar
 *   counter/<name>       u64 scalars: pushed_total, dropped_invalid, rejected_closed, evicted_used,
 *                        evicted_unseen, total_uses, arrivals, departed_uses, departed_max_uses
 *   departed_histogram   u64 (65)
 *   random/seed, random/draws              u64 scalars
 * The container checks bytes (CRC-32 per section); restore() then checks meaning (ids, counters).
 *
 * proposal_log_probs came later than the rest: a checkpoint without it is refused (DataError naming
 * the section) rather than read with invented values. A loss that corrects for the proposal would
 * silently train on a default log density, and such a checkpoint cannot say what the real one was.
 */
namespace osbi {

namespace detail {

/// The counters of a (const or mutable) BufferState with their section names.
template <class State>
auto buffer_state_counters(State& state) {
  using Pointer = decltype(&state.pushed_total);
  return std::array<std::pair<std::string_view, Pointer>, 9>{{
      {"pushed_total", &state.pushed_total},
      {"dropped_invalid", &state.dropped_invalid},
      {"rejected_closed", &state.rejected_closed},
      {"evicted_used", &state.evicted_used},
      {"evicted_unseen", &state.evicted_unseen},
      {"total_uses", &state.total_uses},
      {"arrivals", &state.arrivals},
      {"departed_uses", &state.departed_uses},
      {"departed_max_uses", &state.departed_max_uses},
  }};
}

/// Sections a buffer state writes besides its counters.
inline constexpr std::size_t buffer_state_fixed_sections = 14;

} // namespace detail

/// Adds `state` under `prefix` (see the layout above).
template <std::floating_point Scalar>
void add_buffer_state(CheckpointWriter& writer, std::string_view prefix, const BufferState<Scalar>& state) {
  const std::string base(prefix);
  const std::size_t n = state.rows();
  writer.add_string(base + "kind", state.kind);
  const std::uint64_t shape[3] = {state.capacity, state.theta_dim, state.x_dim};
  writer.add_array(base + "shape", shape, {3});
  writer.add_array(base + "theta", state.theta.data(), {n, static_cast<std::size_t>(state.theta_dim)});
  writer.add_array(base + "x", state.x.data(), {n, static_cast<std::size_t>(state.x_dim)});
  writer.add_array(base + "ids", state.ids.data(), {state.ids.size()});
  writer.add_array(base + "uses", state.uses.data(), {state.uses.size()});
  writer.add_array(base + "generations", state.generations.data(), {state.generations.size()});
  writer.add_array(base + "simulation_seconds", state.simulation_seconds.data(), {state.simulation_seconds.size()});
  writer.add_array(base + "proposal_log_probs", state.proposal_log_probs.data(), {state.proposal_log_probs.size()});
  writer.add_array(base + "priorities", state.priorities.data(), {state.priorities.size()});
  writer.add_scalar(base + "max_priority", state.max_priority);
  for (const auto& [name, value] : detail::buffer_state_counters(state))
    writer.add_scalar(base + "counter/" + std::string(name), *value);
  writer.add_array(base + "departed_histogram", state.departed_histogram.data(), {state.departed_histogram.size()});
  writer.add_scalar(base + "random/seed", state.seed);
  writer.add_scalar(base + "random/draws", state.random_draws);
}

/// Adds a buffer's snapshot() under `prefix`.
template <SampleBuffer Buffer>
void add_buffer_state(CheckpointWriter& writer, std::string_view prefix, const Buffer& buffer) {
  add_buffer_state(writer, prefix, buffer.snapshot());
}

/// Reads what add_buffer_state wrote. DataError (naming the file and section) if a section is
/// missing (proposal_log_probs included, see above), of another element type (a float buffer's
/// state read as double, ...) or shape, or if sections the layout does not name sit under `prefix`.
template <std::floating_point Scalar>
BufferState<Scalar> read_buffer_state(const CheckpointReader& reader, std::string_view prefix) {
  const std::string base(prefix);
  BufferState<Scalar> state;
  state.kind = reader.get_string(base + "kind");
  const auto shape = reader.get<std::uint64_t>(base + "shape", {3}).data;
  state.capacity = shape[0];
  state.theta_dim = shape[1];
  state.x_dim = shape[2];
  const CheckpointSection& ids = reader.section(base + "ids");
  if (ids.shape.size() != 1)
    throw DataError("osbi::read_buffer_state", osbi::detail::concat(reader.path(), ": section '", base,
                                                              "ids' has rank ", ids.shape.size(), ", expected 1"));
  const std::size_t n = ids.shape[0];
  state.ids = reader.get<std::uint64_t>(base + "ids").data;
  state.theta = reader.get<Scalar>(base + "theta", {n, static_cast<std::size_t>(state.theta_dim)}).data;
  state.x = reader.get<Scalar>(base + "x", {n, static_cast<std::size_t>(state.x_dim)}).data;
  state.uses = reader.get<std::uint64_t>(base + "uses", {n}).data;
  state.generations = reader.get<std::uint64_t>(base + "generations", {n}).data;
  state.simulation_seconds = reader.get<double>(base + "simulation_seconds", {n}).data;
  if (!reader.has(base + "proposal_log_probs"))
    throw DataError("osbi::read_buffer_state",
                    osbi::detail::concat(reader.path(), ": section '", base,
                                         "proposal_log_probs' is missing: the checkpoint predates per-row proposal "
                                         "log densities, and a buffer restored from it would have to invent them"));
  state.proposal_log_probs = reader.get<double>(base + "proposal_log_probs", {n}).data;
  const CheckpointArray<double> priorities = reader.get<double>(base + "priorities");
  if (priorities.shape.size() != 1 || (priorities.shape[0] != n && priorities.shape[0] != 0))
    throw DataError("osbi::read_buffer_state",
                    osbi::detail::concat(reader.path(), ": section '", base, "priorities' has shape ",
                                         detail::checkpoint_shape_text(priorities.shape), ", expected (", n,
                                         ") or (0)"));
  state.priorities = priorities.data;
  state.max_priority = reader.get_scalar<double>(base + "max_priority");
  for (const auto& [name, value] : detail::buffer_state_counters(state))
    *value = reader.get_scalar<std::uint64_t>(base + "counter/" + std::string(name));
  const auto histogram = reader.get<std::uint64_t>(base + "departed_histogram", {use_histogram_bins}).data;
  std::copy(histogram.begin(), histogram.end(), state.departed_histogram.begin());
  state.seed = reader.get_scalar<std::uint64_t>(base + "random/seed");
  state.random_draws = reader.get_scalar<std::uint64_t>(base + "random/draws");

  const std::size_t expected = detail::buffer_state_fixed_sections + detail::buffer_state_counters(state).size();
  std::size_t under_prefix = 0;
  for (const CheckpointSection& section : reader.sections())
    if (section.name.compare(0, base.size(), base) == 0) ++under_prefix;
  if (under_prefix != expected)
    throw DataError("osbi::read_buffer_state", osbi::detail::concat(reader.path(), ": ", under_prefix, " sections under '",
                                                              base, "', a buffer state has ", expected));
  return state;
}

/// Reads a buffer state from `reader` and restores `buffer` from it. Everything is checked before the
/// buffer changes; a DataError from restore() is re-thrown with the file's path in front.
template <SampleBuffer Buffer>
void read_buffer_state(const CheckpointReader& reader, std::string_view prefix, Buffer& buffer) {
  const auto state = read_buffer_state<typename Buffer::scalar_type>(reader, prefix);
  try {
    buffer.restore(state);
  } catch (const DataError& error) {
    throw DataError("osbi::read_buffer_state", reader.path() + ": " + error.what());
  }
}

} // namespace osbi
