// SPDX-License-Identifier: BSD-3-Clause
/// \brief The loss tests' case: a LinearGaussian with drawn parameters, a batch, and its per-row NLL and gradient in double.
#pragma once

#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/optim/adam.hpp>

#include <osbi/core/random.hpp>

#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi::loss_test {

using Space = DefaultExecutionSpace;

/*
 * q(θ | x) = N(θ; W x + b, diag(exp(2s))), D = 2, C = 3, W, b and s drawn (0.5·N(0, 1)); N rows of θ ~ N(0, 1) and
 * x ~ N(0, 1.5²). The reference, in double on the host, from the closed form (parameters [W | b | s]):
 *   ℓ_i = Σ_j ½ r_ij² + s_j + ½ log 2π,  r_ij = (θ_ij − W_j·x_i − b_j) e^{−s_j}
 *   ∂ℓ_i/∂b_j = −r_ij e^{−s_j},  ∂ℓ_i/∂W_jk = −r_ij e^{−s_j} x_ik,  ∂ℓ_i/∂s_j = 1 − r_ij².
 */
struct LinearGaussianCase {
  static constexpr std::size_t d = 2, c = 3;
  std::size_t n;
  LinearGaussian<double, Space> density{d, c};
  std::vector<double> parameters, theta_values, x_values;
  Matrix<double, Space> theta, x;

  explicit LinearGaussianCase(std::size_t rows, std::uint64_t stream = 81)
      : n(rows), parameters(testing::normals(d * c + 2 * d, stream, 0.5)),
        theta_values(testing::normals(rows * d, stream + 1)), x_values(testing::normals(rows * c, stream + 2, 1.5)),
        theta(testing::device_matrix<double>(theta_values, rows, d)),
        x(testing::device_matrix<double>(x_values, rows, c)) {
    Kokkos::deep_copy(density.parameters(), testing::device_vector<double>(parameters));
  }

  /// θ and x without weights or metadata.
  TrainingBatch<double, Space> batch() const {
    TrainingBatch<double, Space> result;
    result.theta = theta;
    result.x = x;
    return result;
  }

  /// The same rows with per-row weights.
  TrainingBatch<double, Space> batch(const std::vector<double>& weights) const {
    TrainingBatch<double, Space> result = batch();
    result.weights = testing::device_vector<double>(weights);
    return result;
  }

  double nll(std::size_t i) const {
    double total = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const double s = parameters[d * c + d + j];
      total += 0.5 * residual(i, j) * residual(i, j) + s + 0.5 * std::log(2 * M_PI);
    }
    return total;
  }

  /// ∂ℓ_i/∂parameters.
  std::vector<double> gradient(std::size_t i) const {
    std::vector<double> g(parameters.size(), 0.0);
    for (std::size_t j = 0; j < d; ++j) {
      const double r = residual(i, j), inv_sigma = std::exp(-parameters[d * c + d + j]);
      for (std::size_t k = 0; k < c; ++k) g[j * c + k] = -r * inv_sigma * x_values[i * c + k];
      g[d * c + j] = -r * inv_sigma;
      g[d * c + d + j] = 1 - r * r;
    }
    return g;
  }

  /// Σ_i coefficient_i·ℓ_i and Σ_i coefficient_i·∂ℓ_i.
  std::pair<double, std::vector<double>> combination(const std::vector<double>& coefficients) const {
    double value = 0;
    std::vector<double> g(parameters.size(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      value += coefficients[i] * nll(i);
      const std::vector<double> row = gradient(i);
      for (std::size_t k = 0; k < g.size(); ++k) g[k] += coefficients[i] * row[k];
    }
    return {value, g};
  }

private:
  double residual(std::size_t i, std::size_t j) const {
    double mean = parameters[d * c + j];
    for (std::size_t k = 0; k < c; ++k) mean += parameters[j * c + k] * x_values[i * c + k];
    return (theta_values[i * d + j] - mean) * std::exp(-parameters[d * c + d + j]);
  }
};

/// Fits q(θ | x) = N(W x + b, e^{2s}) (one θ, one x) to the rows (θ_i, x_i), with per-row weights when `weights` is
/// not empty, by `loss` and Adam from W = b = s = 0: 4 000 steps of 200 rows (lr 1e-2, 1e-3 for the last 1 000),
/// reshuffled every epoch from `seed`; the rows' count must be a multiple of 200. Returns {W, b, s}.
template <class LossType>
std::vector<double> fit_scalar_linear_gaussian(LossType loss, const std::vector<double>& theta, const std::vector<double>& x,
                                               const std::vector<double>& weights, std::uint64_t seed = 78) {
  constexpr std::size_t batch_size = 200;
  const std::size_t n = theta.size();
  const Space space;
  LinearGaussian<double, Space> density(1, 1);
  Kokkos::deep_copy(density.parameters(), 0.0);
  optim::Adam<double, Space> adam(density.parameters().extent(0), {.learning_rate = 1e-2});
  RandomStream shuffle(seed, 78);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::vector<double> theta_batch(batch_size), x_batch(batch_size), weight_batch(batch_size);
  for (std::size_t step = 0; step < 4'000; ++step) {
    if (step == 3'000) adam.set_learning_rate(1e-3);
    const std::size_t offset = (step * batch_size) % n;
    if (offset == 0) { // a new epoch: reshuffle
      const BatchRandom permutation = shuffle.next();
      for (std::size_t i = n - 1; i > 0; --i) {
        RowRandom row = permutation.row(i);
        std::swap(order[i], order[static_cast<std::size_t>(row.uniform() * static_cast<double>(i + 1)) % (i + 1)]);
      }
    }
    for (std::size_t k = 0; k < batch_size; ++k) {
      theta_batch[k] = theta[order[offset + k]], x_batch[k] = x[order[offset + k]];
      weight_batch[k] = weights.empty() ? 1.0 : weights[order[offset + k]];
    }
    TrainingBatch<double, Space> batch;
    batch.theta = testing::device_matrix<double>(theta_batch, batch_size, 1);
    batch.x = testing::device_matrix<double>(x_batch, batch_size, 1);
    if (!weights.empty()) batch.weights = testing::device_vector<double>(weight_batch);
    density.zero_gradients(space);
    const double value = loss.value_and_gradient(density, space, batch, shuffle.next());
    if (!std::isfinite(value)) return {};
    adam.step(space, density.parameters(), density.gradients());
  }
  return testing::host_values(density.parameters());
}

} // namespace osbi::loss_test
