// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `ElementwiseTransform`: the scalar, invertible, parameterized map that an AutoregressiveFlow applies
/// to each dimension (affine for MAF, rational-quadratic spline for NSF).
#pragma once

#include <osbi/flow/rational_quadratic.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace osbi {

/*
 * ElementwiseTransform — what AutoregressiveFlow<Transform, Scalar, ExecutionSpace> (flow/autoregressive_flow.hpp)
 * needs of its Transform (spec). Transform is a host-side family type; the work is done by a trivially copyable
 * device object built from the flow's options:
 *
 *   typename T::options_type                  the flow's options: transforms, hidden, blocks, seed (as MAFOptions),
 *                                             plus whatever the transform itself needs.
 *   T::template elementwise<Scalar>(options)  → E, the device object (checks the options on the host:
 *                                             InvalidArgument naming T::part). `hidden` is known here, for
 *                                             transforms that scale their parameters by it (nflows' 1/√H).
 *   T::part                                   "osbi::<name>", the flow's C++ name: what its errors name (its views
 *                                             and kernels are "osbi::flow::<name>::<step>").
 *   T::init_stream, T::permutation_stream     the random streams of the MADE initialization and the permutations
 *                                             (detail::MadeStack), so each flow keeps its own draws.
 *
 * and of E, on one element y with its P = e.parameter_count() parameters p (contiguous, the MADE's outputs for that
 * dimension), all KOKKOS_INLINE_FUNCTION and never throwing:
 *   e.forward(y, p)   → SplineValue<Scalar>{z, log|∂z/∂y|}; strictly increasing in y.
 *   e.inverse(z, p)   → y with forward(y, p).value = z (up to rounding): a Scalar, or a SplineValue whose .value is y.
 *   e.backward(y, p, ḡ_z, ḡ_ℓ, grad_p)
 *                     for ℓ = ḡ_z·z + ḡ_ℓ·log|∂z/∂y| at forward(y, p): OVERWRITES grad_p (P values) with ∂ℓ/∂p and
 *                     returns ∂ℓ/∂y.
 * The flow's log-likelihood weight enters as ḡ_ℓ, so a weighted loss costs nothing extra.
 *
 * Optionally E keeps what its backward needs from the forward, so training does not evaluate the same
 * transcendentals twice (the affine map keeps its scale s and σ(p₀); the spline keeps nothing):
 *   E::saved_count    static constexpr std::size_t > 0: values per element;
 *   e.forward(y, p, saved)                     as forward(y, p), also writing saved[0 … saved_count);
 *   e.backward(y, p, saved, ḡ_z, ḡ_ℓ, grad_p)  as backward(y, p, ḡ_z, ḡ_ℓ, grad_p), with saved as that forward left
 *                                              it; the same results to the bit.
 * detail::saved_count_v<E> is 0 for a transform without them.
 *
 * Optionally, for host spaces, E evaluates L = detail::transform_lanes<Scalar> elements at once (one loop over the
 * lanes per step, which the compiler vectorizes; detail::EvaluatesLanes), with the same results as element by
 * element up to rounding:
 *   e.forward_lanes<L>(count, y[L], p[L], z[L], log_det[L])
 *   e.backward_lanes<L>(count, y[L], p[L], ḡ_z[L], ḡ_ℓ[L], grad_p[L], ḡ_y[L])
 * with p and grad_p arrays of pointers; only the first `count` lanes are read and their grad_p written.
 */
namespace elementwise_transform_requirements {

template <class T>
concept HasFamily = requires {
  typename T::options_type;
  { T::part } -> std::convertible_to<const char*>;
  { T::init_stream } -> std::convertible_to<std::uint64_t>;
  { T::permutation_stream } -> std::convertible_to<std::uint64_t>;
};

template <class T, class Scalar>
concept MakesElementwise = requires(const typename T::options_type& options) {
  T::template elementwise<Scalar>(options);
};

template <class E, class Scalar>
concept IsElementwise =
    std::is_trivially_copyable_v<E> && requires(const E& e, Scalar value, const Scalar* parameters, Scalar* grad) {
      { e.parameter_count() } -> std::convertible_to<std::size_t>;
      { e.forward(value, parameters) } -> std::same_as<SplineValue<Scalar>>;
      e.inverse(value, parameters);
      { e.backward(value, parameters, value, value, grad) } -> std::convertible_to<Scalar>;
    };

template <class E, class Scalar>
concept SavesForBackward = requires(const E& e, Scalar value, const Scalar* parameters, Scalar* saved, Scalar* grad) {
  { E::saved_count } -> std::convertible_to<std::size_t>;
  requires E::saved_count > 0;
  { e.forward(value, parameters, saved) } -> std::same_as<SplineValue<Scalar>>;
  { e.backward(value, parameters, static_cast<const Scalar*>(saved), value, value, grad) } -> std::convertible_to<Scalar>;
};

template <class E, class Scalar>
concept OptionalSavedState = !requires { E::saved_count; } || SavesForBackward<E, Scalar>;

} // namespace elementwise_transform_requirements

template <class T, class Scalar>
concept ElementwiseTransform =
    elementwise_transform_requirements::HasFamily<T> && elementwise_transform_requirements::MakesElementwise<T, Scalar> &&
    elementwise_transform_requirements::IsElementwise<
        decltype(T::template elementwise<Scalar>(std::declval<const typename T::options_type&>())), Scalar> &&
    elementwise_transform_requirements::OptionalSavedState<
        decltype(T::template elementwise<Scalar>(std::declval<const typename T::options_type&>())), Scalar>;

namespace detail {

/// Values per element that E's forward keeps for its backward (0: E declares none).
template <class E>
inline constexpr std::size_t saved_count_v = 0;
template <class E>
  requires requires { E::saved_count; }
inline constexpr std::size_t saved_count_v<E> = E::saved_count;

/// e.forward(y, p), keeping saved[0 … saved_count) when E keeps values for its backward (saved unused otherwise).
template <class E, class Scalar>
KOKKOS_INLINE_FUNCTION SplineValue<Scalar> forward_saving(const E& e, Scalar y, const Scalar* parameters,
                                                          Scalar* saved) {
  if constexpr (saved_count_v<E> > 0)
    return e.forward(y, parameters, saved);
  else
    return e.forward(y, parameters);
}

/// e.backward(y, p, ḡ_z, ḡ_ℓ, grad_p), from what forward_saving kept when E keeps anything.
template <class E, class Scalar>
KOKKOS_INLINE_FUNCTION Scalar backward_saved(const E& e, Scalar y, const Scalar* parameters, const Scalar* saved,
                                             Scalar grad_value, Scalar grad_log_det, Scalar* grad_parameters) {
  if constexpr (saved_count_v<E> > 0)
    return e.backward(y, parameters, saved, grad_value, grad_log_det, grad_parameters);
  else
    return e.backward(y, parameters, grad_value, grad_log_det, grad_parameters);
}

/// Elements a host kernel hands at once to a transform's forward_lanes / backward_lanes: 64 bytes of Scalar (one
/// AVX-512 vector, two AVX2 ones).
template <class Scalar>
inline constexpr int transform_lanes = static_cast<int>(64 / sizeof(Scalar));

/// Whether E evaluates lanes of elements at once on the host (forward_lanes / backward_lanes, as
/// RationalQuadraticSpline) and keeps nothing for its backward: the flows then take that path on host spaces.
template <class E, class Scalar>
concept EvaluatesLanes =
    saved_count_v<E> == 0 &&
    requires(const E& e, const Scalar (&values)[transform_lanes<Scalar>],
             const Scalar* const (&parameters)[transform_lanes<Scalar>], Scalar (&out)[transform_lanes<Scalar>],
             Scalar* const (&grad_parameters)[transform_lanes<Scalar>]) {
      e.template forward_lanes<transform_lanes<Scalar>>(1, values, parameters, out, out);
      e.template backward_lanes<transform_lanes<Scalar>>(1, values, parameters, values, values, grad_parameters, out);
    };

/// The y of an ElementwiseTransform's inverse, whichever of its two documented forms it returns.
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar inverse_value(Scalar value) {
  return value;
}
template <class Scalar>
KOKKOS_INLINE_FUNCTION Scalar inverse_value(const SplineValue<Scalar>& result) {
  return result.value;
}

} // namespace detail

} // namespace osbi
