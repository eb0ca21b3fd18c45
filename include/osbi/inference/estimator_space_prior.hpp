// SPDX-License-Identifier: BSD-3-Clause
/// \brief EstimatorSpacePrior: a prior's log density in the coordinates a Posterior's estimator models (u = T⁻¹θ for a
/// bounded support), on the estimator's execution space — what AtomicAptLoss contrasts against.
#pragma once

#include <osbi/flow/support_transform.hpp>
#include <osbi/inference/posterior.hpp>
#include <osbi/prior/prior.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <optional>
#include <utility>

namespace osbi {

/*
 * EstimatorSpacePrior<Prior, Scalar, Space> — log p_u(u) = log p(T(u)) + log|dT/du| where the Posterior transforms a
 * bounded support (BoundedSupport::transform), log p(u) itself where it does not (an unbounded prior, or `reject`).
 * The prior may live on another execution space (the simulation workers' Serial while training runs on OpenMP or
 * CUDA): θ goes there and log p comes back by deep copies. It must share the estimator's scalar type.
 *
 *   dim()                       the prior's dimension.
 *   log_prob(space, u, out)     out(i) = log p_u(u_i); −∞ where p is 0, NaN rows NaN.
 *
 * Build it with estimator_space_prior(posterior, prior) before the Posterior moves into a pipeline (the transform is
 * copied; the two share nothing that changes).
 */
template <Prior PriorType, class Scalar, class Space>
class EstimatorSpacePrior {
public:
  using scalar_type = Scalar;
  using execution_space = Space;
  static constexpr const char* part = "osbi::EstimatorSpacePrior";
  static_assert(std::is_same_v<typename PriorType::scalar_type, Scalar>,
                "EstimatorSpacePrior: the prior's scalar_type must be the estimator's");

  /// transform: the Posterior's bijection, or nullopt where the estimator models θ itself.
  EstimatorSpacePrior(PriorType prior, std::optional<SupportTransform<Scalar, Space>> transform)
      : m_prior(std::move(prior)), m_transform(std::move(transform)) {
    if (m_transform) require_extent(m_transform->dim(), m_prior.dim(), part, "the support transform's dimension (the prior's)");
  }

  std::size_t dim() const { return m_prior.dim(); }
  const PriorType& prior() const { return m_prior; }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& u, const Vector<Scalar, Space>& out) const {
    using PriorSpace = typename PriorType::execution_space;
    require_extent(u.extent(1), dim(), part, "log_prob: u's column count");
    require_extent(out.extent(0), u.extent(0), part, "log_prob: out's length (u's row count)");
    const std::size_t n = u.extent(0);
    Matrix<Scalar, Space> theta(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("inference", "EstimatorSpacePrior", "theta")), n, dim());
    Vector<Scalar, Space> log_det(label("inference", "EstimatorSpacePrior", "log_det"), n);
    if (m_transform && !m_transform->is_identity())
      m_transform->to_support(space, u, theta, log_det); // log_det += log|dθ/du|
    else
      Kokkos::deep_copy(space, theta, u);
    space.fence();
    // On the prior's space (a copy only where the memory spaces differ).
    Matrix<Scalar, PriorSpace> theta_there(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("inference", "EstimatorSpacePrior", "theta_there")), n, dim());
    Vector<Scalar, PriorSpace> log_p_there(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("inference", "EstimatorSpacePrior", "log_p_there")), n);
    Kokkos::deep_copy(theta_there, theta);
    const PriorSpace prior_space;
    m_prior.log_prob(prior_space, theta_there, log_p_there);
    prior_space.fence();
    Kokkos::deep_copy(out, log_p_there);
    const ConstVector<Scalar, Space> jacobian = log_det;
    Kokkos::parallel_for(
        "osbi::inference::EstimatorSpacePrior::jacobian", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i) { out(i) += jacobian(i); });
  }

private:
  PriorType m_prior;
  std::optional<SupportTransform<Scalar, Space>> m_transform;
};

/// The prior as the Posterior's estimator sees it (see EstimatorSpacePrior).
template <class EstimatorType, Prior PriorType>
EstimatorSpacePrior<PriorType, typename EstimatorType::scalar_type, typename EstimatorType::execution_space>
estimator_space_prior(const Posterior<EstimatorType>& posterior, PriorType prior) {
  using Transform = SupportTransform<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>;
  std::optional<Transform> transform;
  if (!posterior.rejecting()) transform = posterior.support_transform();
  return {std::move(prior), std::move(transform)};
}

} // namespace osbi
