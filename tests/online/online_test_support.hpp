// SPDX-License-Identifier: BSD-3-Clause
/// \brief The online tests' simulator: x = θ + 0.5·ε in two dimensions, so that with a N(0, I) prior the posterior is
/// N(0.8·x, 0.2·I) in closed form; and the options of a buffer for such (θ, x) rows.
#pragma once

#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/core/random.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace osbi::online_test {

struct NoisyIdentity {
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 2; }
  void simulate(std::span<const double> theta, std::span<double> x, RowRandom& rng) const {
    for (std::size_t j = 0; j < 2; ++j) x[j] = theta[j] + 0.5 * rng.normal();
  }
};

/// A buffer of `capacity` rows of 2-D θ and 2-D x.
inline BufferOptions buffer_options(std::size_t capacity, std::uint64_t seed) {
  BufferOptions options;
  options.capacity = capacity;
  options.theta_dim = 2;
  options.x_dim = 2;
  options.seed = seed;
  return options;
}

} // namespace osbi::online_test
