// SPDX-License-Identifier: BSD-3-Clause
/// \brief Archetypes: the least types that model `Simulator` and `PointSimulator`, for checking generic code.
#pragma once

#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <span>
#include <type_traits>

namespace osbi::testing {

/// Models Simulator and nothing more: no default constructor, no copy, no move, no operators, only
/// the members the concept names (generic code that compiles against it asks for nothing else).
/// Its behaviour obeys the spec, so it also passes check_simulator: x(i, j) = θ(i, j mod D_θ) + ε,
/// ε ~ N(0, 1) from rng.row(i).
class SimulatorArchetype {
public:
  using scalar_type = real_t;
  using execution_space = DefaultExecutionSpace;

  SimulatorArchetype(std::size_t theta_dim, std::size_t x_dim) : m_theta_dim(theta_dim), m_x_dim(x_dim) {
    require(theta_dim > 0 && x_dim > 0, "osbi::testing::SimulatorArchetype", "theta_dim = ", theta_dim, " and x_dim = ", x_dim,
            " must be > 0");
  }
  SimulatorArchetype(const SimulatorArchetype&) = delete;
  SimulatorArchetype& operator=(const SimulatorArchetype&) = delete;

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t x_dim() const { return m_x_dim; }

  void simulate(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                const Matrix<scalar_type, execution_space>& x, BatchRandom rng) {
    check_simulation_shapes("osbi::testing::SimulatorArchetype", theta, x, m_theta_dim, m_x_dim);
    const std::size_t theta_dim = m_theta_dim, x_dim = m_x_dim;
    Kokkos::parallel_for(
        "osbi::testing::SimulatorArchetype::simulate", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row) {
          RowRandom generator = rng.row(row);
          for (std::size_t j = 0; j < x_dim; ++j)
            x(row, j) = static_cast<scalar_type>(static_cast<double>(theta(row, j % theta_dim)) + generator.normal());
        });
  }

private:
  std::size_t m_theta_dim;
  std::size_t m_x_dim;
};

/// Models PointSimulator and nothing more: non-const members only, not copyable or movable (wrap it
/// with PointSimulatorAdapter(std::in_place, ...)). x[j] = θ[j mod D_θ] + ε, ε ~ N(0, 1) from rng.
class PointSimulatorArchetype {
public:
  PointSimulatorArchetype(std::size_t theta_dim, std::size_t x_dim) : m_theta_dim(theta_dim), m_x_dim(x_dim) {}
  PointSimulatorArchetype(const PointSimulatorArchetype&) = delete;
  PointSimulatorArchetype& operator=(const PointSimulatorArchetype&) = delete;

  std::size_t theta_dim() { return m_theta_dim; }
  std::size_t x_dim() { return m_x_dim; }

  void simulate(std::span<const double> theta, std::span<double> x, RowRandom& rng) {
    for (std::size_t j = 0; j < x.size(); ++j)
      x[j] = theta[j % theta.size()] + rng.normal();
  }

private:
  std::size_t m_theta_dim;
  std::size_t m_x_dim;
};

static_assert(Simulator<SimulatorArchetype>, "osbi::testing::SimulatorArchetype must model osbi::Simulator");
static_assert(PointSimulator<PointSimulatorArchetype>,
              "osbi::testing::PointSimulatorArchetype must model osbi::PointSimulator");
static_assert(Simulator<PointSimulatorAdapter<PointSimulatorArchetype>>,
              "osbi::PointSimulatorAdapter<PointSimulatorArchetype> must model osbi::Simulator");
static_assert(!std::is_copy_constructible_v<SimulatorArchetype> && !std::is_default_constructible_v<SimulatorArchetype>,
              "SimulatorArchetype must stay minimal");

} // namespace osbi::testing
