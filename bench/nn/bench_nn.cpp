// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn benchmarks: our FMA-loop peak, dense forward+backward GFLOP/s and the sbi-default MADE
/// block, on Serial (1 thread) and the default host space (all threads). Prints a table and
/// machine-readable `CASE` lines that scripts/bench.sh combines with the PyTorch peer.
#include <osbi/nn/kernels/dense.hpp>

#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace {

/// 16 independent chains of 16-lane FMAs: enough independent work to fill both FMA ports, no memory.
struct FmaLoop {
  Kokkos::View<float*, Kokkos::HostSpace> out;
  std::size_t iterations;
  KOKKOS_INLINE_FUNCTION void operator()(const int thread) const {
    float acc[16][16];
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) acc[i][j] = 1e-3f * static_cast<float>(thread + i + j);
    const float scale = 0.9999999f, shift = 1e-7f;
    for (std::size_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) acc[i][j] = acc[i][j] * scale + shift;
    }
    float sum = 0;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) sum += acc[i][j];
    out(thread) = sum;
  }
};

template <class Space>
double fma_peak_gflops() {
  const int threads = Space().concurrency();
  Kokkos::View<float*, Kokkos::HostSpace> out("osbi::bench::fma_out", threads);
  const std::size_t iterations = 2'000'000;
  const double seconds = osbi::bench::seconds_per_call(
      [&] {
        Kokkos::parallel_for("osbi::bench::fma_peak", Kokkos::RangePolicy<Space>(0, threads), FmaLoop{out, iterations});
        Space().fence();
      },
      0.2, 5, 2);
  return 2.0 * 256.0 * static_cast<double>(iterations) * threads / seconds / 1e9;
}

template <class View>
void fill(const View& m, float scale) {
  auto host = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < m.extent(0); ++i)
    for (std::size_t j = 0; j < m.extent(1); ++j)
      host(i, j) = scale * static_cast<float>(((i * 131 + j * 71) % 97) / 97.0 - 0.5);
  Kokkos::deep_copy(m, host);
}

/// One dense layer, forward (bias) + input gradient + parameter gradients: 3 × 2·b·i·o flops.
template <class Space>
double dense_step_seconds(std::size_t batch, std::size_t in, std::size_t out) {
  using M = osbi::Matrix<float, Space>;
  using V = osbi::Vector<float, Space>;
  M x("x", batch, in), weight("w", out, in), y("y", batch, out), grad_y("gy", batch, out), grad_x("gx", batch, in),
      grad_weight("gw", out, in);
  V bias("b", out), grad_bias("gb", out);
  fill(x, 1.0f), fill(weight, 0.1f), fill(grad_y, 1.0f);
  osbi::nn::kernels::GemmWorkspace<float, Space> workspace;
  Space space;
  return osbi::bench::seconds_per_call([&] {
    osbi::nn::kernels::dense_forward(space, x, weight, bias, y, workspace);
    osbi::nn::kernels::dense_backward_input(space, grad_y, weight, grad_x, workspace);
    osbi::nn::kernels::dense_backward_parameters(space, grad_y, x, grad_weight, grad_bias, workspace);
    space.fence();
  });
}

/// The sbi-default MADE block as the PyTorch peer times it: masked Linear(4,50)+ReLU, Linear(50,50)+ReLU,
/// Linear(50,4), forward + backward with input gradients, gradients zeroed each step (one flat buffer).
template <class Space>
double made_step_seconds(std::size_t batch) {
  using M = osbi::Matrix<float, Space>;
  using V = osbi::Vector<float, Space>;
  namespace k = osbi::nn::kernels;
  const std::size_t dims[4] = {4, 50, 50, 4};
  std::size_t total = 0;
  for (int l = 0; l < 3; ++l) total += dims[l + 1] * dims[l] + dims[l + 1];
  V parameters("p", total), gradients("g", total);
  M weight[3], grad_weight[3], mask[3], h[4], grad_h[4], grad_z[3];
  V bias[3], grad_bias[3];
  std::size_t offset = 0;
  for (int l = 0; l < 3; ++l) {
    const std::size_t in = dims[l], out = dims[l + 1];
    weight[l] = M(parameters.data() + offset, out, in), grad_weight[l] = M(gradients.data() + offset, out, in);
    offset += out * in;
    bias[l] = V(parameters.data() + offset, out), grad_bias[l] = V(gradients.data() + offset, out);
    offset += out;
    mask[l] = M("mask", out, in);
    Kokkos::deep_copy(mask[l], 1.0f);
    fill(weight[l], 0.2f);
    grad_z[l] = M("gz", batch, out);
  }
  for (int l = 0; l < 4; ++l) h[l] = M("h", batch, dims[l]), grad_h[l] = M("gh", batch, dims[l]);
  fill(h[0], 1.0f), fill(grad_h[3], 1.0f);
  k::GemmWorkspace<float, Space> workspace;
  Space space;
  return osbi::bench::seconds_per_call([&] {
    Kokkos::deep_copy(space, gradients, 0.0f);
    k::dense_forward<osbi::nn::activation::ReLU>(space, h[0], weight[0], bias[0], h[1], workspace, mask[0]);
    k::dense_forward<osbi::nn::activation::ReLU>(space, h[1], weight[1], bias[1], h[2], workspace, mask[1]);
    k::dense_forward(space, h[2], weight[2], bias[2], h[3], workspace, mask[2]);
    for (int l = 2; l >= 0; --l) {
      M gz = grad_z[l];
      const M gh = grad_h[l + 1], out = h[l + 1];
      if (l == 2) {
        gz = grad_h[3];
      } else {
        Kokkos::parallel_for(
            "osbi::bench::relu_backward", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {gz.extent(0), gz.extent(1)}),
            KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
              gz(i, j) = out(i, j) > 0.0f ? gh(i, j) : 0.0f;
            });
      }
      k::dense_backward_parameters(space, gz, h[l], grad_weight[l], grad_bias[l], workspace, mask[l]);
      k::dense_backward_input(space, gz, weight[l], grad_h[l], workspace, mask[l]);
    }
    space.fence();
  });
}

struct Row {
  std::string name, space;
  int threads;
  double seconds, gflops;
};

template <class Space>
void run_dense(std::vector<Row>& rows, double peak) {
  const int threads = Space().concurrency();
  for (const auto [b, i, o] : {std::array<std::size_t, 3>{200, 52, 50}, {256, 256, 256}, {1024, 512, 512}}) {
    const double seconds = dense_step_seconds<Space>(b, i, o);
    const double gflops = 6.0 * b * i * o / seconds / 1e9;
    const std::string name = "dense_" + std::to_string(b) + "x" + std::to_string(i) + "x" + std::to_string(o);
    rows.push_back({name, Space::name(), threads, seconds, gflops});
    std::printf("%-22s %-8s %2d thr %10.1f us %8.2f GFLOP/s %6.1f %% of peak\n", name.c_str(), Space::name(), threads,
                seconds * 1e6, gflops, 100.0 * gflops / peak);
  }
}

template <class Space>
void run_made(std::vector<Row>& rows) {
  const int threads = Space().concurrency();
  for (const std::size_t batch : {std::size_t{200}, std::size_t{1024}}) {
    const double seconds = made_step_seconds<Space>(batch);
    const double gflops = 6.0 * batch * (4 * 50 + 50 * 50 + 50 * 4) / seconds / 1e9;
    const std::string name = "made_sbi_b" + std::to_string(batch);
    rows.push_back({name, Space::name(), threads, seconds, gflops});
    std::printf("%-22s %-8s %2d thr %10.1f us %8.2f GFLOP/s\n", name.c_str(), Space::name(), threads, seconds * 1e6,
                gflops);
  }
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::printf("osbi nn benchmark: %s\n", osbi::bench::kokkos_description().c_str());
  const double peak_1 = fma_peak_gflops<Kokkos::Serial>();
  const double peak_n = fma_peak_gflops<Kokkos::DefaultHostExecutionSpace>();
  const int threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  std::printf("fp32 FMA-loop peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads)\n", peak_1, peak_n, threads);
  std::vector<Row> rows;
  run_dense<Kokkos::Serial>(rows, peak_1);
  run_dense<Kokkos::DefaultHostExecutionSpace>(rows, peak_n);
  run_made<Kokkos::Serial>(rows);
  run_made<Kokkos::DefaultHostExecutionSpace>(rows);
  std::printf("CASE peak 1 %.3f\nCASE peak %d %.3f\n", peak_1, threads, peak_n);
  for (const Row& row : rows)
    std::printf("CASE %s %d %.3f %.3f\n", row.name.c_str(), row.threads, row.seconds * 1e6, row.gflops);
  return 0;
}
