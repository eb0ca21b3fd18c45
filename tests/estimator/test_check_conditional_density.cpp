// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_conditional_density: the archetype and LinearGaussian (double and float) pass; the archetype's
/// closed form; each deliberately broken density is reported with a line that names its defect.
#include <osbi/testing/check_conditional_density.hpp>
#include <osbi/testing/conditional_density_archetype.hpp>

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/flow/linear_gaussian.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <estimator/estimator_test_support.hpp>
#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace {

using osbi::estimator_test::all_close;
using osbi::estimator_test::close;

using Space = osbi::DefaultExecutionSpace;
using osbi::estimator_test::expect_reported;

enum class Defect {
  none,
  nan_becomes_zero,         // log_prob of a NaN row is 0
  loss_ignores_weights,     // nll_backward returns the unweighted mean (its gradient is weighted)
  gradient_overwrites,      // nll_backward assigns the parameter gradient instead of adding to it
  gradient_doubled,         // ∂L/∂μ is twice the truth
  theta_gradient_sign,      // ∂L/∂θ has the wrong sign
  squares_weights,          // every w_i enters as w_i²
  couples_rows,             // log_prob's mean is μ + x_i + 1e-3·x_{N−1} (the last row's context leaks into every row)
  accepts_empty_batch,      // nll_backward of no rows returns 0
  no_backward_shape_checks, // nll_backward never throws DimensionMismatch
};

// q(θ | x) = N(θ; μ + x, 1) in one dimension (as ConditionalDensityArchetype), with one defect switched on; in
// double, or in float (where check_conditional_density checks the backward's contract without finite differences).
template <class Scalar = double>
class BrokenDensity {
public:
  using scalar_type = Scalar;
  using execution_space = Space;

  explicit BrokenDensity(Defect defect) : m_defect(defect), m_parameters("mu", 1), m_gradients("grad_mu", 1) {
    Kokkos::deep_copy(m_parameters, Scalar(0.3));
  }

  std::size_t theta_dim() const { return 1; }
  std::size_t context_dim() const { return 1; }
  osbi::Vector<Scalar, Space> parameters() { return m_parameters; }
  osbi::Vector<Scalar, Space> gradients() { return m_gradients; }
  void zero_gradients(const Space& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }

  void log_prob(const Space& space, const osbi::ConstMatrix<Scalar, Space>& theta,
                const osbi::ConstMatrix<Scalar, Space>& x, const osbi::Vector<Scalar, Space>& out) {
    check(theta, x);
    osbi::require_extent(out.extent(0), theta.extent(0), "BrokenDensity", "out");
    const auto mu = m_parameters;
    const Defect defect = m_defect;
    const std::size_t last = theta.extent(0) - 1;
    Kokkos::parallel_for(
        "osbi::test::BrokenDensity::log_prob", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double shift = defect == Defect::couples_rows ? 1e-3 * x(last, 0) : 0.0;
          const double r = theta(i, 0) - mu(0) - x(i, 0) - shift;
          const double value = -0.5 * r * r - 0.91893853320467274178;
          out(i) = static_cast<Scalar>(defect == Defect::nan_becomes_zero && value != value ? 0.0 : value);
        });
  }

  double nll_backward(const Space& space, const osbi::ConstMatrix<Scalar, Space>& theta,
                      const osbi::ConstMatrix<Scalar, Space>& x, const osbi::ConstVector<Scalar, Space>& weights,
                      const osbi::Matrix<Scalar, Space>& grad_theta, const osbi::Matrix<Scalar, Space>& grad_x) {
    const std::size_t n = theta.extent(0);
    if (m_defect != Defect::no_backward_shape_checks) {
      check(theta, x);
      if (weights.data()) osbi::require_extent(weights.extent(0), n, "BrokenDensity", "weights");
      if (grad_theta.data()) {
        osbi::require_extent(grad_theta.extent(0), n, "BrokenDensity", "grad_theta rows");
        osbi::require_extent(grad_theta.extent(1), 1, "BrokenDensity", "grad_theta columns");
      }
      if (grad_x.data()) {
        osbi::require_extent(grad_x.extent(0), n, "BrokenDensity", "grad_x rows");
        osbi::require_extent(grad_x.extent(1), 1, "BrokenDensity", "grad_x columns");
      }
    }
    if (m_defect != Defect::accepts_empty_batch) osbi::require(n > 0, "BrokenDensity", "empty batch");
    if (n == 0) return 0.0;
    // Host arithmetic on copies: this density is about defects, not speed.
    const auto t = osbi::testing::host_values(theta), c = osbi::testing::host_values(x);
    const auto w = weights.data() ? osbi::testing::host_values(weights) : std::vector<double>(n, 1.0);
    const double mu = osbi::testing::host_values(m_parameters)[0], scale = 1.0 / static_cast<double>(n);
    double loss = 0, unweighted = 0, grad_mu = 0;
    std::vector<double> g_theta(n), g_x(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double weight = m_defect == Defect::squares_weights ? w[i] * w[i] : w[i];
      const double r = t[i] - mu - c[i];
      loss += weight * (0.5 * r * r + 0.91893853320467274178);
      unweighted += 0.5 * r * r + 0.91893853320467274178;
      grad_mu -= weight * r;
      g_theta[i] = (m_defect == Defect::theta_gradient_sign ? -1.0 : 1.0) * weight * r * scale;
      g_x[i] = -(weight * r * scale);
    }
    if (m_defect == Defect::gradient_doubled) grad_mu *= 2;
    auto gradient = osbi::testing::host_values(m_gradients);
    gradient[0] = (m_defect == Defect::gradient_overwrites ? 0.0 : gradient[0]) + grad_mu * scale;
    space.fence();
    Kokkos::deep_copy(m_gradients, osbi::testing::device_vector<Scalar>(gradient));
    if (grad_theta.data()) Kokkos::deep_copy(grad_theta, osbi::testing::device_matrix<Scalar>(g_theta, n, 1));
    if (grad_x.data()) Kokkos::deep_copy(grad_x, osbi::testing::device_matrix<Scalar>(g_x, n, 1));
    return (m_defect == Defect::loss_ignores_weights ? unweighted : loss) * scale;
  }

  void sample(const Space& space, const osbi::ConstMatrix<Scalar, Space>& x, osbi::BatchRandom rng,
              const osbi::Matrix<Scalar, Space>& theta) {
    check(theta, x);
    launch(space, x, false, rng, theta);
  }

  void sample(const Space& space, const osbi::ConstMatrix<Scalar, Space>& x_one, std::size_t n, osbi::BatchRandom rng,
              const osbi::Matrix<Scalar, Space>& theta) {
    osbi::require_extent(x_one.extent(0), 1, "BrokenDensity", "x_one's rows");
    osbi::require_extent(x_one.extent(1), 1, "BrokenDensity", "x_one's columns");
    osbi::require_extent(theta.extent(0), n, "BrokenDensity", "theta's rows");
    osbi::require_extent(theta.extent(1), 1, "BrokenDensity", "theta's columns");
    launch(space, x_one, true, rng, theta);
  }

private:
  static void check(const osbi::ConstMatrix<Scalar, Space>& theta, const osbi::ConstMatrix<Scalar, Space>& x) {
    osbi::require_extent(theta.extent(1), 1, "BrokenDensity", "theta's columns");
    osbi::require_extent(x.extent(1), 1, "BrokenDensity", "x's columns");
    osbi::require_extent(x.extent(0), theta.extent(0), "BrokenDensity", "x's rows");
  }

public: // nvcc's extended lambdas cannot live in private member functions
  void launch(const Space& space, const osbi::ConstMatrix<Scalar, Space>& x, bool one_context, osbi::BatchRandom rng,
              const osbi::Matrix<Scalar, Space>& theta) const {
    const auto mu = m_parameters;
    Kokkos::parallel_for(
        "osbi::test::BrokenDensity::sample", Kokkos::RangePolicy<Space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          theta(i, 0) = static_cast<Scalar>(mu(0) + x(one_context ? 0 : i, 0) + rng.row(i).normal());
        });
  }

private:
  Defect m_defect;
  osbi::Vector<Scalar, Space> m_parameters, m_gradients;
};

static_assert(osbi::ConditionalDensity<BrokenDensity<double>> && osbi::ConditionalDensity<BrokenDensity<float>>);

template <class Scalar = double>
void expect_reported(Defect defect, const std::string& expected) {
  BrokenDensity<Scalar> density(defect);
  expect_reported(osbi::testing::check_conditional_density(density, osbi::testing::test_seed(), 32),
                  "defect " + std::to_string(static_cast<int>(defect)), expected);
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_conditional_density)

BOOST_AUTO_TEST_CASE(archetype_models_conditional_density_and_passes) {
  static_assert(osbi::ConditionalDensity<osbi::testing::ConditionalDensityArchetype>);
  osbi::testing::ConditionalDensityArchetype archetype(-0.4);
  const auto report = osbi::testing::check_conditional_density(archetype, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
}

BOOST_AUTO_TEST_CASE(archetype_is_the_closed_form_gaussian) {
  // log q = −½(θ − μ − x)² − ½ log 2π; nll_backward = (1/N) Σ w_i·(−log q_i), ∂/∂μ = −(1/N) Σ w_i r_i, and the
  // input gradients ±w_i r_i / N, against a double reference here.
  const double mu = 0.6;
  osbi::testing::ConditionalDensityArchetype density(mu);
  const Space space;
  const std::size_t n = 7;
  const std::vector<double> t = osbi::testing::normals(n, 71), c = osbi::testing::normals(n, 72),
                            w = osbi::testing::signed_weights(n, 73);
  const auto theta = osbi::testing::device_matrix<double>(t, n, 1), x = osbi::testing::device_matrix<double>(c, n, 1);
  osbi::Vector<double, Space> out("out", n);
  osbi::Matrix<double, Space> grad_theta("grad_theta", n, 1), grad_x("grad_x", n, 1);
  density.log_prob(space, theta, x, out);
  density.zero_gradients(space);
  const double loss = density.nll_backward(space, theta, x, osbi::testing::device_vector<double>(w), grad_theta, grad_x);
  space.fence();
  const auto log_q = osbi::testing::host_values(out), g_theta = osbi::testing::host_values(grad_theta),
             g_x = osbi::testing::host_values(grad_x);
  double expected_loss = 0, expected_grad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = t[i] - mu - c[i];
    BOOST_TEST(close(log_q[i], -0.5 * r * r - 0.5 * std::log(2 * M_PI), 1e-14));
    BOOST_TEST(close(g_theta[i], w[i] * r / n, 1e-14));
    BOOST_TEST(close(g_x[i], -w[i] * r / n, 1e-14));
    expected_loss += w[i] * (0.5 * r * r + 0.5 * std::log(2 * M_PI)) / n;
    expected_grad -= w[i] * r / n;
  }
  BOOST_TEST(close(loss, expected_loss, 1e-13));
  BOOST_TEST(close(osbi::testing::host_values(density.gradients())[0], expected_grad, 1e-13));
}

BOOST_AUTO_TEST_CASE(a_correct_density_passes) {
  BrokenDensity<double> density(Defect::none);
  const auto report = osbi::testing::check_conditional_density(density, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  BrokenDensity<float> in_float(Defect::none);
  const auto float_report = osbi::testing::check_conditional_density(in_float, osbi::testing::test_seed());
  BOOST_TEST(float_report.passed(), float_report.summary());
}

BOOST_AUTO_TEST_CASE(linear_gaussian_passes_in_double_and_float) {
  osbi::LinearGaussian<double, Space> in_double(3, 2);
  osbi::estimator_test::randomize_parameters(in_double, 74);
  const auto report = osbi::testing::check_conditional_density(in_double, osbi::testing::test_seed());
  BOOST_TEST(report.passed(), report.summary());
  osbi::LinearGaussian<float, Space> in_float(2, 3);
  osbi::estimator_test::randomize_parameters(in_float, 75);
  const auto float_report = osbi::testing::check_conditional_density(in_float, osbi::testing::test_seed());
  BOOST_TEST(float_report.passed(), float_report.summary());
}

BOOST_AUTO_TEST_CASE(each_defect_is_reported) {
  expect_reported(Defect::nan_becomes_zero, "is NaN is 0, expected NaN");
  expect_reported(Defect::loss_ignores_weights, "but (1/N) Σ w_i·(−log_prob_i) is");
  expect_reported(Defect::gradient_overwrites, "parameter gradients do not accumulate");
  expect_reported(Defect::gradient_doubled, "parameter 0: nll_backward gives");
  expect_reported(Defect::theta_gradient_sign, "θ entry 1: nll_backward gives"); // w_0 = 0: entry 0 is 0 either way
  expect_reported(Defect::squares_weights, "does not scale with the weights");
  expect_reported(Defect::couples_rows, "row i must depend on θ_i and x_i only");
  expect_reported(Defect::accepts_empty_batch, "nll_backward of an empty batch did not throw osbi::InvalidArgument");
  expect_reported(Defect::no_backward_shape_checks, "nll_backward with one weight too many did not throw");
}

BOOST_AUTO_TEST_CASE(each_backward_defect_is_reported_in_float_too) {
  // Without finite differences: the contract checks of the float path.
  expect_reported<float>(Defect::nan_becomes_zero, "is NaN is 0, expected NaN");
  expect_reported<float>(Defect::loss_ignores_weights, "but (1/N) Σ w_i·(−log_prob_i) is");
  expect_reported<float>(Defect::gradient_overwrites, "parameter gradients do not accumulate");
  expect_reported<float>(Defect::squares_weights, "does not scale with the weights");
  expect_reported<float>(Defect::accepts_empty_batch, "nll_backward of an empty batch did not throw osbi::InvalidArgument");
}

BOOST_AUTO_TEST_SUITE_END()
