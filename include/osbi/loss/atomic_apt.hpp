// SPDX-License-Identifier: BSD-3-Clause
/// \brief AtomicAptLoss: APT / SNPE-C with atomic proposals (Greenberg et al. 2019) — a ConditionalDensity's loss that
/// recovers the posterior from samples of any proposal, contrasting each row's θ with atoms from the batch.
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace osbi {

/// What AtomicAptLoss needs of the prior: log p(u) in the ESTIMATOR's coordinates, on the estimator's space — a
/// Prior on that space with an unbounded support, or EstimatorSpacePrior (osbi/inference/estimator_space_prior.hpp),
/// which maps a bounded prior through the Posterior's support transform.
template <class P, class Scalar, class Space>
concept PriorDensityOn = requires(const P& prior, const Space& space, const ConstMatrix<Scalar, Space>& u,
                                  const Vector<Scalar, Space>& out) {
  { prior.dim() } -> std::convertible_to<std::size_t>;
  prior.log_prob(space, u, out);
};

/*
 * AtomicAptLoss<PriorDensity> — automatic posterior transformation with atomic proposals (SNPE-C; Greenberg, Nonnenmacher
 * & Macke 2019, the loss sbi's SNPE_C trains by after its first round). For row i of a batch of N, the atoms are θ_i
 * and M − 1 other rows' θ drawn without replacement (M = min(atoms, N)); with logits ℓ_ik = log q(θ_ik | x_i) −
 * log p(θ_ik), the row's loss is
 *
 *   L_i = −ℓ_i0 + log Σ_k exp ℓ_ik                   (−log of the "proposal posterior" over the atoms)
 *
 * and the batch's L = Σ c_i L_i with c_i = 1/N, or w_i / Σ w with the batch's weights. Minimized by q = p(θ | x)
 * whatever proposal drew θ (Greenberg et al., Prop. 1): the proposal's density is never needed, so APT fits samples
 * of TSNPE, loss-driven and bandit proposals and of earlier posteriors alike, where plain NLL would fit the proposal's
 * posterior. Rows drawn from the prior are no special case. x is contrasted only within the batch: small batches
 * give few distinct atoms (sbi's default is 10 atoms; batches of 50+ rows).
 *
 * Gradient: ∂L/∂log q(θ_ik | x_i) = c_i (s_ik − δ_k0), s_i = softmax(ℓ_i), passed to the density's weighted backward
 * pass on the N·M expanded rows (θ_ik, x_i) (the ConditionalDensity spec's "general vector–Jacobian product"). Cost:
 * two passes over N·M rows (forward for the logits, then forward + backward): 1–2·M times NLL's (15× measured at M = 10).
 *
 *   rng          draws the atoms: row i's from rng.row(i) (so value and value_and_gradient agree for the same rng).
 *   per_row      out(i) = L_i.
 *   validation   the same loss on the validation rows (atoms from the validation set's batch).
 * Non-finite log q or log p at an atom makes the loss NaN; value_and_gradient then returns NaN without touching the
 * gradients (the trainer's non-finite-loss handling applies). Batches of fewer than 2 rows, or atoms < 2, are
 * InvalidArgument: one atom makes L_i ≡ 0.
 */
template <class PriorDensity>
class AtomicAptLoss {
public:
  static constexpr const char* part = "osbi::AtomicAptLoss";
  static constexpr std::size_t default_atoms = 10; ///< sbi's num_atoms

  explicit AtomicAptLoss(PriorDensity prior, std::size_t atoms = default_atoms) : m_prior(std::move(prior)), m_atoms(atoms) {
    require(atoms >= 2, part, "atoms = ", atoms, ": the contrast needs at least 2 atoms (θ_i and one other)");
  }

  std::size_t atoms() const { return m_atoms; }
  const PriorDensity& prior() const { return m_prior; }

  template <ConditionalDensity Density>
    requires PriorDensityOn<PriorDensity, typename Density::scalar_type, typename Density::execution_space>
  double value_and_gradient(Density& density, const typename Density::execution_space& space,
                            const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
                            BatchRandom rng) {
    using Scalar = typename Density::scalar_type;
    using Space = typename Density::execution_space;
    const Contrast<Scalar, Space> contrast = evaluate(density, space, batch, rng, true);
    if (!std::isfinite(contrast.value)) return contrast.value;
    density.nll_backward(space, contrast.theta, contrast.x, contrast.backward_weights, Matrix<Scalar, Space>(),
                         Matrix<Scalar, Space>());
    return contrast.value;
  }

  template <ConditionalDensity Density>
    requires PriorDensityOn<PriorDensity, typename Density::scalar_type, typename Density::execution_space>
  double value(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
               BatchRandom rng) const {
    return evaluate(density, space, batch, rng, false).value;
  }

  template <ConditionalDensity Density>
    requires PriorDensityOn<PriorDensity, typename Density::scalar_type, typename Density::execution_space>
  void per_row(Density& density, const typename Density::execution_space& space,
               const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch,
               BatchRandom rng, const Vector<typename Density::scalar_type, typename Density::execution_space>& out) const {
    require_extent(out.extent(0), batch.rows(), part, "per_row: out's length (the batch's row count)");
    const auto contrast = evaluate(density, space, batch, rng, false);
    Kokkos::deep_copy(space, out, contrast.row_loss);
    space.fence();
  }

private:
  template <class Scalar, class Space>
  struct Contrast {
    double value = 0;
    Matrix<Scalar, Space> theta, x;          ///< the N·M expanded rows (θ_ik, x_i), row i·M + k
    Vector<Scalar, Space> backward_weights;  ///< −(N·M)·∂L/∂log q per expanded row (when asked for)
    Vector<Scalar, Space> row_loss;          ///< L_i
  };

  /// Row i's atoms: i itself, then M − 1 distinct other rows drawn from rng.row(i) by a partial Fisher–Yates shuffle.
  std::vector<std::uint32_t> draw_atoms(std::size_t n, std::size_t m, BatchRandom rng) const {
    std::vector<std::uint32_t> atoms(n * m), others(n - 1);
    for (std::size_t i = 0; i < n; ++i) {
      std::iota(others.begin(), others.end(), 0u);
      for (auto& o : others) o += (o >= i); // every row but i
      RowRandom row = rng.row(i);
      atoms[i * m] = static_cast<std::uint32_t>(i);
      for (std::size_t k = 1; k < m; ++k) {
        const std::size_t pick = (k - 1) + static_cast<std::size_t>(row.uniform() * static_cast<double>(n - k));
        std::swap(others[k - 1], others[std::min(pick, n - 2)]);
        atoms[i * m + k] = others[k - 1];
      }
    }
    return atoms;
  }

  template <class Density>
  Contrast<typename Density::scalar_type, typename Density::execution_space>
  evaluate(Density& density, const typename Density::execution_space& space,
           const TrainingBatch<typename Density::scalar_type, typename Density::execution_space>& batch, BatchRandom rng,
           bool with_backward_weights) const {
    using Scalar = typename Density::scalar_type;
    using Space = typename Density::execution_space;
    check_batch(batch, density.theta_dim(), density.context_dim(), part);
    require_extent(static_cast<std::size_t>(m_prior.dim()), density.theta_dim(), part, "the prior's dimension (the density's theta_dim)");
    const std::size_t n = batch.rows(), d = density.theta_dim(), c = density.context_dim();
    require(n >= 2, part, "the batch has ", n, " row(s); atoms are contrasted within a batch of at least 2 rows");
    const std::size_t m = std::min(m_atoms, n), expanded = n * m;

    // Per-row coefficients c_i: 1/N, or w_i / Σ w (the weights checked as WeightedNllLoss checks them).
    Vector<double, Space> coefficients(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "coefficients")), n);
    {
      const double scale = batch.weighted() ? 1.0 / checked_weight_sums(space, batch.weights, part).sum : 1.0 / static_cast<double>(n);
      const ConstVector<Scalar, Space> weights = batch.weights;
      const bool weighted = batch.weighted();
      Kokkos::parallel_for(
          "osbi::loss::AtomicAptLoss::coefficients", Kokkos::RangePolicy<Space>(space, 0, n),
          KOKKOS_LAMBDA(const std::size_t i) { coefficients(i) = weighted ? static_cast<double>(weights(i)) * scale : scale; });
    }

    const std::vector<std::uint32_t> atoms_host = draw_atoms(n, m, rng);
    Kokkos::View<std::uint32_t*, typename Space::memory_space> atoms(label("loss", "AtomicAptLoss", "atoms"), expanded);
    Kokkos::deep_copy(space, atoms, Kokkos::View<const std::uint32_t*, Kokkos::HostSpace>(atoms_host.data(), expanded));

    Contrast<Scalar, Space> out;
    out.theta = Matrix<Scalar, Space>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "theta")), expanded, d);
    out.x = Matrix<Scalar, Space>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "x")), expanded, c);
    {
      const auto theta_in = batch.theta, x_in = batch.x;
      const auto theta_out = out.theta, x_out = out.x;
      Kokkos::parallel_for(
          "osbi::loss::AtomicAptLoss::expand", Kokkos::RangePolicy<Space>(space, 0, expanded), KOKKOS_LAMBDA(const std::size_t r) {
            const std::size_t source = atoms(r), i = r / m;
            for (std::size_t j = 0; j < d; ++j) theta_out(r, j) = theta_in(source, j);
            for (std::size_t j = 0; j < c; ++j) x_out(r, j) = x_in(i, j);
          });
    }
    const Vector<Scalar, Space> log_q(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "log_q")), expanded);
    const Vector<Scalar, Space> log_prior(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "log_prior")), n);
    density.log_prob(space, out.theta, out.x, log_q);
    m_prior.log_prob(space, batch.theta, log_prior); // each atom is a batch row: n evaluations suffice

    out.row_loss = Vector<Scalar, Space>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "row_loss")), n);
    if (with_backward_weights)
      out.backward_weights =
          Vector<Scalar, Space>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("loss", "AtomicAptLoss", "weights")), expanded);
    const auto row_loss = out.row_loss, backward_weights = out.backward_weights;
    const double scale = static_cast<double>(expanded);
    double value = 0;
    Kokkos::parallel_reduce(
        "osbi::loss::AtomicAptLoss::contrast", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& sum) {
          // logits in double: a log-sum-exp over M terms, shifted by their maximum.
          double largest = -HUGE_VAL;
          bool finite = true;
          for (std::size_t k = 0; k < m; ++k) {
            const double logit = static_cast<double>(log_q(i * m + k)) - static_cast<double>(log_prior(atoms(i * m + k)));
            finite = finite && math::isfinite(logit);
            largest = logit > largest ? logit : largest;
          }
          if (!finite) {
            row_loss(i) = static_cast<Scalar>(NAN);
            sum += NAN;
            return;
          }
          double total = 0;
          for (std::size_t k = 0; k < m; ++k)
            total += math::exp(static_cast<double>(log_q(i * m + k)) -
                                               static_cast<double>(log_prior(atoms(i * m + k))) - largest);
          const double log_normalizer = largest + math::log(total);
          const double first = static_cast<double>(log_q(i * m)) - static_cast<double>(log_prior(atoms(i * m)));
          const double loss = log_normalizer - first;
          row_loss(i) = static_cast<Scalar>(loss);
          sum += coefficients(i) * loss;
          if (backward_weights.extent(0) != 0)
            for (std::size_t k = 0; k < m; ++k) {
              const double logit = static_cast<double>(log_q(i * m + k)) - static_cast<double>(log_prior(atoms(i * m + k)));
              const double softmax = math::exp(logit - log_normalizer);
              backward_weights(i * m + k) = static_cast<Scalar>(scale * coefficients(i) * ((k == 0 ? 1.0 : 0.0) - softmax));
            }
        },
        value);
    out.value = value;
    return out;
  }

  PriorDensity m_prior;
  std::size_t m_atoms;
};

} // namespace osbi
