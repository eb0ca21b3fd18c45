// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Simulator`: a batched simulator θ → x whose kernels run on a Kokkos execution space.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <string_view>

namespace osbi {

/*
 * Simulator — what a model must provide (spec):
 *
 *   typename S::scalar_type      floating-point type of θ and x.
 *   typename S::execution_space  Kokkos execution space whose memory holds θ and x.
 *   s.theta_dim(), s.x_dim()     D_θ and D_x (> 0), fixed at construction.
 *   s.simulate(space, theta, x, rng)
 *                                theta: ConstMatrix N × D_θ, x: Matrix N × D_x. Row i of x is a
 *                                draw from p(x | θ_i) made with rng.row(i) only (reproducible on any
 *                                backend and thread count). A row the model cannot simulate (a failed
 *                                solve) is filled with NaN: never dropped, never a silent default.
 *                                Throws DimensionMismatch on the host before launching if a width or
 *                                the row counts disagree. Enqueued on `space` (fence before reading).
 *
 * External solvers that take one θ at a time on the host model PointSimulator
 * (point_simulator.hpp) and become Simulators through PointSimulatorAdapter.
 */
namespace simulator_requirements {

template <class S>
concept HasTypes = HasScalarAndSpace<S>;

template <class S>
concept HasDimensions = requires(const S& simulator) {
  { simulator.theta_dim() } -> std::convertible_to<std::size_t>;
  { simulator.x_dim() } -> std::convertible_to<std::size_t>;
};

template <class S>
concept CanSimulate = requires(S& simulator, const typename S::execution_space& space,
                               const ConstMatrix<typename S::scalar_type, typename S::execution_space>& theta,
                               const Matrix<typename S::scalar_type, typename S::execution_space>& x,
                               BatchRandom rng) {
  simulator.simulate(space, theta, x, rng);
};

} // namespace simulator_requirements

template <class S>
concept Simulator = simulator_requirements::HasTypes<S> && simulator_requirements::HasDimensions<S> &&
                    simulator_requirements::CanSimulate<S>;

/// Host-side check shared by every model: theta is N × theta_dim, x is N × x_dim.
template <class ThetaView, class XView>
void check_simulation_shapes(std::string_view part, const ThetaView& theta, const XView& x, std::size_t theta_dim,
                             std::size_t x_dim) {
  require_extent(theta.extent(1), theta_dim, part, "theta's column count");
  require_extent(x.extent(1), x_dim, part, "x's column count");
  require_extent(x.extent(0), theta.extent(0), part, "x's row count (must equal theta's)");
}

} // namespace osbi
