// SPDX-License-Identifier: BSD-3-Clause
/// \brief Main of the MPI tests: MPI (MPI_THREAD_MULTIPLE) and Kokkos live for the whole run on every rank; the
/// exit status is the worst over the ranks, so a case that fails on one rank fails the run.
#define BOOST_TEST_MODULE osbi_mpi
#define BOOST_TEST_NO_MAIN
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_MULTIPLE) {
    if (rank == 0) std::fprintf(stderr, "osbi mpi tests: this MPI does not provide MPI_THREAD_MULTIPLE\n");
    MPI_Finalize();
    return 1;
  }
  int status = 0;
  {
    Kokkos::initialize(argc, argv);
    if (rank == 0)
      std::cout << "osbi mpi tests: " << size << " rank(s), OSBI_TEST_SEED=" << osbi::testing::test_seed() << " Kokkos "
                << KOKKOS_VERSION << " " << Kokkos::DefaultExecutionSpace::name() << '\n';
    status = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
    Kokkos::finalize();
  }
  int worst = 0;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
