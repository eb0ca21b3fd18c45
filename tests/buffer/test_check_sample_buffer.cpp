// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_sample_buffer: every model under both overflow policies and the archetype pass (several shapes
/// and watermarks); each deliberately broken buffer is reported with a line that names its defect.
#include <osbi/testing/buffer_archetype.hpp>
#include <osbi/testing/check_sample_buffer.hpp>
#include <osbi/testing/conformance_report.hpp>

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>

#include <buffer/buffer_test_support.hpp>
#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace osbi::testing;

// Shapes: capacity, theta_dim, x_dim, watermark (1-row buffers and a watermark at the capacity included).
const std::vector<osbi::BufferOptions> shapes = {{1, 1, 1, 0, 3}, {2, 3, 2, 2, 5}, {5, 2, 4, 3, 7}, {8, 1, 3, 8, 11}};

enum class Defect {
  ignores_shapes,       // pads or cuts θ and x to its dimensions instead of throwing DimensionMismatch
  forgets_log_prob,     // stores every row with proposal_log_prob 0
  uses_off_by_one,      // metadata counts the deliveries before this one
  drops_invalid_silent, // does not count dropped_invalid (nor pushed_total for them)
  accepts_after_close,  // reports a push after close() as dropped_invalid instead of closed
  restore_not_checked,  // restore() accepts a state with one arrival too many
};

// A FIFO that models SampleBuffer, with one defect the concepts cannot see (chosen at run time, so the
// checker is compiled once for all six).
class BrokenBuffer : public osbi::FifoBuffer<osbi::overflow::Evict, double> {
  using Base = osbi::FifoBuffer<osbi::overflow::Evict, double>;

public:
  // SampleBuffer asks for B(BufferOptions); the defect defaults to the first one.
  explicit BrokenBuffer(const osbi::BufferOptions& options, Defect defect = Defect::ignores_shapes)
      : Base(options), m_defect(defect) {}
  using Base::sample_batch;

  osbi::PushResult push(std::span<const double> theta, std::span<const double> x, const osbi::SampleInfo& info) {
    osbi::SampleInfo stored = info;
    if (m_defect == Defect::forgets_log_prob) stored.proposal_log_prob = 0;
    if (m_defect == Defect::accepts_after_close && closed()) {
      ++m_hidden;
      return osbi::PushResult{osbi::PushStatus::dropped_invalid, 0, {}};
    }
    if (m_defect == Defect::ignores_shapes && (theta.size() != theta_dim() || x.size() != x_dim())) {
      std::vector<double> t(theta_dim(), 1.0), y(x_dim(), 1.0);
      std::copy_n(theta.begin(), std::min(theta.size(), t.size()), t.begin());
      std::copy_n(x.begin(), std::min(x.size(), y.size()), y.begin());
      return Base::push(t, y, stored);
    }
    const osbi::PushResult result = Base::push(theta, x, stored);
    if (m_defect == Defect::drops_invalid_silent && result.status == osbi::PushStatus::dropped_invalid) ++m_hidden;
    return result;
  }

  std::size_t sample_batch(std::size_t n, std::span<double> theta, std::span<double> x,
                           std::span<osbi::SampleMetadata> metadata) {
    const std::size_t rows = Base::sample_batch(n, theta, x, metadata);
    if (m_defect == Defect::uses_off_by_one)
      for (std::size_t r = 0; r < rows; ++r)
        --metadata[r].uses;
    return rows;
  }

  osbi::BufferAccounting accounting() const {
    osbi::BufferAccounting accounting = Base::accounting();
    if (m_defect == Defect::drops_invalid_silent) {
      accounting.dropped_invalid -= m_hidden;
      accounting.pushed_total -= m_hidden;
    }
    return accounting;
  }

  void restore(const osbi::BufferState<double>& state) {
    if (m_defect == Defect::restore_not_checked) {
      osbi::BufferState<double> fixed = state;
      if (fixed.arrivals == fixed.rows() + fixed.evicted_used + fixed.evicted_unseen + 1) {
        fixed.arrivals -= 1;
      }
      Base::restore(fixed);
      return;
    }
    Base::restore(state);
  }

private:
  Defect m_defect;
  std::uint64_t m_hidden = 0;
};

static_assert(osbi::SampleBuffer<BrokenBuffer>);

ConformanceReport check_broken(Defect defect) {
  BrokenBuffer buffer(osbi::BufferOptions{4, 2, 3, 0, 1}, defect);
  return check_sample_buffer(buffer, std::chrono::milliseconds(20000));
}

bool reports(const ConformanceReport& report, const std::string& part) {
  return std::any_of(report.failures.begin(), report.failures.end(),
                     [&](const std::string& line) { return contains(line, part); });
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_sample_buffer_suite)

BOOST_AUTO_TEST_CASE_TEMPLATE(every_model_passes, Buffer, AllBuffers) {
  Watchdog watchdog(deadline, "check_sample_buffer on a model");
  for (const osbi::BufferOptions& options : shapes) {
    Buffer buffer(options);
    const ConformanceReport report = check_sample_buffer(buffer);
    BOOST_TEST(report.passed(),
               "capacity " << options.capacity << ", watermark " << options.watermark << ": " << report.summary());
    BOOST_TEST(buffer.closed());
  }
}

BOOST_AUTO_TEST_CASE(double_models_pass) {
  Watchdog watchdog(deadline, "check_sample_buffer on double models");
  osbi::ReservoirBuffer<osbi::overflow::Block, double> reservoir(shapes[2]);
  BOOST_TEST(check_sample_buffer(reservoir).passed());
  osbi::PrioritizedBuffer<osbi::overflow::Evict, double> prioritized(shapes[3]);
  const ConformanceReport report = check_sample_buffer(prioritized);
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(the_archetype_models_the_concept_and_passes) {
  static_assert(osbi::SampleBuffer<SampleBufferArchetype> && osbi::SampleSink<SampleBufferArchetype> &&
                osbi::SampleSource<SampleBufferArchetype>);
  static_assert(!osbi::reuses_rows<SampleBufferArchetype> && !osbi::PrioritizedSampleSource<SampleBufferArchetype>);
  Watchdog watchdog(deadline, "check_sample_buffer on the archetype");
  for (const osbi::BufferOptions& options : shapes) {
    SampleBufferArchetype buffer(options);
    const ConformanceReport report = check_sample_buffer(buffer);
    BOOST_TEST(report.passed(), "capacity " << options.capacity << ": " << report.summary());
  }
  BOOST_CHECK_THROW(SampleBufferArchetype(osbi::BufferOptions{0, 1, 1, 0, 0}), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(each_broken_buffer_is_reported_by_name) {
  Watchdog watchdog(deadline, "check_sample_buffer on broken buffers");
  const auto expect = [](const ConformanceReport& report, const std::string& part) {
    BOOST_TEST_MESSAGE("broken buffer, expecting '" << part << "': " << report.summary());
    BOOST_TEST(!report.passed());
    BOOST_TEST(reports(report, part), "no line names '" << part << "':\n" << report.summary());
  };
  expect(check_broken(Defect::ignores_shapes), "push with 3 theta and 3 x values");
  expect(check_broken(Defect::forgets_log_prob), "proposal_log_prob 0; pushed");
  expect(check_broken(Defect::uses_off_by_one), "(its deliveries, this one included)");
  expect(check_broken(Defect::drops_invalid_silent), "accounting().dropped_invalid = 0, expected 3");
  expect(check_broken(Defect::accepts_after_close), "a push after close() returned 'dropped_invalid'");
  expect(check_broken(Defect::restore_not_checked), "restore() of a state with one arrival too many did not throw");
}

BOOST_AUTO_TEST_CASE(a_used_buffer_is_refused) {
  osbi::FifoBuffer<osbi::overflow::Block, double> buffer(shapes[1]);
  const std::vector<double> theta(3, 0.5), x(2, 0.5);
  BOOST_REQUIRE(buffer.push(theta, x).accepted());
  const ConformanceReport report = check_sample_buffer(buffer);
  BOOST_TEST(reports(report, "needs a fresh buffer"), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
