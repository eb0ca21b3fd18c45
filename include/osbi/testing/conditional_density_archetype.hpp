// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionalDensityArchetype: the least type that models osbi::ConditionalDensity, for compile tests of generic code.
#pragma once

#include <osbi/testing/estimator_archetype.hpp>

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/estimator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <type_traits>

namespace osbi::testing {

/*
 * ConditionalDensityArchetype — exactly the members the ConditionalDensity concept names
 * (estimator/conditional_density.hpp), with its signatures and constness and nothing else: no default
 * constructor, no copy, no unweighted nll_backward overload, no z-scoring. Generic code that compiles with it
 * uses no more of a density than the concept promises.
 *
 * It behaves as the spec says, so check_conditional_density passes and generic code (NllLoss, the trainer, the
 * Posterior) can run with it: q(θ | x) = N(θ; μ + x, 1), one dimension, one parameter μ. With r = θ − μ − x,
 * −log q = ½ r² + ½ log 2π, so the weighted backward is exact in closed form:
 *   L = (1/N) Σ w_i (½ r_i² + ½ log 2π),  ∂L/∂μ = −(1/N) Σ w_i r_i,  ∂L/∂θ_i = w_i r_i / N,  ∂L/∂x_i = −w_i r_i / N.
 * The sums run in row order in one thread, so the result is the same on every backend and thread count, and
 * unit weights give the unweighted values bit for bit (1·t = t). Its draws are EstimatorArchetype's
 * (θ = μ + x + ε, ε ~ N(0, 1) from rng.row(i)), which it holds and forwards to.
 */
class ConditionalDensityArchetype {
public:
  using scalar_type = double;
  using execution_space = DefaultExecutionSpace;

  explicit ConditionalDensityArchetype(double mean) : m_estimator(mean) {}
  ConditionalDensityArchetype(const ConditionalDensityArchetype&) = delete;
  ConditionalDensityArchetype& operator=(const ConditionalDensityArchetype&) = delete;
  ConditionalDensityArchetype(ConditionalDensityArchetype&&) = default;
  ConditionalDensityArchetype& operator=(ConditionalDensityArchetype&&) = default;

  std::size_t theta_dim() const { return m_estimator.theta_dim(); }
  std::size_t context_dim() const { return m_estimator.context_dim(); }

  Vector<scalar_type, execution_space> parameters() { return m_estimator.parameters(); }
  Vector<scalar_type, execution_space> gradients() { return m_estimator.gradients(); }
  void zero_gradients(const execution_space& space) { m_estimator.zero_gradients(space); }

  void log_prob(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                const ConstMatrix<scalar_type, execution_space>& x, const Vector<scalar_type, execution_space>& out) {
    check_pair("log_prob", theta, x);
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's size (theta's row count)");
    const auto mean = m_estimator.parameters();
    Kokkos::parallel_for(
        "osbi::testing::ConditionalDensityArchetype::log_prob",
        Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)), KOKKOS_LAMBDA(const std::size_t i) {
          const double r = theta(i, 0) - mean(0) - x(i, 0);
          out(i) = -0.5 * r * r - half_log_two_pi;
        });
  }

  double nll_backward(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& theta,
                      const ConstMatrix<scalar_type, execution_space>& x,
                      const ConstVector<scalar_type, execution_space>& weights,
                      const Matrix<scalar_type, execution_space>& grad_theta,
                      const Matrix<scalar_type, execution_space>& grad_x) {
    check_pair("nll_backward", theta, x);
    const std::size_t n = theta.extent(0);
    require(n > 0, part, "nll_backward: the batch is empty (the mean of no rows is undefined)");
    const bool weighted = weights.data() != nullptr, want_theta = grad_theta.data() != nullptr,
               want_x = grad_x.data() != nullptr;
    if (weighted) require_extent(weights.extent(0), n, part, "nll_backward: weights' size (theta's row count)");
    if (want_theta) {
      require_extent(grad_theta.extent(0), n, part, "nll_backward: grad_theta's row count (theta's row count)");
      require_extent(grad_theta.extent(1), 1, part, "nll_backward: grad_theta's column count (theta_dim)");
    }
    if (want_x) {
      require_extent(grad_x.extent(0), n, part, "nll_backward: grad_x's row count (theta's row count)");
      require_extent(grad_x.extent(1), 1, part, "nll_backward: grad_x's column count (context_dim)");
    }
    const auto mean = m_estimator.parameters();
    const auto gradient = m_estimator.gradients();
    const Kokkos::View<double*, typename execution_space::memory_space> loss(
        label("testing", "ConditionalDensityArchetype", "loss"), 1);
    const double scale = 1.0 / static_cast<double>(n);
    Kokkos::parallel_for(
        "osbi::testing::ConditionalDensityArchetype::nll_backward", Kokkos::RangePolicy<execution_space>(space, 0, 1),
        KOKKOS_LAMBDA(const std::size_t) {
          double total = 0, grad_mean = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const double w = weighted ? weights(i) : 1.0;
            const double r = theta(i, 0) - mean(0) - x(i, 0);
            total += w * (0.5 * r * r + half_log_two_pi);
            grad_mean -= w * r;
            if (want_theta) grad_theta(i, 0) = w * r * scale;
            if (want_x) grad_x(i, 0) = -(w * r * scale);
          }
          gradient(0) += grad_mean * scale;
          loss(0) = total * scale;
        });
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss);
    return host(0);
  }

  void sample(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& x, BatchRandom rng,
              const Matrix<scalar_type, execution_space>& theta) {
    m_estimator.sample(space, x, rng, theta);
  }

  void sample(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& x_one, std::size_t n,
              BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) {
    m_estimator.sample(space, x_one, n, rng, theta);
  }

private:
  static constexpr const char* part = "osbi::testing::ConditionalDensityArchetype";
  static constexpr double half_log_two_pi = 0.91893853320467274178;

  void check_pair(const char* step, const ConstMatrix<scalar_type, execution_space>& theta,
                  const ConstMatrix<scalar_type, execution_space>& x) const {
    require<DimensionMismatch>(theta.extent(1) == 1, part, step, ": theta has ", theta.extent(1),
                               " columns, expected theta_dim = 1");
    require<DimensionMismatch>(x.extent(1) == 1, part, step, ": x has ", x.extent(1), " columns, expected context_dim = 1");
    require<DimensionMismatch>(x.extent(0) == theta.extent(0), part, step, ": x has ", x.extent(0),
                               " rows, theta has ", theta.extent(0));
  }

  EstimatorArchetype m_estimator;
};

static_assert(ConditionalDensity<ConditionalDensityArchetype>,
              "osbi::testing::ConditionalDensityArchetype must model osbi::ConditionalDensity "
              "(osbi/estimator/conditional_density.hpp)");
static_assert(!std::is_copy_constructible_v<ConditionalDensityArchetype> &&
                  !std::is_default_constructible_v<ConditionalDensityArchetype>,
              "osbi::testing::ConditionalDensityArchetype must stay minimal");

} // namespace osbi::testing
