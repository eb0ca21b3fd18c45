// SPDX-License-Identifier: BSD-3-Clause
/// \brief sbibm's lotka_volterra task: predator–prey ODE solved per row on the device, subsampled, log-normal noise.
#pragma once

#include <osbi/simulator/detail/dormand_prince.hpp>
#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/log_normal.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace osbi {

namespace detail {

/// dX/dt = αX − βXY, dY/dt = −γY + δXY.
struct LotkaVolterraRhs {
  double alpha, beta, gamma, delta;
  KOKKOS_INLINE_FUNCTION void operator()(double /*t*/, const double (&y)[2], double (&dydt)[2]) const {
    dydt[0] = (alpha - beta * y[1]) * y[0];
    dydt[1] = (delta * y[0] - gamma) * y[1];
  }
};

/// Keeps the summary points (save index 0, 21, …, 189): prey in values[0..9], predator in values[10..19].
struct LotkaVolterraSummaryObserver {
  static constexpr int stride = 21, points = 10;
  double* values;
  KOKKOS_INLINE_FUNCTION void operator()(int k, const double (&y)[2]) const {
    if (k % stride == 0 && k / stride < points) {
      values[k / stride] = y[0];
      values[points + k / stride] = y[1];
    }
  }
};

/// Keeps every save point: values[2k] = prey, values[2k + 1] = predator.
struct LotkaVolterraTrajectoryObserver {
  double* values;
  KOKKOS_INLINE_FUNCTION void operator()(int k, const double (&y)[2]) const {
    values[2 * k] = y[0];
    values[2 * k + 1] = y[1];
  }
};

} // namespace detail

/// The noiseless solution for one θ at the 201 save points (host helper for tests and plots).
struct LotkaVolterraTrajectory {
  OdeStatus status = OdeStatus::success;
  OdeResult solve;
  /// states[k] = (prey, predator) at t = 0.1·k; all NaN unless status == success (sbibm's rule).
  std::vector<std::array<double, 2>> states;
};

/*
 * lotka_volterra exactly as sbibm defines it (shared/sbibm-tasks/README.md):
 *   θ = (α, β, γ, δ); dX/dt = αX − βXY, dY/dt = −γY + δXY, (X, Y)(0) = (30, 1), saved at
 *   t = 0, 0.1, …, 20; summary = save indices 0, 21, …, 189 of the prey, then of the predator (x_dim 20);
 *   x_j = exp(log(clamp(u_j, 1e-10, 1e4)) + 0.1·ε_j), ε_j ~ N(0, 1) drawn in the order j = 0 … 19
 *   from rng.row(i). A solve that fails anywhere on [0, 20] (step budget, step-size underflow,
 *   non-finite state) makes the whole row NaN, as sbibm does even though the summary stops at 18.9.
 *
 * The ODE is solved in double whatever Scalar is, by detail::dormand_prince_solve, one row per thread.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class LotkaVolterra {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  static constexpr int save_count = 201;
  static constexpr double save_interval = 0.1;
  static constexpr int summary_stride = detail::LotkaVolterraSummaryObserver::stride;
  static constexpr int summary_points = detail::LotkaVolterraSummaryObserver::points;
  static constexpr double initial_prey = 30.0;
  static constexpr double initial_predator = 1.0;
  static constexpr double noise_standard_deviation = 0.1;
  static constexpr double clamp_low = 1e-10;
  static constexpr double clamp_high = 1e4;

  /*
   * Default tolerances: relative 1e-7, absolute 0 (pure relative error control; the budget is Julia's
   * default maxiters, 1e5 attempted steps). The noise is multiplicative (σ = 0.1 in log space), so
   * what matters is the relative error of u everywhere, and prior draws have troughs far below the
   * 1e-10 clamp (2000 draws reach 3e-19): an absolute tolerance of 1e-10 … 1e-14 lets the trough be
   * solved with no relative accuracy, and the error then reappears at the next peak (measured: up to
   * 0.1 … 10 in log u). Relative control costs nothing extra here because LV is smooth in log space.
   * Measured on 2000 prior draws against a long-double RK4 reference (h = 1e-4), worst error of
   * log clamp(u) over all 201 save points: rtol 1e-6 → 3e-4 (146 steps/solve, 17 µs on one core),
   * rtol 1e-7 → 2.3e-5 (220 steps, 24 µs), rtol 1e-8 → 2e-6 (350 steps, 37 µs); for rtol 1e-7 the
   * worst unclamped |log u − log u_ref| over 5000 draws is 3.0e-5. 1e-7 puts the solver error at
   * 3e-4·σ — invisible in any posterior — for under 25 µs per simulation.
   */
  static DormandPrinceOptions default_options() { return DormandPrinceOptions{}; }

  explicit LotkaVolterra(DormandPrinceOptions options = default_options()) : m_options(options) {
    require(options.relative_tolerance > 0.0 && std::isfinite(options.relative_tolerance), "osbi::LotkaVolterra",
            "relative_tolerance = ", options.relative_tolerance, " must be finite and > 0");
    require(options.absolute_tolerance >= 0.0 && std::isfinite(options.absolute_tolerance), "osbi::LotkaVolterra",
            "absolute_tolerance = ", options.absolute_tolerance, " must be finite and >= 0");
    require(options.max_steps > 0, "osbi::LotkaVolterra", "max_steps = ", options.max_steps, " must be > 0");
  }

  std::size_t theta_dim() const { return 4; }
  std::size_t x_dim() const { return 2 * summary_points; }
  const DormandPrinceOptions& options() const { return m_options; }

  /// sbibm's prior: independent LogNormal, log-means (−0.125, −3, −0.125, −3), log-sd 0.5.
  LogNormal<Scalar, ExecutionSpace> prior() const {
    return LogNormal<Scalar, ExecutionSpace>({-0.125, -3.0, -0.125, -3.0}, {0.5, 0.5, 0.5, 0.5});
  }

  /// The Simulator contract (simulator.hpp); failed rows are NaN.
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng) const {
    launch(space, theta, x, rng, Vector<int, ExecutionSpace>());
  }

  /// As above, and status(i) = static_cast<int>(OdeStatus) of row i (0 = success); see count_failed.
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
                const Vector<int, ExecutionSpace>& status) const {
    require_extent(status.extent(0), theta.extent(0), "osbi::LotkaVolterra", "status's length (must equal theta's rows)");
    launch(space, theta, x, rng, status);
  }

  /// Number of rows whose solve failed (fences `space`).
  static std::size_t count_failed(const ExecutionSpace& space, const Vector<int, ExecutionSpace>& status) {
    std::size_t failed = 0;
    Kokkos::parallel_reduce(
        "osbi::simulator::LotkaVolterra::count_failed", Kokkos::RangePolicy<ExecutionSpace>(space, 0, status.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i, std::size_t& sum) { sum += status(i) != 0 ? 1 : 0; }, failed);
    space.fence();
    return failed;
  }

  /// The noiseless solution at all 201 save points for one θ, solved on the host by the same code.
  LotkaVolterraTrajectory trajectory(const std::array<double, 4>& theta) const {
    LotkaVolterraTrajectory result;
    result.states.resize(save_count);
    const detail::LotkaVolterraRhs rhs{theta[0], theta[1], theta[2], theta[3]};
    const double initial[2] = {initial_prey, initial_predator};
    std::vector<double> values(2 * save_count, std::numeric_limits<double>::quiet_NaN());
    detail::LotkaVolterraTrajectoryObserver observer{values.data()};
    result.solve = detail::dormand_prince_solve<2>(rhs, initial, 0.0, save_interval, save_count, m_options, observer);
    result.status = result.solve.status;
    const bool solved = result.status == OdeStatus::success;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    for (int k = 0; k < save_count; ++k)
      result.states[k] =
          solved ? std::array<double, 2>{values[2 * k], values[2 * k + 1]} : std::array<double, 2>{nan, nan};
    return result;
  }

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
  void launch(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
              const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
              const Vector<int, ExecutionSpace>& status) const {
    check_simulation_shapes("osbi::LotkaVolterra", theta, x, theta_dim(), x_dim());
    const DormandPrinceOptions options = m_options;
    const bool keep_status = status.extent(0) > 0;
    const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    Kokkos::parallel_for(
        "osbi::simulator::LotkaVolterra::simulate", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const detail::LotkaVolterraRhs rhs{static_cast<double>(theta(i, 0)), static_cast<double>(theta(i, 1)),
                                             static_cast<double>(theta(i, 2)), static_cast<double>(theta(i, 3))};
          const double initial[2] = {initial_prey, initial_predator};
          double summary[2 * summary_points];
          detail::LotkaVolterraSummaryObserver observer{summary};
          const OdeResult solve =
              detail::dormand_prince_solve<2>(rhs, initial, 0.0, save_interval, save_count, options, observer);
          if (keep_status) status(i) = static_cast<int>(solve.status);
          if (solve.status != OdeStatus::success) {
            for (int j = 0; j < 2 * summary_points; ++j)
              x(i, j) = nan;
            return;
          }
          RowRandom generator = rng.row(i);
          for (int j = 0; j < 2 * summary_points; ++j) {
            const double clamped = math::fmin(math::fmax(summary[j], clamp_low), clamp_high);
            x(i, j) =
                static_cast<Scalar>(math::exp(math::log(clamped) + noise_standard_deviation * generator.normal()));
          }
        });
  }

private:
  DormandPrinceOptions m_options;
};

} // namespace osbi
