// SPDX-License-Identifier: BSD-3-Clause
/// \brief A task whose observation is a variable number of iid trials with a closed-form posterior: k ∈ {1..K}
/// draws of N(μ, σ²) under the conjugate normal-inverse-gamma prior, θ = (μ, log σ); and exact posterior draws.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/simulator/simulator.hpp>

#include <Eigen/Dense>
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace osbi::testing {

/// The conjugate prior: σ² ~ InvGamma(α, β), μ | σ² ~ N(μ₀, σ²/κ), with α = 3 (so Gamma(α) is a sum of three
/// exponentials), β = 2, μ₀ = 0, κ = 0.25; θ = (μ, log σ), unbounded.
struct NormalInverseGammaPrior {
  using scalar_type = float;
  using execution_space = Kokkos::Serial;
  static constexpr double alpha = 3, beta = 2, mu0 = 0, kappa = 0.25;

  std::size_t dim() const { return 2; }
  SupportBounds support() const { return SupportBounds::unbounded(2); }

  void sample(const execution_space& space, BatchRandom rng, const Matrix<float, execution_space>& theta) const {
    require_extent(theta.extent(1), 2, "NormalInverseGammaPrior", "theta's column count");
    Kokkos::parallel_for(
        "test::NormalInverseGammaPrior::sample", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          const double gamma = -std::log(generator.uniform() * generator.uniform() * generator.uniform());
          const double variance = beta / gamma;
          theta(i, 0) = static_cast<float>(mu0 + std::sqrt(variance / kappa) * generator.normal());
          theta(i, 1) = static_cast<float>(0.5 * std::log(variance));
        });
  }

  /// log p(μ, s = log σ) = log InvGamma(σ²) + log 2σ² (the Jacobian of σ² = e^{2s}) + log N(μ; μ₀, σ²/κ).
  void log_prob(const execution_space& space, const ConstMatrix<float, execution_space>& theta,
                const Vector<float, execution_space>& out) const {
    require_extent(theta.extent(1), 2, "NormalInverseGammaPrior", "theta's column count");
    require_extent(out.extent(0), theta.extent(0), "NormalInverseGammaPrior", "out's size");
    const double normalizer = alpha * std::log(beta) - std::lgamma(alpha);
    Kokkos::parallel_for(
        "test::NormalInverseGammaPrior::log_prob", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double mu = theta(i, 0), s = theta(i, 1), variance = std::exp(2 * s);
          const double inverse_gamma = normalizer - (alpha + 1) * std::log(variance) - beta / variance;
          const double normal = -0.5 * std::log(2 * M_PI * variance / kappa) - 0.5 * kappa * (mu - mu0) * (mu - mu0) / variance;
          out(i) = static_cast<float>(inverse_gamma + std::log(2 * variance) + normal);
        });
  }
};
static_assert(Prior<NormalInverseGammaPrior>);

/// x = (k, x_1, …, x_k, 0, …): k uniform on {min_trials..max_trials}, x_j ~ N(μ, σ²) iid, θ = (μ, log σ).
struct IidGaussianSimulator {
  using scalar_type = float;
  using execution_space = Kokkos::Serial;
  std::size_t min_trials = 1, max_trials = 100;

  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 1 + max_trials; }

  void simulate(const execution_space& space, const ConstMatrix<float, execution_space>& theta,
                const Matrix<float, execution_space>& x, BatchRandom rng) const {
    const std::size_t low = min_trials, high = max_trials;
    Kokkos::parallel_for(
        "test::IidGaussianSimulator", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          std::size_t k = low + static_cast<std::size_t>(generator.uniform() * static_cast<double>(high - low + 1));
          if (k > high) k = high;
          const double sigma = std::exp(static_cast<double>(theta(i, 1)));
          x(i, 0) = static_cast<float>(k);
          for (std::size_t j = 0; j < high; ++j)
            x(i, 1 + j) = j < k ? static_cast<float>(theta(i, 0) + sigma * generator.normal()) : 0.0f;
        });
  }
};
static_assert(Simulator<IidGaussianSimulator>);

/// An observation of k trials from θ = (μ, log σ), drawn with a host generator seeded by `seed`.
inline std::vector<double> iid_gaussian_observation(std::size_t k, std::size_t max_trials, double mu, double log_sigma,
                                                    std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(mu, std::exp(log_sigma));
  std::vector<double> x(1 + max_trials, 0.0);
  x[0] = static_cast<double>(k);
  for (std::size_t j = 0; j < k; ++j) x[1 + j] = normal(engine);
  return x;
}

/// n exact posterior draws of (μ, log σ) given x (the conjugate update: κₙ = κ + k, μₙ = (κμ₀ + k x̄)/κₙ,
/// αₙ = α + k/2, βₙ = β + SS/2 + κk(x̄ − μ₀)²/(2κₙ)); a host generator independent of the code under test.
inline Eigen::MatrixXd nig_posterior_samples(const std::vector<double>& x, std::size_t n, std::uint64_t seed) {
  using P = NormalInverseGammaPrior;
  const std::size_t k = static_cast<std::size_t>(x[0]);
  double mean = 0;
  for (std::size_t j = 0; j < k; ++j) mean += x[1 + j];
  mean /= static_cast<double>(k);
  double squares = 0;
  for (std::size_t j = 0; j < k; ++j) squares += (x[1 + j] - mean) * (x[1 + j] - mean);
  const double kappa_n = P::kappa + static_cast<double>(k);
  const double mu_n = (P::kappa * P::mu0 + static_cast<double>(k) * mean) / kappa_n;
  const double alpha_n = P::alpha + 0.5 * static_cast<double>(k);
  const double beta_n = P::beta + 0.5 * squares + P::kappa * static_cast<double>(k) * (mean - P::mu0) * (mean - P::mu0) / (2 * kappa_n);
  std::mt19937_64 engine(seed);
  std::gamma_distribution<double> gamma(alpha_n, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd samples(static_cast<Eigen::Index>(n), 2);
  for (std::size_t i = 0; i < n; ++i) {
    const double variance = beta_n / gamma(engine);
    samples(static_cast<Eigen::Index>(i), 0) = mu_n + std::sqrt(variance / kappa_n) * normal(engine);
    samples(static_cast<Eigen::Index>(i), 1) = 0.5 * std::log(variance);
  }
  return samples;
}

} // namespace osbi::testing
