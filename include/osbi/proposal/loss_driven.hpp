// SPDX-License-Identifier: BSD-3-Clause
/// \brief LossDrivenProposal: children drawn around the simulations the estimator fits worst, mixed with the prior
/// (Breed-like, Dymchenko & Raffin 2023); a VersionedProposal with an exact log density, for importance weighting.
#pragma once

#include <osbi/flow/running_moments.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

namespace osbi {

/// How LossDrivenProposal draws children and picks parents.
struct LossDrivenOptions {
  double prior_fraction = 0.3;    ///< α: the share of draws taken from the prior (exploration; Breed's uniform share)
  double kernel_width = 0.1;      ///< σ_j = kernel_width × the prior's standard deviation in dimension j
  std::size_t parents = 100;      ///< the K rows of highest loss that update() keeps as parents
  std::size_t scale_draws = 10'000; ///< prior draws that estimate the prior's standard deviations (once)
  std::size_t max_attempts = 1'000; ///< draws of a child before the row takes the prior draw instead (counted)
  std::uint64_t seed = 0;         ///< of the scale_draws
};

/*
 * LossDrivenProposal<Prior> — a Breed-like proposal (spec; Dymchenko & Raffin 2023, "Loss-driven sampling within
 * hard-to-learn areas for simulation-based neural network training"). After update(θ rows, losses) it is the mixture
 *
 *   q(θ) = α p(θ) + (1 − α) (1/K) Σ_k N_B(θ; θ_k, diag σ²)
 *
 * of the prior and K Gaussian kernels around the parents θ_k — the K rows of highest loss given to update() — each
 * truncated to the prior's support box B (SupportBounds; its normalizer Π_j [Φ((hi_j − θ_kj)/σ_j) − Φ((lo_j −
 * θ_kj)/σ_j)] exact), so children never leave the support. Before the first update it is the prior.
 *
 *   sample(space, rng, theta)   row i: a prior draw (from rng.split(0)); with probability 1 − α (rng.split(1).row(i))
 *                               replaced by a child of a uniformly chosen parent, drawn by rejection from its kernel
 *                               until inside B (after max_attempts the prior draw stays: fallbacks(), vanishingly
 *                               rare since every kernel keeps at least 2^−D of its mass in B).
 *   log_prob(space, theta, out) log q(θ) exactly as above (−∞ outside B or where p is 0 and no kernel reaches).
 *   round()                     0, then 1, 2, … with each update.
 *   update(theta, losses)       host rows (n × D, row-major) and their losses (NaN rows ignored); thread-safe against
 *                               sample/log_prob on other threads (copies share the state; each draw sees one version).
 *   snapshot()                  a copy frozen at the current version: what an importance weight's mixture of all
 *                               proposals used keeps (ProposalMixture, proposal/proposal_mixture.hpp).
 *
 * Samples of q are not samples of the prior: train with importance weights p/q̄ (WeightedNllLoss; q̄ the mixture
 * of every version used, weighted by how many draws each made) or with APT (AtomicAptLoss).
 */
template <Prior PriorType>
class LossDrivenProposal {
public:
  using scalar_type = typename PriorType::scalar_type;
  using execution_space = typename PriorType::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  static constexpr const char* part = "osbi::LossDrivenProposal";

  explicit LossDrivenProposal(PriorType prior, LossDrivenOptions options = {})
      : m_prior(std::move(prior)), m_options(options), m_shared(std::make_shared<Shared>()) {
    require(options.prior_fraction >= 0 && options.prior_fraction <= 1, part, "prior_fraction must lie in [0, 1]");
    require(std::isfinite(options.kernel_width) && options.kernel_width > 0, part, "kernel_width must be finite and > 0");
    require(options.parents >= 1 && options.scale_draws >= 2 && options.max_attempts >= 1, part,
            "parents and max_attempts must be >= 1, scale_draws >= 2");
    const SupportBounds support = m_prior.support();
    m_lower = support.lower;
    m_upper = support.upper;
    m_sigma = prior_standard_deviations();
    for (double& s : m_sigma) s *= options.kernel_width;
    m_shared->current = std::make_shared<const Version>();
  }

  std::size_t dim() const { return m_prior.dim(); }
  const PriorType& prior() const { return m_prior; }
  const LossDrivenOptions& options() const { return m_options; }
  std::uint64_t round() const { return version()->round; }
  std::uint64_t fallbacks() const { return m_shared->fallbacks.load(); }
  /// σ_j of the kernels.
  const std::vector<double>& kernel_sigma() const { return m_sigma; }
  /// The current parents, row-major K × D (empty before the first update).
  std::vector<double> parents() const { return version()->parents; }

  void sample(const Space& space, BatchRandom rng, const Matrix<Scalar, Space>& theta) const {
    require_extent(theta.extent(1), dim(), part, "sample: theta's width");
    const std::shared_ptr<const Version> v = version();
    m_prior.sample(space, rng.split(0), theta);
    const std::size_t n = theta.extent(0), d = dim(), k = v->count();
    if (n == 0 || k == 0 || m_options.prior_fraction >= 1) return;
    space.fence();
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    const BatchRandom children = rng.split(1);
    std::vector<double> child(d);
    std::uint64_t fallbacks = 0;
    for (std::size_t i = 0; i < n; ++i) {
      RowRandom row = children.row(i);
      if (row.uniform() < m_options.prior_fraction) continue;
      const std::size_t parent = std::min(k - 1, static_cast<std::size_t>(row.uniform() * static_cast<double>(k)));
      bool found = false;
      for (std::size_t attempt = 0; attempt < m_options.max_attempts && !found; ++attempt) {
        found = true;
        for (std::size_t j = 0; j < d; ++j) {
          child[j] = v->parents[parent * d + j] + m_sigma[j] * row.normal();
          found = found && child[j] >= m_lower[j] && child[j] <= m_upper[j];
        }
      }
      if (!found) {
        ++fallbacks;
        continue;
      }
      for (std::size_t j = 0; j < d; ++j) host(i, j) = static_cast<Scalar>(child[j]);
    }
    if (fallbacks) m_shared->fallbacks += fallbacks;
    Kokkos::deep_copy(space, theta, host);
    space.fence();
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const Vector<Scalar, Space>& out) const {
    require_extent(theta.extent(1), dim(), part, "log_prob: theta's width");
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's length (theta's row count)");
    const std::shared_ptr<const Version> v = version();
    m_prior.log_prob(space, theta, out);
    const std::size_t n = theta.extent(0), d = dim(), k = v->count();
    if (n == 0 || k == 0) return;
    space.fence();
    const auto points = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
    const double alpha = m_options.prior_fraction, log_half_two_pi = 0.5 * std::log(2 * M_PI);
    double log_sigma = 0;
    for (const double s : m_sigma) log_sigma += std::log(s);
    std::vector<double> terms(k + 1);
    for (std::size_t i = 0; i < n; ++i) {
      const double log_p = static_cast<double>(values(i));
      if (std::isnan(log_p)) continue;
      bool inside = true;
      for (std::size_t j = 0; j < d; ++j) {
        const double t = static_cast<double>(points(i, j));
        inside = inside && t >= m_lower[j] && t <= m_upper[j];
      }
      if (!inside) {
        values(i) = -std::numeric_limits<Scalar>::infinity();
        continue;
      }
      // log Σ of α p(θ) and the (1 − α)/K-weighted kernels, shifted by the largest term.
      terms[0] = alpha > 0 ? std::log(alpha) + log_p : -HUGE_VAL;
      for (std::size_t c = 0; c < k; ++c) {
        double square = 0;
        for (std::size_t j = 0; j < d; ++j) {
          const double z = (static_cast<double>(points(i, j)) - v->parents[c * d + j]) / m_sigma[j];
          square += z * z;
        }
        terms[c + 1] = std::log1p(-alpha) - std::log(static_cast<double>(k)) - 0.5 * square - log_sigma -
                       static_cast<double>(d) * log_half_two_pi - v->log_normalizer[c];
      }
      const double largest = *std::max_element(terms.begin(), terms.end());
      if (largest == -HUGE_VAL) {
        values(i) = -std::numeric_limits<Scalar>::infinity();
        continue;
      }
      double sum = 0;
      for (const double t : terms) sum += std::exp(t - largest);
      values(i) = static_cast<Scalar>(largest + std::log(sum));
    }
    Kokkos::deep_copy(space, out, values);
    space.fence();
  }

  /// Keeps the K rows of highest finite loss as the new parents (fewer if fewer are finite; none: no change).
  /// theta: n × D row-major on the host, inside the support; losses: n. Returns the new round.
  std::uint64_t update(const std::vector<double>& theta, const std::vector<double>& losses) {
    const std::size_t d = dim(), n = losses.size();
    require_extent(theta.size(), n * d, part, "update: theta's size (losses' count × dim)");
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < n; ++i)
      if (std::isfinite(losses[i])) order.push_back(i);
    const std::shared_ptr<const Version> old = version();
    if (order.empty()) return old->round;
    const std::size_t k = std::min(m_options.parents, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](std::size_t a, std::size_t b) { return losses[a] > losses[b]; });
    auto next = std::make_shared<Version>();
    next->round = old->round + 1;
    next->parents.resize(k * d);
    next->log_normalizer.resize(k);
    for (std::size_t c = 0; c < k; ++c) {
      double log_mass = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const double t = theta[order[c] * d + j];
        require(t >= m_lower[j] && t <= m_upper[j], part, "update: parent row ", order[c], " lies outside the prior's support in dimension ", j);
        next->parents[c * d + j] = t;
        log_mass += std::log(normal_cdf((m_upper[j] - t) / m_sigma[j]) - normal_cdf((m_lower[j] - t) / m_sigma[j]));
      }
      next->log_normalizer[c] = log_mass;
    }
    const std::lock_guard lock(m_shared->mutex);
    m_shared->current = std::move(next);
    return m_shared->current->round;
  }

  /// A copy frozen at the current version (later updates of this proposal do not reach it).
  LossDrivenProposal snapshot() const {
    LossDrivenProposal copy(*this);
    copy.m_shared = std::make_shared<Shared>();
    copy.m_shared->current = version();
    return copy;
  }

private:
  struct Version {
    std::uint64_t round = 0;
    std::vector<double> parents;        ///< K × D
    std::vector<double> log_normalizer; ///< log of each kernel's mass inside the support
    std::size_t count() const { return log_normalizer.size(); }
  };
  struct Shared {
    std::mutex mutex;
    std::shared_ptr<const Version> current;
    std::atomic<std::uint64_t> fallbacks{0};
  };

  std::shared_ptr<const Version> version() const {
    const std::lock_guard lock(m_shared->mutex);
    return m_shared->current;
  }

  static double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

  std::vector<double> prior_standard_deviations() const {
    const std::size_t n = m_options.scale_draws, d = dim();
    const Matrix<Scalar, Space> draws("osbi::LossDrivenProposal::scale_draws", n, d);
    const Space space;
    m_prior.sample(space, RandomStream(m_options.seed, 0x5CA1E).next(), draws);
    space.fence();
    RunningMoments<Scalar, Space> moments(d);
    moments.update(space, draws);
    std::vector<double> sd = moments.variance();
    for (std::size_t j = 0; j < d; ++j) {
      sd[j] = std::sqrt(sd[j]);
      require(std::isfinite(sd[j]) && sd[j] > 0, part, "the prior's standard deviation in dimension ", j, " is ", sd[j],
              "; the kernels need a finite, positive scale");
    }
    return sd;
  }

  PriorType m_prior;
  LossDrivenOptions m_options;
  std::vector<double> m_lower, m_upper, m_sigma;
  std::shared_ptr<Shared> m_shared;
};

} // namespace osbi
