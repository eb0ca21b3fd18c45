// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalNSF: an autoregressive neural spline flow q(θ | x) (rational-quadratic splines) —
/// AutoregressiveFlow with SplineTransform; models ConditionalDensity.
#pragma once

#include <osbi/flow/autoregressive_flow.hpp>
#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/rational_quadratic.hpp>

#include <osbi/core/types.hpp>
#include <osbi/core/random_streams.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace osbi {

/// Architecture of a ConditionalNSF: AutoregressiveOptions and the spline's shape; the defaults are sbi's (5
/// transforms, 2 blocks of 50 hidden units, 10 bins, tail bound 3).
struct NSFOptions : AutoregressiveOptions {
  RationalQuadraticOptions spline{};
};

/// The rational-quadratic spline family of ConditionalNSF (an ElementwiseTransform, flow/elementwise_transform.hpp):
/// options NSFOptions; the device object is RationalQuadraticSpline with nflows' logit scale 1/√hidden (the raw widths
/// and heights divided by √hidden); its own random streams.
struct SplineTransform {
  using options_type = NSFOptions;
  static constexpr const char* part = "osbi::ConditionalNSF";
  static constexpr std::uint64_t init_stream = streams::nsf_init;
  static constexpr std::uint64_t permutation_stream = streams::nsf_permutation;

  /// Checks hidden > 0 (before the MADEs exist) and the spline's options.
  template <class Scalar>
  static RationalQuadraticSpline<Scalar> elementwise(const NSFOptions& options) {
    const double hidden = static_cast<double>(detail::require_positive(part, options.hidden, "options.hidden"));
    return RationalQuadraticSpline<Scalar>(options.spline, 1.0 / std::sqrt(hidden));
  }
};

/*
 * ConditionalNSF — q(θ | x) with masked autoregressive rational-quadratic transforms (nflows'
 * MaskedPiecewiseRationalQuadraticAutoregressiveTransform with tails = "linear"): the autoregressive flow of
 * flow/autoregressive_flow.hpp with τ = RationalQuadraticSpline (P = 3K − 1 MADE outputs per dimension, logit scale
 * 1/√H), so
 *   log q(θ | x) = log N(y_T; 0, I) + Σ_k Σ_j ℓ_{k,j} − Σ_j log θ_std_j,   ℓ the splines' log-slopes,
 * and sampling inverts each transform with D passes of y_j ← spline⁻¹(v_j; MADE_k(y, c)) from y = 0.
 * The architecture is sbi's `maf_rqs` (build_maf_rqs: tanh MADE, no residual blocks, random permutations); sbi's
 * `nsf` is a coupling flow (residual ReLU conditioners, LU-linear mixing). spline() is the RationalQuadraticSpline of
 * every dimension and transform.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
using ConditionalNSF = AutoregressiveFlow<SplineTransform, Scalar, ExecutionSpace>;

static_assert(ConditionalDensity<ConditionalNSF<float, DefaultExecutionSpace>>,
              "ConditionalNSF must model ConditionalDensity (osbi/estimator/conditional_density.hpp)");

/// sbi's spline flow settings in autoregressive form (`maf_rqs`): 5 transforms of 2 × 50 hidden units,
/// 10 bins, tail bound 3.
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
ConditionalNSF<Scalar, ExecutionSpace> sbi_default_nsf(std::size_t theta_dim, std::size_t context_dim,
                                                       std::uint64_t seed = 0) {
  NSFOptions options;
  options.seed = seed;
  return ConditionalNSF<Scalar, ExecutionSpace>(theta_dim, context_dim, options);
}

/// An NSF in float on the default backend with sbi's NSF settings (the default NSFOptions).
using SbiNSF = ConditionalNSF<real_t, DefaultExecutionSpace>;

} // namespace osbi
