// SPDX-License-Identifier: BSD-3-Clause
/// \brief ObservationEmbedding: the learned summary e_φ((x − x_mean)/x_std) in front of an estimator, with its backward
/// pass — the part EmbeddedDensity and EmbeddedVectorField share.
#pragma once

#include <osbi/flow/detail/standardization.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace osbi::detail {

/*
 * ObservationEmbedding<EmbeddingSpec, Scalar, Space> — z-scores x with fixed statistics (set_x_standardization;
 * the identity until then) and runs the embedding network (any nn::LayerSpec). An embedding that standardizes
 * its own input (nn::StandardizesInput: a set embedding) receives the statistics instead and sees x unscaled. The owner binds the embedding's
 * parameters to the head of its own flat buffer (bind), then initialize(seed). summarize() keeps what backward()
 * needs; backward(grad_summary, grad_x) ACCUMULATES φ's gradient and OVERWRITES grad_x (skipped when empty).
 */
template <class EmbeddingSpec, class Scalar, class Space>
class ObservationEmbedding {
public:
  using embedding_type = nn::bind_t<EmbeddingSpec, Scalar, Space>;
  static_assert(nn::LayerSpec<EmbeddingSpec, Scalar, Space>,
                "osbi: the embedding is not an nn::LayerSpec (see osbi/nn/layer.hpp)");

  ObservationEmbedding(const char* owner, std::size_t x_dim)
      : m_owner(owner), m_embedding(check_positive(owner, x_dim)), m_x_mean(label("embed", "ObservationEmbedding", "x_mean"), x_dim),
        m_x_std(label("embed", "ObservationEmbedding", "x_std"), x_dim), m_standardized(label("embed", "ObservationEmbedding", "standardized_x"), x_dim),
        m_summary(label("embed", "ObservationEmbedding", "summary"), m_embedding.output_dim()),
        m_grad_summary(label("embed", "ObservationEmbedding", "grad_summary"), m_embedding.output_dim()),
        m_grad_standardized(label("embed", "ObservationEmbedding", "grad_standardized_x"), x_dim) {
    Kokkos::deep_copy(m_x_std, Scalar(1));
  }

  std::size_t x_dim() const { return m_embedding.input_dim(); }
  std::size_t summary_dim() const { return m_embedding.output_dim(); }
  std::size_t parameter_count() const { return m_embedding.parameter_count(); }
  embedding_type& embedding() { return m_embedding; }

  void bind(const Vector<Scalar, Space>& parameters, const Vector<Scalar, Space>& gradients) {
    m_embedding.bind(parameters, gradients);
  }
  void initialize(const Space& space, std::uint64_t seed) {
    m_embedding.initialize(space, RandomStream(seed, streams::embedding_init).next());
    space.fence();
  }

  void set_x_standardization(const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    require_extent(x_mean.size(), x_dim(), m_owner, "set_standardization: x_mean's size (x_dim)");
    require_extent(x_std.size(), x_dim(), m_owner, "set_standardization: x_std's size (x_dim)");
    if constexpr (nn::StandardizesInput<embedding_type>) {
      // The embedding z-scores x its own way (a set embedding: per trial feature); x reaches it unscaled.
      m_embedding.set_input_standardization(x_mean, x_std);
      return;
    }
    auto mean = Kokkos::create_mirror_view(m_x_mean);
    auto std_dev = Kokkos::create_mirror_view(m_x_std);
    for (std::size_t j = 0; j < x_dim(); ++j) {
      require(std::isfinite(x_mean[j]) && std::isfinite(x_std[j]) && x_std[j] > 0, m_owner, "set_standardization: x_mean[",
              j, "] = ", x_mean[j], ", x_std[", j, "] = ", x_std[j], " (need finite values and std > 0)");
      mean(j) = static_cast<Scalar>(x_mean[j]);
      std_dev(j) = static_cast<Scalar>(x_std[j]);
    }
    Kokkos::deep_copy(m_x_mean, mean);
    Kokkos::deep_copy(m_x_std, std_dev);
  }

  /// The summaries e_φ(x) of a batch (a view valid until the next call).
  ConstMatrix<Scalar, Space> summarize(const Space& space, const ConstMatrix<Scalar, Space>& x) {
    require_extent(x.extent(1), x_dim(), m_owner, "x's column count (x_dim)");
    const std::size_t rows = x.extent(0);
    const Matrix<Scalar, Space> z = m_standardized.rows(rows);
    flow_z_score<Scalar, Space>(space, "osbi::embed::ObservationEmbedding::standardize", x, m_x_mean, m_x_std, false, z);
    const Matrix<Scalar, Space> summary = m_summary.rows(rows);
    m_embedding.forward(space, z, summary);
    return summary;
  }

  /// Scratch for the owner's ∂L/∂summary of `rows` rows (valid until the next call).
  Matrix<Scalar, Space> grad_summary(std::size_t rows) { return m_grad_summary.rows(rows); }

  /// Backward of the last summarize(): φ's gradient ACCUMULATED, grad_x OVERWRITTEN with ∂L/∂x (skipped when empty).
  void backward(const Space& space, const ConstMatrix<Scalar, Space>& grad_summary, const Matrix<Scalar, Space>& grad_x) {
    if (grad_x.data() == nullptr) {
      m_embedding.backward(space, grad_summary, Matrix<Scalar, Space>());
      return;
    }
    // z = (x − x_mean) / x_std: ∂L/∂x = ∂L/∂z / x_std.
    const std::size_t rows = grad_summary.extent(0);
    const Matrix<Scalar, Space> grad_standardized = m_grad_standardized.rows(rows);
    m_embedding.backward(space, grad_summary, grad_standardized);
    const ConstVector<Scalar, Space> deviation = m_x_std;
    const ConstMatrix<Scalar, Space> upstream = grad_standardized;
    Kokkos::parallel_for(
        "osbi::embed::ObservationEmbedding::x_backward",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {rows, x_dim()}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { grad_x(i, j) = upstream(i, j) / deviation(j); });
  }

private:
  static std::size_t check_positive(const char* owner, std::size_t x_dim) {
    require(x_dim > 0, owner, "x_dim must be > 0");
    return x_dim;
  }

  const char* m_owner;
  embedding_type m_embedding;
  Vector<Scalar, Space> m_x_mean, m_x_std;
  nn::detail::BatchBuffer<Scalar, Space> m_standardized, m_summary, m_grad_summary, m_grad_standardized;
};

} // namespace osbi::detail
