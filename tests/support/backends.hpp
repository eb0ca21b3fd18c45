// SPDX-License-Identifier: BSD-3-Clause
/// \brief The execution spaces a test body runs on, as Kokkos' own unit tests do: every enabled host
/// backend, and the default device space (CUDA, HIP, SYCL) where Kokkos has one. A test over
/// `Backends` creates its data on the host and copies it in and out (to_space / to_host), so it never
/// assumes that a space's memory is host-accessible.
#pragma once

#include <Kokkos_Core.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace osbi::testing {

namespace detail {
#ifdef KOKKOS_ENABLE_SERIAL
using serial_backend = std::tuple<Kokkos::Serial>;
#else
using serial_backend = std::tuple<>;
#endif
#ifdef KOKKOS_ENABLE_OPENMP
using openmp_backend = std::tuple<Kokkos::OpenMP>;
#else
using openmp_backend = std::tuple<>;
#endif
template <class Space>
inline constexpr bool is_device_space =
    !Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible;
inline constexpr bool default_space_is_device = is_device_space<Kokkos::DefaultExecutionSpace>;
using device_backend =
    std::conditional_t<default_space_is_device, std::tuple<Kokkos::DefaultExecutionSpace>, std::tuple<>>;
} // namespace detail

/// True when Space is a device (its memory is not host-accessible); the default space's case.
template <class Space>
inline constexpr bool is_device_space = detail::is_device_space<Space>;
inline constexpr bool default_space_is_device = detail::default_space_is_device;

/// The relative difference a test allows where it compares a space's arithmetic with the host's:
/// none on host backends (the same code, the same compiler), the last bits on a device (nvcc
/// contracts a·b + c into FMAs, and its log, sin and cos may round differently from the host's).
template <class Space>
inline constexpr double last_bits_tolerance = is_device_space<Space> ? 1e-14 : 0.0;

/// Serial, OpenMP and the device space, those of them that are enabled (for BOOST_AUTO_TEST_CASE_TEMPLATE).
using Backends = decltype(std::tuple_cat(std::declval<detail::serial_backend>(), std::declval<detail::openmp_backend>(),
                                         std::declval<detail::device_backend>()));

/// A copy of the host view `host` in Space's memory (the view itself where Space can read it).
template <class Space, class View>
auto to_space(const View& host) {
  return Kokkos::create_mirror_view_and_copy(typename Space::memory_space(), host);
}

/// A host copy of `view` (the view itself where the host can read it), after the copy finished.
template <class View>
auto to_host(const View& view) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
}

} // namespace osbi::testing
