// SPDX-License-Identifier: BSD-3-Clause
/// \brief Pointwise activation functions and their derivatives, usable in kernels and epilogues.
#pragma once

#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

namespace osbi::nn::activation {

/*
 * An activation is a stateless type with
 *   static Scalar value(Scalar x)                 y = f(x)
 *   static Scalar derivative(Scalar x, Scalar y)  f'(x), given both x and y = f(x) (whichever is cheaper)
 *   static constexpr bool needs_input             whether derivative() reads x (else only y is used),
 *                                                 so a layer knows whether to keep its pre-activation.
 * All arithmetic in Scalar; host and device.
 */

struct Identity {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) { return x; }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar, Scalar) { return Scalar(1); }
};

struct ReLU {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) { return x > Scalar(0) ? x : Scalar(0); }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return y > Scalar(0) ? Scalar(1) : Scalar(0); }
};

struct Tanh {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) { return math::tanh(x); }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return Scalar(1) - y * y; }
};

/// GELU with the exact erf form (PyTorch's default): x·Φ(x).
struct GELU {
  static constexpr bool needs_input = true;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) {
    return Scalar(0.5) * x * (Scalar(1) + math::erf(x * Scalar(0.70710678118654752440)));
  }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar x, Scalar) {
    const Scalar cdf = Scalar(0.5) * (Scalar(1) + math::erf(x * Scalar(0.70710678118654752440)));
    const Scalar pdf = Scalar(0.39894228040143267794) * math::exp(Scalar(-0.5) * x * x);
    return cdf + x * pdf;
  }
};

/// SiLU (swish): x·σ(x).
struct SiLU {
  static constexpr bool needs_input = true;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) { return x / (Scalar(1) + math::exp(-x)); }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar x, Scalar) {
    const Scalar sigmoid = Scalar(1) / (Scalar(1) + math::exp(-x));
    return sigmoid * (Scalar(1) + x * (Scalar(1) - sigmoid));
  }
};

/// ELU with α = 1: x for x > 0, eˣ − 1 otherwise.
struct ELU {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar value(Scalar x) { return x > Scalar(0) ? x : math::expm1(x); }
  template <class Scalar>
  KOKKOS_INLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return y > Scalar(0) ? Scalar(1) : y + Scalar(1); }
};

} // namespace osbi::nn::activation
