// SPDX-License-Identifier: BSD-3-Clause
/// \brief The dense kernels (packed micro-kernel, team-tiled and portable paths) against a serial
/// double-precision reference on edge shapes around the register tile, the team blocks and the K
/// block, outputs filled with NaN first; on every backend (tests/support/backends.hpp).
#include <osbi/nn/kernels/dense.hpp>

#include <support/backends.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using osbi::nn::kernels::GemmAlgorithm;
using osbi::testing::to_host;
using osbi::testing::to_space;
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
template <class View>
void check_close(const View& got, const std::vector<double>& want, const std::vector<double>& scale, const char* what) {
  using Scalar = typename View::non_const_value_type;
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

// Edges of the 6 × (8 | 16 | 32 floats) register tile and of the 512-deep K block, in every role:
// batch is m of the forward, in is k of the forward and n of the input gradient, out is n of the
// forward and k of the input gradient, batch is k of the weight gradient. {600, 20, 120} is a weight
// gradient whose transposed A is read in place over two K blocks (C too narrow to pack it); {1100, 256, 257}
// one large enough that its A is packed a k block at a time (≥ 1 MiB; three K blocks, a last row panel of 5
// rows, a last k chunk of 12); {3000, 100, 20} a forward with an A larger than L2, run row panel outermost and
// split over threads by rows. The last three are weight gradients split along K (k_chunk_count): 2 chunks at the
// threshold, 4 chunks of 1 025 rows (K blocks of 342 and 341), 8 chunks of a transposed problem (in = 3: Cᵀ = Bᵀ·Aᵀ).
const Shape shapes[] = {{0, 3, 4},    {3, 0, 4},     {3, 4, 0},    {1, 1, 1},      {5, 7, 31},   {6, 32, 32},
                        {7, 33, 33},  {13, 15, 16},  {12, 17, 17}, {200, 52, 50},  {37, 64, 65}, {511, 9, 10},
                        {512, 10, 9}, {513, 3, 40},  {70, 1100, 3}, {4, 513, 1100}, {600, 20, 120},
                        {1100, 256, 257}, {3000, 100, 20}, {2048, 20, 30}, {4100, 40, 70}, {9000, 3, 33}};

/// A rows × columns matrix in Space's memory filled with `value`.
template <class Scalar, class Space>
osbi::Matrix<Scalar, Space> space_filled(std::size_t rows, std::size_t columns, Scalar value) {
  osbi::Matrix<Scalar, Space> m("osbi::test::space_filled", rows, columns);
  Kokkos::deep_copy(m, value);
  return m;
}

template <class Scalar, class Space>
void check_dense_kernels(GemmAlgorithm algorithm, bool masked) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  constexpr Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  Space space;
  osbi::nn::kernels::GemmWorkspace<Scalar, Space> workspace;
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
      const osbi::Matrix<Scalar, Space> x_s = to_space<Space>(x), weight_s = to_space<Space>(weight),
                                        grad_z_s = to_space<Space>(grad_z), bias_s = to_space<Space>(bias_matrix);
      const osbi::Matrix<Scalar, Space> mask_s = masked ? osbi::Matrix<Scalar, Space>(to_space<Space>(mask))
                                                        : osbi::Matrix<Scalar, Space>();
      const osbi::Vector<Scalar, Space> bias_vector_s(bias_s.data(), s.out);

      // Forward with bias and a fused tanh: y = tanh(x·(W⊙M)ᵀ + b).
      const auto y_s = space_filled<Scalar, Space>(s.batch, s.out, nan);
      osbi::nn::kernels::dense_forward<osbi::nn::activation::Tanh>(space, x_s, weight_s, bias_vector_s, y_s, workspace,
                                                                   mask_s, algorithm);
      const auto y = to_host(y_s);
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
      const auto y_plain_s = space_filled<Scalar, Space>(s.batch, s.out, nan);
      osbi::nn::kernels::dense_forward(space, x_s, weight_s, osbi::Vector<Scalar, Space>(), y_plain_s, workspace, mask_s,
                                       algorithm);
      const auto y_plain = to_host(y_plain_s);
      for (std::size_t b = 0; b < s.batch; ++b)
        for (std::size_t o = 0; o < s.out; ++o) {
          double z = 0;
          for (std::size_t i = 0; i < s.in; ++i) z += double(x(b, i)) * double(weight(o, i)) * m(o, i);
          want[b * s.out + o] = z;
        }
      check_close(y_plain, want, scale, "forward without bias");

      // Input gradient: grad_x = grad_z·(W⊙M), overwriting NaN.
      const auto grad_x_s = space_filled<Scalar, Space>(s.batch, s.in, nan);
      osbi::nn::kernels::dense_backward_input(space, grad_z_s, weight_s, grad_x_s, workspace, mask_s, algorithm);
      const auto grad_x = to_host(grad_x_s);
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
      const auto grad_weight_s = space_filled<Scalar, Space>(s.out, s.in, Scalar(0.25));
      const auto grad_bias_matrix_s = space_filled<Scalar, Space>(1, s.out, Scalar(0.25));
      const osbi::Vector<Scalar, Space> grad_bias_s(grad_bias_matrix_s.data(), s.out);
      osbi::nn::kernels::dense_backward_parameters(space, grad_z_s, x_s, grad_weight_s, grad_bias_s, workspace, mask_s,
                                                   algorithm);
      const auto grad_weight = to_host(grad_weight_s);
      const auto grad_bias_matrix = to_host(grad_bias_matrix_s);
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

// Each algorithm in float and double on every backend (packed is a host path: a device space runs
// the portable one for it).
BOOST_AUTO_TEST_CASE_TEMPLATE(packed_path_matches_reference, Space, osbi::testing::Backends) {
  check_dense_kernels<float, Space>(GemmAlgorithm::packed, false);
  check_dense_kernels<double, Space>(GemmAlgorithm::packed, false);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(portable_path_matches_reference, Space, osbi::testing::Backends) {
  check_dense_kernels<float, Space>(GemmAlgorithm::portable, false);
  check_dense_kernels<double, Space>(GemmAlgorithm::portable, false);
}

// On a host space the team-tiled path runs a team as one thread, which restages every slice for each of
// its register tiles (hundreds of times the work): correct but slow, so the host checks it on one
// backend; a device space, where it is the default path, checks everything.
template <class Space>
constexpr bool checks_tiled_path =
    osbi::testing::is_device_space<Space> || std::is_same_v<Space, Kokkos::DefaultHostExecutionSpace>;

BOOST_AUTO_TEST_CASE_TEMPLATE(tiled_path_matches_reference, Space, osbi::testing::Backends) {
  if constexpr (checks_tiled_path<Space>) {
    check_dense_kernels<float, Space>(GemmAlgorithm::tiled, false);
    check_dense_kernels<double, Space>(GemmAlgorithm::tiled, false);
  }
}

// What dense layers run by default (packed on a host space, tiled on a device).
BOOST_AUTO_TEST_CASE_TEMPLATE(default_path_matches_reference, Space, osbi::testing::Backends) {
  check_dense_kernels<float, Space>(GemmAlgorithm::automatic, false);
  check_dense_kernels<float, Space>(GemmAlgorithm::automatic, true);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(masked_kernels_match_reference, Space, osbi::testing::Backends) {
  for (const GemmAlgorithm algorithm : {GemmAlgorithm::packed, GemmAlgorithm::tiled, GemmAlgorithm::portable}) {
    if (algorithm == GemmAlgorithm::tiled && !checks_tiled_path<Space>) continue;
    check_dense_kernels<float, Space>(algorithm, true);
    check_dense_kernels<double, Space>(algorithm, true);
  }
}

// The device path's three team tiles and its split-K accumulation, run here on the host through the
// same portable code (one thread walks every register tile of a team): edges around each block and
// K slice, A row-major or transposed, B row-major or transposed (a layer's Wᵀ).
template <class Tile, class Space>
void check_team_tile() {
  using osbi::nn::kernels::Operand;
  std::mt19937_64 engine(osbi::testing::test_seed());
  Space space;
  const std::array<std::array<std::size_t, 3>, 6> problems{{{1, 1, 1},
                                                             {Tile::block_rows - 1, Tile::block_columns + 1, 3},
                                                             {Tile::block_rows + 1, 5, Tile::block_depth + 1},
                                                             {7, 2 * Tile::block_columns + 3, 2 * Tile::block_depth - 1},
                                                             {Tile::block_rows + 2, 9, 40 * Tile::block_depth + 5},
                                                             {3, 4, 0}}};
  for (const auto& [m, n, k] : problems)
    for (const bool a_transposed : {false, true})
      for (const bool b_transposed : {false, true})
        for (const std::size_t splits : {std::size_t{1}, std::size_t{3}}) {
          BOOST_TEST_CONTEXT("m " << m << " n " << n << " k " << k << " Aᵀ " << a_transposed << " Bᵀ " << b_transposed
                                  << " splits " << splits) {
            const auto a_store = a_transposed ? random_matrix<double>(k, m, engine) : random_matrix<double>(m, k, engine);
            const auto b_store = b_transposed ? random_matrix<double>(n, k, engine) : random_matrix<double>(k, n, engine);
            Operand<double> a = osbi::nn::kernels::operand(a_store), b = osbi::nn::kernels::operand(b_store);
            if (a_transposed) a = a.transposed();
            if (b_transposed) b = b.transposed();
            std::vector<double> want(m * n), scale(m * n);
            for (std::size_t i = 0; i < m; ++i)
              for (std::size_t j = 0; j < n; ++j)
                for (std::size_t kk = 0; kk < k; ++kk) {
                  want[i * n + j] += a(i, kk) * b(kk, j);
                  scale[i * n + j] += std::abs(a(i, kk) * b(kk, j));
                }
            // The same operands over the space's copies of the matrices.
            const osbi::Matrix<double, Space> a_s = to_space<Space>(a_store), b_s = to_space<Space>(b_store);
            Operand<double> a_space = osbi::nn::kernels::operand(a_s), b_space = osbi::nn::kernels::operand(b_s);
            if (a_transposed) a_space = a_space.transposed();
            if (b_transposed) b_space = b_space.transposed();
            if (splits == 1) { // overwriting NaN
              const auto c = space_filled<double, Space>(m, n, std::numeric_limits<double>::quiet_NaN());
              osbi::nn::kernels::detail::gemm_tiled<Tile>(space, m, n, k, a_space, b_space, c.data(),
                                                          static_cast<std::ptrdiff_t>(n), osbi::nn::kernels::epilogue::Store{});
              check_close(to_host(c), want, scale, "store");
            }
            const auto c = space_filled<double, Space>(m, n, 0.25); // accumulating, K split over `splits` teams
            osbi::nn::kernels::detail::gemm_tiled<Tile>(space, m, n, k, a_space, b_space, c.data(),
                                                        static_cast<std::ptrdiff_t>(n),
                                                        osbi::nn::kernels::epilogue::Accumulate{}, splits);
            for (double& w : want) w += 0.25;
            check_close(to_host(c), want, scale, "accumulate");
          }
        }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(team_tiles_and_split_k_match_reference, Space, osbi::testing::Backends) {
  if constexpr (!checks_tiled_path<Space>) return;
  check_team_tile<osbi::nn::kernels::LargeTeamTile, Space>();
  check_team_tile<osbi::nn::kernels::MediumTeamTile, Space>();
  check_team_tile<osbi::nn::kernels::SmallTeamTile, Space>();
}

// Splitting K adds partial results with atomics: only an accumulating, linear epilogue may do it.
BOOST_AUTO_TEST_CASE(split_k_rejects_an_overwriting_epilogue) {
  HostSpace space;
  auto a = filled<float>(2, 2, 1.0f), c = filled<float>(2, 2, 0.0f);
  BOOST_CHECK_THROW(osbi::nn::kernels::detail::gemm_tiled<osbi::nn::kernels::SmallTeamTile>(
                        space, 2, 2, 2, osbi::nn::kernels::operand(a), osbi::nn::kernels::operand(a), c.data(), 2,
                        osbi::nn::kernels::epilogue::Store{}, 2),
                    osbi::InvalidArgument);
}

// The host GEMM's thread partition, for thread counts this machine cannot run: every register tile
// belongs to exactly one block, no more blocks than threads, and a thread is idle only when there are
// fewer tiles than threads or the grid does not divide.
BOOST_AUTO_TEST_CASE(host_partition_covers_every_tile_once) {
  for (const bool rows_first : {false, true}) {
    for (std::size_t threads = 1; threads <= 9; ++threads)
      for (std::size_t rows = 1; rows <= 12; ++rows)
        for (std::size_t columns = 1; columns <= 12; ++columns) {
          BOOST_TEST_CONTEXT("threads " << threads << " row panels " << rows << " column panels " << columns
                                        << (rows_first ? " rows first" : "")) {
            const auto part = osbi::nn::kernels::detail::host_partition(threads, rows, columns, rows_first);
            const std::size_t blocks = part.column_groups * part.row_groups;
            BOOST_TEST(blocks >= 1u);
            BOOST_TEST(blocks <= threads);
            // never fewer blocks along the first-split side than possible
            BOOST_TEST(blocks >= std::min(threads, rows_first ? rows : columns));
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

// The partitions that depend on the thread count keep each entry's sums: a tall forward split by rows and a weight
// gradient split along K (its chunk count depends on the shape only) give the same bits on Serial and OpenMP.
BOOST_AUTO_TEST_CASE(serial_and_openmp_agree_bitwise_on_row_and_k_splits) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  const std::size_t batch = 9000, in = 40, out = 24;
  const auto x = random_matrix<float>(batch, in, engine), weight = random_matrix<float>(out, in, engine);
  const auto grad_z = random_matrix<float>(batch, out, engine);
  osbi::nn::kernels::GemmWorkspace<float, Kokkos::Serial> serial_workspace;
  osbi::nn::kernels::GemmWorkspace<float, HostSpace> host_workspace;
  auto y_serial = filled<float>(batch, out, 0.f), y_host = filled<float>(batch, out, 1.f);
  auto gw_serial = filled<float>(out, in, 0.5f), gw_host = filled<float>(out, in, 0.5f);
  osbi::Vector<float, Kokkos::Serial> gb_serial("gb_serial", out);
  osbi::Vector<float, HostSpace> gb_host("gb_host", out);
  const Kokkos::Serial serial;
  osbi::nn::kernels::dense_forward(serial, x, weight, osbi::Vector<float, Kokkos::Serial>(), y_serial, serial_workspace);
  osbi::nn::kernels::dense_forward(HostSpace(), x, weight, osbi::Vector<float, HostSpace>(), y_host, host_workspace);
  osbi::nn::kernels::dense_backward_parameters(serial, grad_z, x, gw_serial, gb_serial, serial_workspace);
  osbi::nn::kernels::dense_backward_parameters(HostSpace(), grad_z, x, gw_host, gb_host, host_workspace);
  HostSpace().fence();
  std::size_t differ = 0;
  for (std::size_t i = 0; i < batch; ++i)
    for (std::size_t j = 0; j < out; ++j) differ += y_serial(i, j) != y_host(i, j);
  BOOST_TEST(differ == 0u);
  BOOST_TEST(osbi::nn::kernels::detail::k_chunk_count<osbi::nn::kernels::epilogue::Accumulate>(out, in, batch) == 8u);
  differ = 0;
  for (std::size_t o = 0; o < out; ++o) {
    differ += gb_serial(o) != gb_host(o);
    for (std::size_t i = 0; i < in; ++i) differ += gw_serial(o, i) != gw_host(o, i);
  }
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
