// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `PrioritizedSampleSource`: a SampleSource whose draws the trainer steers with per-row priorities.
#pragma once

#include <osbi/buffer/sample_source.hpp>

#include <cstdint>
#include <span>

namespace osbi {

/*
 * PrioritizedSampleSource — a SampleSource (osbi/buffer/sample_source.hpp) that takes feedback (spec).
 *
 *   s.update_priorities(ids, values)
 *                                 ids: std::span<const std::uint64_t> of delivered ids, values:
 *                                 std::span<const double>, one per id (else DimensionMismatch). Sets
 *                                 the priority of each listed row the source still holds (ids of rows
 *                                 gone are skipped); later draws favour higher priorities by the
 *                                 model's rule. Every value must be finite and >= 0 (else
 *                                 InvalidArgument, nothing changed). Safe to call concurrently with
 *                                 everything else. Generic code ignores what it returns (a model may
 *                                 return how many ids it still held).
 *
 * The online pipeline feeds it the per-row loss of each batch it trained on (shifted to be >= 0).
 */
namespace prioritized_sample_source_requirements {

template <class S>
concept CanUpdatePriorities = requires(S& source, std::span<const std::uint64_t> ids, std::span<const double> values) {
  source.update_priorities(ids, values);
};

} // namespace prioritized_sample_source_requirements

template <class S>
concept PrioritizedSampleSource = SampleSource<S> && prioritized_sample_source_requirements::CanUpdatePriorities<S>;

} // namespace osbi
