// SPDX-License-Identifier: BSD-3-Clause
/// \brief Initializers of affine layers (weight out × in, bias out): TorchDefault, XavierUniform, KaimingNormal.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>

namespace osbi::nn::init {

/*
 * An initializer is a stateless tag type with
 *   template <class Scalar, class ExecutionSpace>
 *   static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
 *                    const Vector<Scalar, ExecutionSpace>& bias)
 * that overwrites weight (out × in) and bias (out; may be empty) with initial values.
 *
 * Draw order (every initializer here): output unit o owns the generator rng.row(o); it draws
 * weight(o, 0), …, weight(o, in − 1) in that order, then bias(o). So the values are a pure function
 * of (seed, stream, batch, o, i): identical on Serial, OpenMP and GPUs and for any thread count, and a
 * layer that grows in width keeps the rows it had. All draws are in double, rounded once to Scalar.
 */

namespace detail {

/// Runs `draw` for every output unit with its own generator; `WeightDraw`/`BiasDraw` map a RowRandom
/// to one double each (captured by value: trivially copyable functors).
template <class Scalar, class ExecutionSpace, class WeightDraw, class BiasDraw>
void fill_rows(const ExecutionSpace& space, const char* kernel_label, BatchRandom rng,
               const Matrix<Scalar, ExecutionSpace>& weight, const Vector<Scalar, ExecutionSpace>& bias,
               WeightDraw weight_draw, BiasDraw bias_draw) {
  if (bias.extent(0) != 0)
    require_extent(bias.extent(0), weight.extent(0), "osbi::nn::init", "bias's size (must equal weight's out)");
  const std::size_t in = weight.extent(1);
  const bool has_bias = bias.extent(0) != 0;
  const Matrix<Scalar, ExecutionSpace> weight_view = weight;
  const Vector<Scalar, ExecutionSpace> bias_view = bias;
  Kokkos::parallel_for(
      kernel_label, Kokkos::RangePolicy<ExecutionSpace>(space, 0, weight.extent(0)),
      KOKKOS_LAMBDA(const std::size_t o) {
        RowRandom generator = rng.row(o);
        for (std::size_t i = 0; i < in; ++i)
          weight_view(o, i) = static_cast<Scalar>(weight_draw(generator));
        if (has_bias) bias_view(o) = static_cast<Scalar>(bias_draw(generator));
      });
}

struct UniformDraw {
  double bound;
  KOKKOS_INLINE_FUNCTION double operator()(RowRandom& generator) const { return generator.uniform(-bound, bound); }
};

struct NormalDraw {
  double standard_deviation;
  KOKKOS_INLINE_FUNCTION double operator()(RowRandom& generator) const {
    return generator.normal(0.0, standard_deviation);
  }
};

struct ZeroDraw {
  KOKKOS_INLINE_FUNCTION double operator()(RowRandom&) const { return 0.0; }
};

inline void require_fan_in(std::size_t in, const char* part) {
  require(in > 0, part, "the layer's input dimension is 0: the initial scale divides by the fan-in");
}

} // namespace detail

/// PyTorch's nn.Linear default (kaiming_uniform_ with a = √5 reduces to this): weight and bias
/// ~ U(−1/√in, 1/√in). What sbi/nflows networks start from.
struct TorchDefault {
  /// Half-width of the uniform distribution of weight and bias.
  static double bound(std::size_t in, std::size_t /*out*/) { return 1.0 / std::sqrt(static_cast<double>(in)); }

  template <class Scalar, class ExecutionSpace>
  static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
                   const Vector<Scalar, ExecutionSpace>& bias) {
    detail::require_fan_in(weight.extent(1), "osbi::nn::init::TorchDefault");
    const double b = bound(weight.extent(1), weight.extent(0));
    detail::fill_rows(space, "osbi::nn::init::TorchDefault::fill", rng, weight, bias, detail::UniformDraw{b},
                      detail::UniformDraw{b});
  }
};

/// Glorot & Bengio (2010), gain 1: weight ~ U(−a, a), a = √(6 / (in + out)); bias 0.
struct XavierUniform {
  static double bound(std::size_t in, std::size_t out) { return std::sqrt(6.0 / static_cast<double>(in + out)); }

  template <class Scalar, class ExecutionSpace>
  static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
                   const Vector<Scalar, ExecutionSpace>& bias) {
    detail::require_fan_in(weight.extent(1), "osbi::nn::init::XavierUniform");
    detail::fill_rows(space, "osbi::nn::init::XavierUniform::fill", rng, weight, bias,
                      detail::UniformDraw{bound(weight.extent(1), weight.extent(0))}, detail::ZeroDraw{});
  }
};

/// He et al. (2015), fan-in mode, ReLU gain: weight ~ N(0, 2 / in); bias 0.
struct KaimingNormal {
  static double standard_deviation(std::size_t in, std::size_t /*out*/) {
    return std::sqrt(2.0 / static_cast<double>(in));
  }

  template <class Scalar, class ExecutionSpace>
  static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
                   const Vector<Scalar, ExecutionSpace>& bias) {
    detail::require_fan_in(weight.extent(1), "osbi::nn::init::KaimingNormal");
    detail::fill_rows(space, "osbi::nn::init::KaimingNormal::fill", rng, weight, bias,
                      detail::NormalDraw{standard_deviation(weight.extent(1), weight.extent(0))}, detail::ZeroDraw{});
  }
};

/// Weight and bias 0: a last layer that starts as the zero map (a residual or shift that begins as the
/// identity); the layers before it get gradients from the second step on.
struct Zero {
  template <class Scalar, class ExecutionSpace>
  static void fill(const ExecutionSpace& space, BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& weight,
                   const Vector<Scalar, ExecutionSpace>& bias) {
    detail::fill_rows(space, "osbi::nn::init::Zero::fill", rng, weight, bias, detail::ZeroDraw{}, detail::ZeroDraw{});
  }
};

} // namespace osbi::nn::init
