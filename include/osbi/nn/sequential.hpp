// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn::Sequential<Specs...>: layers composed at compile time into one Layer (flat variadic list).
#pragma once

#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

namespace osbi::nn {

namespace sequential_detail {

template <class Spec, class Scalar, class ExecutionSpace>
concept HasLayerTemplate = requires {
  typename Spec::template layer<Scalar, ExecutionSpace>;
};

/// One readable static_assert per LayerSpec requirement, for the spec at `Position` (counted from 0);
/// gcc and clang print `Position` and `Spec` in the "In instantiation of check_spec<...>" line.
template <std::size_t Position, class Spec, class Scalar, class ExecutionSpace>
consteval bool check_spec() {
  if constexpr (!HasLayerTemplate<Spec, Scalar, ExecutionSpace>) {
    static_assert(HasLayerTemplate<Spec, Scalar, ExecutionSpace>,
                  "osbi::nn::Sequential<Specs...>: the spec `Spec` at position `Position` (counted from 0; both are "
                  "named in the instantiation of check_spec above) is not a LayerSpec: it has no member template "
                  "layer<Scalar, ExecutionSpace>. Pass specs such as nn::Dense<64> or nn::Tanh (osbi/nn/layer.hpp)");
    return false;
  } else if constexpr (!Layer<bind_t<Spec, Scalar, ExecutionSpace>>) {
    static_assert(Layer<bind_t<Spec, Scalar, ExecutionSpace>>,
                  "osbi::nn::Sequential<Specs...>: the spec `Spec` at position `Position` (counted from 0; both are "
                  "named in the instantiation of check_spec above) is not a LayerSpec: its layer<Scalar, "
                  "ExecutionSpace> does not model osbi::nn::Layer (the requirements are in osbi/nn/layer.hpp)");
    return false;
  } else if constexpr (!std::constructible_from<bind_t<Spec, Scalar, ExecutionSpace>, std::size_t>) {
    static_assert(std::constructible_from<bind_t<Spec, Scalar, ExecutionSpace>, std::size_t>,
                  "osbi::nn::Sequential<Specs...>: the spec `Spec` at position `Position` (counted from 0; both are "
                  "named in the instantiation of check_spec above) is not a LayerSpec: its layer<Scalar, "
                  "ExecutionSpace> cannot be constructed from the input dimension alone (osbi/nn/layer.hpp)");
    return false;
  } else {
    return true;
  }
}

template <class Scalar, class ExecutionSpace, class... Specs, std::size_t... Positions>
consteval bool check_specs(std::index_sequence<Positions...>) {
  return (check_spec<Positions, Specs, Scalar, ExecutionSpace>() && ...);
}

/// Stands in for the layer of a spec that is not a LayerSpec, so that the static_assert above is the
/// only error the compiler reports.
template <class Scalar, class ExecutionSpace>
struct NotALayer {
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  explicit NotALayer(std::size_t) {}
  std::size_t input_dim() const { return 0; }
  std::size_t output_dim() const { return 0; }
  std::size_t parameter_count() const { return 0; }
  void bind(const Vector<Scalar, ExecutionSpace>&, const Vector<Scalar, ExecutionSpace>&) {}
  void initialize(const ExecutionSpace&, BatchRandom) {}
  void forward(const ExecutionSpace&, const ConstMatrix<Scalar, ExecutionSpace>&,
               const Matrix<Scalar, ExecutionSpace>&) {}
  void backward(const ExecutionSpace&, const ConstMatrix<Scalar, ExecutionSpace>&,
                const Matrix<Scalar, ExecutionSpace>&) {}
};

template <class Spec, class Scalar, class ExecutionSpace>
struct BoundLayer {
  using type = NotALayer<Scalar, ExecutionSpace>;
};
template <class Spec, class Scalar, class ExecutionSpace>
requires LayerSpec<Spec, Scalar, ExecutionSpace>
struct BoundLayer<Spec, Scalar, ExecutionSpace> {
  using type = bind_t<Spec, Scalar, ExecutionSpace>;
};

/// The bound layers, constructed first to last: each from the previous one's output_dim(). (A
/// std::tuple cannot do this: the order in which it constructs its elements is unspecified.)
template <class... Layers>
class Chain;

template <>
class Chain<> {
public:
  explicit Chain(std::size_t) {}
};

template <class First, class... Rest>
class Chain<First, Rest...> {
public:
  explicit Chain(std::size_t input_dim) : m_first(input_dim), m_rest(m_first.output_dim()) {}

  template <std::size_t K>
  auto& get() {
    if constexpr (K == 0)
      return m_first;
    else
      return m_rest.template get<K - 1>();
  }
  template <std::size_t K>
  const auto& get() const {
    if constexpr (K == 0)
      return m_first;
    else
      return m_rest.template get<K - 1>();
  }

private:
  First m_first;
  Chain<Rest...> m_rest;
};

} // namespace sequential_detail

/*
 * SequentialLayer — Specs' layers applied in order; models Layer, so it nests and can be wrapped
 * (Residual). Child k is built from child k−1's output_dim(); its parameters are the k-th consecutive
 * slice of the bound flat buffers (Kokkos::subview, no copies: one buffer for optimizers and MPI);
 * initialize gives child k the generator rng.split(k). Forward keeps every intermediate activation in
 * a layer-owned buffer (the children keep handles to them for backward), backward passes the gradient
 * back through layer-owned buffers. Buffers grow to the largest batch seen and smaller batches use
 * their leading rows: no allocation per call once the batch size is steady.
 */
template <class Scalar, class ExecutionSpace, class... Specs>
class SequentialLayer {
  static_assert(sizeof...(Specs) > 0, "osbi::nn::Sequential<>: give at least one layer spec");
  // Instantiates check_spec for every position; its static_assert names the offending spec (`|| true`
  // keeps this line from adding a second, vaguer error).
  static_assert(sequential_detail::check_specs<Scalar, ExecutionSpace, Specs...>(std::index_sequence_for<Specs...>{}) ||
                true);

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  /// The bound layer types, in order.
  using layer_types = std::tuple<typename sequential_detail::BoundLayer<Specs, Scalar, ExecutionSpace>::type...>;
  template <std::size_t K>
  using layer_type = std::tuple_element_t<K, layer_types>;
  static constexpr std::size_t size = sizeof...(Specs);

  explicit SequentialLayer(std::size_t input_dim) : m_layers(input_dim) {
    std::size_t previous = input_dim;
    for_each_index([&]<std::size_t K>() {
      const auto& child = this->template get<K>();
      require_extent(child.input_dim(), previous, part, "a child's input_dim (the previous layer's output_dim)");
      previous = child.output_dim();
      m_offsets[K + 1] = m_offsets[K] + child.parameter_count();
      if constexpr (K + 1 < size) {
        m_activations[K] = detail::BatchBuffer<Scalar, ExecutionSpace>(label("activation"), child.output_dim());
        m_gradients_between[K] = detail::BatchBuffer<Scalar, ExecutionSpace>(label("gradient"), child.output_dim());
      }
    });
  }

  std::size_t input_dim() const { return get<0>().input_dim(); }
  std::size_t output_dim() const { return get<size - 1>().output_dim(); }
  std::size_t parameter_count() const { return m_offsets[size]; }

  /// Child K (0-based), e.g. to read a Dense layer's weight().
  template <std::size_t K>
  layer_type<K>& get() {
    return m_layers.template get<K>();
  }
  template <std::size_t K>
  const layer_type<K>& get() const {
    return m_layers.template get<K>();
  }

  /// Offset of child K's parameters in the bound flat buffers.
  template <std::size_t K>
  std::size_t parameter_offset() const {
    return m_offsets[K];
  }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    for_each_index([&]<std::size_t K>() {
      const auto slice = std::make_pair(m_offsets[K], m_offsets[K + 1]);
      this->template get<K>().bind(Kokkos::subview(parameters, slice), Kokkos::subview(gradients, slice));
    });
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    for_each_index(
        [&]<std::size_t K>() { this->template get<K>().initialize(space, rng.split(static_cast<std::uint32_t>(K))); });
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (the network's input_dim)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count (the network's output_dim)");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    const std::size_t batch = input.extent(0);
    m_batch = batch;
    m_has_forward = true;
    for_each_index([&]<std::size_t K>() {
      ConstMatrix<Scalar, ExecutionSpace> child_input = input;
      if constexpr (K > 0) child_input = m_activation_rows[K - 1];
      Matrix<Scalar, ExecutionSpace> child_output = output;
      if constexpr (K + 1 < size) {
        m_activation_rows[K] = m_activations[K].rows(batch);
        child_output = m_activation_rows[K];
      }
      this->template get<K>().forward(space, child_input, child_output);
    });
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part,
                   "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part,
                   "backward: grad_output's column count (the network's output_dim)");
    if (grad_input.data() != nullptr) {
      require_extent(grad_input.extent(0), m_batch, part,
                     "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), input_dim(), part,
                     "backward: grad_input's column count (the network's input_dim)");
    }
    for_each_index_reversed([&]<std::size_t K>() {
      ConstMatrix<Scalar, ExecutionSpace> child_grad_output = grad_output;
      if constexpr (K + 1 < size) child_grad_output = m_gradient_rows[K];
      Matrix<Scalar, ExecutionSpace> child_grad_input = grad_input;
      if constexpr (K > 0) {
        m_gradient_rows[K - 1] = m_gradients_between[K - 1].rows(m_batch);
        child_grad_input = m_gradient_rows[K - 1];
      }
      this->template get<K>().backward(space, child_grad_output, child_grad_input);
    });
  }

private:
  static constexpr const char* part = "osbi::nn::SequentialLayer";
  static constexpr std::size_t boundaries = size - 1;

  static std::string label(const char* what) { return std::string(part) + "::" + what; }

  template <class Body>
  static void for_each_index(Body&& body) {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (body.template operator()<K>(), ...); }
    (std::make_index_sequence<size>{});
  }
  template <class Body>
  static void for_each_index_reversed(Body&& body) {
    [&]<std::size_t... K>(std::index_sequence<K...>) { (body.template operator()<size - 1 - K>(), ...); }
    (std::make_index_sequence<size>{});
  }

  sequential_detail::Chain<typename sequential_detail::BoundLayer<Specs, Scalar, ExecutionSpace>::type...> m_layers;
  std::array<std::size_t, size + 1> m_offsets{};
  // Boundary k lies between child k and child k + 1: its activation is child k's output.
  std::array<detail::BatchBuffer<Scalar, ExecutionSpace>, boundaries> m_activations;
  std::array<detail::BatchBuffer<Scalar, ExecutionSpace>, boundaries> m_gradients_between;
  std::array<Matrix<Scalar, ExecutionSpace>, boundaries> m_activation_rows;
  std::array<Matrix<Scalar, ExecutionSpace>, boundaries> m_gradient_rows;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: the layers of Specs applied in order, e.g.
///   using Embedding = nn::Sequential<nn::Dense<64>, nn::GELU, nn::Dense<64>, nn::GELU, nn::Dense<8>>;
/// Sequential specs nest (a Sequential is itself a LayerSpec).
template <class... Specs>
struct Sequential {
  template <class Scalar, class ExecutionSpace>
  using layer = SequentialLayer<Scalar, ExecutionSpace, Specs...>;
};

} // namespace osbi::nn
