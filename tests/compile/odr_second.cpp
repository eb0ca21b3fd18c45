// SPDX-License-Identifier: BSD-3-Clause
/// \brief With odr_first.cpp: two translation units that include osbi.hpp link into one program.
#include <osbi/osbi.hpp>

int second_translation_unit_dimension() {
  const osbi::BoxUniform<double, osbi::HostExecutionSpace> prior({0.0, 0.0}, {1.0, 1.0});
  return static_cast<int>(prior.dim());
}
