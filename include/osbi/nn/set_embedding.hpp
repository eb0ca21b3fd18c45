// SPDX-License-Identifier: BSD-3-Clause
/// \brief Permutation-invariant embedding of a variable number of iid trials (Deep Sets / Set Transformer pooling);
/// spec nn::SetEmbedding<TrialDim, ElementSpec, Pooling>.
#pragma once

#include <osbi/nn/attention.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/tokenwise.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace osbi::nn {

/// Poolings of SetEmbedding: the mean or the sum over the present trials (Deep Sets; the sum is sbi's
/// PermutationInvariantEmbedding default), or multi-head attention from Queries learned tokens (Set Transformer's
/// PMA; output Queries·features).
namespace pool {
struct Mean {};
struct Sum {};
template <std::size_t Heads, std::size_t Queries = 1>
struct Attention {
  static_assert(Heads > 0 && Queries > 0, "osbi::nn::pool::Attention<Heads, Queries>: both must be > 0");
};
namespace detail {
template <class Pooling>
struct Size;
template <std::size_t Heads, std::size_t Queries>
struct Size<Attention<Heads, Queries>> {
  static constexpr std::size_t heads = Heads, queries = Queries;
};
} // namespace detail
} // namespace pool

/*
 * SetEmbeddingLayer — models Layer (layer.hpp). A row of x is one observation made of up to `max_trials` iid
 * trials of trial_dim numbers:
 *     x = (k, trial_1, …, trial_max)      input_dim = 1 + max_trials·trial_dim,
 * where k ∈ {1, …, max_trials} says how many trials are present; trials k+1 … are padding (any finite values,
 * 0 by convention) and change nothing. (A count, not NaN padding: buffers reject non-finite rows.)
 *   y = (pool_{t ≤ k} φ((trial_t − m) / s),  k / max_trials)
 * φ = ElementSpec's layers applied to every trial (shared weights), pool the mean or sum over the present trials,
 * or attention pooling with the absent trials masked. The count ends the summary because a posterior's width
 * depends on it and neither a mean nor attention weights can count. y is invariant to the order of the present
 * trials. m and s are per-feature statistics shared by every trial slot (a per-slot
 * z-score would break the invariance): set_input_standardization(mean, std) (x's per-column statistics) pools
 * them over the slots; until then m = 0, s = 1. Bad counts (not an integer in 1..max_trials) throw InvalidArgument
 * naming the row, before anything runs.
 * Parameters: [φ | pooling's (attention only)]. Backward: the count gets 0 gradient, absent trials 0.
 */
template <class Scalar, class ExecutionSpace, class ElementSpec, class Pooling = pool::Mean>
class SetEmbeddingLayer {
  static constexpr bool summing = std::is_same_v<Pooling, pool::Sum>;
  static constexpr bool attention_pooling = !summing && !std::is_same_v<Pooling, pool::Mean>;

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using element_type = TokenwiseLayer<Scalar, ExecutionSpace, ElementSpec>;

  SetEmbeddingLayer(std::size_t input_dim, std::size_t trial_dim)
      : m_trial_dim(trial_dim), m_max_trials(trial_count(input_dim, trial_dim)),
        m_element(m_max_trials * trial_dim, trial_dim),
        m_feature_dim(m_element.output_dim() / m_max_trials), m_pooling(make_pooling()),
        m_mean(std::string(part) + "::mean", trial_dim), m_std(std::string(part) + "::std", trial_dim),
        m_trials(std::string(part) + "::trials", m_max_trials * trial_dim),
        m_features(std::string(part) + "::features", m_max_trials * m_feature_dim),
        m_grad_features(std::string(part) + "::grad_features", m_max_trials * m_feature_dim),
        m_grad_trials(std::string(part) + "::grad_trials", m_max_trials * trial_dim),
        m_keep(std::string(part) + "::keep", m_max_trials),
        m_pooled(std::string(part) + "::pooled", pooled_dim()), m_grad_pooled(std::string(part) + "::grad_pooled", pooled_dim()) {
    Kokkos::deep_copy(m_std, Scalar(1));
  }

  std::size_t input_dim() const { return 1 + m_max_trials * m_trial_dim; }
  std::size_t output_dim() const { return pooled_dim() + 1; }
  /// Features before the count: φ's width, times the query count for attention pooling.
  std::size_t pooled_dim() const {
    if constexpr (attention_pooling) return m_pooling.output_dim();
    else return m_feature_dim;
  }
  std::size_t parameter_count() const { return m_element.parameter_count() + pooling_parameter_count(); }
  std::size_t max_trials() const { return m_max_trials; }
  std::size_t feature_dim() const { return m_feature_dim; }

  void bind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "the bound parameter buffer");
    require_extent(gradients.extent(0), parameter_count(), part, "the bound gradient buffer");
    const std::size_t split = m_element.parameter_count();
    const auto head = std::make_pair(std::size_t{0}, split), tail = std::make_pair(split, parameter_count());
    m_element.bind(Kokkos::subview(parameters, head), Kokkos::subview(gradients, head));
    if constexpr (attention_pooling) m_pooling.bind(Kokkos::subview(parameters, tail), Kokkos::subview(gradients, tail));
  }

  void initialize(const ExecutionSpace& space, BatchRandom rng) {
    m_element.initialize(space, rng.split(0));
    if constexpr (attention_pooling) m_pooling.initialize(space, rng.split(1));
  }

  /// Per-feature trial statistics from x's per-column ones (input_dim entries each; the count's are ignored):
  /// the mean and standard deviation of all trial slots' values taken together.
  void set_input_standardization(const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    require_extent(x_mean.size(), input_dim(), part, "set_input_standardization: x_mean's size (input_dim)");
    require_extent(x_std.size(), input_dim(), part, "set_input_standardization: x_std's size (input_dim)");
    auto mean = Kokkos::create_mirror_view(m_mean);
    auto deviation = Kokkos::create_mirror_view(m_std);
    for (std::size_t e = 0; e < m_trial_dim; ++e) {
      double first = 0, second = 0;
      for (std::size_t t = 0; t < m_max_trials; ++t) {
        const double m = x_mean[1 + t * m_trial_dim + e], s = x_std[1 + t * m_trial_dim + e];
        require(std::isfinite(m) && std::isfinite(s) && s >= 0, part, "set_input_standardization: column ",
                1 + t * m_trial_dim + e, " has mean ", m, " and std ", s);
        first += m;
        second += s * s + m * m;
      }
      first /= static_cast<double>(m_max_trials);
      const double variance = second / static_cast<double>(m_max_trials) - first * first;
      mean(e) = static_cast<Scalar>(first);
      deviation(e) = static_cast<Scalar>(variance > 1e-24 ? std::sqrt(variance) : 1.0);
    }
    Kokkos::deep_copy(m_mean, mean);
    Kokkos::deep_copy(m_std, deviation);
  }

  void forward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& input,
               const Matrix<Scalar, ExecutionSpace>& output) {
    require_extent(input.extent(1), input_dim(), part, "forward: input's column count (1 + max_trials·trial_dim)");
    require_extent(output.extent(1), output_dim(), part, "forward: output's column count");
    require_extent(output.extent(0), input.extent(0), part, "forward: output's row count (input's row count)");
    const std::size_t batch = input.extent(0);
    m_batch = batch;
    m_has_forward = true;
    if (batch == 0) return;
    check_counts(space, input);
    const Matrix<Scalar, ExecutionSpace> trials = m_trials.rows(batch);
    const Matrix<std::uint8_t, ExecutionSpace> keep = m_keep.rows(batch);
    standardize(space, input, trials, keep);
    const Matrix<Scalar, ExecutionSpace> features = m_features.rows(batch);
    m_element.forward(space, trials, features);
    const Matrix<Scalar, ExecutionSpace> pooled = m_pooled.rows(batch);
    if constexpr (attention_pooling) {
      m_pooling.set_key_padding_mask(keep);
      m_pooling.forward(space, features, pooled);
    } else {
      mean_pool(space, input, features, pooled);
    }
    append_count(space, input, pooled, output);
    m_input = input;
  }

  void backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                const Matrix<Scalar, ExecutionSpace>& grad_input) {
    require(m_has_forward, part, "backward called before any forward");
    require_extent(grad_output.extent(0), m_batch, part, "backward: grad_output's row count (the last forward's batch)");
    require_extent(grad_output.extent(1), output_dim(), part, "backward: grad_output's column count");
    const bool wants_input_gradient = grad_input.data() != nullptr;
    if (wants_input_gradient) {
      require_extent(grad_input.extent(0), m_batch, part, "backward: grad_input's row count (the last forward's batch)");
      require_extent(grad_input.extent(1), input_dim(), part, "backward: grad_input's column count");
    }
    if (m_batch == 0) return;
    const Matrix<Scalar, ExecutionSpace> grad_features = m_grad_features.rows(m_batch);
    const Matrix<Scalar, ExecutionSpace> grad_pooled = m_grad_pooled.rows(m_batch);
    // The count column is not differentiable: its gradient stops here.
    Kokkos::deep_copy(space, grad_pooled,
                      Kokkos::subview(grad_output, Kokkos::ALL, std::make_pair(std::size_t{0}, pooled_dim())));
    if constexpr (attention_pooling) m_pooling.backward(space, grad_pooled, grad_features);
    else mean_pool_backward(space, grad_pooled, grad_features);
    if (!wants_input_gradient) {
      m_element.backward(space, grad_features, Matrix<Scalar, ExecutionSpace>());
      return;
    }
    const Matrix<Scalar, ExecutionSpace> grad_trials = m_grad_trials.rows(m_batch);
    m_element.backward(space, grad_features, grad_trials);
    // x = (k, trials): k gets 0; a present trial's entries grad/s; padding 0 (its z was the constant 0).
    const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_trials;
    const ConstMatrix<Scalar, ExecutionSpace> x = m_input;
    const ConstVector<Scalar, ExecutionSpace> deviation = m_std;
    const std::size_t trial_dim = m_trial_dim, trials = m_max_trials;
    Kokkos::parallel_for(
        "osbi::nn::SetEmbeddingLayer::input_gradient", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_batch),
        KOKKOS_LAMBDA(const std::size_t row) {
          const std::size_t present = static_cast<std::size_t>(x(row, 0));
          grad_input(row, 0) = 0;
          for (std::size_t t = 0; t < trials; ++t)
            for (std::size_t e = 0; e < trial_dim; ++e)
              grad_input(row, 1 + t * trial_dim + e) = t < present ? upstream(row, t * trial_dim + e) / deviation(e) : 0;
        });
  }

  element_type& element() { return m_element; }

private:
  static constexpr const char* part = "osbi::nn::SetEmbeddingLayer";
  using PoolingLayer = MultiHeadAttentionLayer<Scalar, ExecutionSpace>;

  static std::size_t trial_count(std::size_t input_dim, std::size_t trial_dim) {
    require(trial_dim > 0, part, "trial_dim must be > 0");
    require<DimensionMismatch>(input_dim > 1 && (input_dim - 1) % trial_dim == 0, part, "input_dim ", input_dim,
                               " is not 1 (the trial count) + a whole number of ", trial_dim, "-number trials");
    return (input_dim - 1) / trial_dim;
  }

  /// Mean and sum pooling have no layer (and no member: an empty struct stands in).
  using PoolingMember = std::conditional_t<attention_pooling, PoolingLayer, std::monostate>;

  PoolingMember make_pooling() const {
    if constexpr (attention_pooling)
      return PoolingLayer(m_max_trials * m_feature_dim,
                          AttentionSize{m_feature_dim, pool::detail::Size<Pooling>::heads, pool::detail::Size<Pooling>::queries});
    else return {};
  }
  std::size_t pooling_parameter_count() const {
    if constexpr (attention_pooling) return m_pooling.parameter_count();
    else return 0;
  }

  // The kernels below are implementation, public only because nvcc's extended lambdas cannot live in private
  // member functions.
public:
  /// Throws unless every row's x(row, 0) is an integer in 1..max_trials.
  void check_counts(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x) const {
    const double limit = static_cast<double>(m_max_trials);
    std::size_t first_bad = 0;
    const std::size_t none = x.extent(0);
    Kokkos::parallel_reduce(
        "osbi::nn::SetEmbeddingLayer::check_counts", Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row, std::size_t& bad) {
          const double k = static_cast<double>(x(row, 0));
          const bool good = k >= 1 && k <= limit && k == static_cast<double>(static_cast<std::size_t>(k));
          if (!good && row < bad) bad = row;
        },
        Kokkos::Min<std::size_t>(first_bad));
    if (first_bad < none) {
      auto value = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(x, first_bad, 0));
      require(false, part, "row ", first_bad, " says it holds ", static_cast<double>(value()),
              " trials: the first entry must be an integer count from 1 to ", m_max_trials);
    }
  }

  /// trials = z-scored present trials, 0 for padding; keep(row, t) = t < k.
  void standardize(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x,
                   const Matrix<Scalar, ExecutionSpace>& trials, const Matrix<std::uint8_t, ExecutionSpace>& keep) const {
    const ConstVector<Scalar, ExecutionSpace> mean = m_mean, deviation = m_std;
    const std::size_t trial_dim = m_trial_dim, count = m_max_trials;
    Kokkos::parallel_for(
        "osbi::nn::SetEmbeddingLayer::standardize", Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row) {
          const std::size_t present = static_cast<std::size_t>(x(row, 0));
          for (std::size_t t = 0; t < count; ++t) {
            keep(row, t) = t < present ? 1 : 0;
            for (std::size_t e = 0; e < trial_dim; ++e)
              trials(row, t * trial_dim + e) = t < present ? (x(row, 1 + t * trial_dim + e) - mean(e)) / deviation(e) : 0;
          }
        });
  }

  void mean_pool(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x,
                 const ConstMatrix<Scalar, ExecutionSpace>& features, const Matrix<Scalar, ExecutionSpace>& output) const {
    const std::size_t width = m_feature_dim;
    Kokkos::parallel_for(
        "osbi::nn::SetEmbeddingLayer::mean_pool", Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row) {
          const std::size_t present = static_cast<std::size_t>(x(row, 0));
          for (std::size_t f = 0; f < width; ++f) output(row, f) = 0;
          for (std::size_t t = 0; t < present; ++t)
            for (std::size_t f = 0; f < width; ++f) output(row, f) += features(row, t * width + f);
          const Scalar inverse = summing ? Scalar(1) : Scalar(1) / static_cast<Scalar>(present);
          for (std::size_t f = 0; f < width; ++f) output(row, f) *= inverse;
        });
  }

  /// output = (pooled, k / max_trials).
  void append_count(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x,
                    const ConstMatrix<Scalar, ExecutionSpace>& pooled, const Matrix<Scalar, ExecutionSpace>& output) const {
    const std::size_t width = pooled_dim();
    const Scalar scale = Scalar(1) / static_cast<Scalar>(m_max_trials);
    Kokkos::parallel_for(
        "osbi::nn::SetEmbeddingLayer::append_count", Kokkos::RangePolicy<ExecutionSpace>(space, 0, x.extent(0)),
        KOKKOS_LAMBDA(const std::size_t row) {
          for (std::size_t f = 0; f < width; ++f) output(row, f) = pooled(row, f);
          output(row, width) = x(row, 0) * scale;
        });
  }

  void mean_pool_backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& grad_output,
                          const Matrix<Scalar, ExecutionSpace>& grad_features) const {
    const ConstMatrix<Scalar, ExecutionSpace> x = m_input;
    const std::size_t width = m_feature_dim, count = m_max_trials;
    Kokkos::parallel_for(
        "osbi::nn::SetEmbeddingLayer::mean_pool_backward", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_batch),
        KOKKOS_LAMBDA(const std::size_t row) {
          const std::size_t present = static_cast<std::size_t>(x(row, 0));
          const Scalar inverse = summing ? Scalar(1) : Scalar(1) / static_cast<Scalar>(present);
          for (std::size_t t = 0; t < count; ++t)
            for (std::size_t f = 0; f < width; ++f)
              grad_features(row, t * width + f) = t < present ? grad_output(row, f) * inverse : Scalar(0);
        });
  }

private:
  std::size_t m_trial_dim, m_max_trials;
  element_type m_element;
  std::size_t m_feature_dim;
  PoolingMember m_pooling;
  Vector<Scalar, ExecutionSpace> m_mean, m_std;
  detail::BatchBuffer<Scalar, ExecutionSpace> m_trials, m_features, m_grad_features, m_grad_trials;
  detail::BatchBuffer<std::uint8_t, ExecutionSpace> m_keep;
  detail::BatchBuffer<Scalar, ExecutionSpace> m_pooled, m_grad_pooled;
  ConstMatrix<Scalar, ExecutionSpace> m_input;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

/// Spec: a set of up to (input_dim − 1)/TrialDim iid trials, x = (count, trials…), embedded by ElementSpec (a
/// LayerSpec from TrialDim features, e.g. nn::Sequential<nn::Dense<64>, nn::ReLU, nn::Dense<32>>) per trial and
/// pooled by Pooling (pool::Mean, pool::Sum or pool::Attention<Heads, Queries>), then the count; follow it with a network on the pooled
/// features, e.g. nn::Sequential<nn::SetEmbedding<1, Phi>, nn::Dense<32>, nn::ReLU, nn::Dense<8>>.
template <std::size_t TrialDim, class ElementSpec, class Pooling = pool::Mean>
struct SetEmbedding {
  static_assert(TrialDim > 0, "osbi::nn::SetEmbedding<TrialDim, ...>: TrialDim must be > 0");
  template <class Scalar, class ExecutionSpace>
  class layer : public SetEmbeddingLayer<Scalar, ExecutionSpace, ElementSpec, Pooling> {
  public:
    explicit layer(std::size_t input_dim) : SetEmbeddingLayer<Scalar, ExecutionSpace, ElementSpec, Pooling>(input_dim, TrialDim) {}
  };
};

} // namespace osbi::nn
