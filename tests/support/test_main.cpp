// SPDX-License-Identifier: BSD-3-Clause
/// \brief Shared Boost.Test main: Kokkos lives for the whole test run; the seed is printed.
#define BOOST_TEST_MODULE osbi
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <iostream>

struct KokkosRuntime {
  KokkosRuntime() {
    Kokkos::initialize();
    std::cout << "osbi tests: OSBI_TEST_SEED=" << osbi::testing::test_seed() << " Kokkos " << KOKKOS_VERSION
              << " default execution space " << Kokkos::DefaultExecutionSpace::name() << " with "
              << Kokkos::DefaultExecutionSpace().concurrency() << " thread(s)\n";
  }
  ~KokkosRuntime() { Kokkos::finalize(); }
};

BOOST_TEST_GLOBAL_FIXTURE(KokkosRuntime);
