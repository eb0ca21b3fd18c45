// SPDX-License-Identifier: BSD-3-Clause
/// \brief Gaussian probability paths θ_t = α(t)·θ₀ + σ(t)·ε: the linear (rectified) path of flow matching and the VE, VP and sub-VP SDEs of score diffusion.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>

namespace osbi {

/// What an estimator on a path learns: the velocity of the path (flow matching) or the score ∇ log p_t (diffusion).
enum class VectorFieldKind { velocity, score };

/*
 * GaussianPath — every path here noises data θ₀ as θ_t = α(t)·θ₀ + σ(t)·ε, ε ~ N(0, I), t ∈ [t_min, t_max], with
 * θ at t_min (nearly) the data and at t_max (nearly) N(0, α(t_max)²·Var θ₀ + σ(t_max)²). A path type provides,
 * host and device (trivially copyable):
 *
 *   alpha(t), sigma(t), alpha_rate(t) = α'(t), sigma_rate(t) = σ'(t)
 *   t_min, t_max                       the interval training draws t from and samplers integrate over
 *   static constexpr VectorFieldKind kind   what the network is trained to predict
 *   check()                            host validation of the parameters (InvalidArgument)
 *
 * The SDE of a diffusion path: dθ = f(t)·θ dt + g(t) dW with f = α'/α and g² = (σ²)' − 2f·σ² (helpers below):
 * for VE g² = 2σ²·log(σ_max/σ_min), for VP g² = β(t), for sub-VP g² = β(t)·(1 − α⁴). Its probability-flow ODE
 * dθ/dt = f·θ − ½g²·∇log p_t has the same marginals; for the linear path the ODE is the learned velocity itself.
 */
template <class Path>
KOKKOS_INLINE_FUNCTION double path_drift(const Path& path, double t) {
  return path.alpha_rate(t) / path.alpha(t);
}
template <class Path>
KOKKOS_INLINE_FUNCTION double path_diffusion_squared(const Path& path, double t) {
  const double sigma = path.sigma(t);
  return 2.0 * sigma * path.sigma_rate(t) - 2.0 * path_drift(path, t) * sigma * sigma;
}

/// Flow matching's linear path (Lipman et al. 2023, with sbi's convention t = 0 data, t = 1 noise):
/// θ_t = (1 − t)·θ₀ + (σ_min + (1 − σ_min)·t)·ε, t ∈ [0, 1]; the conditional velocity is (1 − σ_min)·ε − θ₀.
struct LinearPath {
  static constexpr VectorFieldKind kind = VectorFieldKind::velocity;
  double sigma_min = 1e-3;
  double t_min = 0.0, t_max = 1.0;

  KOKKOS_INLINE_FUNCTION double alpha(double t) const { return 1.0 - t; }
  KOKKOS_INLINE_FUNCTION double sigma(double t) const { return sigma_min + (1.0 - sigma_min) * t; }
  KOKKOS_INLINE_FUNCTION double alpha_rate(double) const { return -1.0; }
  KOKKOS_INLINE_FUNCTION double sigma_rate(double) const { return 1.0 - sigma_min; }
  void check() const {
    require(std::isfinite(sigma_min) && sigma_min >= 0 && sigma_min < 1, "osbi::LinearPath",
            "sigma_min = ", sigma_min, " must be in [0, 1)");
    require(t_min == 0.0 && t_max == 1.0, "osbi::LinearPath", "the linear path runs over t ∈ [0, 1]");
  }
};

/// Variance exploding (Song et al. 2021; sbi's NPSE default): α = 1, σ(t) = σ_min·(σ_max/σ_min)^t, t ∈ [1e-3, 1].
struct VarianceExploding {
  static constexpr VectorFieldKind kind = VectorFieldKind::score;
  double sigma_min = 1e-4, sigma_max = 10.0;
  double t_min = 1e-3, t_max = 1.0;

  KOKKOS_INLINE_FUNCTION double alpha(double) const { return 1.0; }
  KOKKOS_INLINE_FUNCTION double sigma(double t) const { return sigma_min * math::exp(t * math::log(sigma_max / sigma_min)); }
  KOKKOS_INLINE_FUNCTION double alpha_rate(double) const { return 0.0; }
  KOKKOS_INLINE_FUNCTION double sigma_rate(double t) const { return sigma(t) * math::log(sigma_max / sigma_min); }
  void check() const {
    require(std::isfinite(sigma_min) && std::isfinite(sigma_max) && sigma_min > 0 && sigma_max > sigma_min,
            "osbi::VarianceExploding", "need 0 < sigma_min < sigma_max, got ", sigma_min, " and ", sigma_max);
    require(t_min > 0 && t_max > t_min && t_max <= 1, "osbi::VarianceExploding", "need 0 < t_min < t_max <= 1");
  }
};

/// Variance preserving (DDPM's SDE): β(t) = β_min + t·(β_max − β_min), α = exp(−½∫β), σ = √(1 − α²).
struct VariancePreserving {
  static constexpr VectorFieldKind kind = VectorFieldKind::score;
  double beta_min = 0.01, beta_max = 10.0;
  double t_min = 1e-3, t_max = 1.0;

  KOKKOS_INLINE_FUNCTION double beta(double t) const { return beta_min + t * (beta_max - beta_min); }
  KOKKOS_INLINE_FUNCTION double alpha(double t) const {
    return math::exp(-0.5 * (beta_min * t + 0.5 * (beta_max - beta_min) * t * t));
  }
  KOKKOS_INLINE_FUNCTION double sigma(double t) const {
    const double a = alpha(t);
    return math::sqrt(1.0 - a * a);
  }
  KOKKOS_INLINE_FUNCTION double alpha_rate(double t) const { return -0.5 * beta(t) * alpha(t); }
  KOKKOS_INLINE_FUNCTION double sigma_rate(double t) const {
    const double a = alpha(t);
    return a * a * beta(t) / (2.0 * sigma(t));
  }
  void check() const {
    require(std::isfinite(beta_min) && std::isfinite(beta_max) && beta_min > 0 && beta_max >= beta_min,
            "osbi::VariancePreserving", "need 0 < beta_min <= beta_max, got ", beta_min, " and ", beta_max);
    require(t_min > 0 && t_max > t_min && t_max <= 1, "osbi::VariancePreserving", "need 0 < t_min < t_max <= 1");
  }
};

/// Sub-VP (Song et al. 2021): VP's α, σ = 1 − α² (never above VP's σ; lower likelihood variance).
struct SubVariancePreserving : VariancePreserving {
  KOKKOS_INLINE_FUNCTION double sigma(double t) const {
    const double a = alpha(t);
    return 1.0 - a * a;
  }
  KOKKOS_INLINE_FUNCTION double sigma_rate(double t) const {
    const double a = alpha(t);
    return a * a * beta(t);
  }
};

} // namespace osbi
