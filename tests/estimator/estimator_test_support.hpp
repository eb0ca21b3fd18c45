// SPDX-License-Identifier: BSD-3-Clause
/// \brief Helpers of the estimator-area tests: a report must fail with a line naming the defect; parameters set from draws.
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace osbi::estimator_test {

/// |a − b| <= tolerance·max(1, |b|): relative for large values, absolute near 0 (where a sum that cancels has no
/// relative accuracy to speak of).
inline bool close(double a, double b, double tolerance) {
  return std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b));
}

/// close() for every entry, and equal lengths.
inline bool all_close(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!close(a[i], b[i], tolerance)) return false;
  return true;
}

/// The report fails and one of its lines contains `expected`.
inline void expect_reported(const testing::ConformanceReport& report, const std::string& defect,
                            const std::string& expected) {
  BOOST_TEST_MESSAGE(defect << ": " << report.summary());
  BOOST_TEST(!report.passed(), defect << " passed the check");
  bool found = false;
  for (const std::string& line : report.failures) found = found || line.find(expected) != std::string::npos;
  BOOST_TEST(found, defect << ": no line contains \"" << expected << "\" in\n" << report.summary());
}

/// Sets a model's parameters to scale·N(0, 1) draws from stream `stream` of the test seed.
template <class Model>
void randomize_parameters(Model& model, std::uint64_t stream, double scale = 0.5) {
  auto host = Kokkos::create_mirror_view(model.parameters());
  const std::vector<double> values = testing::normals(host.extent(0), stream, scale);
  for (std::size_t i = 0; i < host.extent(0); ++i) host(i) = static_cast<typename Model::scalar_type>(values[i]);
  Kokkos::deep_copy(model.parameters(), host);
}

} // namespace osbi::estimator_test
