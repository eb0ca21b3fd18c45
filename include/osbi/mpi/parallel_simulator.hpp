// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `ParallelSimulator` (a user's MPI-parallel solver, run by every rank of a simulation group) and GroupSimulator, which drives one from the group's root.
#pragma once

#include <osbi/mpi/communicator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>

#include <mpi.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::mpi {

/*
 * ParallelSimulator — what an MPI-parallel solver provides (spec):
 *
 *   s.theta_dim(), s.x_dim()            D_θ and D_x (> 0), the same on every member.
 *   s.simulate(group, theta, x, rng)    collective over `group` (const Communicator&: the simulation group's
 *                                       own communicator; the solver's messages use it and nothing else).
 *                                       Every member gets the same θ (D_θ doubles) and the same rng (so a
 *                                       stochastic solver draws alike everywhere); x (D_x doubles, NaN-filled)
 *                                       must hold the result on group rank 0 when the call returns — the other
 *                                       members' x is ignored. May throw on any member, or leave NaN/±Inf in
 *                                       x: the root records the simulation as failed (its θ and the message).
 *                                       A throwing member must not leave the others waiting inside a collective
 *                                       of its own (throw before or after the solver's communication).
 */
template <class S>
concept ParallelSimulator = requires(S& solver, const Communicator& group, std::span<const double> theta, std::span<double> x,
                                     RowRandom& rng) {
  { solver.theta_dim() } -> std::convertible_to<std::size_t>;
  { solver.x_dim() } -> std::convertible_to<std::size_t>;
  solver.simulate(group, theta, x, rng);
};

namespace detail {

static_assert(std::is_trivially_copyable_v<RowRandom>, "osbi::mpi: RowRandom travels as bytes");

/// What the root broadcasts before each solve: run θ with this generator, or stop serving.
struct GroupCommand {
  std::uint64_t stop = 0;
  RowRandom rng{0, 0, 0, 0, 0};
};

/// One solve on every member: the command, θ, the solver, then who failed (the lowest failing rank, or size).
template <ParallelSimulator Solver>
int group_solve(const Communicator& group, Solver& solver, std::span<double> theta, std::span<double> x, RowRandom rng,
                std::string& error) {
  check(MPI_Bcast(theta.data(), static_cast<int>(theta.size()), MPI_DOUBLE, 0, group.get()), "osbi::mpi::GroupSimulator", "MPI_Bcast");
  try {
    solver.simulate(group, std::span<const double>(theta), x, rng);
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "a non-standard exception";
  }
  int failed = error.empty() ? group.size() : group.rank();
  check(MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MIN, group.get()), "osbi::mpi::GroupSimulator", "MPI_Allreduce");
  return failed;
}

} // namespace detail

/*
 * GroupSimulator<Solver> — a PointSimulator for the group root's workers (run with one worker: the group solves
 * one θ at a time). simulate(θ, x, rng) broadcasts the command and θ to the group, runs the solver on every
 * member, and throws on the root if any member threw (the root's own message, or the failing rank's number).
 * The other members run serve_group_member() until the root calls stop_members(). Copies share the solver and
 * the communicator (SimulationWorkers copies its point simulator per worker; with one worker one copy runs).
 */
template <ParallelSimulator Solver>
class GroupSimulator {
public:
  GroupSimulator(const Communicator& group, Solver& solver) : m_group(&group), m_solver(&solver) {
    require(group.member() && group.rank() == 0, "osbi::mpi::GroupSimulator", "runs on the group's root (group rank 0)");
  }

  std::size_t theta_dim() const { return static_cast<std::size_t>(m_solver->theta_dim()); }
  std::size_t x_dim() const { return static_cast<std::size_t>(m_solver->x_dim()); }

  void simulate(std::span<const double> theta, std::span<double> x, RowRandom& rng) {
    detail::GroupCommand command{0, rng};
    check(MPI_Bcast(&command, sizeof command, MPI_BYTE, 0, m_group->get()), "osbi::mpi::GroupSimulator", "MPI_Bcast");
    std::vector<double> shared(theta.begin(), theta.end());
    std::string error;
    const int failed = detail::group_solve(*m_group, *m_solver, shared, x, rng, error);
    if (failed == 0) throw Error("osbi::mpi::GroupSimulator", error);
    if (failed < m_group->size())
      throw Error("osbi::mpi::GroupSimulator", osbi::detail::concat("rank ", failed, " of the simulation group threw"));
  }

  /// Releases the members from serve_group_member() (once, after the last solve).
  void stop_members() {
    detail::GroupCommand command{1, RowRandom{0, 0, 0, 0, 0}};
    check(MPI_Bcast(&command, sizeof command, MPI_BYTE, 0, m_group->get()), "osbi::mpi::GroupSimulator", "MPI_Bcast");
  }

private:
  const Communicator* m_group;
  Solver* m_solver;
};

/// On a group member other than the root: solves what the root commands until it says stop. Returns the solves.
template <ParallelSimulator Solver>
std::uint64_t serve_group_member(const Communicator& group, Solver& solver) {
  require(group.member() && group.rank() != 0, "osbi::mpi::serve_group_member", "runs on the group's members other than rank 0");
  std::vector<double> theta(static_cast<std::size_t>(solver.theta_dim())), x(static_cast<std::size_t>(solver.x_dim()));
  std::uint64_t solves = 0;
  for (;;) {
    detail::GroupCommand command;
    check(MPI_Bcast(&command, sizeof command, MPI_BYTE, 0, group.get()), "osbi::mpi::serve_group_member", "MPI_Bcast");
    if (command.stop) return solves;
    std::fill(x.begin(), x.end(), std::numeric_limits<double>::quiet_NaN());
    std::string error;
    detail::group_solve(group, solver, theta, x, command.rng, error);
    ++solves;
  }
}

} // namespace osbi::mpi
