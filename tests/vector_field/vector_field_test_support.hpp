// SPDX-License-Identifier: BSD-3-Clause
/// \brief Vector field estimators whose field is known exactly: the Gaussian baseline set to gaussian_linear's posterior.
#pragma once

#include <osbi/vector_field/vector_field_estimator.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace osbi::testing {

/// gaussian_linear (prior N(0, 0.1·I), x ~ N(θ, 0.1·I)) has posterior N(x/2, 0.05·I). Setting the estimator's
/// baseline to B = ½·I, b = 0, s = √0.05 (identity z-scoring) with the network's output at 0 (its start) makes the
/// learned field the exact velocity / score of that posterior on the estimator's path.
template <class Estimator>
void set_gaussian_linear_posterior(Estimator& estimator) {
  const std::size_t d = estimator.theta_dim(), k = estimator.context_dim();
  const std::size_t start = estimator.network().parameter_count();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), estimator.parameters());
  for (std::size_t j = 0; j < d; ++j) {
    for (std::size_t c = 0; c < k; ++c) host(start + j * k + c) = j == c ? 0.5 : 0.0;
    host(start + d * k + j) = 0.0;
    host(start + d * k + d + j) = 0.5 * std::log(0.05); // log s, s = √0.05
  }
  Kokkos::deep_copy(estimator.parameters(), host);
}

/// Replaces every network parameter by N(0, scale²) draws: a field far from the baseline, for checks that must hold
/// for any network (normalization of log_prob, gradients).
template <class Estimator>
void randomize_network(Estimator& estimator, std::uint64_t seed, double scale) {
  const std::size_t count = estimator.network().parameter_count();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), estimator.parameters());
  RowRandom random = RandomStream(seed, 77).next().row(0);
  for (std::size_t p = 0; p < count; ++p) host(p) = static_cast<typename Estimator::scalar_type>(scale * random.normal());
  Kokkos::deep_copy(estimator.parameters(), host);
}

} // namespace osbi::testing
