// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `PointSimulator` (one θ → one x on the host, e.g. an external solver) and the
/// adapter that runs one over a batch as a `Simulator`, accounting for every row.
#pragma once

#include <osbi/simulator/simulation_report.hpp>
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <exception>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi {

/*
 * PointSimulator — what a user's solver must provide (spec):
 *
 *   s.theta_dim(), s.x_dim()     D_θ and D_x (> 0), convertible to std::size_t; read once, when the
 *                                adapter is constructed (they must not change afterwards).
 *   s.simulate(theta, x, rng)    theta: std::span<const double> of D_θ values; x: std::span<double>
 *                                of D_x values, pre-filled with NaN; rng: RowRandom&, the generator
 *                                of this sample, the only randomness the solver may use (so a sample
 *                                is reproducible whatever batch size or worker runs it).
 *                                May throw or leave NaN/Inf in x when it cannot solve: the adapter
 *                                records the row as failed, with θ and the message, and moves on.
 *
 * Runs on the host. Member functions are called on a non-const S&, so solvers that keep scratch
 * state need no `mutable`. PointSimulatorAdapter calls the solver from one thread at a time.
 */
namespace point_simulator_requirements {

template <class S>
concept HasDimensions = requires(S& simulator) {
  { simulator.theta_dim() } -> std::convertible_to<std::size_t>;
  { simulator.x_dim() } -> std::convertible_to<std::size_t>;
};

template <class S>
concept CanSimulatePoint = requires(S& simulator, std::span<const double> theta, std::span<double> x, RowRandom& rng) {
  simulator.simulate(theta, x, rng);
};

} // namespace point_simulator_requirements

template <class S>
concept PointSimulator =
    point_simulator_requirements::HasDimensions<S> && point_simulator_requirements::CanSimulatePoint<S>;

/// A PointSimulator run over a batch: models Simulator on the default host execution space.
///
/// simulate() runs the rows one after another on the calling thread, row i with rng.row(i). A row
/// whose solve throws (any exception, std::exception or not) or leaves a NaN/±Inf anywhere in its x
/// (checked after conversion to Scalar, so a double that overflows float counts) is filled with NaN
/// in x and recorded in the returned SimulationReport; the batch always completes. totals() adds up
/// every call since construction (counts only, so it does not grow with the number of rows).
///
/// The solver is called from one thread at a time: the adapter itself is not thread-safe, and a
/// pipeline that wants several solves at once gives each worker its own adapter.
template <PointSimulator Point, class Scalar = real_t>
class PointSimulatorAdapter {
  static_assert(
      std::is_floating_point_v<Scalar>,
      "osbi::PointSimulatorAdapter: Scalar must be a floating-point type (see osbi/simulator/point_simulator.hpp)");

public:
  using scalar_type = Scalar;
  using execution_space = Kokkos::DefaultHostExecutionSpace;
  using point_simulator_type = Point;

  /// Takes the solver by value (move it in).
  explicit PointSimulatorAdapter(Point point) requires std::move_constructible<Point> : m_point(std::move(point)) {
    read_dimensions();
  }

  /// Constructs the solver in place, for solvers that cannot be moved.
  template <class... Args>
  explicit PointSimulatorAdapter(std::in_place_t, Args&&... args) : m_point(std::forward<Args>(args)...) {
    read_dimensions();
  }

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t x_dim() const { return m_x_dim; }

  /// Fills x row by row (see the class comment) and returns the accounting of this batch.
  /// Throws DimensionMismatch before calling the solver if a width or the row counts disagree.
  SimulationReport simulate(const execution_space& space, const ConstMatrix<Scalar, execution_space>& theta,
                            const Matrix<Scalar, execution_space>& x, BatchRandom rng) {
    check_simulation_shapes("osbi::PointSimulatorAdapter", theta, x, m_theta_dim, m_x_dim);
    space.fence(); // θ may come from a kernel still running on `space`
    const std::size_t rows = theta.extent(0);
    SimulationReport report(rows);
    std::vector<double> theta_row(m_theta_dim);
    std::vector<double> x_row(m_x_dim);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t row = 0; row < rows; ++row) {
      for (std::size_t j = 0; j < m_theta_dim; ++j)
        theta_row[j] = static_cast<double>(theta(row, j));
      for (double& value : x_row)
        value = nan; // an entry the solver forgets to write is not a silent 0
      RowRandom row_rng = rng.row(row);
      SimulationStatus status = SimulationStatus::ok;
      std::string message;
      try {
        m_point.simulate(std::span<const double>(theta_row), std::span<double>(x_row), row_rng);
      } catch (const std::exception& error) {
        status = SimulationStatus::threw;
        message = error.what();
      } catch (...) {
        status = SimulationStatus::threw;
        message = "an exception not derived from std::exception";
      }
      if (status == SimulationStatus::ok) {
        for (std::size_t j = 0; j < m_x_dim; ++j) {
          const Scalar value = static_cast<Scalar>(x_row[j]);
          if (!std::isfinite(value)) {
            status = SimulationStatus::non_finite;
            message = detail::concat("x[", j, "] = ", x_row[j],
                                     std::isfinite(x_row[j]) ? " (not representable in the scalar type)" : "");
            break;
          }
          x(row, j) = value;
        }
      }
      if (status != SimulationStatus::ok) {
        for (std::size_t j = 0; j < m_x_dim; ++j)
          x(row, j) = std::numeric_limits<Scalar>::quiet_NaN();
        report.mark(row, status, std::move(message), theta_row);
      }
    }
    m_totals += report.counts();
    return report;
  }

  /// Counts of every row simulated since construction (or the last reset_totals()).
  const SimulationCounts& totals() const { return m_totals; }
  void reset_totals() { m_totals = SimulationCounts{}; }

  Point& point() { return m_point; }
  const Point& point() const { return m_point; }

private:
  void read_dimensions() {
    m_theta_dim = static_cast<std::size_t>(m_point.theta_dim());
    m_x_dim = static_cast<std::size_t>(m_point.x_dim());
    require(m_theta_dim > 0, "osbi::PointSimulatorAdapter", "the point simulator's theta_dim() is 0, must be > 0");
    require(m_x_dim > 0, "osbi::PointSimulatorAdapter", "the point simulator's x_dim() is 0, must be > 0");
  }

  Point m_point;
  std::size_t m_theta_dim = 0;
  std::size_t m_x_dim = 0;
  SimulationCounts m_totals;
};

namespace detail {
/// The least PointSimulator, to check below that the adapter models Simulator.
struct PointSimulatorProbe {
  std::size_t theta_dim();
  std::size_t x_dim();
  void simulate(std::span<const double>, std::span<double>, RowRandom&);
};
} // namespace detail

static_assert(Simulator<PointSimulatorAdapter<detail::PointSimulatorProbe>>,
              "osbi::PointSimulatorAdapter must model osbi::Simulator (see osbi/simulator/simulator.hpp)");
static_assert(Simulator<PointSimulatorAdapter<detail::PointSimulatorProbe, double>>,
              "osbi::PointSimulatorAdapter<_, double> must model osbi::Simulator (see osbi/simulator/simulator.hpp)");

} // namespace osbi
