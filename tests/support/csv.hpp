// SPDX-License-Identifier: BSD-3-Clause
/// \brief Reads the small numeric CSV files of data/ (a header line, then rows of numbers).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace osbi::testing {

/// The repository's data/ folder: $OSBI_TEST_DATA (set by CTest), else data/ next to the tests.
inline std::filesystem::path data_dir() {
  if (const char* dir = std::getenv("OSBI_TEST_DATA")) return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data";
}

/// Numeric rows of a CSV file with one header line; throws if the file is missing or ragged.
inline std::vector<std::vector<double>> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string line;
  std::getline(in, line); // header
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> row;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) row.push_back(std::stod(field));
    if (!rows.empty() && row.size() != rows.front().size())
      throw std::runtime_error(path.string() + ": ragged row " + std::to_string(rows.size() + 2));
    rows.push_back(std::move(row));
  }
  return rows;
}

} // namespace osbi::testing
