// SPDX-License-Identifier: BSD-3-Clause
/// \brief ProposalMixture: q̄, the mixture of every proposal version simulations were drawn from, weighted by their
/// draws — the denominator of multiple-importance-sampling weights p(θ)/q̄(θ) (Veach & Guibas' balance heuristic).
#pragma once

#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace osbi {

/*
 * ProposalMixture<P> — q̄(θ) = Σ_k (n_k / N) q_k(θ) over the components added (spec). Weighting every sample by
 * p(θ)/q̄(θ), whichever component drew it, is unbiased for the union of all draws and never divides by a proposal
 * that could not have drawn the row (Owen & Zhou 2000; the "defensive" mixture a loss-driven proposal needs, since
 * a single version's q can be tiny where an earlier version drew).
 *
 *   add(component, draws)       a frozen proposal (e.g. LossDrivenProposal::snapshot()) and how many rows it drew;
 *                               components of dimension other than the first's: DimensionMismatch.
 *   log_prob(space, theta, out) out(i) = log q̄(θ_i) (−∞ where every component is 0; NaN rows NaN).
 *   importance_weights(prior, space, theta)
 *                               host vector of p(θ_i)/q̄(θ_i) (0 where p is 0): the batch weights a self-normalized
 *                               loss (WeightedNllLoss) takes, its scale irrelevant.
 */
template <Proposal P>
class ProposalMixture {
public:
  using scalar_type = typename P::scalar_type;
  using execution_space = typename P::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  static constexpr const char* part = "osbi::ProposalMixture";

  void add(P component, std::uint64_t draws) {
    if (!m_components.empty()) require_extent(component.dim(), m_components.front().first.dim(), part, "add: the component's dimension");
    if (draws == 0) return;
    m_components.emplace_back(std::move(component), draws);
  }

  std::size_t components() const { return m_components.size(); }
  std::uint64_t total_draws() const {
    std::uint64_t total = 0;
    for (const auto& component : m_components) total += component.second;
    return total;
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const Vector<Scalar, Space>& out) const {
    require(!m_components.empty(), part, "log_prob: the mixture has no components (add the proposals that drew rows)");
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's length (theta's row count)");
    const std::size_t n = theta.extent(0), k = m_components.size();
    const double total = static_cast<double>(total_draws());
    std::vector<std::vector<double>> terms(k, std::vector<double>(n));
    const Vector<Scalar, Space> component_log_prob("osbi::ProposalMixture::component", n);
    for (std::size_t c = 0; c < k; ++c) {
      m_components[c].first.log_prob(space, theta, component_log_prob);
      space.fence();
      const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), component_log_prob);
      const double log_share = std::log(static_cast<double>(m_components[c].second) / total);
      for (std::size_t i = 0; i < n; ++i) terms[c][i] = log_share + static_cast<double>(host(i));
    }
    const auto values = Kokkos::create_mirror_view(out);
    for (std::size_t i = 0; i < n; ++i) {
      double largest = -HUGE_VAL;
      bool nan = false;
      for (std::size_t c = 0; c < k; ++c) {
        nan = nan || std::isnan(terms[c][i]);
        largest = std::max(largest, terms[c][i]);
      }
      if (nan) {
        values(i) = std::numeric_limits<Scalar>::quiet_NaN();
        continue;
      }
      if (largest == -HUGE_VAL) {
        values(i) = -std::numeric_limits<Scalar>::infinity();
        continue;
      }
      double sum = 0;
      for (std::size_t c = 0; c < k; ++c) sum += std::exp(terms[c][i] - largest);
      values(i) = static_cast<Scalar>(largest + std::log(sum));
    }
    Kokkos::deep_copy(space, out, values);
    space.fence();
  }

  template <Proposal Target>
  std::vector<double> importance_weights(const Target& prior, const Space& space, const ConstMatrix<Scalar, Space>& theta) const {
    const std::size_t n = theta.extent(0);
    const Vector<Scalar, Space> log_p("osbi::ProposalMixture::log_p", n), log_q("osbi::ProposalMixture::log_q", n);
    prior.log_prob(space, theta, log_p);
    log_prob(space, theta, log_q);
    space.fence();
    const auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), log_p);
    const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), log_q);
    std::vector<double> weights(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double lp = static_cast<double>(p(i)), lq = static_cast<double>(q(i));
      require(!std::isnan(lp) && !std::isnan(lq), part, "importance_weights: row ", i, " has a NaN density");
      require(lp == -HUGE_VAL || lq > -HUGE_VAL, part, "importance_weights: row ", i,
              " has prior density > 0 where no component could draw it (was every proposal that drew rows added?)");
      weights[i] = lp == -HUGE_VAL ? 0.0 : std::exp(lp - lq);
    }
    return weights;
  }

private:
  std::vector<std::pair<P, std::uint64_t>> m_components; ///< each version and the rows it drew
};

} // namespace osbi
