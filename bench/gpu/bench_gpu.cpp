// SPDX-License-Identifier: BSD-3-Clause
/// \brief GPU benchmarks (#17) on Kokkos::DefaultExecutionSpace (CUDA where enabled, else the host):
/// an FMA-loop peak, dense forward+backward at (4096, 512, 512) as a fraction of it, and the sbi-default
/// MAF training step on two_moons at batch 200, 4096 and 65536. Prints a table line and a
/// `CASE <name> <value>` line per case, which bench/gpu/summarize.py combines with the PyTorch peer.
#include <osbi/nn/kernels/dense.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/dense_step.hpp>
#include <support/flow_step.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

// A host thread's chains are unrolled for the vectorizer; a GPU thread's loop is unrolled so the
// loop counter does not take issue slots from the FMAs. The host pass of a device compilation gets
// neither: nvcc's front end rejects GCC's spelling, GCC rejects CUDA's, and the loop runs on the device.
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
#define OSBI_BENCH_UNROLL_CHAINS _Pragma("unroll")
#define OSBI_BENCH_UNROLL_ITERATIONS _Pragma("unroll 4")
#elif defined(__CUDACC__) || defined(__HIPCC__)
#define OSBI_BENCH_UNROLL_CHAINS
#define OSBI_BENCH_UNROLL_ITERATIONS
#else
#define OSBI_BENCH_UNROLL_CHAINS _Pragma("GCC unroll 16")
#define OSBI_BENCH_UNROLL_ITERATIONS
#endif

namespace {

using Space = Kokkos::DefaultExecutionSpace;
constexpr bool host_space = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Space::memory_space>::accessible;
constexpr double min_seconds = 0.5;

/// Independent FMA chains, no memory traffic: 16 chains of 16 vector lanes per CPU thread (as
/// bench/nn's FmaLoop), 16 scalar chains per GPU thread (the warp is the vector).
struct FmaLoop {
  static constexpr int chains = 16, lanes = host_space ? 16 : 1;
  Kokkos::View<float*, Space::memory_space> out;
  int iterations;

  double flops() const { return 2.0 * chains * lanes * iterations * static_cast<double>(out.extent(0)); }

  KOKKOS_INLINE_FUNCTION void operator()(const int thread) const {
    float acc[chains][lanes];
    for (int i = 0; i < chains; ++i)
      for (int j = 0; j < lanes; ++j)
        acc[i][j] = 1e-3f * static_cast<float>(thread % 1024 + i + j);
    const float scale = 0.9999999f, shift = 1e-7f;
    OSBI_BENCH_UNROLL_ITERATIONS
    for (int it = 0; it < iterations; ++it) {
      OSBI_BENCH_UNROLL_CHAINS
      for (int i = 0; i < chains; ++i) {
        OSBI_BENCH_UNROLL_CHAINS
        for (int j = 0; j < lanes; ++j)
          acc[i][j] = acc[i][j] * scale + shift;
      }
    }
    float sum = 0;
    for (int i = 0; i < chains; ++i)
      for (int j = 0; j < lanes; ++j)
        sum += acc[i][j];
    out(thread) = sum;
  }
};

/// On a GPU, 4 × the resident threads so every SM stays full to the end; on the host, one item per thread.
double fma_peak_gflops() {
  const int threads = host_space ? Space().concurrency() : 4 * Space().concurrency();
  const FmaLoop loop{Kokkos::View<float*, Space::memory_space>("osbi::bench::gpu::fma_out", threads),
                     host_space ? 2'000'000 : 8192};
  const double seconds = osbi::bench::seconds_per_call(
      [&] {
        Kokkos::parallel_for("osbi::bench::gpu::fma_peak", Kokkos::RangePolicy<Space>(0, threads), loop);
        Space().fence();
      },
      min_seconds, 3, 2);
  return loop.flops() / seconds / 1e9;
}

/// The forward product alone (y = x·Wᵀ, 4096 × 512 × 512) through one team tile of the device path,
/// for choosing the tile rule (gemm_tiled_auto) from measurements.
template <class Tile>
double tiled_forward_gflops(std::size_t batch, std::size_t in, std::size_t out) {
  using M = osbi::Matrix<float, Space>;
  M x("x", batch, in), weight("w", out, in), y("y", batch, out);
  osbi::bench::fill(x, 1.0f), osbi::bench::fill(weight, 0.1f);
  Space space;
  const auto a = osbi::nn::kernels::operand(x), b = osbi::nn::kernels::operand(weight).transposed();
  const double seconds = osbi::bench::seconds_per_call(
      [&] {
        osbi::nn::kernels::detail::gemm_tiled<Tile>(space, batch, out, in, a, b, y.data(),
                                                    static_cast<std::ptrdiff_t>(out), osbi::nn::kernels::epilogue::Store{});
        space.fence();
      },
      min_seconds, 3, 3);
  return 2.0 * batch * in * out / seconds / 1e9;
}

/// The sbi-default MAF training step as bench/npe times it (pre-shuffled contiguous batches, zero →
/// NLL backward → clip at 5 → Adam), over 131 072 simulations so that batch 65 536 has two batches.
void run_maf(std::size_t batch) {
  const double rate =
      osbi::bench::maf_step_samples_per_second<Space>(osbi::TwoMoons<float, Space>(), 131'072, batch, min_seconds, 3, 3);
  std::printf("maf two_moons batch %5zu     %12.0f samples/s  %8.3f ms/step\n", batch, rate,
              1e3 * static_cast<double>(batch) / rate);
  std::printf("CASE maf_two_moons_b%zu_samples_per_s %.1f\n", batch, rate);
}

/// A case that fails (an exception from a check) is reported and skipped, so one call still
/// measures the others.
template <class Case>
void guarded(const char* name, Case&& run_case) {
  try {
    run_case();
  } catch (const std::exception& error) {
    std::printf("FAILED %s: %s\n", name, error.what());
  }
  std::fflush(stdout);
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::printf("osbi gpu benchmark: %s\n", osbi::bench::kokkos_description().c_str());
  std::fflush(stdout);
  double peak = 0;
  guarded("peak_fma", [&] {
    peak = fma_peak_gflops();
    std::printf("fp32 FMA-loop peak            %12.1f GFLOP/s\n", peak);
    std::printf("CASE peak_fma_gflops %.3f\n", peak);
  });
  guarded("dense", [&] {
    const std::size_t batch = 4096, in = 512, out = 512;
    const double seconds = osbi::bench::dense_step_seconds<Space>(batch, in, out, min_seconds, 3, 3);
    const double gflops = 3.0 * 2.0 * batch * in * out / seconds / 1e9;
    std::printf("dense 4096x512x512 fwd+bwd    %12.1f GFLOP/s  %8.3f ms/step  %5.1f %% of peak\n", gflops,
                seconds * 1e3, peak > 0 ? 100.0 * gflops / peak : 0.0);
    std::printf("CASE dense_4096x512x512_gflops %.3f\n", gflops);
    if (peak > 0) std::printf("CASE dense_4096x512x512_fraction_of_peak %.4f\n", gflops / peak);
  });
  // The tiled path on a host space runs a team as one thread (correct, very slow): devices only.
  if (!host_space) guarded("tiles", [&] {
    const double large = tiled_forward_gflops<osbi::nn::kernels::LargeTeamTile>(4096, 512, 512);
    const double medium = tiled_forward_gflops<osbi::nn::kernels::MediumTeamTile>(4096, 512, 512);
    const double small = tiled_forward_gflops<osbi::nn::kernels::SmallTeamTile>(4096, 512, 512);
    std::printf("forward 4096x512x512 by team tile: large %.1f, medium %.1f, small %.1f GFLOP/s\n", large, medium,
                small);
    std::printf("CASE tile_large_forward_gflops %.3f\nCASE tile_medium_forward_gflops %.3f\n", large, medium);
    std::printf("CASE tile_small_forward_gflops %.3f\n", small);
  });
  for (const std::size_t batch : {std::size_t{200}, std::size_t{4096}, std::size_t{65536}})
    guarded("maf", [&] { run_maf(batch); });
  return 0;
}
