// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::RankLayout and mpi::Roles: which ranks learn and which simulate, in groups, and the communicators of each role.
#pragma once

#include <osbi/mpi/communicator.hpp>

#include <osbi/core/error.hpp>

#include <mpi.h>

#include <vector>

namespace osbi::mpi {

/// How the caller's ranks are split (ranks counted in the communicator given to Roles).
struct RankLayout {
  int learners = 1;              ///< ranks 0 … learners − 1 train, data-parallel
  int simulation_group_size = 1; ///< the other ranks, in consecutive groups of this many, each running one solver
};

/*
 * Roles(parent, layout) — a collective over `parent` (any communicator of the caller's; osbi never names
 * MPI_COMM_WORLD). With P ranks and L learners:
 *
 *   P > L   ranks L … P − 1 form (P − L) / g simulation groups of g consecutive ranks (g divides P − L);
 *           the group's first rank is its root: it draws θ, runs the workers and streams (θ, x) to the
 *           learners; the other members serve the root's solves (mpi/group_simulator.hpp).
 *   P = L   every learner also simulates, as a group of one (g must be 1): the same code on one rank or on
 *           a few, the samples travelling as messages to self or to another learner.
 *
 * Communicators (each osbi's own duplicate or split, freed with the Roles):
 *   world()     every rank (osbi's collectives: accounting, stop decisions)
 *   stream()    every rank; only sample messages travel on it, so probes never see anything else
 *   learners()  the learners (gradient allreduce); empty elsewhere
 *   group()     the members of this rank's simulation group; empty on a learner that does not simulate
 */
class Roles {
public:
  Roles(MPI_Comm parent, RankLayout layout) : m_world(parent), m_stream(parent), m_layout(layout) {
    constexpr const char* part = "osbi::mpi::Roles";
    const int ranks = m_world.size();
    require(layout.learners >= 1 && layout.learners <= ranks, part, "learners = ", layout.learners, " must be in [1, ",
            ranks, "] (the communicator has ", ranks, " ranks)");
    require(layout.simulation_group_size >= 1, part, "simulation_group_size must be >= 1, not ", layout.simulation_group_size);
    const int simulation_ranks = ranks - layout.learners;
    m_colocated = simulation_ranks == 0;
    if (m_colocated) {
      require(layout.simulation_group_size == 1, part, "with every rank a learner (", ranks,
              " ranks, learners = ", layout.learners, ") each learner simulates alone: simulation_group_size must be 1, not ",
              layout.simulation_group_size);
      m_groups = layout.learners;
    } else {
      require(simulation_ranks % layout.simulation_group_size == 0, part, "the ", simulation_ranks,
              " simulation ranks (", ranks, " ranks − ", layout.learners, " learners) do not split into groups of ",
              layout.simulation_group_size);
      m_groups = simulation_ranks / layout.simulation_group_size;
    }
    const int rank = m_world.rank();
    m_learner = rank < layout.learners;
    m_group_index = m_colocated ? rank : (m_learner ? -1 : (rank - layout.learners) / layout.simulation_group_size);
    m_learners = m_world.split(m_learner ? 0 : -1, rank);
    m_group = m_world.split(m_group_index, rank);
  }

  const Communicator& world() const { return m_world; }
  const Communicator& stream() const { return m_stream; }
  const Communicator& learners() const { return m_learners; }
  const Communicator& group() const { return m_group; }
  const RankLayout& layout() const { return m_layout; }

  bool is_learner() const { return m_learner; }
  /// Whether this rank belongs to a simulation group (a co-located learner does).
  bool simulates() const { return m_group_index >= 0; }
  /// Whether this rank streams its group's samples to the learners.
  bool is_group_root() const { return simulates() && m_group.rank() == 0; }
  /// Whether the learners simulate themselves (no simulation-only ranks).
  bool colocated() const { return m_colocated; }
  int learner_count() const { return m_layout.learners; }
  int group_count() const { return m_groups; }
  /// This rank's simulation group, or −1.
  int group_index() const { return m_group_index; }

  /// Ranks (in stream()) of the learners, learner 0 first.
  std::vector<int> learner_ranks() const {
    std::vector<int> out(static_cast<std::size_t>(m_layout.learners));
    for (int i = 0; i < m_layout.learners; ++i) out[static_cast<std::size_t>(i)] = i;
    return out;
  }
  /// Ranks (in stream()) of the group roots, group 0 first.
  std::vector<int> group_roots() const {
    std::vector<int> out(static_cast<std::size_t>(m_groups));
    for (int k = 0; k < m_groups; ++k)
      out[static_cast<std::size_t>(k)] = m_colocated ? k : m_layout.learners + k * m_layout.simulation_group_size;
    return out;
  }

private:
  Communicator m_world, m_stream;
  RankLayout m_layout;
  Communicator m_learners, m_group;
  bool m_learner = false, m_colocated = false;
  int m_groups = 0, m_group_index = -1;
};

} // namespace osbi::mpi
