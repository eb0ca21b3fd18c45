// SPDX-License-Identifier: BSD-3-Clause
/// \brief Reads the sbibm reference data shipped in data/sbibm (observations and bzip2'd reference samples).
#pragma once

#include <osbi/io/npy.hpp>

#include <Eigen/Dense>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace osbi::bench {

/// A matrix of samples (any Kokkos view, any space) as an Eigen matrix in double: what c2st compares.
template <class View>
Eigen::MatrixXd to_eigen(const View& samples) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), samples);
  Eigen::MatrixXd out(host.extent(0), host.extent(1));
  for (std::size_t i = 0; i < host.extent(0); ++i)
    for (std::size_t j = 0; j < host.extent(1); ++j) out(i, j) = static_cast<double>(host(i, j));
  return out;
}

/// Posterior draws saved by a peer (NumPy .npy, float64, n × columns: the sbi peers' draws) as an Eigen matrix.
inline Eigen::MatrixXd read_npy_draws(const std::string& file, std::size_t columns) {
  const auto draws = osbi::read_npy<double>(file);
  if (draws.rank() != 2 || draws.shape[1] != columns)
    throw std::invalid_argument(file + ": expected an (n, " + std::to_string(columns) + ") array");
  // NumPy's C order is Eigen's row-major layout.
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      draws.data.data(), static_cast<Eigen::Index>(draws.shape[0]), static_cast<Eigen::Index>(columns));
}

/// The non-empty items of a comma-separated command-line value ("a,b,,c" → a, b, c).
inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) if (!part.empty()) parts.push_back(part);
  return parts;
}

/// Rows of a numeric CSV text with one header line; throws on a ragged row.
inline Eigen::MatrixXd parse_csv(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line); // header
  std::vector<double> values;
  std::size_t rows = 0, columns = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string field;
    std::size_t count = 0;
    while (std::getline(fields, field, ',')) values.push_back(std::stod(field)), ++count;
    if (rows == 0) columns = count;
    if (count != columns) throw std::runtime_error(name + ": ragged row " + std::to_string(rows + 2));
    ++rows;
  }
  if (rows == 0) throw std::runtime_error(name + ": no data rows");
  Eigen::MatrixXd out(rows, columns);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) out(i, j) = values[i * columns + j];
  return out;
}

/// The whole output of a shell command (used for `bzcat`); throws if it fails.
inline std::string command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string text;
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, got);
  if (pclose(pipe) != 0 || text.empty()) throw std::runtime_error("failed (is bzip2 installed?): " + command);
  return text;
}

/// data/sbibm/<task>/num_observation_<k>/.
struct SbibmObservation {
  std::filesystem::path folder;

  SbibmObservation(const std::filesystem::path& data, const std::string& task, int observation)
      : folder(data / "sbibm" / task / ("num_observation_" + std::to_string(observation))) {}

  std::vector<double> observation() const {
    std::ifstream in(folder / "observation.csv");
    if (!in) throw std::runtime_error("cannot open " + (folder / "observation.csv").string());
    std::stringstream text;
    text << in.rdbuf();
    const Eigen::MatrixXd row = parse_csv(text.str(), (folder / "observation.csv").string());
    return std::vector<double>(row.data(), row.data() + row.size());
  }

  /// The 10 000 reference posterior samples (rows).
  Eigen::MatrixXd reference_samples() const {
    const auto path = folder / "reference_posterior_samples.csv.bz2";
    if (!std::filesystem::exists(path)) throw std::runtime_error("missing " + path.string());
    return parse_csv(command_output("bzcat '" + path.string() + "'"), path.string());
  }
};

} // namespace osbi::bench
