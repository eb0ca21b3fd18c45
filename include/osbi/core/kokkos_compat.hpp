// SPDX-License-Identifier: BSD-3-Clause
/// \brief The one place that tests KOKKOS_VERSION: shims over the API differences of Kokkos 3.4 and 4.x/5.x.
#pragma once

#include <Kokkos_Core.hpp>

// Kokkos 3.x has the math functions in Kokkos::Experimental, 4.x moved them to Kokkos and later
// removed the Experimental aliases. Everything in osbi calls osbi::math::<fn> instead.
#if KOKKOS_VERSION >= 40000
#define OSBI_KOKKOS_MATH_NAMESPACE Kokkos
#else
#define OSBI_KOKKOS_MATH_NAMESPACE Kokkos::Experimental
#endif

namespace osbi::math {

using OSBI_KOKKOS_MATH_NAMESPACE::atan2;
using OSBI_KOKKOS_MATH_NAMESPACE::cos;
using OSBI_KOKKOS_MATH_NAMESPACE::erf;
using OSBI_KOKKOS_MATH_NAMESPACE::exp;
using OSBI_KOKKOS_MATH_NAMESPACE::expm1;
using OSBI_KOKKOS_MATH_NAMESPACE::fabs;
using OSBI_KOKKOS_MATH_NAMESPACE::floor;
using OSBI_KOKKOS_MATH_NAMESPACE::fmax;
using OSBI_KOKKOS_MATH_NAMESPACE::fmin;
using OSBI_KOKKOS_MATH_NAMESPACE::isfinite;
using OSBI_KOKKOS_MATH_NAMESPACE::isinf;
using OSBI_KOKKOS_MATH_NAMESPACE::isnan;
using OSBI_KOKKOS_MATH_NAMESPACE::log;
using OSBI_KOKKOS_MATH_NAMESPACE::log1p;
using OSBI_KOKKOS_MATH_NAMESPACE::pow;
using OSBI_KOKKOS_MATH_NAMESPACE::sin;
using OSBI_KOKKOS_MATH_NAMESPACE::sqrt;
using OSBI_KOKKOS_MATH_NAMESPACE::tanh;

} // namespace osbi::math

#undef OSBI_KOKKOS_MATH_NAMESPACE

namespace osbi::compat {

/// Kokkos 3.4.1 has Kokkos::is_view<T>::value but no is_view_v.
template <class T>
inline constexpr bool is_view_v = Kokkos::is_view<T>::value;

/// Label of the enabled execution space, for benchmark and log headers.
template <class ExecutionSpace>
inline const char* execution_space_name() {
  return ExecutionSpace::name();
}

} // namespace osbi::compat
