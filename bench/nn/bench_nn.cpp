// SPDX-License-Identifier: BSD-3-Clause
/// \brief nn benchmarks: our FMA-loop peak, dense forward+backward GFLOP/s and the sbi-default MADE
/// block, on Serial (1 thread) and the default host space (all threads), and a transformer encoder block (#14)
/// on all threads. Prints a table and
/// machine-readable `CASE` lines that scripts/bench.sh combines with the PyTorch peer.
#include <osbi/nn/kernels/dense.hpp>
#include <osbi/nn/masked_dense.hpp>
#include <osbi/nn/transformer.hpp>

#include <support/dense_step.hpp>
#include <support/fma_peak.hpp>
#include <support/timing.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cstdint>
#include <utility>
#include <cstdio>
#include <string>
#include <vector>

namespace {

/// The sbi-default MADE block as the PyTorch peer times it — masked Linear(4,50)+ReLU,
/// Linear(50,50)+ReLU, Linear(50,4) — through our MaskedDenseLayer objects bound to one flat buffer:
/// gradients zeroed, forward, backward with input gradients, per step.
template <class Space>
double made_step_seconds(std::size_t batch) {
  using M = osbi::Matrix<float, Space>;
  using osbi::nn::activation::Identity;
  using osbi::nn::activation::ReLU;
  const auto ones = [](std::size_t out, std::size_t in) { return std::vector<std::uint8_t>(out * in, 1); };
  osbi::nn::MaskedDenseLayer<float, Space, ReLU> first(4, 50, ones(50, 4));
  osbi::nn::MaskedDenseLayer<float, Space, ReLU> hidden(50, 50, ones(50, 50));
  osbi::nn::MaskedDenseLayer<float, Space, Identity> last(50, 4, ones(4, 50));
  const std::size_t counts[3] = {first.parameter_count(), hidden.parameter_count(), last.parameter_count()};
  osbi::Vector<float, Space> parameters("p", counts[0] + counts[1] + counts[2]), gradients("g", parameters.extent(0));
  const auto slice = [&](const osbi::Vector<float, Space>& v, std::size_t begin, std::size_t size) {
    return osbi::Vector<float, Space>(Kokkos::subview(v, std::make_pair(begin, begin + size)));
  };
  first.bind(slice(parameters, 0, counts[0]), slice(gradients, 0, counts[0]));
  hidden.bind(slice(parameters, counts[0], counts[1]), slice(gradients, counts[0], counts[1]));
  last.bind(slice(parameters, counts[0] + counts[1], counts[2]), slice(gradients, counts[0] + counts[1], counts[2]));
  Space space;
  osbi::RandomStream rng(1);
  first.initialize(space, rng.next()), hidden.initialize(space, rng.next()), last.initialize(space, rng.next());
  M x("x", batch, 4), h1("h1", batch, 50), h2("h2", batch, 50), y("y", batch, 4), grad_y("gy", batch, 4),
      grad_h2("gh2", batch, 50), grad_h1("gh1", batch, 50), grad_x("gx", batch, 4);
  osbi::bench::fill(x, 1.0f), osbi::bench::fill(grad_y, 1.0f);
  return osbi::bench::seconds_per_call([&] {
    Kokkos::deep_copy(space, gradients, 0.0f);
    first.forward(space, x, h1);
    hidden.forward(space, h1, h2);
    last.forward(space, h2, y);
    last.backward(space, grad_y, grad_h2);
    hidden.backward(space, grad_h2, grad_h1);
    first.backward(space, grad_h1, grad_x);
    space.fence();
  });
}

/// One pre-LayerNorm transformer encoder block (width W, H heads, MLP 4W, GELU) as torch's TransformerEncoderLayer
/// is timed by peer_torch_attention.py: gradients zeroed, forward, backward with the input gradient, per step.
template <class Space, std::size_t W, std::size_t H>
double attention_block_seconds(std::size_t batch, std::size_t tokens) {
  using Block = osbi::nn::bind_t<osbi::nn::TransformerEncoderBlock<W, H, 4 * W>, float, Space>;
  using M = osbi::Matrix<float, Space>;
  Block block(tokens * W);
  osbi::Vector<float, Space> parameters("p", block.parameter_count()), gradients("g", block.parameter_count());
  block.bind(parameters, gradients);
  Space space;
  osbi::RandomStream rng(1);
  block.initialize(space, rng.next());
  M x("x", batch, tokens * W), y("y", batch, tokens * W), grad_y("gy", batch, tokens * W), grad_x("gx", batch, tokens * W);
  osbi::bench::fill(x, 2.0f), osbi::bench::fill(grad_y, 1.0f);
  return osbi::bench::seconds_per_call(
      [&] {
        Kokkos::deep_copy(space, gradients, 0.0f);
        block.forward(space, x, y);
        block.backward(space, grad_y, grad_x);
        space.fence();
      },
      0.3, 5, 2);
}

/// Forward + backward flops of the block: 12 W² per token in the four projections and the MLP (2·(3W² + W² + 8W²)
/// forward, twice that backward) and 12·tokens·W per token in the attention products (QKᵀ, PV; four backward).
inline double attention_block_flops(std::size_t batch, std::size_t tokens, std::size_t width) {
  const double rows = double(batch) * double(tokens);
  return 72.0 * rows * double(width) * double(width) + 12.0 * rows * double(tokens) * double(width);
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
    const double seconds = osbi::bench::dense_step_seconds<Space>(b, i, o);
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

template <class Space>
void run_attention(std::vector<Row>& rows) {
  const int threads = Space().concurrency();
  const auto report = [&](const std::string& name, std::size_t batch, std::size_t tokens, std::size_t width, double seconds) {
    const double gflops = attention_block_flops(batch, tokens, width) / seconds / 1e9;
    rows.push_back({name, Space::name(), threads, seconds, gflops});
    std::printf("%-26s %-8s %2d thr %10.1f us %8.2f GFLOP/s\n", name.c_str(), Space::name(), threads, seconds * 1e6,
                gflops);
  };
  report("attention_block_b200_t64", 200, 64, 64, attention_block_seconds<Space, 64, 4>(200, 64));
  report("attention_block_b64_t256", 64, 256, 128, attention_block_seconds<Space, 128, 8>(64, 256));
}

} // namespace

int main(int argc, char* argv[]) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::printf("osbi nn benchmark: %s\n", osbi::bench::kokkos_description().c_str());
  std::printf("host GEMM register tile: %d x %d floats (%d-byte vectors)\n", osbi::nn::kernels::HostTile<float>::rows,
              osbi::nn::kernels::HostTile<float>::columns, osbi::nn::kernels::host_vector_bytes);
  const double peak_1 = osbi::bench::fma_peak_gflops<Kokkos::Serial>();
  const double peak_n = osbi::bench::fma_peak_gflops<Kokkos::DefaultHostExecutionSpace>();
  const int threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  std::printf("fp32 FMA-loop peak: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads)\n", peak_1, peak_n, threads);
  std::vector<Row> rows;
  run_dense<Kokkos::Serial>(rows, peak_1);
  run_dense<Kokkos::DefaultHostExecutionSpace>(rows, peak_n);
  run_made<Kokkos::Serial>(rows);
  run_made<Kokkos::DefaultHostExecutionSpace>(rows);
  run_attention<Kokkos::DefaultHostExecutionSpace>(rows);
  std::printf("CASE peak 1 %.3f\nCASE peak %d %.3f\n", peak_1, threads, peak_n);
  for (const Row& row : rows)
    std::printf("CASE %s %d %.3f %.3f\n", row.name.c_str(), row.threads, row.seconds * 1e6, row.gflops);
  return 0;
}
