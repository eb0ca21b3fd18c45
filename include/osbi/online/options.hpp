// SPDX-License-Identifier: BSD-3-Clause
/// \brief PipelineOptions and StopRules: how an online run is scheduled, trained, stopped, monitored and checkpointed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>

namespace osbi::online {

/// When a run ends; the first rule that fires wins. Zero disables a rule.
struct StopRules {
  std::uint64_t max_simulations = 0; ///< simulation budget; once spent the buffer is closed (see Pipeline)
  double max_seconds = 0;            ///< wall time of run()
  std::size_t plateau_patience = 0;  ///< validations in a row without a better validation loss (EarlyStopping)
  std::uint64_t max_steps = 0;       ///< optimizer steps
  /// Reusing buffers without a plateau rule: once the budget is spent, train until the rows used reach
  /// this many times the rows ever accepted.
  double epochs_after_budget = 1.0;
};

/// How hard the trainer may work the rows that have arrived (online/pacing.hpp). Zero disables a rule.
struct Pacing {
  /// At most this many samples trained per buffer arrival (the online analogue of epochs): before a batch the
  /// trainer waits until samples_trained + batch_size <= max_replay_ratio · arrivals. It lifts once the simulations
  /// are over (the buffer is closed). A reusing buffer's guard against overfitting its first rows.
  double max_replay_ratio = 0;
  /// The cap as a function of the arrivals (replaces max_replay_ratio when set), e.g. strict early, loose later.
  std::function<double(std::uint64_t arrivals)> replay_ratio_schedule;
  /// Learning-rate warm-up tied to the data: each step runs at min(1, arrivals / warmup_arrivals) times the
  /// optimizer's rate (its stored rate, which decays act on, is not changed). Under MPI the learners' mean.
  std::uint64_t warmup_arrivals = 0;
};

/// Against primacy bias: a network fitted to the first few hundred rows and then to each new one stays worse than
/// one trained on all rows from scratch (Ash & Adams 2020, warm starting; Nikishin et al. 2022, the primacy bias of
/// reinforcement learning, whose replay ratios online SBI shares). Each time the arrivals grow by `growth` while the
/// simulations go on — at train_after · growth^k arrivals, k = 1, 2, … — the parameters move back toward those the
/// run started from: θ ← θ₀ + keep · (θ − θ₀) (Ash & Adams' shrink, with the initial values standing in for their
/// perturbation; the optimizer's state is kept). Under MPI the learners agree on the step.
struct Plasticity {
  double keep = 1.0;   ///< fraction of θ − θ₀ kept at a milestone; 1: off (the default)
  double growth = 2.0; ///< arrivals grow by this factor (> 1) between milestones
};

/// Prioritized replay made unbiased (Schaul et al. 2016): with a prioritized buffer, row i of a batch gets the
/// weight (N·P(i))^(−β) (SampleMetadata::relative_draw_probability), divided by the batch's largest, through the
/// loss's per-row weights (NllLoss takes their mean, WeightedNllLoss self-normalizes). β rises linearly from
/// beta_start to 1 over beta_steps steps (0: β = 1 from the first step).
struct PriorityCorrection {
  bool enabled = false;
  double beta_start = 0.4;      ///< Schaul et al.'s β₀
  std::uint64_t beta_steps = 0;
};

struct PipelineOptions {
  std::size_t workers = 1;            ///< simulation threads (a batched Kokkos simulator: see Pipeline)
  std::size_t simulation_batch = 1;   ///< θ drawn per worker call (a batched simulator's rows per launch)
  std::size_t batch_size = 200;       ///< training batch (sbi's default)
  double learning_rate = 5e-4;        ///< of the Adam the pipeline builds when it is given no optimizer (sbi's default)
  double clip_max_norm = 5.0;         ///< gradient-norm clipping; <= 0: none
  std::size_t validation_size = 0;    ///< the first accepted simulations, held out (never trained on)
  std::size_t validate_every = 100;   ///< steps between validation losses
  bool restore_best = true;           ///< end with the parameters of the best validation loss
  /// > 0: validate, keep as best and end with an exponential moving average of the parameters over the steps
  /// (ParameterAverage, as offline train()); 0: the raw parameters. Unset: the estimator's
  /// default_parameter_average_decay (0.999 for FMPE and NPSE, 0 for the flows).
  std::optional<double> parameter_average_decay{};
  /// When the plateau rule's patience runs out with decays left: restore the best parameters, multiply the
  /// learning rate by learning_rate_decay and go on (EarlyStopping, as offline). 0: the plateau ends the run.
  std::size_t learning_rate_decays = 0;
  double learning_rate_decay = 0.2;
  std::size_t train_after = 1000;     ///< buffer arrivals before the first step; z-scoring uses these rows
  StopRules stop;
  double simulation_timeout = 0;      ///< seconds per point simulation; 0: none
  bool deterministic = false;         ///< bit-reproducible lockstep schedule (one worker, see Pipeline)
  std::size_t arrivals_per_step = 1;  ///< deterministic mode: new samples between consecutive batches
  Pacing pacing;                      ///< replay-ratio cap and learning-rate warm-up (none by default)
  PriorityCorrection priority_correction; ///< importance weights for a prioritized buffer (off by default)
  /// Weight every row by p(θ)/q̄(θ), q̄ the mixture of every proposal version that drew rows so far, each by the rows
  /// it drew (the balance heuristic; ProposalHistory): what a changing proposal needs to train the posterior with
  /// NLL (WeightedNllLoss self-normalizes the weights per batch). The validation rows get p/q̄ of their own rounds.
  /// Needs a SnapshotProposal with prior() (LossDrivenProposal) and in-process workers; not resumable (the
  /// versions are not in the checkpoint). The trainer evaluates every version at every batch row on the proposal's
  /// execution space, between the workers' launches there (a batched simulator on that space delays it by up to one
  /// launch). Off by default.
  bool importance_weights = false;
  Plasticity plasticity;              ///< pull toward the initial parameters as the arrivals grow (off by default)
  std::uint64_t seed = 0;
  std::ostream* progress = nullptr;   ///< a progress line every progress_seconds; null: silent
  double progress_seconds = 1.0;
  std::filesystem::path metrics_csv;  ///< a PipelineMetrics row every progress_seconds; empty: none
  std::filesystem::path checkpoint;   ///< where checkpoints go; empty: none
  std::size_t checkpoint_every_steps = 0;
  double checkpoint_every_seconds = 0;
  bool handle_interrupt = false;      ///< SIGINT (Ctrl-C) drains the run like request_stop()
  /// Called on the trainer thread at each validation (step, validation loss); the estimator holds the parameters
  /// just validated then (the moving average when parameter averaging is on), e.g. to snapshot them for a later
  /// C2ST. Must not call run() or resume().
  std::function<void(std::uint64_t step, double validation_loss)> on_validation;
  std::size_t max_failure_records = 1000;
};

} // namespace osbi::online
