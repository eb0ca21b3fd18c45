// SPDX-License-Identifier: BSD-3-Clause
/// \brief Adaptive Dormand–Prince 5(4) with dense output for small ODE systems, one solve per device thread.
#pragma once

#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace osbi {

/// Outcome of one ODE solve. Anything but `success` makes the simulator's row NaN (sbibm's rule).
enum class OdeStatus : int {
  success = 0,
  max_steps_exceeded = 1,  ///< the step budget ran out before t_end
  step_size_underflow = 2, ///< the controller asked for a step below 16 ulp of t
  non_finite_state = 3,    ///< non-finite θ or start, or trial states overflowing until the step underflowed
};

inline const char* to_string(OdeStatus status) {
  switch (status) {
  case OdeStatus::success:
    return "success";
  case OdeStatus::max_steps_exceeded:
    return "max steps exceeded";
  case OdeStatus::step_size_underflow:
    return "step size underflow";
  case OdeStatus::non_finite_state:
    return "non-finite state";
  }
  return "unknown";
}

/// Tolerances and budget of an adaptive solve. The local error of a step is accepted when
/// RMS_i (err_i / (absolute_tolerance + relative_tolerance · max(|y_i|, |y_new_i|))) <= 1.
/// The defaults are LotkaVolterra's (justified there): pure relative control. With
/// absolute_tolerance 0 a component that underflows to exactly 0 makes the solve fail
/// (non_finite_state) rather than be accepted with no error control.
struct DormandPrinceOptions {
  double relative_tolerance = 1e-7;
  double absolute_tolerance = 0.0;
  std::int64_t max_steps = 100000; ///< attempted steps (accepted + rejected), as Julia's maxiters
};

struct OdeResult {
  OdeStatus status = OdeStatus::success;
  std::int64_t accepted_steps = 0;
  std::int64_t rejected_steps = 0;
};

namespace detail {

/*
 * Device-safe Dormand–Prince 5(4) (Dormand & Prince 1980) with Hairer's step-size controller and
 * fourth-order dense output (Hairer, Nørsett & Wanner, "Solving ODEs I", the DOPRI5 code): plain
 * arrays, no exceptions, no allocation, osbi::math only, so one thread of a Kokkos kernel runs one
 * solve. The save grid t_k = t0 + k·save_interval (k = 0 … save_count − 1) is served by the dense
 * output, so the step size is never tied to the save spacing; the last step lands on t_end exactly.
 *
 *   rhs(t, y, dydt)       KOKKOS_INLINE_FUNCTION void (double, const double (&)[N], double (&)[N]) const
 *   observer(k, y)        KOKKOS_INLINE_FUNCTION void (int, const double (&)[N]); called once per k,
 *                         in increasing k, only up to the last save point before a failure.
 */
KOKKOS_INLINE_FUNCTION double dormand_prince_scale(double y, double y_new, const DormandPrinceOptions& options) {
  return options.absolute_tolerance + options.relative_tolerance * math::fmax(math::fabs(y), math::fabs(y_new));
}

/// Hairer's HINIT: a first step whose explicit-Euler error estimate is about 0.01 in the error norm.
template <int N, class Rhs>
KOKKOS_INLINE_FUNCTION double dormand_prince_initial_step(const Rhs& rhs, double t, const double (&y)[N],
                                                          const double (&f0)[N], double h_max,
                                                          const DormandPrinceOptions& options) {
  double norm_f = 0.0, norm_y = 0.0;
  for (int i = 0; i < N; ++i) {
    const double scale = dormand_prince_scale(y[i], y[i], options);
    norm_f += (f0[i] / scale) * (f0[i] / scale);
    norm_y += (y[i] / scale) * (y[i] / scale);
  }
  double h = (norm_f <= 1e-10 || norm_y <= 1e-10) ? 1e-6 : 0.01 * math::sqrt(norm_y / norm_f);
  h = math::fmin(h, h_max);
  double y1[N], f1[N];
  for (int i = 0; i < N; ++i)
    y1[i] = y[i] + h * f0[i];
  rhs(t + h, y1, f1);
  double second = 0.0;
  for (int i = 0; i < N; ++i) {
    const double scale = dormand_prince_scale(y[i], y[i], options);
    second += ((f1[i] - f0[i]) / scale) * ((f1[i] - f0[i]) / scale);
  }
  second = math::sqrt(second) / h;
  const double largest = math::fmax(math::fabs(second), math::sqrt(norm_f));
  const double h1 = largest <= 1e-15 ? math::fmax(1e-6, h * 1e-3) : math::pow(0.01 / largest, 0.2);
  const double chosen = math::fmin(math::fmin(100.0 * h, h1), h_max);
  // A NaN here (non-finite f) would stall the loop; the step-size check then reports the failure.
  return math::isfinite(chosen) ? chosen : 0.0;
}

template <int N, class Rhs, class Observer>
KOKKOS_INLINE_FUNCTION OdeResult dormand_prince_solve(const Rhs& rhs, const double (&initial)[N], double t0,
                                                      double save_interval, int save_count,
                                                      const DormandPrinceOptions& options, Observer& observer) {
  // Butcher tableau (c, a), fifth-order weights b = a7·, error weights e = b − b̂, dense output d.
  constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
  constexpr double a21 = 1.0 / 5;
  constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
  constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
  constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729;
  constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                   a65 = -5103.0 / 18656;
  constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192, a75 = -2187.0 / 6784, a76 = 11.0 / 84;
  constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525,
                   e7 = -1.0 / 40;
  constexpr double d1 = -12715105075.0 / 11282082432.0, d3 = 87487479700.0 / 32700410799.0,
                   d4 = -10690763975.0 / 1880347072.0, d5 = 701980252875.0 / 199316789632.0,
                   d6 = -1453857185.0 / 822651844.0, d7 = 69997945.0 / 29380423.0;
  // Hairer's controller: safety 0.9, step ratio in [0.2, 10], PI stabilisation beta = 0.04.
  constexpr double safety = 0.9, shrink_limit = 1.0 / 0.2, grow_limit = 1.0 / 10.0, beta = 0.04;
  constexpr double exponent = 0.2 - beta * 0.75;
  constexpr double epsilon = 2.220446049250313e-16;

  OdeResult result;
  double y[N];
  for (int i = 0; i < N; ++i)
    y[i] = initial[i];
  observer(0, y);
  if (save_count <= 1) return result;
  const double t_end = t0 + (save_count - 1) * save_interval;
  const double h_max = t_end - t0;

  double t = t0;
  double k1[N], k2[N], k3[N], k4[N], k5[N], k6[N], k7[N], stage[N], y_new[N];
  rhs(t, y, k1);
  bool finite_start = true;
  for (int i = 0; i < N; ++i)
    finite_start = finite_start && math::isfinite(y[i]) && math::isfinite(k1[i]);
  if (!finite_start) { // a NaN or infinite θ or initial state: nothing to integrate
    result.status = OdeStatus::non_finite_state;
    return result;
  }
  double h = dormand_prince_initial_step<N>(rhs, t, y, k1, h_max, options);
  double previous_error = 1e-4;
  bool rejected = false, last_trial_non_finite = false;
  int next_save = 1;

  while (true) {
    if (result.accepted_steps + result.rejected_steps >= options.max_steps) {
      result.status = OdeStatus::max_steps_exceeded;
      return result;
    }
    if (!(h > 16.0 * epsilon * math::fmax(math::fabs(t), 1.0))) {
      result.status = last_trial_non_finite ? OdeStatus::non_finite_state : OdeStatus::step_size_underflow;
      return result;
    }
    bool last = false;
    if (t + 1.01 * h >= t_end) {
      h = t_end - t;
      last = true;
    }

    for (int i = 0; i < N; ++i)
      stage[i] = y[i] + h * a21 * k1[i];
    rhs(t + c2 * h, stage, k2);
    for (int i = 0; i < N; ++i)
      stage[i] = y[i] + h * (a31 * k1[i] + a32 * k2[i]);
    rhs(t + c3 * h, stage, k3);
    for (int i = 0; i < N; ++i)
      stage[i] = y[i] + h * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i]);
    rhs(t + c4 * h, stage, k4);
    for (int i = 0; i < N; ++i)
      stage[i] = y[i] + h * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i]);
    rhs(t + c5 * h, stage, k5);
    for (int i = 0; i < N; ++i)
      stage[i] = y[i] + h * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i] + a65 * k5[i]);
    const double t_new = last ? t_end : t + h;
    rhs(t_new, stage, k6);
    for (int i = 0; i < N; ++i)
      y_new[i] = y[i] + h * (a71 * k1[i] + a73 * k3[i] + a74 * k4[i] + a75 * k5[i] + a76 * k6[i]);
    rhs(t_new, y_new, k7);

    double error = 0.0;
    bool finite = true;
    for (int i = 0; i < N; ++i) {
      const double local = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
      const double scaled = local / dormand_prince_scale(y[i], y_new[i], options);
      error += scaled * scaled;
      finite = finite && math::isfinite(y_new[i]) && math::isfinite(k7[i]);
    }
    error = math::sqrt(error / N);
    if (!finite || !math::isfinite(error)) {
      // An overflowing trial may just be too long a step into a spike: shrink hard and retry.
      ++result.rejected_steps;
      rejected = true;
      last_trial_non_finite = true;
      h *= 0.2;
      continue;
    }
    last_trial_non_finite = false;

    const double error_power = math::pow(error, exponent);
    if (error <= 1.0) {
      // Dense output on [t, t_new] for every save point it covers (HNW II.6, DOPRI5's CONTD5).
      while (next_save < save_count) {
        const double t_save = t0 + next_save * save_interval;
        if (t_save > t_new) break; // the final t_save is computed as t_end: served by the last step
        double s = (t_save - t) / h;
        s = s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
        const double s1 = 1.0 - s;
        double dense[N];
        for (int i = 0; i < N; ++i) {
          const double difference = y_new[i] - y[i];
          const double slope_term = h * k1[i] - difference;
          const double curvature_term = difference - h * k7[i] - slope_term;
          const double fourth = h * (d1 * k1[i] + d3 * k3[i] + d4 * k4[i] + d5 * k5[i] + d6 * k6[i] + d7 * k7[i]);
          dense[i] = y[i] + s * (difference + s1 * (slope_term + s * (curvature_term + s1 * fourth)));
        }
        observer(next_save, dense);
        ++next_save;
      }
      ++result.accepted_steps;
      t = t_new;
      for (int i = 0; i < N; ++i) {
        y[i] = y_new[i];
        k1[i] = k7[i];
      }
      if (last) return result;
      double factor = error_power / math::pow(previous_error, beta);
      factor = math::fmax(grow_limit, math::fmin(shrink_limit, factor / safety));
      double h_new = h / factor;
      if (rejected) h_new = math::fmin(h_new, h);
      previous_error = math::fmax(error, 1e-4);
      rejected = false;
      h = math::fmin(h_new, h_max);
    } else {
      ++result.rejected_steps;
      rejected = true;
      h /= math::fmin(shrink_limit, error_power / safety);
    }
  }
}

} // namespace detail

} // namespace osbi
