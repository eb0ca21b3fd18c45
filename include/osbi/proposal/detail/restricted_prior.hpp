// SPDX-License-Identifier: BSD-3-Clause
/// \brief The prior restricted to a set A (TruncatedPrior's box, a RegionBandit region): rejection draws and the
/// renormalized density log p(θ) − log p(A), shared by the proposals that restrict a prior.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace osbi::detail {

/// Rejection draws of the prior restricted to {θ : inside(host_view, i)}: round a (a = 0 … max_attempts − 1) draws the
/// whole batch from rng.split(a) and each row not yet filled keeps its draw if inside. Returns the rows still missing
/// after the last round; `host` (theta's host mirror) holds the kept draws and `filled` marks them. The caller fills
/// the rest its own way (a fallback) and copies host back.
template <class PriorType, class HostMatrix, class Inside>
std::size_t restricted_prior_draws(const PriorType& prior, const typename PriorType::execution_space& space, BatchRandom rng,
                                   std::size_t max_attempts, const HostMatrix& host, std::vector<char>& filled, Inside inside) {
  using Scalar = typename PriorType::scalar_type;
  using Space = typename PriorType::execution_space;
  const std::size_t n = host.extent(0), d = host.extent(1);
  filled.assign(n, 0);
  std::size_t missing = n;
  const Matrix<Scalar, Space> tries(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::restricted_prior::tries"), n, d);
  for (std::size_t attempt = 0; attempt < max_attempts && missing > 0; ++attempt) {
    prior.sample(space, rng.split(static_cast<std::uint32_t>(attempt)), tries);
    space.fence();
    const auto tried = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), tries);
    for (std::size_t i = 0; i < n; ++i) {
      if (filled[i] || !inside(tried, i)) continue;
      for (std::size_t j = 0; j < d; ++j) host(i, j) = tried(i, j);
      filled[i] = 1;
      --missing;
    }
  }
  return missing;
}

/// out(i) = log p(θ_i) − log_mass inside A, −∞ outside, NaN rows NaN.
template <class PriorType, class Inside>
void restricted_prior_log_prob(const PriorType& prior, const typename PriorType::execution_space& space,
                               const ConstMatrix<typename PriorType::scalar_type, typename PriorType::execution_space>& theta,
                               const Vector<typename PriorType::scalar_type, typename PriorType::execution_space>& out,
                               double log_mass, Inside inside) {
  using Scalar = typename PriorType::scalar_type;
  prior.log_prob(space, theta, out);
  space.fence();
  const auto points = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  for (std::size_t i = 0; i < points.extent(0); ++i) {
    if (std::isnan(static_cast<double>(values(i)))) continue;
    values(i) = inside(points, i) ? static_cast<Scalar>(static_cast<double>(values(i)) - log_mass)
                                  : -std::numeric_limits<Scalar>::infinity();
  }
  Kokkos::deep_copy(space, out, values);
  space.fence();
}

} // namespace osbi::detail
