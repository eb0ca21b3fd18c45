// SPDX-License-Identifier: BSD-3-Clause
/// \brief One dense layer's forward + backward, timed on any space (bench/nn on the host, bench/gpu on a device).
#pragma once

#include <support/timing.hpp>

#include <osbi/core/types.hpp>
#include <osbi/nn/kernels/dense.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace osbi::bench {

/// Fills the rank-2 view `m` (any memory space, through a host mirror) with a fixed pattern in
/// [−scale/2, scale/2): never zeros, which would hide unwritten outputs and can run faster.
template <class View>
void fill(const View& m, float scale) {
  auto host = Kokkos::create_mirror_view(m);
  for (std::size_t i = 0; i < m.extent(0); ++i)
    for (std::size_t j = 0; j < m.extent(1); ++j)
      host(i, j) = scale * static_cast<float>(((i * 131 + j * 71) % 97) / 97.0 - 0.5);
  Kokkos::deep_copy(m, host);
}

/// Seconds per forward (with bias) + input gradient + parameter gradients of one batch × in → out
/// layer on Space: 3 × 2·batch·in·out flops. Timing as seconds_per_call.
template <class Space>
double dense_step_seconds(std::size_t batch, std::size_t in, std::size_t out, double min_seconds = 0.3, int repeats = 5,
                          int warmup = 5) {
  using M = osbi::Matrix<float, Space>;
  using V = osbi::Vector<float, Space>;
  M x("x", batch, in), weight("w", out, in), y("y", batch, out), grad_y("gy", batch, out), grad_x("gx", batch, in),
      grad_weight("gw", out, in);
  V bias("b", out), grad_bias("gb", out);
  fill(x, 1.0f), fill(weight, 0.1f), fill(grad_y, 1.0f);
  osbi::nn::kernels::GemmWorkspace<float, Space> workspace;
  Space space;
  return seconds_per_call(
      [&] {
        osbi::nn::kernels::dense_forward(space, x, weight, bias, y, workspace);
        osbi::nn::kernels::dense_backward_input(space, grad_y, weight, grad_x, workspace);
        osbi::nn::kernels::dense_backward_parameters(space, grad_y, x, grad_weight, grad_bias, workspace);
        space.fence();
      },
      min_seconds, repeats, warmup);
}

} // namespace osbi::bench
