// SPDX-License-Identifier: BSD-3-Clause
/// \brief softplus and its derivative σ, without overflow: the positive parameters of the flows' elementwise transforms.
#pragma once

#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

namespace osbi::detail {

/// softplus(a) = log(1 + eᵃ), without overflow for large a.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar softplus(Scalar a) {
  const Scalar positive = a > Scalar(0) ? a : Scalar(0);
  return positive + math::log1p(math::exp(-math::fabs(a)));
}

/// σ(a) = softplus'(a), without overflow for large |a|.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar sigmoid(Scalar a) {
  if (a >= Scalar(0)) return Scalar(1) / (Scalar(1) + math::exp(-a));
  const Scalar e = math::exp(a);
  return e / (Scalar(1) + e);
}

template <class Scalar>
struct SoftplusAndSigmoid {
  Scalar softplus, sigmoid;
};

/// softplus(a) and σ(a) from one e^(−|a|): the same values as the two functions above, to the bit.
template <class Scalar>
KOKKOS_INLINE_FUNCTION SoftplusAndSigmoid<Scalar> softplus_and_sigmoid(Scalar a) {
  const Scalar e = math::exp(-math::fabs(a));
  const Scalar positive = a > Scalar(0) ? a : Scalar(0);
  return {positive + math::log1p(e), a >= Scalar(0) ? Scalar(1) / (Scalar(1) + e) : e / (Scalar(1) + e)};
}

} // namespace osbi::detail
