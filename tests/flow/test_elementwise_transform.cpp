// SPDX-License-Identifier: BSD-3-Clause
/// \brief The elementwise transforms of the autoregressive flow: both families model ElementwiseTransform; the affine
/// map's backward against central differences, its inverse, and the families' option checks.
#include <osbi/flow/elementwise_transform.hpp>
#include <osbi/flow/maf.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/flow/detail/softplus.hpp>

#include <osbi/core/error.hpp>

#include <support/views.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

static_assert(osbi::ElementwiseTransform<osbi::AffineTransform, float>);
static_assert(osbi::ElementwiseTransform<osbi::AffineTransform, double>);
static_assert(osbi::ElementwiseTransform<osbi::SplineTransform, float>);
static_assert(osbi::ElementwiseTransform<osbi::SplineTransform, double>);
static_assert(!osbi::ElementwiseTransform<osbi::MAFOptions, double>);

BOOST_AUTO_TEST_SUITE(flow_elementwise_transform)

BOOST_AUTO_TEST_CASE(affine_backward_matches_central_differences_and_inverse_undoes_forward) {
  // ℓ = ḡ_z·z + ḡ_ℓ·log s at 200 random (y, p, ḡ): ∂ℓ/∂y, ∂ℓ/∂p₀, ∂ℓ/∂p₁ against central differences (h = 1e-5,
  // relative error <= 1e-6 against max(|g|, 1e-3); 3e-7 at worst over seeds 1–10); inverse(forward(y)) = y to 1e-12.
  const auto affine = osbi::AffineTransform::elementwise<double>(osbi::MAFOptions{});
  BOOST_TEST(affine.parameter_count() == 2u);
  const std::vector<double> draws = osbi::testing::normals(200 * 5, 61, 2.0);
  double worst = 0, worst_round_trip = 0;
  for (std::size_t n = 0; n < 200; ++n) {
    const double* d = &draws[5 * n];
    const double y = d[0], grad_z = d[3], grad_log_det = d[4];
    double p[2] = {d[1], d[2]}, grad_p[2] = {0, 0};
    const auto loss = [&](double value, const double* parameters) {
      const auto result = affine.forward(value, parameters);
      return grad_z * result.value + grad_log_det * result.log_det;
    };
    const double grad_y = affine.backward(y, p, grad_z, grad_log_det, grad_p);
    const auto relative = [](double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-3}); };
    const double h = 1e-5;
    worst = std::max(worst, relative(grad_y, (loss(y + h, p) - loss(y - h, p)) / (2 * h)));
    for (std::size_t q = 0; q < 2; ++q) {
      double up[2] = {p[0], p[1]}, down[2] = {p[0], p[1]};
      up[q] += h;
      down[q] -= h;
      worst = std::max(worst, relative(grad_p[q], (loss(y, up) - loss(y, down)) / (2 * h)));
    }
    worst_round_trip = std::max(worst_round_trip, std::abs(affine.inverse(affine.forward(y, p).value, p) - y));
  }
  BOOST_TEST(worst <= 1e-6);
  BOOST_TEST(worst_round_trip <= 1e-12);
}

static_assert(osbi::detail::saved_count_v<osbi::AffineElementwise<float>> == 2);
static_assert(osbi::detail::saved_count_v<osbi::RationalQuadraticSpline<float>> == 0);

BOOST_AUTO_TEST_CASE(affine_saved_forward_and_backward_equal_the_plain_ones_to_the_bit) {
  // The flow trains through forward(y, p, saved) / backward(y, p, saved, …); log_prob and the checks above use the
  // plain forms. Both must give the same floats, or a flow's gradient would not be the derivative of its log_prob.
  // p₀ covers both signs and |p₀| up to 40, where e^(−|p₀|) underflows in float.
  const auto affine = osbi::AffineTransform::elementwise<float>(osbi::MAFOptions{});
  const std::vector<double> draws = osbi::testing::normals(500 * 5, 62, 10.0);
  std::size_t mismatches = 0;
  for (std::size_t n = 0; n < 500; ++n) {
    const double* d = &draws[5 * n];
    const float y = static_cast<float>(d[0]), grad_z = static_cast<float>(d[3]), grad_log_det = static_cast<float>(d[4]);
    const float p[2] = {static_cast<float>(n < 20 ? (n % 2 ? 40.0 : -40.0) + d[1] : d[1]), static_cast<float>(d[2])};
    float saved[2] = {std::nanf(""), std::nanf("")}, grad_plain[2] = {0, 0}, grad_saved[2] = {0, 0};
    const auto plain = affine.forward(y, p);
    const auto kept = affine.forward(y, p, saved);
    const float grad_y_plain = affine.backward(y, p, grad_z, grad_log_det, grad_plain);
    const float grad_y_saved = affine.backward(y, p, saved, grad_z, grad_log_det, grad_saved);
    const bool same = plain.value == kept.value && plain.log_det == kept.log_det && saved[0] == affine.scale(p) &&
                      saved[1] == osbi::detail::sigmoid(p[0]) && grad_y_plain == grad_y_saved &&
                      grad_plain[0] == grad_saved[0] && grad_plain[1] == grad_saved[1];
    mismatches += same ? 0 : 1;
  }
  BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE(families_check_their_options) {
  osbi::NSFOptions options;
  options.hidden = 0;
  BOOST_CHECK_THROW(osbi::SplineTransform::elementwise<double>(options), osbi::InvalidArgument);
  options = {};
  options.spline.bins = 0;
  BOOST_CHECK_THROW(osbi::SplineTransform::elementwise<double>(options), osbi::InvalidArgument);
  options = {};
  options.hidden = 16;
  const auto spline = osbi::SplineTransform::elementwise<float>(options);
  BOOST_TEST(spline.logit_scale() == 0.25f);
  BOOST_TEST(spline.parameter_count() == 29u);
}

BOOST_AUTO_TEST_SUITE_END()
