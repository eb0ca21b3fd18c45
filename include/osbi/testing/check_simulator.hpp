// SPDX-License-Identifier: BSD-3-Clause
/// \brief `check_simulator`: run-time conformance of a user's Simulator to the spec in simulator.hpp.
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace osbi::testing {

namespace detail {

/// x of one call, on the host, row-major.
template <class Scalar>
struct SimulatedBatch {
  std::size_t rows = 0, columns = 0;
  std::vector<Scalar> values;
  Scalar operator()(std::size_t row, std::size_t column) const { return values[row * columns + column]; }
};

template <class Scalar>
bool same_value(Scalar a, Scalar b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

template <class Scalar>
bool row_is_finite(const SimulatedBatch<Scalar>& batch, std::size_t row) {
  for (std::size_t j = 0; j < batch.columns; ++j)
    if (!std::isfinite(batch(row, j))) return false;
  return true;
}

template <class Scalar>
bool rows_equal(const SimulatedBatch<Scalar>& a, std::size_t row_a, const SimulatedBatch<Scalar>& b,
                std::size_t row_b) {
  for (std::size_t j = 0; j < a.columns; ++j)
    if (!same_value(a(row_a, j), b(row_b, j))) return false;
  return true;
}

/// Runs simulator.simulate on host θ (rows × D_θ, row-major) with x pre-filled with `fill`.
/// Exceptions propagate.
template <Simulator S>
SimulatedBatch<typename S::scalar_type> run_simulation(S& simulator, const std::vector<double>& theta_values,
                                                       std::size_t rows, BatchRandom rng,
                                                       typename S::scalar_type fill) {
  using Scalar = typename S::scalar_type;
  using ExecutionSpace = typename S::execution_space;
  const std::size_t theta_dim = simulator.theta_dim(), x_dim = simulator.x_dim();
  Matrix<Scalar, ExecutionSpace> theta(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::testing::check_simulator::theta"), rows, theta_dim);
  Matrix<Scalar, ExecutionSpace> x(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::testing::check_simulator::x"),
                                   rows, x_dim);
  auto theta_host = Kokkos::create_mirror_view(theta);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < theta_dim; ++j)
      theta_host(i, j) = static_cast<Scalar>(theta_values[i * theta_dim + j]);
  Kokkos::deep_copy(theta, theta_host);
  Kokkos::deep_copy(x, fill);
  ExecutionSpace space;
  simulator.simulate(space, ConstMatrix<Scalar, ExecutionSpace>(theta), x, rng);
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  SimulatedBatch<Scalar> batch{rows, x_dim, std::vector<Scalar>(rows * x_dim)};
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < x_dim; ++j)
      batch.values[i * x_dim + j] = x_host(i, j);
  return batch;
}

/// Calls simulate with θ of theta_rows × theta_columns and x of x_rows × x_columns, both unmanaged
/// views into buffers large enough for every shape tried, so a simulator that ignores the shapes
/// reads and writes allocated memory. Records a failure unless it throws DimensionMismatch without
/// touching x.
template <Simulator S>
void expect_dimension_mismatch(S& simulator, ConformanceReport& report, const std::string& what, std::size_t theta_rows,
                               std::size_t theta_columns, std::size_t x_rows, std::size_t x_columns,
                               std::size_t buffer_size, BatchRandom rng) {
  using Scalar = typename S::scalar_type;
  using ExecutionSpace = typename S::execution_space;
  using MemorySpace = typename ExecutionSpace::memory_space;
  constexpr Scalar fill = Scalar(-12345);
  Kokkos::View<Scalar*, MemorySpace> theta_buffer("osbi::testing::check_simulator::theta_buffer", buffer_size);
  Kokkos::View<Scalar*, MemorySpace> x_buffer(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::testing::check_simulator::x_buffer"), buffer_size);
  Kokkos::deep_copy(theta_buffer, Scalar(0.5));
  Kokkos::deep_copy(x_buffer, fill);
  const Matrix<Scalar, ExecutionSpace> theta(theta_buffer.data(), theta_rows, theta_columns);
  const Matrix<Scalar, ExecutionSpace> x(x_buffer.data(), x_rows, x_columns);
  ExecutionSpace space;
  try {
    simulator.simulate(space, ConstMatrix<Scalar, ExecutionSpace>(theta), x, rng);
    space.fence();
    report.fail(osbi::detail::concat("check_simulator: ", what, " (theta ", theta_rows, " x ", theta_columns, ", x ",
                                     x_rows, " x ", x_columns, "): simulate did not throw DimensionMismatch"));
    return;
  } catch (const DimensionMismatch&) {
  } catch (const std::exception& error) {
    report.fail(osbi::detail::concat("check_simulator: ", what, ": simulate threw \"", error.what(),
                                     "\" instead of osbi::DimensionMismatch"));
    return;
  } catch (...) {
    report.fail(osbi::detail::concat("check_simulator: ", what,
                                     ": simulate threw a non-std::exception instead of osbi::DimensionMismatch"));
    return;
  }
  space.fence();
  auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_buffer);
  for (std::size_t k = 0; k < buffer_size; ++k) {
    if (!same_value(x_host(k), fill)) {
      report.fail(
          osbi::detail::concat("check_simulator: ", what, ": simulate wrote into x before throwing DimensionMismatch"));
      return;
    }
  }
}

} // namespace detail

/// Checks a Simulator against its spec at θ (any rank-2 View, N × D_θ with N >= 1, values inside the
/// simulator's domain, e.g. draws from its prior; the batches simulated hold these rows twice), with
/// random numbers from `seed`:
///   - theta_dim() and x_dim() are positive; an empty batch is accepted;
///   - a wrong θ width, x width or x row count throws DimensionMismatch before writing x;
///   - every entry of x is written; each row is all finite or all NaN (a failed row is NaN, never
///     partly filled, never ±Inf); not every row fails;
///   - the same BatchRandom gives the same x (NaN matching NaN); another batch's gives another x;
///   - row i depends on θ_i and rng.row(i) only: the first half of the batch simulated alone gives
///     the same rows, and rows with the same θ do not all get the same x.
/// The last two points assume the simulator is stochastic; a deterministic one fails them.
template <Simulator S, class ThetaView>
requires(compat::is_view_v<ThetaView>&& ThetaView::rank == 2) ConformanceReport
    check_simulator(S& simulator, const ThetaView& theta, std::uint64_t seed) {
  using Scalar = typename S::scalar_type;
  ConformanceReport report;
  auto fail = [&report](auto&&... parts) { report.fail(osbi::detail::concat("check_simulator: ", parts...)); };
  const std::size_t theta_dim = simulator.theta_dim(), x_dim = simulator.x_dim();
  if (theta_dim == 0 || x_dim == 0) {
    fail("theta_dim() = ", theta_dim, " and x_dim() = ", x_dim, " must both be > 0");
    return report;
  }
  require_extent(theta.extent(1), theta_dim, "osbi::testing::check_simulator", "theta's column count");
  require(theta.extent(0) >= 1, "osbi::testing::check_simulator", "theta has no rows, needs at least 1");

  // θ as given, twice: row g + i repeats row i (rows with equal θ must still get different x).
  const std::size_t given_rows = theta.extent(0), rows = 2 * given_rows;
  const auto theta_given = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  std::vector<double> theta_values(rows * theta_dim);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < theta_dim; ++j)
      theta_values[i * theta_dim + j] = static_cast<double>(theta_given(i % given_rows, j));

  const RandomStream stream(seed, streams::testing_samples);
  const BatchRandom batch = stream.at(0), other_batch = stream.at(1);

  // Wrong shapes, each one too large so that a simulator that ignores them stays inside the buffers.
  const std::size_t buffer_size = (rows + 1) * (std::max(theta_dim, x_dim) + 1);
  detail::expect_dimension_mismatch(simulator, report, "theta with one column too many", rows, theta_dim + 1, rows,
                                    x_dim, buffer_size, batch);
  detail::expect_dimension_mismatch(simulator, report, "x with one column too many", rows, theta_dim, rows, x_dim + 1,
                                    buffer_size, batch);
  detail::expect_dimension_mismatch(simulator, report, "x with one row more than theta", rows, theta_dim, rows + 1,
                                    x_dim, buffer_size, batch);

  constexpr Scalar first_fill = Scalar(-12345), second_fill = Scalar(54321);
  detail::SimulatedBatch<Scalar> first, second, other, half;
  const std::size_t half_rows = given_rows;
  try {
    first = detail::run_simulation(simulator, theta_values, rows, batch, first_fill);
    second = detail::run_simulation(simulator, theta_values, rows, batch, second_fill);
    other = detail::run_simulation(simulator, theta_values, rows, other_batch, first_fill);
    half = detail::run_simulation(simulator, theta_values, half_rows, batch, first_fill);
  } catch (const std::exception& error) {
    fail("simulate threw on a valid batch of ", rows, " rows: ", error.what());
    return report;
  } catch (...) {
    fail("simulate threw a non-std::exception on a valid batch of ", rows, " rows");
    return report;
  }
  try {
    detail::run_simulation(simulator, theta_values, 0, batch, first_fill);
  } catch (const std::exception& error) {
    fail("simulate threw on an empty batch: ", error.what());
  } catch (...) {
    fail("simulate threw a non-std::exception on an empty batch");
  }

  std::size_t unwritten = 0, partial = 0, failed = 0, irreproducible = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    bool reproducible = true;
    for (std::size_t j = 0; j < x_dim; ++j) {
      if (first(i, j) == first_fill && second(i, j) == second_fill) {
        if (unwritten++ == 0) fail("x(", i, ", ", j, ") was never written (it kept the value x held before the call)");
      } else if (!detail::same_value(first(i, j), second(i, j))) {
        reproducible = false;
      }
    }
    std::size_t nan_entries = 0, finite_entries = 0;
    for (std::size_t j = 0; j < x_dim; ++j) {
      nan_entries += std::isnan(first(i, j)) ? 1 : 0;
      finite_entries += std::isfinite(first(i, j)) ? 1 : 0;
    }
    if (nan_entries == x_dim) ++failed;
    if (finite_entries != x_dim && nan_entries != x_dim && partial++ == 0)
      fail("row ", i, " has ", x_dim - finite_entries, " non-finite entries (", nan_entries, " NaN) of ", x_dim,
           ": a row is either all finite or, when its simulation fails, all NaN");
    if (!reproducible && irreproducible++ == 0)
      fail("row ", i, " differs between two calls with the same BatchRandom (draw only from rng.row(i))");
  }
  if (unwritten > 1) fail(unwritten, " entries of x in all were never written");
  if (partial > 1) fail(partial, " rows in all are partly non-finite");
  if (irreproducible > 1) fail(irreproducible, " rows in all differ between two calls with the same BatchRandom");
  if (failed == rows) {
    fail("every one of the ", rows, " rows is NaN: check θ lies in the simulator's domain");
    return report;
  }

  bool other_differs = false;
  for (std::size_t i = 0; i < rows && !other_differs; ++i)
    if (detail::row_is_finite(first, i) && detail::row_is_finite(other, i) && !detail::rows_equal(first, i, other, i))
      other_differs = true;
  if (!other_differs) fail("a different BatchRandom gave the same x in every finite row: simulate ignores rng");

  // Equal θ may give equal x now and then (discrete outputs); equal x at every repeated θ may not.
  std::size_t finite_pairs = 0, equal_pairs = 0;
  for (std::size_t i = 0; i < given_rows; ++i) {
    if (!detail::row_is_finite(first, i) || !detail::row_is_finite(first, given_rows + i)) continue;
    ++finite_pairs;
    equal_pairs += detail::rows_equal(first, i, first, given_rows + i) ? 1 : 0;
  }
  if (finite_pairs > 0 && equal_pairs == finite_pairs)
    fail("rows i and ", given_rows,
         " + i have the same θ and got the same x for every i: row i must draw from "
         "rng.row(i)");

  for (std::size_t i = 0; i < half_rows; ++i) {
    if (!detail::rows_equal(first, i, half, i)) {
      fail("row ", i, " of a batch of ", half_rows, " differs from row ", i, " of a batch of ", rows,
           " with the same θ and BatchRandom: a row must not depend on the batch size or on other rows");
      break;
    }
  }
  return report;
}

/// As above at n rows of θ drawn uniformly on (0, 1)^D_θ from `seed` (pass θ explicitly for a
/// simulator whose domain does not contain that box).
template <Simulator S>
ConformanceReport check_simulator(S& simulator, std::uint64_t seed, std::size_t n = 64) {
  require(n >= 1, "osbi::testing::check_simulator", "n = ", n, " must be >= 1");
  const std::size_t theta_dim = simulator.theta_dim();
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace> theta("osbi::testing::check_simulator::theta", n,
                                                                       theta_dim);
  const BatchRandom theta_rng = RandomStream(seed, streams::testing_simulator_theta).at(0);
  for (std::size_t i = 0; i < n; ++i) {
    RowRandom generator = theta_rng.row(i);
    for (std::size_t j = 0; j < theta_dim; ++j)
      theta(i, j) = generator.uniform();
  }
  return check_simulator(simulator, theta, seed);
}

} // namespace osbi::testing
