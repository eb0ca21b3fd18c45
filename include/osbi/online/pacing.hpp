// SPDX-License-Identifier: BSD-3-Clause
/// \brief Pacing of an online trainer: the replay-ratio cap (samples trained per sample arrived) and the learning-rate warm-up tied to arrivals.
#pragma once

#include <osbi/online/options.hpp>

#include <osbi/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace osbi::online {

/*
 * Pacing (options.hpp) — why: offline training sees each simulation once per epoch; online, a trainer faster than
 * its simulators reuses the first rows hundreds of times and settles on what they alone say (the PDE benchmark's
 * online run reused its rows ~370 times and plateaued at a worse validation NLL). The cap bounds that reuse, the
 * warm-up keeps the first steps small while few rows exist.
 *
 *   replay_cap(p, arrivals)                   the cap at this many arrivals (0: none)
 *   replay_allows(p, trained, batch, arrivals) whether a batch may be trained now: trained + batch ≤ cap · arrivals
 *   arrivals_for_next_batch(p, trained, batch, arrivals)   the arrivals to wait for (at least one more) under the
 *                                             current cap; a schedule is re-read after each wait
 *   learning_rate_factor(p, arrivals)         min(1, arrivals / warmup_arrivals), 1 without a warm-up
 */
inline double replay_cap(const Pacing& pacing, std::uint64_t arrivals) {
  const double cap = pacing.replay_ratio_schedule ? pacing.replay_ratio_schedule(arrivals) : pacing.max_replay_ratio;
  require(std::isfinite(cap) && cap >= 0, "osbi::online::Pacing", "the replay-ratio cap must be finite and >= 0, not ", cap,
          " (at ", arrivals, " arrivals)");
  return cap;
}

inline bool replay_allows(const Pacing& pacing, std::uint64_t trained, std::size_t batch, std::uint64_t arrivals) {
  const double cap = replay_cap(pacing, arrivals);
  return cap == 0 || static_cast<double>(trained + batch) <= cap * static_cast<double>(arrivals);
}

inline std::uint64_t arrivals_for_next_batch(const Pacing& pacing, std::uint64_t trained, std::size_t batch, std::uint64_t arrivals) {
  const double cap = replay_cap(pacing, arrivals);
  if (cap == 0) return arrivals;
  const auto needed = static_cast<std::uint64_t>(std::ceil(static_cast<double>(trained + batch) / cap));
  return std::max(arrivals + 1, needed);
}

inline double learning_rate_factor(const Pacing& pacing, std::uint64_t arrivals) {
  if (pacing.warmup_arrivals == 0) return 1.0;
  return std::min(1.0, static_cast<double>(arrivals) / static_cast<double>(pacing.warmup_arrivals));
}

} // namespace osbi::online
