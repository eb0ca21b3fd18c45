// SPDX-License-Identifier: BSD-3-Clause
/// \brief Roles: every layout the world allows gives each rank one role, the group counts and roots the spec says,
/// communicators of the right sizes; impossible layouts are a clear error on every rank.
#include <osbi/mpi/rank_layout.hpp>

#include <mpi/mpi_test_support.hpp>

#include <osbi/core/error.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

namespace mt = osbi::mpi_test;

BOOST_AUTO_TEST_SUITE(mpi_rank_layout)

BOOST_AUTO_TEST_CASE(each_rank_has_the_role_the_layout_gives) {
  const int ranks = mt::world_size(), rank = mt::world_rank();
  for (const int group_size : {1, 2, 3})
    for (const auto layout : mt::layouts(group_size)) {
      const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
      BOOST_TEST_CONTEXT("learners " << layout.learners << ", groups of " << group_size) {
        BOOST_TEST(roles.is_learner() == (rank < layout.learners));
        BOOST_TEST(roles.colocated() == (ranks == layout.learners));
        const int groups = roles.colocated() ? ranks : (ranks - layout.learners) / group_size;
        BOOST_TEST(roles.group_count() == groups);
        BOOST_TEST(roles.learners().member() == roles.is_learner());
        if (roles.is_learner()) BOOST_TEST(roles.learners().size() == layout.learners);
        BOOST_TEST(roles.simulates() == (roles.colocated() || !roles.is_learner()));
        if (roles.simulates()) {
          BOOST_TEST(roles.group().size() == group_size);
          BOOST_TEST(roles.group_roots()[static_cast<std::size_t>(roles.group_index())] == rank - roles.group().rank());
        }
        // Every group has exactly one root, and the roots are the ranks group_roots() names.
        const std::uint64_t roots = mt::sum_over_ranks(roles.is_group_root() ? 1u : 0u);
        BOOST_TEST(roots == static_cast<std::uint64_t>(groups));
        BOOST_TEST(roles.stream().size() == ranks);
      }
    }
}

BOOST_AUTO_TEST_CASE(an_impossible_layout_is_an_error) {
  const int ranks = mt::world_size();
  BOOST_CHECK_THROW(osbi::mpi::Roles(MPI_COMM_WORLD, {0, 1}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(osbi::mpi::Roles(MPI_COMM_WORLD, {ranks + 1, 1}), osbi::InvalidArgument);
  // Co-located learners simulate alone.
  BOOST_CHECK_THROW(osbi::mpi::Roles(MPI_COMM_WORLD, {ranks, 2}), osbi::InvalidArgument);
  if (ranks >= 3) BOOST_CHECK_THROW(osbi::mpi::Roles(MPI_COMM_WORLD, {1, ranks}), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
