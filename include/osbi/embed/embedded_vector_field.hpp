// SPDX-License-Identifier: BSD-3-Clause
/// \brief EmbeddedVectorField: a flow-matching or score-diffusion estimator on a learned summary e_φ(x), trained jointly.
#pragma once

#include <osbi/embed/detail/embedded_model.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/estimator/log_prob_estimator.hpp>
#include <osbi/estimator/score_model.hpp>
#include <osbi/estimator/velocity_model.hpp>
#include <osbi/train/parameter_average.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi {

namespace embeddable_vector_field_requirements {

template <class F>
using ScalarMatrix = Matrix<typename F::scalar_type, typename F::execution_space>;
template <class F>
using ScalarConstMatrix = ConstMatrix<typename F::scalar_type, typename F::execution_space>;
template <class F>
using ScalarVector = Vector<typename F::scalar_type, typename F::execution_space>;

/// The loss of a velocity or score model, with the x gradient as an extra output (the 8th argument).
template <class F>
concept HasContextGradient = requires(F& field, const typename F::execution_space& space, const ScalarConstMatrix<F>& rows,
                                      const ConstVector<typename F::scalar_type, typename F::execution_space>& weights,
                                      BatchRandom rng, const ScalarVector<F>& row_values, const ScalarMatrix<F>& grad_x) {
  requires(VelocityModel<F> &&
           requires { field.flow_matching_loss(space, rows, rows, weights, rng, row_values, LossPass::gradient, grad_x); }) ||
              (ScoreModel<F> &&
               requires { field.score_matching_loss(space, rows, rows, weights, rng, row_values, LossPass::gradient, grad_x); });
};

template <class F>
concept Nestable = requires(F& field, const ScalarVector<F>& buffer, const std::vector<double>& values) {
  { field.parameter_count() } -> std::convertible_to<std::size_t>;
  field.rebind(buffer, buffer);
  field.set_standardization(values, values, values, values);
};

} // namespace embeddable_vector_field_requirements

/*
 * EmbeddableVectorField — what EmbeddedVectorField needs of the estimator it wraps (spec): a VelocityModel or a
 * ScoreModel whose loss takes an 8th argument grad_x (N × context_dim, OVERWRITTEN with the loss's x gradient under
 * LossPass::gradient), that lives in a slice of a larger buffer (parameter_count, rebind(parameters, gradients):
 * values preserved) and whose z-scoring the owner sets (set_standardization; the owner sets the context's to the
 * identity). VectorFieldEstimator (vector_field/vector_field_estimator.hpp) models it.
 */
template <class F>
concept EmbeddableVectorField = Estimator<F> && embeddable_vector_field_requirements::HasContextGradient<F> &&
                                embeddable_vector_field_requirements::Nestable<F>;

/*
 * EmbeddedVectorField<EmbeddingSpec, Field> — FMPE or NPSE for high-dimensional observations (sbi's `embedding_net`
 * for its vector field estimators): the embedding e_φ (any nn::LayerSpec) summarizes the z-scored x into the
 * field's context, and φ is trained with the field by the field's own loss (flow matching or denoising score
 * matching: each is offered exactly when the field offers it, so DefaultLoss picks the same loss). Models Estimator,
 * VelocityModel or ScoreModel, Standardizable, DataInitializable (the field's Gaussian baseline is fitted on the
 * initial summaries) and LogProbEstimator when the field does.
 *
 *   parameters() = [φ (embedding) | the field's own layout], one buffer; context_dim() is x's dimension.
 *
 * One host thread uses the object at a time.
 */
template <class EmbeddingSpec, EmbeddableVectorField Field>
class EmbeddedVectorField : public detail::EmbeddedModel<EmbeddingSpec, Field> {
  using Base = detail::EmbeddedModel<EmbeddingSpec, Field>;

public:
  using typename Base::execution_space;
  using typename Base::scalar_type;
  using Scalar = scalar_type;
  using Space = execution_space;
  using field_type = Field;
  static constexpr auto kind = Field::kind;
  /// The field's moving-average default for train() (train/parameter_average.hpp): the embedding trains by its loss.
  static constexpr double default_parameter_average_decay = osbi::default_parameter_average_decay<Field>();

  EmbeddedVectorField(std::size_t x_dim, Field field, std::uint64_t seed = 0) : Base(part, x_dim, std::move(field), seed) {}

  Field& field() { return this->m_inner; }

  /// The field's data initialization (its conditional Gaussian baseline) on the current summaries of x.
  std::size_t initialize_from_data(const Space& space, const ConstMatrix<Scalar, Space>& theta,
                                   const ConstMatrix<Scalar, Space>& x)
    requires requires(Field& field, const Space& on, const ConstMatrix<Scalar, Space>& rows) { field.initialize_from_data(on, rows, rows); }
  {
    require_extent(x.extent(0), theta.extent(0), part, "initialize_from_data: x's row count (theta's)");
    return this->m_inner.initialize_from_data(space, theta, this->summarize(space, x));
  }

  /// The field's flow matching loss on (θ, e_φ(x)); with LossPass::gradient ∂/∂(φ, field) ACCUMULATED into
  /// gradients() and grad_x (N × x_dim, skipped when empty) OVERWRITTEN with ∂/∂x.
  double flow_matching_loss(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                            const ConstVector<Scalar, Space>& weights, BatchRandom rng,
                            const Vector<Scalar, Space>& row_values, LossPass pass,
                            const Matrix<Scalar, Space>& grad_x = Matrix<Scalar, Space>())
    requires VelocityModel<Field>
  {
    return through_embedding(space, x, pass, grad_x, [&](const ConstMatrix<Scalar, Space>& summary, const Matrix<Scalar, Space>& grad) {
      return this->m_inner.flow_matching_loss(space, theta, summary, weights, rng, row_values, pass, grad);
    });
  }

  /// The field's denoising score matching loss on (θ, e_φ(x)); otherwise as flow_matching_loss.
  double score_matching_loss(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                             const ConstVector<Scalar, Space>& weights, BatchRandom rng,
                             const Vector<Scalar, Space>& row_values, LossPass pass,
                             const Matrix<Scalar, Space>& grad_x = Matrix<Scalar, Space>())
    requires ScoreModel<Field>
  {
    return through_embedding(space, x, pass, grad_x, [&](const ConstMatrix<Scalar, Space>& summary, const Matrix<Scalar, Space>& grad) {
      return this->m_inner.score_matching_loss(space, theta, summary, weights, rng, row_values, pass, grad);
    });
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                const Vector<Scalar, Space>& out)
    requires LogProbEstimator<Field>
  {
    this->inner_log_prob(space, theta, x, out);
  }

private:
  static constexpr const char* part = "osbi::EmbeddedVectorField";

  template <class Loss>
  double through_embedding(const Space& space, const ConstMatrix<Scalar, Space>& x, LossPass pass,
                           const Matrix<Scalar, Space>& grad_x, const Loss& loss) {
    require_extent(x.extent(1), this->context_dim(), part, "x's column count (x_dim)");
    if (grad_x.data()) {
      require(pass == LossPass::gradient, part, "grad_x needs LossPass::gradient");
      require_extent(grad_x.extent(0), x.extent(0), part, "grad_x's row count (x's)");
      require_extent(grad_x.extent(1), this->context_dim(), part, "grad_x's column count (x_dim)");
    }
    const auto summary = this->summarize(space, x);
    if (pass != LossPass::gradient) return loss(summary, Matrix<Scalar, Space>());
    const Matrix<Scalar, Space> grad_summary = this->m_front.grad_summary(x.extent(0));
    const double value = loss(summary, grad_summary);
    this->m_front.backward(space, grad_summary, grad_x);
    return value;
  }
};

} // namespace osbi
