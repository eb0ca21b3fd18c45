// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_estimator: the archetype and LinearGaussian pass; each deliberately broken estimator is reported with
/// a line that names its defect.
#include <osbi/testing/check_estimator.hpp>
#include <osbi/testing/estimator_archetype.hpp>

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/flow/linear_gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <support/backends.hpp>
#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>

namespace {

using Space = osbi::DefaultExecutionSpace;
using osbi::estimator_test::expect_reported;

enum class Defect {
  none,
  unequal_lengths,       // gradients() has one entry more than parameters()
  fresh_buffers,         // parameters() returns a new copy on each call
  shared_buffer,         // gradients() is parameters()
  zero_gradients_noop,   // zero_gradients does nothing
  same_draw_every_row,   // every row draws from rng.row(0)
  depends_on_batch_size, // row i draws from rng.row(N − 1 − i)
  uses_other_contexts,   // row i's mean is μ + x_{N−1} (the last row's context)
  ignores_rng,           // the same draws whatever the BatchRandom
  skips_last_draw,       // sample(x_one, n) writes n − 1 rows
  no_shape_checks,       // never throws DimensionMismatch
  moves_parameters,      // sample adds 1e-3 to μ
};

// θ_ij = μ_j + x_ij + ε_ij (D = C = 2), with one defect switched on. Models Estimator.
class BrokenEstimator {
public:
  using scalar_type = double;
  using execution_space = Space;

  explicit BrokenEstimator(Defect defect)
      : m_defect(defect), m_parameters("broken_parameters", 2),
        m_gradients("broken_gradients", defect == Defect::unequal_lengths ? 3 : 2) {
    Kokkos::deep_copy(m_parameters, 0.25);
  }

  std::size_t theta_dim() const { return 2; }
  std::size_t context_dim() const { return 2; }
  osbi::Vector<double, Space> parameters() {
    if (m_defect != Defect::fresh_buffers) return m_parameters;
    osbi::Vector<double, Space> copy("copy", 2);
    Kokkos::deep_copy(copy, m_parameters);
    return copy;
  }
  osbi::Vector<double, Space> gradients() { return m_defect == Defect::shared_buffer ? m_parameters : m_gradients; }
  void zero_gradients(const Space& space) {
    if (m_defect != Defect::zero_gradients_noop) Kokkos::deep_copy(space, gradients(), 0.0);
  }

  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) {
    if (m_defect != Defect::no_shape_checks) {
      osbi::require_extent(theta.extent(1), 2, "BrokenEstimator", "theta's columns");
      osbi::require_extent(x.extent(1), 2, "BrokenEstimator", "x's columns");
      osbi::require_extent(x.extent(0), theta.extent(0), "BrokenEstimator", "x's rows");
    }
    launch(space, x, false, theta.extent(0), rng, theta);
  }

  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x_one, std::size_t n, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) {
    if (m_defect != Defect::no_shape_checks) {
      osbi::require_extent(x_one.extent(0), 1, "BrokenEstimator", "x_one's rows");
      osbi::require_extent(x_one.extent(1), 2, "BrokenEstimator", "x_one's columns");
      osbi::require_extent(theta.extent(0), n, "BrokenEstimator", "theta's rows");
      osbi::require_extent(theta.extent(1), 2, "BrokenEstimator", "theta's columns");
    }
    const std::size_t rows = m_defect == Defect::skips_last_draw && n > 0 ? n - 1 : n;
    launch(space, x_one, true, rows, rng, theta);
  }

  // Public: nvcc's extended lambdas cannot live in private member functions.
  void launch(const Space& space, const osbi::ConstMatrix<double, Space>& x, bool one_context, std::size_t rows,
              osbi::BatchRandom rng, const osbi::Matrix<double, Space>& theta) {
    const auto mean = m_parameters;
    const Defect defect = m_defect;
    const std::size_t total = theta.extent(0);
    const osbi::BatchRandom fixed = osbi::RandomStream(42).at(0);
    Kokkos::parallel_for(
        "osbi::test::BrokenEstimator::sample", Kokkos::RangePolicy<Space>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          std::size_t row = i;
          if (defect == Defect::same_draw_every_row) row = 0;
          if (defect == Defect::depends_on_batch_size) row = total - 1 - i;
          osbi::RowRandom generator = defect == Defect::ignores_rng ? fixed.row(row) : rng.row(row);
          const std::size_t context = one_context ? 0 : (defect == Defect::uses_other_contexts ? total - 1 : i);
          for (std::size_t j = 0; j < 2; ++j) theta(i, j) = mean(j) + x(context, j) + generator.normal();
        });
    if (defect == Defect::moves_parameters)
      Kokkos::parallel_for(
          "osbi::test::BrokenEstimator::move", Kokkos::RangePolicy<Space>(space, 0, 1),
          KOKKOS_LAMBDA(const std::size_t) { mean(0) += 1e-3; });
  }

private:
  Defect m_defect;
  osbi::Vector<double, Space> m_parameters, m_gradients;
};

static_assert(osbi::Estimator<BrokenEstimator>);

void expect_reported(Defect defect, const std::string& expected) {
  BrokenEstimator estimator(defect);
  expect_reported(osbi::testing::check_estimator(estimator, osbi::testing::test_seed(), 64),
                  "defect " + std::to_string(static_cast<int>(defect)), expected);
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_estimator)

BOOST_AUTO_TEST_CASE(archetype_models_estimator_only_and_passes) {
  static_assert(osbi::Estimator<osbi::testing::EstimatorArchetype>);
  static_assert(!osbi::ConditionalDensity<osbi::testing::EstimatorArchetype>);
  osbi::testing::EstimatorArchetype archetype(0.5);
  const auto report = osbi::testing::check_estimator(archetype, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(archetype_draws_are_mean_plus_context_plus_standard_normal) {
  // θ − μ − x is row i's standard normal draw from rng.row(i), exactly.
  osbi::testing::EstimatorArchetype archetype(0.75);
  const Space space;
  const auto x = osbi::testing::device_matrix<double>(osbi::testing::normals(5, 61), 5, 1);
  osbi::Matrix<double, Space> theta("theta", 5, 1);
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 62).at(0);
  archetype.sample(space, x, rng, theta);
  space.fence();
  const auto theta_host = osbi::testing::host_values(theta), x_host = osbi::testing::host_values(x);
  for (std::size_t i = 0; i < 5; ++i) {
    osbi::RowRandom generator = rng.row(i);
    const double want = 0.75 + x_host[i] + generator.normal();
    BOOST_TEST(std::abs(theta_host[i] - want) <= osbi::testing::last_bits_tolerance<Space> * std::abs(want),
               "row " << i << ": " << theta_host[i] << " vs " << want);
  }
}

BOOST_AUTO_TEST_CASE(a_correct_estimator_passes) {
  BrokenEstimator estimator(Defect::none);
  const auto report = osbi::testing::check_estimator(estimator, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(linear_gaussian_passes_in_double_and_float) {
  osbi::LinearGaussian<double, Space> in_double(3, 2);
  osbi::estimator_test::randomize_parameters(in_double, 63);
  const auto report = osbi::testing::check_estimator(in_double, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  osbi::LinearGaussian<float, Space> in_float(2, 4);
  osbi::estimator_test::randomize_parameters(in_float, 64);
  const auto float_report = osbi::testing::check_estimator(in_float, osbi::testing::test_seed());
  BOOST_TEST(float_report.passed(), float_report.summary());
}

BOOST_AUTO_TEST_CASE(each_defect_is_reported) {
  expect_reported(Defect::unequal_lengths, "gradients() has 3 entries, parameters() 2");
  expect_reported(Defect::fresh_buffers, "different buffer on a second call");
  expect_reported(Defect::shared_buffer, "parameters() and gradients() are the same buffer");
  expect_reported(Defect::zero_gradients_noop, "zero_gradients left gradient 0 = 1.5");
  expect_reported(Defect::same_draw_every_row, "equal rows");
  expect_reported(Defect::depends_on_batch_size, "row i must depend on rng.row(i) only");
  expect_reported(Defect::uses_other_contexts, "row i must depend on x_i only");
  expect_reported(Defect::ignores_rng, "sample ignores rng");
  expect_reported(Defect::skips_last_draw, "sample(x_one, n = 64) left a non-finite value");
  expect_reported(Defect::no_shape_checks, "did not throw osbi::DimensionMismatch");
  expect_reported(Defect::moves_parameters, "sample changed the parameters");
}

BOOST_AUTO_TEST_CASE(missing_shape_checks_name_every_call) {
  BrokenEstimator estimator(Defect::no_shape_checks);
  const auto report = osbi::testing::check_estimator(estimator, osbi::testing::test_seed(), 16);
  // Three batch shapes and four single-context shapes.
  BOOST_TEST(report.failures.size() == 7u, report.summary());
}

BOOST_AUTO_TEST_SUITE_END()
