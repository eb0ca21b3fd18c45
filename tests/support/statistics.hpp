// SPDX-License-Identifier: BSD-3-Clause
/// \brief Critical values for statistical assertions, each derived from a stated false-failure probability.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace osbi::testing {

/// False-failure probability of one statistical assertion unless a test states another. With a few
/// hundred such assertions in the suite, a spurious red run is rarer than one in a million.
inline constexpr double default_false_failure = 1e-9;

/// Upper quantile of the standard normal: P(Z > z) = alpha (Acklam's rational approximation, refined
/// by one Halley step on erfc; relative error far below what the tests need).
inline double normal_upper_quantile(double alpha) {
  const double p = 1.0 - alpha;
  const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                      1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                      6.680131188771972e+01,  -1.328068155288572e+01};
  const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                      -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  const double low = 0.02425;
  double x;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(x / std::sqrt(2.0)) - alpha; // upper tail minus target
  const double u = -e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/// |Z| bound of a two-sided z-test with false-failure probability alpha.
inline double two_sided_z(double alpha = default_false_failure) { return normal_upper_quantile(alpha / 2); }

/// Upper alpha-quantile of chi-square with k degrees of freedom (Wilson–Hilferty; accurate to a
/// fraction of a percent for k >= 10, which is all the tests use).
inline double chi_square_upper_quantile(double k, double alpha = default_false_failure) {
  const double z = normal_upper_quantile(alpha);
  const double h = 2.0 / (9.0 * k);
  const double t = 1.0 - h + z * std::sqrt(h);
  return k * t * t * t;
}

/// Lower alpha-quantile of chi-square with k degrees of freedom (Wilson–Hilferty): a statistic below
/// it is "too good to be random" (a lattice rather than random points).
inline double chi_square_lower_quantile(double k, double alpha = default_false_failure) {
  const double z = normal_upper_quantile(alpha);
  const double h = 2.0 / (9.0 * k);
  const double t = 1.0 - h - z * std::sqrt(h);
  return k * t * t * t;
}

/// Kolmogorov–Smirnov bound on sup|F_n − F| for n samples (Dvoretzky–Kiefer–Wolfowitz–Massart:
/// P(sup > eps) <= 2 exp(−2 n eps²), exact as an upper bound).
inline double ks_bound(std::size_t n, double alpha = default_false_failure) {
  return std::sqrt(std::log(2.0 / alpha) / (2.0 * static_cast<double>(n)));
}

/// sup_x |F_n(x) − F(x)| of the samples against a continuous CDF.
template <class Cdf>
double ks_statistic(std::vector<double> samples, Cdf cdf) {
  std::sort(samples.begin(), samples.end());
  const double n = static_cast<double>(samples.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double f = cdf(samples[i]);
    worst = std::max({worst, std::abs(f - static_cast<double>(i) / n), std::abs(static_cast<double>(i + 1) / n - f)});
  }
  return worst;
}

inline double standard_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

} // namespace osbi::testing
