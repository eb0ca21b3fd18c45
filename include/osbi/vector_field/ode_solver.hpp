// SPDX-License-Identifier: BSD-3-Clause
/// \brief solve_ode: batched explicit integrators (Euler, Heun, RK4, adaptive Dormand–Prince 5(4)) for a field over a whole batch of states.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

namespace osbi {

enum class OdeMethod { euler, heun, rk4, dopri5 };

/*
 * One ODE dy/dt = field(t, y) for a batch: y is N × D, and the field evaluates every row at once (one network
 * forward per stage, which is where the time goes). Fixed-step methods take `steps` equal steps; dopri5 adapts one
 * step size for the whole batch from the RMS over all entries of err / (atol + rtol·max(|y|, |y_new|)) (the
 * torchdiffeq rule; zuko, which sbi uses, takes the maximum), Hairer's controller (safety 0.9, ratio in [0.2, 10],
 * no growth right after a rejected step), FSAL. So a row's
 * result depends slightly on its batch mates, within the tolerance. Rows that start non-finite (NaN input) stay
 * non-finite and do not take part in the step control.
 *
 * dopri5's first trial step: `first_step` × |t1 − t0|, or (0, the default) Hairer's automatic choice (HNW I, II.4;
 * scipy's and torchdiffeq's select_initial_step, with the RMS norms of the step control): h₀ = 0.01·‖y‖/‖f‖, an Euler
 * step of h₀ to estimate ‖f'‖, then h = min(100·h₀, (0.01 / max(‖f‖, ‖f'‖))^(1/5), |t1 − t0|), norms scaled by
 * atol + rtol·|y|. It costs one field evaluation and keeps the first step from being a guess: a step far too small
 * costs accepted steps while the controller grows it (at most 10× a step), one far too large a rejected step.
 */
struct OdeSolverOptions {
  OdeMethod method = OdeMethod::dopri5;
  std::size_t steps = 50;                  ///< fixed-step methods
  double absolute_tolerance = 1e-6;        ///< dopri5
  double relative_tolerance = 1e-5;        ///< dopri5
  std::size_t max_steps = 10'000;          ///< dopri5: attempted steps before giving up (osbi::Error)
  double first_step = 0;                   ///< dopri5: first trial step / |t1 − t0|, in (0, 1]; 0: automatic (above)
};

struct OdeSolveReport {
  std::size_t evaluations = 0, accepted_steps = 0, rejected_steps = 0;
};

namespace detail {

/// out = y + h·Σ_s a_s·k_s over up to six stages (a_s = 0 skips k_s).
template <class Scalar, class Space>
struct StageCombination {
  ConstMatrix<Scalar, Space> y, k0, k1, k2, k3, k4, k5;
  Matrix<Scalar, Space> out;
  double h, a0, a1, a2, a3, a4, a5;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, const std::size_t j) const {
    double sum = a0 * double(k0(i, j));
    if (a1 != 0) sum += a1 * double(k1(i, j));
    if (a2 != 0) sum += a2 * double(k2(i, j));
    if (a3 != 0) sum += a3 * double(k3(i, j));
    if (a4 != 0) sum += a4 * double(k4(i, j));
    if (a5 != 0) sum += a5 * double(k5(i, j));
    out(i, j) = static_cast<Scalar>(double(y(i, j)) + h * sum);
  }
};

/// Whether row i of y is finite: the step control leaves out rows that started non-finite (a NaN input).
template <class View>
KOKKOS_INLINE_FUNCTION bool finite_row(const View& y, std::size_t i) {
  for (std::size_t j = 0; j < y.extent(1); ++j)
    if (!math::isfinite(double(y(i, j)))) return false;
  return true;
}

/// Σ over entries of (h·Σ_s e_s·k_s / (atol + rtol·max(|y|, |y_new|)))², one row per call: an entry that turns
/// non-finite counts as +∞ (the step is rejected); a row with a non-finite entry already (a NaN input) counts 0.
template <class Scalar, class Space>
struct ErrorNorm {
  ConstMatrix<Scalar, Space> y, y_new, k0, k2, k3, k4, k5, k6;
  double h, atol, rtol;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, double& total) const {
    constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                     e6 = 22.0 / 525, e7 = -1.0 / 40;
    if (!finite_row(y, i)) return;
    for (std::size_t j = 0; j < y.extent(1); ++j) {
      const double error = h * (e1 * double(k0(i, j)) + e3 * double(k2(i, j)) + e4 * double(k3(i, j)) +
                                e5 * double(k4(i, j)) + e6 * double(k5(i, j)) + e7 * double(k6(i, j)));
      const double scale = atol + rtol * math::fmax(math::fabs(double(y(i, j))), math::fabs(double(y_new(i, j))));
      const double ratio = error / scale;
      total += math::isfinite(ratio) ? ratio * ratio : 1e300;
    }
  }
};

/// Σ over entries of (a − b)² / (atol + rtol·|y|)², one row per call (b empty: a alone); a row of y that is not
/// finite_row counts 0, as in ErrorNorm.
template <class Scalar, class Space>
struct ScaledSquares {
  ConstMatrix<Scalar, Space> y, a, b;
  double atol, rtol;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, double& total) const {
    if (!finite_row(y, i)) return;
    for (std::size_t j = 0; j < y.extent(1); ++j) {
      const double value = double(a(i, j)) - (b.data() ? double(b(i, j)) : 0.0);
      const double ratio = value / (atol + rtol * math::fabs(double(y(i, j))));
      total += math::isfinite(ratio) ? ratio * ratio : 1e300;
    }
  }
};

template <class Scalar, class Space>
void combine(const Space& space, const ConstMatrix<Scalar, Space>& y, double h, std::initializer_list<double> a,
             std::initializer_list<ConstMatrix<Scalar, Space>> k, const Matrix<Scalar, Space>& out) {
  StageCombination<Scalar, Space> functor{y, {}, {}, {}, {}, {}, {}, out, h, 0, 0, 0, 0, 0, 0};
  ConstMatrix<Scalar, Space>* views[6] = {&functor.k0, &functor.k1, &functor.k2, &functor.k3, &functor.k4, &functor.k5};
  double* coefficients[6] = {&functor.a0, &functor.a1, &functor.a2, &functor.a3, &functor.a4, &functor.a5};
  std::size_t s = 0;
  auto view = k.begin();
  for (double value : a) {
    *coefficients[s] = value;
    *views[s] = *view++;
    ++s;
  }
  for (; s < 6; ++s) *views[s] = functor.k0;
  Kokkos::parallel_for("osbi::vector_field::solve_ode::combine",
                       Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {y.extent(0), y.extent(1)}), functor);
}

/// Hairer's automatic first step (see solve_ode), |h|: one evaluation of `evaluate` at t0 + h₀ into `f1`, with
/// `stage` as scratch. f0 = field(t0, y).
template <class Scalar, class Space, class Evaluate>
double automatic_first_step(const Space& space, Evaluate& evaluate, const Matrix<Scalar, Space>& y,
                            const ConstMatrix<Scalar, Space>& f0, double t0, double span, const OdeSolverOptions& options,
                            const Matrix<Scalar, Space>& stage, const Matrix<Scalar, Space>& f1) {
  using C = ConstMatrix<Scalar, Space>;
  const double entries = static_cast<double>(y.extent(0) * y.extent(1));
  const auto rms = [&](const C& a, const C& b) {
    double sum = 0;
    Kokkos::parallel_reduce("osbi::vector_field::solve_ode::first_step", Kokkos::RangePolicy<Space>(space, 0, y.extent(0)),
                            ScaledSquares<Scalar, Space>{y, a, b, options.absolute_tolerance, options.relative_tolerance},
                            sum);
    return std::sqrt(sum / entries);
  };
  const double interval = std::abs(span), direction = span > 0 ? 1.0 : -1.0;
  const double norm_y = rms(C(y), C()), norm_f = rms(f0, C());
  const double h0 = std::min(norm_y < 1e-5 || norm_f < 1e-5 ? 1e-6 : 0.01 * norm_y / norm_f, interval);
  combine<Scalar>(space, C(y), direction * h0, {1.0}, {f0}, stage);
  evaluate(t0 + direction * h0, C(stage), f1);
  const double norm_second = rms(C(f1), f0) / h0, largest = std::max(norm_f, norm_second);
  const double h1 = largest <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / largest, 0.2);
  // NaN (a non-finite field everywhere) fails the step-size check of the first step, with its message.
  return std::min({100 * h0, h1, interval});
}

} // namespace detail

/*
 * solve_ode(space, field, y, t0, t1, options) — integrates y (N × D, overwritten with y(t1)) from t0 to t1
 * (either direction). field(space, t, y, dydt) writes dy/dt for every row (y: ConstMatrix, dydt: Matrix, both
 * N × D). Throws InvalidArgument for zero fixed steps or bad tolerances, osbi::Error when dopri5 runs out of
 * max_steps or its step size underflows (a non-finite field: the state is left at the last accepted time).
 */
template <class Scalar, class Space, class Field>
OdeSolveReport solve_ode(const Space& space, Field& field, const Matrix<Scalar, Space>& y, double t0, double t1,
                         const OdeSolverOptions& options) {
  constexpr const char* part = "osbi::solve_ode";
  require(std::isfinite(t0) && std::isfinite(t1), part, "the interval [", t0, ", ", t1, "] must be finite");
  const bool adaptive = options.method == OdeMethod::dopri5;
  require(adaptive || options.steps > 0, part, "options.steps must be > 0 for a fixed-step method");
  require(!adaptive || (options.absolute_tolerance >= 0 && options.relative_tolerance > 0 && options.max_steps > 0),
          part, "dopri5 needs absolute_tolerance >= 0, relative_tolerance > 0 and max_steps > 0");
  require(!adaptive || (options.first_step >= 0 && options.first_step <= 1), part,
          "dopri5's first_step is a fraction of the interval in (0, 1], or 0 for the automatic choice, not ",
          options.first_step);
  OdeSolveReport report;
  const std::size_t n = y.extent(0), dim = y.extent(1);
  if (n == 0 || dim == 0 || t0 == t1) return report;
  const auto make = [&](const char* name) {
    return Matrix<Scalar, Space>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("vector_field", "solve_ode", name)), n, dim);
  };
  const auto evaluate = [&](double t, const ConstMatrix<Scalar, Space>& state, const Matrix<Scalar, Space>& out) {
    field(space, t, state, out);
    ++report.evaluations;
  };
  using detail::combine;
  using C = ConstMatrix<Scalar, Space>;
  if (!adaptive) {
    const double h = (t1 - t0) / static_cast<double>(options.steps);
    const auto k1 = make("k1"), k2 = make("k2"), k3 = make("k3"), k4 = make("k4"), stage = make("stage");
    for (std::size_t step = 0; step < options.steps; ++step) {
      const double t = t0 + h * static_cast<double>(step);
      evaluate(t, y, k1);
      switch (options.method) {
      case OdeMethod::euler:
        combine<Scalar>(space, C(y), h, {1.0}, {C(k1)}, y);
        break;
      case OdeMethod::heun:
        combine<Scalar>(space, C(y), h, {1.0}, {C(k1)}, stage);
        evaluate(t + h, stage, k2);
        combine<Scalar>(space, C(y), h, {0.5, 0.5}, {C(k1), C(k2)}, y);
        break;
      default: // rk4
        combine<Scalar>(space, C(y), h, {0.5}, {C(k1)}, stage);
        evaluate(t + 0.5 * h, stage, k2);
        combine<Scalar>(space, C(y), h, {0.5}, {C(k2)}, stage);
        evaluate(t + 0.5 * h, stage, k3);
        combine<Scalar>(space, C(y), h, {1.0}, {C(k3)}, stage);
        evaluate(t + h, stage, k4);
        combine<Scalar>(space, C(y), h, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}, {C(k1), C(k2), C(k3), C(k4)}, y);
        break;
      }
      ++report.accepted_steps;
    }
    return report;
  }

  // Dormand–Prince 5(4): the tableau of Hairer, Nørsett & Wanner's DOPRI5 (as simulator/detail/dormand_prince.hpp).
  constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
  constexpr double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
  constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729;
  constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176, a65 = -5103.0 / 18656;
  constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192, a75 = -2187.0 / 6784, a76 = 11.0 / 84;
  auto k1 = make("k1"), k2 = make("k2"), k3 = make("k3"), k4 = make("k4"), k5 = make("k5"), k6 = make("k6"),
       k7 = make("k7"), stage = make("stage"), y_new = make("y_new");
  const double span = t1 - t0, direction = span > 0 ? 1.0 : -1.0;
  const double entries = static_cast<double>(n * dim);
  double t = t0;
  bool rejected_last = false;
  evaluate(t, y, k1);
  double h = direction * (options.first_step > 0 ? options.first_step * std::abs(span)
                                                 : detail::automatic_first_step<Scalar>(space, evaluate, y, C(k1), t, span,
                                                                                        options, stage, k2));
  while (direction * (t1 - t) > 0) {
    require<Error>(report.accepted_steps + report.rejected_steps < options.max_steps, part, "dopri5 took ",
                   options.max_steps, " steps without reaching t = ", t1, " (now at t = ", t, "); raise max_steps or the tolerances");
    // The step that reaches t1 lands on it exactly (t + (t1 − t) need not round to t1).
    const bool last = direction * (t + h - t1) >= 0;
    if (last) h = t1 - t;
    require<Error>(std::abs(h) > 16 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t)), part,
                   "dopri5's step size underflowed at t = ", t, " (a non-finite or stiff field)");
    combine<Scalar>(space, C(y), h, {a21}, {C(k1)}, stage);
    evaluate(t + c2 * h, stage, k2);
    combine<Scalar>(space, C(y), h, {a31, a32}, {C(k1), C(k2)}, stage);
    evaluate(t + c3 * h, stage, k3);
    combine<Scalar>(space, C(y), h, {a41, a42, a43}, {C(k1), C(k2), C(k3)}, stage);
    evaluate(t + c4 * h, stage, k4);
    combine<Scalar>(space, C(y), h, {a51, a52, a53, a54}, {C(k1), C(k2), C(k3), C(k4)}, stage);
    evaluate(t + c5 * h, stage, k5);
    combine<Scalar>(space, C(y), h, {a61, a62, a63, a64, a65}, {C(k1), C(k2), C(k3), C(k4), C(k5)}, stage);
    evaluate(t + h, stage, k6);
    combine<Scalar>(space, C(y), h, {a71, 0.0, a73, a74, a75, a76}, {C(k1), C(k2), C(k3), C(k4), C(k5), C(k6)}, y_new);
    evaluate(t + h, y_new, k7);
    double sum = 0;
    Kokkos::parallel_reduce("osbi::vector_field::solve_ode::error", Kokkos::RangePolicy<Space>(space, 0, n),
                            detail::ErrorNorm<Scalar, Space>{y, y_new, k1, k3, k4, k5, k6, k7, h,
                                                             options.absolute_tolerance, options.relative_tolerance},
                            sum);
    const double error = std::sqrt(sum / entries);
    double factor = error == 0 ? 10.0 : std::clamp(0.9 * std::pow(error, -0.2), 0.2, 10.0);
    if (error <= 1.0) {
      if (rejected_last) factor = std::min(factor, 1.0); // Hairer's rule: no growth right after a rejection
      rejected_last = false;
      t = last ? t1 : t + h;
      Kokkos::deep_copy(space, y, y_new);
      std::swap(k1, k7); // first same as last
      ++report.accepted_steps;
    } else {
      ++report.rejected_steps;
      rejected_last = true;
    }
    h *= std::isfinite(factor) ? factor : 0.2;
  }
  space.fence();
  return report;
}

} // namespace osbi
