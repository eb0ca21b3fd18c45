// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `Prior`: a batched, device-side distribution over θ with a density and known support.
#pragma once

#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <limits>
#include <vector>

namespace osbi {

/// Per-dimension bounds of a prior's support on the host: lower[i] <= θ_i <= upper[i];
/// ±infinity where a dimension is unbounded.
struct SupportBounds {
  std::vector<double> lower;
  std::vector<double> upper;

  static SupportBounds unbounded(std::size_t dim) {
    constexpr double infinity = std::numeric_limits<double>::infinity();
    return SupportBounds{std::vector<double>(dim, -infinity), std::vector<double>(dim, infinity)};
  }
  bool is_bounded(std::size_t i) const {
    return lower[i] > -std::numeric_limits<double>::infinity() || upper[i] < std::numeric_limits<double>::infinity();
  }
};

/*
 * Prior — what a model must provide (spec):
 *
 *   typename P::scalar_type      floating-point type of θ.
 *   typename P::execution_space  Kokkos execution space whose memory holds θ.
 *   p.dim()                      number of parameters D (> 0), fixed at construction.
 *   p.sample(space, rng, theta)  theta: Matrix<scalar_type, execution_space>, N × D. Fills every
 *                                row with an independent draw; row i uses rng.row(i) only, so the
 *                                result does not depend on thread count or backend. Enqueued on
 *                                `space` (fence before reading). Throws DimensionMismatch (host, before
 *                                launching) if theta.extent(1) != D.
 *   p.log_prob(space, theta, out) out[i] = log p(theta row i): −∞ outside the support, NaN for a
 *                                NaN row. Throws DimensionMismatch on a wrong theta width or
 *                                out.extent(0) != theta.extent(0).
 *   p.support()                  SupportBounds on the host (its vectors have D entries).
 *
 * `osbi::testing::check_prior(p)` (osbi/testing/check_prior.hpp) checks a model at run time.
 */
namespace prior_requirements {

template <class P>
concept HasSupport = requires(const P& prior) {
  { prior.support() } -> std::convertible_to<SupportBounds>;
};

} // namespace prior_requirements

/// A prior is a Proposal (osbi/proposal/proposal.hpp: dim, sample, log_prob, with the meanings above) that also
/// names its support — so every prior is a proposal by construction.
template <class P>
concept Prior = Proposal<P> && prior_requirements::HasSupport<P>;

/// Draws n samples from a proposal (a prior) into a new view (enqueued on a default space).
template <Proposal P>
Matrix<typename P::scalar_type, typename P::execution_space> sample(const P& prior, RandomStream& rng, std::size_t n) {
  Matrix<typename P::scalar_type, typename P::execution_space> theta(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::prior::sample::theta"), n, prior.dim());
  typename P::execution_space space;
  prior.sample(space, rng.next(), theta);
  space.fence();
  return theta;
}

/// log p(θ) of every row into a new view (convenience over Prior::log_prob, for any Proposal).
template <Proposal P>
Vector<typename P::scalar_type, typename P::execution_space> log_prob(
    const P& prior, const ConstMatrix<typename P::scalar_type, typename P::execution_space>& theta) {
  Vector<typename P::scalar_type, typename P::execution_space> out(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::prior::log_prob::out"), theta.extent(0));
  typename P::execution_space space;
  prior.log_prob(space, theta, out);
  space.fence();
  return out;
}

} // namespace osbi
