// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_proposal and ProposalArchetype: the archetype (not a Prior) and the library's priors used as proposals
/// pass; each deliberately broken proposal is reported with a line that names its defect.
#include <osbi/testing/check_proposal.hpp>
#include <osbi/testing/prior_archetype.hpp>
#include <osbi/testing/proposal_archetype.hpp>

#include <osbi/prior/box_uniform.hpp>
#include <osbi/prior/gaussian.hpp>
#include <osbi/prior/prior.hpp>
#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Core>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;

enum class Defect {
  none,
  ignores_nan,           // log_prob of a NaN row is 0
  infinite_at_samples,   // log_prob is −∞ everywhere
  skips_last_row,        // sample leaves the last row unwritten
  no_shape_checks,       // never throws DimensionMismatch
  same_draw_every_row,   // every row draws from rng.row(0)
  depends_on_batch_size, // row i draws from rng.row(N − 1 − i)
  ignores_rng,           // the same draws whatever the BatchRandom
  drifting_round,        // round() changes on every call
};

// θ ~ N(0, I₂), a VersionedProposal (round 3), with one defect switched on.
class BrokenProposal {
public:
  using scalar_type = double;
  using execution_space = Space;

  explicit BrokenProposal(Defect defect) : m_defect(defect) {}

  std::size_t dim() const { return 2; }
  std::uint64_t round() const { return m_defect == Defect::drifting_round ? 3 + m_calls++ : 3; }

  void sample(const Space& space, osbi::BatchRandom rng, const osbi::Matrix<double, Space>& theta) const {
    check(theta.extent(1));
    const Defect defect = m_defect;
    const std::size_t rows = theta.extent(0);
    const std::size_t written = defect == Defect::skips_last_row && rows > 0 ? rows - 1 : rows;
    const osbi::BatchRandom fixed = osbi::RandomStream(42).at(0);
    Kokkos::parallel_for(
        "osbi::test::BrokenProposal::sample", Kokkos::RangePolicy<Space>(space, 0, written),
        KOKKOS_LAMBDA(const std::size_t i) {
          std::size_t row = i;
          if (defect == Defect::same_draw_every_row) row = 0;
          if (defect == Defect::depends_on_batch_size) row = rows - 1 - i;
          osbi::RowRandom generator = defect == Defect::ignores_rng ? fixed.row(row) : rng.row(row);
          for (std::size_t j = 0; j < 2; ++j) theta(i, j) = generator.normal();
        });
  }

  void log_prob(const Space& space, const osbi::ConstMatrix<double, Space>& theta,
                const osbi::Vector<double, Space>& out) const {
    check(theta.extent(1));
    if (m_defect != Defect::no_shape_checks)
      osbi::require<osbi::DimensionMismatch>(out.extent(0) == theta.extent(0), "BrokenProposal", "out length");
    const Defect defect = m_defect;
    constexpr double infinity = std::numeric_limits<double>::infinity();
    Kokkos::parallel_for(
        "osbi::test::BrokenProposal::log_prob", Kokkos::RangePolicy<Space>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double a = theta(i, 0), b = theta(i, 1);
          double value = -0.5 * (a * a + b * b) - 1.8378770664093453;
          if (defect == Defect::ignores_nan && value != value) value = 0.0;
          if (defect == Defect::infinite_at_samples) value = -infinity;
          out(i) = value;
        });
  }

private:
  void check(std::size_t width) const {
    if (m_defect != Defect::no_shape_checks) osbi::require<osbi::DimensionMismatch>(width == 2, "BrokenProposal", "width");
  }

  Defect m_defect;
  mutable std::uint64_t m_calls = 0;
};

static_assert(osbi::VersionedProposal<BrokenProposal>);
static_assert(!osbi::Prior<BrokenProposal>);

void expect_reported(Defect defect, const std::string& expected) {
  osbi::estimator_test::expect_reported(
      osbi::testing::check_proposal(BrokenProposal(defect), osbi::testing::test_seed(), 500),
      "defect " + std::to_string(static_cast<int>(defect)), expected);
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_proposal)

BOOST_AUTO_TEST_CASE(archetype_models_proposal_but_not_prior_and_passes) {
  static_assert(osbi::Proposal<osbi::testing::ProposalArchetype>);
  static_assert(!osbi::Prior<osbi::testing::ProposalArchetype>);
  static_assert(!osbi::VersionedProposal<osbi::testing::ProposalArchetype>);
  const osbi::testing::ProposalArchetype archetype(std::in_place);
  BOOST_TEST(osbi::proposal_round(archetype) == 0u);
  const auto report = osbi::testing::check_proposal(archetype, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(archetype_density_is_two_theta_on_the_unit_interval) {
  // θ = √u: P(θ <= 1/2) = 1/4. 4 000 draws: standard error 0.0068, so |F̂ − 1/4| < 0.035 fails with p < 1e-6.
  const osbi::testing::ProposalArchetype archetype(std::in_place);
  // (osbi::sample and osbi::log_prob of prior.hpp ask for a Prior, so the members are called directly.)
  const Space space;
  osbi::Matrix<double, Space> draws("draws", 4000, 1);
  archetype.sample(space, osbi::RandomStream(osbi::testing::test_seed(), 131).at(0), draws);
  space.fence();
  const auto theta = osbi::testing::host_values(draws);
  std::size_t below = 0;
  for (const double t : theta) {
    BOOST_TEST((t > 0.0 && t < 1.0));
    below += t <= 0.5 ? 1 : 0;
  }
  BOOST_TEST(std::abs(static_cast<double>(below) / 4000 - 0.25) < 0.035);
  const auto points = osbi::testing::device_matrix<double>({0.25, 1.0, 1.5, -0.1}, 4, 1);
  osbi::Vector<double, Space> out("out", 4);
  archetype.log_prob(space, points, out);
  space.fence();
  const auto log_p = osbi::testing::host_values(out);
  BOOST_TEST(log_p[0] == std::log(0.5), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(log_p[1] == std::log(2.0), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(log_p[2] == -std::numeric_limits<double>::infinity());
  BOOST_TEST(log_p[3] == -std::numeric_limits<double>::infinity());
}

BOOST_AUTO_TEST_CASE(priors_are_proposals_and_pass) {
  static_assert(osbi::Proposal<osbi::BoxUniform<double, Space>>);
  static_assert(osbi::Proposal<osbi::Gaussian<float, Space>>);
  auto report = osbi::testing::check_proposal(osbi::testing::PriorArchetype{}, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  report = osbi::testing::check_proposal(osbi::BoxUniform<double, Space>({-1.0, 0.0}, {1.0, 3.0}), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  report = osbi::testing::check_proposal(osbi::BoxUniform<float, Space>({-1.0, 0.0, 2.0}, {1.0, 3.0, 2.5}),
                                         osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  report = osbi::testing::check_proposal(osbi::Gaussian<double, Space>::diagonal({0.5, -1.0}, {2.0, 0.1}),
                                         osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  Eigen::MatrixXd covariance(2, 2);
  covariance << 1.0, 0.3, 0.3, 0.5;
  report = osbi::testing::check_proposal(osbi::Gaussian<float, Space>({0.0, 1.0}, covariance), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(a_correct_proposal_passes) {
  const auto report = osbi::testing::check_proposal(BrokenProposal(Defect::none), osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(each_defect_is_reported) {
  expect_reported(Defect::ignores_nan, "expected NaN");
  expect_reported(Defect::infinite_at_samples, "log_prob is not finite at a sample");
  expect_reported(Defect::skips_last_row, "sample left a non-finite value");
  expect_reported(Defect::no_shape_checks, "did not throw osbi::DimensionMismatch");
  expect_reported(Defect::same_draw_every_row, "rows are equal");
  expect_reported(Defect::depends_on_batch_size, "row i must depend on rng.row(i) only");
  expect_reported(Defect::ignores_rng, "two different BatchRandoms gave identical values");
  expect_reported(Defect::drifting_round, "round() changed between two calls");
}

BOOST_AUTO_TEST_SUITE_END()
