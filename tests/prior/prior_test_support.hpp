// SPDX-License-Identifier: BSD-3-Clause
/// \brief Helpers of the prior tests: draw to host, evaluate log_prob of host points, catch an exception's text.
#pragma once

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/prior.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace osbi::prior_test {

using Scalars = boost::mpl::list<double, float>;

inline constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
inline constexpr double infinity = std::numeric_limits<double>::infinity();

/// A stream of the test seed; each test case takes its own stream number so cases draw unrelated bits.
inline RandomStream stream(std::uint64_t case_number) { return RandomStream(testing::test_seed(), case_number); }

/// Absolute-plus-relative tolerance of a log_prob returned in Scalar against a double closed form:
/// the models compute in double and round once, so a few ulps of Scalar suffice.
template <class Scalar>
double log_prob_tolerance(double expected) {
  const double ulp = std::is_same_v<Scalar, float> ? 1.2e-7 : 2.3e-16;
  return 8 * ulp * std::max(1.0, std::abs(expected));
}

/// n draws of `prior` with `rng`, row-major in double on the host; theta is NaN-filled first.
template <class P>
std::vector<double> draw(const P& prior, BatchRandom rng, std::size_t n,
                         const typename P::execution_space& space = typename P::execution_space()) {
  using Scalar = typename P::scalar_type;
  Matrix<Scalar, typename P::execution_space> theta("osbi::test::prior::theta", n, prior.dim());
  Kokkos::deep_copy(theta, std::numeric_limits<Scalar>::quiet_NaN());
  prior.sample(space, rng, theta);
  space.fence();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  return std::vector<double>(host.data(), host.data() + host.size());
}

/// Column j of a row-major sample with `dim` columns.
inline std::vector<double> column(const std::vector<double>& samples, std::size_t dim, std::size_t j) {
  std::vector<double> values;
  for (std::size_t i = j; i < samples.size(); i += dim)
    values.push_back(samples[i]);
  return values;
}

/// log_prob of the rows of `points` (row-major, dim() columns, converted to Scalar); out NaN-filled first.
template <class P>
std::vector<double> evaluate(const P& prior, const std::vector<double>& points) {
  using Scalar = typename P::scalar_type;
  using Space = typename P::execution_space;
  const std::size_t dim = prior.dim();
  const std::size_t rows = points.size() / dim;
  Matrix<Scalar, Space> theta("osbi::test::prior::points", rows, dim);
  Vector<Scalar, Space> out("osbi::test::prior::log_prob", rows);
  auto theta_host = Kokkos::create_mirror_view(theta);
  for (std::size_t k = 0; k < rows * dim; ++k)
    theta_host.data()[k] = static_cast<Scalar>(points[k]);
  Kokkos::deep_copy(theta, theta_host);
  Kokkos::deep_copy(out, std::numeric_limits<Scalar>::quiet_NaN());
  Space space;
  prior.log_prob(space, theta, out);
  space.fence();
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(host.data(), host.data() + rows);
}

/// Row-major points rounded to Scalar and back: what the model actually sees.
template <class Scalar>
std::vector<double> rounded(std::vector<double> points) {
  for (double& value : points)
    value = static_cast<double>(static_cast<Scalar>(value));
  return points;
}

/// what() of the Exception that `call` throws; fails the test case (and returns "") otherwise.
template <class Exception, class Call>
std::string message_of(Call&& call) {
  try {
    call();
  } catch (const Exception& error) {
    return error.what();
  } catch (const std::exception& error) {
    BOOST_ERROR("threw the wrong exception type: " << error.what());
    return "";
  }
  BOOST_ERROR("did not throw");
  return "";
}

/// True if `text` contains every one of `parts`.
inline bool contains_all(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts)
    if (text.find(part) == std::string::npos) return false;
  return true;
}

/// True if the two samples hold the same bits.
inline bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

/// Σ (x − mean)² / variance over the sample: χ²(n) exactly when x ~ N(mean, variance) i.i.d.
inline double chi_square_statistic(const std::vector<double>& values, double mean, double variance) {
  double sum = 0.0;
  for (const double x : values)
    sum += (x - mean) * (x - mean);
  return sum / variance;
}

} // namespace osbi::prior_test
