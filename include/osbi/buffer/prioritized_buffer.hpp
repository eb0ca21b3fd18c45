// SPDX-License-Identifier: BSD-3-Clause
/// \brief PrioritizedBuffer: rows drawn with probability ∝ (priority + ε)^α, priorities fed back by the trainer.
#pragma once

#include <osbi/buffer/buffer_base.hpp>
#include <osbi/buffer/detail/indexed_heap.hpp>
#include <osbi/buffer/detail/sum_tree.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace osbi {

/// Options of prioritized sampling (Schaul et al., "Prioritized Experience Replay", 2016).
struct PriorityOptions {
  double alpha = 0.6;            ///< >= 0: 0 is uniform, 1 is proportional to priority + ε
  double epsilon = 1e-6;         ///< > 0: every row keeps a chance to be drawn
  double initial_priority = 1.0; ///< > 0: the first rows' priority (later rows get the largest so far)
};

/// A replay buffer that draws rows with probability (p_i + ε)^α / Σ_j (p_j + ε)^α — independently,
/// with replacement, as prioritized experience replay does, so a row may appear twice in a batch of
/// min(n, size()) draws — from a sum tree over the rows held (O(log n) per draw and per update).
///
/// A new row gets the largest priority assigned so far, so it is drawn soon; afterwards the trainer
/// sets priorities with update_priorities(ids, priorities), typically a per-sample loss mapped to
/// >= 0 (an NLL can be negative: subtract the batch minimum, or pass |loss − mean|). Eviction, when a
/// push meets a full buffer: among the rows delivered at least once, the lowest priority (ties: the
/// most used, then the oldest); a row never delivered only when none has been (overflow::Evict: the
/// oldest unseen; overflow::Block: the push waits until some row has been delivered).
///
/// α, ε and the initial priority are options of the buffer, not state: restore() into a buffer with
/// the same PriorityOptions continues exactly.
template <OverflowPolicy Overflow = overflow::Block, std::floating_point Scalar = real_t>
class PrioritizedBuffer : public BufferBase<PrioritizedBuffer<Overflow, Scalar>, Overflow, Scalar> {
  using Base = BufferBase<PrioritizedBuffer<Overflow, Scalar>, Overflow, Scalar>;
  friend Base;

public:
  using delivery_policy = delivery::Reuse;
  static constexpr std::string_view kind = "prioritized";
  static constexpr std::string_view part = "osbi::PrioritizedBuffer";

  explicit PrioritizedBuffer(const BufferOptions& options, const PriorityOptions& priority = {})
      : Base(options), m_priority_options(priority), m_priority(options.capacity, 0.0),
        m_weight(options.capacity, 0.0), m_weights(options.capacity), m_seen(options.capacity),
        m_max_priority(priority.initial_priority) {
    require(std::isfinite(priority.alpha) && priority.alpha >= 0, part, "alpha = ", priority.alpha,
            " must be finite and >= 0");
    require(std::isfinite(priority.epsilon) && priority.epsilon > 0, part, "epsilon = ", priority.epsilon,
            " must be finite and > 0");
    require(std::isfinite(priority.initial_priority) && priority.initial_priority > 0, part,
            "initial_priority = ", priority.initial_priority, " must be finite and > 0");
    require(valid_weight(weight(priority.initial_priority)), part, "initial_priority = ", priority.initial_priority,
            " gives the sampling weight ", weight(priority.initial_priority), " (must be finite and > 0)");
    m_slot_of_id.reserve(options.capacity);
  }

  const PriorityOptions& priority_options() const { return m_priority_options; }

  /// N·P: the probability with which sample_batch draws the row in `slot`, times the rows held — how much more
  /// likely than a uniform draw (each delivered row's SampleMetadata::relative_draw_probability). Caller holds
  /// the buffer's lock (sample_batch does).
  double relative_draw_probability(std::size_t slot) const {
    return m_weight[slot] / m_weights.total() * static_cast<double>(this->held());
  }

  /// Sets the priority of each listed sample still held (ids of samples gone are skipped) and
  /// returns how many were held. Every priority must be finite, >= 0 and give a finite weight
  /// (InvalidArgument naming it, nothing changed); sizes must agree (DimensionMismatch).
  std::size_t update_priorities(std::span<const std::uint64_t> ids, std::span<const double> priorities) {
    require_extent(priorities.size(), ids.size(), part, "update_priorities: priorities (one per id)");
    for (std::size_t k = 0; k < priorities.size(); ++k)
      require(std::isfinite(priorities[k]) && priorities[k] >= 0 && valid_weight(weight(priorities[k])), part,
              "update_priorities: priority[", k, "] = ", priorities[k], " (id ", ids[k],
              ") must be finite and >= 0, with a finite weight (p + epsilon)^alpha");
    std::size_t updated = 0;
    {
      const std::lock_guard lock(this->state_mutex());
      for (std::size_t k = 0; k < ids.size(); ++k) {
        const auto found = m_slot_of_id.find(ids[k]);
        if (found == m_slot_of_id.end()) continue;
        const std::size_t slot = found->second;
        set_priority(slot, priorities[k]);
        if (m_seen.contains(slot)) m_seen.update(slot, evict_first());
        m_max_priority = std::max(m_max_priority, priorities[k]);
        ++updated;
      }
    }
    return updated;
  }

  /// The priority of a held sample, or nothing if it is not held.
  std::optional<double> priority_of(std::uint64_t id) const {
    const std::lock_guard lock(this->state_mutex());
    const auto found = m_slot_of_id.find(id);
    if (found == m_slot_of_id.end()) return std::nullopt;
    return m_priority[found->second];
  }

  /// The priority a new sample gets now.
  double max_priority() const {
    const std::lock_guard lock(this->state_mutex());
    return m_max_priority;
  }

private:
  static constexpr bool random_delivery = true;

  double weight(double priority) const {
    return std::pow(priority + m_priority_options.epsilon, m_priority_options.alpha);
  }
  static bool valid_weight(double weight) { return std::isfinite(weight) && weight > 0; }

  /// Eviction order of the seen rows: lower priority first, then more uses, then lower id.
  auto evict_first() const {
    return [this](std::size_t a, std::size_t b) {
      if (m_priority[a] != m_priority[b]) return m_priority[a] < m_priority[b];
      const auto uses_a = this->uses_of(a), uses_b = this->uses_of(b);
      return uses_a != uses_b ? uses_a > uses_b : this->id_of(a) < this->id_of(b);
    };
  }

  std::size_t pick(RowRandom& rng, std::size_t /*row*/) const {
    const std::size_t position = m_weights.find(rng.uniform() * m_weights.total());
    return this->slot_at(std::min(position, this->held() - 1));
  }

  std::size_t victim(bool allow_unseen) const {
    if (!m_seen.empty()) return m_seen.top();
    return allow_unseen ? this->oldest_unseen() : Base::none;
  }

  void set_priority(std::size_t slot, double priority) {
    m_priority[slot] = priority;
    m_weight[slot] = weight(priority);
    m_weights.set(this->position_of(slot), m_weight[slot]);
  }

  void inserted(std::size_t slot) {
    set_priority(slot, m_max_priority);
    m_slot_of_id.emplace(this->id_of(slot), slot);
  }

  // The leaf of a removed row is overwritten by moved() unless the row was the last one.
  void removing(std::size_t slot) {
    if (m_seen.contains(slot)) m_seen.erase(slot, evict_first());
    if (this->position_of(slot) == this->held() - 1) m_weights.set(this->position_of(slot), 0.0);
    m_slot_of_id.erase(this->id_of(slot));
  }

  void moved(std::size_t slot, std::size_t from, std::size_t to) {
    m_weights.set(to, m_weight[slot]);
    m_weights.set(from, 0.0);
  }

  void delivered(std::size_t slot, bool first_use) {
    if (first_use)
      m_seen.insert(slot, evict_first());
    else
      m_seen.update(slot, evict_first());
  }

  void save_state(BufferState<Scalar>& state) const {
    for (std::size_t position = 0; position < this->held(); ++position)
      state.priorities.push_back(m_priority[this->slot_at(position)]);
    state.max_priority = m_max_priority;
  }

  void check_model_state(const BufferState<Scalar>& state) const {
    require<DataError>(state.priorities.size() == state.rows(), part, "restore: the state has ",
                       state.priorities.size(), " priorities for ", state.rows(), " rows");
    require<DataError>(std::isfinite(state.max_priority) && state.max_priority > 0 &&
                           valid_weight(weight(state.max_priority)),
                       part, "restore: max_priority = ", state.max_priority, " must be finite and > 0");
    for (std::size_t k = 0; k < state.rows(); ++k)
      require<DataError>(std::isfinite(state.priorities[k]) && state.priorities[k] >= 0 &&
                             state.priorities[k] <= state.max_priority && valid_weight(weight(state.priorities[k])),
                         part, "restore: priority ", state.priorities[k], " of row ", k, " (id ", state.ids[k],
                         ") must be finite, >= 0 and <= max_priority = ", state.max_priority);
  }

  void restored(const BufferState<Scalar>& state) {
    m_weights.clear();
    m_seen.clear();
    m_slot_of_id.clear();
    for (std::size_t position = 0; position < this->held(); ++position) {
      const std::size_t slot = this->slot_at(position);
      set_priority(slot, state.priorities[position]);
      m_slot_of_id.emplace(this->id_of(slot), slot);
    }
    for (std::size_t position = 0; position < this->held(); ++position) {
      const std::size_t slot = this->slot_at(position);
      if (this->uses_of(slot) > 0) m_seen.insert(slot, evict_first());
    }
    m_max_priority = state.max_priority;
  }

  PriorityOptions m_priority_options;
  std::vector<double> m_priority; ///< slot → priority
  std::vector<double> m_weight;   ///< slot → (priority + ε)^α
  detail::SumTree m_weights;      ///< position → the weight of the row there
  detail::IndexedHeap m_seen;     ///< the rows delivered at least once, in eviction order
  std::unordered_map<std::uint64_t, std::size_t> m_slot_of_id;
  double m_max_priority;
};

static_assert(SampleBuffer<PrioritizedBuffer<overflow::Block>> &&
              SampleBuffer<PrioritizedBuffer<overflow::Evict, double>>);
static_assert(PrioritizedSampleSource<PrioritizedBuffer<overflow::Block>>);

} // namespace osbi
