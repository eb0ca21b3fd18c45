// SPDX-License-Identifier: BSD-3-Clause
/// \brief The seed of every stochastic test: OSBI_TEST_SEED if set, else a fixed default (printed by the main).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace osbi::testing {

inline std::uint64_t test_seed() {
  static const std::uint64_t seed = [] {
    const char* text = std::getenv("OSBI_TEST_SEED");
    return text ? std::stoull(text) : std::uint64_t{20261126};
  }();
  return seed;
}

} // namespace osbi::testing
