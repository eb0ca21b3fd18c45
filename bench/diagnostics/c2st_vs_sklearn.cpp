// SPDX-License-Identifier: BSD-3-Clause
/// \brief Writes C2ST sample pairs as .npy and prints osbi's C2ST for each; scripts/validate_c2st.py
/// runs scikit-learn (sbibm's recipe) on the same files and compares.
// Usage: osbi_c2st_vs_sklearn <output_dir> [data_dir] [case...]
//   Prints one line per case: "CASE <name> osbi <c2st> seconds <t> epochs <e0,...>".
#include <osbi/diagnostics/c2st.hpp>
#include <osbi/io/npy.hpp>

#include <osbi/core/random.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A bzip2-compressed CSV with one header line (the sbibm reference posteriors), read through bzcat.
Eigen::MatrixXd read_bz2_csv(const std::filesystem::path& path) {
  const std::string command = "bzcat '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string text;
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, got);
  if (pclose(pipe) != 0) throw std::runtime_error(command + " failed");
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> row;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) row.push_back(std::stod(field));
    rows.push_back(row);
  }
  Eigen::MatrixXd result(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.front().size()));
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j)
      result(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = rows[i][j];
  return result;
}

Eigen::MatrixXd normal_samples(std::size_t n, std::size_t dim, std::uint64_t seed, double shift) {
  osbi::RowRandom generator = osbi::RandomStream(seed).next().row(0);
  Eigen::MatrixXd result(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < result.rows(); ++i)
    for (Eigen::Index j = 0; j < result.cols(); ++j) result(i, j) = generator.normal() + (j == 0 ? shift : 0.0);
  return result;
}

void write(const std::filesystem::path& path, const Eigen::MatrixXd& samples) {
  const RowMatrix row_major = samples;
  osbi::write_npy(path, row_major.data(),
                  {static_cast<std::size_t>(samples.rows()), static_cast<std::size_t>(samples.cols())});
}

struct Case {
  std::string name;
  Eigen::MatrixXd reference, approximate;
};

} // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " <output_dir> [data_dir] [case...]\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const std::filesystem::path data = argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::path("data");
  std::vector<std::string> wanted(argv + std::min(argc, 3), argv + argc);
  std::filesystem::create_directories(out);

  const Eigen::MatrixXd moons = read_bz2_csv(data / "sbibm/two_moons/num_observation_1/reference_posterior_samples.csv.bz2");
  const Eigen::MatrixXd linear =
      read_bz2_csv(data / "sbibm/gaussian_linear/num_observation_1/reference_posterior_samples.csv.bz2");
  const Eigen::Index half_moons = moons.rows() / 2, half_linear = linear.rows() / 2;
  const Eigen::RowVectorXd moons_std =
      ((moons.rowwise() - moons.colwise().mean()).array().square().colwise().mean()).sqrt();

  std::vector<Case> cases;
  // Two independent halves of the same reference posterior: C2ST ≈ 0.5.
  cases.push_back({"two_moons_halves", moons.topRows(half_moons), moons.bottomRows(half_moons)});
  // Second half shifted by 0.5 std in θ1: a moderately distinguishable pair.
  {
    Eigen::MatrixXd shifted = moons.bottomRows(half_moons);
    shifted.col(0).array() += 0.5 * moons_std(0);
    cases.push_back({"two_moons_shift_0.5sd", moons.topRows(half_moons), shifted});
  }
  // Second half blurred by N(0, (0.3 std)²) noise: wider moons.
  {
    Eigen::MatrixXd blurred = moons.bottomRows(half_moons);
    osbi::RowRandom generator = osbi::RandomStream(7).next().row(0);
    for (Eigen::Index i = 0; i < blurred.rows(); ++i)
      for (Eigen::Index j = 0; j < blurred.cols(); ++j) blurred(i, j) += 0.3 * moons_std(j) * generator.normal();
    cases.push_back({"two_moons_blur_0.3sd", moons.topRows(half_moons), blurred});
  }
  // 1-D Gaussians, shift 1: Bayes accuracy Φ(0.5) = 0.6915.
  cases.push_back({"normal_1d_shift1", normal_samples(10000, 1, 11, 0.0), normal_samples(10000, 1, 12, 1.0)});
  // 10-D: gaussian_linear reference halves (≈ 0.5), and the second half with θ1 shifted by 0.5 std.
  cases.push_back({"gaussian_linear_halves", linear.topRows(half_linear), linear.bottomRows(half_linear)});
  {
    Eigen::MatrixXd shifted = linear.bottomRows(half_linear);
    shifted.col(0).array() += 0.5 * std::sqrt(0.05);
    cases.push_back({"gaussian_linear_shift_0.5sd", linear.topRows(half_linear), shifted});
  }

  for (const Case& c : cases) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), c.name) == wanted.end()) continue;
    write(out / (c.name + "_reference.npy"), c.reference);
    write(out / (c.name + "_approximate.npy"), c.approximate);
    const auto start = std::chrono::steady_clock::now();
    const osbi::diagnostics::C2stReport report = osbi::diagnostics::c2st_report(c.reference, c.approximate);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "CASE " << c.name << " osbi " << report.accuracy << " seconds " << seconds << " epochs ";
    for (std::size_t k = 0; k < report.fold_epochs.size(); ++k) std::cout << (k ? "," : "") << report.fold_epochs[k];
    std::cout << " folds ";
    for (std::size_t k = 0; k < report.fold_accuracies.size(); ++k)
      std::cout << (k ? "," : "") << report.fold_accuracies[k];
    std::cout << std::endl;
  }
  return 0;
}
