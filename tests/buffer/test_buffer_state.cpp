// SPDX-License-Identifier: BSD-3-Clause
/// \brief snapshot/restore and checkpoint sections: a restored buffer (in memory or through a file) continues
/// exactly as the original; every inconsistent state is rejected with a clear error and changes nothing.
#include <osbi/buffer/buffer_checkpoint.hpp>
#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/buffer/sample_buffer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/io/checkpoint.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace osbi::testing;

constexpr std::size_t capacity = 12, watermark = 5;

// Everything a run shows to the outside, in order.
struct Trace {
  std::vector<std::uint64_t> values;
  std::vector<float> rows;
  bool operator==(const Trace&) const = default;
};

template <class Buffer>
void record(Trace& trace, const osbi::BufferAccounting& accounting) {
  trace.values.insert(trace.values.end(), {accounting.pushed_total, accounting.dropped_invalid,
                                           accounting.rejected_closed, accounting.in_buffer, accounting.evicted_used,
                                           accounting.evicted_unseen, accounting.total_uses, accounting.max_uses});
  trace.values.insert(trace.values.end(), accounting.use_histogram.begin(), accounting.use_histogram.end());
}

// A deterministic single-threaded workload that never waits: 0–2 pushes per step (every 11th sample
// invalid), a batch of 1–5 rows when one is ready, priorities fed back for a prioritized buffer.
template <class Buffer>
Trace run_steps(Buffer& buffer, std::uint64_t first_step, std::uint64_t steps) {
  Trace trace;
  for (std::uint64_t step = first_step; step < first_step + steps; ++step) {
    for (std::uint64_t j = 0; j < step % 3; ++j) {
      const std::uint64_t k = 3 * step + j;
      if (!push_would_not_wait(buffer)) break;
      std::vector<float> theta = theta_of<float>(k), x = x_of<float>(k);
      if (k % 11 == 5) theta[2] = std::numeric_limits<float>::quiet_NaN();
      const osbi::SampleInfo info{step, 0.125 * double(j), -0.5 * double(k)};
      const osbi::PushResult result = buffer.push(theta, x, info);
      trace.values.insert(trace.values.end(),
                          {std::uint64_t(result.status), result.id, result.evicted.value_or(~0ull)});
    }
    const std::size_t n = 1 + step % 5;
    if (buffer.arrivals() >= watermark && buffer.size() >= n) {
      std::vector<float> theta(n * 3), x(n * 2);
      std::vector<std::uint64_t> ids(n);
      std::vector<osbi::SampleMetadata> info(n);
      const std::size_t rows = buffer.sample_batch(n, theta, x, std::span<osbi::SampleMetadata>(info));
      for (std::size_t r = 0; r < rows; ++r) ids[r] = info[r].id;
      trace.values.push_back(rows);
      trace.values.insert(trace.values.end(), ids.begin(), ids.begin() + std::ptrdiff_t(rows));
      for (std::size_t r = 0; r < rows; ++r) {
        trace.values.push_back(info[r].generation);
        trace.values.push_back(info[r].uses);
        trace.rows.push_back(static_cast<float>(info[r].proposal_log_prob));
      }
      trace.rows.insert(trace.rows.end(), theta.begin(), theta.end());
      trace.rows.insert(trace.rows.end(), x.begin(), x.end());
      if constexpr (osbi::PrioritizedSampleSource<Buffer>) {
        std::vector<double> priorities(rows);
        for (std::size_t r = 0; r < rows; ++r) priorities[r] = 0.5 * double((ids[r] * 7 + step) % 13);
        buffer.update_priorities(std::span<const std::uint64_t>(ids).first(rows), priorities);
      }
    }
    record<Buffer>(trace, buffer.accounting());
  }
  return trace;
}

template <class Scalar>
bool same_state(const osbi::BufferState<Scalar>& a, const osbi::BufferState<Scalar>& b) {
  return a.kind == b.kind && a.capacity == b.capacity && a.theta_dim == b.theta_dim && a.x_dim == b.x_dim &&
         a.theta == b.theta && a.x == b.x && a.ids == b.ids && a.uses == b.uses && a.generations == b.generations &&
         a.simulation_seconds == b.simulation_seconds && a.proposal_log_probs == b.proposal_log_probs &&
         a.priorities == b.priorities &&
         a.max_priority == b.max_priority && a.pushed_total == b.pushed_total &&
         a.dropped_invalid == b.dropped_invalid && a.rejected_closed == b.rejected_closed &&
         a.evicted_used == b.evicted_used && a.evicted_unseen == b.evicted_unseen && a.total_uses == b.total_uses &&
         a.arrivals == b.arrivals && a.departed_uses == b.departed_uses &&
         a.departed_max_uses == b.departed_max_uses && a.departed_histogram == b.departed_histogram &&
         a.seed == b.seed && a.random_draws == b.random_draws;
}

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_state)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_restored_buffer_continues_exactly, Buffer, AllBuffers) {
  ScratchDirectory scratch;
  Buffer original(buffer_options(capacity, 3, 2, watermark));
  run_steps(original, 0, 80);
  const auto state = original.snapshot();
  BOOST_TEST(state.kind == std::string(Buffer::kind));
  BOOST_TEST(state.rows() == original.size());
  BOOST_TEST(state.arrivals == original.arrivals());
  if constexpr (!consumes_rows<Buffer>) BOOST_TEST(state.evicted_used + state.evicted_unseen > 0u);

  // In memory, into a buffer constructed with another seed (the state's seed wins).
  osbi::BufferOptions other = buffer_options(capacity, 3, 2, watermark);
  other.seed += 1000;
  Buffer in_memory(other);
  in_memory.restore(state);
  BOOST_TEST(same_state(in_memory.snapshot(), state));

  // Through a checkpoint file.
  osbi::CheckpointWriter writer;
  osbi::add_buffer_state(writer, "buffer/", original);
  writer.add_scalar("step", std::uint64_t{80});
  writer.write(scratch.path / "run.ckpt");
  const osbi::CheckpointReader reader(scratch.path / "run.ckpt");
  BOOST_TEST(same_state(osbi::read_buffer_state<float>(reader, "buffer/"), state));
  Buffer from_file(buffer_options(capacity, 3, 2, watermark));
  osbi::read_buffer_state(reader, "buffer/", from_file);

  const Trace expected = run_steps(original, 80, 120);
  BOOST_TEST(expected.rows.size() > 0u);
  BOOST_TEST((run_steps(in_memory, 80, 120) == expected));
  BOOST_TEST((run_steps(from_file, 80, 120) == expected));
  BOOST_TEST(original.accounting().consistent());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(inconsistent_states_are_rejected_and_change_nothing, Buffer, AllBuffers) {
  Buffer source(buffer_options(capacity, 3, 2, watermark));
  run_steps(source, 0, 80);
  const auto good = source.snapshot();
  BOOST_REQUIRE(good.rows() >= 2u);
  BOOST_REQUIRE(good.evicted_used > 0u);
  Buffer target(buffer_options(capacity, 3, 2, watermark));
  run_steps(target, 0, 7);
  const auto before = target.snapshot();

  using State = osbi::BufferState<float>;
  const auto rejects = [&]<class Exception>(const std::function<void(State&)>& corrupt, const std::string& message) {
    State state = good;
    corrupt(state);
    BOOST_CHECK_EXCEPTION(target.restore(state), Exception, [&](const Exception& error) {
      const bool named = contains(error.what(), message) && contains(error.what(), std::string(Buffer::part));
      if (!named) BOOST_TEST_MESSAGE("message: " << error.what());
      return named;
    });
    BOOST_TEST(same_state(target.snapshot(), before));
  };
  using osbi::DataError;
  using osbi::DimensionMismatch;
  rejects.template operator()<DataError>([](State& s) { s.kind = s.kind == "fifo" ? "firo" : "fifo"; },
                                         "' buffer, this is a '");
  rejects.template operator()<DimensionMismatch>([](State& s) { s.capacity += 1; }, "capacity has 13, expected 12");
  rejects.template operator()<DimensionMismatch>([](State& s) { s.theta_dim = 4; }, "theta_dim has 4, expected 3");
  rejects.template operator()<DimensionMismatch>([](State& s) { s.x_dim = 1; }, "x_dim has 1, expected 2");
  rejects.template operator()<DataError>([](State& s) { s.theta.pop_back(); }, "theta has");
  rejects.template operator()<DataError>([](State& s) { s.generations.push_back(0); }, "generations has");
  rejects.template operator()<DataError>([](State& s) { s.proposal_log_probs.pop_back(); }, "proposal_log_probs has");
  rejects.template operator()<DataError>([](State& s) { s.x[1] = std::numeric_limits<float>::infinity(); },
                                         "holds a NaN or Inf");
  rejects.template operator()<DataError>([](State& s) { s.ids[1] = s.ids[0]; }, "appears twice");
  rejects.template operator()<DataError>([](State& s) { s.ids[0] = s.arrivals + 5; }, "is not below the arrival count");
  rejects.template operator()<DataError>([](State& s) { s.pushed_total += 1; }, "pushed_total");
  rejects.template operator()<DataError>([](State& s) { s.arrivals += 1; }, "arrivals =");
  rejects.template operator()<DataError>([](State& s) { s.total_uses += 1; }, "total_uses");
  rejects.template operator()<DataError>([](State& s) { s.departed_histogram[3] += 1; }, "histogram");
  rejects.template operator()<DataError>(
      [](State& s) {
        s.departed_uses = 0;
        s.total_uses = std::accumulate(s.uses.begin(), s.uses.end(), std::uint64_t{0});
      },
      "departed_uses = 0");
  if constexpr (consumes_rows<Buffer>) {
    rejects.template operator()<DataError>(
        [](State& s) {
          s.uses[0] = 1;
          s.total_uses += 1;
        },
        "holds only undelivered rows");
  }
  if constexpr (Buffer::kind == std::string_view("prioritized")) {
    rejects.template operator()<DataError>([](State& s) { s.priorities.pop_back(); }, "priorities for");
    rejects.template operator()<DataError>([](State& s) { s.priorities[0] = -1; }, "priority -1");
    rejects.template operator()<DataError>([](State& s) { s.priorities[0] = s.max_priority * 2; }, "<= max_priority");
    rejects.template operator()<DataError>([](State& s) { s.max_priority = 0; }, "max_priority = 0");
  } else {
    rejects.template operator()<DataError>([](State& s) { s.priorities.assign(s.rows(), 1.0); }, "has none");
  }
  target.restore(good); // and the good state still goes in
  BOOST_TEST(same_state(target.snapshot(), good));
}

BOOST_AUTO_TEST_CASE(checkpoint_sections_are_checked) {
  ScratchDirectory scratch;
  osbi::ReservoirBuffer<Evict> buffer(buffer_options(capacity, 3, 2, watermark));
  run_steps(buffer, 0, 40);
  const auto state = buffer.snapshot();

  osbi::CheckpointWriter writer;
  osbi::add_buffer_state(writer, "buffer/", state);
  writer.write(scratch.path / "good.ckpt");
  const osbi::CheckpointReader good(scratch.path / "good.ckpt");

  // A float buffer's rows read as double.
  BOOST_CHECK_EXCEPTION(osbi::read_buffer_state<double>(good, "buffer/"), osbi::DataError,
                        [](const osbi::DataError& error) { return contains(error.what(), "holds f32, not f64"); });
  // Another prefix: no such section.
  BOOST_CHECK_EXCEPTION(osbi::read_buffer_state<float>(good, "other/"), osbi::DataError,
                        [](const osbi::DataError& error) { return contains(error.what(), "no section 'other/kind'"); });
  // Into a buffer of another kind: the file is named.
  osbi::FifoBuffer<Evict> fifo(buffer_options(capacity, 3, 2, watermark));
  BOOST_CHECK_EXCEPTION(osbi::read_buffer_state(good, "buffer/", fifo), osbi::DataError,
                        [&](const osbi::DataError& error) {
                          return contains(error.what(), "good.ckpt") &&
                                 contains(error.what(), "the state is of a 'reservoir' buffer");
                        });

  // A stray section under the prefix.
  osbi::CheckpointWriter extra;
  osbi::add_buffer_state(extra, "buffer/", state);
  extra.add_scalar("buffer/unexpected", 1.0);
  extra.write(scratch.path / "extra.ckpt");
  BOOST_CHECK_EXCEPTION(osbi::read_buffer_state<float>(osbi::CheckpointReader(scratch.path / "extra.ckpt"), "buffer/"),
                        osbi::DataError,
                        [](const osbi::DataError& error) {
                          return contains(error.what(), "sections under 'buffer/'");
                        });

  // Counters that do not add up, written by someone else: rejected by restore, file named.
  auto bad = state;
  bad.evicted_used += 1;
  osbi::CheckpointWriter inconsistent;
  osbi::add_buffer_state(inconsistent, "buffer/", bad);
  inconsistent.write(scratch.path / "bad.ckpt");
  osbi::ReservoirBuffer<Evict> target(buffer_options(capacity, 3, 2, watermark));
  BOOST_CHECK_EXCEPTION(osbi::read_buffer_state(osbi::CheckpointReader(scratch.path / "bad.ckpt"), "buffer/", target),
                        osbi::DataError, [](const osbi::DataError& error) {
                          return contains(error.what(), "bad.ckpt") && contains(error.what(), "arrivals =");
                        });
  BOOST_TEST(target.arrivals() == 0u);

  // A flipped payload byte: the container's CRC catches it.
  std::string bytes = read_bytes(scratch.path / "good.ckpt");
  bytes[bytes.size() - 20] = static_cast<char>(bytes[bytes.size() - 20] ^ 0x40);
  write_bytes(scratch.path / "flipped.ckpt", bytes);
  BOOST_CHECK_THROW(osbi::CheckpointReader(scratch.path / "flipped.ckpt"), osbi::DataError);
}

BOOST_AUTO_TEST_SUITE_END()
