// SPDX-License-Identifier: BSD-3-Clause
/// \brief The loss tests' case: a LinearGaussian with drawn parameters, a batch, and its per-row NLL and gradient in double.
#pragma once

#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/batch.hpp>

#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
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

} // namespace osbi::loss_test
