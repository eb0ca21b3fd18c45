// SPDX-License-Identifier: BSD-3-Clause
/// \brief Execution-space aliases and the batch × features views every osbi part exchanges.
#pragma once

#include <osbi/core/kokkos_compat.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>

namespace osbi {

using DefaultExecutionSpace = Kokkos::DefaultExecutionSpace;
using HostExecutionSpace = Kokkos::DefaultHostExecutionSpace;

/// Scalar type of estimators and the sample buffer unless a part says otherwise.
using real_t = float;

/// Batch × features, one row per sample. The memory space (not the execution space) is the
/// template argument of the View, so Serial and OpenMP views of the host are the same type.
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
using Matrix = Kokkos::View<Scalar**, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
using ConstMatrix = Kokkos::View<const Scalar**, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

/// One value per sample (log-probabilities, weights, statuses).
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
using Vector = Kokkos::View<Scalar*, typename ExecutionSpace::memory_space>;

template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
using ConstVector = Kokkos::View<const Scalar*, typename ExecutionSpace::memory_space>;

/// "osbi::<area>::<part>::<step>": the label convention of kernels and Views (profilers group by it).
inline std::string label(std::string_view area, std::string_view part, std::string_view step) {
  std::string text = "osbi::";
  text.append(area).append("::").append(part).append("::").append(step);
  return text;
}

/// The first requirement of every osbi concept (Prior, Simulator, Layer, ConditionalDensity, Optimizer):
/// the part names a floating-point scalar_type and a Kokkos execution_space.
template <class Part>
concept HasScalarAndSpace = requires {
  typename Part::scalar_type;
  typename Part::execution_space;
} && std::floating_point<typename Part::scalar_type> && Kokkos::is_execution_space<typename Part::execution_space>::value;

/// True if ViewType is a rank-2 Kokkos::View whose memory the given execution space can access.
template <class ViewType, class ExecutionSpace>
concept BatchViewFor = compat::is_view_v<ViewType> && (ViewType::rank == 2) &&
                       static_cast<bool>(Kokkos::SpaceAccessibility<ExecutionSpace, typename ViewType::memory_space>::accessible);

/// True if ViewType is a rank-1 Kokkos::View whose memory the given execution space can access.
template <class ViewType, class ExecutionSpace>
concept ValueViewFor = compat::is_view_v<ViewType> && (ViewType::rank == 1) &&
                       static_cast<bool>(Kokkos::SpaceAccessibility<ExecutionSpace, typename ViewType::memory_space>::accessible);

} // namespace osbi
