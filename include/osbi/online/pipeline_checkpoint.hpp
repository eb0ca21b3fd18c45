// SPDX-License-Identifier: BSD-3-Clause
/// \brief The sections of an online pipeline's checkpoint: simulation state, trainer counters, early stopping, z-scoring.
#pragma once

#include <osbi/estimator/capabilities.hpp>
#include <osbi/online/online_trainer.hpp>
#include <osbi/online/simulation_workers.hpp>
#include <osbi/train/early_stopping.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace osbi::online {

/*
 * Pipeline checkpoint, format 3 (io/checkpoint.hpp's container; the pipeline adds the buffer under "buffer/"
 * (buffer/buffer_checkpoint.hpp), the optimizer under "optimizer/" (optim/optimizer_checkpoint.hpp) and the
 * parameters as "parameters"):
 *   pipeline/format                 u64 3
 *   pipeline/counters               u64 (9): frontier, finished, validation, failed_threw, failed_non_finite,
 *                                   timed_out, batches_drawn, validation_rows, arrivals
 *   pipeline/done                   u64 (k): finished simulations above the frontier
 *   pipeline/validation_theta, _x   Scalar (rows, D_θ), (rows, D_x)
 *   pipeline/validation_log_prob    f64 (rows); pipeline/validation_round u64 (rows)
 *   trainer/counters                u64 (2): steps, samples_trained
 *   trainer/train_loss, validation_loss f64; trainer/validation_step u64; trainer/last_validation f64
 *   trainer/early_stopping          u64 (4): best_index, since_best, decays_taken, has_best; .../best_value f64
 *   trainer/best_parameters         Scalar (P)
 *   trainer/standardization         f64 (2·(D_θ + D_x), or 0 for an estimator without z-scoring)
 *   trainer/parameter_average       Scalar (P) and .../updates u64: only when the run averaged its parameters
 * Format 2 (before parameter averaging) reads as a checkpoint without an average (a resumed run that averages starts
 * its average from the parameters); format 1 (before the training seam) is refused with a DataError naming it.
 */
inline constexpr std::uint64_t pipeline_checkpoint_format = 3;

template <class Scalar>
void add_simulation_state(CheckpointWriter& writer, const SimulationState<Scalar>& state, std::size_t theta_dim, std::size_t x_dim) {
  writer.add_scalar<std::uint64_t>("pipeline/format", pipeline_checkpoint_format);
  const auto& c = state.counts;
  const std::vector<std::uint64_t> counters{state.frontier, c.finished,           c.validation,
                                            c.failed_threw, c.failed_non_finite, c.timed_out,
                                            state.batches_drawn, state.validation_rows, state.arrivals};
  writer.add_array("pipeline/counters", counters.data(), {counters.size()});
  writer.add_array("pipeline/done", state.done.data(), {state.done.size()});
  writer.add_array("pipeline/validation_theta", state.validation_theta.data(), {state.validation_rows, theta_dim});
  writer.add_array("pipeline/validation_x", state.validation_x.data(), {state.validation_rows, x_dim});
  writer.add_array("pipeline/validation_log_prob", state.validation_log_prob.data(), {state.validation_rows});
  writer.add_array("pipeline/validation_round", state.validation_round.data(), {state.validation_rows});
}

/// Reads and checks what add_simulation_state wrote (DataError naming the defect; nothing else changes).
template <class Scalar>
SimulationState<Scalar> read_simulation_state(const CheckpointReader& reader, std::size_t theta_dim, std::size_t x_dim,
                                              std::size_t validation_size, std::string_view part) {
  const auto fail = [&](const std::string& what) { throw DataError(part, reader.path() + ": " + what); };
  const auto format = reader.get_scalar<std::uint64_t>("pipeline/format");
  if (format != pipeline_checkpoint_format && format != 2)
    fail(osbi::detail::concat("pipeline checkpoint format ", format, ", this version reads formats 2 and ",
                              pipeline_checkpoint_format, (format == 1 ? " (written before the training seam)" : "")));
  const auto counters = reader.get<std::uint64_t>("pipeline/counters", {9}).data;
  SimulationState<Scalar> state;
  state.frontier = counters[0];
  state.counts.finished = counters[1];
  state.counts.validation = counters[2];
  state.counts.failed_threw = counters[3];
  state.counts.failed_non_finite = counters[4];
  state.counts.timed_out = counters[5];
  state.batches_drawn = counters[6];
  state.validation_rows = counters[7];
  state.arrivals = counters[8];
  if (state.validation_rows > validation_size)
    fail(osbi::detail::concat("holds ", state.validation_rows, " validation rows, more than validation_size = ", validation_size));
  state.done = reader.get<std::uint64_t>("pipeline/done").data;
  state.validation_theta = reader.get<Scalar>("pipeline/validation_theta", {state.validation_rows, theta_dim}).data;
  state.validation_x = reader.get<Scalar>("pipeline/validation_x", {state.validation_rows, x_dim}).data;
  state.validation_log_prob = reader.get<double>("pipeline/validation_log_prob", {state.validation_rows}).data;
  state.validation_round = reader.get<std::uint64_t>("pipeline/validation_round", {state.validation_rows}).data;
  return state;
}

template <class Scalar, class ExecutionSpace>
void add_trainer_state(CheckpointWriter& writer, const TrainerCounters& counters, const EarlyStopping<Scalar, ExecutionSpace>& stopping,
                       const Standardization& standardization, const ParameterAverage<Scalar, ExecutionSpace>& average) {
  const std::vector<std::uint64_t> trainer{counters.steps, counters.samples_trained};
  writer.add_array("trainer/counters", trainer.data(), {trainer.size()});
  writer.add_array("trainer/train_loss", counters.train_history.data(), {counters.train_history.size()});
  writer.add_array("trainer/validation_loss", counters.validation_history.data(), {counters.validation_history.size()});
  writer.add_array("trainer/validation_step", counters.validation_steps.data(), {counters.validation_steps.size()});
  writer.add_scalar("trainer/last_validation", counters.last_validation);
  const auto& s = stopping.state();
  const std::vector<std::uint64_t> early{s.best_index, s.since_best, s.decays_taken, s.has_best ? 1u : 0u};
  writer.add_array("trainer/early_stopping", early.data(), {early.size()});
  writer.add_scalar("trainer/early_stopping/best_value", s.best_value);
  writer.add("trainer/best_parameters", stopping.best_parameters());
  std::vector<double> statistics;
  for (const auto* v : {&standardization.theta_mean, &standardization.theta_std, &standardization.x_mean, &standardization.x_std})
    statistics.insert(statistics.end(), v->begin(), v->end());
  writer.add_array("trainer/standardization", statistics.data(), {statistics.size()});
  if (average.enabled()) {
    writer.add("trainer/parameter_average", average.average());
    writer.add_scalar<std::uint64_t>("trainer/parameter_average/updates", average.updates());
  }
}

/// What read_trainer_state found (checked; applied by the caller once everything else is read too).
template <class Scalar>
struct TrainerCheckpoint {
  TrainerCounters counters;
  EarlyStoppingState stopping;
  std::vector<Scalar> best_parameters;
  Standardization standardization;
  std::vector<Scalar> parameter_average; ///< empty: the run that wrote it did not average
  std::uint64_t parameter_average_updates = 0;
};

template <class Scalar>
TrainerCheckpoint<Scalar> read_trainer_state(const CheckpointReader& reader, std::size_t parameter_count, std::size_t theta_dim,
                                             std::size_t x_dim, std::string_view part) {
  const auto fail = [&](const std::string& what) { throw DataError(part, reader.path() + ": " + what); };
  TrainerCheckpoint<Scalar> out;
  const auto trainer = reader.get<std::uint64_t>("trainer/counters", {2}).data;
  out.counters.steps = trainer[0];
  out.counters.samples_trained = trainer[1];
  out.counters.train_history = reader.get<double>("trainer/train_loss").data;
  out.counters.validation_history = reader.get<double>("trainer/validation_loss").data;
  out.counters.validation_steps = reader.get<std::uint64_t>("trainer/validation_step").data;
  out.counters.last_validation = reader.get_scalar<double>("trainer/last_validation");
  if (out.counters.validation_steps.size() != out.counters.validation_history.size()) fail("validation history lengths differ");
  if (out.counters.train_history.size() != out.counters.steps) fail("train-loss history length differs from the step count");
  const auto early = reader.get<std::uint64_t>("trainer/early_stopping", {4}).data;
  out.stopping.best_index = early[0];
  out.stopping.since_best = early[1];
  out.stopping.decays_taken = early[2];
  out.stopping.has_best = early[3] != 0;
  out.stopping.best_value = reader.get_scalar<double>("trainer/early_stopping/best_value");
  out.best_parameters = reader.get<Scalar>("trainer/best_parameters", {parameter_count}).data;
  const auto statistics = reader.get<double>("trainer/standardization").data;
  if (!statistics.empty()) {
    if (statistics.size() != 2 * (theta_dim + x_dim))
      fail(osbi::detail::concat("z-scoring section has ", statistics.size(), " values, expected ", 2 * (theta_dim + x_dim)));
    const auto slice = [&](std::size_t begin, std::size_t count) {
      return std::vector<double>(statistics.begin() + static_cast<std::ptrdiff_t>(begin),
                                 statistics.begin() + static_cast<std::ptrdiff_t>(begin + count));
    };
    out.standardization = {slice(0, theta_dim), slice(theta_dim, theta_dim), slice(2 * theta_dim, x_dim),
                           slice(2 * theta_dim + x_dim, x_dim)};
  }
  if (reader.has("trainer/parameter_average")) {
    out.parameter_average = reader.get<Scalar>("trainer/parameter_average", {parameter_count}).data;
    out.parameter_average_updates = reader.get_scalar<std::uint64_t>("trainer/parameter_average/updates");
  }
  return out;
}

} // namespace osbi::online
