// SPDX-License-Identifier: BSD-3-Clause
/// \brief NllLoss: maximum likelihood, −(1/N) Σ w_i log q(θ_i | x_i) — NPE's loss; models Loss for every ConditionalDensity.
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace osbi {

/*
 * NllLoss — L = (1/N) Σ_i w_i · (−log q(θ_i | x_i)), with w_i = 1 when the batch has no weights: the plain
 * mean NLL (Papamakarios & Murray 2016; sbi's NPE), bit for bit what the density's unweighted backward gives.
 * With weights it is the mean of the weighted terms (not self-normalized: prioritized replay's corrections
 * are already normalized per batch; for importance weights that must be, use WeightedNllLoss).
 *
 * Why plain NLL stays right for samples from a proposal other than the prior only under conditions: it fits
 * q(θ | x) ∝ p̃(θ) p(x | θ) for the proposal p̃, so it is the posterior exactly where the proposal equals the
 * prior up to a constant on the posterior's support (a truncated prior, TSNPE); otherwise use an importance-
 * weighted loss or APT.
 *
 *   value_and_gradient   density.nll_backward with the batch's weights; rng unused.
 *   value                the same sum from log_prob (no gradients), accumulated in double.
 *   per_row              out(i) = −log q(θ_i | x_i) (unweighted).
 */
struct NllLoss {
  static constexpr const char* part = "osbi::NllLoss";

  template <ConditionalDensity Density>
  double value_and_gradient(Density& density, const typename Density::execution_space& space,
                            const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
                            BatchRandom) const {
    using Scalar = typename Density::scalar_type;
    using Space = typename Density::execution_space;
    check_batch(batch, density.theta_dim(), density.context_dim(), part);
    return density.nll_backward(space, batch.theta, batch.x, batch.weights, Matrix<Scalar, Space>(), Matrix<Scalar, Space>());
  }

  template <ConditionalDensity Density>
  double value(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
               BatchRandom) const {
    using Scalar = typename Density::scalar_type;
    using Space = typename Density::execution_space;
    check_batch(batch, density.theta_dim(), density.context_dim(), part);
    const std::size_t n = batch.rows();
    require(n > 0, part, "value: the batch is empty (the mean of no rows is undefined)");
    const Vector<Scalar, Space> log_prob(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "NllLoss", "log_prob")), n);
    density.log_prob(space, batch.theta, batch.x, log_prob);
    const ConstVector<Scalar, Space> weights = batch.weights;
    const bool weighted = batch.weighted();
    double sum = 0;
    Kokkos::parallel_reduce(
        "osbi::loss::NllLoss::value", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& total) {
          const double term = static_cast<double>(log_prob(i));
          total -= weighted ? static_cast<double>(weights(i)) * term : term;
        },
        sum);
    return sum / static_cast<double>(n);
  }

  template <ConditionalDensity Density>
  void per_row(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch, BatchRandom,
               const Vector<typename Density::scalar_type, typename Density::execution_space>& out) const {
    check_batch(batch, density.theta_dim(), density.context_dim(), part);
    require_extent(out.extent(0), batch.rows(), part, "per_row: out's size (the batch's row count)");
    density.log_prob(space, batch.theta, batch.x, out);
    Kokkos::parallel_for(
        "osbi::loss::NllLoss::negate", Kokkos::RangePolicy<typename Density::execution_space>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) { out(i) = -out(i); });
  }
};

} // namespace osbi
