// SPDX-License-Identifier: BSD-3-Clause
/// \brief The density gradient checker itself: it passes a correct density and names each planted mistake.
#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Inner = osbi::LinearGaussian<double, Space>;

enum class Fault {
  none,
  ignores_weights,
  accumulates_grad_theta,
  overwrites_parameter_gradients,
  wrong_x_gradient,
  unit_weights_differ,
  wrong_loss,
};

/// A LinearGaussian with one planted fault in its nll_backward.
class Faulty {
public:
  using scalar_type = double;
  using execution_space = Space;

  explicit Faulty(Fault fault) : m_inner(2, 3), m_fault(fault) {
    auto host = Kokkos::create_mirror_view(m_inner.parameters());
    const std::vector<double> values = osbi::testing::normals(host.extent(0), 91, 0.5);
    for (std::size_t i = 0; i < host.extent(0); ++i)
      host(i) = values[i];
    Kokkos::deep_copy(m_inner.parameters(), host);
  }
  std::size_t theta_dim() const { return 2; }
  std::size_t context_dim() const { return 3; }
  osbi::Vector<double, Space> parameters() const { return m_inner.parameters(); }
  osbi::Vector<double, Space> gradients() const { return m_inner.gradients(); }
  void zero_gradients(const Space& space) { m_inner.zero_gradients(space); }
  void log_prob(const Space& space, const osbi::ConstMatrix<double, Space>& theta,
                const osbi::ConstMatrix<double, Space>& x, const osbi::Vector<double, Space>& out) const {
    m_inner.log_prob(space, theta, x, out);
  }
  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) const {
    m_inner.sample(space, x, rng, theta);
  }
  void sample(const Space& space, const osbi::ConstMatrix<double, Space>& x, std::size_t n, osbi::BatchRandom rng,
              const osbi::Matrix<double, Space>& theta) const {
    m_inner.sample(space, x, n, rng, theta);
  }
  double nll_backward(const Space& space, const osbi::ConstMatrix<double, Space>& theta,
                      const osbi::ConstMatrix<double, Space>& x, const osbi::ConstVector<double, Space>& weights,
                      const osbi::Matrix<double, Space>& grad_theta, const osbi::Matrix<double, Space>& grad_x) {
    const bool weighted = weights.data() != nullptr;
    switch (m_fault) {
    case Fault::ignores_weights:
      return m_inner.nll_backward(space, theta, x, {}, grad_theta, grad_x);
    case Fault::accumulates_grad_theta: {
      if (grad_theta.data() == nullptr) return m_inner.nll_backward(space, theta, x, weights, {}, grad_x);
      osbi::Matrix<double, Space> scratch("scratch", theta.extent(0), 2);
      const double loss = m_inner.nll_backward(space, theta, x, weights, scratch, grad_x);
      Kokkos::parallel_for(
          "osbi::test::Faulty::accumulate", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)),
          KOKKOS_LAMBDA(const std::size_t i) {
            for (std::size_t j = 0; j < 2; ++j)
              grad_theta(i, j) += scratch(i, j);
          });
      return loss;
    }
    case Fault::overwrites_parameter_gradients:
      m_inner.zero_gradients(space);
      return m_inner.nll_backward(space, theta, x, weights, grad_theta, grad_x);
    case Fault::wrong_x_gradient: {
      const double loss = m_inner.nll_backward(space, theta, x, weights, grad_theta, grad_x);
      if (grad_x.data() != nullptr)
        Kokkos::parallel_for(
            "osbi::test::Faulty::flip", Kokkos::RangePolicy<Space>(space, 0, x.extent(0)),
            KOKKOS_LAMBDA(const std::size_t i) { grad_x(i, 0) = -grad_x(i, 0); });
      return loss;
    }
    case Fault::unit_weights_differ:
      return m_inner.nll_backward(space, theta, x, weights, grad_theta, grad_x) * (weighted ? 1.0 + 0x1p-50 : 1.0);
    case Fault::wrong_loss:
      return m_inner.nll_backward(space, theta, x, weights, grad_theta, grad_x) + 1e-6;
    case Fault::none:
      break;
    }
    return m_inner.nll_backward(space, theta, x, weights, grad_theta, grad_x);
  }

private:
  Inner m_inner;
  Fault m_fault;
};
static_assert(osbi::ConditionalDensity<Faulty>);

osbi::testing::DensityGradientCheckReport check(Fault fault, bool weighted) {
  Faulty density(fault);
  const auto theta = osbi::testing::device_matrix<double>(osbi::testing::normals(5 * 2, 92), 5, 2);
  const auto x = osbi::testing::device_matrix<double>(osbi::testing::normals(5 * 3, 93), 5, 3);
  const auto weights = weighted ? osbi::testing::device_vector<double>(osbi::testing::signed_weights(5, 94))
                                : osbi::Vector<double, Space>();
  return osbi::testing::check_density_gradients(Space(), density, theta, x, weights);
}

bool names(const osbi::testing::DensityGradientCheckReport& report, const std::string& text) {
  return report.summary().find(text) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(density_gradient_check)

BOOST_AUTO_TEST_CASE(a_correct_density_passes_with_and_without_weights) {
  for (const bool weighted : {false, true}) {
    const auto report = check(Fault::none, weighted);
    BOOST_TEST(report.passed(), report.summary());
    BOOST_TEST(report.parameters_checked == 2u * 3u + 2u * 2u);
    BOOST_TEST(report.theta_checked == 10u);
    BOOST_TEST(report.x_checked == 15u);
  }
}

BOOST_AUTO_TEST_CASE(each_planted_fault_is_named) {
  const auto ignores = check(Fault::ignores_weights, true);
  BOOST_TEST(!ignores.passed());
  BOOST_TEST(names(ignores, "central differences"), ignores.summary());
  BOOST_TEST(check(Fault::ignores_weights, false).passed()); // no weights: nothing to ignore

  const auto accumulates = check(Fault::accumulates_grad_theta, false);
  BOOST_TEST(names(accumulates, "NaN-prefilled grad_theta or grad_x"), accumulates.summary());

  const auto overwrites = check(Fault::overwrites_parameter_gradients, false);
  BOOST_TEST(names(overwrites, "do not accumulate"), overwrites.summary());

  // Column 0 of grad_x has the wrong sign: exactly those 5 entries fail, by name.
  const auto flipped = check(Fault::wrong_x_gradient, false);
  BOOST_TEST(flipped.failures.size() == 5u, flipped.summary());
  for (const std::string& line : flipped.failures)
    BOOST_TEST(line.rfind("x entry ", 0) == 0u, line);

  const auto differ = check(Fault::unit_weights_differ, false);
  BOOST_TEST(differ.failures.size() == 1u, differ.summary());
  BOOST_TEST(names(differ, "unit weights are not bit-identical"), differ.summary());

  const auto loss = check(Fault::wrong_loss, true);
  BOOST_TEST(names(loss, "nll_backward returned"), loss.summary());
}

BOOST_AUTO_TEST_SUITE_END()
