// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedDensity: q(θ | e_φ(x)) — a conditional density on a learned summary of x, trained jointly; models ConditionalDensity.
#pragma once

#include <osbi/embed/detail/embedded_model.hpp>
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/detail/nll_backward.hpp>
#include <osbi/flow/nestable_density.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace osbi {

/// What EmbeddedDensity needs of the density it wraps: a NestableDensity (flow/nestable_density.hpp) — a slice of a
/// larger parameter buffer, its θ z-scoring set by the owner (the context's to the identity), and (as every
/// ConditionalDensity) the weighted NLL's gradient with respect to the context.
template <class D>
concept EmbeddableDensity = NestableDensity<D>;

/*
 * EmbeddedDensity<EmbeddingSpec, Density> — the posterior estimator for high-dimensional observations
 * (sbi's `embedding_net`): an embedding network e_φ (any nn::LayerSpec, e.g. an MLP or a convolution
 * stack) summarizes the z-scored observation into context_dim numbers, and the density models
 * q_ψ(θ | e_φ((x − x_mean)/x_std)). φ and ψ are trained together: nll_backward runs the density's
 * (weighted) backward to the context, then the embedding's backward (to x too when grad_x is asked for).
 *
 *   parameters() = [φ (embedding, the layer's own layout) | ψ (the density's layout)], one buffer.
 *   context_dim() is x's dimension; theta_dim() the density's.
 *   set_standardization(θ_mean, θ_std, x_mean, x_std): x is z-scored before the embedding; θ's
 *   statistics go to the density, whose own context standardization is the identity (the embedding
 *   learns its output scale).
 *
 * The density's parameters are moved into the shared buffer at construction (rebind). The embedding is
 * initialized from `seed`. One host thread uses the object at a time.
 */
template <class EmbeddingSpec, EmbeddableDensity Density>
class EmbeddedDensity : public detail::EmbeddedModel<EmbeddingSpec, Density> {
  using Base = detail::EmbeddedModel<EmbeddingSpec, Density>;

public:
  using typename Base::execution_space;
  using typename Base::scalar_type;
  using Scalar = scalar_type;
  using Space = execution_space;

  EmbeddedDensity(std::size_t x_dim, Density density, std::uint64_t seed = 0)
      : Base(part, x_dim, std::move(density), seed) {}

  Density& density() { return this->m_inner; }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                const Vector<Scalar, Space>& out) {
    this->inner_log_prob(space, theta, x, out);
  }

  /// L = (1/N) Σ_i w_i·(−log q(θ_i | x_i)) (estimator/conditional_density.hpp): ∂L/∂(φ, ψ) ADDED to gradients();
  /// grad_theta (N × theta_dim) and grad_x (N × x_dim) OVERWRITTEN with ∂L/∂θ and ∂L/∂x, each skipped when empty.
  double nll_backward(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                      const ConstVector<Scalar, Space>& weights, const Matrix<Scalar, Space>& grad_theta,
                      const Matrix<Scalar, Space>& grad_x) {
    detail::check_nll_backward(part, this->theta_dim(), this->context_dim(), theta, x, weights, grad_theta, grad_x);
    const auto summary = this->summarize(space, x);
    const Matrix<Scalar, Space> grad_summary = this->m_front.grad_summary(x.extent(0));
    const double loss = this->m_inner.nll_backward(space, theta, summary, weights, grad_theta, grad_summary);
    this->m_front.backward(space, grad_summary, grad_x);
    return loss;
  }

private:
  static constexpr const char* part = "osbi::EmbeddedDensity";
};

} // namespace osbi
