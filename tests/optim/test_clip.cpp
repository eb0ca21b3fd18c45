// SPDX-License-Identifier: BSD-3-Clause
/// \brief Gradient-norm clipping: the norm against an independent double sum, exact scaling above the
/// bound (PyTorch's 1e-6), untouched below it, NaN/Inf reported with the gradients left alone.
#include <osbi/optim/clip.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using Space = Kokkos::DefaultExecutionSpace;

template <class Scalar, class ExecutionSpace = Space>
osbi::Vector<Scalar, ExecutionSpace> make_vector(const std::vector<Scalar>& values) {
  osbi::Vector<Scalar, ExecutionSpace> view("osbi::test::gradients", values.size());
  auto host = Kokkos::create_mirror_view(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = values[i];
  Kokkos::deep_copy(view, host);
  return view;
}

template <class ViewType>
std::vector<typename ViewType::non_const_value_type> to_vector(const ViewType& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<typename ViewType::non_const_value_type>(host.data(), host.data() + host.extent(0));
}

// n normal values with standard deviation `scale` (Philox: same on every backend).
std::vector<float> random_gradients(std::size_t n, double scale, std::uint64_t stream) {
  const osbi::BatchRandom rng = osbi::RandomStream(osbi::testing::test_seed(), stream).at(0);
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    osbi::RowRandom row = rng.row(i);
    values[i] = static_cast<float>(row.normal(0.0, scale));
  }
  return values;
}

double reference_norm(const std::vector<float>& values) {
  long double sum = 0; // a different accumulation (and precision) than the kernel's chunks
  for (float value : values) sum += static_cast<long double>(value) * value;
  return static_cast<double>(std::sqrt(sum));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(clip)

BOOST_AUTO_TEST_CASE(norm_matches_an_independent_double_sum) {
  for (std::size_t n : {std::size_t{1}, std::size_t{1023}, std::size_t{1024}, std::size_t{1025}, std::size_t{50000}}) {
    const auto values = random_gradients(n, 0.01, 50);
    auto gradients = make_vector(values);
    const double norm = osbi::optim::clip_gradient_norm(Space(), gradients, std::numeric_limits<double>::infinity());
    const double expected = reference_norm(values);
    BOOST_TEST(std::abs(norm - expected) <= 1e-13 * expected, "n = " << n << ": " << norm << " vs " << expected);
    BOOST_TEST(same_bits(to_vector(gradients), values)); // max_norm = inf: a norm computation
  }
  osbi::Vector<float, Space> empty;
  BOOST_TEST(osbi::optim::clip_gradient_norm(Space(), empty, 1.0) == 0.0);
}

BOOST_AUTO_TEST_CASE(scales_exactly_by_max_norm_over_norm_plus_1e6_above_the_bound) {
  const auto values = random_gradients(3000, 1.0, 51); // norm ≈ 55
  auto gradients = make_vector(values);
  const double max_norm = 2.0;
  const double norm = osbi::optim::clip_gradient_norm(Space(), gradients, max_norm);
  BOOST_TEST(std::abs(norm - reference_norm(values)) <= 1e-13 * norm);
  const float factor = static_cast<float>(max_norm / (norm + 1e-6));
  const auto clipped = to_vector(gradients);
  for (std::size_t i = 0; i < values.size(); ++i) BOOST_TEST(clipped[i] == values[i] * factor);
  BOOST_TEST(std::abs(reference_norm(clipped) - max_norm) < 1e-5);
}

BOOST_AUTO_TEST_CASE(leaves_gradients_untouched_below_the_bound) {
  const auto values = random_gradients(3000, 1.0, 52);
  auto gradients = make_vector(values);
  const double norm = osbi::optim::clip_gradient_norm(Space(), gradients, 100.0);
  BOOST_TEST(norm < 100.0);
  BOOST_TEST(same_bits(to_vector(gradients), values));

  // At the bound PyTorch still scales (max / (norm + 1e-6) < 1); well above the 1e-6 it does not.
  auto at_bound = make_vector(std::vector<float>{3.0f, 4.0f});
  BOOST_TEST(osbi::optim::clip_gradient_norm(Space(), at_bound, 5.0) == 5.0);
  const float factor = static_cast<float>(5.0 / (5.0 + 1e-6));
  BOOST_TEST((to_vector(at_bound) == std::vector<float>{3.0f * factor, 4.0f * factor}));
  auto above_margin = make_vector(std::vector<float>{3.0f, 4.0f});
  osbi::optim::clip_gradient_norm(Space(), above_margin, 5.0 + 2e-6);
  BOOST_TEST((to_vector(above_margin) == std::vector<float>{3.0f, 4.0f}));
}

BOOST_AUTO_TEST_CASE(non_finite_norm_is_reported_and_gradients_left_alone) {
  std::vector<float> values = random_gradients(2500, 1.0, 53);
  values[1700] = std::numeric_limits<float>::quiet_NaN();
  auto with_nan = make_vector(values);
  BOOST_TEST(std::isnan(osbi::optim::clip_gradient_norm(Space(), with_nan, 1.0)));
  BOOST_TEST(same_bits(to_vector(with_nan), values));

  values[1700] = -std::numeric_limits<float>::infinity();
  auto with_inf = make_vector(values);
  BOOST_TEST(std::isinf(osbi::optim::clip_gradient_norm(Space(), with_inf, 1.0)));
  BOOST_TEST(same_bits(to_vector(with_inf), values));
}

BOOST_AUTO_TEST_CASE(rejects_a_bound_that_is_not_positive) {
  auto gradients = make_vector(std::vector<float>{1.0f});
  for (double max_norm : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()})
    BOOST_CHECK_THROW(osbi::optim::clip_gradient_norm(Space(), gradients, max_norm), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(same_norm_and_clipped_bits_on_serial_and_openmp) {
  const auto values = random_gradients(100003, 0.1, 54);
  auto serial = make_vector<float, Kokkos::Serial>(values);
  const double serial_norm = osbi::optim::clip_gradient_norm(Kokkos::Serial(), serial, 1.0);
#if defined(KOKKOS_ENABLE_OPENMP)
  auto openmp = make_vector<float, Kokkos::OpenMP>(values);
  const double openmp_norm = osbi::optim::clip_gradient_norm(Kokkos::OpenMP(), openmp, 1.0);
  BOOST_TEST(serial_norm == openmp_norm); // fixed chunks summed in order: bit-identical
  BOOST_TEST(same_bits(to_vector(serial), to_vector(openmp)));
#endif
  BOOST_TEST(serial_norm > 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
