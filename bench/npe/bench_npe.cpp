// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE training-step throughput of the sbi-default MAF, as ../shared/bench/peer_torch_npe.py
/// --sections throughput times it: pre-shuffled contiguous batches of 10 000 simulations, each step
/// = zero gradients + forward/backward of the mean NLL + clip_grad_norm(5) + Adam, on 1 thread
/// (Kokkos::Serial). Prints a table and `CASE <task> <batch> <samples_per_s>` lines.
#include <osbi/flow/maf.hpp>
#include <osbi/flow/running_moments.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/train/step.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <cstdio>
#include <string>
#include <utility>

namespace {

using Space = Kokkos::Serial;

template <class Task>
void run_task(const std::string& name, const Task& task) {
  const std::size_t n = 10'000;
  Space space;
  osbi::Matrix<float, Space> theta("theta", n, task.theta_dim()), x("x", n, task.x_dim());
  osbi::RandomStream rng(0);
  task.prior().sample(space, rng.next(), theta);
  task.simulate(space, theta, x, rng.next());
  osbi::RunningMoments<float, Space> theta_moments(task.theta_dim()), x_moments(task.x_dim());
  theta_moments.update(space, theta);
  x_moments.update(space, x);
  for (const std::size_t batch : {std::size_t{200}, std::size_t{1024}}) {
    auto maf = osbi::sbi_default_maf<float, Space>(task.theta_dim(), task.x_dim(), 0);
    maf.set_standardization(theta_moments.mean(), theta_moments.standard_deviation(), x_moments.mean(),
                            x_moments.standard_deviation());
    osbi::optim::Adam<float, Space> adam(maf.parameter_count());
    osbi::NllLoss loss;
    const std::size_t batches = n / batch;
    std::size_t step = 0;
    const double seconds = osbi::bench::seconds_per_call(
        [&] {
          const std::size_t b = step++ % batches;
          const auto rows = std::make_pair(b * batch, (b + 1) * batch);
          osbi::TrainingBatch<float, Space> rows_batch;
          rows_batch.theta = Kokkos::subview(theta, rows, Kokkos::ALL);
          rows_batch.x = Kokkos::subview(x, rows, Kokkos::ALL);
          // The library's one step (zero → NLL backward → clip at 5 → Adam), as NPE and the pipeline run it.
          osbi::training_step(maf, loss, adam, space, rows_batch, osbi::RandomStream(0).at(step));
          space.fence();
        },
        1.0, 3, 20);
    const double rate = static_cast<double>(batch) / seconds;
    std::printf("%-16s batch %5zu  %10.0f samples/s  %8.3f ms/step\n", name.c_str(), batch, rate, seconds * 1e3);
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
