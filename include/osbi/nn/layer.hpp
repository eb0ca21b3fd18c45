// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Layer` (a differentiable batch map with flat-buffer parameters) and `LayerSpec` /
/// `DynamicLayerSpec` (its compile-time description, with or without a run-time argument such as a width).
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <limits>
#include <vector>

namespace osbi::nn {

/*
 * Layer — a differentiable map from batch × input_dim to batch × output_dim (spec):
 *
 *   typename L::scalar_type, typename L::execution_space
 *   layer.input_dim(), layer.output_dim()   fixed at construction.
 *   layer.parameter_count()                 trainable scalars (0 for activations).
 *   layer.bind(parameters, gradients)       two Vector<scalar_type, execution_space> of exactly
 *                                           parameter_count() entries, owned by the caller (slices of a
 *                                           Network's flat buffers): the layer reads its parameters from
 *                                           and adds its gradients into them from then on. Must be called
 *                                           before initialize/forward when parameter_count() > 0.
 *   layer.initialize(space, rng)            writes initial parameter values (rng: BatchRandom, so the
 *                                           values depend only on the seed, not on the backend).
 *   layer.forward(space, input, output)     output = f(input); input ConstMatrix N × input_dim, output
 *                                           Matrix N × output_dim, N >= 0 (N = 0 does nothing). Caches
 *                                           what backward needs; it may keep *handles* to input and
 *                                           output, which the caller leaves unchanged until backward.
 *   layer.backward(space, grad_output, grad_input)
 *                                           for the most recent forward. Parameter gradients are
 *                                           ACCUMULATED (+=) into the bound gradients (zero them between
 *                                           steps: Network::zero_gradients); grad_input (N × input_dim) is
 *                                           OVERWRITTEN with ∂loss/∂input, or skipped when
 *                                           grad_input.data() == nullptr (the first layer of a network
 *                                           needs no input gradient). grad_output is not modified.
 *
 * Shapes are validated on the host before launching (DimensionMismatch naming both sizes); all work is
 * enqueued on `space`. A layer object is used by one host thread at a time.
 */
namespace layer_requirements {

template <class L>
concept HasTypes = HasScalarAndSpace<L>;

template <class L>
concept HasShape = requires(const L& layer) {
  { layer.input_dim() } -> std::convertible_to<std::size_t>;
  { layer.output_dim() } -> std::convertible_to<std::size_t>;
  { layer.parameter_count() } -> std::convertible_to<std::size_t>;
};

template <class L>
concept HasParameters = requires(L& layer, const typename L::execution_space& space,
                                 const Vector<typename L::scalar_type, typename L::execution_space>& buffer,
                                 BatchRandom rng) {
  layer.bind(buffer, buffer);
  layer.initialize(space, rng);
};

template <class L>
concept CanForward = requires(L& layer, const typename L::execution_space& space,
                              const ConstMatrix<typename L::scalar_type, typename L::execution_space>& input,
                              const Matrix<typename L::scalar_type, typename L::execution_space>& output) {
  layer.forward(space, input, output);
};

template <class L>
concept CanBackward = requires(L& layer, const typename L::execution_space& space,
                               const ConstMatrix<typename L::scalar_type, typename L::execution_space>& grad_output,
                               const Matrix<typename L::scalar_type, typename L::execution_space>& grad_input) {
  layer.backward(space, grad_output, grad_input);
};

} // namespace layer_requirements

template <class L>
concept Layer = layer_requirements::HasTypes<L> && layer_requirements::HasShape<L> &&
                layer_requirements::HasParameters<L> && layer_requirements::CanForward<L> &&
                layer_requirements::CanBackward<L>;

/*
 * StandardizesInput — a layer that z-scores its own input (nn::SetEmbedding: one statistic per trial feature,
 * shared by every trial slot, where a per-column z-score would break permutation invariance). Its owner hands it
 * x's per-column statistics, layer.set_input_standardization(x_mean, x_std) (input_dim entries each), instead of
 * z-scoring x itself (embed/detail/observation_embedding.hpp). A Sequential whose first layer does this does too.
 */
template <class L>
concept StandardizesInput = requires(L& layer, const std::vector<double>& statistics) {
  layer.set_input_standardization(statistics, statistics);
};

/*
 * LayerSpec — the compile-time description of a layer (nn::Dense<64>, nn::Tanh, nn::Sequential<…>):
 * a type with a member alias template `layer<Scalar, ExecutionSpace>` naming the bound layer class,
 * which models Layer and is constructible from its input dimension alone. Specs are what users
 * compose (`nn::Sequential<nn::Dense<64>, nn::Tanh, nn::Dense<2>>`) and name with `using` aliases.
 */
template <class Spec, class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
using bind_t = typename Spec::template layer<Scalar, ExecutionSpace>;

template <class Spec, class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
concept LayerSpec = requires { typename Spec::template layer<Scalar, ExecutionSpace>; } &&
                    Layer<bind_t<Spec, Scalar, ExecutionSpace>> &&
                    std::constructible_from<bind_t<Spec, Scalar, ExecutionSpace>, std::size_t>;

/// The extent of a spec whose width is known only at run time (std::dynamic_extent's analogue for layers):
/// nn::Dense<dynamic_extent> is a dense layer whose output width is a constructor argument.
inline constexpr std::size_t dynamic_extent = std::numeric_limits<std::size_t>::max();

/*
 * DynamicLayerSpec — a spec whose bound layer needs one run-time argument besides its input dimension, as mdspan
 * stores its dynamic extents: `typename Spec::dynamic_argument` names it, and layer<Scalar, ExecutionSpace> is
 * constructible from (input_dim, dynamic_argument). nn::Dense<dynamic_extent> takes its output width,
 * nn::MaskedDense its mask (and width), nn::Repeat<Spec> its block count, a Sequential with dynamic children the
 * tuple of their arguments in order. Sequential accepts both kinds of spec.
 */
template <class Spec, class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
concept DynamicLayerSpec =
    requires {
      typename Spec::dynamic_argument;
      typename Spec::template layer<Scalar, ExecutionSpace>;
    } && Layer<bind_t<Spec, Scalar, ExecutionSpace>> &&
    std::constructible_from<bind_t<Spec, Scalar, ExecutionSpace>, std::size_t, const typename Spec::dynamic_argument&>;

} // namespace osbi::nn
