// SPDX-License-Identifier: BSD-3-Clause
/// \brief Simulation groups stream to learners: under every layout of the world every simulation lands in exactly one
/// of the learners' buckets, rows arrive intact, failures arrive with their θ; a tiny buffer and small messages
/// lose nothing; a learner's stop ends unbounded simulations without a hang; a 2-rank group's parallel solver gives
/// the serial solver's x, and a member that throws fails just that simulation.
#include <osbi/mpi/parallel_simulator.hpp>
#include <osbi/mpi/rank_layout.hpp>
#include <osbi/mpi/sample_receiver.hpp>
#include <osbi/mpi/sample_sender.hpp>
#include <osbi/mpi/simulation_group.hpp>

#include <mpi/mpi_test_support.hpp>

#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/online/options.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/random.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

namespace mt = osbi::mpi_test;
using Prior = osbi::Gaussian<double, Kokkos::Serial>;
using Fifo = osbi::FifoBuffer<osbi::overflow::Block, double>;

Prior standard_prior() { return Prior::diagonal({0.0, 0.0}, {1.0, 1.0}); }

/// x = (2θ₀ + 1, 2θ₁ + 1, θ₀θ₁): checkable from θ alone. Call k (from 1) of a copy throws when k % 10 == 0 and
/// leaves x NaN when k % 7 == 3 (and not a throw): with one worker per group the failures are known exactly.
struct CountingSimulator {
  std::uint64_t calls = 0;
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 3; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom&) {
    ++calls;
    if (calls % 10 == 0) throw std::runtime_error("solver diverged");
    if (calls % 7 == 3) return;
    x[0] = 2 * theta[0] + 1;
    x[1] = 2 * theta[1] + 1;
    x[2] = theta[0] * theta[1];
  }
  static std::uint64_t throws_in(std::uint64_t calls) { return calls / 10; }
  static std::uint64_t nans_in(std::uint64_t calls) {
    std::uint64_t count = 0;
    for (std::uint64_t k = 1; k <= calls; ++k) count += k % 10 != 0 && k % 7 == 3;
    return count;
  }
};

osbi::BufferOptions buffer_options(std::size_t capacity) {
  osbi::BufferOptions options;
  options.capacity = capacity;
  options.theta_dim = 2;
  options.x_dim = 3;
  return options;
}

/// One learner's end of a run: its buffer, its receiver, and (optionally) a consumer that drains the buffer.
struct Learner {
  Fifo buffer;
  osbi::mpi::SampleReceiver<Fifo> receiver;
  Learner(const osbi::mpi::Roles& roles, std::size_t capacity, const osbi::mpi::StreamOptions& stream)
      : buffer(buffer_options(capacity)), receiver(roles.stream(), roles.group_roots(), buffer, stream) {}
};

/// Checks every row of a batch: x is the simulator's function of θ.
std::uint64_t count_bad_rows(const std::vector<double>& theta, const std::vector<double>& x, std::size_t rows) {
  std::uint64_t bad = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const double* t = &theta[r * 2];
    const double* y = &x[r * 3];
    bad += !(y[0] == 2 * t[0] + 1 && y[1] == 2 * t[1] + 1 && y[2] == t[0] * t[1]);
  }
  return bad;
}

struct RunTotals {
  std::uint64_t finished = 0, threw = 0, non_finite = 0, root_calls = 0;
  std::uint64_t received_rows = 0, received_failures = 0, received_threw = 0, received_non_finite = 0;
  std::uint64_t pushed = 0, accepted = 0, drained = 0, bad_rows = 0, records_with_theta = 0;
  bool learners_consistent = true;
};

/// Runs `budget` simulations under `layout`; learners drain their buffers as rows arrive. Sums over ranks.
RunTotals stream_run(osbi::mpi::RankLayout layout, std::uint64_t budget, std::size_t capacity, const osbi::mpi::StreamOptions& stream) {
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
  RunTotals mine;
  std::optional<Learner> learner;
  std::thread consumer;
  if (roles.is_learner()) {
    learner.emplace(roles, capacity, stream);
    learner->receiver.start();
    consumer = std::thread([&] {
      std::vector<double> theta(8 * 2), x(8 * 3);
      while (const std::size_t n = learner->buffer.sample_batch(8, std::span<double>(theta), std::span<double>(x))) {
        mine.drained += n;
        mine.bad_rows += count_bad_rows(theta, x, n);
      }
    });
  }
  if (roles.simulates()) {
    Prior prior = standard_prior();
    CountingSimulator simulator;
    osbi::online::PipelineOptions options;
    options.workers = 1;
    options.seed = 11;
    options.stop.max_simulations = budget;
    const auto report = osbi::mpi::run_simulation_group(roles, prior, simulator, options, stream);
    if (report.root) {
      mine.finished = report.counts.finished;
      mine.threw = report.counts.failed_threw;
      mine.non_finite = report.counts.failed_non_finite;
      mine.root_calls = osbi::mpi::group_budget(budget, roles.group_count(), roles.group_index());
    }
  }
  if (learner) {
    std::exception_ptr error;
    try {
      learner->receiver.join();
    } catch (...) {
      error = std::current_exception();
    }
    consumer.join();
    if (error) std::rethrow_exception(error);
    const auto counts = learner->receiver.counts();
    const auto accounting = learner->buffer.accounting();
    mine.received_rows = counts.rows;
    mine.received_failures = counts.failures.total();
    mine.received_threw = counts.failures.threw;
    mine.received_non_finite = counts.failures.non_finite;
    mine.pushed = accounting.pushed_total;
    mine.accepted = counts.accepted;
    for (const auto& record : learner->receiver.failures()) mine.records_with_theta += record.theta.size() == 2 && std::isfinite(record.theta[0]);
    mine.learners_consistent = accounting.consistent() && counts.rows == counts.accepted + counts.dropped_invalid + counts.closed &&
                               accounting.pushed_total == counts.rows && counts.senders_ended == static_cast<std::uint64_t>(roles.group_count());
  }
  RunTotals total;
  for (auto [out, in] : {std::pair{&total.finished, mine.finished}, {&total.threw, mine.threw}, {&total.non_finite, mine.non_finite},
                         {&total.root_calls, mine.root_calls}, {&total.received_rows, mine.received_rows},
                         {&total.received_failures, mine.received_failures}, {&total.received_threw, mine.received_threw},
                         {&total.received_non_finite, mine.received_non_finite}, {&total.pushed, mine.pushed},
                         {&total.accepted, mine.accepted}, {&total.drained, mine.drained}, {&total.bad_rows, mine.bad_rows},
                         {&total.records_with_theta, mine.records_with_theta}})
    *out = mt::sum_over_ranks(in);
  total.learners_consistent = mt::on_every_rank(mine.learners_consistent);
  return total;
}

/// The expected failures of a run: every group's copy of the simulator counts its own calls.
std::pair<std::uint64_t, std::uint64_t> expected_failures(osbi::mpi::RankLayout layout, std::uint64_t budget) {
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
  std::uint64_t threw = 0, nans = 0;
  for (int k = 0; k < roles.group_count(); ++k) {
    const std::uint64_t calls = osbi::mpi::group_budget(budget, roles.group_count(), k);
    threw += CountingSimulator::throws_in(calls);
    nans += CountingSimulator::nans_in(calls);
  }
  return {threw, nans};
}

} // namespace

BOOST_AUTO_TEST_SUITE(mpi_sample_stream)

BOOST_AUTO_TEST_CASE(every_simulation_lands_in_exactly_one_learner_bucket) {
  const std::uint64_t budget = 997; // not a multiple of any group count: unequal shares
  for (const auto layout : mt::layouts(1)) {
    BOOST_TEST_CONTEXT("learners " << layout.learners << " of " << mt::world_size() << " ranks") {
      const auto totals = stream_run(layout, budget, 10'000, {});
      const auto [threw, nans] = expected_failures(layout, budget);
      BOOST_TEST(totals.finished == budget);
      BOOST_TEST(totals.threw == threw);
      BOOST_TEST(totals.non_finite == nans);
      // The learners' view: every simulation once, as a row or as a failure.
      BOOST_TEST(totals.received_rows + totals.received_failures == budget);
      BOOST_TEST(totals.received_threw == threw);
      BOOST_TEST(totals.received_non_finite == nans);
      BOOST_TEST(totals.received_rows == budget - threw - nans);
      BOOST_TEST(totals.records_with_theta == threw + nans);
      BOOST_TEST(totals.learners_consistent);
      // Every row reached a buffer, was accepted and drained, intact.
      BOOST_TEST(totals.accepted == totals.received_rows);
      BOOST_TEST(totals.drained == totals.received_rows);
      BOOST_TEST(totals.bad_rows == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_tiny_buffer_and_small_messages_lose_nothing) {
  // 3-row messages, one in flight, a 4-row blocking buffer: senders wait on learners all the time.
  const osbi::mpi::StreamOptions stream{.rows_per_message = 3, .max_delay_seconds = 0.001, .max_in_flight = 1};
  const std::uint64_t budget = 301;
  const auto layout = mt::layouts(1).front(); // one learner, every other rank a group
  const auto totals = stream_run(layout, budget, 4, stream);
  const auto [threw, nans] = expected_failures(layout, budget);
  BOOST_TEST(totals.received_rows + totals.received_failures == budget);
  BOOST_TEST(totals.received_rows == budget - threw - nans);
  BOOST_TEST(totals.drained == totals.received_rows);
  BOOST_TEST(totals.bad_rows == 0u);
  BOOST_TEST(totals.learners_consistent);
}

BOOST_AUTO_TEST_CASE(a_learner_stop_ends_unbounded_simulations) {
  // No budget: the groups simulate until the learners stop them, which they do after 200 rows each.
  for (const auto layout : mt::layouts(1)) {
    const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
    std::optional<Learner> learner;
    std::thread watcher;
    if (roles.is_learner()) {
      learner.emplace(roles, 1'000'000, osbi::mpi::StreamOptions{});
      learner->receiver.start();
      watcher = std::thread([&] {
        learner->buffer.wait_for_arrivals(200);
        learner->receiver.request_stop();
      });
    }
    std::uint64_t finished = 0;
    if (roles.simulates()) {
      Prior prior = standard_prior();
      CountingSimulator simulator;
      osbi::online::PipelineOptions options;
      options.seed = 3;
      const auto report = osbi::mpi::run_simulation_group(roles, prior, simulator, options);
      if (report.root) {
        finished = report.counts.finished;
        BOOST_TEST(report.sent.stops_received == static_cast<std::uint64_t>(layout.learners));
      }
    }
    std::uint64_t received = 0;
    bool consistent = true;
    if (learner) {
      learner->receiver.join();
      watcher.join();
      const auto counts = learner->receiver.counts();
      const auto accounting = learner->buffer.accounting();
      received = counts.simulations();
      // Rows that arrived after the stop were counted rejected_closed by the closed buffer.
      consistent = accounting.consistent() && accounting.pushed_total == counts.rows && accounting.rejected_closed == counts.closed;
    }
    BOOST_TEST(mt::on_every_rank(consistent));
    BOOST_TEST(mt::sum_over_ranks(received) == mt::sum_over_ranks(finished));
  }
}

namespace {

/// x_j = Σ_{i < 64} sin(θ₀·i + θ₁·j) for j < 4, the sum over i split across the group's ranks: a distributed
/// reduction like a domain-decomposed solver's. Throws on every rank but the root when θ₀ > 1.5 (after its part of
/// the work, before the reduction: no collective is left half-entered).
struct DistributedSum {
  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 4; }
  static double term(std::span<const double> theta, int i, std::size_t j) { return std::sin(theta[0] * i + theta[1] * static_cast<double>(j)); }
  void simulate(const osbi::mpi::Communicator& group, std::span<const double> theta, std::span<double> x, osbi::RowRandom&) {
    std::vector<double> part(4, 0.0);
    for (int i = group.rank(); i < 64; i += group.size())
      for (std::size_t j = 0; j < 4; ++j) part[j] += term(theta, i, j);
    int fail = group.rank() != 0 && theta[0] > 1.5 ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, group.get());
    if (fail && group.rank() != 0) throw std::runtime_error("member's part diverged");
    if (fail) return; // the root leaves x NaN-filled... but the member's throw is what the root reports
    MPI_Reduce(group.rank() == 0 ? MPI_IN_PLACE : part.data(), part.data(), 4, MPI_DOUBLE, MPI_SUM, 0, group.get());
    if (group.rank() == 0) std::copy(part.begin(), part.end(), x.begin());
  }
  static std::vector<double> serial(std::span<const double> theta) {
    std::vector<double> x(4, 0.0);
    for (int i = 0; i < 64; ++i)
      for (std::size_t j = 0; j < 4; ++j) x[j] += term(theta, i, j);
    return x;
  }
};
static_assert(osbi::mpi::ParallelSimulator<DistributedSum>);

} // namespace

BOOST_AUTO_TEST_CASE(a_two_rank_group_solves_as_the_serial_solver) {
  const int ranks = mt::world_size();
  if (ranks < 3) {
    BOOST_TEST_MESSAGE("needs 3 ranks or more (a learner and a group of 2): skipped at " << ranks);
    return;
  }
  const osbi::mpi::RankLayout layout{ranks - 2, 2}; // one group of two
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, layout);
  const std::uint64_t budget = 200;
  using Buffer = osbi::FifoBuffer<osbi::overflow::Block, double>;
  osbi::BufferOptions options = buffer_options(1'000);
  options.x_dim = 4;
  std::optional<Buffer> buffer;
  std::optional<osbi::mpi::SampleReceiver<Buffer>> receiver;
  if (roles.is_learner()) {
    buffer.emplace(options);
    receiver.emplace(roles.stream(), roles.group_roots(), *buffer);
    receiver->start();
  }
  std::uint64_t member_solves = 0, root_finished = 0, root_threw = 0;
  if (roles.simulates()) {
    Prior prior = standard_prior();
    DistributedSum solver;
    osbi::online::PipelineOptions pipeline;
    pipeline.stop.max_simulations = budget;
    const auto report = osbi::mpi::run_simulation_group(roles, prior, solver, pipeline);
    member_solves = report.member_solves;
    if (report.root) {
      root_finished = report.counts.finished;
      root_threw = report.counts.failed_threw;
      for (const auto& failure : report.failures) {
        BOOST_TEST(failure.theta[0] > 1.5);
        BOOST_TEST(failure.message.find("rank 1 of the simulation group threw") != std::string::npos);
      }
    }
  }
  double worst = 0;
  std::uint64_t rows = 0, failures = 0;
  if (receiver) {
    receiver->join();
    std::vector<double> theta(2), x(4);
    while (buffer->sample_batch(1, std::span<double>(theta), std::span<double>(x)) == 1) {
      const auto expected = DistributedSum::serial(theta);
      for (std::size_t j = 0; j < 4; ++j) worst = std::max(worst, std::abs(x[j] - expected[j]));
      BOOST_TEST(theta[0] <= 1.5);
      ++rows;
    }
    failures = receiver->counts().failures.threw;
  }
  BOOST_TEST(mt::max_over_ranks(worst) < 1e-12); // the same terms summed in another order
  BOOST_TEST(mt::sum_over_ranks(root_finished) == budget);
  BOOST_TEST(mt::sum_over_ranks(rows) + mt::sum_over_ranks(failures) == budget);
  BOOST_TEST(mt::sum_over_ranks(failures) == mt::sum_over_ranks(root_threw));
  BOOST_TEST(mt::sum_over_ranks(root_threw) > 0u); // P(θ₀ > 1.5) ≈ 0.067: about 13 of 200
  BOOST_TEST(mt::sum_over_ranks(member_solves) == budget); // the member took part in every solve
}

BOOST_AUTO_TEST_SUITE_END()
