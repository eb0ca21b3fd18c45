// SPDX-License-Identifier: BSD-3-Clause
/// \brief fit_linear_gaussian: the ridge regression of z-scored θ on z-scored x that estimators start from (ABC's regression adjustment).
#pragma once

#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace osbi::detail {

/// coefficients: (k + 1) × d, rows 0 … k−1 the slopes on the z-scored context, row k the intercept; residual_rms:
/// per θ coordinate, in z units. rows_used < 2 means no fit (coefficients empty).
struct LinearGaussianFit {
  Eigen::MatrixXd coefficients;
  std::vector<double> residual_rms;
  std::size_t rows_used = 0;
};

/// The ridge regression (1e-6 relative) of (θ − θ_mean)/θ_std on (x − x_mean)/x_std over the finite rows among the
/// first max_rows (a linear fit does not improve past ~10⁴ rows; this bounds the host copy).
template <class Scalar, class Space>
LinearGaussianFit fit_linear_gaussian(const Space& space, const ConstMatrix<Scalar, Space>& theta,
                                      const ConstMatrix<Scalar, Space>& x, const ConstVector<Scalar, Space>& theta_mean_view,
                                      const ConstVector<Scalar, Space>& theta_std_view,
                                      const ConstVector<Scalar, Space>& x_mean_view,
                                      const ConstVector<Scalar, Space>& x_std_view, std::size_t max_rows = 20'000) {
  space.fence();
  const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto theta_mean = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_mean_view);
  const auto theta_std = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_std_view);
  const auto x_mean = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_mean_view);
  const auto x_std = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_std_view);
  const std::size_t limit = std::min<std::size_t>(theta.extent(0), max_rows), d = theta.extent(1), c = x.extent(1);
  Eigen::MatrixXd design(limit, c + 1), target(limit, d);
  std::size_t used = 0;
  for (std::size_t i = 0; i < limit; ++i) {
    bool finite = true;
    for (std::size_t k = 0; k < c; ++k) {
      design(used, k) = (static_cast<double>(x_host(i, k)) - x_mean(k)) / x_std(k);
      finite = finite && std::isfinite(design(used, k));
    }
    for (std::size_t j = 0; j < d; ++j) {
      target(used, j) = (static_cast<double>(theta_host(i, j)) - theta_mean(j)) / theta_std(j);
      finite = finite && std::isfinite(target(used, j));
    }
    design(used, c) = 1.0;
    if (finite) ++used;
  }
  LinearGaussianFit fit;
  fit.rows_used = used;
  if (used < 2) return fit;
  const auto rows = design.topRows(used);
  Eigen::MatrixXd gram = rows.transpose() * rows / static_cast<double>(used);
  gram.diagonal().head(c).array() += 1e-6 * std::max(1.0, gram.diagonal().head(c).maxCoeff());
  fit.coefficients = gram.ldlt().solve(rows.transpose() * target.topRows(used) / static_cast<double>(used));
  const Eigen::MatrixXd residual = target.topRows(used) - rows * fit.coefficients;
  for (std::size_t j = 0; j < d; ++j)
    fit.residual_rms.push_back(std::sqrt(residual.col(j).squaredNorm() / static_cast<double>(used)));
  return fit;
}

} // namespace osbi::detail
