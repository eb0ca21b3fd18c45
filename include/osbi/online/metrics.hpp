// SPDX-License-Identifier: BSD-3-Clause
/// \brief What an online run reports: where every simulation went, live metrics, and the final report.
#pragma once

#include <osbi/buffer/sample_buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osbi::online {

/// Why a simulation produced no usable sample.
enum class FailureKind : std::uint8_t { threw, non_finite, timed_out };

inline std::string_view failure_kind_name(FailureKind kind) {
  switch (kind) {
  case FailureKind::threw: return "threw";
  case FailureKind::non_finite: return "non_finite";
  case FailureKind::timed_out: return "timed_out";
  }
  return "unknown";
}

/// One failed simulation: its index, θ and what happened (kept for the first `max_failure_records`).
struct FailureRecord {
  std::uint64_t simulation = 0;
  FailureKind kind = FailureKind::threw;
  std::vector<double> theta;
  std::string message;
};

/*
 * Where every simulation went. Invariant (simulations_finished counts each simulation once, when its
 * fate is known):
 *
 *   finished == validation + failed_threw + failed_non_finite + timed_out + buffer.pushed_total
 *
 * and inside the buffer: pushed_total == dropped_invalid + rejected_closed + in_buffer + evicted_used
 * + evicted_unseen (BufferAccounting). A simulation still running when the run ends is not finished;
 * `abandoned` counts the timed-out solver threads left running.
 */
struct PipelineAccounting {
  std::uint64_t finished = 0;
  std::uint64_t validation = 0;
  std::uint64_t failed_threw = 0, failed_non_finite = 0, timed_out = 0;
  BufferAccounting buffer;

  std::uint64_t failed() const { return failed_threw + failed_non_finite + timed_out; }
  bool consistent() const {
    return buffer.consistent() && finished == validation + failed() + buffer.pushed_total;
  }
};

/// One line of the metrics log (and of the progress line).
struct PipelineMetrics {
  double seconds = 0;
  std::uint64_t simulations = 0, failures = 0;
  double simulations_per_second = 0;
  std::uint64_t steps = 0, samples_trained = 0;
  double samples_trained_per_second = 0;
  std::size_t buffer_size = 0, buffer_capacity = 0;
  double mean_reuse = 0;            ///< deliveries per sample accepted by the buffer
  double trainer_idle_fraction = 0; ///< of the trainer's time since it started, waiting for data
  double staleness = 0;             ///< mean (arrivals − id) of the rows of recent batches: how many samples old
  double train_loss = 0;            ///< mean over the steps since the previous line
  double validation_loss = 0, best_validation_loss = 0;

  static std::string csv_header() {
    return "seconds,simulations,failures,simulations_per_second,steps,samples_trained,samples_trained_per_second,"
           "buffer_size,buffer_capacity,mean_reuse,trainer_idle_fraction,staleness,train_loss,validation_loss,"
           "best_validation_loss";
  }
  std::string csv_row() const {
    std::ostringstream out;
    out << std::setprecision(8) << seconds << ',' << simulations << ',' << failures << ',' << simulations_per_second
        << ',' << steps << ',' << samples_trained << ',' << samples_trained_per_second << ',' << buffer_size << ','
        << buffer_capacity << ',' << mean_reuse << ',' << trainer_idle_fraction << ',' << staleness << ','
        << train_loss << ',' << validation_loss << ',' << best_validation_loss;
    return out.str();
  }
  std::string progress_line() const {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << "[online] " << seconds << " s | sims " << simulations << " ("
        << std::setprecision(0) << simulations_per_second << "/s, " << failures << " failed) | steps " << steps
        << " (" << samples_trained_per_second << " samples/s) | buffer " << buffer_size << '/' << buffer_capacity
        << std::setprecision(2) << " reuse " << mean_reuse << " | idle " << std::setprecision(0)
        << 100 * trainer_idle_fraction << "% | stale " << staleness << std::setprecision(4) << " | loss " << train_loss
        << " val " << validation_loss << " (best " << best_validation_loss << ')';
    return out.str();
  }
};

/// Why run() returned.
enum class StopReason : std::uint8_t { simulation_budget, wall_time, plateau, max_steps, requested, no_data };

inline std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
  case StopReason::simulation_budget: return "simulation budget spent and buffer exhausted";
  case StopReason::wall_time: return "wall time";
  case StopReason::plateau: return "validation plateau";
  case StopReason::max_steps: return "max steps";
  case StopReason::requested: return "stop requested";
  case StopReason::no_data: return "no data (every simulation failed or the buffer closed before training)";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, StopReason reason) { return out << stop_reason_name(reason); }
inline std::ostream& operator<<(std::ostream& out, FailureKind kind) { return out << failure_kind_name(kind); }

struct PipelineReport {
  StopReason reason = StopReason::requested;
  PipelineAccounting accounting;
  PipelineMetrics final_metrics;
  std::vector<FailureRecord> failures;        ///< the first max_failure_records failures
  std::vector<double> train_loss;             ///< per step
  std::vector<std::uint64_t> validation_step; ///< steps at which the validation loss was computed
  std::vector<double> validation_loss;
  std::uint64_t best_step = 0;
  bool restored_best = false;                 ///< the density holds the best-validation parameters
  bool resumed = false;                       ///< the run continued from a checkpoint
  std::vector<std::uint64_t> plasticity_steps; ///< steps before which Plasticity pulled toward θ₀ (this run() only)
  /// With importance_weights: (round, rows offered to the buffer and kept) per proposal version, and the mean over
  /// steps of the batches' importance-weight effective sample size as a fraction of the batch (NaN: no step).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> proposal_rows;
  double importance_effective_fraction = std::numeric_limits<double>::quiet_NaN();
};

} // namespace osbi::online
