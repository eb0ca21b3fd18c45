// SPDX-License-Identifier: BSD-3-Clause
/// \brief C2ST of an estimator's draws against reference samples, and the sbibm two_moons check the NPE tests share.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/diagnostics/c2st.hpp>

#include <bench/support/sbibm_data.hpp>
#include <support/csv.hpp>

#include <Eigen/Dense>

#include <cstddef>
#include <cstdint>

namespace osbi::testing {

/// C2ST (sbibm's definition, diagnostics/c2st.hpp) of draws — any host-readable N × D view — against `reference`.
template <class Draws>
double c2st_of_draws(const Eigen::MatrixXd& reference, const Draws& draws) {
  Eigen::MatrixXd samples(static_cast<Eigen::Index>(draws.extent(0)), static_cast<Eigen::Index>(draws.extent(1)));
  for (std::size_t i = 0; i < draws.extent(0); ++i)
    for (std::size_t j = 0; j < draws.extent(1); ++j)
      samples(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<double>(draws(i, j));
  return diagnostics::c2st(reference, samples);
}

struct TwoMoonsScore {
  double c2st = 1.0;
  std::size_t epochs = 0;
};

/// sbibm's two_moons at 10⁴ simulations: `npe` (built on the task) simulates, trains with its defaults and draws
/// 10⁴ samples at observation 1; C2ST against the shipped reference posterior.
template <class Npe>
TwoMoonsScore two_moons_c2st(Npe& npe, std::uint64_t seed) {
  npe.simulate(10'000);
  const auto& report = npe.train();
  const bench::SbibmObservation observation(data_dir(), "two_moons", 1);
  RandomStream rng(seed, 3);
  const auto theta = npe.sample(observation.observation(), 10'000, rng);
  return {c2st_of_draws(observation.reference_samples(), theta), report.epochs};
}

} // namespace osbi::testing
