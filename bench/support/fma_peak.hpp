// SPDX-License-Identifier: BSD-3-Clause
/// \brief The host's fp32 FMA peak, as a loop of independent FMAs that no GEMM can beat: the
/// yardstick for every "fraction of peak" the benchmarks print.
#pragma once

#include <osbi/nn/kernels/gemm.hpp>

#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>

namespace osbi::bench {

namespace detail {

// The widest vector the compiler was given (-march decides), the width the GEMM's register tile is
// built from: the peak is measured in the vectors a kernel built with the same flags can use.
inline constexpr int peak_vector_bytes = osbi::nn::kernels::host_vector_bytes;
typedef float PeakVector __attribute__((vector_size(peak_vector_bytes)));
inline constexpr int peak_lanes = peak_vector_bytes / static_cast<int>(sizeof(float));

/// `Chains` independent accumulator vectors, each updated by one FMA per iteration, no memory
/// traffic. Explicit vectors (GCC/Clang extensions), not loops left to the vectorizer: the old probe's
/// 16×16 float loop spilled on AVX2's 16 registers and read 43 GFLOP/s where a GEMM reached 49.
template <int Chains>
struct FmaChains {
  Kokkos::View<float*, Kokkos::HostSpace> out;
  std::size_t iterations;
  void operator()(const int thread) const {
    PeakVector acc[Chains];
    for (int i = 0; i < Chains; ++i) acc[i] = 1e-3f * static_cast<float>(thread + i) - PeakVector{};
    const PeakVector scale = 0.9999999f - PeakVector{}, shift = 1e-7f - PeakVector{};
    for (std::size_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 32
      for (int i = 0; i < Chains; ++i) acc[i] = acc[i] * scale + shift;
    }
    float sum = 0;
    for (int i = 0; i < Chains; ++i)
      for (int lane = 0; lane < peak_lanes; ++lane) sum += acc[i][lane];
    out(thread) = sum;
  }
};

template <int Chains, class Space>
double fma_chains_gflops() {
  const int threads = Space().concurrency();
  Kokkos::View<float*, Kokkos::HostSpace> out("osbi::bench::fma_out", threads);
  const std::size_t iterations = 20'000'000 / Chains;
  const double seconds = seconds_per_call(
      [&] {
        Kokkos::parallel_for("osbi::bench::fma_peak", Kokkos::RangePolicy<Space>(0, threads),
                             FmaChains<Chains>{out, iterations});
        Space().fence();
      },
      0.2, 5, 2);
  return 2.0 * peak_lanes * Chains * static_cast<double>(iterations) * threads / seconds / 1e9;
}

} // namespace detail

/// fp32 FMA-loop peak of `Space` (all its threads) in GFLOP/s: the best of 8, 10 and 12 independent
/// chains per thread (a core needs FMA latency × FMA ports of them: 8 to 10 on the x86 cores we meet;
/// 12 plus two constants still fit AVX2's 16 registers), and 16 and 24 with AVX-512's 32 registers.
template <class Space>
double fma_peak_gflops() {
  double best = std::max({detail::fma_chains_gflops<8, Space>(), detail::fma_chains_gflops<10, Space>(),
                          detail::fma_chains_gflops<12, Space>()});
#if defined(__AVX512F__)
  best = std::max({best, detail::fma_chains_gflops<16, Space>(), detail::fma_chains_gflops<24, Space>()});
#endif
  return best;
}

} // namespace osbi::bench
