// SPDX-License-Identifier: BSD-3-Clause
// osbi-fail-expect: SampleBuffer<Buffer>
/// \brief A user's buffer without blocked_producers() is not a SampleBuffer: the checkpoint adapter's
/// `SampleBuffer Buffer` head names the concept (the pipeline needs the member for its consistent cut).
#include <osbi/buffer/buffer_checkpoint.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>
#include <osbi/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

// Everything SampleBuffer names except blocked_producers().
struct NoBlockedProducers {
  using scalar_type = double;
  using overflow_policy = osbi::overflow::Evict;
  using delivery_policy = osbi::delivery::Consume;
  explicit NoBlockedProducers(const osbi::BufferOptions&) {}
  std::size_t capacity() const { return 1; }
  std::size_t theta_dim() const { return 1; }
  std::size_t x_dim() const { return 1; }
  std::size_t size() const { return 0; }
  osbi::PushResult push(std::span<const double>, std::span<const double>, const osbi::SampleInfo&) { return {}; }
  std::size_t sample_batch(std::size_t, std::span<double>, std::span<double>) { return 0; }
  std::size_t sample_batch(std::size_t, std::span<double>, std::span<double>, std::span<std::uint64_t>) { return 0; }
  std::size_t sample_batch(std::size_t, std::span<double>, std::span<double>, std::span<osbi::SampleMetadata>) {
    return 0;
  }
  void close() {}
  bool closed() const { return true; }
  std::uint64_t arrivals() const { return 0; }
  bool wait_for_arrivals(std::uint64_t) { return false; }
  osbi::BufferAccounting accounting() const { return {}; }
  osbi::BufferState<double> snapshot() const { return {}; }
  void restore(const osbi::BufferState<double>&) {}
};

} // namespace

int main() {
  NoBlockedProducers buffer(osbi::BufferOptions{1, 1, 1, 0, 0});
  osbi::CheckpointWriter writer;
  osbi::add_buffer_state(writer, "buffer/", buffer);
  return static_cast<int>(writer.section_count());
}
