// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `SampleSource`: where a trainer takes batches of (θ, x) rows with their per-row metadata.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace osbi {

/// What a source delivers with each row: where it came from (SampleInfo, as the producer pushed
/// it) and what the store knows of it. The per-row metadata of a loss's batch (loss/batch.hpp).
struct SampleMetadata {
  std::uint64_t id = 0;            ///< arrival index: the row's PushResult::id
  std::uint64_t uses = 0;          ///< deliveries of this row, this one included (>= 1)
  std::uint64_t generation = 0;    ///< SampleInfo::generation (the proposal's round or id)
  double proposal_log_prob = 0.0;  ///< SampleInfo::proposal_log_prob
  double simulation_seconds = 0.0; ///< SampleInfo::simulation_seconds
  /// N·P: the probability this draw had, times the rows held then (1 for a uniform draw; a prioritized draw's
  /// importance weight is its −β power).
  double relative_draw_probability = 1.0;
};

/// What a source does with a row it delivered: a tag type, a source's `delivery_policy`.
namespace delivery {

/// A delivered row leaves the source: each row reaches the trainer exactly once (FIFO, FIRO).
struct Consume {
  static constexpr std::string_view name = "consume";
};

/// A delivered row stays and may be delivered again until it is evicted (reservoir, prioritized):
/// such a source never runs dry while it holds rows, so the caller needs its own stop rule.
struct Reuse {
  static constexpr std::string_view name = "reuse";
};

} // namespace delivery

/// One of the tags in osbi::delivery.
template <class Policy>
concept DeliveryPolicy = std::same_as<Policy, delivery::Consume> || std::same_as<Policy, delivery::Reuse>;

/// Whether a source's delivered rows stay and can be delivered again (delivery::Reuse) rather than
/// being consumed (delivery::Consume).
template <class Source>
inline constexpr bool reuses_rows = std::same_as<typename Source::delivery_policy, delivery::Reuse>;

/*
 * SampleSource — the consumer side of a buffer (spec). Every member is safe to call from any number
 * of threads at once. Rows may come from a store in this process or from elsewhere (another rank).
 *
 *   typename S::scalar_type       floating-point type of θ and x.
 *   typename S::delivery_policy   osbi::delivery::Consume or Reuse (read it as reuses_rows<S>).
 *   s.theta_dim(), s.x_dim()      D_θ and D_x (> 0).
 *   s.sample_batch(n, theta_out, x_out)
 *   s.sample_batch(n, theta_out, x_out, ids_out)        std::span<std::uint64_t>
 *   s.sample_batch(n, theta_out, x_out, metadata_out)   std::span<SampleMetadata>
 *                                 n > 0 (else InvalidArgument); theta_out n × D_θ and x_out n × D_x
 *                                 values (std::span<scalar_type>, C order), ids_out / metadata_out
 *                                 empty or n entries (else DimensionMismatch); all checked before
 *                                 waiting. Waits until the source can deliver (by its own rule) or
 *                                 until close. Then writes rows [0, k) of the outputs (the rest is
 *                                 left as is) and returns k <= n, k > 0 unless the source is closed
 *                                 and has nothing deliverable. Each delivered row's use count grows by
 *                                 one; row r's id (ids_out[r], metadata_out[r].id) is its arrival
 *                                 index and its metadata is as pushed (SampleInfo), with `uses`
 *                                 counting this delivery. Under delivery::Consume a row is delivered
 *                                 once; under Reuse it may come again (even twice in one batch, if
 *                                 the model says so).
 *   s.arrivals()                  rows accepted so far (= the next id); never decreases.
 *   s.wait_for_arrivals(count)    waits until arrivals() >= count: true then; false if the source
 *                                 was closed first. Wakes on close.
 *   s.closed()                    whether the source is closed (no more rows will arrive).
 */
namespace sample_source_requirements {

template <class S>
concept HasTypes = std::floating_point<typename S::scalar_type> && DeliveryPolicy<typename S::delivery_policy>;

template <class S>
concept HasDims = requires(const S& source) {
  { source.theta_dim() } -> std::convertible_to<std::size_t>;
  { source.x_dim() } -> std::convertible_to<std::size_t>;
};

template <class S>
concept CanSampleBatch = requires(S& source, std::size_t n, std::span<typename S::scalar_type> theta,
                                  std::span<typename S::scalar_type> x, std::span<std::uint64_t> ids,
                                  std::span<SampleMetadata> metadata) {
  { source.sample_batch(n, theta, x) } -> std::same_as<std::size_t>;
  { source.sample_batch(n, theta, x, ids) } -> std::same_as<std::size_t>;
  { source.sample_batch(n, theta, x, metadata) } -> std::same_as<std::size_t>;
};

template <class S>
concept HasArrivals = requires(S& source, const S& view, std::uint64_t count) {
  { view.arrivals() } -> std::same_as<std::uint64_t>;
  { source.wait_for_arrivals(count) } -> std::same_as<bool>;
  { view.closed() } -> std::same_as<bool>;
};

} // namespace sample_source_requirements

template <class S>
concept SampleSource = sample_source_requirements::HasTypes<S> && sample_source_requirements::HasDims<S> &&
    sample_source_requirements::CanSampleBatch<S> && sample_source_requirements::HasArrivals<S>;

} // namespace osbi
