// SPDX-License-Identifier: BSD-3-Clause
/// \brief The MPI tests' helpers: sums and equality checks over ranks, the layouts a world size allows.
#pragma once

#include <osbi/mpi/rank_layout.hpp>

#include <mpi.h>

#include <cstdint>
#include <vector>

namespace osbi::mpi_test {

inline int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}
inline int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline std::uint64_t sum_over_ranks(std::uint64_t value) {
  std::uint64_t total = 0;
  MPI_Allreduce(&value, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return total;
}
inline double max_over_ranks(double value) {
  double out = 0;
  MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}
/// Whether a condition holds on every rank (so every rank takes the same branch after a check).
inline bool on_every_rank(bool condition) {
  int value = condition ? 1 : 0, out = 0;
  MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out == 1;
}

/// Every layout of the world with groups of `group_size`: 1 … P learners, the rest in groups (or all co-located).
inline std::vector<mpi::RankLayout> layouts(int group_size) {
  const int ranks = world_size();
  std::vector<mpi::RankLayout> out;
  for (int learners = 1; learners <= ranks; ++learners) {
    const int rest = ranks - learners;
    if (rest == 0 ? group_size == 1 : rest % group_size == 0) out.push_back({learners, group_size});
  }
  return out;
}

} // namespace osbi::mpi_test
