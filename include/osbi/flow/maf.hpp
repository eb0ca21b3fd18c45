// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalMAF: the masked autoregressive flow q(θ | x) with affine transforms (sbi's "maf" density
/// estimator) — AutoregressiveFlow with AffineTransform; models ConditionalDensity.
#pragma once

#include <osbi/flow/autoregressive_flow.hpp>
#include <osbi/flow/detail/softplus.hpp>
#include <osbi/flow/rational_quadratic.hpp>

#include <osbi/core/types.hpp>
#include <osbi/core/random_streams.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace osbi {

/// Architecture of a ConditionalMAF: AutoregressiveOptions, whose defaults are sbi's `posterior_nn("maf")`.
struct MAFOptions : AutoregressiveOptions {};

/// MAF's elementwise map (nflows' MaskedAffineAutoregressiveTransform): z = s·y + b with s = softplus(p₀) + 10⁻³
/// (nflows' default constant, so scales stay positive) and b = p₁; log|∂z/∂y| = log s. An ElementwiseTransform
/// (flow/elementwise_transform.hpp) device object; its forward keeps s and σ(p₀) (one exp for both) for backward.
template <class Scalar>
struct AffineElementwise {
  static constexpr double scale_epsilon = 1e-3;
  static constexpr std::size_t saved_count = 2; ///< s, σ(p₀)

  KOKKOS_INLINE_FUNCTION std::size_t parameter_count() const { return 2; }

  KOKKOS_INLINE_FUNCTION Scalar scale(const Scalar* parameters) const {
    return detail::softplus(parameters[0]) + static_cast<Scalar>(scale_epsilon);
  }

  KOKKOS_INLINE_FUNCTION SplineValue<Scalar> forward(Scalar y, const Scalar* parameters) const {
    const Scalar s = scale(parameters);
    return {s * y + parameters[1], math::log(s)};
  }

  /// forward, keeping saved[0] = s and saved[1] = σ(p₀), both from one e^(−|p₀|) (the same values as scale() and
  /// detail::sigmoid, to the bit).
  KOKKOS_INLINE_FUNCTION SplineValue<Scalar> forward(Scalar y, const Scalar* parameters, Scalar* saved) const {
    const detail::SoftplusAndSigmoid<Scalar> both = detail::softplus_and_sigmoid(parameters[0]);
    const Scalar s = both.softplus + static_cast<Scalar>(scale_epsilon);
    saved[0] = s;
    saved[1] = both.sigmoid;
    return {s * y + parameters[1], math::log(s)};
  }

  KOKKOS_INLINE_FUNCTION Scalar inverse(Scalar z, const Scalar* parameters) const {
    return (z - parameters[1]) / scale(parameters);
  }

  /// ℓ = ḡ_z·z + ḡ_ℓ·log s: ∂ℓ/∂s = ḡ_z·y + ḡ_ℓ/s, ∂ℓ/∂p₀ = that·σ(p₀), ∂ℓ/∂p₁ = ḡ_z; returns ∂ℓ/∂y = ḡ_z·s.
  KOKKOS_INLINE_FUNCTION Scalar backward(Scalar y, const Scalar* parameters, Scalar grad_value, Scalar grad_log_det,
                                         Scalar* grad_parameters) const {
    const Scalar saved[2] = {scale(parameters), detail::sigmoid(parameters[0])};
    return backward(y, parameters, saved, grad_value, grad_log_det, grad_parameters);
  }

  /// backward with s and σ(p₀) as forward(y, p, saved) kept them.
  KOKKOS_INLINE_FUNCTION Scalar backward(Scalar y, const Scalar*, const Scalar* saved, Scalar grad_value,
                                         Scalar grad_log_det, Scalar* grad_parameters) const {
    const Scalar s = saved[0];
    const Scalar grad_s = grad_value * y + grad_log_det / s;
    grad_parameters[0] = grad_s * saved[1];
    grad_parameters[1] = grad_value;
    return grad_value * s;
  }
};

/// The affine transform family of ConditionalMAF (an ElementwiseTransform): options MAFOptions, its own random streams.
struct AffineTransform {
  using options_type = MAFOptions;
  static constexpr const char* part = "osbi::ConditionalMAF";
  static constexpr std::uint64_t init_stream = streams::maf_init;
  static constexpr std::uint64_t permutation_stream = streams::maf_permutation;

  template <class Scalar>
  static AffineElementwise<Scalar> elementwise(const MAFOptions&) {
    return {};
  }
};

/*
 * ConditionalMAF — q(θ | x) as in sbi's default NPE estimator (nflows; the peer's ConditionalMAF): the autoregressive
 * flow of flow/autoregressive_flow.hpp with the affine map z_j = s_j·y_j + b_j, s_j = softplus(p_{2j}) + 10⁻³, so
 *   log q(θ | x) = log N(y_K; 0, I) + Σ_k Σ_j log s_{k,j} − Σ_j log θ_std_j,
 * and sampling inverts each transform with D passes of y ← (v − b(y)) / s(y) from y = 0.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
using ConditionalMAF = AutoregressiveFlow<AffineTransform, Scalar, ExecutionSpace>;

static_assert(ConditionalDensity<ConditionalMAF<float, DefaultExecutionSpace>>,
              "ConditionalMAF must model ConditionalDensity (osbi/estimator/conditional_density.hpp)");

/// sbi's default NPE density estimator (`posterior_nn("maf")`): 5 MADE transforms of 2 × 50 hidden units.
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
ConditionalMAF<Scalar, ExecutionSpace> sbi_default_maf(std::size_t theta_dim, std::size_t context_dim,
                                                      std::uint64_t seed = 0) {
  MAFOptions options;
  options.seed = seed;
  return ConditionalMAF<Scalar, ExecutionSpace>(theta_dim, context_dim, options);
}

/// The type of sbi's default estimator in float on the default backend (its default MAFOptions are sbi's).
using SbiMAF = ConditionalMAF<real_t, DefaultExecutionSpace>;

} // namespace osbi
