// SPDX-License-Identifier: BSD-3-Clause
/// \brief sbibm's gaussian_linear task: x ~ N(θ, σ²·I) with a N(0, τ²·I) prior and a closed-form posterior.
#pragma once

#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/gaussian.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace osbi {

/*
 * gaussian_linear as sbibm defines it (shared/sbibm-tasks/README.md), with the sizes as parameters:
 *   prior θ ~ N(0, prior_variance·I), simulator x = θ + √noise_variance·ε, ε ~ N(0, I) drawn from
 *   rng.row(i) in column order. Defaults: dim 10, both variances 0.1.
 *   Posterior for one observation x₀: N(x₀·τ²/(τ² + σ²), τ²σ²/(τ² + σ²)·I) — 0.05·I and x₀/2 by default.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class GaussianLinear {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  explicit GaussianLinear(std::size_t dim = 10, double prior_variance = 0.1, double noise_variance = 0.1)
      : m_dim(dim), m_prior_variance(prior_variance), m_noise_variance(noise_variance) {
    require(dim > 0, "osbi::GaussianLinear", "dim = ", dim, " must be > 0");
    require(prior_variance > 0.0 && std::isfinite(prior_variance), "osbi::GaussianLinear",
            "prior_variance = ", prior_variance, " must be finite and > 0");
    require(noise_variance > 0.0 && std::isfinite(noise_variance), "osbi::GaussianLinear",
            "noise_variance = ", noise_variance, " must be finite and > 0");
  }

  std::size_t theta_dim() const { return m_dim; }
  std::size_t x_dim() const { return m_dim; }
  double prior_variance() const { return m_prior_variance; }
  double noise_variance() const { return m_noise_variance; }

  /// N(0, prior_variance·I).
  Gaussian<Scalar, ExecutionSpace> prior() const {
    return Gaussian<Scalar, ExecutionSpace>::diagonal(std::vector<double>(m_dim, 0.0),
                                                      std::vector<double>(m_dim, std::sqrt(m_prior_variance)));
  }

  /// The Simulator contract (simulator.hpp).
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng) const {
    check_simulation_shapes("osbi::GaussianLinear", theta, x, theta_dim(), x_dim());
    const std::size_t dim = m_dim;
    const double noise_standard_deviation = std::sqrt(m_noise_variance);
    Kokkos::parallel_for(
        "osbi::simulator::GaussianLinear::simulate", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < dim; ++j)
            x(i, j) =
                static_cast<Scalar>(static_cast<double>(theta(i, j)) + noise_standard_deviation * generator.normal());
        });
  }

  /// Posterior mean given one observation x₀ (host, double): x₀·τ²/(τ² + σ²).
  std::vector<double> posterior_mean(const std::vector<double>& observation) const {
    require_extent(observation.size(), m_dim, "osbi::GaussianLinear", "the observation's length");
    std::vector<double> mean(m_dim);
    const double shrinkage = m_prior_variance / (m_prior_variance + m_noise_variance);
    for (std::size_t j = 0; j < m_dim; ++j)
      mean[j] = shrinkage * observation[j];
    return mean;
  }

  /// Posterior variance per dimension (host): τ²σ²/(τ² + σ²), independent of x₀.
  std::vector<double> posterior_variance() const {
    return std::vector<double>(m_dim, m_prior_variance * m_noise_variance / (m_prior_variance + m_noise_variance));
  }

private:
  std::size_t m_dim;
  double m_prior_variance;
  double m_noise_variance;
};

} // namespace osbi
