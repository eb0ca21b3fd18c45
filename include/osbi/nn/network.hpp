// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn::Network<Spec>: a bound layer plus the one flat parameter buffer and one flat gradient buffer.
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/core/random_streams.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

namespace osbi::nn {

/*
 * Network — owns what a training loop and its optimizer see:
 *   parameters()   one contiguous Vector of parameter_count() scalars; every layer's weights are views
 *                  into it (layer order, each layer's own layout), so an optimizer step or an MPI
 *                  allreduce of gradients() touches the whole model in one call.
 *   gradients()    the same layout; backward ACCUMULATES into it (zero_gradients between steps).
 *   forward(space, input)         returns the output (a view of a Network-owned buffer, valid until
 *                                 the next forward; grown to the largest batch, never per call).
 *   backward(space, grad_output)  parameter gradients only;
 *   backward(space, grad_output, grad_input)  also overwrites grad_input (N × input_dim).
 * Construction binds the layer and initializes it from the seed (RandomStream(seed).next()) or from
 * the next batch of a caller's RandomStream.
 */
template <class Spec, class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class Network {
  static_assert(LayerSpec<Spec, Scalar, ExecutionSpace>,
                "osbi::nn::Network<Spec>: Spec is not a LayerSpec<Scalar, ExecutionSpace> (a type with a member "
                "template layer<Scalar, ExecutionSpace> that models osbi::nn::Layer and is constructible from "
                "the input dimension; see osbi/nn/layer.hpp)");

public:
  using spec_type = Spec;
  using layer_type = bind_t<Spec, Scalar, ExecutionSpace>;
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  Network(std::size_t input_dim, std::uint64_t seed) : Network(input_dim, RandomStream(seed, streams::network_init).next()) {}

  Network(std::size_t input_dim, RandomStream& stream) : Network(input_dim, stream.next()) {}

  Network(std::size_t input_dim, BatchRandom rng)
      : m_layer(input_dim), m_parameters("osbi::nn::Network::parameters", m_layer.parameter_count()),
        m_gradients("osbi::nn::Network::gradients", m_layer.parameter_count()),
        m_output("osbi::nn::Network::output", m_layer.output_dim()) {
    m_layer.bind(m_parameters, m_gradients);
    const ExecutionSpace space{};
    m_layer.initialize(space, rng);
    space.fence();
  }

  std::size_t input_dim() const { return m_layer.input_dim(); }
  std::size_t output_dim() const { return m_layer.output_dim(); }
  std::size_t parameter_count() const { return m_layer.parameter_count(); }

  /// The flat buffers (views share the storage: writing parameters() changes the model).
  Vector<Scalar, ExecutionSpace> parameters() const { return m_parameters; }
  Vector<Scalar, ExecutionSpace> gradients() const { return m_gradients; }

  layer_type& layer() { return m_layer; }
  const layer_type& layer() const { return m_layer; }

  /// Re-draws every parameter (gradients are left alone).
  void initialize(const ExecutionSpace& space, BatchRandom rng) { m_layer.initialize(space, rng); }

  ConstMatrix<Scalar, ExecutionSpace> forward(const ExecutionSpace& space,
                                              const ConstMatrix<Scalar, ExecutionSpace>& input) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (the network's input_dim)");
    const Matrix<Scalar, ExecutionSpace> output = m_output.rows(input.extent(0));
    m_layer.forward(space, input, output);
    return output;
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output) {
    m_layer.backward(space, grad_output, Matrix<Scalar, ExecutionSpace>());
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    m_layer.backward(space, grad_output, grad_input);
  }

  void zero_gradients(const ExecutionSpace& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }

private:
  static constexpr const char* part = "osbi::nn::Network";
  layer_type m_layer;
  Vector<Scalar, ExecutionSpace> m_parameters;
  Vector<Scalar, ExecutionSpace> m_gradients;
  detail::BatchBuffer<Scalar, ExecutionSpace> m_output;
};

} // namespace osbi::nn
