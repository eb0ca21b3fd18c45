// SPDX-License-Identifier: BSD-3-Clause
/// \brief Benchmark timing: fenced, repeated windows, medians.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace osbi::bench {

/// Seconds per call of `step` (which must fence its own work): warm-up, then `repeats` windows of
/// at least `min_seconds` each; the median window's time per call.
template <class Step>
double seconds_per_call(Step&& step, double min_seconds = 0.3, int repeats = 5, int warmup = 5) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> windows;
  for (int r = 0; r < repeats; ++r) {
    std::size_t calls = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      step();
      ++calls;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < min_seconds);
    windows.push_back(elapsed / static_cast<double>(calls));
  }
  std::sort(windows.begin(), windows.end());
  return windows[windows.size() / 2];
}

/// Wall seconds since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline std::string kokkos_description() {
  return "Kokkos " + std::to_string(KOKKOS_VERSION / 10000) + "." + std::to_string(KOKKOS_VERSION / 100 % 100) + "." +
         std::to_string(KOKKOS_VERSION % 100) + ", default space " + Kokkos::DefaultExecutionSpace::name() + " (" +
         std::to_string(Kokkos::DefaultExecutionSpace().concurrency()) + " threads)";
}

} // namespace osbi::bench
