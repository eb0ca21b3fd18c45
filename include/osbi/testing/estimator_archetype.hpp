// SPDX-License-Identifier: BSD-3-Clause
/// \brief EstimatorArchetype: the least type that models osbi::Estimator (and is not a density), for compile tests of generic code.
#pragma once

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
 * EstimatorArchetype — exactly the members the Estimator concept names (estimator/estimator.hpp), with its
 * signatures and constness and nothing else: no default constructor, no copy (its parameters are a View, so a
 * copy would share them behind the caller's back), no log_prob. Generic code that compiles with it asks no more
 * of an estimator than the concept promises — in particular it works for a score model or a vector field, which
 * are estimators but not densities.
 *
 * It also behaves as the spec says, so generic code can run with it and check_estimator passes: one parameter μ
 * (parameters() = [μ]), θ_dim = x_dim = 1, and a draw is θ = μ + x + ε, ε ~ N(0, 1) from rng.row(i). A loss that
 * can only see these members (LossArchetype) can still train μ: E[θ − x] = μ.
 */
class EstimatorArchetype {
public:
  using scalar_type = double;
  using execution_space = DefaultExecutionSpace;

  explicit EstimatorArchetype(double mean)
      : m_parameters(label("testing", "EstimatorArchetype", "parameters"), 1),
        m_gradients(label("testing", "EstimatorArchetype", "gradients"), 1) {
    Kokkos::deep_copy(m_parameters, mean);
  }
  EstimatorArchetype(const EstimatorArchetype&) = delete;
  EstimatorArchetype& operator=(const EstimatorArchetype&) = delete;
  EstimatorArchetype(EstimatorArchetype&&) = default;
  EstimatorArchetype& operator=(EstimatorArchetype&&) = default;

  std::size_t theta_dim() const { return 1; }
  std::size_t context_dim() const { return 1; }

  Vector<scalar_type, execution_space> parameters() { return m_parameters; }
  Vector<scalar_type, execution_space> gradients() { return m_gradients; }
  void zero_gradients(const execution_space& space) { Kokkos::deep_copy(space, m_gradients, 0.0); }

  void sample(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& x, BatchRandom rng,
              const Matrix<scalar_type, execution_space>& theta) {
    require_extent(x.extent(1), 1, part, "sample: x's column count (context_dim)");
    require_extent(theta.extent(1), 1, part, "sample: theta's column count (theta_dim)");
    require_extent(theta.extent(0), x.extent(0), part, "sample: theta's row count (x's row count)");
    launch(space, x, false, rng, theta);
  }

  void sample(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& x_one, std::size_t n,
              BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) {
    require_extent(x_one.extent(0), 1, part, "sample: x_one's row count");
    require_extent(x_one.extent(1), 1, part, "sample: x_one's column count (context_dim)");
    require_extent(theta.extent(0), n, part, "sample: theta's row count (n)");
    require_extent(theta.extent(1), 1, part, "sample: theta's column count (theta_dim)");
    launch(space, x_one, true, rng, theta);
  }

private:
  static constexpr const char* part = "osbi::testing::EstimatorArchetype";

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  void launch(const execution_space& space, const ConstMatrix<scalar_type, execution_space>& x, bool one_context,
              BatchRandom rng, const Matrix<scalar_type, execution_space>& theta) const {
    const auto mean = m_parameters;
    Kokkos::parallel_for(
        "osbi::testing::EstimatorArchetype::sample", Kokkos::RangePolicy<execution_space>(space, 0, theta.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          theta(i, 0) = mean(0) + x(one_context ? 0 : i, 0) + generator.normal();
        });
  }

private:
  Vector<scalar_type, execution_space> m_parameters;
  Vector<scalar_type, execution_space> m_gradients;
};

static_assert(Estimator<EstimatorArchetype>,
              "osbi::testing::EstimatorArchetype must model osbi::Estimator (osbi/estimator/estimator.hpp)");
static_assert(!ConditionalDensity<EstimatorArchetype>,
              "osbi::testing::EstimatorArchetype must not be a ConditionalDensity (an estimator need not be a density)");
static_assert(!std::is_copy_constructible_v<EstimatorArchetype> && !std::is_default_constructible_v<EstimatorArchetype>,
              "osbi::testing::EstimatorArchetype must stay minimal");

} // namespace osbi::testing
