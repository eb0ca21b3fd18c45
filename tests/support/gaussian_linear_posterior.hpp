// SPDX-License-Identifier: BSD-3-Clause
/// \brief gaussian_linear's closed-form posterior in flow tests: the paired held-out NLL gap of a density, and
/// the sample mean and covariance of posterior draws.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/simulator/gaussian_linear.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace osbi::testing {

/// Mean over `pairs` fresh (θ, x) of log p(θ | x) − log q(θ | x), with θ from the task's prior (stream 64 of
/// `seed`) and x from its simulator (stream 65): the paired estimate of KL(p ‖ q) averaged over x. The
/// posterior is N(w·x, w·noise_variance·I) with w = prior_variance / (prior_variance + noise_variance).
template <class Scalar, class Space, class Density>
double gaussian_linear_heldout_gap(const GaussianLinear<Scalar, Space>& task, Density& density, std::uint64_t seed,
                                   std::size_t pairs = 2000) {
  const std::size_t dim = task.theta_dim();
  Matrix<Scalar, Space> theta("osbi::testing::heldout_theta", pairs, dim), x("osbi::testing::heldout_x", pairs, dim);
  task.prior().sample(Space(), RandomStream(seed, 64).next(), theta);
  task.simulate(Space(), theta, x, RandomStream(seed, 65).next());
  Vector<Scalar, Space> log_q("osbi::testing::heldout_log_q", pairs);
  density.log_prob(Space(), theta, x, log_q);
  const auto t = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto xs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), log_q);
  const double weight = task.prior_variance() / (task.prior_variance() + task.noise_variance());
  const double variance = weight * task.noise_variance();
  double gap = 0;
  for (std::size_t i = 0; i < pairs; ++i) {
    double exact = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      const double r = static_cast<double>(t(i, j)) - weight * static_cast<double>(xs(i, j));
      exact += -0.5 * std::log(2 * M_PI * variance) - r * r / (2 * variance);
    }
    gap += (exact - static_cast<double>(q(i))) / static_cast<double>(pairs);
  }
  return gap;
}

/// Sample mean and (n − 1)-normalized covariance of the rows of `draws` (n × d).
struct SampleMoments {
  std::vector<double> mean;
  std::vector<std::vector<double>> covariance;
};

template <class View>
SampleMoments sample_moments(const View& draws) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), draws);
  const std::size_t n = host.extent(0), d = host.extent(1);
  SampleMoments moments{std::vector<double>(d, 0.0), std::vector<std::vector<double>>(d, std::vector<double>(d, 0.0))};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      moments.mean[j] += static_cast<double>(host(i, j)) / static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < d; ++a)
      for (std::size_t b = 0; b < d; ++b)
        moments.covariance[a][b] += (static_cast<double>(host(i, a)) - moments.mean[a]) *
                                    (static_cast<double>(host(i, b)) - moments.mean[b]) / static_cast<double>(n - 1);
  return moments;
}

} // namespace osbi::testing
