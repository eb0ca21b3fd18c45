// SPDX-License-Identifier: BSD-3-Clause
/// \brief Moving test data between host vectors and device views, and seeded normal draws for test inputs and weights.
#pragma once

#include <support/test_seed.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace osbi::testing {

/// Row-major host values → a rows × columns device matrix of Scalar.
template <class Scalar, class Space = DefaultExecutionSpace>
Matrix<Scalar, Space> device_matrix(const std::vector<double>& values, std::size_t rows, std::size_t columns) {
  Matrix<Scalar, Space> device("osbi::testing::device_matrix", rows, columns);
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < columns; ++c)
      host(r, c) = static_cast<Scalar>(values[r * columns + c]);
  Kokkos::deep_copy(device, host);
  return device;
}

/// Host values → a device vector of Scalar.
template <class Scalar, class Space = DefaultExecutionSpace>
Vector<Scalar, Space> device_vector(const std::vector<double>& values) {
  Vector<Scalar, Space> device("osbi::testing::device_vector", values.size());
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t i = 0; i < values.size(); ++i)
    host(i) = static_cast<Scalar>(values[i]);
  Kokkos::deep_copy(device, host);
  return device;
}

/// A rank-1 or rank-2 view's values on the host, as double, row-major.
template <class View>
std::vector<double> host_values(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  std::vector<double> values;
  if constexpr (View::rank == 1) {
    for (std::size_t i = 0; i < host.extent(0); ++i)
      values.push_back(static_cast<double>(host(i)));
  } else {
    for (std::size_t i = 0; i < host.extent(0); ++i)
      for (std::size_t j = 0; j < host.extent(1); ++j)
        values.push_back(static_cast<double>(host(i, j)));
  }
  return values;
}

/// `count` draws of scale·N(0, 1) from row 0 of stream `stream` of the test seed.
inline std::vector<double> normals(std::size_t count, std::uint64_t stream, double scale = 1.0) {
  RowRandom generator = RandomStream(test_seed(), stream).next().row(0);
  std::vector<double> values(count);
  for (auto& value : values)
    value = scale * generator.normal();
  return values;
}

/// `count` >= 3 per-row loss weights for a weighted backward pass: 0.5 + N(0, 1) from stream `stream` of the test
/// seed, with entry 0 set to 0 and entry 1 to −|entry 1| − 0.25 (so some are negative, one is zero).
inline std::vector<double> signed_weights(std::size_t count, std::uint64_t stream) {
  std::vector<double> values = normals(count, stream);
  for (auto& value : values)
    value += 0.5;
  values[0] = 0.0;
  values[1] = -(values[1] < 0 ? -values[1] : values[1]) - 0.25;
  return values;
}

} // namespace osbi::testing
