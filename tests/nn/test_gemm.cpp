// SPDX-License-Identifier: BSD-3-Clause
/// \brief The dense kernels (packed micro-kernel and portable paths) against a serial double-precision
/// reference on edge shapes around the register tile and the K block, outputs filled with NaN first.
#include <osbi/nn/kernels/dense.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

namespace {

using osbi::nn::kernels::GemmAlgorithm;
using HostSpace = Kokkos::DefaultHostExecutionSpace;

template <class Scalar>
using HostMatrix = osbi::Matrix<Scalar, HostSpace>;

template <class Scalar>
HostMatrix<Scalar> random_matrix(std::size_t rows, std::size_t columns, std::mt19937_64& engine, double zero_fraction = 0) {
  HostMatrix<Scalar> m("osbi::test::m", rows, columns);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::bernoulli_distribution zero(zero_fraction);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) m(i, j) = zero(engine) ? Scalar(0) : static_cast<Scalar>(uniform(engine));
  return m;
}

template <class Scalar>
HostMatrix<Scalar> filled(std::size_t rows, std::size_t columns, Scalar value) {
  HostMatrix<Scalar> m("osbi::test::filled", rows, columns);
  Kokkos::deep_copy(m, value);
  return m;
}

/// |got − want| <= tolerance · scale for every entry, where scale is Σ_k |a||b| of that entry (so
/// cancellation cannot hide a wrong result behind a small tolerance).
template <class Scalar>
void check_close(const HostMatrix<Scalar>& got, const std::vector<double>& want, const std::vector<double>& scale,
                 const char* what) {
  const double tolerance = std::is_same_v<Scalar, float> ? 2e-6 : 1e-14;
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.extent(0); ++i)
    for (std::size_t j = 0; j < got.extent(1); ++j) {
      const std::size_t e = i * got.extent(1) + j;
      const double error = std::abs(static_cast<double>(got(i, j)) - want[e]);
      const double allowed = tolerance * (scale[e] + 1.0);
      if (!(error <= allowed)) ++bad; // also catches NaN
      worst = std::max(worst, error / (scale[e] + 1.0));
    }
  BOOST_TEST(bad == 0u, what << ": " << bad << " entries off; worst scaled error " << worst);
}

struct Shape {
  std::size_t batch, in, out;
};

// Edges of the 6 × (32 | 16) register tile and of the 512-deep K block, in every role:
// batch is m of the forward, in is k of the forward and n of the input gradient, out is n of the
// forward and k of the input gradient, batch is k of the weight gradient.
const Shape shapes[] = {{0, 3, 4},    {3, 0, 4},    {3, 4, 0},    {1, 1, 1},     {5, 7, 31},   {6, 32, 32},
                        {7, 33, 33},  {13, 15, 16}, {12, 17, 17}, {200, 52, 50}, {37, 64, 65}, {511, 9, 10},
                        {512, 10, 9}, {513, 3, 40}, {70, 1100, 3}, {4, 513, 1100}};

template <class Scalar>
void check_dense_kernels(GemmAlgorithm algorithm, bool masked) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  constexpr Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  HostSpace space;
  osbi::nn::kernels::GemmWorkspace<Scalar, HostSpace> workspace;
  for (const Shape& s : shapes) {
    BOOST_TEST_CONTEXT("batch " << s.batch << " in " << s.in << " out " << s.out << (masked ? " masked" : "")) {
      const auto x = random_matrix<Scalar>(s.batch, s.in, engine);
      const auto weight = random_matrix<Scalar>(s.out, s.in, engine);
      const auto grad_z = random_matrix<Scalar>(s.batch, s.out, engine);
      const auto bias_matrix = random_matrix<Scalar>(1, s.out, engine);
      const osbi::Vector<Scalar, HostSpace> bias(bias_matrix.data(), s.out);
      HostMatrix<Scalar> mask;
      if (masked) {
        mask = random_matrix<Scalar>(s.out, s.in, engine);
        for (std::size_t o = 0; o < s.out; ++o)
          for (std::size_t i = 0; i < s.in; ++i) mask(o, i) = (o * 7 + i * 3) % 3 == 0 ? Scalar(0) : Scalar(1);
      }
      const auto m = [&](std::size_t o, std::size_t i) { return masked ? static_cast<double>(mask(o, i)) : 1.0; };

      // Forward with bias and a fused tanh: y = tanh(x·(W⊙M)ᵀ + b).
      auto y = filled<Scalar>(s.batch, s.out, nan);
      osbi::nn::kernels::dense_forward<osbi::nn::activation::Tanh>(space, x, weight, bias, y, workspace, mask, algorithm);
      space.fence();
      std::vector<double> want(s.batch * s.out), scale(s.batch * s.out);
      for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t o = 0; o < s.out; ++o) {
          double z = bias(o), magnitude = std::abs(double(bias(o)));
          for (std::size_t i = 0; i < s.in; ++i) {
            z += double(x(b, i)) * double(weight(o, i)) * m(o, i);
            magnitude += std::abs(double(x(b, i)) * double(weight(o, i)) * m(o, i));
          }
          want[b * s.out + o] = std::tanh(z);
          scale[b * s.out + o] = magnitude;
        }
      check_close(y, want, scale, "forward");

      // Forward without bias, no activation.
      auto y_plain = filled<Scalar>(s.batch, s.out, nan);
      osbi::nn::kernels::dense_forward(space, x, weight, osbi::Vector<Scalar, HostSpace>(), y_plain, workspace, mask,
                                       algorithm);
      space.fence();
      for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t o = 0; o < s.out; ++o) {
          double z = 0;
          for (std::size_t i = 0; i < s.in; ++i) z += double(x(b, i)) * double(weight(o, i)) * m(o, i);
          want[b * s.out + o] = z;
        }
      check_close(y_plain, want, scale, "forward without bias");

      // Input gradient: grad_x = grad_z·(W⊙M), overwriting NaN.
      auto grad_x = filled<Scalar>(s.batch, s.in, nan);
      osbi::nn::kernels::dense_backward_input(space, grad_z, weight, grad_x, workspace, mask, algorithm);
      space.fence();
      std::vector<double> want_x(s.batch * s.in), scale_x(s.batch * s.in);
      for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t i = 0; i < s.in; ++i) {
          double sum = 0, magnitude = 0;
          for (std::size_t o = 0; o < s.out; ++o) {
            sum += double(grad_z(b, o)) * double(weight(o, i)) * m(o, i);
            magnitude += std::abs(double(grad_z(b, o)) * double(weight(o, i)));
          }
          want_x[b * s.in + i] = sum, scale_x[b * s.in + i] = magnitude;
        }
      check_close(grad_x, want_x, scale_x, "backward input");

      // Parameter gradients accumulate onto what is there (0.25 everywhere).
      auto grad_weight = filled<Scalar>(s.out, s.in, Scalar(0.25));
      auto grad_bias_matrix = filled<Scalar>(1, s.out, Scalar(0.25));
      const osbi::Vector<Scalar, HostSpace> grad_bias(grad_bias_matrix.data(), s.out);
      osbi::nn::kernels::dense_backward_parameters(space, grad_z, x, grad_weight, grad_bias, workspace, mask, algorithm);
      space.fence();
      std::vector<double> want_w(s.out * s.in), scale_w(s.out * s.in), want_b(s.out), scale_b(s.out);
      for (std::size_t o = 0; o < s.out; ++o) {
        double bias_sum = 0.25, bias_magnitude = 0;
        for (std::size_t b = 0; b < s.batch; ++b)
          bias_sum += double(grad_z(b, o)), bias_magnitude += std::abs(double(grad_z(b, o)));
        want_b[o] = bias_sum, scale_b[o] = bias_magnitude;
        for (std::size_t i = 0; i < s.in; ++i) {
          double sum = 0, magnitude = 0;
          for (std::size_t b = 0; b < s.batch; ++b)
            sum += double(grad_z(b, o)) * double(x(b, i)), magnitude += std::abs(double(grad_z(b, o)) * double(x(b, i)));
          want_w[o * s.in + i] = 0.25 + sum * m(o, i);
          scale_w[o * s.in + i] = magnitude;
        }
      }
      check_close(grad_weight, want_w, scale_w, "backward weight");
      check_close(grad_bias_matrix, want_b, scale_b, "backward bias");
      if (masked) { // a masked weight's gradient is exactly untouched
        std::size_t moved = 0;
        for (std::size_t o = 0; o < s.out; ++o)
          for (std::size_t i = 0; i < s.in; ++i) moved += (mask(o, i) == Scalar(0) && grad_weight(o, i) != Scalar(0.25));
        BOOST_TEST(moved == 0u);
      }
    }
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(dense_kernels)

using Scalars = std::tuple<float, double>;

BOOST_AUTO_TEST_CASE_TEMPLATE(packed_path_matches_reference, Scalar, Scalars) {
  check_dense_kernels<Scalar>(GemmAlgorithm::packed, false);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(portable_path_matches_reference, Scalar, Scalars) {
  check_dense_kernels<Scalar>(GemmAlgorithm::portable, false);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(masked_kernels_match_reference, Scalar, Scalars) {
  check_dense_kernels<Scalar>(GemmAlgorithm::packed, true);
  check_dense_kernels<Scalar>(GemmAlgorithm::portable, true);
}

// The host GEMM's thread partition, for thread counts this machine cannot run: every register tile
// belongs to exactly one block, no more blocks than threads, and a thread is idle only when there are
// fewer tiles than threads or the grid does not divide.
BOOST_AUTO_TEST_CASE(host_partition_covers_every_tile_once) {
  for (std::size_t threads = 1; threads <= 9; ++threads)
    for (std::size_t rows = 1; rows <= 12; ++rows)
      for (std::size_t columns = 1; columns <= 12; ++columns) {
        BOOST_TEST_CONTEXT("threads " << threads << " row panels " << rows << " column panels " << columns) {
          const auto part = osbi::nn::kernels::detail::host_partition(threads, rows, columns);
          const std::size_t blocks = part.column_groups * part.row_groups;
          BOOST_TEST(blocks >= 1u);
          BOOST_TEST(blocks <= threads);
          BOOST_TEST(blocks >= std::min(threads, columns)); // never fewer column blocks than possible
          std::vector<int> owners(rows * columns, 0);
          for (std::size_t g = 0; g < blocks; ++g) {
            const std::size_t q_begin = (g % part.column_groups) * part.group_columns;
            const std::size_t p_begin = (g / part.column_groups) * part.group_rows;
            for (std::size_t q = q_begin; q < std::min(columns, q_begin + part.group_columns); ++q)
              for (std::size_t p = p_begin; p < std::min(rows, p_begin + part.group_rows); ++p) ++owners[p * columns + q];
          }
          BOOST_TEST(std::count(owners.begin(), owners.end(), 1) == static_cast<std::ptrdiff_t>(rows * columns));
        }
      }
}

BOOST_AUTO_TEST_CASE(serial_and_openmp_agree_bitwise) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  const auto x = random_matrix<float>(100, 70, engine), weight = random_matrix<float>(40, 70, engine);
  osbi::nn::kernels::GemmWorkspace<float, Kokkos::Serial> serial_workspace;
  osbi::nn::kernels::GemmWorkspace<float, HostSpace> host_workspace;
  auto y_serial = filled<float>(100, 40, 0.f), y_host = filled<float>(100, 40, 1.f);
  osbi::nn::kernels::dense_forward(Kokkos::Serial(), x, weight, osbi::Vector<float, Kokkos::Serial>(), y_serial,
                                   serial_workspace);
  osbi::nn::kernels::dense_forward(HostSpace(), x, weight, osbi::Vector<float, HostSpace>(), y_host, host_workspace);
  HostSpace().fence();
  std::size_t differ = 0;
  for (std::size_t i = 0; i < 100; ++i)
    for (std::size_t j = 0; j < 40; ++j) differ += y_serial(i, j) != y_host(i, j);
  BOOST_TEST(differ == 0u);
}

BOOST_AUTO_TEST_CASE(shape_errors_name_both_sizes) {
  HostMatrix<float> x("x", 4, 3), weight("w", 5, 2), y("y", 4, 5);
  osbi::nn::kernels::GemmWorkspace<float, HostSpace> workspace;
  try {
    osbi::nn::kernels::dense_forward(HostSpace(), x, weight, osbi::Vector<float, HostSpace>(), y, workspace);
    BOOST_FAIL("no exception");
  } catch (const osbi::DimensionMismatch& error) {
    BOOST_TEST(std::string(error.what()) ==
               "osbi::nn::dense_forward: x's column count (must equal weight's in) has 3, expected 2");
  }
  HostMatrix<float> grad_x("gx", 4, 3), grad_z("gz", 4, 5);
  BOOST_CHECK_THROW(osbi::nn::kernels::dense_backward_input(HostSpace(), grad_z, weight, grad_x, workspace),
                    osbi::DimensionMismatch);
  HostMatrix<float> grad_weight("gw", 5, 2);
  osbi::Vector<float, HostSpace> grad_bias("gb", 4);
  BOOST_CHECK_THROW(
      osbi::nn::kernels::dense_backward_parameters(HostSpace(), grad_z, HostMatrix<float>("x2", 4, 2), grad_weight,
                                                   grad_bias, workspace),
      osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_SUITE_END()
