// SPDX-License-Identifier: BSD-3-Clause
/// \brief softplus and its derivative σ, without overflow: the positive parameters of the flows' elementwise transforms.
#pragma once

#include <osbi/core/kokkos_compat.hpp>
#include <osbi/nn/kernels/activation.hpp>

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace osbi::detail {

/*
 * softplus(a) = max(a, 0) + log1p(e) and σ(a) = softplus'(a) = (a >= 0 ? 1 : e) / (1 + e), both from
 * e = e^(−|a|) in (0, 1]: no overflow for any a. In float, e and log1p(e) come from the branch-free
 * approximations of nn/kernels/activation.hpp (within 2 ulp of expf and log1pf; the library calls were over
 * a quarter of a spline's time); in double, from the library. The three functions below share that
 * arithmetic, so softplus_and_sigmoid(a) equals {softplus(a), sigmoid(a)} to the bit.
 */

template <class Scalar>
KOKKOS_FORCEINLINE_FUNCTION Scalar exp_of_minus_abs(Scalar a) {
  return nn::activation::exp_nonpositive(-math::fabs(a));
}

template <class Scalar>
KOKKOS_FORCEINLINE_FUNCTION Scalar log1p_unit(Scalar e) {
  if constexpr (std::is_same_v<Scalar, float>)
    return nn::activation::fast_log1p_unit(e);
  else
    return math::log1p(e);
}

/// softplus(a) = log(1 + eᵃ), without overflow for large a.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar softplus(Scalar a) {
  const Scalar positive = a > Scalar(0) ? a : Scalar(0);
  return positive + log1p_unit(exp_of_minus_abs(a));
}

/// σ(a) = softplus'(a), without overflow for large |a|.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar sigmoid(Scalar a) {
  const Scalar e = exp_of_minus_abs(a);
  // The numerator chosen, then one division: the same value as a division in each branch, but no branch around a
  // division, which kept the spline's lane loops scalar on AVX2 (a trapping operation cannot be if-converted).
  return (a >= Scalar(0) ? Scalar(1) : e) / (Scalar(1) + e);
}

template <class Scalar>
struct SoftplusAndSigmoid {
  Scalar softplus, sigmoid;
};

/// softplus(a) and σ(a) from one e^(−|a|): the same values as the two functions above, to the bit.
template <class Scalar>
KOKKOS_INLINE_FUNCTION SoftplusAndSigmoid<Scalar> softplus_and_sigmoid(Scalar a) {
  const Scalar e = exp_of_minus_abs(a);
  const Scalar positive = a > Scalar(0) ? a : Scalar(0);
  return {positive + log1p_unit(e), (a >= Scalar(0) ? Scalar(1) : e) / (Scalar(1) + e)};
}

} // namespace osbi::detail
