// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `SampleSink`: where producers (simulation workers) put (θ, x) rows and their metadata.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace osbi {

/// What a producer attaches to a sample; kept with the row and delivered with it (SampleMetadata,
/// osbi/buffer/sample_source.hpp), so a loss can correct for where θ came from.
/// (proposal_log_prob comes last so that positional initializers written before it existed,
/// `SampleInfo{generation, seconds}`, keep their meaning.)
struct SampleInfo {
  std::uint64_t generation = 0;    ///< the proposal's round or id that drew θ (0: the prior)
  double simulation_seconds = 0.0; ///< wall time the simulation took
  double proposal_log_prob = 0.0;  ///< log density of the proposal that drew θ, at θ (stored as given)
};

/// Outcome of one push.
enum class PushStatus : std::uint8_t {
  accepted,        ///< stored; `id` is its arrival index
  dropped_invalid, ///< θ or x held a NaN or ±Inf: not stored, counted dropped_invalid
  closed,          ///< the sink was closed (before or while the push waited): counted rejected_closed
};

inline std::string_view push_status_name(PushStatus status) {
  switch (status) {
  case PushStatus::accepted:
    return "accepted";
  case PushStatus::dropped_invalid:
    return "dropped_invalid";
  case PushStatus::closed:
    return "closed";
  }
  return "unknown";
}

struct PushResult {
  PushStatus status = PushStatus::closed;
  std::uint64_t id = 0;                 ///< the sample's id (= arrival index, from 0) if accepted
  std::optional<std::uint64_t> evicted; ///< the id of the row this push evicted, if any
  bool accepted() const { return status == PushStatus::accepted; }
};

/*
 * SampleSink — the producer side of a buffer (spec). Every member is safe to call from any number
 * of threads at once. A sink may hand rows on to a store elsewhere (another rank's buffer): nothing
 * here says where rows go, only what a push reports.
 *
 *   typename S::scalar_type       floating-point type of θ and x.
 *   s.theta_dim(), s.x_dim()      D_θ and D_x, fixed for the sink's life (> 0).
 *   s.push(theta, x, info)        theta, x: std::span<const scalar_type> of D_θ and D_x values (else
 *                                 DimensionMismatch, nothing counted: a programming error); info: a
 *                                 SampleInfo that travels with the row. Returns a PushResult:
 *                                 `dropped_invalid` if a value of θ or x is NaN/±Inf (not stored);
 *                                 `closed` after close(); else `accepted` with id = arrival index
 *                                 (0, 1, 2, ... in the order rows are accepted; rejected pushes take no
 *                                 id) and, if making room removed a row, its id in `evicted`. May wait
 *                                 for room (back-pressure); close() ends the wait with `closed`.
 *   s.close()                     idempotent; every later push returns `closed`, every waiting push
 *                                 wakes and returns `closed`. s.closed() tells.
 *   s.blocked_producers()         pushes waiting for room at this instant. A caller that must see a
 *                                 consistent cut (no push between "accepted" and "counted by the
 *                                 caller") waits until its own in-flight pushes all show up here.
 */
namespace sample_sink_requirements {

template <class S>
concept HasTypes = std::floating_point<typename S::scalar_type>;

template <class S>
concept HasDims = requires(const S& sink) {
  { sink.theta_dim() } -> std::convertible_to<std::size_t>;
  { sink.x_dim() } -> std::convertible_to<std::size_t>;
};

template <class S>
concept CanPush = requires(S& sink, std::span<const typename S::scalar_type> theta,
                           std::span<const typename S::scalar_type> x, const SampleInfo& info) {
  { sink.push(theta, x, info) } -> std::same_as<PushResult>;
};

template <class S>
concept CanClose = requires(S& sink, const S& view) {
  sink.close();
  { view.closed() } -> std::same_as<bool>;
  { view.blocked_producers() } -> std::convertible_to<std::size_t>;
};

} // namespace sample_sink_requirements

template <class S>
concept SampleSink = sample_sink_requirements::HasTypes<S> && sample_sink_requirements::HasDims<S> &&
    sample_sink_requirements::CanPush<S> && sample_sink_requirements::CanClose<S>;

} // namespace osbi
