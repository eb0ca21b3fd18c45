// SPDX-License-Identifier: BSD-3-Clause
/// \brief PointSimulatorAdapter accounts for every row (thrown, non-finite, ok) and never aborts a batch;
/// SimulationReport and classify_rows; check_simulator passes good simulators and names the defects of bad ones.
#include <osbi/simulator/point_simulator.hpp>
#include <osbi/simulator/simulation_report.hpp>
#include <osbi/simulator/simulator.hpp>
#include <osbi/testing/check_simulator.hpp>
#include <osbi/testing/simulator_archetype.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity_value = std::numeric_limits<double>::infinity();

using HostSpace = Kokkos::DefaultHostExecutionSpace;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A point solver whose failures are chosen by sample id, passed as θ[0] (exact in float): the
// rows of each set throw, return NaN, return Inf, overflow float, or forget to write x[2].
// x = (θ0 + θ1, N(0,1), U(0,1)) from the row's generator, in that order.
struct FaultySolver {
  std::set<std::size_t> throw_rows, throw_int_rows, nan_rows, inf_rows, huge_rows, unwritten_rows;
  std::size_t calls = 0;

  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 3; }

  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) {
    ++calls;
    BOOST_REQUIRE(theta.size() == 2u);
    BOOST_REQUIRE(x.size() == 3u);
    BOOST_REQUIRE(std::isnan(x[0]) && std::isnan(x[1]) && std::isnan(x[2])); // pre-filled with NaN
    const auto id = static_cast<std::size_t>(theta[0]);
    x[0] = 42.0; // a partial write before a failure must not survive in the batch
    if (throw_rows.count(id)) throw std::runtime_error("solver diverged for sample " + std::to_string(id));
    if (throw_int_rows.count(id)) throw 7;
    x[0] = theta[0] + theta[1];
    x[1] = rng.normal();
    if (unwritten_rows.count(id)) return;
    x[2] = nan_rows.count(id)    ? nan_value
           : inf_rows.count(id)  ? -infinity_value
           : huge_rows.count(id) ? 1e300
                                 : rng.uniform();
  }
};

FaultySolver faulty_solver() {
  FaultySolver solver;
  solver.throw_rows = {3, 11};
  solver.throw_int_rows = {7};
  solver.nan_rows = {5};
  solver.inf_rows = {0};
  solver.huge_rows = {13};
  solver.unwritten_rows = {19};
  return solver;
}

// θ(i) = (i, 0.25 i + 0.5): exact in float, and θ0 names the sample for FaultySolver.
template <class Scalar>
osbi::Matrix<Scalar, HostSpace> numbered_theta(std::size_t rows) {
  osbi::Matrix<Scalar, HostSpace> theta("osbi::test::theta", rows, 2);
  for (std::size_t i = 0; i < rows; ++i) {
    theta(i, 0) = static_cast<Scalar>(i);
    theta(i, 1) = static_cast<Scalar>(0.25 * static_cast<double>(i) + 0.5);
  }
  return theta;
}

// What row i of x must hold when its solve succeeds, computed without the adapter.
std::vector<double> expected_row(std::size_t i, osbi::BatchRandom rng) {
  osbi::RowRandom generator = rng.row(i);
  const double normal = generator.normal();
  const double uniform = generator.uniform();
  return {static_cast<double>(i) + 0.25 * static_cast<double>(i) + 0.5, normal, uniform};
}

template <class Scalar>
bool same_bits_or_both_nan(Scalar a, Scalar b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// Defects of a batched simulator that check_simulator must name; `none` is a correct simulator.
enum class Defect {
  none,
  shared_row,
  partial_nan,
  inf_failure,
  unchecked_shapes,
  stateful,
  ignores_rng,
  reversed_rows,
  unwritten_column
};

// A tiny batched Simulator on the default execution space: x = (θ0 + ε0, θ1 + ε1, ε0 ε1) with ε from
// rng.row(i); a row with θ1 > 0.8 is outside the model's domain and fails (all NaN when correct).
template <Defect defect>
class TinySimulator {
public:
  using scalar_type = double;
  using execution_space = Kokkos::DefaultExecutionSpace;

  std::size_t theta_dim() const { return 2; }
  std::size_t x_dim() const { return 3; }

  void simulate(const execution_space& space, const osbi::ConstMatrix<double, execution_space>& theta,
                const osbi::Matrix<double, execution_space>& x, osbi::BatchRandom rng) {
    if constexpr (defect != Defect::unchecked_shapes) osbi::check_simulation_shapes("TinySimulator", theta, x, 2, 3);
    const double shift = static_cast<double>(m_calls++);
    const std::size_t rows = theta.extent(0);
    const double failed = defect == Defect::inf_failure ? infinity_value : nan_value;
    Kokkos::parallel_for(
        "osbi::test::TinySimulator::simulate", Kokkos::RangePolicy<execution_space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          // rows and shift are first used here, not inside the if constexpr below (nvcc requires it).
          const std::size_t last_row = rows - 1;
          const double call_shift = shift;
          std::size_t row = i;
          if constexpr (defect == Defect::shared_row) row = 0;
          if constexpr (defect == Defect::reversed_rows) row = last_row - i;
          osbi::RowRandom generator = rng.row(row);
          double noise0 = generator.normal(), noise1 = generator.normal();
          if constexpr (defect == Defect::stateful) noise0 += call_shift;
          if constexpr (defect == Defect::ignores_rng) noise0 = noise1 = 0.5;
          if (theta(i, 1) > 0.8) {
            x(i, 0) = defect == Defect::partial_nan ? 1.0 : failed;
            x(i, 1) = failed;
            x(i, 2) = failed;
            return;
          }
          x(i, 0) = theta(i, 0) + noise0;
          x(i, 1) = theta(i, 1) + noise1;
          if constexpr (defect != Defect::unwritten_column) x(i, 2) = noise0 * noise1;
        });
  }

private:
  std::uint64_t m_calls = 0;
};

// θ on a grid of (0, 1)², every fifth row outside the domain (θ1 > 0.8).
osbi::Matrix<double, HostSpace> grid_theta(std::size_t rows) {
  osbi::Matrix<double, HostSpace> theta("osbi::test::grid_theta", rows, 2);
  for (std::size_t i = 0; i < rows; ++i) {
    theta(i, 0) = static_cast<double>(i) / static_cast<double>(rows);
    theta(i, 1) = (i % 5 == 4) ? 0.9 : 0.1 * static_cast<double>(i % 5);
  }
  return theta;
}

template <Defect defect>
osbi::testing::ConformanceReport check_tiny() {
  TinySimulator<defect> simulator;
  const auto report = osbi::testing::check_simulator(simulator, grid_theta(40), osbi::testing::test_seed());
  BOOST_TEST_MESSAGE(report.summary());
  return report;
}

bool any_failure_contains(const osbi::testing::ConformanceReport& report, const std::string& part) {
  for (const auto& line : report.failures)
    if (contains(line, part)) return true;
  return false;
}

} // namespace

// The adapter is a Simulator on the host space, for any PointSimulator and scalar type.
static_assert(osbi::PointSimulator<FaultySolver>);
static_assert(!osbi::Simulator<FaultySolver>);
static_assert(osbi::Simulator<osbi::PointSimulatorAdapter<FaultySolver>>);
static_assert(osbi::Simulator<osbi::PointSimulatorAdapter<FaultySolver, double>>);
static_assert(
    std::is_same_v<osbi::PointSimulatorAdapter<FaultySolver>::execution_space, Kokkos::DefaultHostExecutionSpace>);
static_assert(std::is_same_v<osbi::PointSimulatorAdapter<FaultySolver>::scalar_type, osbi::real_t>);
static_assert(osbi::Simulator<TinySimulator<Defect::none>>);
static_assert(!osbi::PointSimulator<osbi::testing::SimulatorArchetype>);

BOOST_AUTO_TEST_SUITE(point_simulator)

BOOST_AUTO_TEST_CASE(adapter_marks_exactly_the_failed_rows_and_keeps_the_others) {
  const std::size_t rows = 20;
  osbi::PointSimulatorAdapter<FaultySolver> adapter(faulty_solver());
  BOOST_TEST(adapter.theta_dim() == 2u);
  BOOST_TEST(adapter.x_dim() == 3u);
  const auto theta = numbered_theta<float>(rows);
  osbi::Matrix<float, HostSpace> x("osbi::test::x", rows, 3);
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed()).at(4);

  const osbi::SimulationReport report = adapter.simulate(HostSpace(), theta, x, rng);

  BOOST_TEST(adapter.point().calls == rows); // every row was tried, none skipped after a failure
  BOOST_TEST(report.total() == rows);
  BOOST_TEST(report.threw() == 3u);      // rows 3, 7, 11
  BOOST_TEST(report.non_finite() == 4u); // rows 0 (-inf), 5 (NaN), 13 (1e300 overflows float), 19 (unwritten)
  BOOST_TEST(report.ok() == 13u);
  BOOST_TEST(report.ok() + report.threw() + report.non_finite() == report.total());

  const std::set<std::size_t> threw = {3, 7, 11}, non_finite = {0, 5, 13, 19};
  for (std::size_t i = 0; i < rows; ++i) {
    const osbi::SimulationStatus expected = threw.count(i)        ? osbi::SimulationStatus::threw
                                            : non_finite.count(i) ? osbi::SimulationStatus::non_finite
                                                                  : osbi::SimulationStatus::ok;
    BOOST_TEST((report.status(i) == expected), "row " << i);
    if (expected == osbi::SimulationStatus::ok) {
      const std::vector<double> reference = expected_row(i, rng);
      for (std::size_t j = 0; j < 3; ++j)
        BOOST_TEST(x(i, j) == static_cast<float>(reference[j]), "x(" << i << ", " << j << ")");
    } else {
      for (std::size_t j = 0; j < 3; ++j)
        BOOST_TEST(std::isnan(x(i, j)), "x(" << i << ", " << j << ") = " << x(i, j));
    }
  }

  // One failure per failed row, in row order, with its θ and why.
  const auto& failures = report.failures();
  BOOST_REQUIRE(failures.size() == 7u);
  const std::size_t failed_rows[] = {0, 3, 5, 7, 11, 13, 19};
  for (std::size_t k = 0; k < failures.size(); ++k) {
    BOOST_TEST(failures[k].row == failed_rows[k]);
    BOOST_TEST((failures[k].status == report.status(failures[k].row)));
    BOOST_REQUIRE(failures[k].theta.size() == 2u);
    BOOST_TEST(failures[k].theta[0] == static_cast<double>(failed_rows[k]));
    BOOST_TEST(failures[k].theta[1] == 0.25 * static_cast<double>(failed_rows[k]) + 0.5);
  }
  BOOST_TEST(contains(failures[0].message, "x[2] = -inf"), failures[0].message);
  BOOST_TEST(failures[1].message == "solver diverged for sample 3");
  BOOST_TEST(contains(failures[2].message, "x[2] = nan"), failures[2].message);
  BOOST_TEST(contains(failures[3].message, "not derived from std::exception"), failures[3].message);
  BOOST_TEST(failures[4].message == "solver diverged for sample 11");
  BOOST_TEST(contains(failures[5].message, "not representable"), failures[5].message);
  BOOST_TEST(contains(failures[6].message, "x[2] = nan"), failures[6].message);

  BOOST_TEST((adapter.totals() == report.counts()));
}

BOOST_AUTO_TEST_CASE(double_scalar_keeps_values_that_overflow_float) {
  // Row 13 returns 1e300: non-finite as float (above), a valid value as double.
  osbi::PointSimulatorAdapter<FaultySolver, double> adapter(faulty_solver());
  const auto theta = numbered_theta<double>(20);
  osbi::Matrix<double, HostSpace> x("osbi::test::x", 20, 3);
  const auto report = adapter.simulate(HostSpace(), theta, x, osbi::RandomStream(osbi::testing::test_seed()).at(0));
  BOOST_TEST((report.status(13) == osbi::SimulationStatus::ok));
  BOOST_TEST(x(13, 2) == 1e300);
  BOOST_TEST(report.non_finite() == 3u);
  BOOST_TEST(report.threw() == 3u);
}

BOOST_AUTO_TEST_CASE(totals_and_merged_reports_add_up_over_batches) {
  osbi::PointSimulatorAdapter<FaultySolver> adapter(faulty_solver());
  osbi::RandomStream stream(osbi::testing::test_seed(), 3);
  const std::size_t sizes[] = {20, 0, 7, 33, 1};
  osbi::SimulationReport merged;
  std::size_t simulated = 0;
  std::vector<osbi::SimulationReport> reports;
  for (std::size_t rows : sizes) {
    const auto theta = numbered_theta<float>(rows);
    osbi::Matrix<float, HostSpace> x("osbi::test::x", rows, 3);
    reports.push_back(adapter.simulate(HostSpace(), theta, x, stream.next()));
    merged += reports.back();
    simulated += rows;
    const osbi::SimulationCounts& totals = adapter.totals();
    BOOST_TEST(totals.ok + totals.threw + totals.non_finite == simulated);
    BOOST_TEST(totals.total() == simulated);
  }
  BOOST_TEST(adapter.point().calls == simulated);
  // Failed ids are < 20: batch sizes 20, 0, 7, 33, 1 see 7, 0, 3 (0, 3, 5), 7 and 1 (0) of them.
  BOOST_TEST(adapter.totals().failed() == 7u + 0u + 3u + 7u + 1u);
  BOOST_TEST(adapter.totals().threw == 3u + 1u + 3u);
  BOOST_TEST((adapter.totals() == merged.counts()));
  BOOST_TEST(merged.total() == simulated);
  BOOST_TEST(merged.statuses().size() == simulated);
  BOOST_TEST(merged.failures().size() == merged.failed());

  // Rows of later batches follow the earlier ones: batch 4 (33 rows) starts at row 27.
  for (std::size_t i = 0; i < 33; ++i)
    BOOST_TEST((merged.status(27 + i) == reports[3].status(i)));
  std::size_t found = 0;
  for (const auto& failure : merged.failures())
    if (failure.row == 27 + 11) {
      ++found;
      BOOST_TEST(failure.message == "solver diverged for sample 11");
      BOOST_TEST(failure.theta[0] == 11.0);
    }
  BOOST_TEST(found == 1u);

  adapter.reset_totals();
  BOOST_TEST(adapter.totals().total() == 0u);
}

BOOST_AUTO_TEST_CASE(same_batch_random_gives_the_same_x_and_another_batch_differs) {
  osbi::PointSimulatorAdapter<FaultySolver> adapter(faulty_solver());
  const auto theta = numbered_theta<float>(20);
  osbi::Matrix<float, HostSpace> first("osbi::test::first", 20, 3), second("osbi::test::second", 20, 3),
      other("osbi::test::other", 20, 3);
  const osbi::RandomStream stream(osbi::testing::test_seed(), 5);
  adapter.simulate(HostSpace(), theta, first, stream.at(2));
  Kokkos::deep_copy(second, 99.0f); // the previous content of x must not matter
  adapter.simulate(HostSpace(), theta, second, stream.at(2));
  adapter.simulate(HostSpace(), theta, other, stream.at(3));
  std::size_t differing = 0;
  for (std::size_t i = 0; i < 20; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      BOOST_TEST(same_bits_or_both_nan(first(i, j), second(i, j)), "x(" << i << ", " << j << ")");
      differing += same_bits_or_both_nan(first(i, j), other(i, j)) ? 0 : 1;
    }
  // Columns 1 and 2 of the 13 ok rows are continuous random draws: all differ (ties have probability 0
  // up to float resolution, < 26 * 2^-24 ≈ 1.5e-6).
  BOOST_TEST(differing == 26u);
}

BOOST_AUTO_TEST_CASE(wrong_widths_throw_dimension_mismatch_naming_both_sizes_before_any_solve) {
  osbi::PointSimulatorAdapter<FaultySolver> adapter(faulty_solver());
  const osbi::BatchRandom rng = osbi::RandomStream(1).at(0);
  auto expect_message = [&](const osbi::Matrix<float, HostSpace>& theta, const osbi::Matrix<float, HostSpace>& x,
                            const std::string& message) {
    try {
      adapter.simulate(HostSpace(), theta, x, rng);
      BOOST_FAIL("simulate accepted theta " << theta.extent(0) << " x " << theta.extent(1) << " and x " << x.extent(0)
                                            << " x " << x.extent(1));
    } catch (const osbi::DimensionMismatch& error) {
      BOOST_TEST(std::string(error.what()) == message);
    }
  };
  using M = osbi::Matrix<float, HostSpace>;
  expect_message(M("theta", 5, 3), M("x", 5, 3), "osbi::PointSimulatorAdapter: theta's column count has 3, expected 2");
  expect_message(M("theta", 5, 2), M("x", 5, 4), "osbi::PointSimulatorAdapter: x's column count has 4, expected 3");
  expect_message(M("theta", 5, 2), M("x", 6, 3),
                 "osbi::PointSimulatorAdapter: x's row count (must equal theta's) has 6, expected 5");
  BOOST_TEST(adapter.point().calls == 0u);
  BOOST_TEST(adapter.totals().total() == 0u);
}

BOOST_AUTO_TEST_CASE(dimensions_are_checked_at_construction) {
  struct Dimensionless {
    std::size_t theta_dim() const { return 0; }
    std::size_t x_dim() const { return 3; }
    void simulate(std::span<const double>, std::span<double>, osbi::RowRandom&) {}
  };
  BOOST_CHECK_THROW(osbi::PointSimulatorAdapter<Dimensionless>{Dimensionless{}}, osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(immovable_solvers_are_built_in_place) {
  osbi::PointSimulatorAdapter<osbi::testing::PointSimulatorArchetype> adapter(std::in_place, 2, 5);
  BOOST_TEST(adapter.x_dim() == 5u);
  const auto theta = numbered_theta<float>(9);
  osbi::Matrix<float, HostSpace> x("osbi::test::x", 9, 5);
  const auto report = adapter.simulate(HostSpace(), theta, x, osbi::RandomStream(osbi::testing::test_seed()).at(0));
  BOOST_TEST(report.all_ok());
  BOOST_TEST(report.total() == 9u);
}

BOOST_AUTO_TEST_CASE(report_summary_counts_and_names_failures) {
  osbi::PointSimulatorAdapter<FaultySolver> adapter(faulty_solver());
  const auto theta = numbered_theta<float>(20);
  osbi::Matrix<float, HostSpace> x("osbi::test::x", 20, 3);
  const auto report = adapter.simulate(HostSpace(), theta, x, osbi::RandomStream(2).at(0));
  const std::string summary = report.summary();
  BOOST_TEST_MESSAGE(summary);
  BOOST_TEST(contains(summary, "20 rows: 13 ok, 3 threw, 4 non-finite"), summary);
  BOOST_TEST(contains(summary, "row 3 threw at theta = (3, 1.25): solver diverged for sample 3"), summary);
  const std::string short_summary = report.summary(2);
  BOOST_TEST(contains(short_summary, "... and 5 more failures"), short_summary);
  BOOST_TEST(!contains(short_summary, "row 5 "), short_summary);
}

BOOST_AUTO_TEST_CASE(report_rejects_impossible_marks) {
  osbi::SimulationReport report(4);
  BOOST_TEST(report.ok() == 4u);
  report.mark(2, osbi::SimulationStatus::threw, "boom", {1.0});
  BOOST_CHECK_THROW(report.mark(2, osbi::SimulationStatus::non_finite, "again", {}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(report.mark(4, osbi::SimulationStatus::threw, "outside", {}), osbi::InvalidArgument);
  BOOST_CHECK_THROW(report.mark(1, osbi::SimulationStatus::ok, "not a failure", {}), osbi::InvalidArgument);
  BOOST_TEST(report.ok() == 3u);
  BOOST_TEST(report.threw() == 1u);
  BOOST_TEST(report.total() == 4u);
}

BOOST_AUTO_TEST_CASE(classify_rows_marks_the_non_finite_rows_of_a_batched_output) {
  using Space = Kokkos::DefaultExecutionSpace;
  osbi::Matrix<double, Space> theta("osbi::test::theta", 5, 2), x("osbi::test::x", 5, 3);
  auto theta_host = Kokkos::create_mirror_view(theta);
  auto x_host = Kokkos::create_mirror_view(x);
  for (std::size_t i = 0; i < 5; ++i) {
    theta_host(i, 0) = static_cast<double>(i);
    theta_host(i, 1) = -static_cast<double>(i);
    for (std::size_t j = 0; j < 3; ++j)
      x_host(i, j) = static_cast<double>(i * 3 + j);
  }
  for (std::size_t j = 0; j < 3; ++j)
    x_host(1, j) = nan_value;    // a failed solve
  x_host(3, 2) = infinity_value; // an overflow
  Kokkos::deep_copy(theta, theta_host);
  Kokkos::deep_copy(x, x_host);

  const osbi::SimulationReport report = osbi::classify_rows(Space(), theta, x);
  BOOST_TEST(report.total() == 5u);
  BOOST_TEST(report.non_finite() == 2u);
  BOOST_TEST(report.ok() == 3u);
  BOOST_TEST(report.threw() == 0u);
  for (std::size_t i : {0u, 2u, 4u})
    BOOST_TEST((report.status(i) == osbi::SimulationStatus::ok));
  BOOST_REQUIRE(report.failures().size() == 2u);
  BOOST_TEST(report.failures()[0].row == 1u);
  BOOST_TEST(report.failures()[0].message == "x(1, 0) = nan");
  BOOST_TEST(report.failures()[1].row == 3u);
  BOOST_TEST(report.failures()[1].message == "x(3, 2) = inf");
  BOOST_TEST(report.failures()[1].theta == std::vector<double>({3.0, -3.0}));

  osbi::Matrix<double, Space> short_x("osbi::test::short_x", 4, 3);
  BOOST_CHECK_THROW(osbi::classify_rows(theta, short_x), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(check_simulator)

BOOST_AUTO_TEST_CASE(passes_correct_simulators) {
  const auto tiny = check_tiny<Defect::none>();
  BOOST_TEST(tiny.passed(), tiny.summary());

  osbi::testing::SimulatorArchetype archetype(3, 4);
  const auto archetype_report = osbi::testing::check_simulator(archetype, osbi::testing::test_seed(), 16);
  BOOST_TEST(archetype_report.passed(), archetype_report.summary());

  // An adapted point solver whose failures are all-NaN rows passes too.
  FaultySolver solver;
  solver.throw_rows = {0};
  osbi::PointSimulatorAdapter<FaultySolver, double> adapter(std::move(solver));
  const auto theta = numbered_theta<double>(12);
  const auto adapter_report = osbi::testing::check_simulator(adapter, theta, osbi::testing::test_seed());
  BOOST_TEST(adapter_report.passed(), adapter_report.summary());
}

BOOST_AUTO_TEST_CASE(names_a_simulator_that_ignores_its_row_generator) {
  const auto report = check_tiny<Defect::shared_row>();
  BOOST_TEST(!report.passed());
  BOOST_TEST(any_failure_contains(report, "have the same θ and got the same x"), report.summary());
}

BOOST_AUTO_TEST_CASE(names_partial_and_infinite_failed_rows) {
  const auto partial = check_tiny<Defect::partial_nan>();
  BOOST_TEST(!partial.passed());
  BOOST_TEST(any_failure_contains(partial, "has 2 non-finite entries (2 NaN) of 3"), partial.summary());
  const auto infinite = check_tiny<Defect::inf_failure>();
  BOOST_TEST(!infinite.passed());
  BOOST_TEST(any_failure_contains(infinite, "has 3 non-finite entries (0 NaN) of 3"), infinite.summary());
}

BOOST_AUTO_TEST_CASE(names_missing_shape_checks) {
  const auto report = check_tiny<Defect::unchecked_shapes>();
  BOOST_TEST(report.failures.size() == 3u, report.summary());
  BOOST_TEST(any_failure_contains(report, "theta with one column too many"), report.summary());
  BOOST_TEST(any_failure_contains(report, "x with one column too many"), report.summary());
  BOOST_TEST(any_failure_contains(report, "x with one row more than theta"), report.summary());
  BOOST_TEST(any_failure_contains(report, "did not throw DimensionMismatch"), report.summary());
}

BOOST_AUTO_TEST_CASE(names_irreproducible_and_deterministic_simulators) {
  const auto stateful = check_tiny<Defect::stateful>();
  BOOST_TEST(any_failure_contains(stateful, "differs between two calls with the same BatchRandom"), stateful.summary());
  const auto deterministic = check_tiny<Defect::ignores_rng>();
  BOOST_TEST(any_failure_contains(deterministic, "simulate ignores rng"), deterministic.summary());
  BOOST_TEST(any_failure_contains(deterministic, "got the same x for every i"), deterministic.summary());
}

BOOST_AUTO_TEST_CASE(names_rows_that_depend_on_the_batch_size) {
  const auto report = check_tiny<Defect::reversed_rows>();
  BOOST_TEST(report.failures.size() == 1u, report.summary());
  BOOST_TEST(any_failure_contains(report, "must not depend on the batch size"), report.summary());
}

BOOST_AUTO_TEST_CASE(names_entries_never_written) {
  const auto report = check_tiny<Defect::unwritten_column>();
  BOOST_TEST(any_failure_contains(report, ", 2) was never written"), report.summary());
  BOOST_TEST(any_failure_contains(report, "64 entries of x in all were never written"), report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
