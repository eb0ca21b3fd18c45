// SPDX-License-Identifier: BSD-3-Clause
/// \brief TruncatedPrior: the prior restricted to a box that holds the current posterior's highest-probability region
/// for x₀ (TSNPE, Deistler et al. 2022), refreshed as training goes; a VersionedProposal.
#pragma once

#include <osbi/prior/prior.hpp>
#include <osbi/proposal/detail/restricted_prior.hpp>
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
#include <vector>

namespace osbi {

/// How TruncatedPrior::refresh turns the posterior into a box.
struct TruncationOptions {
  std::size_t posterior_draws = 10'000; ///< draws of q(θ | x₀) per refresh
  double quantile = 1e-4;               ///< the region {θ : log q(θ | x₀) ≥ the quantile of log q over the draws}
  double margin = 0.1;                  ///< each side of the box widened by this fraction of its width
  std::size_t mass_draws = 100'000;     ///< prior draws that estimate the box's prior mass
  std::size_t max_attempts = 1'000;     ///< rejection rounds before a row falls back to the untruncated prior
};

/*
 * TruncatedPrior<Prior> — TSNPE's proposal (spec). The prior p restricted to a box B:
 *
 *   sample(space, rng, theta)   rejection from p: row i tries draws from rng.split(a).row(i), a = 0, 1, …, keeping
 *                               the first inside B; after max_attempts rounds the row takes an untruncated prior
 *                               draw (counted: fallbacks()). p's support always holds B's draws.
 *   log_prob(space, theta, out) log p(θ) − log p(B) inside B, −∞ outside (p(B) estimated at each refresh from
 *                               mass_draws prior draws).
 *   round()                     0 until the first refresh, then 1, 2, … (SampleInfo::generation of each draw).
 *   refresh(posterior, x0, rng) B ← the bounding box of the posterior draws whose log q(θ | x₀) reaches the
 *                               options' quantile of log q over the draws (TSNPE's highest-probability region),
 *                               widened by `margin`, clipped to p's support. Any posterior with sample(x0, n,
 *                               rng) and log_prob(theta, x0) (osbi::Posterior); call it from the trainer's thread
 *                               (e.g. PipelineOptions::on_validation) while workers sample: copies of a
 *                               TruncatedPrior share one region, swapped under a lock, so the pipeline's copy sees
 *                               every refresh.
 *
 * Why the box: the workers sample on their own threads and execution space, where the posterior (on the trainer's)
 * cannot be evaluated; a box is tested anywhere. It holds the highest-probability region, so TSNPE's argument
 * stands: the posterior for x₀ is unchanged on a region that holds its mass, and plain NLL on samples from any
 * mixture of such truncations (and the prior) stays correct for x₀ — samples from earlier, wider boxes stay valid.
 * A box is a superset of the region, so it costs simulations outside it (a loose box), never correctness.
 */
template <Prior PriorType>
class TruncatedPrior {
public:
  using scalar_type = typename PriorType::scalar_type;
  using execution_space = typename PriorType::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;

  explicit TruncatedPrior(PriorType prior, TruncationOptions options = {})
      : m_prior(std::move(prior)), m_options(options), m_shared(std::make_shared<Shared>()) {
    constexpr const char* part = "osbi::TruncatedPrior";
    require(options.posterior_draws >= 2, part, "posterior_draws must be >= 2");
    require(options.quantile >= 0 && options.quantile < 1, part, "quantile must lie in [0, 1)");
    require(std::isfinite(options.margin) && options.margin >= 0, part, "margin must be finite and >= 0");
    require(options.mass_draws >= 1 && options.max_attempts >= 1, part, "mass_draws and max_attempts must be >= 1");
    const SupportBounds support = m_prior.support();
    m_shared->region = Region{support.lower, support.upper, 0.0, 0};
  }

  std::size_t dim() const { return m_prior.dim(); }
  const PriorType& prior() const { return m_prior; }
  std::uint64_t round() const { return region().round; }
  std::uint64_t fallbacks() const { return m_shared->fallbacks.load(); }
  /// The current box (lower, upper per dimension) and log p(B).
  std::vector<double> lower() const { return region().lower; }
  std::vector<double> upper() const { return region().upper; }
  double log_mass() const { return region().log_mass; }

  void sample(const Space& space, BatchRandom rng, const Matrix<Scalar, Space>& theta) const {
    constexpr const char* part = "osbi::TruncatedPrior::sample";
    require_extent(theta.extent(1), dim(), part, "theta's width");
    const Region box = region();
    const std::size_t n = theta.extent(0), d = dim();
    if (n == 0) return;
    if (box.round == 0) { // no truncation yet: the prior itself
      m_prior.sample(space, rng, theta);
      return;
    }
    const auto host = Kokkos::create_mirror_view(theta);
    std::vector<char> filled;
    const auto in_box = [&box](const auto& points, std::size_t i) { return inside(box, points, i); };
    const std::size_t missing = detail::restricted_prior_draws(m_prior, space, rng, m_options.max_attempts, host, filled, in_box);
    if (missing > 0) { // TSNPE's fallback: the untruncated prior (its support holds every box)
      const Matrix<Scalar, Space> tries(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::TruncatedPrior::fallback"), n, d);
      m_prior.sample(space, rng.split(static_cast<std::uint32_t>(m_options.max_attempts)), tries);
      space.fence();
      const auto tried = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), tries);
      for (std::size_t i = 0; i < n; ++i)
        if (!filled[i])
          for (std::size_t j = 0; j < d; ++j) host(i, j) = tried(i, j);
      m_shared->fallbacks += missing;
    }
    Kokkos::deep_copy(space, theta, host);
    space.fence();
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const Vector<Scalar, Space>& out) const {
    const Region box = region();
    if (box.round == 0) {
      m_prior.log_prob(space, theta, out);
      return;
    }
    detail::restricted_prior_log_prob(m_prior, space, theta, out, box.log_mass,
                                      [&box](const auto& points, std::size_t i) { return inside(box, points, i); });
  }

  /// Sets the box from `posterior` for x₀ (see the spec). Returns the new round.
  template <class PosteriorType>
  std::uint64_t refresh(PosteriorType& posterior, const std::vector<double>& x0, RandomStream& rng) {
    constexpr const char* part = "osbi::TruncatedPrior::refresh";
    const std::size_t d = dim(), n = m_options.posterior_draws;
    const auto draws = posterior.sample(x0, n, rng);
    require_extent(draws.extent(1), d, part, "the posterior's draws' width");
    const auto host_draws = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), draws);
    const auto densities = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), posterior.log_prob(draws, x0));
    std::vector<double> sorted(n);
    for (std::size_t i = 0; i < n; ++i) sorted[i] = static_cast<double>(densities(i));
    std::sort(sorted.begin(), sorted.end());
    const double threshold = sorted[static_cast<std::size_t>(std::floor(m_options.quantile * static_cast<double>(n - 1)))];
    const SupportBounds support = m_prior.support();
    Region next{std::vector<double>(d, std::numeric_limits<double>::infinity()),
                std::vector<double>(d, -std::numeric_limits<double>::infinity()), 0.0, 0};
    for (std::size_t i = 0; i < n; ++i) {
      if (!(static_cast<double>(densities(i)) >= threshold)) continue;
      for (std::size_t j = 0; j < d; ++j) {
        next.lower[j] = std::min(next.lower[j], static_cast<double>(host_draws(i, j)));
        next.upper[j] = std::max(next.upper[j], static_cast<double>(host_draws(i, j)));
      }
    }
    for (std::size_t j = 0; j < d; ++j) {
      require(std::isfinite(next.lower[j]) && std::isfinite(next.upper[j]), part, "the posterior's draws are not finite in dimension ", j);
      const double widen = m_options.margin * (next.upper[j] - next.lower[j]);
      next.lower[j] = std::max(next.lower[j] - widen, support.lower[j]);
      next.upper[j] = std::min(next.upper[j] + widen, support.upper[j]);
    }
    next.log_mass = std::log(prior_mass(next, rng));
    {
      const std::lock_guard lock(m_shared->mutex);
      next.round = m_shared->region.round + 1;
      m_shared->region = next;
    }
    return next.round;
  }

private:
  struct Region {
    std::vector<double> lower, upper;
    double log_mass = 0;
    std::uint64_t round = 0;
  };
  struct Shared {
    std::mutex mutex;
    Region region;
    std::atomic<std::uint64_t> fallbacks{0};
  };

  Region region() const {
    const std::lock_guard lock(m_shared->mutex);
    return m_shared->region;
  }

  template <class View>
  static bool inside(const Region& box, const View& points, std::size_t i) {
    for (std::size_t j = 0; j < box.lower.size(); ++j) {
      const double value = static_cast<double>(points(i, j));
      if (!(value >= box.lower[j] && value <= box.upper[j])) return false;
    }
    return true;
  }

  /// p(B) by Monte Carlo (at least one draw's worth, so log p(B) stays finite).
  double prior_mass(const Region& box, RandomStream& rng) const {
    const Matrix<Scalar, Space> draws("osbi::TruncatedPrior::mass_draws", m_options.mass_draws, dim());
    const Space space;
    m_prior.sample(space, rng.next(), draws);
    space.fence();
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), draws);
    std::size_t in = 0;
    for (std::size_t i = 0; i < host.extent(0); ++i) in += inside(box, host, i) ? 1 : 0;
    return static_cast<double>(std::max<std::size_t>(in, 1)) / static_cast<double>(host.extent(0));
  }

  PriorType m_prior;
  TruncationOptions m_options;
  std::shared_ptr<Shared> m_shared;
};

} // namespace osbi
