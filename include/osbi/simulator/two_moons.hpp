// SPDX-License-Identifier: BSD-3-Clause
/// \brief sbibm's two_moons task: a noisy half-ring shifted by |rotated θ|, with sbibm's likelihood and the true
/// density.
#pragma once

#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/box_uniform.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace osbi {

/*
 * two_moons exactly as sbibm defines it (shared/sbibm-tasks/README.md):
 *   a ~ U(−π/2, π/2), then r ~ N(0.1, 0.01²), both from rng.row(i) in that order;
 *   p = (r·cos a + 0.25, r·sin a); z₀ = (θ₁ + θ₂)/√2, z₁ = (θ₂ − θ₁)/√2; x = p + (−|z₀|, z₁).
 *
 * Two host densities of x given θ, in double:
 *   log_likelihood  sbibm's `_likelihood` (the README formula): log N(r; 0.1, 0.01²), −∞ where u < 0.
 *                   This is the density of the *radius*, not of x: it lacks the polar Jacobian.
 *   log_density     the true density of x: (a, r) has density N(r)/π on (−π/2, π/2) × R, and
 *                   (u, v) = r(cos a, sin a) has |∂(u, v)/∂(r, a)| = r, so p(x | θ) = N(r)/(π r) for
 *                   u > 0 (ignoring r < 0, which has probability ~1e-23). Hence
 *                   log_density = log_likelihood − log(π r). The missing term depends on x only, so
 *                   sbibm's reference posteriors (θ-dependence through r) are unaffected, but any use
 *                   of log_likelihood as a normalised density of x (e.g. scoring a likelihood
 *                   estimator) must use log_density.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class TwoMoons {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  static constexpr double radius_mean = 0.1;
  static constexpr double radius_standard_deviation = 0.01;
  static constexpr double offset = 0.25;

  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }

  /// U(−1, 1)².
  BoxUniform<Scalar, ExecutionSpace> prior() const {
    return BoxUniform<Scalar, ExecutionSpace>({-1.0, -1.0}, {1.0, 1.0});
  }

  /// The Simulator contract (simulator.hpp).
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng) const {
    check_simulation_shapes("osbi::TwoMoons", theta, x, theta_dim(), x_dim());
    Kokkos::parallel_for(
        "osbi::simulator::TwoMoons::simulate", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          double out[2];
          simulate_one(static_cast<double>(theta(i, 0)), static_cast<double>(theta(i, 1)), generator, out);
          x(i, 0) = static_cast<Scalar>(out[0]);
          x(i, 1) = static_cast<Scalar>(out[1]);
        });
  }

  /// One simulation (row i of simulate() draws with rng.row(i)): for point-simulator wrappers.
  KOKKOS_INLINE_FUNCTION static void simulate_one(double theta0, double theta1, RowRandom& generator, double (&x)[2]) {
    constexpr double half_pi = 1.57079632679489661923;
    constexpr double inverse_sqrt2 = 0.70710678118654752440;
    const double a = generator.uniform(-half_pi, half_pi);
    const double r = generator.normal(radius_mean, radius_standard_deviation);
    const double z0 = (theta0 + theta1) * inverse_sqrt2;
    const double z1 = (theta1 - theta0) * inverse_sqrt2;
    x[0] = r * math::cos(a) + offset - math::fabs(z0);
    x[1] = r * math::sin(a) + z1;
  }

  /// p = x − (−|z₀|, z₁) relative to the ring's centre: (u, v) = (p₁ − 0.25, p₂).
  static std::array<double, 2> ring_coordinates(const std::array<double, 2>& theta, const std::array<double, 2>& x) {
    const double inverse_sqrt2 = 1.0 / std::sqrt(2.0);
    const double z0 = (theta[0] + theta[1]) * inverse_sqrt2;
    const double z1 = (theta[1] - theta[0]) * inverse_sqrt2;
    return {x[0] + std::abs(z0) - offset, x[1] - z1};
  }

  /// sbibm's log-likelihood (README formula): log N(r; 0.1, 0.01²), −∞ where u < 0. Not a density of x.
  static double log_likelihood(const std::array<double, 2>& theta, const std::array<double, 2>& x) {
    const auto [u, v] = ring_coordinates(theta, x);
    if (u < 0.0) return -std::numeric_limits<double>::infinity();
    const double r = std::sqrt(u * u + v * v);
    const double z = (r - radius_mean) / radius_standard_deviation;
    return -0.5 * z * z - 0.5 * std::log(2.0 * M_PI * radius_standard_deviation * radius_standard_deviation);
  }

  /// The true log-density of x given θ: log_likelihood − log(π r); −∞ where u < 0.
  static double log_density(const std::array<double, 2>& theta, const std::array<double, 2>& x) {
    const auto [u, v] = ring_coordinates(theta, x);
    if (u < 0.0) return -std::numeric_limits<double>::infinity();
    const double r = std::sqrt(u * u + v * v);
    return log_likelihood(theta, x) - std::log(M_PI * r);
  }
};

} // namespace osbi
