// SPDX-License-Identifier: BSD-3-Clause
/// \brief Helpers of the layer tests: random inputs, host copies, and a double-precision dense reference.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::testing::layers {

/// A rows × columns host matrix, row-major, in double.
struct HostMatrix {
  std::size_t rows = 0, columns = 0;
  std::vector<double> values;
  double operator()(std::size_t r, std::size_t c) const { return values[r * columns + c]; }
  double& operator()(std::size_t r, std::size_t c) { return values[r * columns + c]; }
};

/// Standard-normal entries (times `scale`) from the test seed and `stream`; entries with
/// |x| < keep_away_from_zero are pushed out to ±keep_away_from_zero (keeps ReLU/ELU off their kink).
inline HostMatrix random_host(std::size_t rows, std::size_t columns, std::uint64_t stream, double scale = 1.0,
                              double keep_away_from_zero = 0.0) {
  HostMatrix m{rows, columns, std::vector<double>(rows * columns)};
  const BatchRandom rng = RandomStream(test_seed(), stream).next();
  for (std::size_t r = 0; r < rows; ++r) {
    RowRandom generator = rng.row(r);
    for (std::size_t c = 0; c < columns; ++c) {
      double x = scale * generator.normal();
      if (std::abs(x) < keep_away_from_zero) x = x < 0 ? -keep_away_from_zero : keep_away_from_zero;
      m(r, c) = x;
    }
  }
  return m;
}

/// Device copy of a host matrix, rounded to Scalar.
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
Matrix<Scalar, ExecutionSpace> to_device(const HostMatrix& m) {
  Matrix<Scalar, ExecutionSpace> device("osbi::test::matrix", m.rows, m.columns);
  auto host = Kokkos::create_mirror_view(device);
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.columns; ++c)
      host(r, c) = static_cast<Scalar>(m(r, c));
  Kokkos::deep_copy(device, host);
  return device;
}

/// Host copy (in double) of any rank-2 view.
template <class View>
HostMatrix to_host(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  HostMatrix m{view.extent(0), view.extent(1), std::vector<double>(view.extent(0) * view.extent(1))};
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.columns; ++c)
      m(r, c) = static_cast<double>(host(r, c));
  return m;
}

/// Host copy (in double) of a rank-1 view.
template <class View>
std::vector<double> to_host_vector(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  std::vector<double> values(view.extent(0));
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<double>(host(i));
  return values;
}

/// A rows × columns device matrix full of NaN (so an entry a kernel forgets to write shows).
template <class Scalar, class ExecutionSpace = DefaultExecutionSpace>
Matrix<Scalar, ExecutionSpace> nan_matrix(std::size_t rows, std::size_t columns) {
  Matrix<Scalar, ExecutionSpace> m(Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::test::nan"), rows, columns);
  Kokkos::deep_copy(m, std::numeric_limits<Scalar>::quiet_NaN());
  return m;
}

/// what() of the DimensionMismatch that `call` throws, or a line saying what happened instead.
template <class Call>
std::string mismatch_message(Call&& call) {
  try {
    call();
  } catch (const DimensionMismatch& error) {
    return error.what();
  } catch (const std::exception& error) {
    return std::string("a different exception: ") + error.what();
  }
  return "no exception";
}

/// Whether a require_extent message shows both sizes ("... has 6, expected 5").
inline bool names_both(const std::string& message, std::size_t actual, std::size_t expected) {
  return message.find("has " + std::to_string(actual) + ", expected " + std::to_string(expected)) != std::string::npos;
}

/// A layer bound to its own flat buffers (what a Network does) and initialized from `rng`.
template <class LayerType>
struct Bound {
  using Scalar = typename LayerType::scalar_type;
  using ExecutionSpace = typename LayerType::execution_space;
  LayerType layer;
  Vector<Scalar, ExecutionSpace> parameters, gradients;

  template <class... Args>
  explicit Bound(BatchRandom rng, const Args&... args)
      : layer(args...), parameters("osbi::test::parameters", layer.parameter_count()),
        gradients("osbi::test::gradients", layer.parameter_count()) {
    layer.bind(parameters, gradients);
    layer.initialize(ExecutionSpace(), rng);
    ExecutionSpace().fence();
  }
};

/// The generator of stream `stream` of the test seed.
inline BatchRandom test_rng(std::uint64_t stream) { return RandomStream(test_seed(), stream).next(); }

/// The activations in plain double precision with std:: functions (independent of the kernels).
namespace reference {
inline double identity(double x) { return x; }
inline double relu(double x) { return x > 0 ? x : 0.0; }
inline double tanh(double x) { return std::tanh(x); }
inline double gelu(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
inline double elu(double x) { return x > 0 ? x : std::expm1(x); }
} // namespace reference

/// y = f(x · (W ⊙ M)ᵀ + b) in double on the host; W out × in row-major, M empty or out × in.
template <class Function>
HostMatrix dense_reference(const HostMatrix& x, const std::vector<double>& weight, const std::vector<double>& bias,
                           std::size_t out, Function f, const std::vector<double>& mask = {}) {
  const std::size_t in = x.columns;
  HostMatrix y{x.rows, out, std::vector<double>(x.rows * out)};
  for (std::size_t r = 0; r < x.rows; ++r)
    for (std::size_t o = 0; o < out; ++o) {
      double total = bias.empty() ? 0.0 : bias[o];
      for (std::size_t i = 0; i < in; ++i)
        total += x(r, i) * weight[o * in + i] * (mask.empty() ? 1.0 : mask[o * in + i]);
      y(r, o) = f(total);
    }
  return y;
}

/// Largest |a − b| / (1 + |b|) over the entries (shapes must agree; a NaN gives infinity).
inline double max_relative_difference(const HostMatrix& a, const HostMatrix& b) {
  if (a.rows != b.rows || a.columns != b.columns) return std::numeric_limits<double>::infinity();
  double worst = 0.0;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    const double d = std::abs(a.values[i] - b.values[i]) / (1.0 + std::abs(b.values[i]));
    if (!(d <= worst)) worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
  }
  return worst;
}

/// Relative accuracy expected of a forward pass in Scalar against the double reference (a few
/// dozen roundings of O(1) terms).
template <class Scalar>
constexpr double forward_tolerance() {
  return std::is_same_v<Scalar, float> ? 2e-5 : 1e-12;
}

} // namespace osbi::testing::layers
