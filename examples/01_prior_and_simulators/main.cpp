// SPDX-License-Identifier: BSD-3-Clause
/// \brief Example 01: sample each sbibm task's prior, run its simulator in batches, account for every
/// simulation, print summary statistics and write θ, x and the per-row status as .npy files.
///
///   osbi_example_01_prior_and_simulators [--output DIR] [--simulations N] [--batch B] [--seed S] [--quick]
#include <osbi/osbi.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::filesystem::path output = "demo-output";
  std::size_t simulations = 100'000;
  std::size_t batch = 10'000;
  std::uint64_t seed = 1;
};

Options parse(int argc, char* argv[]) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      osbi::require(i + 1 < argc, "example 01", flag, " needs a value");
      return argv[++i];
    };
    if (flag == "--output") options.output = value();
    else if (flag == "--simulations") options.simulations = std::stoull(value());
    else if (flag == "--batch") options.batch = std::stoull(value());
    else if (flag == "--seed") options.seed = std::stoull(value());
    else if (flag == "--quick") options.simulations = 2'000, options.batch = 1'000;
    else if (flag.rfind("--kokkos", 0) == 0) continue; // Kokkos' own flags
    else throw osbi::InvalidArgument("example 01", "unknown flag " + flag);
  }
  osbi::require(options.simulations > 0 && options.batch > 0, "example 01", "--simulations and --batch must be > 0");
  return options;
}

/// Per-column mean and standard deviation over the rows marked ok.
struct ColumnSummary {
  std::vector<double> mean, standard_deviation;
};

ColumnSummary summarize(const std::vector<float>& values, std::size_t columns, const std::vector<std::uint8_t>& status) {
  ColumnSummary summary{std::vector<double>(columns, 0.0), std::vector<double>(columns, 0.0)};
  std::vector<double> sum_squares(columns, 0.0);
  double rows = 0;
  for (std::size_t row = 0; row < status.size(); ++row) {
    if (status[row] != 0) continue;
    rows += 1;
    for (std::size_t c = 0; c < columns; ++c) {
      const double v = values[row * columns + c];
      summary.mean[c] += v;
      sum_squares[c] += v * v;
    }
  }
  for (std::size_t c = 0; c < columns; ++c) {
    summary.mean[c] /= rows;
    summary.standard_deviation[c] = std::sqrt(std::max(0.0, sum_squares[c] / rows - summary.mean[c] * summary.mean[c]));
  }
  return summary;
}

void print_columns(std::ostream& out, const char* name, const ColumnSummary& summary) {
  out << "    " << name << " mean:";
  for (double m : summary.mean) out << ' ' << std::showpos << std::fixed << std::setprecision(3) << m;
  out << std::noshowpos << "\n    " << name << " sd:  ";
  for (double s : summary.standard_deviation) out << ' ' << std::fixed << std::setprecision(3) << s;
  out << '\n';
}

/// Samples the task's prior, simulates in batches and writes <name>_theta.npy, <name>_x.npy and
/// <name>_status.npy (0 ok, 1 threw, 2 non-finite: see osbi::SimulationStatus).
template <class Task>
void run_task(const std::string& name, Task& task, const Options& options, std::ostream& summary_file) {
  using Space = typename Task::execution_space;
  Space space;
  const auto prior = task.prior();
  osbi::RandomStream prior_rng(options.seed, /*stream=*/0);
  osbi::RandomStream simulator_rng(options.seed, /*stream=*/1);

  const std::size_t n = options.simulations, d_theta = task.theta_dim(), d_x = task.x_dim();
  std::vector<float> theta_all, x_all;
  std::vector<std::uint8_t> status_all;
  theta_all.reserve(n * d_theta), x_all.reserve(n * d_x), status_all.reserve(n);
  osbi::SimulationCounts counts;

  const auto start = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < n; done += options.batch) {
    const std::size_t rows = std::min(options.batch, n - done);
    osbi::Matrix<float, Space> theta("osbi::example::theta", rows, d_theta);
    osbi::Matrix<float, Space> x("osbi::example::x", rows, d_x);
    prior.sample(space, prior_rng.next(), theta);
    task.simulate(space, theta, x, simulator_rng.next());
    const osbi::SimulationReport report = osbi::classify_rows(space, theta, x);
    counts += report.counts();

    const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    theta_all.insert(theta_all.end(), theta_host.data(), theta_host.data() + rows * d_theta);
    x_all.insert(x_all.end(), x_host.data(), x_host.data() + rows * d_x);
    for (std::size_t row = 0; row < rows; ++row) status_all.push_back(static_cast<std::uint8_t>(report.status(row)));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  osbi::write_npy(options.output / (name + "_theta.npy"), theta_all.data(), {n, d_theta});
  osbi::write_npy(options.output / (name + "_x.npy"), x_all.data(), {n, d_x});
  osbi::write_npy(options.output / (name + "_status.npy"), status_all.data(), {n});

  std::ostringstream text;
  text << name << ": " << n << " simulations in " << std::fixed << std::setprecision(3) << seconds << " s ("
       << std::setprecision(0) << n / seconds << "/s), theta " << d_theta << "-d, x " << d_x << "-d\n"
       << "    accounting: " << counts.summary() << '\n';
  print_columns(text, "theta", summarize(theta_all, d_theta, status_all));
  print_columns(text, "x    ", summarize(x_all, d_x, status_all));
  std::cout << text.str() << std::flush;
  summary_file << text.str();
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  try {
    const Options options = parse(argc, argv);
    std::filesystem::create_directories(options.output);
    std::ofstream summary_file(options.output / "summary.txt");
    std::cout << "osbi example 01: priors and simulators on " << Kokkos::DefaultExecutionSpace::name() << " ("
              << Kokkos::DefaultExecutionSpace().concurrency() << " threads), seed " << options.seed << ", output "
              << options.output << "\n";

    osbi::GaussianLinear<float> gaussian_linear;
    osbi::TwoMoons<float> two_moons;
    osbi::LotkaVolterra<float> lotka_volterra;
    run_task("gaussian_linear", gaussian_linear, options, summary_file);
    run_task("two_moons", two_moons, options, summary_file);
    run_task("lotka_volterra", lotka_volterra, options, summary_file);
    std::cout << "wrote " << options.output / "*_{theta,x,status}.npy" << " and summary.txt\n";
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
