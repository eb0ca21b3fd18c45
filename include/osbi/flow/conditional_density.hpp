// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `ConditionalDensity`: a trainable q(θ | x) that can be evaluated, sampled and stepped.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>

namespace osbi {

/*
 * ConditionalDensity — a normalized density q(θ | x) over R^{theta_dim} for each context x ∈ R^{context_dim},
 * with trainable parameters in one flat buffer (spec):
 *
 *   typename D::scalar_type, typename D::execution_space
 *   d.theta_dim(), d.context_dim()       fixed at construction.
 *   d.parameters(), d.gradients()         Vector<scalar_type>: one contiguous buffer each, equal length (what an
 *                                         optimizer steps and an MPI allreduce averages).
 *   d.log_prob(space, theta, x, out)      out(i) = log q(θ_i | x_i); theta N × theta_dim, x N × context_dim,
 *                                         out N. NaN rows give NaN.
 *   d.nll_backward(space, theta, x)       returns the batch mean of −log q(θ_i | x_i) (double) and ACCUMULATES its
 *                                         gradient with respect to the parameters into gradients() (zero them
 *                                         between steps with zero_gradients). The caller drops non-finite rows first.
 *   d.zero_gradients(space)
 *   d.sample(space, x, rng, theta)        one draw θ_i ~ q(· | x_i) per row; row i uses rng.row(i) only.
 *   d.sample(space, x_one, n, rng, theta) n draws for the single context x_one (1 × context_dim) into theta (n × theta_dim).
 *
 * Shapes are validated on the host (DimensionMismatch naming both sizes) before any launch; work is
 * enqueued on `space`. One host thread uses a density object at a time.
 */
namespace conditional_density_requirements {

template <class D>
concept HasTypes = HasScalarAndSpace<D>;

template <class D>
concept HasShape = requires(const D& density) {
  { density.theta_dim() } -> std::convertible_to<std::size_t>;
  { density.context_dim() } -> std::convertible_to<std::size_t>;
};

template <class D>
concept HasParameters = requires(D& density, const typename D::execution_space& space) {
  { density.parameters() } -> std::convertible_to<Vector<typename D::scalar_type, typename D::execution_space>>;
  { density.gradients() } -> std::convertible_to<Vector<typename D::scalar_type, typename D::execution_space>>;
  density.zero_gradients(space);
};

template <class D>
concept CanEvaluate = requires(D& density, const typename D::execution_space& space,
                               const ConstMatrix<typename D::scalar_type, typename D::execution_space>& theta,
                               const ConstMatrix<typename D::scalar_type, typename D::execution_space>& x,
                               const Vector<typename D::scalar_type, typename D::execution_space>& out) {
  density.log_prob(space, theta, x, out);
  { density.nll_backward(space, theta, x) } -> std::convertible_to<double>;
};

template <class D>
concept CanSample = requires(D& density, const typename D::execution_space& space,
                             const ConstMatrix<typename D::scalar_type, typename D::execution_space>& x,
                             const Matrix<typename D::scalar_type, typename D::execution_space>& theta,
                             BatchRandom rng, std::size_t n) {
  density.sample(space, x, rng, theta);
  density.sample(space, x, n, rng, theta);
};

} // namespace conditional_density_requirements

template <class D>
concept ConditionalDensity =
    conditional_density_requirements::HasTypes<D> && conditional_density_requirements::HasShape<D> &&
    conditional_density_requirements::HasParameters<D> && conditional_density_requirements::CanEvaluate<D> &&
    conditional_density_requirements::CanSample<D>;

} // namespace osbi
