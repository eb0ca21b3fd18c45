// SPDX-License-Identifier: BSD-3-Clause
/// \brief LinearGaussian: exact (weighted) gradients over parameters, θ and x through the density checker, and the
/// weighted backward's argument checks.
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Density = osbi::LinearGaussian<double, Space>;
using osbi::testing::device_matrix;
using osbi::testing::normals;

static_assert(osbi::ConditionalDensity<Density>);

/// D = 3, C = 2 with W, b and s drawn (0.5·N(0, 1)), 5 rows.
struct GradientCase {
  static constexpr std::size_t d = 3, cdim = 2, rows = 5;
  Density density{d, cdim};
  osbi::Matrix<double, Space> theta = device_matrix<double>(normals(rows * d, 52), rows, d);
  osbi::Matrix<double, Space> x = device_matrix<double>(normals(rows * cdim, 53, 2.0), rows, cdim);

  GradientCase() {
    auto host = Kokkos::create_mirror_view(density.parameters());
    const std::vector<double> values = normals(host.extent(0), 51, 0.5);
    for (std::size_t i = 0; i < host.extent(0); ++i)
      host(i) = values[i];
    Kokkos::deep_copy(density.parameters(), host);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(flow_linear_gaussian)

BOOST_AUTO_TEST_CASE(nll_backward_matches_finite_differences_for_parameters_theta_and_x) {
  // The density checker's defaults: h = 1e-5·max(1, |v|), relative error <= 1e-5 against max(|g|, 1e-3).
  GradientCase test;
  const auto report = osbi::testing::check_density_gradients(Space(), test.density, test.theta, test.x);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == GradientCase::d * GradientCase::cdim + 2 * GradientCase::d);
  BOOST_TEST(report.theta_checked == GradientCase::rows * GradientCase::d);
  BOOST_TEST(report.x_checked == GradientCase::rows * GradientCase::cdim);
}

BOOST_AUTO_TEST_CASE(weighted_nll_backward_matches_finite_differences_for_parameters_theta_and_x) {
  // w_i = 0.5 + N(0, 1), w_0 = 0, w_1 < 0; unit weights are the unweighted call bit for bit (inside the checker).
  GradientCase test;
  const auto weights = osbi::testing::device_vector<double>(osbi::testing::signed_weights(GradientCase::rows, 54));
  const auto report = osbi::testing::check_density_gradients(Space(), test.density, test.theta, test.x, weights);
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == GradientCase::d * GradientCase::cdim + 2 * GradientCase::d);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_rejected) {
  Density density(2, 3);
  const Space space;
  osbi::Matrix<double, Space> theta("theta", 4, 2), theta_wide("theta_wide", 4, 5), x("x", 4, 3), x_narrow("x", 4, 1);
  osbi::Vector<double, Space> weights_short("weights", 3);
  BOOST_CHECK_THROW(osbi::nll_backward(density, space, theta_wide, x), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(density.nll_backward(space, theta, x, weights_short, {}, {}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(density.nll_backward(space, theta, x, {}, theta_wide, {}), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(density.nll_backward(space, theta, x, {}, {}, x_narrow), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(
      osbi::nll_backward(density, space, osbi::Matrix<double, Space>("e", 0, 2), osbi::Matrix<double, Space>("e", 0, 3)),
      osbi::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
