// SPDX-License-Identifier: BSD-3-Clause
/// \brief VectorFieldNetwork: the time-conditioned residual MLP behind score diffusion and flow matching (sbi 0.27's default "mlp").
#pragma once

#include <osbi/vector_field/time_embedding.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/layer_norm.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace osbi {

struct VectorFieldNetworkOptions {
  std::size_t hidden = 100; ///< width H of every block
  std::size_t blocks = 5;
  TimeEmbeddingOptions time{};
  std::uint64_t seed = 0;
};

/// Whether a backward pass adds into the bound parameter gradients (training) or only forms the input gradient
/// (a divergence for log_prob: the parameter gradients stay untouched).
enum class ParameterGradients { accumulate, discard };

/*
 * VectorFieldNetwork — out = F(u, c, t), u ∈ R^d (the noised θ, already normalized by the estimator), c ∈ R^k
 * (the z-scored context), t a scalar per row; sbi 0.27's VectorFieldMLP with its defaults (5 blocks × 100, GELU,
 * LayerNorm, skip connections):
 *
 *   h₀    = GELU(W_m [GELU(W_u u + b_u), GELU(W_c c + b_c)] + b_m)
 *   τ     = W_t e(t) + b_t                        e: SinusoidalTimeEmbedding (fixed), one projection for all blocks
 *   h_k+1 = LayerNorm_k(GELU(W_k h_k + b_k) + τ + h_k),   k = 0 … B−1
 *   out   = W_o h_B + b_o                         W_o starts at 0, so F starts constant (the estimator's Gaussian
 *                                                 baseline is then its whole initial answer)
 *
 * All layers are osbi::nn layers bound to slices of one flat parameter buffer (parameters(), gradients(): what an
 * optimizer steps and an MPI allreduce averages). forward keeps what backward needs; backward(space, grad_out,
 * grad_u, mode, grad_c) ACCUMULATES parameter gradients (mode accumulate) and OVERWRITES grad_u and grad_c (each
 * skipped when empty; grad_c is what an embedding network in front back-propagates).
 */
template <class Scalar, class ExecutionSpace>
class VectorFieldNetwork {
  using Space = ExecutionSpace;
  using GeluDense = nn::DenseLayer<Scalar, Space, nn::init::TorchDefault, nn::activation::GELU>;
  using Linear = nn::DenseLayer<Scalar, Space>;
  using Buffer = nn::detail::BatchBuffer<Scalar, Space>;

public:
  using Norm = nn::LayerNormLayer<Scalar, Space>;
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  VectorFieldNetwork(std::size_t input_dim, std::size_t context_dim, const VectorFieldNetworkOptions& options = {})
      : m_input_dim(check_dim(input_dim, "input_dim")), m_context_dim(check_dim(context_dim, "context_dim")),
        m_hidden(check_dim(options.hidden, "options.hidden")), m_embedding(options.time),
        m_input_layer(input_dim, options.hidden), m_context_layer(context_dim, options.hidden),
        m_merge_layer(2 * options.hidden, options.hidden), m_time_layer(m_embedding.features(), options.hidden),
        m_output_layer(options.hidden, input_dim) {
    require(options.blocks > 0, part, "options.blocks must be > 0");
    for (std::size_t k = 0; k < options.blocks; ++k) {
      m_blocks.emplace_back(options.hidden, options.hidden);
      m_norms.emplace_back(options.hidden);
    }
    const std::string prefix = std::string(part) + "::";
    m_input_out = Buffer(prefix + "input", m_hidden);
    m_context_out = Buffer(prefix + "context", m_hidden);
    m_merged_in = Buffer(prefix + "merge_input", 2 * m_hidden);
    m_time_features = Buffer(prefix + "time_features", m_embedding.features());
    m_time_out = Buffer(prefix + "time", m_hidden);
    for (std::size_t k = 0; k <= options.blocks; ++k) m_hidden_states.emplace_back(prefix + "h", m_hidden);
    for (std::size_t k = 0; k < options.blocks; ++k) {
      m_block_out.emplace_back(prefix + "block", m_hidden);
      m_block_sum.emplace_back(prefix + "block_sum", m_hidden);
    }
    m_grad_hidden = Buffer(prefix + "grad_h", m_hidden);
    m_grad_sum = Buffer(prefix + "grad_sum", m_hidden);
    m_grad_block = Buffer(prefix + "grad_block", m_hidden);
    m_grad_time = Buffer(prefix + "grad_time", m_hidden);
    m_grad_merged = Buffer(prefix + "grad_merge_input", 2 * m_hidden);
    m_grad_half = Buffer(prefix + "grad_half", m_hidden);
    m_merge_bias = Buffer(prefix + "shared_merge_bias", m_hidden);
    m_shared_time = Vector<Scalar, Space>(label("vector_field", "VectorFieldNetwork", "shared_time"), 1);

    std::size_t count = 0;
    for_each_layer([&](auto& layer) { count += layer.parameter_count(); });
    m_parameters = Vector<Scalar, Space>(label("vector_field", "VectorFieldNetwork", "parameters"), count);
    m_gradients = Vector<Scalar, Space>(label("vector_field", "VectorFieldNetwork", "gradients"), count);
    bind(m_gradients);
    initialize(Space(), options.seed);
  }

  // The layers hold views into this object's buffers: a copy would share them, a move would leave them dangling
  // on the source's layers only, which is safe, but neither is what a user means; estimators own one network.
  VectorFieldNetwork(const VectorFieldNetwork&) = delete;
  VectorFieldNetwork& operator=(const VectorFieldNetwork&) = delete;
  VectorFieldNetwork(VectorFieldNetwork&&) = default;
  VectorFieldNetwork& operator=(VectorFieldNetwork&&) = default;

  std::size_t input_dim() const { return m_input_dim; }
  std::size_t context_dim() const { return m_context_dim; }
  std::size_t hidden() const { return m_hidden; }
  std::size_t blocks() const { return m_blocks.size(); }
  std::size_t parameter_count() const { return m_parameters.extent(0); }

  /// Moves the parameters into `parameters` (same size; their current values are copied over) and binds the
  /// gradients to `gradients`: an owner that keeps more state in one flat buffer (an estimator's Gaussian baseline)
  /// hands the network its slice. The owner keeps the storage alive.
  void adopt_storage(const Vector<Scalar, Space>& parameters, const Vector<Scalar, Space>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "adopt_storage: the parameter slice's size");
    require_extent(gradients.extent(0), parameter_count(), part, "adopt_storage: the gradient slice's size");
    Kokkos::deep_copy(parameters, m_parameters);
    Kokkos::deep_copy(gradients, m_gradients);
    m_parameters = parameters;
    m_gradients = gradients;
    bind(m_gradients);
  }
  Vector<Scalar, Space> parameters() const { return m_parameters; }
  Vector<Scalar, Space> gradients() const { return m_gradients; }

  /// Fresh parameters from `seed` (every layer PyTorch's default, LayerNorm gain 1 / bias 0, W_o = 0, b_o = 0).
  void initialize(const Space& space, std::uint64_t seed) {
    RandomStream stream(seed, 1);
    const BatchRandom rng = stream.next();
    std::uint32_t index = 0;
    for_each_layer([&](auto& layer) { layer.initialize(space, rng.split(index++)); });
    Kokkos::deep_copy(space, m_output_layer.weight(), Scalar(0));
    Kokkos::deep_copy(space, m_output_layer.bias(), Scalar(0));
    space.fence();
  }

  /// out (N × input_dim) = F(u, c, t); u N × input_dim, c N × context_dim, time N.
  void forward(const Space& space, const ConstMatrix<Scalar, Space>& u, const ConstMatrix<Scalar, Space>& c,
               const ConstVector<Scalar, Space>& time, const Matrix<Scalar, Space>& out) {
    const std::size_t n = u.extent(0);
    check_rows("forward", u, c, time, out);
    m_batch = n;
    m_has_forward = true;
    const auto input_out = m_input_out.rows(n), context_out = m_context_out.rows(n), merged = m_merged_in.rows(n);
    m_input_layer.forward(space, u, input_out);
    m_context_layer.forward(space, c, context_out);
    concatenate(space, input_out, context_out, merged);
    const auto h0 = m_hidden_states[0].rows(n);
    m_merge_layer.forward(space, merged, h0);
    const auto features = m_time_features.rows(n), tau = m_time_out.rows(n);
    m_embedding.forward(space, time, features);
    m_time_layer.forward(space, features, tau);
    for (std::size_t k = 0; k < m_blocks.size(); ++k) {
      const auto h = m_hidden_states[k].rows(n), a = m_block_out[k].rows(n), sum = m_block_sum[k].rows(n);
      m_blocks[k].forward(space, h, a);
      add_three(space, a, tau, h, sum);
      m_norms[k].forward(space, sum, m_hidden_states[k + 1].rows(n));
    }
    m_output_layer.forward(space, m_hidden_states.back().rows(n), out);
  }

  /// out (N × input_dim) = F(u, c, t) for N rows that share one context row c_one (1 × context_dim) and one time t:
  /// what sampling for one observation evaluates at every solver stage. The same function as forward() with c and t
  /// broadcast, but the context branch, the context half of the merge layer (folded into its bias) and the time
  /// projection run once per call instead of once per row, and every activation is fused into its product. Nothing
  /// is kept for a backward pass (backward() throws until the next forward()). Rounding differs from forward() by
  /// float ulps: the merge layer's sum over [input | context] is formed as two partial sums.
  void forward_shared(const Space& space, const ConstMatrix<Scalar, Space>& u, const ConstMatrix<Scalar, Space>& c_one,
                      double t, const Matrix<Scalar, Space>& out) {
    const std::size_t n = u.extent(0), h = m_hidden;
    require_extent(u.extent(1), m_input_dim, part, "forward_shared: u's column count (input_dim)");
    require_extent(c_one.extent(0), 1, part, "forward_shared: c_one's row count (one shared context row)");
    require_extent(c_one.extent(1), m_context_dim, part, "forward_shared: c_one's column count (context_dim)");
    require_extent(out.extent(0), n, part, "forward_shared: out's row count (u's row count)");
    require_extent(out.extent(1), m_input_dim, part, "forward_shared: out's column count (input_dim)");
    require(std::isfinite(t), part, "forward_shared: the time t = ", t, " must be finite");
    m_has_forward = false;
    if (n == 0) return;
    using nn::kernels::operand;
    using nn::kernels::epilogue::BiasActivation;
    // Once per call: GELU(W_c c + b_c), the merge bias b_m + W_m[:, H:]·that, and τ(t).
    const auto context_out = m_context_out.rows(1), merge_bias = m_merge_bias.rows(1);
    nn::kernels::dense_forward<nn::activation::GELU>(space, c_one, m_context_layer.weight(), m_context_layer.bias(),
                                                     context_out, m_workspace);
    const auto merge_weight = m_merge_layer.weight();
    const auto input_half = Kokkos::subview(merge_weight, Kokkos::ALL, std::make_pair(std::size_t{0}, h));
    const auto context_half = Kokkos::subview(merge_weight, Kokkos::ALL, std::make_pair(h, 2 * h));
    nn::kernels::gemm(space, 1, h, h, operand(context_out), operand(context_half).transposed(), merge_bias.data(),
                      static_cast<std::ptrdiff_t>(h),
                      BiasActivation<Scalar, nn::activation::Identity>{m_merge_layer.bias().data()}, m_workspace);
    Kokkos::deep_copy(space, m_shared_time, static_cast<Scalar>(t));
    const auto features = m_time_features.rows(1), tau = m_time_out.rows(1);
    m_embedding.forward(space, m_shared_time, features);
    nn::kernels::dense_forward(space, features, m_time_layer.weight(), m_time_layer.bias(), tau, m_workspace);
    // Per row, in chunks on a host: a chunk's activations stay in L2 from one layer to the next instead of streaming
    // through memory between them (10 000 draws of two_moons: 13 % more FMPE draws/s, 19 % NPSE, one thread).
    const std::size_t chunk = chunk_rows(n);
    for (std::size_t first = 0; first < n; first += chunk) {
      const auto rows = std::make_pair(first, std::min(n, first + chunk));
      forward_shared_rows(space, Kokkos::subview(u, rows, Kokkos::ALL), input_half, merge_bias, tau,
                          Kokkos::subview(out, rows, Kokkos::ALL));
    }
  }

  /// out (N × input_dim) = F(u, c, t) as forward() computes it, bit for bit on a host, for evaluation alone (a
  /// validation loss, field evaluations with per-row contexts): nothing is kept for a backward pass (backward()
  /// throws until the next forward()), every activation is fused into its product instead of a pass that also forms
  /// its derivative, and on a host the rows go in chunks whose activations stay in L2 (forward() keeps each layer's
  /// whole batch for the backward pass: FMPE's validation, 32 draws × 1 000 rows, cost more than its training epoch).
  void evaluate(const Space& space, const ConstMatrix<Scalar, Space>& u, const ConstMatrix<Scalar, Space>& c,
                const ConstVector<Scalar, Space>& time, const Matrix<Scalar, Space>& out) {
    const std::size_t n = u.extent(0);
    check_rows("evaluate", u, c, time, out);
    m_has_forward = false;
    if (n == 0) return;
    const std::size_t chunk = chunk_rows(n);
    for (std::size_t first = 0; first < n; first += chunk) {
      const auto rows = std::make_pair(first, std::min(n, first + chunk));
      evaluate_rows(space, Kokkos::subview(u, rows, Kokkos::ALL), Kokkos::subview(c, rows, Kokkos::ALL),
                    Kokkos::subview(time, rows), Kokkos::subview(out, rows, Kokkos::ALL));
    }
  }

  /// Backward of the last forward (see the class comment); grad_c (N × context_dim, skipped when empty) is
  /// OVERWRITTEN with the context gradient.
  void backward(const Space& space, const ConstMatrix<Scalar, Space>& grad_out, const Matrix<Scalar, Space>& grad_u,
                ParameterGradients mode = ParameterGradients::accumulate,
                const Matrix<Scalar, Space>& grad_c = Matrix<Scalar, Space>()) {
    require(m_has_forward, part, "backward called before any forward");
    const std::size_t n = m_batch;
    require_extent(grad_out.extent(0), n, part, "backward: grad_out's row count (the last forward's batch)");
    require_extent(grad_out.extent(1), m_input_dim, part, "backward: grad_out's column count (input_dim)");
    if (grad_u.data()) {
      require_extent(grad_u.extent(0), n, part, "backward: grad_u's row count (the last forward's batch)");
      require_extent(grad_u.extent(1), m_input_dim, part, "backward: grad_u's column count (input_dim)");
    }
    if (grad_c.data()) {
      require_extent(grad_c.extent(0), n, part, "backward: grad_c's row count (the last forward's batch)");
      require_extent(grad_c.extent(1), m_context_dim, part, "backward: grad_c's column count (context_dim)");
    }
    if (mode == ParameterGradients::discard) {
      if (m_scratch_gradients.extent(0) != m_gradients.extent(0))
        m_scratch_gradients = Vector<Scalar, Space>(label("vector_field", "VectorFieldNetwork", "scratch_gradients"),
                                                    m_gradients.extent(0));
      bind(m_scratch_gradients);
    }
    const auto grad_h = m_grad_hidden.rows(n), grad_sum = m_grad_sum.rows(n), grad_block = m_grad_block.rows(n),
               grad_tau = m_grad_time.rows(n);
    m_output_layer.backward(space, grad_out, grad_h);
    for (std::size_t k = m_blocks.size(); k-- > 0;) {
      m_norms[k].backward(space, grad_h, grad_sum);
      if (k + 1 == m_blocks.size()) Kokkos::deep_copy(space, grad_tau, grad_sum);
      else add_into(space, grad_sum, grad_tau);
      m_blocks[k].backward(space, grad_sum, grad_block);
      add_two(space, grad_block, grad_sum, grad_h); // the skip connection
    }
    m_time_layer.backward(space, grad_tau, Matrix<Scalar, Space>());
    const auto grad_merged = m_grad_merged.rows(n), grad_half = m_grad_half.rows(n);
    m_merge_layer.backward(space, grad_h, grad_merged);
    split_half(space, grad_merged, 0, grad_half);
    m_input_layer.backward(space, grad_half, grad_u);
    if (mode == ParameterGradients::accumulate || grad_c.data()) {
      split_half(space, grad_merged, m_hidden, grad_half);
      m_context_layer.backward(space, grad_half, grad_c);
    }
    if (mode == ParameterGradients::discard) bind(m_gradients);
  }

  // Implementation below, public only because nvcc's extended lambdas cannot live in private members. The views are
  // BatchBuffer rows (contiguous, row stride = columns): on the host each row is a loop over restrict-qualified
  // pointers, which vectorizes (an MDRange over views does not); on a device one thread per entry.
  template <class Operation>
  static void for_each_entry(const Space& space, const char* kernel_label, std::size_t rows, std::size_t columns,
                             const Operation& operation) {
    if (rows == 0 || columns == 0) return;
    if constexpr (nn::detail::host_space<Space>) {
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<Space>(space, 0, rows),
                           KOKKOS_LAMBDA(const std::size_t i) { operation.row(i, columns); });
    } else {
      Kokkos::parallel_for(kernel_label, Kokkos::RangePolicy<Space>(space, 0, rows * columns),
                           KOKKOS_LAMBDA(const std::size_t k) { operation.entry(k / columns, k % columns, columns); });
    }
  }

  /// out = [left | right] (N × 2H) and its adjoint (the half of `in` at `offset` into out).
  struct Concatenate {
    const Scalar *left, *right;
    Scalar* out;
    KOKKOS_INLINE_FUNCTION void row(std::size_t i, std::size_t width) const {
      const Scalar* __restrict__ a = left + i * width;
      const Scalar* __restrict__ b = right + i * width;
      Scalar* __restrict__ o = out + 2 * i * width;
      for (std::size_t j = 0; j < width; ++j) o[j] = a[j];
      for (std::size_t j = 0; j < width; ++j) o[width + j] = b[j];
    }
    KOKKOS_INLINE_FUNCTION void entry(std::size_t i, std::size_t j, std::size_t width) const {
      out[2 * i * width + j] = left[i * width + j];
      out[2 * i * width + width + j] = right[i * width + j];
    }
  };
  struct SplitHalf {
    const Scalar* in;
    Scalar* out;
    std::size_t offset;
    KOKKOS_INLINE_FUNCTION void row(std::size_t i, std::size_t width) const {
      const Scalar* __restrict__ a = in + 2 * i * width + offset;
      Scalar* __restrict__ o = out + i * width;
      for (std::size_t j = 0; j < width; ++j) o[j] = a[j];
    }
    KOKKOS_INLINE_FUNCTION void entry(std::size_t i, std::size_t j, std::size_t width) const {
      out[i * width + j] = in[2 * i * width + offset + j];
    }
  };
  /// out = a + b (+ c when c is not null): the block sum and the skip connection's gradient; out may not alias. b's
  /// rows are b_row_stride apart: the width, or 0 for one row shared by all (forward_shared's τ).
  struct Sum {
    const Scalar *a, *b, *c;
    Scalar* out;
    std::size_t b_row_stride;
    KOKKOS_INLINE_FUNCTION void row(std::size_t i, std::size_t width) const {
      const Scalar* __restrict__ x = a + i * width;
      const Scalar* __restrict__ y = b + i * b_row_stride;
      Scalar* __restrict__ o = out + i * width;
      if (c) {
        const Scalar* __restrict__ z = c + i * width;
        for (std::size_t j = 0; j < width; ++j) o[j] = x[j] + y[j] + z[j];
      } else {
        for (std::size_t j = 0; j < width; ++j) o[j] = x[j] + y[j];
      }
    }
    KOKKOS_INLINE_FUNCTION void entry(std::size_t i, std::size_t j, std::size_t width) const {
      const std::size_t k = i * width + j;
      out[k] = a[k] + b[i * b_row_stride + j] + (c ? c[k] : Scalar(0));
    }
  };
  /// out += a.
  struct AddInto {
    const Scalar* a;
    Scalar* out;
    KOKKOS_INLINE_FUNCTION void row(std::size_t i, std::size_t width) const {
      const Scalar* __restrict__ x = a + i * width;
      Scalar* __restrict__ o = out + i * width;
      for (std::size_t j = 0; j < width; ++j) o[j] += x[j];
    }
    KOKKOS_INLINE_FUNCTION void entry(std::size_t i, std::size_t j, std::size_t width) const {
      out[i * width + j] += a[i * width + j];
    }
  };

  static void concatenate(const Space& space, const ConstMatrix<Scalar, Space>& left,
                          const ConstMatrix<Scalar, Space>& right, const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::concatenate", out.extent(0), left.extent(1),
                   Concatenate{left.data(), right.data(), out.data()});
  }
  static void split_half(const Space& space, const ConstMatrix<Scalar, Space>& in, std::size_t offset,
                         const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::split", out.extent(0), out.extent(1),
                   SplitHalf{in.data(), out.data(), offset});
  }
  static void add_three(const Space& space, const ConstMatrix<Scalar, Space>& a, const ConstMatrix<Scalar, Space>& b,
                        const ConstMatrix<Scalar, Space>& c, const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::block_sum", out.extent(0), out.extent(1),
                   Sum{a.data(), b.data(), c.data(), out.data(), out.extent(1)});
  }
  static void add_shared_time(const Space& space, const ConstMatrix<Scalar, Space>& a,
                              const ConstMatrix<Scalar, Space>& tau_one, const ConstMatrix<Scalar, Space>& c,
                              const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::block_sum_shared_time", out.extent(0),
                   out.extent(1), Sum{a.data(), tau_one.data(), c.data(), out.data(), 0});
  }
  /// next = norm(a + τ + c) for forward_shared (τ one row shared by all: tau_stride 0) and evaluate (a row of τ per
  /// row: tau_stride = the width). Host: four rows at a time, each row's sum staying in L1 for its statistics and its
  /// normalization; the arithmetic and its order are add_three's (add_shared_time's) followed by
  /// LayerNormLayer::forward's host path (rowwise.hpp), so the bits are too. Devices: those two.
  static void add_time_and_normalize(const Space& space, const ConstMatrix<Scalar, Space>& a,
                                     const ConstMatrix<Scalar, Space>& tau, std::size_t tau_stride,
                                     const ConstMatrix<Scalar, Space>& c, Norm& norm, const Matrix<Scalar, Space>& sum,
                                     const Matrix<Scalar, Space>& next) {
    if constexpr (nn::detail::host_space<Space>) {
      namespace rowwise = nn::kernels::detail;
      using Accumulate = nn::kernels::accumulation_t<Scalar>;
      const std::size_t rows = a.extent(0), columns = a.extent(1);
      if (rows == 0) return;
      const Accumulate inverse_count = Accumulate(1) / static_cast<Accumulate>(columns);
      const Accumulate epsilon = static_cast<Accumulate>(norm.epsilon());
      const Scalar *a_data = a.data(), *tau_data = tau.data(), *c_data = c.data(), *gain = norm.gain().data(),
                   *bias = norm.bias().data();
      Scalar *sum_data = sum.data(), *next_data = next.data();
      constexpr std::size_t block = rowwise::host_norm_rows;
      Kokkos::parallel_for(
          "osbi::vector_field::VectorFieldNetwork::block_sum_and_layer_norm",
          Kokkos::RangePolicy<Space>(space, 0, (rows + block - 1) / block), KOKKOS_LAMBDA(const std::size_t b) {
            const std::size_t first = b * block, count = rows - first < block ? rows - first : block;
            const Scalar* row_sums[block];
            for (std::size_t r = 0; r < block; ++r) {
              const std::size_t row = rowwise::block_row(first, count, r);
              if (r < count) Sum{a_data, tau_data, c_data, sum_data, tau_stride}.row(row, columns);
              row_sums[r] = sum_data + row * columns;
            }
            Accumulate mean[block], inv_std[block];
            rowwise::host_block_layer_norm_statistics(row_sums, columns, inverse_count, epsilon, mean, inv_std);
            for (std::size_t r = 0; r < count; ++r)
              rowwise::host_layer_norm_row(row_sums[r], next_data + (first + r) * columns, columns,
                                           rowwise::normalize_by<Scalar>(mean[r], inv_std[r]), gain, bias);
          });
    } else {
      if (tau_stride == 0) add_shared_time(space, a, tau, c, sum);
      else add_three(space, a, tau, c, sum);
      norm.forward(space, sum, next);
    }
  }
  static void add_two(const Space& space, const ConstMatrix<Scalar, Space>& a, const ConstMatrix<Scalar, Space>& b,
                      const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::skip_gradient", out.extent(0), out.extent(1),
                   Sum{a.data(), b.data(), nullptr, out.data(), out.extent(1)});
  }
  static void add_into(const Space& space, const ConstMatrix<Scalar, Space>& a, const Matrix<Scalar, Space>& out) {
    for_each_entry(space, "osbi::vector_field::VectorFieldNetwork::time_gradient", out.extent(0), out.extent(1),
                   AddInto{a.data(), out.data()});
  }

private:
  static constexpr const char* part = "osbi::VectorFieldNetwork";
  /// forward_shared's and evaluate's chunk: rows whose hidden activations take this many bytes per buffer (512 float
  /// rows of 100).
  static constexpr std::size_t host_chunk_bytes = 200 * 1024;

  /// forward_shared's per-row part for the rows of u and out, given the per-call merge bias and τ.
  template <class WeightHalf>
  void forward_shared_rows(const Space& space, const ConstMatrix<Scalar, Space>& u, const WeightHalf& input_half,
                           const ConstMatrix<Scalar, Space>& merge_bias, const ConstMatrix<Scalar, Space>& tau,
                           const Matrix<Scalar, Space>& out) {
    using nn::kernels::operand;
    using nn::kernels::epilogue::BiasActivation;
    const std::size_t n = u.extent(0), h = m_hidden;
    const auto input_out = m_input_out.rows(n), h0 = m_hidden_states[0].rows(n);
    nn::kernels::dense_forward<nn::activation::GELU>(space, u, m_input_layer.weight(), m_input_layer.bias(), input_out,
                                                     m_workspace);
    nn::kernels::gemm(space, n, h, h, operand(input_out), operand(input_half).transposed(), h0.data(),
                      static_cast<std::ptrdiff_t>(h), BiasActivation<Scalar, nn::activation::GELU>{merge_bias.data()},
                      m_workspace);
    blocks_and_output(space, n, tau, 0, out);
  }

  /// The evaluation-only passes' common end, from h₀ (in m_hidden_states[0]) for n rows: the residual blocks with
  /// their activations fused and each block's sum and norm in one pass, then the output layer. τ is one row shared
  /// by all (tau_stride 0, forward_shared) or a row per row (tau_stride = the width, evaluate).
  void blocks_and_output(const Space& space, std::size_t n, const ConstMatrix<Scalar, Space>& tau, std::size_t tau_stride,
                         const Matrix<Scalar, Space>& out) {
    for (std::size_t k = 0; k < m_blocks.size(); ++k) {
      const auto state = m_hidden_states[k].rows(n), a = m_block_out[k].rows(n), sum = m_block_sum[k].rows(n);
      nn::kernels::dense_forward<nn::activation::GELU>(space, state, m_blocks[k].weight(), m_blocks[k].bias(), a,
                                                       m_workspace);
      add_time_and_normalize(space, a, tau, tau_stride, state, m_norms[k], sum, m_hidden_states[k + 1].rows(n));
    }
    nn::kernels::dense_forward(space, m_hidden_states.back().rows(n), m_output_layer.weight(), m_output_layer.bias(),
                               out, m_workspace);
  }

  /// forward's and evaluate's shape checks; `step` names the caller in the errors.
  void check_rows(const char* step, const ConstMatrix<Scalar, Space>& u, const ConstMatrix<Scalar, Space>& c,
                  const ConstVector<Scalar, Space>& time, const Matrix<Scalar, Space>& out) const {
    const std::size_t n = u.extent(0);
    const std::string name(step);
    require_extent(u.extent(1), m_input_dim, part, name + ": u's column count (input_dim)");
    require_extent(c.extent(1), m_context_dim, part, name + ": c's column count (context_dim)");
    require_extent(c.extent(0), n, part, name + ": c's row count (u's row count)");
    require_extent(time.extent(0), n, part, name + ": time's size (u's row count)");
    require_extent(out.extent(0), n, part, name + ": out's row count (u's row count)");
    require_extent(out.extent(1), m_input_dim, part, name + ": out's column count (input_dim)");
  }

  /// The rows forward_shared and evaluate take per chunk: host_chunk_bytes of activations per buffer on a host (at
  /// least 64 rows), all n on a device (where a launch's rows are its parallelism).
  std::size_t chunk_rows(std::size_t n) const {
    std::size_t rows = n;
    if constexpr (nn::detail::host_space<Space>) rows = std::max<std::size_t>(64, host_chunk_bytes / (m_hidden * sizeof(Scalar)));
    return rows;
  }

  /// evaluate's part for the rows of u, c, time and out: forward()'s layers with the activations fused into their
  /// products, the input and context branches written straight into the two halves of the merge layer's input.
  void evaluate_rows(const Space& space, const ConstMatrix<Scalar, Space>& u, const ConstMatrix<Scalar, Space>& c,
                     const ConstVector<Scalar, Space>& time, const Matrix<Scalar, Space>& out) {
    using nn::kernels::operand;
    using nn::kernels::epilogue::BiasActivation;
    using GeluBias = BiasActivation<Scalar, nn::activation::GELU>;
    const std::size_t n = u.extent(0), h = m_hidden;
    const auto merged = m_merged_in.rows(n), h0 = m_hidden_states[0].rows(n);
    const auto merged_row_stride = static_cast<std::ptrdiff_t>(2 * h);
    nn::kernels::gemm(space, n, h, m_input_dim, operand(u), operand(m_input_layer.weight()).transposed(), merged.data(),
                      merged_row_stride, GeluBias{m_input_layer.bias().data()}, m_workspace);
    nn::kernels::gemm(space, n, h, m_context_dim, operand(c), operand(m_context_layer.weight()).transposed(),
                      merged.data() + h, merged_row_stride, GeluBias{m_context_layer.bias().data()}, m_workspace);
    nn::kernels::dense_forward<nn::activation::GELU>(space, merged, m_merge_layer.weight(), m_merge_layer.bias(), h0,
                                                     m_workspace);
    const auto features = m_time_features.rows(n), tau = m_time_out.rows(n);
    m_embedding.forward(space, time, features);
    nn::kernels::dense_forward(space, features, m_time_layer.weight(), m_time_layer.bias(), tau, m_workspace);
    blocks_and_output(space, n, tau, h, out);
  }

  static std::size_t check_dim(std::size_t value, const char* name) {
    require(value > 0, part, name, " must be > 0");
    return value;
  }

  template <class Function>
  void for_each_layer(Function&& function) {
    function(m_input_layer);
    function(m_context_layer);
    function(m_merge_layer);
    function(m_time_layer);
    for (std::size_t k = 0; k < m_blocks.size(); ++k) {
      function(m_blocks[k]);
      function(m_norms[k]);
    }
    function(m_output_layer);
  }

  /// Binds every layer to its slice of m_parameters and of `gradients` (unmanaged views: the buffers outlive them).
  void bind(const Vector<Scalar, Space>& gradients) {
    std::size_t offset = 0;
    for_each_layer([&](auto& layer) {
      const std::size_t count = layer.parameter_count();
      layer.bind(Vector<Scalar, Space>(m_parameters.data() + offset, count),
                 Vector<Scalar, Space>(gradients.data() + offset, count));
      offset += count;
    });
  }

  std::size_t m_input_dim, m_context_dim, m_hidden;
  SinusoidalTimeEmbedding<Scalar, Space> m_embedding;
  GeluDense m_input_layer, m_context_layer, m_merge_layer;
  Linear m_time_layer;
  std::vector<GeluDense> m_blocks;
  std::vector<Norm> m_norms;
  Linear m_output_layer;
  Vector<Scalar, Space> m_parameters, m_gradients, m_scratch_gradients;
  Buffer m_input_out, m_context_out, m_merged_in, m_time_features, m_time_out;
  std::vector<Buffer> m_hidden_states, m_block_out, m_block_sum;
  Buffer m_grad_hidden, m_grad_sum, m_grad_block, m_grad_time, m_grad_merged, m_grad_half;
  // forward_shared's own state: the folded merge bias, the shared time, and a workspace for its products.
  Buffer m_merge_bias;
  Vector<Scalar, Space> m_shared_time;
  nn::kernels::GemmWorkspace<Scalar, Space> m_workspace;
  std::size_t m_batch = 0;
  bool m_has_forward = false;
};

} // namespace osbi
