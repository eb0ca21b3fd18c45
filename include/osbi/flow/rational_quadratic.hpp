// SPDX-License-Identifier: BSD-3-Clause
/// \brief RationalQuadraticSpline: the monotonic rational-quadratic spline with linear tails of a neural spline flow.
#pragma once

#include <osbi/flow/detail/softplus.hpp>
#include <osbi/nn/kernels/activation.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>

namespace osbi {

/*
 * RationalQuadraticSpline — Durkan et al. (2019), nflows' `unconstrained_rational_quadratic_spline` with
 * tails = "linear" (spec). One scalar map y = f(x; u) per element, parameterized by 3K − 1 unnormalized
 * values u = [u_w (K) | u_h (K) | u_d (K − 1)], contiguous in memory:
 *
 *   outside [−B, B]:  y = x, log|dy/dx| = 0                      (identity tails; |x| <= B is inside)
 *   widths    W_k = m_w + (1 − K·m_w)·softmax(s·u_w)_k,  knots X_k = −B + 2B·Σ_{m<k} W_m  (X_0 = −B, X_K = B)
 *   heights   H_k = m_h + (1 − K·m_h)·softmax(s·u_h)_k,  knots Y_k likewise
 *   slopes    d_0 = d_K = 1,  d_k = m_d + softplus(u_d,k−1) for k = 1 … K − 1
 *   in bin b (X_b <= x < X_{b+1}; b = K − 1 at x = B), with w = X_{b+1} − X_b, h = Y_{b+1} − Y_b, δ = h/w,
 *   ξ = (x − X_b)/w:
 *     y = Y_b + h·(δξ² + d_b ξ(1 − ξ)) / (δ + (d_b + d_{b+1} − 2δ) ξ(1 − ξ))
 *     log|dy/dx| = log(δ²(d_{b+1}ξ² + 2δξ(1 − ξ) + d_b(1 − ξ)²)) − 2·log(δ + (d_b + d_{b+1} − 2δ) ξ(1 − ξ))
 *
 * The end slopes are 1, so the spline joins the identity tails with a continuous derivative; nflows
 * reaches the same value by padding u_d with log(e^{1 − m_d} − 1) (boundary_unnormalized_derivative).
 * s = logit_scale multiplies u_w and u_h before the softmax: nflows' autoregressive spline transform
 * divides them by √(hidden features) when its conditioner has that attribute, i.e. s = 1/√H; s = 1 is the
 * bare nflows spline. Defaults: K = 10, B = 3,
 * m_w = m_h = m_d = 10⁻³.
 *
 * Members (device, on one element; `parameters` points at the 3K − 1 values):
 *   forward(x, u)      → {y, log|dy/dx|}.
 *   inverse(y, u)      → {x, log|dx/dy|} with f(x) = y: the root in [0, 1] of nflows' quadratic aξ² + bξ + c
 *                        in a cancellation-free form — nflows' 2c / (−b − √(b² − 4ac)) for b >= 0, the equal
 *                        (−b + √(b² − 4ac)) / 2a for b < 0, where nflows' form loses digits, and b² − 4ac
 *                        rewritten as a sum of non-negative terms; log|dx/dy| = −forward's.
 *   backward(x, u, ḡ_y, ḡ_ℓ, grad_u)
 *                      for the scalar L = ḡ_y·y + ḡ_ℓ·log|dy/dx| of forward(x, u): OVERWRITES grad_u (3K − 1
 *                      values, all of them; zeros in the tails) with ∂L/∂u and returns ∂L/∂x. The knots X_0, X_K
 *                      are constants: their softmax dependence sums to zero, so nothing is lost.
 *   forward_lanes<L>, backward_lanes<L>
 *                      (host only) forward and backward of L elements at once, lane by lane the same arithmetic
 *                      as the members above; the flows call them on host spaces.
 * The device code never throws: a NaN x falls in the tails and stays NaN, NaN parameters give NaN inside,
 * and the bin index stays in 0 … K − 1 whatever the input.
 * Host entries rational_quadratic_{forward,inverse,backward} run the members over an N × D batch whose
 * parameters are N × (3K − 1)·D, dimension j's values at columns (3K − 1)·j … (3K − 1)·j + 3K − 2 (the
 * layout of ConditionalMADE with P = 3K − 1).
 */

/// Shape of a rational-quadratic spline (nflows' defaults, with sbi's tail bound 3).
struct RationalQuadraticOptions {
  std::size_t bins = 10;   ///< K (at most RationalQuadraticSpline<>::max_bins)
  double tail_bound = 3.0; ///< B: the spline acts on [−B, B], the identity outside
  double min_bin_width = 1e-3;
  double min_bin_height = 1e-3;
  double min_derivative = 1e-3;
};

/// nflows pads the unnormalized interior slopes with this constant at both ends: m_d + softplus(·) = 1.
inline double boundary_unnormalized_derivative(double min_derivative) {
  return std::log(std::expm1(1.0 - min_derivative));
}

/// A transformed value and the log-determinant of the map that produced it.
template <class Scalar>
struct SplineValue {
  Scalar value;
  Scalar log_det;
};

template <class Scalar = real_t>
class RationalQuadraticSpline {
public:
  using scalar_type = Scalar;
  /// The most bins a spline may have: each evaluation keeps its two softmaxes' exponentials in local arrays of
  /// this size (computed once, not at every use: recomputing them was ~40 % of the spline's time in an NSF step).
  static constexpr std::size_t max_bins = 64;

  /// Checks the options on the host: 1 <= K <= max_bins, B finite and > 0, minima in (0, 1/K] for the bins and
  /// (0, 1) for the slope, logit_scale finite and > 0.
  explicit RationalQuadraticSpline(const RationalQuadraticOptions& options = {}, double logit_scale = 1.0)
      : m_bins(options.bins), m_tail_bound(static_cast<Scalar>(options.tail_bound)),
        m_min_bin_width(static_cast<Scalar>(options.min_bin_width)),
        m_min_bin_height(static_cast<Scalar>(options.min_bin_height)),
        m_min_derivative(static_cast<Scalar>(options.min_derivative)), m_logit_scale(static_cast<Scalar>(logit_scale)) {
    require(options.bins > 0 && options.bins <= max_bins, part, "bins = ", options.bins, " must be in [1, ", max_bins,
            "]");
    require(std::isfinite(options.tail_bound) && options.tail_bound > 0.0, part, "tail_bound = ", options.tail_bound,
            " must be finite and > 0");
    const double bins = static_cast<double>(options.bins);
    require(options.min_bin_width > 0.0 && options.min_bin_width * bins <= 1.0, part,
            "min_bin_width = ", options.min_bin_width, " must be > 0 and at most 1/bins = ", 1.0 / bins);
    require(options.min_bin_height > 0.0 && options.min_bin_height * bins <= 1.0, part,
            "min_bin_height = ", options.min_bin_height, " must be > 0 and at most 1/bins = ", 1.0 / bins);
    require(options.min_derivative > 0.0 && options.min_derivative < 1.0, part,
            "min_derivative = ", options.min_derivative, " must be in (0, 1)");
    require(std::isfinite(logit_scale) && logit_scale > 0.0, part, "logit_scale = ", logit_scale,
            " must be finite and > 0");
  }

  KOKKOS_INLINE_FUNCTION std::size_t bins() const { return m_bins; }
  /// 3K − 1: K widths, K heights, K − 1 interior slopes.
  KOKKOS_INLINE_FUNCTION std::size_t parameter_count() const { return 3 * m_bins - 1; }
  KOKKOS_INLINE_FUNCTION Scalar tail_bound() const { return m_tail_bound; }
  KOKKOS_INLINE_FUNCTION Scalar logit_scale() const { return m_logit_scale; }

  KOKKOS_INLINE_FUNCTION SplineValue<Scalar> forward(Scalar x, const Scalar* parameters) const {
    if (!(x >= -m_tail_bound && x <= m_tail_bound)) return {x, Scalar(0)};
    return in_bin(bin_of(x, parameters, widths(parameters), heights(parameters)), x);
  }

  KOKKOS_INLINE_FUNCTION SplineValue<Scalar> inverse(Scalar y, const Scalar* parameters) const {
    if (!(y >= -m_tail_bound && y <= m_tail_bound)) return {y, Scalar(0)};
    const Axis heights_axis = heights(parameters), widths_axis = widths(parameters);
    Bin bin;
    bin.index = locate(heights_axis, y, bin.y_low, bin.height);
    knots_at(widths_axis, bin.index, bin.x_low, bin.width);
    slopes(parameters, bin);
    const Scalar delta = bin.height / bin.width;
    const Scalar offset = y - bin.y_low;
    const Scalar curvature = bin.d_low + bin.d_high - Scalar(2) * delta;
    const Scalar a = offset * curvature + bin.height * (delta - bin.d_low);
    const Scalar b = bin.height * bin.d_low - offset * curvature;
    const Scalar c = -delta * offset;
    // b² − 4ac = (d_b·(h − o) − d_{b+1}·o)² + 4δ²·o·(h − o) with o = y − Y_b: no cancellation, unlike the
    // literal b² − 4ac when δ ≫ d (the two terms nearly cancel there).
    const Scalar rest = bin.height - offset;
    const Scalar spread = bin.d_low * rest - bin.d_high * offset;
    Scalar discriminant = spread * spread + Scalar(4) * delta * delta * offset * rest;
    discriminant = discriminant > Scalar(0) ? discriminant : Scalar(0);
    // The root in [0, 1] is 2c / (−b − √disc) = (−b + √disc) / (2a). nflows always takes the first form,
    // which cancels when b < 0 (a bin much flatter than its end slopes: δ ≪ d); take the form that adds
    // terms of one sign (b >= 0 keeps c ≈ 0 at the bottom of a bin exact; b < 0 forces a > 0 there).
    const Scalar root = math::sqrt(discriminant);
    const Scalar xi = b >= Scalar(0) ? (Scalar(2) * c) / (-b - root) : (-b + root) / (Scalar(2) * a);
    const Scalar t = xi * (Scalar(1) - xi);
    const Scalar denominator = delta + curvature * t;
    return {xi * bin.width + bin.x_low, -log_slope(bin, xi, t, delta, denominator)};
  }

  KOKKOS_INLINE_FUNCTION Scalar backward(Scalar x, const Scalar* parameters, Scalar grad_value, Scalar grad_log_det,
                                         Scalar* grad_parameters) const {
    const std::size_t count = parameter_count();
    for (std::size_t q = 0; q < count; ++q)
      grad_parameters[q] = Scalar(0);
    if (!(x >= -m_tail_bound && x <= m_tail_bound)) return grad_value;
    const Axis widths_axis = widths(parameters), heights_axis = heights(parameters);
    const Bin bin = bin_of(x, parameters, widths_axis, heights_axis);
    const BinGradient g =
        bin_gradient(x - bin.x_low, bin.width, bin.height, bin.d_low, bin.d_high, grad_value, grad_log_det);
    axis_backward(widths_axis, bin.index, g.x_low, g.width, grad_parameters);
    axis_backward(heights_axis, bin.index, g.y_low, g.height, grad_parameters + m_bins);
    const Scalar grad_d0 = g.d_low, grad_d1 = g.d_high;
    const Scalar* slope_logits = parameters + 2 * m_bins;
    Scalar* grad_slopes = grad_parameters + 2 * m_bins;
    // d_k = m_d + softplus(u_d,k−1) for interior knots only; the end slopes are constants.
    if (bin.index > 0) grad_slopes[bin.index - 1] = grad_d0 * detail::sigmoid(slope_logits[bin.index - 1]);
    if (bin.index + 1 < m_bins) grad_slopes[bin.index] = grad_d1 * detail::sigmoid(slope_logits[bin.index]);
    return g.x;
  }

  /// Host only: forward() of Lanes elements at once, element l being (x[l], parameters[l]); value and log_det
  /// get all Lanes results, but only the first `count` lanes are read (the others repeat lane 0). Every step is
  /// a loop over the lanes with no branch, which the compiler vectorizes: element by element, the spline was
  /// scalar (a bin search, softmaxes of K, divisions) and ~40 % of an NSF training step. The same arithmetic as
  /// forward(), step for step; the bin search becomes a walk over all K knots that keeps the first bin above x.
  template <int Lanes>
  void forward_lanes(int count, const Scalar (&x)[Lanes], const Scalar* const (&parameters)[Lanes],
                     Scalar (&value)[Lanes], Scalar (&log_det)[Lanes]) const {
    LaneBins<Lanes> lanes;
    lanes_locate(count, x, parameters, lanes);
    for (int l = 0; l < Lanes; ++l) {
      const Bin bin{
          0, lanes.x_low[l], lanes.width[l], lanes.y_low[l], lanes.height[l], lanes.d_low[l], lanes.d_high[l]};
      const SplineValue<Scalar> inside = in_bin(bin, lanes.x[l]);
      value[l] = pick(lanes.inside[l] != Scalar(0), inside.value, lanes.x[l]);
      log_det[l] = pick(lanes.inside[l] != Scalar(0), inside.log_det, Scalar(0));
    }
  }

  /// Host only: backward() of Lanes elements at once (as forward_lanes): writes the 3K − 1 values at
  /// grad_parameters[l] and grad_x[l] for the first `count` lanes.
  template <int Lanes>
  void backward_lanes(int count, const Scalar (&x)[Lanes], const Scalar* const (&parameters)[Lanes],
                      const Scalar (&grad_value)[Lanes], const Scalar (&grad_log_det)[Lanes],
                      Scalar* const (&grad_parameters)[Lanes], Scalar (&grad_x)[Lanes]) const {
    LaneBins<Lanes> lanes;
    lanes_locate(count, x, parameters, lanes);
    const Scalar zero(0);
    // Per lane: ∂L/∂knot and ∂L/∂extent on both axes, ∂L/∂d at both ends of the bin (as backward()).
    Scalar grad_x_low[Lanes], grad_width[Lanes], grad_y_low[Lanes], grad_height[Lanes], grad_d0[Lanes], grad_d1[Lanes];
    for (int l = 0; l < Lanes; ++l) {
      const BinGradient g = bin_gradient(lanes.x[l] - lanes.x_low[l], lanes.width[l], lanes.height[l], lanes.d_low[l],
                                         lanes.d_high[l], grad_value[l], grad_log_det[l]);
      const bool inside = lanes.inside[l] != zero;
      // Outside the spline every parameter gradient is 0 and the map is the identity.
      grad_height[l] = pick(inside, g.height, zero);
      grad_width[l] = pick(inside, g.width, zero);
      grad_x_low[l] = pick(inside, g.x_low, zero);
      grad_y_low[l] = pick(inside, g.y_low, zero);
      grad_d0[l] = pick(inside, g.d_low, zero);
      grad_d1[l] = pick(inside, g.d_high, zero);
      grad_x[l] = pick(inside, g.x, grad_value[l]);
    }
    Scalar row[Lanes];
    const auto store = [&](std::size_t q) {
      for (int l = 0; l < count; ++l)
        grad_parameters[l][q] = row[l];
    };
    lanes_axis_backward(lanes.widths, lanes, grad_x_low, grad_width, 0, row, store);
    lanes_axis_backward(lanes.heights, lanes, grad_y_low, grad_height, m_bins, row, store);
    // d_k = m_d + softplus(u_d,k−1): slope logit k − 1 gets grad_d0·σ at k = b, slope logit b gets grad_d1·σ.
    Scalar sigmoid_low[Lanes], sigmoid_high[Lanes];
    for (int l = 0; l < Lanes; ++l) {
      sigmoid_low[l] = detail::sigmoid(lanes.logit_low[l]);
      sigmoid_high[l] = detail::sigmoid(lanes.logit_high[l]);
    }
    for (std::size_t k = 0; k + 1 < m_bins; ++k) {
      const Scalar low_at = static_cast<Scalar>(k + 1), high_at = static_cast<Scalar>(k);
      for (int l = 0; l < Lanes; ++l)
        row[l] =
            pick((lanes.inside[l] != zero) & (lanes.index[l] == low_at), grad_d0[l] * sigmoid_low[l],
                 pick((lanes.inside[l] != zero) & (lanes.index[l] == high_at), grad_d1[l] * sigmoid_high[l], zero));
      store(2 * m_bins + k);
    }
  }

private:
  /// `condition ? if_true : if_false` without a branch (select_float in float: `?:` kept loops through the float
  /// approximations scalar on AVX2; see nn/kernels/activation.hpp).
  KOKKOS_FORCEINLINE_FUNCTION static Scalar pick(bool condition, Scalar if_true, Scalar if_false) {
    if constexpr (std::is_same_v<Scalar, float>)
      return nn::activation::select_float(condition, if_true, if_false);
    else
      return condition ? if_true : if_false;
  }

  /// ∂L/∂(x, X_b, w, Y_b, h, d_b, d_{b+1}) for L = ḡ_y·y + ḡ_ℓ·log|dy/dx| in a bin (offset = x − X_b): backward()'s
  /// and backward_lanes' one formula.
  struct BinGradient {
    Scalar x, x_low, width, y_low, height, d_low, d_high;
  };
  KOKKOS_FORCEINLINE_FUNCTION static BinGradient bin_gradient(Scalar offset, Scalar w, Scalar h, Scalar d0, Scalar d1,
                                                              Scalar grad_value, Scalar grad_log_det) {
    const Scalar one(1), two(2);
    const Scalar xi = offset / w;
    const Scalar t = xi * (one - xi);
    const Scalar delta = h / w;
    const Scalar curvature = d0 + d1 - two * delta;
    const Scalar shape = delta * xi * xi + d0 * t; // y = Y_b + h·shape/denominator
    const Scalar denominator = delta + curvature * t;
    const Scalar slope = d1 * xi * xi + two * delta * t + d0 * (one - xi) * (one - xi); // dy/dx = δ²·slope/den²
    const Scalar inverse_denominator = one / denominator, inverse_slope = one / slope;
    const Scalar ratio = shape * inverse_denominator;

    // Partials of y and ℓ = log|dy/dx| in (ξ, δ, h, d_b, d_{b+1}), then the chain to (x, X_b, w, Y_b).
    const Scalar dy_dxi = h * delta * slope * inverse_denominator * inverse_denominator;
    const Scalar dl_dxi = (two * d1 * xi + two * delta * (one - two * xi) - two * d0 * (one - xi)) * inverse_slope -
                          two * curvature * (one - two * xi) * inverse_denominator;
    const Scalar dy_ddelta = h * (xi * xi - ratio * (one - two * t)) * inverse_denominator;
    const Scalar dl_ddelta = two / delta + two * t * inverse_slope - two * (one - two * t) * inverse_denominator;
    const Scalar dy_dd0 = h * t * (one - ratio) * inverse_denominator;
    const Scalar dl_dd0 = (one - xi) * (one - xi) * inverse_slope - two * t * inverse_denominator;
    const Scalar dy_dd1 = -h * ratio * t * inverse_denominator;
    const Scalar dl_dd1 = xi * xi * inverse_slope - two * t * inverse_denominator;

    const Scalar grad_xi = grad_value * dy_dxi + grad_log_det * dl_dxi;
    const Scalar grad_delta = grad_value * dy_ddelta + grad_log_det * dl_ddelta;
    return {grad_xi / w,
            -grad_xi / w,
            -(grad_delta * delta + grad_xi * xi) / w,
            grad_value,
            grad_value * ratio + grad_delta / w,
            grad_value * dy_dd0 + grad_log_det * dl_dd0,
            grad_value * dy_dd1 + grad_log_det * dl_dd1};
  }

  /// forward_lanes' and backward_lanes' state, lane by lane: the parameters (transposed), both softmaxes, and the bin
  /// of x (its index as a Scalar, knots, extents, end slopes and the logits of those slopes).
  template <int Lanes>
  struct LaneBins {
    Scalar x[Lanes];
    Scalar inside[Lanes]; // 1 where −B <= x <= B, else 0 (NaN included)
    Scalar logits[3 * max_bins - 1][Lanes];
    struct Softmax {
      Scalar minimum;
      Scalar probabilities[max_bins][Lanes];
    } widths, heights;
    Scalar index[Lanes], x_low[Lanes], width[Lanes], y_low[Lanes], height[Lanes];
    Scalar d_low[Lanes], d_high[Lanes], logit_low[Lanes], logit_high[Lanes];
  };

  /// make_axis across the lanes: the same max, exponentials, sum (in the order of k) and products per lane.
  template <int Lanes>
  void lanes_softmax(const Scalar (*logits)[Lanes], Scalar minimum, typename LaneBins<Lanes>::Softmax& axis) const {
    axis.minimum = minimum;
    Scalar max[Lanes];
    for (int l = 0; l < Lanes; ++l)
      max[l] = m_logit_scale * logits[0][l];
    for (std::size_t k = 1; k < m_bins; ++k)
      for (int l = 0; l < Lanes; ++l) {
        const Scalar value = m_logit_scale * logits[k][l];
        max[l] = pick(value > max[l], value, max[l]);
      }
    for (std::size_t k = 0; k < m_bins; ++k)
      for (int l = 0; l < Lanes; ++l)
        axis.probabilities[k][l] = nn::activation::exp_nonpositive(m_logit_scale * logits[k][l] - max[l]);
    Scalar sum[Lanes], inverse_sum[Lanes];
    for (int l = 0; l < Lanes; ++l)
      sum[l] = 0;
    for (std::size_t k = 0; k < m_bins; ++k)
      for (int l = 0; l < Lanes; ++l)
        sum[l] += axis.probabilities[k][l];
    for (int l = 0; l < Lanes; ++l)
      inverse_sum[l] = Scalar(1) / sum[l];
    for (std::size_t k = 0; k < m_bins; ++k)
      for (int l = 0; l < Lanes; ++l)
        axis.probabilities[k][l] *= inverse_sum[l];
  }

  /// The bin of each lane's x (locate and knots_at, the same arithmetic): a walk over the knots in which every
  /// lane keeps the first bin whose upper knot lies above its x (the last bin when none does, as locate).
  template <int Lanes>
  void lanes_locate(int count, const Scalar (&x)[Lanes], const Scalar* const (&parameters)[Lanes],
                    LaneBins<Lanes>& lanes) const {
    const std::size_t values = parameter_count();
    for (int l = 0; l < Lanes; ++l) {
      lanes.x[l] = x[l < count ? l : 0];
      lanes.inside[l] = pick((lanes.x[l] >= -m_tail_bound) & (lanes.x[l] <= m_tail_bound), Scalar(1), Scalar(0));
    }
    for (std::size_t q = 0; q < values; ++q)
      for (int l = 0; l < Lanes; ++l)
        lanes.logits[q][l] = parameters[l < count ? l : 0][q];
    lanes_softmax<Lanes>(lanes.logits, m_min_bin_width, lanes.widths);
    lanes_softmax<Lanes>(lanes.logits + m_bins, m_min_bin_height, lanes.heights);
    const Scalar span = Scalar(2) * m_tail_bound, bins = static_cast<Scalar>(m_bins);
    const Scalar width_scale = Scalar(1) - bins * m_min_bin_width, height_scale = Scalar(1) - bins * m_min_bin_height;
    const Scalar(*slope_logits)[Lanes] = lanes.logits + 2 * m_bins;
    Scalar width_sum[Lanes], height_sum[Lanes], width_knot[Lanes], height_knot[Lanes], found[Lanes];
    for (int l = 0; l < Lanes; ++l) {
      width_sum[l] = height_sum[l] = found[l] = 0;
      width_knot[l] = height_knot[l] = -m_tail_bound;
      lanes.index[l] = lanes.x_low[l] = lanes.width[l] = lanes.y_low[l] = lanes.height[l] = 0;
      lanes.logit_low[l] = lanes.logit_high[l] = 0;
    }
    for (std::size_t k = 0; k + 1 < m_bins; ++k) {
      const Scalar at = static_cast<Scalar>(k);
      for (int l = 0; l < Lanes; ++l) {
        width_sum[l] += m_min_bin_width + width_scale * lanes.widths.probabilities[k][l];
        height_sum[l] += m_min_bin_height + height_scale * lanes.heights.probabilities[k][l];
        const Scalar width_next = span * width_sum[l] - m_tail_bound;
        const Scalar height_next = span * height_sum[l] - m_tail_bound;
        const bool take = (found[l] == Scalar(0)) & (lanes.x[l] < width_next);
        lanes.index[l] = pick(take, at, lanes.index[l]);
        lanes.x_low[l] = pick(take, width_knot[l], lanes.x_low[l]);
        lanes.width[l] = pick(take, width_next - width_knot[l], lanes.width[l]);
        lanes.y_low[l] = pick(take, height_knot[l], lanes.y_low[l]);
        lanes.height[l] = pick(take, height_next - height_knot[l], lanes.height[l]);
        lanes.logit_low[l] = pick(take, k > 0 ? slope_logits[k > 0 ? k - 1 : 0][l] : Scalar(0), lanes.logit_low[l]);
        lanes.logit_high[l] = pick(take, slope_logits[k][l], lanes.logit_high[l]);
        found[l] = pick(take, Scalar(1), found[l]);
        width_knot[l] = width_next;
        height_knot[l] = height_next;
      }
    }
    const Scalar last = static_cast<Scalar>(m_bins - 1);
    for (int l = 0; l < Lanes; ++l) {
      const bool top = found[l] == Scalar(0);
      lanes.index[l] = pick(top, last, lanes.index[l]);
      lanes.x_low[l] = pick(top, width_knot[l], lanes.x_low[l]);
      lanes.width[l] = pick(top, m_tail_bound - width_knot[l], lanes.width[l]);
      lanes.y_low[l] = pick(top, height_knot[l], lanes.y_low[l]);
      lanes.height[l] = pick(top, m_tail_bound - height_knot[l], lanes.height[l]);
      lanes.logit_low[l] =
          pick(top, m_bins > 1 ? slope_logits[m_bins > 1 ? m_bins - 2 : 0][l] : Scalar(0), lanes.logit_low[l]);
    }
    // derivative(): 1 at both ends, m_d + softplus(logit) inside.
    for (int l = 0; l < Lanes; ++l) {
      lanes.d_low[l] =
          pick(lanes.index[l] == Scalar(0), Scalar(1), m_min_derivative + detail::softplus(lanes.logit_low[l]));
      lanes.d_high[l] =
          pick(lanes.index[l] == last, Scalar(1), m_min_derivative + detail::softplus(lanes.logit_high[l]));
    }
  }

  /// axis_backward across the lanes (the same sums in the same order): writes each logit's gradient into `row`
  /// and hands it to store(first + m).
  template <int Lanes, class Store>
  void lanes_axis_backward(const typename LaneBins<Lanes>::Softmax& axis, const LaneBins<Lanes>& lanes,
                           const Scalar (&grad_low)[Lanes], const Scalar (&grad_extent)[Lanes], std::size_t first,
                           Scalar (&row)[Lanes], const Store& store) const {
    const Scalar factor = Scalar(2) * m_tail_bound * (Scalar(1) - static_cast<Scalar>(m_bins) * axis.minimum);
    Scalar below[Lanes], p_b[Lanes], mean[Lanes];
    for (int l = 0; l < Lanes; ++l)
      below[l] = p_b[l] = 0;
    for (std::size_t m = 0; m < m_bins; ++m) {
      const Scalar at = static_cast<Scalar>(m);
      for (int l = 0; l < Lanes; ++l) {
        const Scalar p = axis.probabilities[m][l];
        below[l] += pick(at < lanes.index[l], p, Scalar(0));
        p_b[l] = pick(at == lanes.index[l], p, p_b[l]);
      }
    }
    for (int l = 0; l < Lanes; ++l)
      mean[l] = factor * (grad_low[l] * below[l] + grad_extent[l] * p_b[l]);
    for (std::size_t m = 0; m < m_bins; ++m) {
      const Scalar at = static_cast<Scalar>(m);
      for (int l = 0; l < Lanes; ++l) {
        const Scalar g = pick(at < lanes.index[l], factor * grad_low[l],
                              pick(at == lanes.index[l], factor * grad_extent[l], Scalar(0)));
        row[l] =
            pick(lanes.inside[l] != Scalar(0), m_logit_scale * axis.probabilities[m][l] * (g - mean[l]), Scalar(0));
      }
      store(first + m);
    }
  }

  static constexpr const char* part = "osbi::RationalQuadraticSpline";

  /// One axis (widths or heights): its softmax, exp(s·u_k − max) times the reciprocal of their sum.
  struct Axis {
    Scalar minimum;
    Scalar probabilities[max_bins];
  };

  /// The bin holding a point: knot, extent and end slopes on both axes.
  struct Bin {
    std::size_t index;
    Scalar x_low, width, y_low, height, d_low, d_high;
  };

  KOKKOS_INLINE_FUNCTION Axis make_axis(const Scalar* logits, Scalar minimum) const {
    Scalar max = m_logit_scale * logits[0];
    for (std::size_t k = 1; k < m_bins; ++k) {
      const Scalar value = m_logit_scale * logits[k];
      max = value > max ? value : max;
    }
    Axis axis;
    axis.minimum = minimum;
    // Two loops: the exponentials vectorize (in float through the branch-free polynomial, within 2 ulp of
    // expf), the sum keeps its order.
    for (std::size_t k = 0; k < m_bins; ++k)
      axis.probabilities[k] = nn::activation::exp_nonpositive(m_logit_scale * logits[k] - max);
    Scalar sum = 0;
    for (std::size_t k = 0; k < m_bins; ++k)
      sum += axis.probabilities[k];
    // One division, then products: a division per use (up to 2K per evaluation) was an eighth of the spline's time
    // across lanes on an AVX-512 Xeon.
    const Scalar inverse_sum = Scalar(1) / sum;
    for (std::size_t k = 0; k < m_bins; ++k)
      axis.probabilities[k] *= inverse_sum;
    return axis;
  }

  KOKKOS_INLINE_FUNCTION Axis widths(const Scalar* parameters) const { return make_axis(parameters, m_min_bin_width); }
  KOKKOS_INLINE_FUNCTION Axis heights(const Scalar* parameters) const {
    return make_axis(parameters + m_bins, m_min_bin_height);
  }

  /// softmax(s·u)_k.
  KOKKOS_INLINE_FUNCTION Scalar probability(const Axis& axis, std::size_t k) const { return axis.probabilities[k]; }

  /// The bin fraction m + (1 − K·m)·softmax_k.
  KOKKOS_INLINE_FUNCTION Scalar fraction(const Axis& axis, std::size_t k) const {
    return axis.minimum + (Scalar(1) - static_cast<Scalar>(m_bins) * axis.minimum) * probability(axis, k);
  }

  /// The bin b with knot_b <= value < knot_{b+1} (nflows' searchsorted; b = K − 1 at the top end and
  /// for NaN); low = knot_b, extent = knot_{b+1} − knot_b.
  KOKKOS_INLINE_FUNCTION std::size_t locate(const Axis& axis, Scalar value, Scalar& low, Scalar& extent) const {
    const Scalar span = Scalar(2) * m_tail_bound;
    Scalar cumulative = 0, knot = -m_tail_bound;
    for (std::size_t k = 0; k + 1 < m_bins; ++k) {
      cumulative += fraction(axis, k);
      const Scalar next = span * cumulative - m_tail_bound;
      if (value < next) {
        low = knot;
        extent = next - knot;
        return k;
      }
      knot = next;
    }
    low = knot;
    extent = m_tail_bound - knot;
    return m_bins - 1;
  }

  /// knot_b and knot_{b+1} − knot_b of bin b, with the same arithmetic as locate.
  KOKKOS_INLINE_FUNCTION void knots_at(const Axis& axis, std::size_t b, Scalar& low, Scalar& extent) const {
    const Scalar span = Scalar(2) * m_tail_bound;
    Scalar cumulative = 0;
    for (std::size_t k = 0; k < b; ++k)
      cumulative += fraction(axis, k);
    low = b == 0 ? -m_tail_bound : span * cumulative - m_tail_bound;
    cumulative += fraction(axis, b);
    const Scalar high = b + 1 == m_bins ? m_tail_bound : span * cumulative - m_tail_bound;
    extent = high - low;
  }

  KOKKOS_INLINE_FUNCTION Scalar derivative(const Scalar* parameters, std::size_t k) const {
    if (k == 0 || k == m_bins) return Scalar(1);
    return m_min_derivative + detail::softplus(parameters[2 * m_bins + k - 1]);
  }

  KOKKOS_INLINE_FUNCTION void slopes(const Scalar* parameters, Bin& bin) const {
    bin.d_low = derivative(parameters, bin.index);
    bin.d_high = derivative(parameters, bin.index + 1);
  }

  KOKKOS_INLINE_FUNCTION Bin bin_of(Scalar x, const Scalar* parameters, const Axis& widths_axis,
                                    const Axis& heights_axis) const {
    Bin bin;
    bin.index = locate(widths_axis, x, bin.x_low, bin.width);
    knots_at(heights_axis, bin.index, bin.y_low, bin.height);
    slopes(parameters, bin);
    return bin;
  }

  /// y and log|dy/dx| at x in `bin`: forward()'s and forward_lanes' one formula.
  KOKKOS_FORCEINLINE_FUNCTION static SplineValue<Scalar> in_bin(const Bin& bin, Scalar x) {
    const Scalar xi = (x - bin.x_low) / bin.width;
    const Scalar t = xi * (Scalar(1) - xi);
    const Scalar delta = bin.height / bin.width;
    const Scalar numerator = bin.height * (delta * xi * xi + bin.d_low * t);
    const Scalar denominator = delta + (bin.d_low + bin.d_high - Scalar(2) * delta) * t;
    return {bin.y_low + numerator / denominator, log_slope(bin, xi, t, delta, denominator)};
  }

  /// log(δ²·(d_{b+1}ξ² + 2δξ(1 − ξ) + d_b(1 − ξ)²)) − 2·log(denominator).
  KOKKOS_INLINE_FUNCTION static Scalar log_slope(const Bin& bin, Scalar xi, Scalar t, Scalar delta,
                                                 Scalar denominator) {
    const Scalar one_minus = Scalar(1) - xi;
    const Scalar numerator =
        delta * delta * (bin.d_high * xi * xi + Scalar(2) * delta * t + bin.d_low * one_minus * one_minus);
    return nn::activation::log_positive(numerator) - Scalar(2) * nn::activation::log_positive(denominator);
  }

  /// From ∂L/∂knot_b (grad_low, through every fraction m < b) and ∂L/∂extent (through fraction b) to
  /// the K logits: knot_k = −B + 2B·Σ_{m<k} fraction_m, fraction = m + (1 − K·m)·softmax(s·u).
  KOKKOS_INLINE_FUNCTION void axis_backward(const Axis& axis, std::size_t b, Scalar grad_low, Scalar grad_extent,
                                            Scalar* grad_logits) const {
    const Scalar factor = Scalar(2) * m_tail_bound * (Scalar(1) - static_cast<Scalar>(m_bins) * axis.minimum);
    // g_p(m) = factor·(grad_low for m < b, grad_extent for m = b, 0 after); softmax backward:
    // g_u(m) = s·p_m·(g_p(m) − Σ_j p_j g_p(j)).
    Scalar below = 0;
    for (std::size_t m = 0; m < b; ++m)
      below += probability(axis, m);
    const Scalar p_b = probability(axis, b);
    const Scalar mean = factor * (grad_low * below + grad_extent * p_b);
    for (std::size_t m = 0; m < m_bins; ++m) {
      const Scalar g = m < b ? factor * grad_low : (m == b ? factor * grad_extent : Scalar(0));
      grad_logits[m] = m_logit_scale * probability(axis, m) * (g - mean);
    }
  }

  std::size_t m_bins;
  Scalar m_tail_bound, m_min_bin_width, m_min_bin_height, m_min_derivative, m_logit_scale;
};

namespace detail {

template <class Scalar, class InputView, class ParameterView>
void check_spline_batch(const RationalQuadraticSpline<Scalar>& spline, const InputView& input,
                        const ParameterView& parameters, const char* step, const char* what) {
  const std::string where = std::string("osbi::rational_quadratic_") + step;
  require_extent(parameters.extent(0), input.extent(0), where,
                 std::string(what) + "'s row count (the input's row count)");
  require_extent(parameters.extent(1), spline.parameter_count() * input.extent(1), where,
                 std::string(what) + "'s column count ((3·bins − 1) × the input's column count)");
}

template <class InputView, class OutputView>
void check_same_shape(const InputView& input, const OutputView& output, const char* step, const char* what) {
  const std::string where = std::string("osbi::rational_quadratic_") + step;
  require_extent(output.extent(0), input.extent(0), where, std::string(what) + "'s row count (the input's row count)");
  require_extent(output.extent(1), input.extent(1), where,
                 std::string(what) + "'s column count (the input's column count)");
}

} // namespace detail

/// y(i, j), log_det(i, j) = spline.forward(x(i, j), &parameters(i, (3K − 1)·j)); all N × D but parameters.
template <class Scalar, class ExecutionSpace>
void rational_quadratic_forward(const ExecutionSpace& space, const RationalQuadraticSpline<Scalar>& spline,
                                const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                                const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& parameters,
                                const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& y,
                                const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& log_det) {
  detail::check_spline_batch(spline, x, parameters, "forward", "parameters");
  detail::check_same_shape(x, y, "forward", "y");
  detail::check_same_shape(x, log_det, "forward", "log_det");
  if (x.extent(0) == 0 || x.extent(1) == 0) return;
  const std::size_t stride = spline.parameter_count();
  Kokkos::parallel_for(
      "osbi::flow::RationalQuadraticSpline::forward",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {x.extent(0), x.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
        const SplineValue<Scalar> result = spline.forward(x(i, j), &parameters(i, stride * j));
        y(i, j) = result.value;
        log_det(i, j) = result.log_det;
      });
}

/// x(i, j), log_det(i, j) = spline.inverse(y(i, j), &parameters(i, (3K − 1)·j)) (log_det: of the inverse).
template <class Scalar, class ExecutionSpace>
void rational_quadratic_inverse(const ExecutionSpace& space, const RationalQuadraticSpline<Scalar>& spline,
                                const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& y,
                                const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& parameters,
                                const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& x,
                                const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& log_det) {
  detail::check_spline_batch(spline, y, parameters, "inverse", "parameters");
  detail::check_same_shape(y, x, "inverse", "x");
  detail::check_same_shape(y, log_det, "inverse", "log_det");
  if (y.extent(0) == 0 || y.extent(1) == 0) return;
  const std::size_t stride = spline.parameter_count();
  Kokkos::parallel_for(
      "osbi::flow::RationalQuadraticSpline::inverse",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {y.extent(0), y.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
        const SplineValue<Scalar> result = spline.inverse(y(i, j), &parameters(i, stride * j));
        x(i, j) = result.value;
        log_det(i, j) = result.log_det;
      });
}

/// For L = Σ grad_y ⊙ y + Σ grad_log_det ⊙ log_det of rational_quadratic_forward: OVERWRITES grad_x (N × D)
/// and grad_parameters (N × (3K − 1)·D) with ∂L/∂x and ∂L/∂parameters.
template <class Scalar, class ExecutionSpace>
void rational_quadratic_backward(const ExecutionSpace& space, const RationalQuadraticSpline<Scalar>& spline,
                                 const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& x,
                                 const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& parameters,
                                 const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& grad_y,
                                 const std::type_identity_t<ConstMatrix<Scalar, ExecutionSpace>>& grad_log_det,
                                 const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& grad_x,
                                 const std::type_identity_t<Matrix<Scalar, ExecutionSpace>>& grad_parameters) {
  detail::check_spline_batch(spline, x, parameters, "backward", "parameters");
  detail::check_same_shape(x, grad_y, "backward", "grad_y");
  detail::check_same_shape(x, grad_log_det, "backward", "grad_log_det");
  detail::check_same_shape(x, grad_x, "backward", "grad_x");
  detail::check_spline_batch(spline, x, grad_parameters, "backward", "grad_parameters");
  if (x.extent(0) == 0 || x.extent(1) == 0) return;
  const std::size_t stride = spline.parameter_count();
  Kokkos::parallel_for(
      "osbi::flow::RationalQuadraticSpline::backward",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {x.extent(0), x.extent(1)}),
      KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
        grad_x(i, j) = spline.backward(x(i, j), &parameters(i, stride * j), grad_y(i, j), grad_log_det(i, j),
                                       &grad_parameters(i, stride * j));
      });
}

} // namespace osbi
