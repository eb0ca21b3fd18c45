// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: satisfaction of .+Simulator<S>.+required expression .+simulator\.x_dim\(\).+ is invalid
/// \brief Must not compile: a batched simulator without x_dim() is not an osbi::Simulator.
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace {

// Everything a Simulator needs except x_dim().
struct SimulatorWithoutXDim {
  using scalar_type = double;
  using execution_space = Kokkos::DefaultExecutionSpace;
  std::size_t theta_dim() const { return 2; }
  void simulate(const execution_space&, const osbi::ConstMatrix<double, execution_space>&,
                const osbi::Matrix<double, execution_space>&, osbi::BatchRandom) {}
};

template <osbi::Simulator S>
std::size_t output_width(S& simulator) {
  return simulator.x_dim();
}

} // namespace

int main() {
  SimulatorWithoutXDim simulator;
  return static_cast<int>(output_width(simulator));
}
