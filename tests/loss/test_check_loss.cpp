// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_loss and LossArchetype: the archetype models Loss for EstimatorArchetype, is the closed form it
/// documents and passes; each deliberately broken loss is reported with a line that names its defect.
#include <osbi/testing/check_loss.hpp>
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>
#include <osbi/loss/nll.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <loss/loss_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using osbi::loss_test::Space;
using Density = osbi::LinearGaussian<double, Space>;
using Batch = osbi::TrainingBatch<double, Space>;
namespace tt = boost::test_tools;

enum class Defect {
  none,
  value_offset,            // value adds 0.01
  value_touches_gradients, // value runs the backward pass
  overwrites_gradients,    // value_and_gradient zeroes the gradients first
  half_gradient,           // the gradient is half the value's
  moves_parameters,        // value_and_gradient nudges the parameters
  short_per_row,           // per_row writes N − 1 entries (check_loss makes N = 32 rows)
  wrong_exception,         // wrong shapes come out as InvalidArgument
  accepts_empty,           // an empty batch has value 0
  unrepeatable_value,      // value drifts by 1e-9 per call
};

// NllLoss on a LinearGaussian<double>, with one defect switched on.
class BrokenLoss {
public:
  explicit BrokenLoss(Defect defect) : m_defect(defect) {}

  double value_and_gradient(Density& density, const Space& space, const Batch& batch, osbi::BatchRandom rng) {
    if (m_defect == Defect::accepts_empty && batch.rows() == 0) return 0.0;
    if (m_defect == Defect::overwrites_gradients) density.zero_gradients(space);
    double value = 0;
    translate([&] {
      if (m_defect == Defect::half_gradient) {
        osbi::check_batch(batch, density.theta_dim(), density.context_dim(), "BrokenLoss");
        osbi::Vector<double, Space> halves("halves", batch.rows());
        Kokkos::deep_copy(halves, 0.5);
        density.nll_backward(space, batch.theta, batch.x, halves, {}, {});
        value = osbi::NllLoss().value(density, space, batch, rng);
      } else {
        value = osbi::NllLoss().value_and_gradient(density, space, batch, rng);
      }
    });
    if (m_defect == Defect::moves_parameters) {
      const auto p = density.parameters();
      Kokkos::parallel_for(
          "osbi::test::BrokenLoss::move", Kokkos::RangePolicy<Space>(space, 0, 1),
          KOKKOS_LAMBDA(const std::size_t) { p(0) += 1e-3; });
    }
    return value;
  }

  double value(Density& density, const Space& space, const Batch& batch, osbi::BatchRandom rng) {
    if (m_defect == Defect::accepts_empty && batch.rows() == 0) return 0.0;
    double value = 0;
    translate([&] {
      value = m_defect == Defect::value_touches_gradients ? osbi::NllLoss().value_and_gradient(density, space, batch, rng)
                                                           : osbi::NllLoss().value(density, space, batch, rng);
    });
    if (m_defect == Defect::value_offset) value += 0.01;
    if (m_defect == Defect::unrepeatable_value) value += 1e-9 * static_cast<double>(++m_calls);
    return value;
  }

  void per_row(Density& density, const Space& space, const Batch& batch, osbi::BatchRandom rng,
               const osbi::Vector<double, Space>& out) {
    translate([&] {
      if (m_defect != Defect::short_per_row) return osbi::NllLoss().per_row(density, space, batch, rng, out);
      osbi::require_extent(out.extent(0), batch.rows(), "BrokenLoss", "out");
      const auto head = std::make_pair(std::size_t(0), batch.rows() - 1);
      Batch shorter;
      shorter.theta = Kokkos::subview(batch.theta, head, Kokkos::ALL);
      shorter.x = Kokkos::subview(batch.x, head, Kokkos::ALL);
      osbi::NllLoss().per_row(density, space, shorter, rng, Kokkos::subview(out, head));
    });
  }

private:
  template <class Call>
  void translate(Call&& call) {
    try {
      call();
    } catch (const osbi::DimensionMismatch& error) {
      if (m_defect == Defect::wrong_exception) throw osbi::InvalidArgument("BrokenLoss", error.what());
      throw;
    }
  }

  Defect m_defect;
  std::size_t m_calls = 0;
};

static_assert(osbi::Loss<BrokenLoss, Density>);

void expect_reported(Defect defect, const std::string& expected) {
  osbi::loss_test::LinearGaussianCase test(12);
  BrokenLoss loss(defect);
  osbi::estimator_test::expect_reported(osbi::testing::check_loss(loss, test.density, osbi::testing::test_seed()),
                                        "defect " + std::to_string(static_cast<int>(defect)), expected);
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_loss)

BOOST_AUTO_TEST_CASE(archetype_models_loss_for_the_estimator_archetype_and_passes) {
  static_assert(osbi::Loss<osbi::testing::LossArchetype, osbi::testing::EstimatorArchetype>);
  static_assert(!osbi::ConditionalDensity<osbi::testing::EstimatorArchetype>);
  osbi::testing::LossArchetype loss(0.1);
  osbi::testing::EstimatorArchetype estimator(0.3);
  const auto report = osbi::testing::check_loss(loss, estimator, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  // It is a Loss for any Estimator (it only uses the concept's members): a LinearGaussian too.
  osbi::loss_test::LinearGaussianCase test(10);
  const auto on_density = osbi::testing::check_loss(loss, test.density, osbi::testing::test_seed());
  BOOST_TEST(on_density.passed(), on_density.summary());
}

BOOST_AUTO_TEST_CASE(archetype_is_the_documented_moment_matching_loss) {
  // t_i = θ_i − x_i + noise·ε_i (ε_i from rng.row(i)); L = (1/N) Σ w_i ½(μ − t_i)², ∂L/∂μ = (1/N) Σ w_i (μ − t_i).
  const double mu = 0.4, noise = 0.25;
  const std::size_t n = 6;
  osbi::testing::EstimatorArchetype estimator(mu);
  osbi::testing::LossArchetype loss(noise);
  const Space space;
  const std::vector<double> t = osbi::testing::normals(n, 101), c = osbi::testing::normals(n, 102),
                            w = osbi::testing::signed_weights(n, 103);
  Batch batch;
  batch.theta = osbi::testing::device_matrix<double>(t, n, 1);
  batch.x = osbi::testing::device_matrix<double>(c, n, 1);
  batch.weights = osbi::testing::device_vector<double>(w);
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), 104).at(0);
  double expected = 0, expected_gradient = 0;
  std::vector<double> expected_rows(n);
  for (std::size_t i = 0; i < n; ++i) {
    osbi::RowRandom generator = rng.row(i);
    const double target = t[i] - c[i] + noise * generator.normal();
    expected_rows[i] = 0.5 * (mu - target) * (mu - target);
    expected += w[i] * expected_rows[i] / n;
    expected_gradient += w[i] * (mu - target) / n;
  }
  estimator.zero_gradients(space);
  BOOST_TEST(close(loss.value_and_gradient(estimator, space, batch, rng), expected, 1e-13));
  BOOST_TEST(close(osbi::testing::host_values(estimator.gradients())[0], expected_gradient, 1e-13));
  BOOST_TEST(loss.value(estimator, space, batch, rng) == loss.value_and_gradient(estimator, space, batch, rng));
  osbi::Vector<double, Space> rows("rows", n);
  loss.per_row(estimator, space, batch, rng, rows);
  BOOST_TEST(all_close(osbi::testing::host_values(rows), expected_rows, 1e-13));
  // Another stream draws other noise: the loss is stochastic, as a score-matching loss is.
  BOOST_TEST(loss.value(estimator, space, batch, osbi::RandomStream(osbi::testing::test_seed(), 104).at(1)) != expected);
}

BOOST_AUTO_TEST_CASE(a_correct_loss_passes) {
  osbi::loss_test::LinearGaussianCase test(12);
  BrokenLoss loss(Defect::none);
  const auto report = osbi::testing::check_loss(loss, test.density, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(each_defect_is_reported) {
  expect_reported(Defect::value_offset, "value_and_gradient returned");
  expect_reported(Defect::value_touches_gradients, "value changed the gradients");
  expect_reported(Defect::overwrites_gradients, "gradients do not accumulate");
  expect_reported(Defect::half_gradient, "central differences of value");
  expect_reported(Defect::moves_parameters, "value_and_gradient changed the parameters");
  expect_reported(Defect::short_per_row, "per_row left out(31) unwritten");
  expect_reported(Defect::wrong_exception, "instead of osbi::DimensionMismatch");
  expect_reported(Defect::accepts_empty, "value of an empty batch did not throw osbi::InvalidArgument");
  expect_reported(Defect::unrepeatable_value, "value twice with the same BatchRandom gave different values");
}

BOOST_AUTO_TEST_SUITE_END()
