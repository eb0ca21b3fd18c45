// SPDX-License-Identifier: BSD-3-Clause
/// \brief The library's densities through the conformance checks: ConditionalMAF, ConditionalNSF and a
/// ConditionallyCentered NSF (z-scored, parameters moved off their initialization) pass check_conditional_density in
/// double (with finite differences) and float, and check_loss with NllLoss and WeightedNllLoss.
#include <osbi/testing/check_conditional_density.hpp>
#include <osbi/testing/check_estimator.hpp>
#include <osbi/testing/check_loss.hpp>

#include <osbi/flow/conditionally_centered.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/loss/weighted_nll.hpp>

#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;

osbi::MAFOptions small_maf() {
  osbi::MAFOptions options;
  options.transforms = 2;
  options.hidden = 8;
  options.seed = osbi::testing::test_seed();
  return options;
}

osbi::NSFOptions small_nsf() {
  osbi::NSFOptions options;
  options.transforms = 2;
  options.hidden = 8;
  options.seed = osbi::testing::test_seed();
  return options;
}

/// Adds 0.05·N(0, 1) to every parameter (a zero-initialized last layer would hide a wrong gradient of its inputs)
/// and z-scores θ and x with non-trivial statistics.
template <class Density>
void move_off_initialization(Density& density, std::uint64_t stream) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), density.parameters());
  const std::vector<double> noise = osbi::testing::normals(host.extent(0), stream, 0.05);
  for (std::size_t k = 0; k < host.extent(0); ++k) host(k) += static_cast<typename Density::scalar_type>(noise[k]);
  Kokkos::deep_copy(density.parameters(), host);
  const std::size_t d = density.theta_dim(), c = density.context_dim();
  std::vector<double> theta_mean(d), theta_std(d), x_mean(c), x_std(c);
  for (std::size_t j = 0; j < d; ++j) theta_mean[j] = 0.1 * static_cast<double>(j), theta_std[j] = 0.8 + 0.2 * j;
  for (std::size_t j = 0; j < c; ++j) x_mean[j] = -0.2 * static_cast<double>(j), x_std[j] = 1.5 - 0.1 * j;
  density.set_standardization(theta_mean, theta_std, x_mean, x_std);
}

template <class Density>
void expect_conforming(Density& density, const char* name) {
  BOOST_TEST_CONTEXT(name) {
    const auto report = osbi::testing::check_conditional_density(density, osbi::testing::test_seed(), 48);
    BOOST_TEST(report.passed(), report.summary());
    osbi::NllLoss nll;
    const auto nll_report = osbi::testing::check_loss(nll, density, osbi::testing::test_seed());
    BOOST_TEST(nll_report.passed(), nll_report.summary());
    osbi::WeightedNllLoss weighted;
    const auto weighted_report = osbi::testing::check_loss(weighted, density, osbi::testing::test_seed());
    BOOST_TEST(weighted_report.passed(), weighted_report.summary());
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(library_models)

BOOST_AUTO_TEST_CASE(conditional_maf_conforms) {
  osbi::ConditionalMAF<double, Space> in_double(3, 2, small_maf());
  move_off_initialization(in_double, 151);
  expect_conforming(in_double, "ConditionalMAF<double>");
  osbi::ConditionalMAF<float, Space> in_float(2, 3, small_maf());
  move_off_initialization(in_float, 152);
  expect_conforming(in_float, "ConditionalMAF<float>");
}

BOOST_AUTO_TEST_CASE(conditional_nsf_conforms) {
  osbi::ConditionalNSF<double, Space> in_double(2, 3, small_nsf());
  move_off_initialization(in_double, 153);
  expect_conforming(in_double, "ConditionalNSF<double>");
  osbi::ConditionalNSF<float, Space> in_float(3, 1, small_nsf());
  move_off_initialization(in_float, 154);
  expect_conforming(in_float, "ConditionalNSF<float>");
}

BOOST_AUTO_TEST_CASE(conditionally_centered_nsf_conforms) {
  osbi::ConditionallyCentered<osbi::ConditionalNSF<double, Space>> centered(
      osbi::ConditionalNSF<double, Space>(2, 2, small_nsf()),
      osbi::CenteringOptions{.hidden = 8, .seed = osbi::testing::test_seed()});
  move_off_initialization(centered, 155);
  expect_conforming(centered, "ConditionallyCentered<ConditionalNSF<double>>");
}

BOOST_AUTO_TEST_SUITE_END()
