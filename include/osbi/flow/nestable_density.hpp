// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `NestableDensity`: a ConditionalDensity that can live inside a larger model (ConditionallyCentered,
/// EmbeddedDensity): a slice of the owner's parameter buffer and its own z-scoring set by the owner.
#pragma once

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/core/types.hpp>

#include <concepts>
#include <cstddef>
#include <vector>

namespace osbi {

/*
 * NestableDensity — what a model that wraps a density (a transform or an embedding in front of it) needs of it,
 * beyond ConditionalDensity (spec). The weighted backward pass with θ and x gradients that the wrapper
 * back-propagates through is ConditionalDensity's own nll_backward(space, θ, x, weights, grad_theta, grad_x).
 *
 *   d.parameter_count()                    the length of parameters() and gradients().
 *   d.rebind(parameters, gradients)        moves the current parameters and gradients into caller-owned storage of
 *                                          parameter_count() entries each (slices of the owner's buffers) and uses
 *                                          that from then on; values are preserved.
 *   d.set_standardization(θ_mean, θ_std, x_mean, x_std)
 *                                          the density's own z-scoring (std::vector<double> of theta_dim and
 *                                          context_dim entries; std finite and > 0). An owner that z-scores itself
 *                                          sets the identity here.
 *
 * CenterableDensity (flow/conditionally_centered.hpp) and EmbeddableDensity (embed/embedded_density.hpp) refine it.
 */
namespace nestable_density_requirements {

template <class D>
concept HasParameterCount = requires(const D& density) {
  { density.parameter_count() } -> std::convertible_to<std::size_t>;
};

template <class D>
concept CanRebind = requires(D& density, const Vector<typename D::scalar_type, typename D::execution_space>& buffer) {
  density.rebind(buffer, buffer);
};

template <class D>
concept HasStandardization = requires(D& density, const std::vector<double>& values) {
  density.set_standardization(values, values, values, values);
};

} // namespace nestable_density_requirements

template <class D>
concept NestableDensity = ConditionalDensity<D> && nestable_density_requirements::HasParameterCount<D> &&
                          nestable_density_requirements::CanRebind<D> &&
                          nestable_density_requirements::HasStandardization<D>;

} // namespace osbi
