// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn::Sequential<Specs...>: layers composed at compile time into one Layer (flat variadic list); children with
/// a dynamic extent take their run-time arguments in order.
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
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::nn {

namespace sequential_detail {

template <class Spec, class Scalar, class ExecutionSpace>
concept HasLayerTemplate = requires {
  typename Spec::template layer<Scalar, ExecutionSpace>;
};

/// A spec with a run-time argument (DynamicLayerSpec's marker; layer.hpp).
template <class Spec>
concept HasDynamicArgument = requires { typename Spec::dynamic_argument; };

template <class Spec>
struct ArgumentOf {
  using type = std::tuple<>;
};
template <HasDynamicArgument Spec>
struct ArgumentOf<Spec> {
  using type = std::tuple<typename Spec::dynamic_argument>;
};

/// The run-time arguments of the dynamic specs among Specs, in order (an empty tuple when there are none).
template <class... Specs>
using DynamicArguments = decltype(std::tuple_cat(std::declval<typename ArgumentOf<Specs>::type>()...));

/// Gives Sequential<Specs...> its dynamic_argument (the tuple above) when some child has one, and none otherwise,
/// so a Sequential of static specs stays a LayerSpec and one with dynamic children is a DynamicLayerSpec.
template <class... Specs>
struct DynamicArgumentMember {};
template <class... Specs>
requires(HasDynamicArgument<Specs> || ...) struct DynamicArgumentMember<Specs...> {
  using dynamic_argument = DynamicArguments<Specs...>;
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
  } else if constexpr (HasDynamicArgument<Spec>) {
    static_assert(DynamicLayerSpec<Spec, Scalar, ExecutionSpace>,
                  "osbi::nn::Sequential<Specs...>: the spec `Spec` at position `Position` (counted from 0; both are "
                  "named in the instantiation of check_spec above) is not a DynamicLayerSpec: its layer<Scalar, "
                  "ExecutionSpace> cannot be constructed from (input_dim, Spec::dynamic_argument) (osbi/nn/layer.hpp)");
    return DynamicLayerSpec<Spec, Scalar, ExecutionSpace>;
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
requires(LayerSpec<Spec, Scalar, ExecutionSpace> || DynamicLayerSpec<Spec, Scalar, ExecutionSpace>)
struct BoundLayer<Spec, Scalar, ExecutionSpace> {
  using type = bind_t<Spec, Scalar, ExecutionSpace>;
};

/// The bound layers of Specs, constructed first to last: each from the previous one's output_dim() and, for a
/// dynamic spec, its entry Next of `arguments` (then Next + 1 for the following dynamic spec). (A std::tuple
/// cannot do this: the order in which it constructs its elements is unspecified.)
template <class Scalar, class ExecutionSpace, class Arguments, std::size_t Next, class... Specs>
class Chain;

template <class Scalar, class ExecutionSpace, class Arguments, std::size_t Next>
class Chain<Scalar, ExecutionSpace, Arguments, Next> {
public:
  Chain(std::size_t, const Arguments&) {}
};

template <class Scalar, class ExecutionSpace, class Arguments, std::size_t Next, class Spec, class... Rest>
class Chain<Scalar, ExecutionSpace, Arguments, Next, Spec, Rest...> {
  using First = typename BoundLayer<Spec, Scalar, ExecutionSpace>::type;
  static constexpr bool dynamic = HasDynamicArgument<Spec> && !std::is_same_v<First, NotALayer<Scalar, ExecutionSpace>>;

public:
  Chain(std::size_t input_dim, const Arguments& arguments)
      : m_first(construct(input_dim, arguments)), m_rest(m_first.output_dim(), arguments) {}

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
  static First construct(std::size_t input_dim, const Arguments& arguments) {
    if constexpr (dynamic)
      return First(input_dim, std::get<Next>(arguments));
    else
      return First(input_dim);
  }

  First m_first;
  Chain<Scalar, ExecutionSpace, Arguments, Next + (HasDynamicArgument<Spec> ? 1 : 0), Rest...> m_rest;
};

} // namespace sequential_detail

/*
 * SequentialLayer — Specs' layers applied in order; models Layer, so it nests and can be wrapped
 * (Residual). Child k is built from child k−1's output_dim() and, when its spec is a DynamicLayerSpec (a
 * run-time width, mask or count: nn::Dense<dynamic_extent>, nn::MaskedDense, nn::Repeat), from the next of the
 * run-time arguments the constructor takes after input_dim, in order; its parameters are the k-th consecutive
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

  /// The run-time arguments of the dynamic children, in order (std::tuple<> when there are none).
  using dynamic_arguments = sequential_detail::DynamicArguments<Specs...>;
  static constexpr std::size_t dynamic_count = std::tuple_size_v<dynamic_arguments>;

  /// All children static: the input dimension is all there is to know.
  explicit SequentialLayer(std::size_t input_dim) requires(dynamic_count == 0)
      : SequentialLayer(input_dim, dynamic_arguments{}) {}

  /// One argument per dynamic child, in order, e.g. SequentialLayer<S, E, Dense<dynamic_extent>, Tanh,
  /// Dense<dynamic_extent>>(in, hidden, out).
  template <class... Arguments>
  requires(dynamic_count > 0 && sizeof...(Arguments) == dynamic_count &&
           !(std::is_same_v<std::remove_cvref_t<Arguments>, dynamic_arguments> && ...) &&
           std::constructible_from<dynamic_arguments, Arguments&&...>)
  explicit SequentialLayer(std::size_t input_dim, Arguments&&... arguments)
      : SequentialLayer(input_dim, dynamic_arguments(std::forward<Arguments>(arguments)...)) {}

  /// The same with the arguments in one tuple (how an enclosing Sequential passes them).
  SequentialLayer(std::size_t input_dim, const dynamic_arguments& arguments) : m_layers(input_dim, arguments) {
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

  /// Forwards x's statistics to a first layer that standardizes its own input (layer.hpp, StandardizesInput).
  void set_input_standardization(const std::vector<double>& x_mean, const std::vector<double>& x_std)
    requires StandardizesInput<layer_type<0>>
  {
    get<0>().set_input_standardization(x_mean, x_std);
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

  sequential_detail::Chain<Scalar, ExecutionSpace, dynamic_arguments, 0, Specs...> m_layers;
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
/// Sequential specs nest (a Sequential is itself a LayerSpec, or a DynamicLayerSpec taking the tuple of its
/// dynamic children's arguments when it has any).
template <class... Specs>
struct Sequential : sequential_detail::DynamicArgumentMember<Specs...> {
  template <class Scalar, class ExecutionSpace>
  using layer = SequentialLayer<Scalar, ExecutionSpace, Specs...>;
};

} // namespace osbi::nn
