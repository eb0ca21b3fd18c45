// SPDX-License-Identifier: BSD-3-Clause
/// \brief MaskedDenseLayer y = f(x·(W ⊙ M)ᵀ + b) and the MADE degree/mask helpers (Germain et al. 2015, nflows).
#pragma once

#include <osbi/nn/dense.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/kernels/activation.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Eigen/Core>
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace osbi::nn {

/*
 * MADE (Germain et al. 2015) in nflows' conventions (nflows/transforms/made.py, random_mask=False):
 *   made_input_degrees(D)           1, 2, …, D                         (input i has degree i + 1)
 *   made_hidden_degrees(H, D)       k mod max(1, D − 1) + min(1, D − 1)  for k = 0 … H − 1
 *                                   (1 … D − 1 repeating; all 0 when D = 1: hidden units see nothing)
 *   made_output_degrees(O, D)       1 … D tiled O / D times (O a multiple of D: output k belongs to
 *                                   feature k mod D)
 *   made_mask(in, out, made::hidden)   M(o, i) = out[o] >= in[i]   (hidden layers)
 *   made_mask(in, out, made::output)   M(o, i) = out[o] >  in[i]   (the output layer: strict)
 * Chaining hidden masks and one output mask makes output k depend on input j only if
 * j + 1 < degree(k): the autoregressive property.
 */
namespace made {
/// Connectivity of a hidden layer: a unit sees every unit of the same or lower degree.
struct Hidden {};
/// Connectivity of the output layer: a unit sees only units of strictly lower degree.
struct Output {};
inline constexpr Hidden hidden{};
inline constexpr Output output{};
} // namespace made

inline std::vector<std::size_t> made_input_degrees(std::size_t features) {
  require(features > 0, "osbi::nn::made_input_degrees", "the number of autoregressive features must be > 0");
  std::vector<std::size_t> degrees(features);
  for (std::size_t i = 0; i < features; ++i)
    degrees[i] = i + 1;
  return degrees;
}

inline std::vector<std::size_t> made_hidden_degrees(std::size_t hidden_units, std::size_t features) {
  require(features > 0, "osbi::nn::made_hidden_degrees", "the number of autoregressive features must be > 0");
  const std::size_t period = features > 1 ? features - 1 : 1;
  const std::size_t offset = features > 1 ? 1 : 0;
  std::vector<std::size_t> degrees(hidden_units);
  for (std::size_t k = 0; k < hidden_units; ++k)
    degrees[k] = k % period + offset;
  return degrees;
}

inline std::vector<std::size_t> made_output_degrees(std::size_t output_units, std::size_t features) {
  require(features > 0, "osbi::nn::made_output_degrees", "the number of autoregressive features must be > 0");
  require(output_units % features == 0, "osbi::nn::made_output_degrees", "output_units = ", output_units,
          " must be a multiple of the number of features ", features);
  std::vector<std::size_t> degrees(output_units);
  for (std::size_t k = 0; k < output_units; ++k)
    degrees[k] = k % features + 1;
  return degrees;
}

namespace detail {
template <class Connects>
std::vector<std::uint8_t> made_mask(const std::vector<std::size_t>& input_degrees,
                                    const std::vector<std::size_t>& output_degrees, Connects connects) {
  std::vector<std::uint8_t> mask(output_degrees.size() * input_degrees.size());
  for (std::size_t o = 0; o < output_degrees.size(); ++o)
    for (std::size_t i = 0; i < input_degrees.size(); ++i)
      mask[o * input_degrees.size() + i] = connects(output_degrees[o], input_degrees[i]) ? 1 : 0;
  return mask;
}
} // namespace detail

/// Row-major out × in mask of a hidden MADE layer: M(o, i) = output_degrees[o] >= input_degrees[i].
inline std::vector<std::uint8_t> made_mask(const std::vector<std::size_t>& input_degrees,
                                           const std::vector<std::size_t>& output_degrees, made::Hidden) {
  return detail::made_mask(input_degrees, output_degrees, [](std::size_t o, std::size_t i) { return o >= i; });
}

/// Row-major out × in mask of the MADE output layer: M(o, i) = output_degrees[o] > input_degrees[i].
inline std::vector<std::uint8_t> made_mask(const std::vector<std::size_t>& input_degrees,
                                           const std::vector<std::size_t>& output_degrees, made::Output) {
  return detail::made_mask(input_degrees, output_degrees, [](std::size_t o, std::size_t i) { return o > i; });
}

/// The run-time argument of nn::MaskedDense<dynamic_extent>: the output width and the out × in 0/1 mask (row-major).
struct MaskedWidth {
  std::size_t output_dim = 0;
  std::vector<std::uint8_t> mask;
};

/// Dense layer whose weight is multiplied elementwise by a fixed 0/1 mask (out × in, row-major on the
/// host), kept on the device as Scalar. Same parameter layout, initialization and contract as
/// DenseLayer (a masked entry keeps its initial value but never acts and gets exactly 0 gradient).
/// The mask is run-time data (a MADE builds it from the degree helpers above); the spec is nn::MaskedDense.
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace, class Activation = activation::Identity,
          class Init = init::TorchDefault>
class MaskedDenseLayer : public detail::AffineLayer<Scalar, ExecutionSpace, Init, Activation> {
  using Base = detail::AffineLayer<Scalar, ExecutionSpace, Init, Activation>;

public:
  MaskedDenseLayer(std::size_t in, std::size_t out, const std::vector<std::uint8_t>& mask)
      : Base("MaskedDenseLayer", in, out) {
    require_extent(mask.size(), in * out, this->part(), "the mask (out × in entries, row-major)");
    upload(in, out, [&](std::size_t o, std::size_t i) { return mask[o * in + i]; });
  }

  /// Mask as an Eigen matrix (out × in) of 0s and 1s.
  template <class Derived>
  MaskedDenseLayer(std::size_t in, std::size_t out, const Eigen::MatrixBase<Derived>& mask)
      : Base("MaskedDenseLayer", in, out) {
    require_extent(static_cast<std::size_t>(mask.rows()), out, this->part(), "the mask's row count (out)");
    require_extent(static_cast<std::size_t>(mask.cols()), in, this->part(), "the mask's column count (in)");
    upload(in, out, [&](std::size_t o, std::size_t i) {
      return static_cast<double>(mask(static_cast<Eigen::Index>(o), static_cast<Eigen::Index>(i)));
    });
  }

  /// The run-time width and mask of nn::MaskedDense<dynamic_extent> (the mask out × in, row-major).
  MaskedDenseLayer(std::size_t in, const MaskedWidth& shape) : MaskedDenseLayer(in, shape.output_dim, shape.mask) {}

  /// The mask as stored on the device (out × in, 0 or 1).
  ConstMatrix<Scalar, ExecutionSpace> mask() const { return m_full_mask; }

private:
  template <class Entry>
  void upload(std::size_t in, std::size_t out, Entry entry) {
    Matrix<Scalar, ExecutionSpace> device(this->part() + "::mask", out, in);
    auto host = Kokkos::create_mirror_view(device);
    bool all_ones = true;
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < in; ++i) {
        const double value = static_cast<double>(entry(o, i));
        require(value == 0.0 || value == 1.0, this->part(), "mask(", o, ", ", i, ") = ", value, " must be 0 or 1");
        host(o, i) = static_cast<Scalar>(value);
        all_ones = all_ones && value == 1.0;
      }
    Kokkos::deep_copy(device, host);
    m_full_mask = device;
    // A mask of ones changes nothing (w·1 = w exactly), so the kernels go without it: a MADE over two
    // features has all-ones hidden masks, and the masked paths pack element by element.
    if (!all_ones) this->m_mask = device;
  }

  Matrix<Scalar, ExecutionSpace> m_full_mask;
};

/// Spec: a masked dense layer, e.g. nn::MaskedDense<64, init::TorchDefault, activation::Tanh>, whose mask is always
/// run-time data: a DynamicLayerSpec whose dynamic_argument is the mask (Out × input_dim, row-major), or, with
/// Out = dynamic_extent, a MaskedWidth (the width and the mask). Its bound layer is a MaskedDenseLayer.
template <std::size_t Out, class Init = init::TorchDefault, class Activation = activation::Identity>
struct MaskedDense {
  static_assert(Out > 0, "osbi::nn::MaskedDense<Out>: Out (the number of outputs) must be > 0");
  static constexpr std::size_t output_dim = Out;
  using dynamic_argument = std::vector<std::uint8_t>;

  template <class Scalar, class ExecutionSpace>
  class layer : public MaskedDenseLayer<Scalar, ExecutionSpace, Activation, Init> {
  public:
    layer(std::size_t input_dim, const std::vector<std::uint8_t>& mask)
        : MaskedDenseLayer<Scalar, ExecutionSpace, Activation, Init>(input_dim, Out, mask) {}
  };
};

template <class Init, class Activation>
struct MaskedDense<dynamic_extent, Init, Activation> {
  static constexpr std::size_t output_dim = dynamic_extent;
  using dynamic_argument = MaskedWidth;

  template <class Scalar, class ExecutionSpace>
  using layer = MaskedDenseLayer<Scalar, ExecutionSpace, Activation, Init>;
};

} // namespace osbi::nn
