// SPDX-License-Identifier: BSD-3-Clause
/// \brief NPE on one thread (Kokkos::Serial), as bench/npe/run.sh compares it with the PyTorch peer and the real sbi:
///   steps  training-step throughput of sbi's default MAF and NSF and of the centered NSF, as
///          ../shared/bench/peer_torch_npe.py --sections throughput and peer_sbi_npe.py time it: pre-shuffled
///          contiguous batches of 10 000 simulations, each step = zero gradients + forward/backward of the mean
///          NLL + clip_grad_norm(5) + Adam        → `CASE <task> <batch> <samples/s>` (the MAF, the torch peer's
///          name) and `STEP <flow> <task> <batch> <samples/s> <flops/sample>`, after `PEAK <GFLOP/s>`
///   run    a whole two_moons 10⁴ run per flow (MAF, centered NSF): simulate, train with sbi's recipe (the default
///          TrainingOptions), 10 000 draws for observation 1, C2ST against the reference
///                                               → `RUN <flow> <wall s> <c2st> <epochs>`
///   profile  where one step's time goes (MAF, NSF, centered NSF; batch 200 and 1 024): each Kokkos kernel label's
///          wall time per step through Kokkos' tool callbacks (support/kernel_profile.hpp), over steps after the
///          timed ones          → `PROFILE <flow> <batch> <label> <µs/step> <launches/step>` and
///                                `PROFILE_STEP <flow> <batch> <µs/step> <µs/step inside kernels>`
/// `--c2st a.npy b.npy …` instead scores other draws (the sbi peer's) against the same reference
///                                               → `C2ST <file stem> <c2st>`.
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/inference/npe.hpp>
#include <osbi/simulator/gaussian_linear.hpp>
#include <osbi/simulator/two_moons.hpp>

#include <support/flow_step.hpp>
#include <support/fma_peak.hpp>
#include <support/sbibm_data.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using osbi::bench::StepFlow;

/// A rough count of the step's flops per sample: 6 per parameter (the forward product, the weight gradient and the
/// input gradient, 2 each). Splines, activations and Adam are left out, and MADE's masked weights are counted as
/// the dense kernels run them.
template <class Task>
double step_flops_per_sample(StepFlow flow, const Task& task) {
  const std::size_t d = task.theta_dim(), c = task.x_dim();
  std::size_t parameters = 0;
  switch (flow) {
  case StepFlow::maf: parameters = osbi::sbi_default_maf<float, Space>(d, c, 0).parameter_count(); break;
  case StepFlow::nsf: parameters = osbi::sbi_default_nsf<float, Space>(d, c, 0).parameter_count(); break;
  case StepFlow::centered_nsf: parameters = osbi::centered_nsf<float, Space>(d, c, 0).parameter_count(); break;
  }
  return 6.0 * static_cast<double>(parameters);
}

template <class Task>
void run_steps(const std::string& task_name, const Task& task, std::initializer_list<StepFlow> flows) {
  for (const StepFlow flow : flows)
    for (const std::size_t batch : {std::size_t{200}, std::size_t{1024}}) {
      const double rate = osbi::bench::flow_step_samples_per_second<Space>(flow, task, 10'000, batch, 1.0, 3, 20);
      const double flops = step_flops_per_sample(flow, task);
      std::printf("%-16s %-13s batch %5zu  %10.0f samples/s  %8.3f ms/step  %6.2f GFLOP/s\n", task_name.c_str(),
                  osbi::bench::flow_name(flow).c_str(), batch, rate, 1e3 * static_cast<double>(batch) / rate,
                  rate * flops / 1e9);
      if (flow == StepFlow::maf) std::printf("CASE %s %zu %.1f\n", task_name.c_str(), batch, rate);
      std::printf("STEP %s %s %zu %.1f %.0f\n", osbi::bench::flow_name(flow).c_str(), task_name.c_str(), batch, rate,
                  flops);
      std::fflush(stdout);
    }
}

void profile_steps(const std::string& task_name, const auto& task) {
  for (const StepFlow flow : {StepFlow::maf, StepFlow::nsf, StepFlow::centered_nsf})
    for (const std::size_t batch : {std::size_t{200}, std::size_t{1024}}) {
      const std::size_t steps = batch == 200 ? 400 : 80;
      const auto timing = osbi::bench::flow_step_timing<Space>(flow, task, 10'000, batch, 0.3, 1, 20, steps);
      const auto& profile = timing.profile;
      const double per_step = 1e6 / static_cast<double>(steps);
      const std::string name = osbi::bench::flow_name(flow);
      std::printf("%s %s batch %zu: %.1f µs/step, %.1f µs in %zu kernel labels\n", task_name.c_str(), name.c_str(), batch,
                  profile.seconds * per_step, profile.seconds_in_kernels() * per_step, profile.kernels.size());
      osbi::bench::print_profile(name, batch, profile);
    }
}

template <class Flow>
void whole_run(const std::string& name, Flow flow, const osbi::bench::SbibmObservation& observation) {
  const osbi::TwoMoons<float, Space> task;
  const auto start = std::chrono::steady_clock::now();
  osbi::NPE npe(task.prior(), task, std::move(flow), osbi::NpeOptions{.seed = 1});
  npe.simulate(10'000);
  const auto& report = npe.train();
  osbi::RandomStream rng(1, 3);
  const auto theta = npe.sample(observation.observation(), 10'000, rng);
  const double seconds = osbi::bench::seconds_since(start);
  const double accuracy = osbi::diagnostics::c2st(observation.reference_samples(), osbi::bench::to_eigen(theta));
  std::printf("two_moons 10^4 %-13s %8.1f s  %4zu epochs  C2ST %.4f\n", name.c_str(), seconds, report.epochs, accuracy);
  std::printf("RUN %s %.2f %.4f %zu\n", name.c_str(), seconds, accuracy, report.epochs);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::vector<std::string> sections{"steps", "run"}, c2st_files;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--kokkos", 0) == 0) continue;
    if (key == "--c2st") {
      sections.clear();
      while (i + 1 < argc) c2st_files.emplace_back(argv[++i]);
    } else if (key == "--sections" && i + 1 < argc) {
      sections = osbi::bench::split_list(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: osbi_bench_npe [--sections steps,run,profile] [--c2st draws.npy ...]\n");
      return 2;
    }
  }
  const osbi::bench::SbibmObservation observation(std::filesystem::path(OSBI_REPOSITORY_DATA), "two_moons", 1);
  for (const auto& file : c2st_files) {
    const double accuracy =
        osbi::diagnostics::c2st(observation.reference_samples(), osbi::bench::read_npy_draws(file, 2));
    std::printf("C2ST %s %.4f\n", std::filesystem::path(file).stem().c_str(), accuracy);
  }
  const auto wants = [&](const char* section) {
    return std::find(sections.begin(), sections.end(), section) != sections.end();
  };
  if (wants("steps")) {
    std::printf("osbi npe benchmark: %s; training steps on Kokkos::Serial (1 thread)\n",
                osbi::bench::kokkos_description().c_str());
    std::printf("PEAK %.3f\n", osbi::bench::fma_peak_gflops<Space>());
    run_steps("two_moons", osbi::TwoMoons<float, Space>(), {StepFlow::maf, StepFlow::nsf, StepFlow::centered_nsf});
    run_steps("gaussian_linear", osbi::GaussianLinear<float, Space>(), {StepFlow::maf});
  }
  if (wants("profile")) profile_steps("two_moons", osbi::TwoMoons<float, Space>());
  if (wants("run")) {
    whole_run("maf", osbi::sbi_default_maf<float, Space>(2, 2, 1), observation);
    whole_run("centered_nsf", osbi::centered_nsf<float, Space>(2, 2, 1), observation);
  }
  return 0;
}
