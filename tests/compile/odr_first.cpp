// SPDX-License-Identifier: BSD-3-Clause
/// \brief With odr_second.cpp: two translation units that include osbi.hpp link into one program.
#include <osbi/osbi.hpp>

int second_translation_unit_dimension();

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  const osbi::BoxUniform<double, osbi::HostExecutionSpace> prior({-1.0, -2.0}, {1.0, 2.0});
  return (static_cast<int>(prior.dim()) == second_translation_unit_dimension()) ? 0 : 1;
}
