// SPDX-License-Identifier: BSD-3-Clause
/// \brief What the conformance checks of estimators, losses and proposals share: expected exceptions, host copies, bitwise comparisons.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace osbi::testing::conformance_detail {

inline constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

/// "" when call() throws ExceptionType (or a type derived from it), else a sentence saying what happened
/// instead. A call that returns normally may have launched: the space is fenced before its views go away.
template <class ExceptionType, class ExecutionSpace, class Call>
std::string expect_throw(const ExecutionSpace& space, const char* expected, Call&& call) {
  try {
    call();
  } catch (const ExceptionType&) {
    return "";
  } catch (const std::exception& error) {
    return osbi::detail::concat("threw \"", error.what(), "\" instead of ", expected);
  } catch (...) {
    return osbi::detail::concat("threw a non-std::exception instead of ", expected);
  }
  space.fence();
  return osbi::detail::concat("did not throw ", expected);
}

/// A rank-1 or rank-2 view's values on the host as doubles, row-major (exact for float and double).
template <class View>
std::vector<double> host_values(const View& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  std::vector<double> values;
  values.reserve(host.size());
  if constexpr (View::rank == 1) {
    for (std::size_t i = 0; i < host.extent(0); ++i) values.push_back(static_cast<double>(host(i)));
  } else {
    for (std::size_t i = 0; i < host.extent(0); ++i)
      for (std::size_t j = 0; j < host.extent(1); ++j) values.push_back(static_cast<double>(host(i, j)));
  }
  return values;
}

/// The same value: equal bits, or both NaN.
inline bool same_value(double a, double b) {
  return std::memcmp(&a, &b, sizeof(double)) == 0 || (std::isnan(a) && std::isnan(b));
}

/// The first of the first `count` entries where a and b are not the same value, or `none`.
inline std::size_t first_difference(const std::vector<double>& a, const std::vector<double>& b, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (i >= a.size() || i >= b.size() || !same_value(a[i], b[i])) return i;
  return none;
}

/// max_i |a_i − factor·b_i| / max(1, |factor·b_i|): 0 for identical buffers, ∞ if a NaN appears.
inline double relative_difference(const std::vector<double>& a, const std::vector<double>& b, double factor = 1.0) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double expected = factor * b[i];
    const double difference = std::abs(a[i] - expected) / std::max(1.0, std::abs(expected));
    if (!(difference <= worst)) worst = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
  }
  return worst;
}

/// The index of the first non-finite value, or `none`.
inline std::size_t first_non_finite(const std::vector<double>& values) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return i;
  return none;
}

/// Host values (row-major) into a new rows × columns device matrix.
template <class Scalar, class ExecutionSpace>
Matrix<Scalar, ExecutionSpace> device_matrix(const std::vector<double>& values, std::size_t rows, std::size_t columns,
                                             const char* what) {
  Matrix<Scalar, ExecutionSpace> device(label("testing", "conformance", what), rows, columns);
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) host(i, j) = static_cast<Scalar>(values[i * columns + j]);
  Kokkos::deep_copy(device, host);
  return device;
}

/// Host values into a new device vector.
template <class Scalar, class ExecutionSpace>
Vector<Scalar, ExecutionSpace> device_vector(const std::vector<double>& values, const char* what) {
  Vector<Scalar, ExecutionSpace> device(label("testing", "conformance", what), values.size());
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = static_cast<Scalar>(values[i]);
  Kokkos::deep_copy(device, host);
  return device;
}

/// rows × columns standard normal values, row i from rng.row(i), row-major on the host.
inline std::vector<double> normal_values(std::size_t rows, std::size_t columns, BatchRandom rng) {
  std::vector<double> values(rows * columns);
  for (std::size_t i = 0; i < rows; ++i) {
    RowRandom generator = rng.row(i);
    for (std::size_t j = 0; j < columns; ++j) values[i * columns + j] = generator.normal();
  }
  return values;
}

/// "row i, column j = v" for flat index `index` of a row-major buffer with `columns` columns.
inline std::string where(const std::vector<double>& values, std::size_t index, std::size_t columns) {
  return osbi::detail::concat("row ", index / columns, ", column ", index % columns, " = ", values[index]);
}

/// The relative tolerance of a comparison between two evaluations of the same quantity by different code paths
/// (a loss from log_prob against the one nll_backward returns): loose enough for float's rounding.
template <class Scalar>
constexpr double evaluation_tolerance() {
  return sizeof(Scalar) >= sizeof(double) ? 1e-10 : 1e-4;
}

} // namespace osbi::testing::conformance_detail
