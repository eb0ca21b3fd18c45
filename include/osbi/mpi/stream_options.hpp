// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::StreamOptions and the message tags of the sample stream (simulation group roots → learners).
#pragma once

#include <cstddef>

namespace osbi::mpi {

/// How samples travel from a group root to the learners.
struct StreamOptions {
  std::size_t rows_per_message = 64; ///< a message leaves once it holds this many rows…
  double max_delay_seconds = 0.05;   ///< …or once its first row has waited this long (slow simulators)
  /// Messages a sender may have sent to one learner and not yet seen received (synchronous sends): the bound that
  /// turns full learner buffers into waiting simulations, as a blocking buffer does in one process.
  std::size_t max_in_flight = 4;
  std::size_t max_failure_records = 1000; ///< failures whose θ and message travel (all are counted)
  /// Receivers take the senders' messages in a fixed rotation instead of as they come (with messages that leave
  /// only when full: the pipeline's deterministic mode, where each learner's rows arrive in one order every run).
  bool ordered = false;
};

/// Tags on Roles::stream(): samples and the end message share one (MPI keeps their order), stop another.
inline constexpr int sample_tag = 0x5b1;
inline constexpr int stop_tag = 0x5b2;

} // namespace osbi::mpi
