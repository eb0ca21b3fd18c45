// SPDX-License-Identifier: BSD-3-Clause
/// \brief WeightedNllLoss: self-normalized importance-weighted NLL, Σ w_i·(−log q_i) / Σ w_i; models Loss for every ConditionalDensity.
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>

namespace osbi {

/*
 * WeightedNllLoss — L = Σ_i w_i·(−log q(θ_i | x_i)) / Σ_i w_i over the batch: the self-normalized importance-
 * sampling estimate of E_p[−log q] when θ_i was drawn from q̄ and w_i ∝ p(θ_i)/q̄(θ_i) (the weights a data
 * source puts in the batch). Self-normalizing makes the estimate independent of the weights' scale, at the
 * price of a O(1/N) bias. The weights must be finite and >= 0 with a positive sum (InvalidArgument naming the
 * loss otherwise); without weights this is NllLoss exactly.
 *
 * effective_sample_size() is (Σ w)² / Σ w² of the last batch trained on (N for equal weights): how many equally
 * weighted rows the batch is worth — log it, since a few dominant weights make the gradient noisy.
 */
class WeightedNllLoss {
public:
  static constexpr const char* part = "osbi::WeightedNllLoss";

  template <ConditionalDensity Density>
  double value_and_gradient(Density& density, const typename Density::execution_space& space,
                            const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
                            BatchRandom rng) {
    using Scalar = typename Density::scalar_type;
    using Space = typename Density::execution_space;
    check_batch(batch, density.theta_dim(), density.context_dim(), part);
    if (!batch.weighted()) {
      m_effective_sample_size = static_cast<double>(batch.rows());
      return NllLoss().value_and_gradient(density, space, batch, rng);
    }
    // The density's backward takes (1/N) Σ v_i ℓ_i: v_i = N·w_i / Σ w gives Σ w_i ℓ_i / Σ w.
    const std::size_t n = batch.rows();
    const WeightSums sums = checked_weight_sums(space, batch.weights, part);
    const Vector<Scalar, Space> scaled(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "WeightedNllLoss", "scaled")), n);
    const ConstVector<Scalar, Space> weights = batch.weights;
    const double factor = static_cast<double>(n) / sums.sum;
    Kokkos::parallel_for(
        "osbi::loss::WeightedNllLoss::normalize", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i) { scaled(i) = static_cast<Scalar>(static_cast<double>(weights(i)) * factor); });
    m_effective_sample_size = sums.sum * sums.sum / sums.sum_of_squares;
    return density.nll_backward(space, batch.theta, batch.x, scaled, Matrix<Scalar, Space>(), Matrix<Scalar, Space>());
  }

  template <ConditionalDensity Density>
  double value(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
               BatchRandom rng) const {
    const double mean = NllLoss().value(density, space, batch, rng); // (1/N) Σ w ℓ
    if (!batch.weighted()) return mean;
    return mean * static_cast<double>(batch.rows()) / checked_weight_sums(space, batch.weights, part).sum;
  }

  template <ConditionalDensity Density>
  void per_row(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
               BatchRandom rng, const Vector<typename Density::scalar_type, typename Density::execution_space>& out) const {
    NllLoss().per_row(density, space, batch, rng, out);
  }

  /// (Σ w)² / Σ w² of the last batch value_and_gradient saw (0 before the first).
  double effective_sample_size() const { return m_effective_sample_size; }

private:
  double m_effective_sample_size = 0;
};

} // namespace osbi
