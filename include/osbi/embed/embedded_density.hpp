// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedDensity: q(θ | e_φ(x)) — a conditional density on a learned summary of x, trained jointly; models ConditionalDensity.
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/detail/nll_backward.hpp>
#include <osbi/flow/detail/standardization.hpp>
#include <osbi/flow/nestable_density.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/core/random_streams.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

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
class EmbeddedDensity {
public:
  using scalar_type = typename Density::scalar_type;
  using execution_space = typename Density::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  using embedding_type = nn::bind_t<EmbeddingSpec, Scalar, Space>;
  static_assert(nn::LayerSpec<EmbeddingSpec, Scalar, Space>,
                "osbi::EmbeddedDensity: EmbeddingSpec is not an nn::LayerSpec (see osbi/nn/layer.hpp)");

  EmbeddedDensity(std::size_t x_dim, Density density, std::uint64_t seed = 0)
      : m_embedding(check_positive(x_dim)), m_density(std::move(density)),
        m_x_mean(label("embed", "EmbeddedDensity", "x_mean"), x_dim),
        m_x_std(label("embed", "EmbeddedDensity", "x_std"), x_dim),
        m_standardized(label("embed", "EmbeddedDensity", "standardized_x"), x_dim),
        m_context(label("embed", "EmbeddedDensity", "context"), m_embedding.output_dim()),
        m_grad_context(label("embed", "EmbeddedDensity", "grad_context"), m_embedding.output_dim()),
        m_grad_standardized(label("embed", "EmbeddedDensity", "grad_standardized_x"), x_dim) {
    require_extent(m_embedding.output_dim(), m_density.context_dim(), part,
                   "the embedding's output_dim (must equal the density's context_dim)");
    const std::size_t embedding_count = m_embedding.parameter_count();
    const std::size_t total = embedding_count + static_cast<std::size_t>(m_density.parameter_count());
    m_parameters = Vector<Scalar, Space>(label("embed", "EmbeddedDensity", "parameters"), total);
    m_gradients = Vector<Scalar, Space>(label("embed", "EmbeddedDensity", "gradients"), total);
    const auto head = std::make_pair(std::size_t{0}, embedding_count), tail = std::make_pair(embedding_count, total);
    m_embedding.bind(Kokkos::subview(m_parameters, head), Kokkos::subview(m_gradients, head));
    m_density.rebind(Kokkos::subview(m_parameters, tail), Kokkos::subview(m_gradients, tail));
    const Space space;
    m_embedding.initialize(space, RandomStream(seed, streams::embedding_init).next());
    Kokkos::deep_copy(space, m_x_std, Scalar(1));
    space.fence();
  }

  std::size_t theta_dim() const { return m_density.theta_dim(); }
  std::size_t context_dim() const { return m_embedding.input_dim(); }
  std::size_t summary_dim() const { return m_embedding.output_dim(); }
  std::size_t parameter_count() const { return m_parameters.extent(0); }
  std::size_t embedding_parameter_count() const { return m_embedding.parameter_count(); }
  Vector<Scalar, Space> parameters() const { return m_parameters; }
  Vector<Scalar, Space> gradients() const { return m_gradients; }
  void zero_gradients(const Space& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }
  Density& density() { return m_density; }
  embedding_type& embedding() { return m_embedding; }

  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    require_extent(x_mean.size(), context_dim(), part, "set_standardization: x_mean's size (x_dim)");
    require_extent(x_std.size(), context_dim(), part, "set_standardization: x_std's size (x_dim)");
    auto mean = Kokkos::create_mirror_view(m_x_mean);
    auto std_dev = Kokkos::create_mirror_view(m_x_std);
    for (std::size_t j = 0; j < context_dim(); ++j) {
      require(std::isfinite(x_mean[j]) && std::isfinite(x_std[j]) && x_std[j] > 0, part, "set_standardization: x_mean[", j,
              "] = ", x_mean[j], ", x_std[", j, "] = ", x_std[j], " (need finite values and std > 0)");
      mean(j) = static_cast<Scalar>(x_mean[j]);
      std_dev(j) = static_cast<Scalar>(x_std[j]);
    }
    Kokkos::deep_copy(m_x_mean, mean);
    Kokkos::deep_copy(m_x_std, std_dev);
    m_density.set_standardization(theta_mean, theta_std, std::vector<double>(summary_dim(), 0.0),
                                  std::vector<double>(summary_dim(), 1.0));
  }

  /// The summaries e_φ(x) of a batch (a view valid until the next call).
  ConstMatrix<Scalar, Space> summarize(const Space& space, const ConstMatrix<Scalar, Space>& x) {
    require_extent(x.extent(1), context_dim(), part, "x's column count (x_dim)");
    const std::size_t rows = x.extent(0);
    const Matrix<Scalar, Space> z = m_standardized.rows(rows);
    detail::flow_z_score<Scalar, Space>(space, "osbi::embed::EmbeddedDensity::standardize", x, m_x_mean, m_x_std, false, z);
    const Matrix<Scalar, Space> context = m_context.rows(rows);
    m_embedding.forward(space, z, context);
    return context;
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                const Vector<Scalar, Space>& out) {
    require_extent(x.extent(0), theta.extent(0), part, "log_prob: x's row count (theta's)");
    m_density.log_prob(space, theta, summarize(space, x), out);
  }

  /// L = (1/N) Σ_i w_i·(−log q(θ_i | x_i)) (estimator/conditional_density.hpp): ∂L/∂(φ, ψ) ADDED to gradients();
  /// grad_theta (N × theta_dim) and grad_x (N × x_dim) OVERWRITTEN with ∂L/∂θ and ∂L/∂x, each skipped when empty.
  double nll_backward(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                      const ConstVector<Scalar, Space>& weights, const Matrix<Scalar, Space>& grad_theta,
                      const Matrix<Scalar, Space>& grad_x) {
    detail::check_nll_backward(part, theta_dim(), context_dim(), theta, x, weights, grad_theta, grad_x);
    const std::size_t rows = x.extent(0);
    const auto context = summarize(space, x);
    const Matrix<Scalar, Space> grad_context = m_grad_context.rows(rows);
    const double loss = m_density.nll_backward(space, theta, context, weights, grad_theta, grad_context);
    if (grad_x.data() == nullptr) {
      m_embedding.backward(space, grad_context, Matrix<Scalar, Space>());
      return loss;
    }
    // z = (x − x_mean) / x_std: ∂L/∂x = ∂L/∂z / x_std.
    const Matrix<Scalar, Space> grad_standardized = m_grad_standardized.rows(rows);
    m_embedding.backward(space, grad_context, grad_standardized);
    const ConstVector<Scalar, Space> deviation = m_x_std;
    const ConstMatrix<Scalar, Space> upstream = grad_standardized;
    Kokkos::parallel_for(
        "osbi::embed::EmbeddedDensity::x_backward",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {rows, context_dim()}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { grad_x(i, j) = upstream(i, j) / deviation(j); });
    return loss;
  }

  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x, BatchRandom rng, const Matrix<Scalar, Space>& theta) {
    m_density.sample(space, summarize(space, x), rng, theta);
  }

  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x_one, std::size_t n, BatchRandom rng,
              const Matrix<Scalar, Space>& theta) {
    require_extent(x_one.extent(0), 1, part, "sample: x_one's row count (one observation)");
    m_density.sample(space, summarize(space, x_one), n, rng, theta);
  }

private:
  static constexpr const char* part = "osbi::EmbeddedDensity";
  static std::size_t check_positive(std::size_t x_dim) {
    require(x_dim > 0, part, "x_dim must be > 0");
    return x_dim;
  }

  embedding_type m_embedding;
  Density m_density;
  Vector<Scalar, Space> m_parameters, m_gradients;
  Vector<Scalar, Space> m_x_mean, m_x_std;
  nn::detail::BatchBuffer<Scalar, Space> m_standardized, m_context, m_grad_context, m_grad_standardized;
};

} // namespace osbi
