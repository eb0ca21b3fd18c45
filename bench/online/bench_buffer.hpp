// SPDX-License-Identifier: BSD-3-Clause
/// \brief Buffer overhead per sample: P producer threads push rows while one consumer draws batches.
#pragma once

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace osbi::bench {

/// Wall time per sample of `rows` pushes (split over `producers` threads) and `rows` deliveries (one
/// consumer, batches of `batch`), all running at once: what a buffer adds to each simulated sample.
/// Rows are two_moons-sized (θ 2, x 2, float). Consuming buffers block when full; reusing ones evict.
template <class Buffer>
double buffer_ns_per_sample(std::size_t producers, std::size_t rows, std::size_t batch = 200,
                            std::size_t capacity = 10'000) {
  BufferOptions options;
  options.capacity = capacity;
  options.theta_dim = 2;
  options.x_dim = 2;
  options.watermark = batch;
  options.seed = 1;
  Buffer buffer(options);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      float theta[2] = {0.1f * static_cast<float>(p), 0.2f}, x[2] = {0.3f, 0.4f};
      for (std::size_t i = p; i < rows; i += producers) {
        theta[1] = static_cast<float>(i);
        buffer.push(std::span<const float>(theta), std::span<const float>(x));
      }
    });
  std::vector<float> theta_out(batch * 2), x_out(batch * 2);
  std::vector<std::uint64_t> ids(batch);
  std::size_t delivered = 0;
  while (delivered < rows) {
    const std::size_t want = std::min(batch, rows - delivered);
    const std::size_t n = buffer.sample_batch(want, std::span<float>(theta_out).first(want * 2),
                                              std::span<float>(x_out).first(want * 2),
                                              std::span<std::uint64_t>(ids).first(want));
    if (n == 0) break;
    delivered += n;
  }
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return seconds * 1e9 / static_cast<double>(rows);
}

} // namespace osbi::bench
