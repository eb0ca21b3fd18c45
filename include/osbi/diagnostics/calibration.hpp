// SPDX-License-Identifier: BSD-3-Clause
/// \brief Calibration of an amortized posterior: simulation-based calibration ranks (Talts et al. 2018), expected
/// coverage of highest-density regions (Hermans et al. 2022), and a uniformity test of the ranks.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace osbi::diagnostics {

/*
 * Calibration (spec). Given pairs (θᵢ, xᵢ) from the prior predictive (θᵢ ~ p(θ), xᵢ ~ p(x | θᵢ)) and a posterior
 * q(θ | x) with L draws θ'ᵢ₁ … θ'ᵢL ~ q(· | xᵢ) for each:
 *
 *   marginal rank   rᵢ,d = #{j : θ'ᵢⱼ,d < θᵢ,d}            (SBC, per dimension d)
 *   density rank    sᵢ   = #{j : log q(θ'ᵢⱼ | xᵢ) < log q(θᵢ | xᵢ)}   (SBC with sbi's log-prob reduction)
 *
 * If q is the true posterior, every rank is uniform on {0, …, L} (the true θᵢ is one more draw from q(· | xᵢ)).
 * A posterior too narrow puts the ranks at the ends (a U shape); a biased one skews them.
 *
 *   expected coverage   the fraction of rows whose θᵢ lies inside the highest-density region of q(· | xᵢ) of mass
 *                       γ: covered when L − sᵢ (the draws denser than θᵢ) < γ·(L + 1). For the true posterior
 *                       it is ⌈γ(L + 1)⌉ / (L + 1), within 1 / (L + 1) of γ; below γ the posterior is
 *                       overconfident, above γ underconfident (conservative).
 *   coverage error      max over γ ∈ {0.05, 0.10, …, 0.95} of |expected coverage(γ) − γ|: 0 for a calibrated
 *                       posterior up to the noise of the rows (about √(γ(1−γ)/rows)) and 1 / (L + 1).
 *   rank uniformity     a Kolmogorov–Smirnov p-value of one column of ranks against the discrete uniform on
 *                       {0, …, L} (the asymptotic distribution, conservative for discrete ranks): small p, not
 *                       uniform.
 *
 * calibration_ranks(posterior, θ, x, options, rng) draws and ranks. The posterior is anything with
 * sample(x0, n, rng) → a (n, D) Kokkos matrix and, for density ranks, log_prob(theta, x0) → a vector (osbi::Posterior
 * has both), or log_prob_unnormalized(theta, x0), used instead where present (a constant in θ changes no rank).
 * θ and x are row-major host arrays of `rows` rows. Wrong widths throw DimensionMismatch; a NaN/±Inf in θ or x, or in
 * a draw or density, throws InvalidArgument naming the row.
 */
struct CalibrationOptions {
  std::size_t draws = 1'000;       ///< L: posterior draws per row (sbi's run_sbc default)
  bool density_ranks = true;       ///< also rank by log q (needed for expected coverage)
};

struct CalibrationRanks {
  std::size_t rows = 0, dim = 0, draws = 0;
  std::vector<std::uint32_t> marginal; ///< rows × dim, row-major: rᵢ,d
  std::vector<std::uint32_t> density;  ///< rows: sᵢ (empty without density ranks)

  std::vector<std::uint32_t> marginal_column(std::size_t d) const {
    require(d < dim, "osbi::diagnostics::CalibrationRanks", "dimension ", d, " of ", dim);
    std::vector<std::uint32_t> out(rows);
    for (std::size_t i = 0; i < rows; ++i) out[i] = marginal[i * dim + d];
    return out;
  }
};

template <class PosteriorType>
CalibrationRanks calibration_ranks(PosteriorType& posterior, std::span<const double> theta, std::span<const double> x, std::size_t rows,
                                   const CalibrationOptions& options, RandomStream& rng) {
  constexpr const char* part = "osbi::diagnostics::calibration_ranks";
  require(rows >= 1, part, "needs at least one (θ, x) row");
  require(options.draws >= 1, part, "draws must be >= 1");
  require(options.draws < std::numeric_limits<std::uint32_t>::max(), part, "draws must fit 32 bits");
  require(theta.size() % rows == 0 && x.size() % rows == 0, part, "θ has ", theta.size(), " values and x ", x.size(),
          ": neither may be cut into ", rows, " rows unevenly");
  CalibrationRanks out;
  out.rows = rows;
  out.dim = theta.size() / rows;
  out.draws = options.draws;
  require(out.dim >= 1 && x.size() / rows >= 1, part, "θ and x need at least one column");
  const std::size_t x_dim = x.size() / rows, dim = out.dim, draws = options.draws;
  for (std::size_t k = 0; k < theta.size(); ++k)
    require(std::isfinite(theta[k]), part, "θ row ", k / dim, " holds a NaN or ±Inf");
  for (std::size_t k = 0; k < x.size(); ++k) require(std::isfinite(x[k]), part, "x row ", k / x_dim, " holds a NaN or ±Inf");
  out.marginal.resize(rows * dim);
  if (options.density_ranks) out.density.resize(rows);

  std::vector<double> x0(x_dim);
  for (std::size_t i = 0; i < rows; ++i) {
    std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(i * x_dim), x_dim, x0.begin());
    const auto sampled = posterior.sample(x0, draws, rng);
    if (sampled.extent(1) != dim)
      throw DimensionMismatch(part, osbi::detail::concat("the posterior's draws have ", sampled.extent(1), " columns, θ has ", dim));
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sampled);
    const double* truth = theta.data() + i * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      std::uint32_t below = 0;
      for (std::size_t j = 0; j < draws; ++j) {
        const double value = static_cast<double>(host(j, d));
        require(std::isfinite(value), part, "the posterior drew a NaN or ±Inf for row ", i);
        below += value < truth[d] ? 1u : 0u;
      }
      out.marginal[i * dim + d] = below;
    }
    if (!options.density_ranks) continue;
    // The draws and the true θ in one call: the last row is θᵢ.
    using Matrix = std::remove_cvref_t<decltype(sampled)>;
    using Scalar = typename Matrix::non_const_value_type;
    Matrix all(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::diagnostics::calibration_points"), draws + 1, dim);
    auto all_host = Kokkos::create_mirror_view(all);
    for (std::size_t j = 0; j < draws; ++j)
      for (std::size_t d = 0; d < dim; ++d) all_host(j, d) = host(j, d);
    for (std::size_t d = 0; d < dim; ++d) all_host(draws, d) = static_cast<Scalar>(truth[d]);
    Kokkos::deep_copy(all, all_host);
    // The ranks compare densities at one x, so a constant in θ changes none: a posterior that can skip its
    // normalization (osbi::Posterior with a rejection support: 10 000 acceptance draws per row) skips it.
    const auto densities = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), [&] {
      if constexpr (requires { posterior.log_prob_unnormalized(all, x0); })
        return posterior.log_prob_unnormalized(all, x0);
      else
        return posterior.log_prob(all, x0);
    }());
    const double at_truth = static_cast<double>(densities(draws));
    // −∞ at θᵢ (outside the posterior's support) ranks it below every draw: no region of mass < 1 holds it.
    require(!std::isnan(at_truth) && at_truth != std::numeric_limits<double>::infinity(), part,
            "log q(θ | x) at the true θ of row ", i, " is NaN or +Inf");
    std::uint32_t below = 0;
    for (std::size_t j = 0; j < draws; ++j) {
      const double value = static_cast<double>(densities(j));
      require(std::isfinite(value), part, "log q of a draw for row ", i, " is NaN or ±Inf");
      below += value < at_truth ? 1u : 0u;
    }
    out.density[i] = below;
  }
  return out;
}

/// The expected coverage of the highest-density regions at each level γ ∈ (0, 1) (needs density ranks).
inline std::vector<double> expected_coverage(const CalibrationRanks& ranks, const std::vector<double>& levels) {
  constexpr const char* part = "osbi::diagnostics::expected_coverage";
  require(ranks.density.size() == ranks.rows && ranks.rows > 0, part, "needs density ranks (CalibrationOptions::density_ranks)");
  std::vector<double> out;
  out.reserve(levels.size());
  const double slots = static_cast<double>(ranks.draws + 1);
  for (const double level : levels) {
    require(level > 0 && level < 1, part, "levels lie in (0, 1), not ", level);
    std::size_t covered = 0;
    for (const std::uint32_t s : ranks.density) covered += static_cast<double>(ranks.draws - s) < level * slots ? 1u : 0u;
    out.push_back(static_cast<double>(covered) / static_cast<double>(ranks.rows));
  }
  return out;
}

/// γ = 0.05, 0.10, …, 0.95.
inline std::vector<double> coverage_levels() {
  std::vector<double> levels;
  for (int k = 1; k <= 19; ++k) levels.push_back(0.05 * k);
  return levels;
}

/// max over coverage_levels() of |expected coverage(γ) − γ|.
inline double coverage_error(const CalibrationRanks& ranks) {
  const auto levels = coverage_levels();
  const auto coverage = expected_coverage(ranks, levels);
  double worst = 0;
  for (std::size_t k = 0; k < levels.size(); ++k) worst = std::max(worst, std::abs(coverage[k] - levels[k]));
  return worst;
}

namespace detail {

/// Kolmogorov's limiting distribution: P(√n·D > λ) = 2 Σₖ (−1)^(k−1) exp(−2k²λ²).
inline double kolmogorov_tail(double lambda) {
  if (lambda < 0.2) return 1.0;
  double sum = 0, sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double term = std::exp(-2.0 * k * k * lambda * lambda);
    sum += sign * term;
    if (term < 1e-16) break;
    sign = -sign;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

} // namespace detail

/// Kolmogorov–Smirnov p-value of ranks in {0, …, draws} against the discrete uniform (Stephens' small-sample
/// correction of the asymptotic distribution; conservative for discrete data).
inline double rank_uniformity_pvalue(const std::vector<std::uint32_t>& ranks, std::size_t draws) {
  constexpr const char* part = "osbi::diagnostics::rank_uniformity_pvalue";
  require(!ranks.empty(), part, "needs ranks");
  std::vector<std::size_t> counts(draws + 1, 0);
  for (const std::uint32_t r : ranks) {
    require(r <= draws, part, "rank ", r, " exceeds the number of draws ", draws);
    ++counts[r];
  }
  const double n = static_cast<double>(ranks.size()), slots = static_cast<double>(draws + 1);
  double cumulative = 0, distance = 0;
  for (std::size_t k = 0; k <= draws; ++k) {
    cumulative += static_cast<double>(counts[k]);
    distance = std::max(distance, std::abs(cumulative / n - static_cast<double>(k + 1) / slots));
  }
  const double root = std::sqrt(n);
  return detail::kolmogorov_tail((root + 0.12 + 0.11 / root) * distance);
}

} // namespace osbi::diagnostics
