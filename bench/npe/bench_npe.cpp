// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE training-step throughput of the sbi-default MAF, as ../shared/bench/peer_torch_npe.py
/// --sections throughput times it: pre-shuffled contiguous batches of 10 000 simulations, each step
/// = zero gradients + forward/backward of the mean NLL + clip_grad_norm(5) + Adam, on 1 thread
/// (Kokkos::Serial). Prints a table and `CASE <task> <batch> <samples_per_s>` lines.
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/maf_step.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <cstdio>
#include <string>

namespace {

using Space = Kokkos::Serial;

template <class Task>
void run_task(const std::string& name, const Task& task) {
  for (const std::size_t batch : {std::size_t{200}, std::size_t{1024}}) {
    const double rate = osbi::bench::maf_step_samples_per_second<Space>(task, 10'000, batch, 1.0, 3, 20);
    std::printf("%-16s batch %5zu  %10.0f samples/s  %8.3f ms/step\n", name.c_str(), batch, rate,
                1e3 * static_cast<double>(batch) / rate);
    std::printf("CASE %s %zu %.1f\n", name.c_str(), batch, rate);
  }
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::printf("osbi npe benchmark: %s; training steps on Kokkos::Serial (1 thread)\n",
              osbi::bench::kokkos_description().c_str());
  run_task("two_moons", osbi::TwoMoons<float, Space>());
  run_task("gaussian_linear", osbi::GaussianLinear<float, Space>());
  return 0;
}
