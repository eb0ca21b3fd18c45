// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_prior: the archetype passes, and each deliberately broken prior is reported with a line
/// that names its defect (so the checker can fail); ConformanceReport's summary.
#include <osbi/testing/check_prior.hpp>
#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/prior_archetype.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>

#include <prior/prior_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

using namespace osbi::prior_test;

namespace {

enum class Defect {
  none,
  samples_outside_support, // draws on [0, 2] for a support of [0, 1]
  ignores_support,         // log_prob is 0 everywhere
  ignores_nan,             // log_prob of a NaN row is 0
  no_shape_checks,         // never throws DimensionMismatch
  wrong_exception,         // throws InvalidArgument for a wrong shape
  same_draw_every_row,     // every row uses rng.row(0)
  depends_on_batch_size,   // row i uses rng.row(N − 1 − i)
  ignores_rng,             // the same draws whatever the BatchRandom
  short_support,           // support() has one entry for two dimensions
  infinite_at_samples,     // log_prob is +inf inside
};

// Uniform on [0, 1]², with one defect switched on. Models Prior (the concept cannot see the defects).
class BrokenPrior {
public:
  using scalar_type = double;
  using execution_space = osbi::DefaultExecutionSpace;

  explicit BrokenPrior(Defect defect) : m_defect(defect) {}

  std::size_t dim() const { return 2; }

  osbi::SupportBounds support() const {
    if (m_defect == Defect::short_support) return osbi::SupportBounds{{0.0}, {1.0}};
    return osbi::SupportBounds{{0.0, 0.0}, {1.0, 1.0}};
  }

  void sample(const execution_space& space, osbi::BatchRandom rng,
              const osbi::Matrix<double, execution_space>& theta) const {
    check_width(theta.extent(1));
    const Defect defect = m_defect;
    const std::size_t rows = theta.extent(0);
    const osbi::BatchRandom fixed = osbi::RandomStream(42).at(0);
    Kokkos::parallel_for(
        "osbi::test::BrokenPrior::sample", Kokkos::RangePolicy<execution_space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          std::size_t row = i;
          if (defect == Defect::same_draw_every_row) row = 0;
          if (defect == Defect::depends_on_batch_size) row = rows - 1 - i;
          osbi::RowRandom generator = defect == Defect::ignores_rng ? fixed.row(row) : rng.row(row);
          const double scale = defect == Defect::samples_outside_support ? 2.0 : 1.0;
          for (std::size_t j = 0; j < 2; ++j)
            theta(i, j) = scale * generator.uniform();
        });
  }

  void log_prob(const execution_space& space, const osbi::ConstMatrix<double, execution_space>& theta,
                const osbi::Vector<double, execution_space>& out) const {
    check_width(theta.extent(1));
    if (m_defect != Defect::no_shape_checks)
      osbi::require<osbi::DimensionMismatch>(out.extent(0) == theta.extent(0), "BrokenPrior", "out length");
    const Defect defect = m_defect;
    constexpr double infinity = std::numeric_limits<double>::infinity();
    Kokkos::parallel_for(
        "osbi::test::BrokenPrior::log_prob", Kokkos::RangePolicy<execution_space>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double x = theta(i, 0), y = theta(i, 1);
          const bool has_nan = x != x || y != y;
          const bool inside = 0.0 <= x && x <= 1.0 && 0.0 <= y && y <= 1.0;
          double value = inside ? 0.0 : -infinity;
          if (defect == Defect::ignores_support) value = 0.0;
          if (defect == Defect::infinite_at_samples && inside) value = infinity;
          if (has_nan && defect != Defect::ignores_nan) value = x + y;
          if (has_nan && defect == Defect::ignores_nan) value = 0.0;
          out(i) = value;
        });
  }

private:
  void check_width(std::size_t width) const {
    if (m_defect == Defect::no_shape_checks) return;
    if (m_defect == Defect::wrong_exception) osbi::require<osbi::InvalidArgument>(width == 2, "BrokenPrior", "width");
    osbi::require<osbi::DimensionMismatch>(width == 2, "BrokenPrior", "width");
  }

  Defect m_defect;
};

static_assert(osbi::Prior<BrokenPrior>);

// The report fails and one of its lines contains `expected`.
void expect_reported(Defect defect, const std::string& expected) {
  const auto report = osbi::testing::check_prior(BrokenPrior(defect), osbi::testing::test_seed(), 1000);
  BOOST_TEST_MESSAGE("defect " << static_cast<int>(defect) << ": " << report.summary());
  BOOST_TEST(!report.passed(), "defect " << static_cast<int>(defect) << " passed check_prior");
  bool found = false;
  for (const std::string& line : report.failures)
    found = found || line.find(expected) != std::string::npos;
  BOOST_TEST(found, "defect " << static_cast<int>(defect) << ": no line contains \"" << expected << "\" in\n"
                              << report.summary());
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_prior)

BOOST_AUTO_TEST_CASE(archetype_models_prior_and_passes) {
  static_assert(osbi::Prior<osbi::testing::PriorArchetype>);
  const auto report = osbi::testing::check_prior(osbi::testing::PriorArchetype{}, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(a_correct_prior_passes) {
  const auto report = osbi::testing::check_prior(BrokenPrior(Defect::none), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(each_defect_is_reported) {
  expect_reported(Defect::samples_outside_support, "outside support()");
  expect_reported(Defect::ignores_support, "expected -inf");
  expect_reported(Defect::ignores_nan, "expected NaN");
  expect_reported(Defect::no_shape_checks, "did not throw osbi::DimensionMismatch");
  expect_reported(Defect::wrong_exception, "instead of osbi::DimensionMismatch");
  expect_reported(Defect::same_draw_every_row, "rows are equal");
  expect_reported(Defect::depends_on_batch_size, "must depend on rng.row(i) only");
  expect_reported(Defect::ignores_rng, "different BatchRandoms gave identical values");
  expect_reported(Defect::short_support, "support() has 1 lower and 1 upper bounds, expected dim() = 2");
  expect_reported(Defect::infinite_at_samples, "log_prob is not finite");
}

BOOST_AUTO_TEST_CASE(missing_shape_checks_name_every_call) {
  const auto report = osbi::testing::check_prior(BrokenPrior(Defect::no_shape_checks), osbi::testing::test_seed(), 100);
  // Widths 3 and 1, each for sample and log_prob, and out lengths 3 and 5.
  BOOST_TEST(report.failures.size() == 6u, report.summary());
}

BOOST_AUTO_TEST_CASE(report_summary) {
  osbi::testing::ConformanceReport report;
  BOOST_TEST(report.passed());
  BOOST_TEST(report.summary() == "all checks passed");
  report.fail("first problem");
  report.fail("second problem");
  BOOST_TEST(!report.passed());
  BOOST_TEST(report.summary() == "2 checks failed:\n  - first problem\n  - second problem");
}

BOOST_AUTO_TEST_SUITE_END()
