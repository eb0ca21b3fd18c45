// SPDX-License-Identifier: BSD-3-Clause
/// \brief Optional estimator capabilities — z-scoring and a data-dependent start — and the one place that uses them (prepare_from_data).
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/flow/running_moments.hpp>

#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <vector>

namespace osbi {

/// An estimator that z-scores θ and x internally, from statistics it is given (sbi z-scores both by default):
/// e.set_standardization(theta_mean, theta_std, x_mean, x_std), host vectors of theta_dim and context_dim
/// values, standard deviations finite and > 0.
template <class E>
concept Standardizable = Estimator<E> && requires(E& estimator, const std::vector<double>& values) {
  estimator.set_standardization(values, values, values, values);
};

/// An estimator with a data-dependent start (ConditionallyCentered: a regression of θ on x), taken from the
/// training rows after set_standardization: e.initialize_from_data(space, theta, x).
template <class E>
concept DataInitializable = Estimator<E> && requires(E& estimator, const typename E::execution_space& space,
                                                      const ConstMatrix<typename E::scalar_type, typename E::execution_space>& rows) {
  estimator.initialize_from_data(space, rows, rows);
};

/// The z-scoring an estimator was given (empty vectors: none).
struct Standardization {
  std::vector<double> theta_mean, theta_std, x_mean, x_std;
  bool empty() const { return theta_mean.empty(); }
};

/*
 * prepare_from_data(estimator, space, theta, x) — what every training path does once before its first step,
 * from the rows it will train on (θ in the estimator's coordinates): a Standardizable estimator gets the
 * z-scoring of those rows (RunningMoments: rows with NaN/Inf skipped, standard deviations below 1e-12 become 1),
 * then a DataInitializable one its data-dependent start from the finite rows. Returns the statistics (empty for
 * an estimator without z-scoring), which a checkpoint keeps and apply_standardization restores.
 */
template <Estimator EstimatorType>
Standardization prepare_from_data(EstimatorType& estimator, const typename EstimatorType::execution_space& space,
                                  const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& theta,
                                  const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& x);

/// Gives a Standardizable estimator statistics prepare_from_data returned earlier (a resumed run); a no-op
/// for empty statistics or an estimator without z-scoring.
template <Estimator EstimatorType>
void apply_standardization(EstimatorType& estimator, const Standardization& statistics) {
  if constexpr (Standardizable<EstimatorType>)
    if (!statistics.empty())
      estimator.set_standardization(statistics.theta_mean, statistics.theta_std, statistics.x_mean, statistics.x_std);
}

namespace detail {

/// The rows of (theta, x) with every entry finite, copied into new views on the same space.
template <class Scalar, class ExecutionSpace>
std::pair<Matrix<Scalar, ExecutionSpace>, Matrix<Scalar, ExecutionSpace>> finite_pairs(
    const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta, const ConstMatrix<Scalar, ExecutionSpace>& x) {
  const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < theta.extent(0); ++i) {
    bool finite = true;
    for (std::size_t j = 0; j < theta.extent(1); ++j) finite = finite && std::isfinite(double(theta_host(i, j)));
    for (std::size_t j = 0; j < x.extent(1); ++j) finite = finite && std::isfinite(double(x_host(i, j)));
    if (finite) rows.push_back(i);
  }
  Matrix<Scalar, ExecutionSpace> theta_out(label("estimator", "prepare_from_data", "theta"), rows.size(), theta.extent(1));
  Matrix<Scalar, ExecutionSpace> x_out(label("estimator", "prepare_from_data", "x"), rows.size(), x.extent(1));
  auto theta_out_host = Kokkos::create_mirror_view(theta_out);
  auto x_out_host = Kokkos::create_mirror_view(x_out);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t j = 0; j < theta.extent(1); ++j) theta_out_host(r, j) = theta_host(rows[r], j);
    for (std::size_t j = 0; j < x.extent(1); ++j) x_out_host(r, j) = x_host(rows[r], j);
  }
  Kokkos::deep_copy(space, theta_out, theta_out_host);
  Kokkos::deep_copy(space, x_out, x_out_host);
  space.fence();
  return {theta_out, x_out};
}

} // namespace detail

template <Estimator EstimatorType>
Standardization prepare_from_data(EstimatorType& estimator, const typename EstimatorType::execution_space& space,
                                  const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& theta,
                                  const ConstMatrix<typename EstimatorType::scalar_type, typename EstimatorType::execution_space>& x) {
  using Scalar = typename EstimatorType::scalar_type;
  using Space = typename EstimatorType::execution_space;
  Standardization statistics;
  if constexpr (Standardizable<EstimatorType>) {
    const auto [finite_theta, finite_x] = detail::finite_pairs<Scalar, Space>(space, theta, x);
    RunningMoments<Scalar, Space> theta_moments(estimator.theta_dim()), x_moments(estimator.context_dim());
    theta_moments.update(space, finite_theta);
    x_moments.update(space, finite_x);
    statistics = {theta_moments.mean(), theta_moments.standard_deviation(), x_moments.mean(), x_moments.standard_deviation()};
    apply_standardization(estimator, statistics);
    if constexpr (DataInitializable<EstimatorType>) estimator.initialize_from_data(space, finite_theta, finite_x);
  }
  return statistics;
}

} // namespace osbi
