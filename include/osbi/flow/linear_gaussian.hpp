// SPDX-License-Identifier: BSD-3-Clause
/// \brief LinearGaussian: q(θ | x) = N(θ; W·x + b, diag(exp(2s))) — the simplest ConditionalDensity, exact for linear-Gaussian models.
#pragma once

#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/detail/nll_backward.hpp>

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <limits>
#include <utility>

namespace osbi {

/*
 * LinearGaussian — a diagonal Gaussian whose mean is affine in the context: μ(x) = W x + b, σ = exp(s).
 * Parameters in one flat buffer laid out [W (theta_dim × context_dim, row-major) | b | s], initialized
 * to W = 0, b = 0, s = 0 (q = N(0, I) for every x). Models ConditionalDensity. It is the posterior
 * family of gaussian_linear (exact there: W = ½ I, σ² = 0.05), a baseline, and the archetype the
 * trainer's tests use; its gradients are closed-form:
 *   r = (θ − μ)/σ:  ∂(−log q)/∂μ = −r/σ,  ∂(−log q)/∂s = 1 − r².
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class LinearGaussian {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  LinearGaussian(std::size_t theta_dim, std::size_t context_dim)
      : m_theta_dim(theta_dim), m_context_dim(context_dim),
        m_parameters("osbi::flow::LinearGaussian::parameters", theta_dim * context_dim + 2 * theta_dim),
        m_gradients("osbi::flow::LinearGaussian::gradients", theta_dim * context_dim + 2 * theta_dim) {
    require(theta_dim > 0 && context_dim > 0, part, "theta_dim = ", theta_dim,
            " and context_dim = ", context_dim, " must be > 0");
  }

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t context_dim() const { return m_context_dim; }
  Vector<Scalar, ExecutionSpace> parameters() const { return m_parameters; }
  Vector<Scalar, ExecutionSpace> gradients() const { return m_gradients; }
  void zero_gradients(const ExecutionSpace& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }

  void log_prob(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const ConstMatrix<Scalar, ExecutionSpace>& x, const Vector<Scalar, ExecutionSpace>& out) const {
    detail::check_flow_pairs(part, "log_prob", m_theta_dim, m_context_dim, theta, x);
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's size (theta's row count)");
    const auto p = m_parameters;
    const std::size_t d = m_theta_dim, c = m_context_dim;
    Kokkos::parallel_for(
        "osbi::flow::LinearGaussian::log_prob", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double total = 0;
          for (std::size_t j = 0; j < d; ++j) {
            double mean = p(d * c + j);
            for (std::size_t k = 0; k < c; ++k) mean += p(j * c + k) * static_cast<double>(x(i, k));
            const double log_sigma = p(d * c + d + j);
            const double r = (static_cast<double>(theta(i, j)) - mean) * math::exp(-log_sigma);
            total += -0.5 * r * r - log_sigma - 0.91893853320467274178;
          }
          out(i) = static_cast<Scalar>(total);
        });
  }

  /// L = (1/N) Σ_i w_i·(−log q(θ_i | x_i)) (estimator/conditional_density.hpp): ∂L/∂parameters ADDED to
  /// gradients(); grad_theta and grad_x OVERWRITTEN with ∂L/∂θ and ∂L/∂x, each skipped when empty.
  double nll_backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                      const ConstMatrix<Scalar, ExecutionSpace>& x, const ConstVector<Scalar, ExecutionSpace>& weights,
                      const Matrix<Scalar, ExecutionSpace>& grad_theta, const Matrix<Scalar, ExecutionSpace>& grad_x) {
    detail::check_nll_backward(part, m_theta_dim, m_context_dim, theta, x, weights, grad_theta, grad_x);
    const std::size_t n = theta.extent(0);
    const bool weighted = weights.data() != nullptr;
    const auto p = m_parameters;
    const auto g = m_gradients;
    const std::size_t d = m_theta_dim, c = m_context_dim;
    const double scale = 1.0 / static_cast<double>(n);
    // One thread per output dimension j accumulates its gradient row over the batch (d is small). Row i's terms
    // carry w_i (w_i·scale = scale exactly for w_i = 1).
    Kokkos::View<double*, typename ExecutionSpace::memory_space> nll("osbi::flow::LinearGaussian::nll", d);
    Kokkos::parallel_for(
        "osbi::flow::LinearGaussian::nll_backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, d),
        KOKKOS_LAMBDA(const std::size_t j) {
          const double log_sigma = p(d * c + d + j), inv_sigma = math::exp(-log_sigma);
          double loss = 0, grad_b = 0, grad_s = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const double w = weighted ? static_cast<double>(weights(i)) : 1.0;
            double mean = p(d * c + j);
            for (std::size_t k = 0; k < c; ++k) mean += p(j * c + k) * static_cast<double>(x(i, k));
            const double r = (static_cast<double>(theta(i, j)) - mean) * inv_sigma;
            loss += w * (0.5 * r * r + log_sigma + 0.91893853320467274178);
            const double grad_mean = -r * inv_sigma;
            grad_b += w * grad_mean;
            grad_s += w * (1.0 - r * r);
            for (std::size_t k = 0; k < c; ++k)
              g(j * c + k) += static_cast<Scalar>(w * scale * grad_mean * static_cast<double>(x(i, k)));
          }
          g(d * c + j) += static_cast<Scalar>(scale * grad_b);
          g(d * c + d + j) += static_cast<Scalar>(scale * grad_s);
          nll(j) = loss * scale;
        });
    double total = 0;
    Kokkos::parallel_reduce(
        "osbi::flow::LinearGaussian::nll_sum", Kokkos::RangePolicy<ExecutionSpace>(space, 0, d),
        KOKKOS_LAMBDA(const std::size_t j, double& sum) { sum += nll(j); }, total);
    if (grad_theta.data() != nullptr || grad_x.data() != nullptr) input_backward(space, theta, x, weights, grad_theta, grad_x);
    return total;
  }

  void sample(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
              const Matrix<Scalar, ExecutionSpace>& theta) const {
    detail::check_flow_sample(part, m_theta_dim, m_context_dim, x, theta);
    launch_sample(space, x, false, rng, theta);
  }

  void sample(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x_one, std::size_t n,
              BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) const {
    detail::check_flow_sample_one(part, m_theta_dim, m_context_dim, x_one, n, theta);
    launch_sample(space, x_one, true, rng, theta);
  }

private:
  static constexpr const char* part = "osbi::LinearGaussian";

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  /// ∂L/∂θ_ij = (w_i/N)·r_ij/σ_j and ∂L/∂x_ik = −(w_i/N)·Σ_j (r_ij/σ_j)·W_jk, one thread per row.
  void input_backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                      const ConstMatrix<Scalar, ExecutionSpace>& x, const ConstVector<Scalar, ExecutionSpace>& weights,
                      const Matrix<Scalar, ExecutionSpace>& grad_theta, const Matrix<Scalar, ExecutionSpace>& grad_x) const {
    const auto p = m_parameters;
    const std::size_t d = m_theta_dim, c = m_context_dim, n = theta.extent(0);
    const bool weighted = weights.data() != nullptr, want_theta = grad_theta.data() != nullptr,
               want_x = grad_x.data() != nullptr;
    const double scale = 1.0 / static_cast<double>(n);
    Kokkos::parallel_for(
        "osbi::flow::LinearGaussian::input_backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i) {
          const double coefficient = (weighted ? static_cast<double>(weights(i)) : 1.0) * scale;
          if (want_x)
            for (std::size_t k = 0; k < c; ++k) grad_x(i, k) = Scalar(0);
          for (std::size_t j = 0; j < d; ++j) {
            const double inv_sigma = math::exp(-static_cast<double>(p(d * c + d + j)));
            double mean = p(d * c + j);
            for (std::size_t k = 0; k < c; ++k) mean += p(j * c + k) * static_cast<double>(x(i, k));
            // ∂(−log q_i)/∂θ_ij = r/σ = −∂(−log q_i)/∂μ_ij.
            const double grad = coefficient * (static_cast<double>(theta(i, j)) - mean) * inv_sigma * inv_sigma;
            if (want_theta) grad_theta(i, j) = static_cast<Scalar>(grad);
            if (want_x)
              for (std::size_t k = 0; k < c; ++k) grad_x(i, k) -= static_cast<Scalar>(grad * static_cast<double>(p(j * c + k)));
          }
        });
  }

  void launch_sample(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x, bool one_context,
                     BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) const {
    const auto p = m_parameters;
    const std::size_t d = m_theta_dim, c = m_context_dim;
    Kokkos::parallel_for(
        "osbi::flow::LinearGaussian::sample", Kokkos::RangePolicy<ExecutionSpace>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          const std::size_t row = one_context ? 0 : i;
          for (std::size_t j = 0; j < d; ++j) {
            double mean = p(d * c + j);
            for (std::size_t k = 0; k < c; ++k) mean += p(j * c + k) * static_cast<double>(x(row, k));
            theta(i, j) = static_cast<Scalar>(mean + math::exp(static_cast<double>(p(d * c + d + j))) * generator.normal());
          }
        });
  }

private:
  std::size_t m_theta_dim, m_context_dim;
  Vector<Scalar, ExecutionSpace> m_parameters;
  Vector<Scalar, ExecutionSpace> m_gradients;
};

static_assert(ConditionalDensity<LinearGaussian<float, Kokkos::DefaultHostExecutionSpace>>);

} // namespace osbi
