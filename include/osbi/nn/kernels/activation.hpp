// SPDX-License-Identifier: BSD-3-Clause
/// \brief Pointwise activation functions and their derivatives, usable in kernels and epilogues.
#pragma once

#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

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
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) { return x; }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar, Scalar) { return Scalar(1); }
};

struct ReLU {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) { return x > Scalar(0) ? x : Scalar(0); }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return y > Scalar(0) ? Scalar(1) : Scalar(0); }
};

/// `condition ? if_true : if_false` for floats as a bitwise select, not a branch.
///
/// Why not `?:`: GCC specializes the code after a select on a constant (a clamp at ±4, say) per incoming
/// value and folds the whole polynomial that follows into a constant on the clamped paths. What is left
/// is a branch around the polynomial, and a float operation that may trap (GCC's default
/// -ftrapping-math) cannot be made unconditional, so the loop is not vectorized. AVX-512's masks hide
/// this, but on AVX2 every loop through these approximations stayed scalar ("control flow in loop");
/// GELU was then a third of a vector-field training step.
KOKKOS_FORCEINLINE_FUNCTION float select_float(bool condition, float if_true, float if_false) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(if_true) & mask) |
                              (std::bit_cast<std::uint32_t>(if_false) & ~mask));
}

/// min(max(x, lo), hi), NaN passing through, with no branch (see select_float).
KOKKOS_FORCEINLINE_FUNCTION float clamp_float(float x, float lo, float hi) {
  const float at_least_lo = select_float(x < lo, lo, x);
  return select_float(at_least_lo > hi, hi, at_least_lo);
}

/// tanh in float as a branch-free rational approximation (the 13/6 odd/even minimax ratio of Eigen's
/// generic_fast_tanh_float, MPL-2.0): within a few ulp of tanhf, and it vectorizes inside the GEMM
/// epilogue where a libm call per element would cost more than the matrix product of a small layer.
KOKKOS_FORCEINLINE_FUNCTION float fast_tanh(float input) {
  const float x = clamp_float(input, -7.90531110763549805f, 7.90531110763549805f);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  const float y = p / q;
  const float tiny = 0.0004f;
  const bool small = (input < tiny) & (input > -tiny); // `&`, not `&&`: no branch (see select_float)
  return select_float(small, input, clamp_float(y, -1.0f, 1.0f));
}

/// erf in float as a branch-free rational approximation (the 13/8 odd/even ratio of Eigen's generic_fast_erf_float,
/// MPL-2.0) on [−4, 4], ±1 beyond: within 4e-7 (7 float ulp at worst) of erf, and, unlike a libm call, it vectorizes in GELU's
/// epilogue (libm's erff was 45 % of a vector-field training step).
KOKKOS_FORCEINLINE_FUNCTION float fast_erf(float input) {
  const float x = clamp_float(input, -4.0f, 4.0f);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

/// log1p in float for e in [0, 1] (softplus's log(1 + e^{−|a|})), and in [−0.293, 0] for fast_log: log1p(e) =
/// 2·atanh(s) with s = e / (2 + e) in [−0.172, 1/3], the series 2·(s + s³/3 + … + s¹⁷/17), whose first omitted term is
/// below 1.5e-9 relative. Within 2 ulp of log1p over every float of [2⁻¹²⁶, 1] (checked exhaustively against the double
/// log1p; glibc's log1pf: 1.3), one division and no branch, so it inlines and vectorizes where log1pf was a call (a
/// quarter of a spline's time).
KOKKOS_FORCEINLINE_FUNCTION float fast_log1p_unit(float e) {
  const float s = e / (2.0f + e);
  const float s2 = s * s;
  float p = 1.0f / 17.0f;
  p = p * s2 + 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  return 2.0f * s + 2.0f * s * s2 * p;
}

/// exp in float for x <= 0 (Cephes' expf: x = n·ln 2 + r, a degree-6 polynomial for e^r, 2^n from the exponent
/// bits), 0 below −87: within 2 ulp of expf, and vectorizable (GELU's derivative needs e^{−x²/2}).
KOKKOS_FORCEINLINE_FUNCTION float fast_exp_nonpositive(float input) {
  const float x = clamp_float(input, -87.0f, 0.0f);
  // n = round(x·log₂e) by the 1.5·2²³ shift (exact for |x·log₂e| < 2²², and it vectorizes where floor did not).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<std::int32_t>(static_cast<std::int32_t>(n) + 127) << 23);
  return select_float(input < -87.0f, 0.0f, y * scale);
}

/// e^x for x <= 0 in any Scalar: the polynomial above in float, the library exp in double (the softmaxes of
/// attention and of the spline, softplus's e^(−|a|)).
template <class Scalar>
KOKKOS_FORCEINLINE_FUNCTION Scalar exp_nonpositive(Scalar x) {
  if constexpr (std::is_same_v<Scalar, float>)
    return fast_exp_nonpositive(x);
  else
    return math::exp(x);
}

/// log in float (Cephes' logf split: v = 2ⁿ·m with m in [√½, √2), log v = n·ln 2 + log1p(m − 1), the log1p by
/// fast_log1p_unit, whose series serves m − 1 in [−0.293, 0.414] as well): within 2 ulp of log over every positive
/// float (subnormals scaled first), log 0 = −∞, log ∞ = ∞, NaN for v < 0 and NaN. No branch and no call, so it
/// vectorizes where logf is a call (the spline's log-slope, evaluated across rows: flow/rational_quadratic.hpp).
KOKKOS_FORCEINLINE_FUNCTION float fast_log(float input) {
  const bool subnormal = input < 1.17549435e-38f;
  const float v = select_float(subnormal, input * 8388608.0f, input); // × 2²³
  const std::int32_t bits = std::bit_cast<std::int32_t>(v);
  // Exponent counted from √½'s bits, so the mantissa left lands in [√½, √2); multiplication, not <<, on a
  // negative exponent.
  const std::int32_t exponent = (bits - 0x3f3504f3) >> 23;
  const float m = std::bit_cast<float>(bits - exponent * 0x00800000);
  const float n = static_cast<float>(exponent) - select_float(subnormal, 23.0f, 0.0f);
  const float e = m - 1.0f; // exact: m is within a factor 2 of 1
  const float log1p_e = fast_log1p_unit(e);
  // ln 2 = 0.693359375 − 2.12194440e-4: the first part has 9 bits, so n times it is exact.
  float result = (log1p_e + n * -2.12194440e-4f) + n * 0.693359375f;
  result = select_float(input == 0.0f, -std::numeric_limits<float>::infinity(), result);
  result = select_float(input > 3.40282347e38f, input, result);
  return select_float(input >= 0.0f, result, std::numeric_limits<float>::quiet_NaN());
}

/// log v for v > 0 in any Scalar: the approximation above in float, the library log in double.
template <class Scalar>
KOKKOS_FORCEINLINE_FUNCTION Scalar log_positive(Scalar v) {
  if constexpr (std::is_same_v<Scalar, float>)
    return fast_log(v);
  else
    return math::log(v);
}

/// √v in float for v >= 0 with no branch and no library call: GCC keeps std::sqrt scalar unless -fno-math-errno (a
/// negative argument must be able to set errno). 1/√v from the exponent-halving guess and three Newton steps, times v:
/// within 3 ulp for normal v; 0 gives 0, +∞ gives +∞ (v itself where v·(1/√v) is not √v), NaN stays NaN.
KOKKOS_FORCEINLINE_FUNCTION float fast_sqrt_nonnegative(float v) {
  float y = std::bit_cast<float>(0x5f375a86u - (std::bit_cast<std::uint32_t>(v) >> 1));
  const float half_v = 0.5f * v;
  y = y * (1.5f - half_v * y * y);
  y = y * (1.5f - half_v * y * y);
  y = y * (1.5f - half_v * y * y);
  return select_float(!(v <= 3.40282347e38f), v, v * y);
}

/// √v for v >= 0 in any Scalar: the iteration above in float, the library sqrt in double (Adam's update).
template <class Scalar>
KOKKOS_FORCEINLINE_FUNCTION Scalar sqrt_nonnegative(Scalar v) {
  if constexpr (std::is_same_v<Scalar, float>)
    return fast_sqrt_nonnegative(v);
  else
    return math::sqrt(v);
}

struct Tanh {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) {
    if constexpr (std::is_same_v<Scalar, float>)
      return fast_tanh(x);
    else
      return math::tanh(x);
  }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return Scalar(1) - y * y; }
};

/// GELU with the exact erf form (PyTorch's default): x·Φ(x).
struct GELU {
  static constexpr bool needs_input = true;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) {
    return Scalar(0.5) * x * (Scalar(1) + erf(x * Scalar(0.70710678118654752440)));
  }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar x, Scalar) {
    const Scalar cdf = Scalar(0.5) * (Scalar(1) + erf(x * Scalar(0.70710678118654752440)));
    const Scalar pdf = Scalar(0.39894228040143267794) * gaussian(x);
    return cdf + x * pdf;
  }
  /// Float: the vectorizable approximations above; double: libm (the finite-difference checks run in double).
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar erf(Scalar x) {
    if constexpr (std::is_same_v<Scalar, float>) return fast_erf(x);
    else return math::erf(x);
  }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar gaussian(Scalar x) {
    return exp_nonpositive(Scalar(-0.5) * x * x);
  }
};

/// SiLU (swish): x·σ(x).
struct SiLU {
  static constexpr bool needs_input = true;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) { return x / (Scalar(1) + math::exp(-x)); }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar x, Scalar) {
    const Scalar sigmoid = Scalar(1) / (Scalar(1) + math::exp(-x));
    return sigmoid * (Scalar(1) + x * (Scalar(1) - sigmoid));
  }
};

/// ELU with α = 1: x for x > 0, eˣ − 1 otherwise.
struct ELU {
  static constexpr bool needs_input = false;
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar value(Scalar x) { return x > Scalar(0) ? x : math::expm1(x); }
  template <class Scalar>
  KOKKOS_FORCEINLINE_FUNCTION static Scalar derivative(Scalar, Scalar y) { return y > Scalar(0) ? Scalar(1) : y + Scalar(1); }
};

} // namespace osbi::nn::activation
