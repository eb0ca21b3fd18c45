// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConformanceReport: the outcome of a run-time conformance check (check_prior, check_simulator, ...).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace osbi::testing {

/// One readable line per violated requirement; empty when the model conforms. In a Boost.Test case:
///   const auto report = osbi::testing::check_prior(my_prior);
///   BOOST_TEST(report.passed(), report.summary());
struct ConformanceReport {
  std::vector<std::string> failures;

  bool passed() const { return failures.empty(); }

  /// Appends one failure line.
  void fail(std::string line) { failures.push_back(std::move(line)); }

  /// "all checks passed", or the count and one indented line per failure.
  std::string summary() const {
    if (passed()) return "all checks passed";
    std::string text = std::to_string(failures.size()) + (failures.size() == 1 ? " check failed:" : " checks failed:");
    for (const std::string& line : failures)
      text.append("\n  - ").append(line);
    return text;
  }
};

} // namespace osbi::testing
