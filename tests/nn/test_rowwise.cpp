// SPDX-License-Identifier: BSD-3-Clause
/// \brief The row-wise kernels against a serial double-precision reference on edge shapes, extreme
/// inputs and special values, outputs filled with NaN first; backward kernels against finite differences.
#include <osbi/nn/kernels/rowwise.hpp>

#include <osbi/core/error.hpp>

#include <support/test_seed.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

namespace kernels = osbi::nn::kernels;
using HostSpace = Kokkos::DefaultHostExecutionSpace;
using Scalars = std::tuple<float, double>;

template <class Scalar>
using HostMatrix = osbi::Matrix<Scalar, HostSpace>;
template <class Scalar>
using HostVector = osbi::Vector<Scalar, HostSpace>;

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

template <class Scalar>
HostMatrix<Scalar> filled(std::size_t rows, std::size_t columns, double value) {
  HostMatrix<Scalar> m("osbi::test::filled", rows, columns);
  Kokkos::deep_copy(m, static_cast<Scalar>(value));
  return m;
}

template <class Scalar>
HostVector<Scalar> filled_vector(std::size_t size, double value) {
  HostVector<Scalar> v("osbi::test::filled_vector", size);
  Kokkos::deep_copy(v, static_cast<Scalar>(value));
  return v;
}

/// Rows of five kinds, cycling: moderate values; offset by +1000 and by −1000 (a naive exp overflows
/// or underflows in both float and double); every third entry −∞; a spread of ±60.
template <class Scalar>
HostMatrix<Scalar> extreme_input(std::size_t rows, std::size_t columns, std::mt19937_64& engine) {
  HostMatrix<Scalar> x("osbi::test::x", rows, columns);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j) {
      const double u = uniform(engine);
      double value = 3 * u;
      switch (i % 5) {
      case 1:
        value = 1000 + 3 * u;
        break;
      case 2:
        value = -1000 + 3 * u;
        break;
      case 3:
        value = j % 3 == 1 ? -infinity : 3 * u;
        break;
      case 4:
        value = 60 * u;
        break;
      }
      x(i, j) = static_cast<Scalar>(value);
    }
  return x;
}

template <class Scalar>
HostMatrix<Scalar> uniform_matrix(std::size_t rows, std::size_t columns, std::mt19937_64& engine, double low = -1,
                                  double high = 1) {
  HostMatrix<Scalar> m("osbi::test::uniform", rows, columns);
  std::uniform_real_distribution<double> uniform(low, high);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < columns; ++j)
      m(i, j) = static_cast<Scalar>(uniform(engine));
  return m;
}

/// Unit roundoff of Scalar times a small constant, plus the worst-case growth of a double sum of n terms.
template <class Scalar>
double tolerance(std::size_t n) {
  return 16 * double(std::numeric_limits<Scalar>::epsilon()) + double(n) * std::numeric_limits<double>::epsilon();
}

/// NaN wants NaN, ±∞ wants exactly that, otherwise |got − want| <= allowed.
bool close(double got, double want, double allowed) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(got - want) <= allowed; // false for NaN
}

/// Counts entries off and reports the first.
class Mismatches {
public:
  explicit Mismatches(std::string what) : m_what(std::move(what)) {}
  void check(std::size_t i, std::size_t j, double got, double want, double allowed) {
    if (close(got, want, allowed)) return;
    if (m_count++ == 0) {
      std::ostringstream first;
      first.precision(17);
      first << "(" << i << ", " << j << "): got " << got << ", want " << want << ", allowed " << allowed;
      m_first = first.str();
    }
  }
  ~Mismatches() { BOOST_TEST(m_count == 0u, m_what << ": " << m_count << " entries off, first " << m_first); }

private:
  std::string m_what, m_first;
  std::size_t m_count = 0;
};

// ---- serial double references ----------------------------------------------------------------

template <class Scalar>
std::vector<double> row_of(const HostMatrix<Scalar>& x, std::size_t i) {
  std::vector<double> row(x.extent(1));
  for (std::size_t j = 0; j < row.size(); ++j)
    row[j] = x(i, j);
  return row;
}

double reference_max(const std::vector<double>& row) {
  double m = -infinity;
  for (double v : row)
    m = std::max(m, v);
  return m;
}

/// log Σ exp(row) = maximum + log_sum, kept apart: their sum rounds at the scale of the maximum.
struct LogSumExp {
  double maximum, log_sum;
  double value() const { return maximum + log_sum; }
};

LogSumExp reference_log_sum_exp(const std::vector<double>& row) {
  for (double v : row)
    if (std::isnan(v)) return {not_a_number, not_a_number};
  const double m = reference_max(row);
  if (std::isinf(m)) return {m, 0.0}; // −∞ for empty or all −∞ rows, +∞ if any entry is +∞
  long double sum = 0;
  for (double v : row)
    sum += std::exp(static_cast<long double>(v) - m);
  return {m, double(std::log(sum))};
}

struct Statistics {
  double mean, inv_std, mean_abs;
};

Statistics reference_statistics(const std::vector<double>& row, double epsilon) {
  if (row.empty()) return {0.0, 1 / std::sqrt(epsilon), 0.0};
  long double sum = 0, sum_abs = 0;
  for (double v : row)
    sum += v, sum_abs += std::abs(v);
  const long double mean = sum / row.size();
  long double squares = 0;
  for (double v : row)
    squares += (v - mean) * (v - mean);
  return {double(mean), double(1 / std::sqrt(squares / row.size() + epsilon)), double(sum_abs / row.size())};
}

const std::size_t row_counts[] = {0, 1, 7, 64, 1000};
const std::size_t feature_counts[] = {0, 1, 2, 31, 32, 33, 4097};

template <class Body>
void for_each_shape(Body body) {
  for (std::size_t rows : row_counts)
    for (std::size_t features : feature_counts) {
      if (rows == 1000 && features == 4097) continue; // 4097 runs with up to 64 rows: keeps the suite fast
      BOOST_TEST_CONTEXT("rows " << rows << " features " << features) { body(rows, features); }
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(nn_rowwise)

BOOST_AUTO_TEST_CASE_TEMPLATE(log_sum_exp_softmax_and_log_softmax_match_the_reference, Scalar, Scalars) {
  std::mt19937_64 engine(osbi::testing::test_seed());
  HostSpace space;
  for_each_shape([&](std::size_t rows, std::size_t features) {
    const auto x = extreme_input<Scalar>(rows, features, engine);
    auto lse = filled_vector<Scalar>(rows, not_a_number);
    auto y = filled<Scalar>(rows, features, not_a_number);
    auto z = filled<Scalar>(rows, features, not_a_number);
    kernels::log_sum_exp_rows(space, x, lse);
    kernels::softmax_rows(space, x, y);
    kernels::log_softmax_rows(space, x, z);
    space.fence();
    const double tol = tolerance<Scalar>(features);
    const double tiny = double(std::numeric_limits<Scalar>::min()); // results below it are denormal or 0
    Mismatches lse_off("log_sum_exp"), softmax_off("softmax"), log_softmax_off("log_softmax");
    for (std::size_t i = 0; i < rows; ++i) {
      const auto row = row_of(x, i);
      const LogSumExp reference = reference_log_sum_exp(row);
      const double want_lse = reference.value(), m = reference.maximum;
      lse_off.check(i, 0, lse(i), want_lse, tol * (1 + std::abs(want_lse)));
      for (std::size_t j = 0; j < features; ++j) {
        // exp(x − m) has condition number |x − m|: Scalar's rounding of that difference shows up.
        // With an infinite maximum the reference is NaN (or 0 for −∞ entries), as documented.
        const double want_z = std::isinf(m) ? not_a_number : (row[j] - m) - reference.log_sum;
        const double want_y = std::exp(want_z);
        const double condition = std::isinf(row[j]) ? 0.0 : 1 + std::abs(row[j] - m);
        softmax_off.check(i, j, y(i, j), std::isinf(row[j]) ? 0.0 : want_y, tol * want_y * condition + tiny);
        log_softmax_off.check(i, j, z(i, j), want_z, tol * (condition + std::abs(want_z)));
      }
    }
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(special_values_follow_the_documented_rules, Scalar, Scalars) {
  HostSpace space;
  // Rows: all −∞; −∞ beside finite; +∞ beside finite; NaN beside finite; equal huge values; one entry.
  const double rows[][3] = {{-infinity, -infinity, -infinity},
                            {-infinity, 0.0, std::log(3.0)},
                            {infinity, 1.0, 2.0},
                            {not_a_number, 1.0, 2.0},
                            {1e30, 1e30, 1e30},
                            {-1e30, -1e30, -1e30}};
  const double want_lse[] = {-infinity, std::log(4.0), infinity, not_a_number, 1e30, -1e30};
  const double want_softmax[][3] = {
      {not_a_number, not_a_number, not_a_number}, {0.0, 0.25, 0.75},        {not_a_number, not_a_number, not_a_number},
      {not_a_number, not_a_number, not_a_number}, {1. / 3, 1. / 3, 1. / 3}, {1. / 3, 1. / 3, 1. / 3}};
  const double want_log_softmax[][3] = {
      {not_a_number, not_a_number, not_a_number},       {-infinity, -std::log(4.0), std::log(0.75)},
      {not_a_number, not_a_number, not_a_number},       {not_a_number, not_a_number, not_a_number},
      {-std::log(3.0), -std::log(3.0), -std::log(3.0)}, {-std::log(3.0), -std::log(3.0), -std::log(3.0)}};
  constexpr std::size_t count = 6;
  HostMatrix<Scalar> x("osbi::test::x", count, 3);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      x(i, j) = static_cast<Scalar>(rows[i][j]);
  auto lse = filled_vector<Scalar>(count, 0.5);
  auto y = filled<Scalar>(count, 3, 0.5);
  auto z = filled<Scalar>(count, 3, 0.5);
  kernels::log_sum_exp_rows(space, x, lse);
  kernels::softmax_rows(space, x, y);
  kernels::log_softmax_rows(space, x, z);
  space.fence();
  const double tol = tolerance<Scalar>(3);
  for (std::size_t i = 0; i < count; ++i) {
    BOOST_TEST_CONTEXT("row " << i) {
      const double scale = i >= 4 ? double(static_cast<Scalar>(1e30)) : 1.0; // 1e30 itself rounds in float
      BOOST_TEST(close(lse(i), i >= 4 ? static_cast<Scalar>(rows[i][0]) : want_lse[i], tol * scale),
                 "log_sum_exp " << lse(i) << " want " << want_lse[i]);
      for (std::size_t j = 0; j < 3; ++j) {
        BOOST_TEST(close(y(i, j), want_softmax[i][j], tol), "softmax(" << j << ") " << y(i, j));
        BOOST_TEST(close(z(i, j), want_log_softmax[i][j], tol), "log_softmax(" << j << ") " << z(i, j));
      }
    }
  }
  // No features: the empty sum gives −∞; softmax has nothing to write.
  HostMatrix<Scalar> empty("osbi::test::empty", 3, 0);
  auto empty_lse = filled_vector<Scalar>(3, not_a_number);
  kernels::log_sum_exp_rows(space, empty, empty_lse);
  kernels::softmax_rows(space, empty, empty);
  space.fence();
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST(empty_lse(i) == -std::numeric_limits<Scalar>::infinity());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(softmax_and_log_softmax_write_in_place, Scalar, Scalars) {
  std::mt19937_64 engine(osbi::testing::test_seed() + 1);
  HostSpace space;
  const auto x = extreme_input<Scalar>(13, 33, engine);
  auto y = filled<Scalar>(13, 33, not_a_number), z = filled<Scalar>(13, 33, not_a_number);
  kernels::softmax_rows(space, x, y);
  kernels::log_softmax_rows(space, x, z);
  auto in_place_y = filled<Scalar>(13, 33, 0), in_place_z = filled<Scalar>(13, 33, 0);
  Kokkos::deep_copy(in_place_y, x);
  Kokkos::deep_copy(in_place_z, x);
  kernels::softmax_rows(space, in_place_y, in_place_y);
  kernels::log_softmax_rows(space, in_place_z, in_place_z);
  space.fence();
  BOOST_TEST(std::memcmp(y.data(), in_place_y.data(), y.size() * sizeof(Scalar)) == 0);
  BOOST_TEST(std::memcmp(z.data(), in_place_z.data(), z.size() * sizeof(Scalar)) == 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(softmax_backward_kernels_match_the_reference, Scalar, Scalars) {
  std::mt19937_64 engine(osbi::testing::test_seed() + 2);
  HostSpace space;
  for_each_shape([&](std::size_t rows, std::size_t features) {
    const auto x = extreme_input<Scalar>(rows, features, engine);
    const auto g = uniform_matrix<Scalar>(rows, features, engine);
    auto y = filled<Scalar>(rows, features, not_a_number), z = filled<Scalar>(rows, features, not_a_number);
    kernels::softmax_rows(space, x, y);
    kernels::log_softmax_rows(space, x, z);
    auto grad_softmax = filled<Scalar>(rows, features, not_a_number),
         grad_log_softmax = filled<Scalar>(rows, features, not_a_number);
    kernels::softmax_rows_backward(space, y, g, grad_softmax);
    kernels::log_softmax_rows_backward(space, z, g, grad_log_softmax);
    space.fence();
    // The reference starts from the kernels' own (Scalar) y and z, so only the backward is measured.
    const double tol = tolerance<Scalar>(features), tiny = double(std::numeric_limits<Scalar>::min());
    Mismatches softmax_off("softmax_backward"), log_softmax_off("log_softmax_backward");
    for (std::size_t i = 0; i < rows; ++i) {
      double dot = 0, dot_abs = 0, sum = 0, sum_abs = 0;
      for (std::size_t j = 0; j < features; ++j) {
        dot += double(g(i, j)) * y(i, j), dot_abs += std::abs(double(g(i, j)) * y(i, j));
        sum += g(i, j), sum_abs += std::abs(double(g(i, j)));
      }
      for (std::size_t j = 0; j < features; ++j) {
        const double yj = y(i, j), pj = std::exp(double(z(i, j)));
        const double z_magnitude = std::isinf(double(z(i, j))) ? 0.0 : std::abs(double(z(i, j))); // exp(−∞) = 0
        softmax_off.check(i, j, grad_softmax(i, j), yj * (g(i, j) - dot),
                          tol * yj * (std::abs(double(g(i, j))) + dot_abs) + tiny);
        log_softmax_off.check(i, j, grad_log_softmax(i, j), g(i, j) - pj * sum,
                              tol * (std::abs(double(g(i, j))) + pj * sum_abs * (1 + z_magnitude)) + tiny);
      }
    }
  });
}

// Rows are independent, so one central difference per column perturbs that column in every row at
// once and reads each row's own change of its loss Σ_k g(i, k)·f(x)(i, k).
template <class Forward>
HostMatrix<double> finite_difference_rows(const HostMatrix<double>& x, const HostMatrix<double>& g, Forward forward,
                                          double step) {
  const std::size_t rows = x.extent(0), features = x.extent(1);
  HostMatrix<double> grad("osbi::test::fd", rows, features);
  HostMatrix<double> shifted("osbi::test::shifted", rows, features), out("osbi::test::out", rows, features);
  const auto row_loss = [&](std::vector<double>& loss) {
    forward(shifted, out);
    for (std::size_t i = 0; i < rows; ++i) {
      loss[i] = 0;
      for (std::size_t k = 0; k < features; ++k)
        loss[i] += g(i, k) * out(i, k);
    }
  };
  std::vector<double> plus(rows), minus(rows);
  for (std::size_t j = 0; j < features; ++j) {
    Kokkos::deep_copy(shifted, x);
    for (std::size_t i = 0; i < rows; ++i)
      shifted(i, j) = x(i, j) + step;
    row_loss(plus);
    for (std::size_t i = 0; i < rows; ++i)
      shifted(i, j) = x(i, j) - step;
    row_loss(minus);
    for (std::size_t i = 0; i < rows; ++i)
      grad(i, j) = (plus[i] - minus[i]) / (2 * step);
  }
  return grad;
}

void check_against_finite_differences(const HostMatrix<double>& got, const HostMatrix<double>& want, const char* what) {
  Mismatches off(what);
  for (std::size_t i = 0; i < got.extent(0); ++i)
    for (std::size_t j = 0; j < got.extent(1); ++j)
      off.check(i, j, got(i, j), want(i, j), 1e-7 * (1 + std::abs(want(i, j))));
}

BOOST_AUTO_TEST_CASE(backward_kernels_match_finite_differences) {
  std::mt19937_64 engine(osbi::testing::test_seed() + 3);
  HostSpace space;
  const double epsilon = 1e-5;
  for (std::size_t rows : {1, 7, 64})
    for (std::size_t features : {1, 2, 31, 32, 33}) {
      BOOST_TEST_CONTEXT("rows " << rows << " features " << features) {
        // −∞ entries are left out here: a difference quotient across −∞ means nothing.
        auto x = uniform_matrix<double>(rows, features, engine, -3, 3);
        for (std::size_t i = 1; i < rows; i += 5)
          for (std::size_t j = 0; j < features; ++j)
            x(i, j) += 1000; // large values: shift invariance
        const auto g = uniform_matrix<double>(rows, features, engine);
        const double step = 1e-5;

        auto y = filled<double>(rows, features, not_a_number), z = filled<double>(rows, features, not_a_number);
        kernels::softmax_rows(space, x, y);
        kernels::log_softmax_rows(space, x, z);
        auto grad = filled<double>(rows, features, not_a_number);
        kernels::softmax_rows_backward(space, y, g, grad);
        space.fence();
        check_against_finite_differences(grad,
                                         finite_difference_rows(
                                             x, g,
                                             [&](const auto& in, const auto& out) {
                                               kernels::softmax_rows(space, in, out);
                                               space.fence();
                                             },
                                             step),
                                         "softmax_rows_backward");
        grad = filled<double>(rows, features, not_a_number);
        kernels::log_softmax_rows_backward(space, z, g, grad);
        space.fence();
        check_against_finite_differences(grad,
                                         finite_difference_rows(
                                             x, g,
                                             [&](const auto& in, const auto& out) {
                                               kernels::log_softmax_rows(space, in, out);
                                               space.fence();
                                             },
                                             step),
                                         "log_softmax_rows_backward");

        // Layer norm: input gradient by columns as above, gain and bias gradients one parameter at a time.
        auto gain = filled_vector<double>(features, 0), bias = filled_vector<double>(features, 0);
        for (std::size_t j = 0; j < features; ++j)
          gain(j) = 0.5 + 0.1 * double(j % 7), bias(j) = 0.01 * double(j);
        HostVector<double> mean("osbi::test::mean", rows), inv_std("osbi::test::inv_std", rows);
        const auto layer_norm = [&](const auto& in, const auto& out) {
          kernels::layer_norm_statistics(space, in, mean, inv_std, epsilon);
          kernels::layer_norm_forward(space, in, mean, inv_std, gain, bias, out);
          space.fence();
        };
        const auto want = finite_difference_rows(x, g, layer_norm, step);
        kernels::layer_norm_statistics(space, x, mean, inv_std, epsilon);
        grad = filled<double>(rows, features, not_a_number);
        kernels::layer_norm_backward_input(space, x, mean, inv_std, gain, g, grad);
        auto grad_gain = filled_vector<double>(features, 0.25), grad_bias = filled_vector<double>(features, -0.5);
        kernels::layer_norm_backward_parameters(space, x, mean, inv_std, g, grad_gain, grad_bias);
        space.fence();
        // Inputs of 1000 + O(1) lose 3 digits in the difference quotient: looser tolerance.
        Mismatches input_off("layer_norm_backward_input");
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < features; ++j)
            input_off.check(i, j, grad(i, j), want(i, j), 1e-6 * (1 + std::abs(want(i, j))));
        HostMatrix<double> out("osbi::test::out", rows, features);
        const auto total_loss = [&] {
          layer_norm(x, out);
          double loss = 0;
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < features; ++j)
              loss += g(i, j) * out(i, j);
          return loss;
        };
        Mismatches parameter_off("layer_norm_backward_parameters");
        for (std::size_t j = 0; j < features; ++j) {
          const double gain_j = gain(j), bias_j = bias(j);
          gain(j) = gain_j + step;
          const double gain_plus = total_loss();
          gain(j) = gain_j - step;
          const double gain_minus = total_loss();
          gain(j) = gain_j;
          bias(j) = bias_j + step;
          const double bias_plus = total_loss();
          bias(j) = bias_j - step;
          const double bias_minus = total_loss();
          bias(j) = bias_j;
          const double want_gain = 0.25 + (gain_plus - gain_minus) / (2 * step);
          const double want_bias = -0.5 + (bias_plus - bias_minus) / (2 * step);
          parameter_off.check(0, j, grad_gain(j), want_gain, 1e-7 * double(rows) * (1 + std::abs(want_gain)));
          parameter_off.check(1, j, grad_bias(j), want_bias, 1e-7 * double(rows) * (1 + std::abs(want_bias)));
        }
      }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(layer_norm_kernels_match_the_reference, Scalar, Scalars) {
  using Statistic = kernels::accumulation_t<Scalar>;
  std::mt19937_64 engine(osbi::testing::test_seed() + 4);
  HostSpace space;
  const double epsilon = 1e-5;
  for_each_shape([&](std::size_t rows, std::size_t features) {
    // Every other row sits at 1000 with spread 0.01: a one-pass float variance would cancel to noise.
    auto x = uniform_matrix<Scalar>(rows, features, engine, -2, 3);
    for (std::size_t i = 1; i < rows; i += 2)
      for (std::size_t j = 0; j < features; ++j)
        x(i, j) = static_cast<Scalar>(1000 + 0.01 * double(x(i, j)));
    const auto g = uniform_matrix<Scalar>(rows, features, engine);
    const auto parameters = uniform_matrix<Scalar>(2, features, engine, -2, 2);
    const auto gain = Kokkos::subview(parameters, 0, Kokkos::ALL), bias = Kokkos::subview(parameters, 1, Kokkos::ALL);

    // Statistics stored both in Scalar and in the accumulation type.
    auto mean = filled_vector<Statistic>(rows, not_a_number), inv_std = filled_vector<Statistic>(rows, not_a_number);
    auto mean_scalar = filled_vector<Scalar>(rows, not_a_number),
         inv_std_scalar = filled_vector<Scalar>(rows, not_a_number);
    kernels::layer_norm_statistics(space, x, mean, inv_std, epsilon);
    kernels::layer_norm_statistics(space, x, mean_scalar, inv_std_scalar, epsilon);
    auto y = filled<Scalar>(rows, features, not_a_number), grad_x = filled<Scalar>(rows, features, not_a_number);
    kernels::layer_norm_forward(space, x, mean, inv_std, gain, bias, y);
    kernels::layer_norm_backward_input(space, x, mean, inv_std, gain, g, grad_x);
    auto grad_gain = filled_vector<Scalar>(features, 0.25), grad_bias = filled_vector<Scalar>(features, -0.5);
    kernels::layer_norm_backward_parameters(space, x, mean, inv_std, g, grad_gain, grad_bias);
    space.fence();

    const double tol = tolerance<Scalar>(features), statistic_tol = tolerance<Statistic>(features);
    Mismatches statistics_off("layer_norm_statistics"), forward_off("layer_norm_forward"),
        input_off("layer_norm_backward_input"), parameter_off("layer_norm_backward_parameters");
    std::vector<double> sum_gain(features, 0.0), sum_gain_abs(features, 0.0), sum_bias(features, 0.0),
        sum_bias_abs(features, 0.0);
    double max_shift_error = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const auto row = row_of(x, i);
      const Statistics s = reference_statistics(row, epsilon);
      statistics_off.check(i, 0, mean(i), s.mean, statistic_tol * (1 + s.mean_abs));
      statistics_off.check(i, 1, inv_std(i), s.inv_std, statistic_tol * s.inv_std);
      statistics_off.check(i, 2, mean_scalar(i), s.mean, tol * (1 + s.mean_abs));
      statistics_off.check(i, 3, inv_std_scalar(i), s.inv_std, tol * s.inv_std);
      // x̂ inherits the statistics' rounding: |δx̂| <= (error of the mean) · inv_std, large when |mean| ≫ std.
      const double shift_error = statistic_tol * (1 + s.mean_abs) * s.inv_std;
      max_shift_error = std::max(max_shift_error, shift_error);
      double mean_g = 0, mean_g_abs = 0, mean_gx = 0, mean_gx_abs = 0;
      std::vector<double> normalized(features), scaled_g(features);
      for (std::size_t j = 0; j < features; ++j) {
        normalized[j] = (row[j] - s.mean) * s.inv_std;
        scaled_g[j] = double(g(i, j)) * gain(j);
        mean_g += scaled_g[j] / double(features), mean_g_abs += std::abs(scaled_g[j]) / double(features);
        mean_gx += scaled_g[j] * normalized[j] / double(features);
        mean_gx_abs += std::abs(scaled_g[j] * normalized[j]) / double(features);
        sum_gain[j] += double(g(i, j)) * normalized[j], sum_gain_abs[j] += std::abs(double(g(i, j)) * normalized[j]);
        sum_bias[j] += g(i, j), sum_bias_abs[j] += std::abs(double(g(i, j)));
      }
      for (std::size_t j = 0; j < features; ++j) {
        const double want_y = normalized[j] * gain(j) + bias(j);
        forward_off.check(i, j, y(i, j), want_y,
                          tol * (std::abs(normalized[j] * gain(j)) + std::abs(double(bias(j))) + 1e-3) +
                              (shift_error + statistic_tol * std::abs(normalized[j])) * std::abs(double(gain(j))));
        const double want_grad = s.inv_std * (scaled_g[j] - mean_g - normalized[j] * mean_gx);
        input_off.check(i, j, grad_x(i, j), want_grad,
                        (tol + statistic_tol) * s.inv_std *
                                (std::abs(scaled_g[j]) + mean_g_abs + std::abs(normalized[j]) * mean_gx_abs + 1e-3) +
                            s.inv_std * shift_error * (mean_gx_abs + std::abs(normalized[j]) * mean_g_abs));
      }
    }
    for (std::size_t j = 0; j < features; ++j) {
      parameter_off.check(0, j, grad_gain(j), 0.25 + sum_gain[j],
                          tol * (1 + sum_gain_abs[j]) + max_shift_error * sum_bias_abs[j]);
      parameter_off.check(1, j, grad_bias(j), -0.5 + sum_bias[j], tol * (1 + sum_bias_abs[j]));
    }
  });
}

BOOST_AUTO_TEST_CASE(layer_norm_statistics_of_edge_rows) {
  HostSpace space;
  // A constant row has variance 0: inv_std = 1/√ε exactly as PyTorch; no features: mean 0, same inv_std.
  const auto constant = filled<double>(2, 5, 7.0);
  auto mean = filled_vector<double>(2, not_a_number), inv_std = filled_vector<double>(2, not_a_number);
  kernels::layer_norm_statistics(space, constant, mean, inv_std, 1e-5);
  const auto empty = filled<double>(2, 0, 0.0);
  auto empty_mean = filled_vector<double>(2, not_a_number), empty_inv_std = filled_vector<double>(2, not_a_number);
  kernels::layer_norm_statistics(space, empty, empty_mean, empty_inv_std, 1e-5);
  space.fence();
  for (std::size_t i = 0; i < 2; ++i) {
    BOOST_TEST(mean(i) == 7.0);
    BOOST_TEST(std::abs(inv_std(i) - 1 / std::sqrt(1e-5)) < 1e-12 * inv_std(i));
    BOOST_TEST(empty_mean(i) == 0.0);
    BOOST_TEST(std::abs(empty_inv_std(i) - 1 / std::sqrt(1e-5)) < 1e-12 * empty_inv_std(i));
  }
  BOOST_CHECK_THROW(kernels::layer_norm_statistics(space, constant, mean, inv_std, -1.0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(kernels::layer_norm_statistics(space, constant, mean, inv_std, not_a_number),
                    osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(wrong_shapes_throw_naming_both_sizes) {
  HostSpace space;
  const auto x = filled<double>(4, 3, 1.0);
  const auto check_message = [](const osbi::DimensionMismatch& error, const char* first, const char* second) {
    const std::string what = error.what();
    return what.find(first) != std::string::npos && what.find(second) != std::string::npos;
  };
  auto short_out = filled_vector<double>(3, 0);
  BOOST_CHECK_EXCEPTION(kernels::log_sum_exp_rows(space, x, short_out), osbi::DimensionMismatch,
                        [&](const auto& e) { return check_message(e, "has 3", "expected 4"); });
  auto narrow = filled<double>(4, 2, 0);
  BOOST_CHECK_EXCEPTION(kernels::softmax_rows(space, x, narrow), osbi::DimensionMismatch,
                        [&](const auto& e) { return check_message(e, "has 2", "expected 3"); });
  BOOST_CHECK_EXCEPTION(kernels::log_softmax_rows(space, x, narrow), osbi::DimensionMismatch,
                        [&](const auto& e) { return check_message(e, "has 2", "expected 3"); });
  auto grad = filled<double>(4, 3, 0);
  BOOST_CHECK_THROW(kernels::softmax_rows_backward(space, x, narrow, grad), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(kernels::log_softmax_rows_backward(space, x, x, narrow), osbi::DimensionMismatch);
  auto mean = filled_vector<double>(4, 0), inv_std = filled_vector<double>(4, 0), gain = filled_vector<double>(2, 1);
  BOOST_CHECK_THROW(kernels::layer_norm_statistics(space, x, short_out, inv_std, 1e-5), osbi::DimensionMismatch);
  BOOST_CHECK_EXCEPTION(kernels::layer_norm_forward(space, x, mean, inv_std, gain, gain, grad), osbi::DimensionMismatch,
                        [&](const auto& e) { return check_message(e, "has 2", "expected 3"); });
  BOOST_CHECK_THROW(kernels::layer_norm_backward_input(space, x, mean, inv_std, gain, x, grad),
                    osbi::DimensionMismatch);
  BOOST_CHECK_THROW(kernels::layer_norm_backward_parameters(space, x, mean, inv_std, x, gain, gain),
                    osbi::DimensionMismatch);
}

#if defined(KOKKOS_ENABLE_OPENMP) && defined(KOKKOS_ENABLE_SERIAL)
BOOST_AUTO_TEST_CASE_TEMPLATE(serial_and_openmp_give_identical_bits, Scalar, Scalars) {
  // Both spaces see the same host memory; each kernel runs once per space into separate outputs.
  std::mt19937_64 engine(osbi::testing::test_seed() + 5);
  for (const auto& [rows, features] : {std::pair<std::size_t, std::size_t>{1000, 33}, {64, 4097}}) {
    const auto x = extreme_input<Scalar>(rows, features, engine);
    const auto g = uniform_matrix<Scalar>(rows, features, engine);
    const auto gain = filled_vector<Scalar>(features, 1.5), bias = filled_vector<Scalar>(features, 0.5);
    const auto run = [&](const auto& space) {
      std::vector<HostMatrix<Scalar>> outputs;
      for (int k = 0; k < 5; ++k)
        outputs.push_back(filled<Scalar>(rows, features, not_a_number));
      auto lse = filled_vector<Scalar>(rows, not_a_number), mean = filled_vector<Scalar>(rows, not_a_number),
           inv_std = filled_vector<Scalar>(rows, not_a_number), grad_gain = filled_vector<Scalar>(features, 0),
           grad_bias = filled_vector<Scalar>(features, 0);
      kernels::log_sum_exp_rows(space, x, lse);
      kernels::softmax_rows(space, x, outputs[0]);
      kernels::softmax_rows_backward(space, outputs[0], g, outputs[1]);
      kernels::log_softmax_rows(space, x, outputs[2]);
      kernels::log_softmax_rows_backward(space, outputs[2], g, outputs[3]);
      kernels::layer_norm_statistics(space, g, mean, inv_std, 1e-5);
      kernels::layer_norm_forward(space, g, mean, inv_std, gain, bias, outputs[4]);
      kernels::layer_norm_backward_parameters(space, g, mean, inv_std, x, grad_gain, grad_bias);
      space.fence();
      std::vector<Scalar> all(lse.data(), lse.data() + rows);
      for (const auto& out : outputs)
        all.insert(all.end(), out.data(), out.data() + out.size());
      for (const auto& v : {mean, inv_std, grad_gain, grad_bias})
        all.insert(all.end(), v.data(), v.data() + v.size());
      return all;
    };
    const auto serial = run(Kokkos::Serial()), openmp = run(Kokkos::OpenMP());
    BOOST_TEST_REQUIRE(serial.size() == openmp.size());
    BOOST_TEST(std::memcmp(serial.data(), openmp.data(), serial.size() * sizeof(Scalar)) == 0,
               "rows " << rows << " features " << features);
  }
}
#endif

BOOST_AUTO_TEST_SUITE_END()
