// SPDX-License-Identifier: BSD-3-Clause
/// \brief LossArchetype: a Loss that sees only the Estimator concept's members, for compile and run tests of the training seam.
#pragma once

#include <osbi/testing/estimator_archetype.hpp>

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/loss.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <type_traits>

namespace osbi::testing {

/*
 * LossArchetype — exactly the three members the Loss concept names (loss/loss.hpp), non-const as the concept
 * asks, no default constructor, no copy. Its members are templates over any Estimator and use only what that
 * concept promises (parameters(), gradients(), the dimensions), so it models Loss<LossArchetype, E> for
 * EstimatorArchetype — an estimator that is not a density — and generic training code that compiles and runs
 * with the pair needs neither log_prob nor a backward pass of the estimator's own.
 *
 * It is a stochastic moment-matching loss, like the score and flow-matching losses that draw noise each step:
 * row i's target is t_i = θ_i0 − x_i0 + noise·ε_i, ε_i ~ N(0, 1) from rng.row(i), and
 *     L = (1/N) Σ_i w_i · ½ Σ_k (p_k − t_i)²,   ∂L/∂p_k = (1/N) Σ_i w_i (p_k − t_i)   (w_i = 1 without weights)
 * over the estimator's parameters p. Minimized at p_k = Σ w t / Σ w: for EstimatorArchetype (θ = μ + x + ε)
 * training drives μ to the weighted mean of θ − x. per_row(i) = ½ Σ_k (p_k − t_i)² (unweighted).
 * The sums run in row order in one thread, so value and value_and_gradient agree bit for bit.
 */
class LossArchetype {
public:
  explicit LossArchetype(double noise) : m_noise(noise) {
    require(noise >= 0, part, "noise = ", noise, " must be >= 0");
  }
  LossArchetype(const LossArchetype&) = delete;
  LossArchetype& operator=(const LossArchetype&) = delete;
  LossArchetype(LossArchetype&&) = default;
  LossArchetype& operator=(LossArchetype&&) = default;

  template <Estimator E>
  double value_and_gradient(E& estimator, const typename E::execution_space& space,
                            const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                            BatchRandom rng) {
    return evaluate(estimator, space, batch, rng, true);
  }

  template <Estimator E>
  double value(E& estimator, const typename E::execution_space& space,
               const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng) {
    return evaluate(estimator, space, batch, rng, false);
  }

  template <Estimator E>
  void per_row(E& estimator, const typename E::execution_space& space,
               const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng,
               const Vector<typename E::scalar_type, typename E::execution_space>& out) {
    using Scalar = typename E::scalar_type;
    using Space = typename E::execution_space;
    check_batch(batch, estimator.theta_dim(), estimator.context_dim(), part);
    require_extent(out.extent(0), batch.rows(), part, "per_row: out's size (the batch's row count)");
    const ConstVector<Scalar, Space> p = estimator.parameters();
    const ConstMatrix<Scalar, Space> theta = batch.theta, x = batch.x;
    const std::size_t count = p.extent(0);
    const double noise = m_noise;
    Kokkos::parallel_for(
        "osbi::testing::LossArchetype::per_row", Kokkos::RangePolicy<Space>(space, 0, batch.rows()),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          const double target = static_cast<double>(theta(i, 0)) - static_cast<double>(x(i, 0)) + noise * generator.normal();
          double total = 0;
          for (std::size_t k = 0; k < count; ++k) {
            const double difference = static_cast<double>(p(k)) - target;
            total += 0.5 * difference * difference;
          }
          out(i) = static_cast<Scalar>(total);
        });
  }

private:
  static constexpr const char* part = "osbi::testing::LossArchetype";

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  template <Estimator E>
  double evaluate(E& estimator, const typename E::execution_space& space,
                  const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng,
                  bool with_gradient) {
    using Scalar = typename E::scalar_type;
    using Space = typename E::execution_space;
    check_batch(batch, estimator.theta_dim(), estimator.context_dim(), part);
    const std::size_t n = batch.rows();
    require(n > 0, part, "the batch is empty (the mean of no rows is undefined)");
    const ConstVector<Scalar, Space> p = estimator.parameters();
    const Vector<Scalar, Space> g = estimator.gradients();
    const ConstMatrix<Scalar, Space> theta = batch.theta, x = batch.x;
    const ConstVector<Scalar, Space> weights = batch.weights;
    const bool weighted = batch.weighted();
    const std::size_t count = p.extent(0);
    const double noise = m_noise, scale = 1.0 / static_cast<double>(n);
    const Kokkos::View<double*, typename Space::memory_space> loss(label("testing", "LossArchetype", "loss"), 1);
    // Σ w, Σ w·t and Σ w·t² in row order give the loss and the gradient of every parameter in one pass.
    Kokkos::parallel_for(
        "osbi::testing::LossArchetype::value_and_gradient", Kokkos::RangePolicy<Space>(space, 0, 1),
        KOKKOS_LAMBDA(const std::size_t) {
          double sum_w = 0, sum_wt = 0, sum_wtt = 0;
          for (std::size_t i = 0; i < n; ++i) {
            RowRandom generator = rng.row(i);
            const double w = weighted ? static_cast<double>(weights(i)) : 1.0;
            const double target = static_cast<double>(theta(i, 0)) - static_cast<double>(x(i, 0)) + noise * generator.normal();
            sum_w += w;
            sum_wt += w * target;
            sum_wtt += w * target * target;
          }
          double total = 0;
          for (std::size_t k = 0; k < count; ++k) {
            const double value = static_cast<double>(p(k));
            total += 0.5 * (sum_w * value * value - 2 * value * sum_wt + sum_wtt);
            if (with_gradient) g(k) += static_cast<Scalar>((sum_w * value - sum_wt) * scale);
          }
          loss(0) = total * scale;
        });
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), loss);
    return host(0);
  }

private:
  double m_noise;
};

static_assert(Loss<LossArchetype, EstimatorArchetype>,
              "osbi::testing::LossArchetype must model osbi::Loss for EstimatorArchetype (osbi/loss/loss.hpp)");
static_assert(!std::is_copy_constructible_v<LossArchetype> && !std::is_default_constructible_v<LossArchetype>,
              "osbi::testing::LossArchetype must stay minimal");

} // namespace osbi::testing
