// SPDX-License-Identifier: BSD-3-Clause
/// \brief ProposalHistory: every version of a changing proposal that drew rows, and how many rows each drew — the
/// q̄ of online importance weights p(θ)/q̄(θ), filled by the simulation workers while the trainer reads it.
#pragma once

#include <osbi/proposal/proposal.hpp>
#include <osbi/proposal/proposal_mixture.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace osbi {

/*
 * ProposalHistory<P> — the versions of one proposal that rows were drawn from, keyed by round, with the number of
 * rows each contributed (spec). Thread-safe: simulation workers note versions and count rows while a trainer
 * builds mixtures.
 *
 *   note(snapshot)            keeps a frozen version under snapshot.round() (once per round; later ones ignored).
 *   knows(round)              whether that round's version is kept.
 *   count(round, delta)       adds delta (may be negative: a row taken back) to the round's rows; the round must be
 *                             known (InvalidArgument otherwise) and its count stays >= 0.
 *   draws()                   rows per known round, (round, rows), by round.
 *   mixture()                 q̄ = Σ_r (n_r / N) q_r over the rounds with rows (ProposalMixture; empty when none).
 *   mixture(rounds)           the same with n_r the number of times r appears in `rounds` (e.g. a fixed set's own
 *                             rounds); a round not known: InvalidArgument.
 *
 * The importance weight of a row θ drawn by any version is p(θ)/q̄(θ) (ProposalMixture::importance_weights): the
 * balance heuristic over every row drawn so far, unbiased for a sample that does not pick rows by θ (a reservoir's
 * uniform subsample of the arrivals, or the arrivals themselves).
 */
template <SnapshotProposal P>
class ProposalHistory {
public:
  static constexpr const char* part = "osbi::ProposalHistory";

  void note(const P& snapshot) {
    const std::uint64_t round = static_cast<std::uint64_t>(snapshot.round());
    const std::lock_guard lock(m_mutex);
    m_versions.try_emplace(round, Entry{snapshot, 0});
  }

  bool knows(std::uint64_t round) const {
    const std::lock_guard lock(m_mutex);
    return m_versions.contains(round);
  }

  void count(std::uint64_t round, std::int64_t delta) {
    const std::lock_guard lock(m_mutex);
    const auto found = m_versions.find(round);
    require(found != m_versions.end(), part, "count: round ", round, " has no version (note() its snapshot before counting its rows)");
    require(delta >= 0 || found->second.rows >= static_cast<std::uint64_t>(-delta), part, "count: round ", round, " has ",
            found->second.rows, " rows, fewer than the ", -delta, " taken back");
    found->second.rows = static_cast<std::uint64_t>(static_cast<std::int64_t>(found->second.rows) + delta);
  }

  std::vector<std::pair<std::uint64_t, std::uint64_t>> draws() const {
    const std::lock_guard lock(m_mutex);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& [round, entry] : m_versions) out.emplace_back(round, entry.rows);
    return out;
  }

  ProposalMixture<P> mixture() const {
    ProposalMixture<P> out;
    const std::lock_guard lock(m_mutex);
    for (const auto& [round, entry] : m_versions) out.add(entry.version, entry.rows);
    return out;
  }

  ProposalMixture<P> mixture(const std::vector<std::uint64_t>& rounds) const {
    std::map<std::uint64_t, std::uint64_t> rows;
    for (const std::uint64_t round : rounds) ++rows[round];
    ProposalMixture<P> out;
    const std::lock_guard lock(m_mutex);
    for (const auto& [round, n] : rows) {
      const auto found = m_versions.find(round);
      require(found != m_versions.end(), part, "mixture: round ", round, " has no version");
      out.add(found->second.version, n);
    }
    return out;
  }

private:
  struct Entry {
    P version;
    std::uint64_t rows = 0;
  };
  mutable std::mutex m_mutex;
  std::map<std::uint64_t, Entry> m_versions;
};

namespace detail {
/// ProposalHistory<P> where P can be snapshotted, else void (a member that only such proposals use).
template <class P>
struct proposal_history_of {
  using type = void;
};
template <SnapshotProposal P>
struct proposal_history_of<P> {
  using type = ProposalHistory<P>;
};
} // namespace detail

} // namespace osbi
