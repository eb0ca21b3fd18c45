// SPDX-License-Identifier: BSD-3-Clause
/// \brief AutoregressiveFlow<Transform>: a masked autoregressive flow q(θ | x) with one elementwise transform per
/// dimension (affine: ConditionalMAF, rational-quadratic spline: ConditionalNSF); models ConditionalDensity.
#pragma once

#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/detail/made_stack.hpp>
#include <osbi/flow/detail/nll_backward.hpp>
#include <osbi/flow/detail/standardization.hpp>
#include <osbi/flow/elementwise_transform.hpp>
#include <osbi/flow/made.hpp>

#include <osbi/nn/detail/layer_support.hpp>

#include <osbi/estimator/conditional_density.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osbi {

/// The architecture every AutoregressiveFlow shares (MAFOptions and NSFOptions extend it); the defaults are sbi's
/// (5 transforms, 2 blocks of 50 hidden units). `seed` fixes the initial parameters and the permutations.
struct AutoregressiveOptions {
  std::size_t transforms = 5;
  std::size_t hidden = 50;
  std::size_t blocks = 2;
  std::uint64_t seed = 0;
};

/*
 * AutoregressiveFlow<Transform, Scalar, ExecutionSpace> — q(θ | x) as sbi's masked autoregressive estimators build
 * it (nflows' MaskedAffineAutoregressiveTransform for "maf", MaskedPiecewiseRationalQuadraticAutoregressiveTransform
 * with linear tails for "maf_rqs"), with τ the Transform's elementwise map (flow/elementwise_transform.hpp):
 *
 *   c   = (x − x_mean) / x_std                                    the embedding (fixed z-scoring)
 *   y₀  = (θ − θ_mean) / θ_std                                    an affine transform of the flow
 *   for k = 0 … T−1:   p = MADE_k(y_k, c) (N × P·D, ConditionalMADE in made.hpp, P = τ's parameter count)
 *                      z_j, ℓ_j = τ(y_{k,j}; p_{P·j … P·j+P−1})
 *                      y_{k+1, j} = z_{π_k(j)}                     (a fixed random permutation)
 *   log q(θ | x) = log N(y_T; 0, I) + Σ_k Σ_j ℓ_{k,j} − Σ_j log θ_std_j
 *
 * Each MADE makes τ of dimension j depend on y_{<j} only, so every transform has a triangular Jacobian. As in
 * nflows' MADE, τ of position 0 is the output bias alone, independent of the context too (bayesiains/nflows#85); the
 * permutations are drawn so that every dimension reaches a later position in some transform
 * (detail::flow_permutations: Fisher–Yates on a Philox stream, redrawn otherwise), so every q(θ_j | ·) depends on x.
 * Sampling draws u ~ N(0, I) (row i from rng.row(i), D normals in column order) and inverts the transforms in
 * reverse: undo π_k, then D passes of y ← τ⁻¹(v; MADE_k(y, c)) from y = 0 (pass d fixes dimension d), then
 * θ = y·θ_std + θ_mean.
 *
 * Parameters: one flat buffer, [MADE 0 | MADE 1 | …] (each laid out as ConditionalMADE says), initialized and
 * permuted from options.seed on the Transform's own streams, so they are the same on every backend.
 * Standardization defaults to the identity; set it from the training data with set_standardization (sbi z-scores
 * both θ and x by default). nll_backward (weighted, with optional θ and x gradients) needs a batch of at least one
 * row (InvalidArgument otherwise); sample with n = 0 draws nothing. Errors name Transform::part, the flow's C++ name
 * (e.g. "osbi::ConditionalMAF"); views and kernels are labelled "osbi::flow::ConditionalMAF::<step>". Buffers grow with the largest batch seen. The MADEs are bound to slices of
 * this object's buffers: a copy would share them, so the flow moves only.
 */
template <class Transform, class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class AutoregressiveFlow {
  static_assert(ElementwiseTransform<Transform, Scalar>,
                "osbi::AutoregressiveFlow: Transform does not model ElementwiseTransform (see "
                "osbi/flow/elementwise_transform.hpp)");

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using transform_family = Transform;
  using options_type = typename Transform::options_type;
  using transform_type = decltype(Transform::template elementwise<Scalar>(std::declval<const options_type&>()));
  using made_type = ConditionalMADE<Scalar, ExecutionSpace>;

  AutoregressiveFlow(std::size_t theta_dim, std::size_t context_dim, const options_type& options = {})
      : m_theta_dim(detail::require_positive(part, theta_dim, "theta_dim")),
        m_context_dim(detail::require_positive(part, context_dim, "context_dim")), m_options(options),
        m_transform(Transform::template elementwise<Scalar>(options)), m_outputs(m_transform.parameter_count()),
        m_stack(part, {.theta_dim = theta_dim,
                       .context_dim = context_dim,
                       .transforms = detail::require_positive(part, options.transforms, "options.transforms"),
                       .hidden = detail::require_positive(part, options.hidden, "options.hidden"),
                       .blocks = options.blocks,
                       .outputs_per_feature = m_outputs,
                       .seed = options.seed,
                       .init_stream = Transform::init_stream,
                       .permutation_stream = Transform::permutation_stream}),
        m_standardization(part, theta_dim, context_dim), m_context(view_label("context"), context_dim),
        m_log_det(view_label("log_det"), 1), m_transformed(view_label("transformed"), theta_dim),
        m_grad_y(view_label("grad_y"), theta_dim), m_grad_direct(view_label("grad_direct"), theta_dim),
        m_grad_made(view_label("grad_made"), theta_dim), m_grad_context(view_label("grad_context"), context_dim),
        m_grad_context_made(view_label("grad_context_made"), context_dim),
        m_grad_params(view_label("grad_params"), m_outputs * theta_dim),
        m_sample_state(view_label("sample_state"), theta_dim),
        m_sample_target(view_label("sample_target"), theta_dim) {
    for (std::size_t k = 0; k <= options.transforms; ++k)
      m_y.emplace_back(view_label("y_" + std::to_string(k)), theta_dim);
    if constexpr (saved_count > 0)
      for (std::size_t k = 0; k < options.transforms; ++k)
        m_saved.emplace_back(view_label("saved_" + std::to_string(k)), saved_count * theta_dim);
    m_made_params.resize(options.transforms);
  }

  AutoregressiveFlow(const AutoregressiveFlow&) = delete;
  AutoregressiveFlow& operator=(const AutoregressiveFlow&) = delete;
  AutoregressiveFlow(AutoregressiveFlow&&) = default;
  AutoregressiveFlow& operator=(AutoregressiveFlow&&) = default;

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t context_dim() const { return m_context_dim; }
  const options_type& options() const { return m_options; }
  std::size_t transforms() const { return m_stack.transforms(); }
  std::size_t parameter_count() const { return m_stack.parameter_count(); }
  /// The elementwise map of every dimension and transform.
  const transform_type& transform() const { return m_transform; }
  /// The same, by the name a spline flow's users know (ConditionalNSF: its logit scale is 1/√hidden).
  const transform_type& spline() const requires std::same_as<transform_type, RationalQuadraticSpline<Scalar>> {
    return m_transform;
  }

  Vector<Scalar, ExecutionSpace> parameters() const { return m_stack.parameters(); }
  Vector<Scalar, ExecutionSpace> gradients() const { return m_stack.gradients(); }
  void zero_gradients(const ExecutionSpace& space) { m_stack.zero_gradients(space); }

  /// Moves the parameters and gradients into caller-owned storage of parameter_count() entries each
  /// (e.g. slices of a larger model's buffers, as EmbeddedDensity does) and uses that from now on.
  void rebind(const Vector<Scalar, ExecutionSpace>& parameters, const Vector<Scalar, ExecutionSpace>& gradients) {
    m_stack.rebind(parameters, gradients);
  }

  /// The MADE of transform k (its parameters are a slice of parameters(); P outputs per dimension).
  made_type& made(std::size_t k) { return m_stack.made(k); }

  /// π_k on the host: after transform k, dimension j holds the transform's output π_k(j).
  std::vector<int> permutation(std::size_t k) const { return m_stack.permutation(k); }

  /// z-scoring: θ through an affine transform of the flow (its log-determinant −Σ log θ_std counts in
  /// log_prob), x as the embedding. Standard deviations must be finite and > 0 (the caller clamps,
  /// as sbi does with 1e-14), means finite; sizes theta_dim and context_dim.
  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    m_standardization.set(theta_mean, theta_std, x_mean, x_std);
  }

  /// out(i) = log q(θ_i | x_i).
  void log_prob(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const ConstMatrix<Scalar, ExecutionSpace>& x, const Vector<Scalar, ExecutionSpace>& out) {
    check_pairs("log_prob", theta, x);
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's size (theta's row count)");
    const std::size_t batch = theta.extent(0);
    if (batch == 0) return;
    forward_pass(space, theta, x);
    const ConstMatrix<Scalar, ExecutionSpace> y = m_y.back().rows(batch), log_det = m_log_det.rows(batch);
    const Vector<Scalar, ExecutionSpace> result = out;
    const std::size_t dim = m_theta_dim;
    const Scalar constant =
        static_cast<Scalar>(m_standardization.log_det() - 0.5 * static_cast<double>(dim) * log_two_pi);
    Kokkos::parallel_for(
        kernel_label("log_prob"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i) {
          Scalar squares = 0;
          for (std::size_t j = 0; j < dim; ++j)
            squares += y(i, j) * y(i, j);
          result(i) = constant - Scalar(0.5) * squares + log_det(i, 0);
        });
  }

  /// z(i) = the base-space point of θ_i given x_i (y_T above): sampling maps a base draw u to θ, and
  /// to_base maps that θ back to u (up to rounding).
  void to_base(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
               const ConstMatrix<Scalar, ExecutionSpace>& x, const Matrix<Scalar, ExecutionSpace>& z) {
    check_pairs("to_base", theta, x);
    require_extent(z.extent(0), theta.extent(0), part, "to_base: z's row count (theta's row count)");
    require_extent(z.extent(1), m_theta_dim, part, "to_base: z's column count (theta_dim)");
    if (theta.extent(0) == 0) return;
    forward_pass(space, theta, x);
    Kokkos::deep_copy(space, z, m_y.back().rows(theta.extent(0)));
  }

  /// L = (1/N) Σ_i w_i·(−log q(θ_i | x_i)) (estimator/conditional_density.hpp): ∂L/∂parameters ADDED to
  /// gradients(); grad_theta (N × theta_dim) and grad_x (N × context_dim) OVERWRITTEN with ∂L/∂θ and ∂L/∂x —
  /// what a transform or an embedding in front of the flow back-propagates — each skipped when empty. Empty
  /// weights are w_i = 1: the mean NLL (what osbi::nll_backward(flow, space, θ, x) computes).
  double nll_backward(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                      const ConstMatrix<Scalar, ExecutionSpace>& x, const ConstVector<Scalar, ExecutionSpace>& weights,
                      const Matrix<Scalar, ExecutionSpace>& grad_theta, const Matrix<Scalar, ExecutionSpace>& grad_x) {
    detail::check_nll_backward(part, m_theta_dim, m_context_dim, theta, x, weights, grad_theta, grad_x);
    const std::size_t batch = theta.extent(0);
    const bool weighted = weights.data() != nullptr;
    forward_pass(space, theta, x);
    const std::size_t dim = m_theta_dim;
    const ConstMatrix<Scalar, ExecutionSpace> y_last = m_y.back().rows(batch), log_det = m_log_det.rows(batch);
    if (m_weight.extent(0) < batch)
      m_weight = Vector<Scalar, ExecutionSpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, view_label("weight")),
                                                batch);
    // weight(i) = −w_i / N, the coefficient of log q_i in L (w_i·(−1/N): exactly −1/N for w_i = 1).
    const Vector<Scalar, ExecutionSpace> weight = Kokkos::subview(m_weight, std::make_pair(std::size_t{0}, batch));
    const Scalar minus_inverse_batch = Scalar(-1) / static_cast<Scalar>(batch);
    double sum = 0.0;
    Kokkos::parallel_reduce(
        kernel_label("nll"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i, double& partial) {
          const Scalar w = weighted ? weights(i) : Scalar(1);
          double squares = 0;
          for (std::size_t j = 0; j < dim; ++j) {
            const double value = static_cast<double>(y_last(i, j));
            squares += value * value;
          }
          partial += static_cast<double>(w) * (0.5 * squares - static_cast<double>(log_det(i, 0)));
          weight(i) = w * minus_inverse_batch;
        },
        sum);
    const double mean_weight = detail::mean_weight(space, part, weights);
    const double loss = sum / static_cast<double>(batch) + mean_weight * (0.5 * static_cast<double>(dim) * log_two_pi) -
                        mean_weight * m_standardization.log_det();
    backward_pass(space, batch, weight, grad_theta, grad_x);
    return loss;
  }

  /// One draw θ_i ~ q(· | x_i) per row of x into theta (row i uses rng.row(i) only).
  void sample(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
              const Matrix<Scalar, ExecutionSpace>& theta) {
    detail::check_flow_sample(part, m_theta_dim, m_context_dim, x, theta);
    const std::size_t batch = x.extent(0);
    if (batch == 0) return;
    embed(space, x, batch, false);
    invert(space, batch, rng, theta);
  }

  /// n draws θ ~ q(· | x_one) for one context (x_one: 1 × context_dim) into theta (n × theta_dim);
  /// n = 0 draws nothing.
  void sample(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x_one, std::size_t n,
              BatchRandom rng, const Matrix<Scalar, ExecutionSpace>& theta) {
    detail::check_flow_sample_one(part, m_theta_dim, m_context_dim, x_one, n, theta);
    if (n == 0) return;
    embed(space, x_one, n, true);
    invert(space, n, rng, theta);
  }

private:
  using Buffer = nn::detail::BatchBuffer<Scalar, ExecutionSpace>;
  static constexpr const char* part = Transform::part;
  static constexpr std::size_t saved_count = detail::saved_count_v<transform_type>;
  /// Whether the transform kernels run L rows at once through the transform's lane path (host spaces only).
  static constexpr bool lanes_on_host = Kokkos::SpaceAccessibility<ExecutionSpace, Kokkos::HostSpace>::accessible &&
                                        detail::EvaluatesLanes<transform_type, Scalar>;
  static constexpr double log_two_pi = 1.83787706640934548356;

  static std::string view_label(std::string_view step) { return detail::flow_label(part, step); }
  static std::string kernel_label(std::string_view step) { return view_label(step); }

  void check_pairs(const char* step, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                   const ConstMatrix<Scalar, ExecutionSpace>& x) const {
    detail::check_flow_pairs(part, step, m_theta_dim, m_context_dim, theta, x);
  }

  /// m_context.rows(rows) = (x − x_mean) / x_std; with `broadcast` every row uses x's row 0.
  void embed(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& x, std::size_t rows,
             bool broadcast) {
    m_standardization.embed(space, x, broadcast, m_context.rows(rows));
  }

  // The passes below are implementation, public only because nvcc's extended lambdas cannot live in
  // private member functions.
public:
  /// The density direction for a non-empty batch: fills m_y[0…T], m_log_det, m_made_params (and m_saved, for a
  /// transform that keeps values for its backward).
  void forward_pass(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                    const ConstMatrix<Scalar, ExecutionSpace>& x) {
    const std::size_t batch = theta.extent(0), dim = m_theta_dim, outputs = m_outputs;
    embed(space, x, batch, false);
    m_standardization.standardize(space, theta, m_y[0].rows(batch));
    const ConstMatrix<Scalar, ExecutionSpace> context = m_context.rows(batch);
    const Matrix<Scalar, ExecutionSpace> log_det = m_log_det.rows(batch), transformed = m_transformed.rows(batch);
    const transform_type transform = m_transform;
    for (std::size_t k = 0; k < m_stack.transforms(); ++k) {
      const ConstMatrix<Scalar, ExecutionSpace> y = m_y[k].rows(batch);
      const Matrix<Scalar, ExecutionSpace> next = m_y[k + 1].rows(batch);
      const ConstMatrix<Scalar, ExecutionSpace> params = m_stack[k].forward(space, y, context);
      m_made_params[k] = params;
      const auto permutation = m_stack.forward_permutation(k);
      const bool first = k == 0;
      const Matrix<Scalar, ExecutionSpace> saved = saved_rows(k, batch);
      if constexpr (lanes_on_host) {
        // L rows at once through the transform's lane path (a plain lambda: this branch exists on host spaces only).
        constexpr int L = detail::transform_lanes<Scalar>;
        Kokkos::parallel_for(
            kernel_label("transform"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, (batch + L - 1) / L),
            [=](const std::size_t group) {
              const std::size_t row0 = group * L;
              const int count = static_cast<int>(batch - row0 < std::size_t(L) ? batch - row0 : std::size_t(L));
              Scalar total[L], values[L], out[L], log_dets[L];
              const Scalar* parameters[L];
              for (int l = 0; l < count; ++l)
                total[l] = first ? Scalar(0) : log_det(row0 + l, 0);
              for (std::size_t m = 0; m < dim; ++m) {
                for (int l = 0; l < L; ++l) {
                  const std::size_t i = row0 + static_cast<std::size_t>(l < count ? l : 0);
                  values[l] = y(i, m);
                  parameters[l] = &params(i, outputs * m);
                }
                transform.template forward_lanes<L>(count, values, parameters, out, log_dets);
                for (int l = 0; l < count; ++l) {
                  transformed(row0 + l, m) = out[l];
                  total[l] += log_dets[l];
                }
              }
              for (int l = 0; l < count; ++l) {
                const std::size_t i = row0 + l;
                for (std::size_t j = 0; j < dim; ++j)
                  next(i, j) = transformed(i, static_cast<std::size_t>(permutation(j)));
                log_det(i, 0) = total[l];
              }
            });
        continue;
      }
      Kokkos::parallel_for(
          kernel_label("transform"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
          KOKKOS_LAMBDA(const std::size_t i) {
            Scalar total = first ? Scalar(0) : log_det(i, 0);
            for (std::size_t m = 0; m < dim; ++m) {
              const SplineValue<Scalar> result =
                  detail::forward_saving(transform, y(i, m), &params(i, outputs * m), saved_at(saved, i, m));
              transformed(i, m) = result.value;
              total += result.log_det;
            }
            for (std::size_t j = 0; j < dim; ++j)
              next(i, j) = transformed(i, static_cast<std::size_t>(permutation(j)));
            log_det(i, 0) = total;
          });
    }
  }

  /// Transform k's saved values for `batch` rows (an empty view for a transform that keeps none).
  Matrix<Scalar, ExecutionSpace> saved_rows(std::size_t k, std::size_t batch) {
    if constexpr (saved_count > 0)
      return m_saved[k].rows(batch);
    else
      return {};
  }

  /// Element (i, m)'s saved values; null for a transform that keeps none (its view is empty).
  template <class View>
  KOKKOS_INLINE_FUNCTION static auto saved_at(const View& saved, std::size_t i, std::size_t m) {
    return saved_count > 0 ? &saved(i, saved_count * m) : nullptr;
  }

  /// Back-propagates L = Σ_i weight(i)·log q_i through the state forward_pass left for `batch` rows.
  void backward_pass(const ExecutionSpace& space, std::size_t batch, const ConstVector<Scalar, ExecutionSpace>& weight,
                     const Matrix<Scalar, ExecutionSpace>& grad_theta, const Matrix<Scalar, ExecutionSpace>& grad_x) {
    const std::size_t dim = m_theta_dim, cdim = m_context_dim, outputs = m_outputs;
    const bool want_theta = grad_theta.data() != nullptr, want_x = grad_x.data() != nullptr;
    const transform_type transform = m_transform;

    // log q = const − ½|y_T|² + Σ ℓ: ∂L/∂y_T = −w·y_T, and every ℓ has the weight w.
    const Matrix<Scalar, ExecutionSpace> grad_y = m_grad_y.rows(batch);
    {
      const ConstMatrix<Scalar, ExecutionSpace> y_last = m_y.back().rows(batch);
      Kokkos::parallel_for(
          kernel_label("base_backward"),
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, dim}),
          KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { grad_y(i, j) = -weight(i) * y_last(i, j); });
    }
    const Matrix<Scalar, ExecutionSpace> grad_params = m_grad_params.rows(batch);
    const Matrix<Scalar, ExecutionSpace> grad_direct = m_grad_direct.rows(batch);
    const Matrix<Scalar, ExecutionSpace> grad_made = m_grad_made.rows(batch);
    const Matrix<Scalar, ExecutionSpace> grad_context = m_grad_context.rows(batch);
    const Matrix<Scalar, ExecutionSpace> grad_context_made = m_grad_context_made.rows(batch);
    if (want_x) Kokkos::deep_copy(space, grad_context, Scalar(0));
    for (std::size_t k = m_stack.transforms(); k-- > 0;) {
      const ConstMatrix<Scalar, ExecutionSpace> y = m_y[k].rows(batch);
      const ConstMatrix<Scalar, ExecutionSpace> params = m_made_params[k];
      const ConstMatrix<Scalar, ExecutionSpace> upstream = grad_y;
      const auto inverse = m_stack.inverse_permutation(k);
      const ConstMatrix<Scalar, ExecutionSpace> saved = saved_rows(k, batch);
      // z_m = τ(y_m) with z_m = y_{k+1, π⁻¹(m)}; L also holds w·ℓ_m.
      if constexpr (lanes_on_host) {
        constexpr int L = detail::transform_lanes<Scalar>;
        Kokkos::parallel_for(
            kernel_label("transform_backward"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, (batch + L - 1) / L),
            [=](const std::size_t group) {
              const std::size_t row0 = group * L;
              const int count = static_cast<int>(batch - row0 < std::size_t(L) ? batch - row0 : std::size_t(L));
              Scalar values[L], grad_z[L], weights[L], grad_values[L];
              const Scalar* parameters[L];
              Scalar* grad_parameters[L];
              for (std::size_t m = 0; m < dim; ++m) {
                for (int l = 0; l < L; ++l) {
                  const std::size_t i = row0 + static_cast<std::size_t>(l < count ? l : 0);
                  values[l] = y(i, m);
                  parameters[l] = &params(i, outputs * m);
                  grad_parameters[l] = &grad_params(i, outputs * m);
                  grad_z[l] = upstream(i, static_cast<std::size_t>(inverse(m)));
                  weights[l] = weight(i);
                }
                transform.template backward_lanes<L>(count, values, parameters, grad_z, weights, grad_parameters,
                                                     grad_values);
                for (int l = 0; l < count; ++l)
                  grad_direct(row0 + l, m) = grad_values[l];
              }
            });
      } else {
        Kokkos::parallel_for(
            kernel_label("transform_backward"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
            KOKKOS_LAMBDA(const std::size_t i) {
              for (std::size_t m = 0; m < dim; ++m) {
                const Scalar grad_z = upstream(i, static_cast<std::size_t>(inverse(m)));
                grad_direct(i, m) =
                    detail::backward_saved(transform, y(i, m), &params(i, outputs * m), saved_at(saved, i, m), grad_z,
                                           weight(i), &grad_params(i, outputs * m));
              }
            });
      }
      // θ is data and the standardization is fixed: the first MADE needs an input gradient only for grad_theta.
      const bool input_gradient = k > 0 || want_theta;
      m_stack[k].backward(space, grad_params, input_gradient ? grad_made : Matrix<Scalar, ExecutionSpace>(),
                          want_x ? grad_context_made : Matrix<Scalar, ExecutionSpace>());
      if (want_x) {
        Kokkos::parallel_for(
            kernel_label("sum_context_gradients"),
            Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, cdim}),
            KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { grad_context(i, j) += grad_context_made(i, j); });
      }
      if (!input_gradient) break;
      Kokkos::parallel_for(
          kernel_label("sum_input_gradients"),
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, dim}),
          KOKKOS_LAMBDA(const std::size_t i, const std::size_t m) {
            grad_y(i, m) = grad_direct(i, m) + grad_made(i, m);
          });
    }
    if (want_theta) {
      const ConstVector<Scalar, ExecutionSpace> deviation = m_standardization.theta_std();
      const Matrix<Scalar, ExecutionSpace> result = grad_theta;
      Kokkos::parallel_for(
          kernel_label("theta_backward"),
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, dim}),
          KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { result(i, j) = grad_y(i, j) / deviation(j); });
    }
    if (want_x) {
      // c = (x − x_mean) / x_std: ∂L/∂x = (Σ_k ∂L/∂c through MADE k) / x_std.
      const ConstVector<Scalar, ExecutionSpace> deviation = m_standardization.x_std();
      const Matrix<Scalar, ExecutionSpace> result = grad_x;
      Kokkos::parallel_for(
          kernel_label("x_backward"),
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, cdim}),
          KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
            result(i, j) = grad_context(i, j) / deviation(j);
          });
    }
  }

  /// Draws the base sample and inverts every transform; m_context.rows(batch) holds the embedding.
  void invert(const ExecutionSpace& space, std::size_t batch, BatchRandom rng,
              const Matrix<Scalar, ExecutionSpace>& theta) {
    const std::size_t dim = m_theta_dim, outputs = m_outputs;
    const Matrix<Scalar, ExecutionSpace> state = m_sample_state.rows(batch), target = m_sample_target.rows(batch);
    const ConstMatrix<Scalar, ExecutionSpace> context = m_context.rows(batch);
    Kokkos::parallel_for(
        kernel_label("draw_base"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom generator = rng.row(i);
          for (std::size_t j = 0; j < dim; ++j)
            state(i, j) = static_cast<Scalar>(generator.normal());
        });
    const transform_type transform = m_transform;
    for (std::size_t k = m_stack.transforms(); k-- > 0;) {
      const auto inverse = m_stack.inverse_permutation(k);
      // Undo π_k (z_m = y_{k+1, π⁻¹(m)}), then start the autoregressive passes from y = 0.
      Kokkos::parallel_for(
          kernel_label("unpermute"), Kokkos::RangePolicy<ExecutionSpace>(space, 0, batch),
          KOKKOS_LAMBDA(const std::size_t i) {
            for (std::size_t m = 0; m < dim; ++m)
              target(i, m) = state(i, static_cast<std::size_t>(inverse(m)));
            for (std::size_t m = 0; m < dim; ++m)
              state(i, m) = Scalar(0);
          });
      for (std::size_t pass = 0; pass < dim; ++pass) {
        const ConstMatrix<Scalar, ExecutionSpace> params = m_stack[k].forward(space, state, context);
        Kokkos::parallel_for(
            kernel_label("inverse_pass"),
            Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {batch, dim}),
            KOKKOS_LAMBDA(const std::size_t i, const std::size_t m) {
              state(i, m) = detail::inverse_value(transform.inverse(target(i, m), &params(i, outputs * m)));
            });
      }
    }
    m_standardization.unstandardize(space, state, theta);
  }

private:
  std::size_t m_theta_dim, m_context_dim;
  options_type m_options;
  transform_type m_transform;
  std::size_t m_outputs; ///< P: MADE outputs per dimension (the transform's parameter count)
  detail::MadeStack<Scalar, ExecutionSpace> m_stack;
  detail::FlowStandardization<Scalar, ExecutionSpace> m_standardization;
  Vector<Scalar, ExecutionSpace> m_weight; ///< −w_i/N per row for nll_backward; grows with the batch
  Buffer m_context, m_log_det, m_transformed, m_grad_y, m_grad_direct, m_grad_made, m_grad_context, m_grad_context_made,
      m_grad_params, m_sample_state, m_sample_target;
  std::vector<Buffer> m_y;
  std::vector<Buffer> m_saved; ///< per transform, batch × saved_count·D (none when saved_count is 0)
  std::vector<ConstMatrix<Scalar, ExecutionSpace>> m_made_params;
};

} // namespace osbi
