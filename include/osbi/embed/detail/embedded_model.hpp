// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedModel: an estimator behind a jointly trained ObservationEmbedding in one parameter buffer — the
/// plumbing EmbeddedDensity and EmbeddedVectorField share (each adds its own loss pass).
#pragma once

#include <osbi/embed/detail/observation_embedding.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi::detail {

/*
 * EmbeddedModel<EmbeddingSpec, Inner> — parameters() = [φ (the embedding) | the inner model's own layout]: the
 * inner model (anything with parameter_count, rebind, set_standardization, context_dim, sample) is moved into
 * the tail at construction; the embedding is initialized from `seed`. x is z-scored before the embedding; θ's
 * statistics go to the inner model, whose context z-scoring is the identity (the embedding learns its scale).
 */
template <class EmbeddingSpec, class Inner>
class EmbeddedModel {
public:
  using scalar_type = typename Inner::scalar_type;
  using execution_space = typename Inner::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  using embedding_type = typename ObservationEmbedding<EmbeddingSpec, Scalar, Space>::embedding_type;

  EmbeddedModel(const char* part, std::size_t x_dim, Inner inner, std::uint64_t seed)
      : m_part(part), m_front(part, x_dim), m_inner(std::move(inner)) {
    require_extent(m_front.summary_dim(), m_inner.context_dim(), part,
                   "the embedding's output_dim (must equal the wrapped model's context_dim)");
    const std::size_t embedding_count = m_front.parameter_count();
    const std::size_t total = embedding_count + static_cast<std::size_t>(m_inner.parameter_count());
    m_parameters = Vector<Scalar, Space>(label("embed", "EmbeddedModel", "parameters"), total);
    m_gradients = Vector<Scalar, Space>(label("embed", "EmbeddedModel", "gradients"), total);
    const auto head = std::make_pair(std::size_t{0}, embedding_count), tail = std::make_pair(embedding_count, total);
    m_front.bind(Kokkos::subview(m_parameters, head), Kokkos::subview(m_gradients, head));
    m_inner.rebind(Kokkos::subview(m_parameters, tail), Kokkos::subview(m_gradients, tail));
    m_front.initialize(Space(), seed);
  }

  std::size_t theta_dim() const { return m_inner.theta_dim(); }
  std::size_t context_dim() const { return m_front.x_dim(); }
  std::size_t summary_dim() const { return m_front.summary_dim(); }
  std::size_t parameter_count() const { return m_parameters.extent(0); }
  std::size_t embedding_parameter_count() const { return m_front.parameter_count(); }
  Vector<Scalar, Space> parameters() const { return m_parameters; }
  Vector<Scalar, Space> gradients() const { return m_gradients; }
  void zero_gradients(const Space& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }
  embedding_type& embedding() { return m_front.embedding(); }

  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    m_front.set_x_standardization(x_mean, x_std);
    m_inner.set_standardization(theta_mean, theta_std, std::vector<double>(summary_dim(), 0.0),
                                std::vector<double>(summary_dim(), 1.0));
  }

  /// The summaries e_φ(x) of a batch (a view valid until the next call).
  ConstMatrix<Scalar, Space> summarize(const Space& space, const ConstMatrix<Scalar, Space>& x) {
    return m_front.summarize(space, x);
  }

  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x, BatchRandom rng, const Matrix<Scalar, Space>& theta) {
    m_inner.sample(space, summarize(space, x), rng, theta);
  }

  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x_one, std::size_t n, BatchRandom rng,
              const Matrix<Scalar, Space>& theta) {
    require_extent(x_one.extent(0), 1, m_part, "sample: x_one's row count (one observation)");
    m_inner.sample(space, summarize(space, x_one), n, rng, theta);
  }

protected:
  /// log q(θ | e_φ(x)) through the inner model's log_prob.
  void inner_log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                      const Vector<Scalar, Space>& out) {
    require_extent(x.extent(0), theta.extent(0), m_part, "log_prob: x's row count (theta's)");
    m_inner.log_prob(space, theta, summarize(space, x), out);
  }

  const char* m_part;
  ObservationEmbedding<EmbeddingSpec, Scalar, Space> m_front;
  Inner m_inner;
  Vector<Scalar, Space> m_parameters, m_gradients;
};

} // namespace osbi::detail
