// SPDX-License-Identifier: BSD-3-Clause
/// \brief ConditionallyCentered: a learned conditional affine map θ → (θ − μ(x))·e^{−s(x)} in front of a flow,
/// so the flow models the posterior's shape while a small network tracks its location and width; models
/// ConditionalDensity.
#pragma once

#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/detail/nll_backward.hpp>
#include <osbi/flow/detail/standardization.hpp>
#include <osbi/flow/nestable_density.hpp>
#include <osbi/flow/nsf.hpp>
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/detail/layer_support.hpp>
#include <osbi/nn/init.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/sequential.hpp>

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/detail/linear_gaussian_fit.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/core/random_streams.hpp>

#include <Eigen/Dense>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi {

/// What ConditionallyCentered needs of the flow it wraps: a NestableDensity (flow/nestable_density.hpp) — a slice of
/// a larger parameter buffer, its own z-scoring set to the identity, and (as every ConditionalDensity) the weighted
/// NLL's gradient with respect to θ and x.
template <class D>
concept CenterableDensity = NestableDensity<D>;

/// The conditioner of a ConditionallyCentered: `hidden` tanh units in two layers beside a linear map; the log-scale is bounded
/// to ±log_scale_bound (a soft clamp s = B·tanh(raw/B)) so one bad batch cannot blow the scale up.
struct CenteringOptions {
  std::size_t hidden = 50;
  double log_scale_bound = 5.0;
  std::uint64_t seed = 0;
};

/*
 * ConditionallyCentered<Density> — q(θ | x) = q_flow(θ' | c) · |∂θ'/∂θ| with
 *
 *   c       = (x − x_mean) / x_std                       the z-scored context (the flow's context too)
 *   θ_z     = (θ − θ_mean) / θ_std                       z-scored parameters
 *   μ, raw  = L·c + MLP(c), MLP: c → H (tanh) → H (tanh) → 2D
 *                                                        L (linear) and the MLP's last layer start at 0: the
 *                                                        map starts as the identity (initialize_from_data
 *                                                        then sets L from the training data)
 *   s       = B·tanh(raw / B)                            per-dimension log-scale, |s| < B
 *   θ'      = (θ_z − μ) · e^{−s}
 *   log q(θ | x) = log q_flow(θ' | c) − Σ_j s_j − Σ_j log θ_std_j
 *
 * Why: a spline flow is the identity outside [−tail_bound, tail_bound] and maps that box onto itself, so
 * posterior mass that lies outside the box in z-scored prior units (an observation that pins θ near the edge
 * of the prior) cannot be moved, and a posterior much narrower than the prior gets only a few of the spline's
 * bins. The affine map brings every posterior to the middle of the box at unit width (what sbi's NPE gets from
 * its z-scoring of θ for a single observation), and the flow then models only its shape.
 *
 * initialize_from_data(space, θ, x) (NPE and the online pipeline call it after set_standardization, before
 * training) starts L at the least-squares regression of θ_z on c and the log-scale biases at the log of its
 * residual standard deviations: q starts as the best linear-Gaussian fit (ABC's regression adjustment, Beaumont
 * et al. 2002; Glow's data-dependent ActNorm initialization is the unconditional analogue). Without it L starts
 * at 0 and Adam moves each weight about one learning rate per step, which at lr 5e-4 and a 1 000-simulation
 * budget is too slow to learn even a linear trend before early stopping (sbibm's gaussian_linear at 10³:
 * best validation NLL 0.63 from L = 0, −0.15 from the regression, 0.88 for the bare NSF; the optimum is −0.79).
 *
 * The wrapped flow's own standardization is set to the identity (set_standardization here z-scores for both).
 * parameters() = [conditioner (L, then the MLP's 3 dense layers; [W | b] each) | the flow's own layout], one buffer.
 * nll_backward runs the flow's (weighted) backward to θ' and c, then the conditioner's; the optional grad_x (what
 * an EmbeddedDensity in front back-propagates) sums both paths to c. Sampling draws θ' from the flow (row i from
 * rng.row(i), as the flow does) and maps it back: θ = (θ'·e^{s} + μ)·θ_std + θ_mean.
 */
template <CenterableDensity Density>
class ConditionallyCentered {
public:
  using scalar_type = typename Density::scalar_type;
  using execution_space = typename Density::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  using density_type = Density;

  explicit ConditionallyCentered(Density density, const CenteringOptions& options = {})
      : m_density(std::move(density)), m_options(check(options)), m_linear(context_dim(), 2 * theta_dim()),
        m_mlp(context_dim(), options.hidden, options.hidden, 2 * theta_dim()),
        m_standardization(part, theta_dim(), context_dim()),
        m_context(label("flow", "ConditionallyCentered", "context"), context_dim()),
        m_linear_out(label("flow", "ConditionallyCentered", "linear_out"), 2 * theta_dim()),
        m_mlp_out(label("flow", "ConditionallyCentered", "mlp_out"), 2 * theta_dim()),
        m_shift_scale(label("flow", "ConditionallyCentered", "shift_scale"), 2 * theta_dim()),
        m_centered(label("flow", "ConditionallyCentered", "centered"), theta_dim()),
        m_grad_centered(label("flow", "ConditionallyCentered", "grad_centered"), theta_dim()),
        m_grad_shift_scale(label("flow", "ConditionallyCentered", "grad_shift_scale"), 2 * theta_dim()),
        m_grad_context(label("flow", "ConditionallyCentered", "grad_context"), context_dim()),
        m_grad_context_flow(label("flow", "ConditionallyCentered", "grad_context_flow"), context_dim()),
        m_grad_context_linear(label("flow", "ConditionallyCentered", "grad_context_linear"), context_dim()),
        m_log_scale_sum(label("flow", "ConditionallyCentered", "log_scale_sum"), 1) {
    const std::size_t total = conditioner_count() + static_cast<std::size_t>(m_density.parameter_count());
    m_parameters = Vector<Scalar, Space>(label("flow", "ConditionallyCentered", "parameters"), total);
    m_gradients = Vector<Scalar, Space>(label("flow", "ConditionallyCentered", "gradients"), total);
    bind_conditioner();
    m_density.rebind(Kokkos::subview(m_parameters, flow_slice()), Kokkos::subview(m_gradients, flow_slice()));
    const Space space;
    RandomStream stream(options.seed, init_stream);
    // One stream draw per layer, in buffer order (L, then the MLP's three layers).
    m_linear.initialize(space, stream.next());
    m_mlp.template get<0>().initialize(space, stream.next());
    m_mlp.template get<1>().initialize(space, stream.next());
    m_mlp.template get<2>().initialize(space, stream.next());
    space.fence();
    identity_inner_standardization();
  }

  // The layers are bound to slices of this object's buffers: a copy would share them. Moves are fine.
  ConditionallyCentered(const ConditionallyCentered&) = delete;
  ConditionallyCentered& operator=(const ConditionallyCentered&) = delete;
  ConditionallyCentered(ConditionallyCentered&&) = default;
  ConditionallyCentered& operator=(ConditionallyCentered&&) = default;

  std::size_t theta_dim() const { return m_density.theta_dim(); }
  std::size_t context_dim() const { return m_density.context_dim(); }
  const CenteringOptions& options() const { return m_options; }
  std::size_t parameter_count() const { return m_parameters.extent(0); }
  /// The conditioner's parameters come first in parameters().
  std::size_t conditioner_parameter_count() const { return conditioner_count(); }
  Vector<Scalar, Space> parameters() const { return m_parameters; }
  Vector<Scalar, Space> gradients() const { return m_gradients; }
  void zero_gradients(const Space& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }
  Density& density() { return m_density; }

  /// Moves the parameters and gradients into caller-owned storage of parameter_count() entries each (e.g.
  /// slices of an EmbeddedDensity's buffers) and uses that from now on.
  void rebind(const Vector<Scalar, Space>& parameters, const Vector<Scalar, Space>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "rebind: the parameter view's size (parameter_count)");
    require_extent(gradients.extent(0), parameter_count(), part, "rebind: the gradient view's size (parameter_count)");
    Kokkos::deep_copy(parameters, m_parameters);
    Kokkos::deep_copy(gradients, m_gradients);
    m_parameters = parameters;
    m_gradients = gradients;
    bind_conditioner();
    m_density.rebind(Kokkos::subview(m_parameters, flow_slice()), Kokkos::subview(m_gradients, flow_slice()));
  }

  /// z-scoring of θ (an affine transform of this density: its log-determinant counts in log_prob) and x (the
  /// context of the conditioner and of the flow). Checked as the flows check it.
  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    m_standardization.set(theta_mean, theta_std, x_mean, x_std);
  }

  /// Data-dependent start (see above): L = the ridge regression (1e-6 relative) of z-scored θ on z-scored x over
  /// the finite rows (at most the first 20 000), log-scale bias = log of the residual RMS, clamped to
  /// ±0.9·log_scale_bound. Call after set_standardization, before training; with fewer than two finite rows it
  /// leaves the parameters as they are. Returns the number of rows used.
  std::size_t initialize_from_data(const Space& space, const ConstMatrix<Scalar, Space>& theta,
                                   const ConstMatrix<Scalar, Space>& x) {
    detail::check_flow_pairs(part, "initialize_from_data", theta_dim(), context_dim(), theta, x);
    const auto fit = detail::fit_linear_gaussian<Scalar, Space>(space, theta, x, m_standardization.theta_mean(), m_standardization.theta_std(),
                                                 m_standardization.x_mean(), m_standardization.x_std(), max_fit_rows);
    if (fit.rows_used < 2) return 0;
    const std::size_t d = theta_dim(), c = context_dim();
    const Eigen::MatrixXd& coefficients = fit.coefficients;
    auto weight = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_linear.weight());
    auto bias = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_linear.bias());
    const double bound = m_options.log_scale_bound;
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t k = 0; k < c; ++k) {
        weight(j, k) = static_cast<Scalar>(coefficients(k, j));
        weight(d + j, k) = Scalar(0);
      }
      bias(j) = static_cast<Scalar>(coefficients(c, j));
      const double rms = fit.residual_rms[j];
      const double log_scale = std::clamp(std::log(std::max(rms, 1e-300)), -0.9 * bound, 0.9 * bound);
      bias(d + j) = static_cast<Scalar>(bound * std::atanh(log_scale / bound));
    }
    Kokkos::deep_copy(m_linear.weight(), weight);
    Kokkos::deep_copy(m_linear.bias(), bias);
    return fit.rows_used;
  }

  /// The affine map at each row of x: out (N × 2·theta_dim) gets μ in columns [0, D) and s in [D, 2D), in
  /// z-scored θ units (θ_z = θ'·e^{s} + μ).
  void shift_and_log_scale(const Space& space, const ConstMatrix<Scalar, Space>& x, const Matrix<Scalar, Space>& out) {
    require_extent(x.extent(1), context_dim(), part, "shift_and_log_scale: x's column count (context_dim)");
    require_extent(out.extent(0), x.extent(0), part, "shift_and_log_scale: out's row count (x's row count)");
    require_extent(out.extent(1), 2 * theta_dim(), part, "shift_and_log_scale: out's column count (2·theta_dim)");
    const std::size_t rows = x.extent(0), dim = theta_dim();
    if (rows == 0) return;
    condition(space, x, rows);
    const ConstMatrix<Scalar, Space> shift_scale = m_shift_scale.rows(rows);
    const Scalar bound = static_cast<Scalar>(m_options.log_scale_bound);
    Kokkos::parallel_for(
        "osbi::flow::ConditionallyCentered::shift_and_log_scale",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {rows, dim}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          out(i, j) = shift_scale(i, j);
          out(i, dim + j) = bound * math::tanh(shift_scale(i, dim + j) / bound);
        });
  }

  /// out(i) = log q(θ_i | x_i).
  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                const Vector<Scalar, Space>& out) {
    detail::check_flow_pairs(part, "log_prob", theta_dim(), context_dim(), theta, x);
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's size (theta's row count)");
    const std::size_t batch = theta.extent(0);
    if (batch == 0) return;
    center(space, theta, x);
    m_density.log_prob(space, m_centered.rows(batch), m_context.rows(batch), out);
    const ConstMatrix<Scalar, Space> log_scale_sum = m_log_scale_sum.rows(batch);
    const Vector<Scalar, Space> result = out;
    const Scalar constant = static_cast<Scalar>(m_standardization.log_det());
    Kokkos::parallel_for(
        "osbi::flow::ConditionallyCentered::log_prob", Kokkos::RangePolicy<Space>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i) { result(i) += constant - log_scale_sum(i, 0); });
  }

  /// L = (1/N) Σ_i w_i·(−log q(θ_i | x_i)) (estimator/conditional_density.hpp): ∂L/∂parameters ADDED to
  /// gradients(); grad_theta (N × theta_dim) and grad_x (N × context_dim) OVERWRITTEN with ∂L/∂θ and ∂L/∂x, each
  /// skipped when empty. Empty weights are w_i = 1: the mean NLL.
  double nll_backward(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                      const ConstVector<Scalar, Space>& weights, const Matrix<Scalar, Space>& grad_theta,
                      const Matrix<Scalar, Space>& grad_x) {
    detail::check_nll_backward(part, theta_dim(), context_dim(), theta, x, weights, grad_theta, grad_x);
    const std::size_t batch = theta.extent(0);
    const bool want_x = grad_x.data() != nullptr, weighted = weights.data() != nullptr;
    center(space, theta, x);
    const Matrix<Scalar, Space> centered = m_centered.rows(batch), grad_centered = m_grad_centered.rows(batch);
    const Matrix<Scalar, Space> grad_context_flow = want_x ? m_grad_context_flow.rows(batch) : Matrix<Scalar, Space>();
    const double flow_loss =
        m_density.nll_backward(space, centered, m_context.rows(batch), weights, grad_centered, grad_context_flow);

    // Chain rule through θ' = (θ_z − μ)·e^{−s}, s = B·tanh(raw/B), and the (1/N) Σ_i w_i·Σ_j s_ij term of L.
    const ConstMatrix<Scalar, Space> shift_scale = m_shift_scale.rows(batch);
    const Matrix<Scalar, Space> grad_shift_scale = m_grad_shift_scale.rows(batch);
    const ConstVector<Scalar, Space> theta_std = m_standardization.theta_std();
    const std::size_t dim = theta_dim();
    const Scalar bound = static_cast<Scalar>(m_options.log_scale_bound);
    const Scalar inverse_batch = Scalar(1) / static_cast<Scalar>(batch);
    const bool want_theta = grad_theta.data() != nullptr;
    const Matrix<Scalar, Space> theta_out = grad_theta;
    double log_scale_total = 0.0;
    Kokkos::parallel_reduce(
        "osbi::flow::ConditionallyCentered::backward", Kokkos::RangePolicy<Space>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i, double& partial) {
          // c = w_i / N, the weight of −log q_i in L (w_i·(1/N): exactly 1/N for w_i = 1).
          const Scalar w = weighted ? weights(i) : Scalar(1), c = w * inverse_batch;
          for (std::size_t j = 0; j < dim; ++j) {
            const Scalar squashed = math::tanh(shift_scale(i, dim + j) / bound);
            const Scalar log_scale = bound * squashed, inverse_scale = math::exp(-log_scale);
            const Scalar upstream = grad_centered(i, j);
            grad_shift_scale(i, j) = -upstream * inverse_scale;
            const Scalar grad_log_scale = c - upstream * centered(i, j);
            grad_shift_scale(i, dim + j) = grad_log_scale * (Scalar(1) - squashed * squashed);
            if (want_theta) theta_out(i, j) = upstream * inverse_scale / theta_std(j);
            partial += static_cast<double>(w) * static_cast<double>(log_scale);
          }
        },
        log_scale_total);
    const Matrix<Scalar, Space> grad_context = want_x ? m_grad_context.rows(batch) : Matrix<Scalar, Space>();
    m_mlp.backward(space, grad_shift_scale, grad_context);
    const Matrix<Scalar, Space> grad_context_linear = want_x ? m_grad_context_linear.rows(batch) : Matrix<Scalar, Space>();
    m_linear.backward(space, grad_shift_scale, grad_context_linear);
    if (want_x) {
      const ConstVector<Scalar, Space> x_std = m_standardization.x_std();
      const ConstMatrix<Scalar, Space> from_flow = grad_context_flow, from_conditioner = grad_context,
                                       from_linear = grad_context_linear;
      const Matrix<Scalar, Space> out = grad_x;
      Kokkos::parallel_for(
          "osbi::flow::ConditionallyCentered::grad_x",
          Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {batch, context_dim()}),
          KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
            out(i, j) = (from_flow(i, j) + from_conditioner(i, j) + from_linear(i, j)) / x_std(j);
          });
    }
    const double mean_weight = detail::mean_weight(space, part, weights);
    return flow_loss + log_scale_total / static_cast<double>(batch) - mean_weight * m_standardization.log_det();
  }

  /// One draw θ_i ~ q(· | x_i) per row of x into theta (row i uses rng.row(i) only).
  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x, BatchRandom rng, const Matrix<Scalar, Space>& theta) {
    detail::check_flow_sample(part, theta_dim(), context_dim(), x, theta);
    const std::size_t batch = x.extent(0);
    if (batch == 0) return;
    condition(space, x, batch);
    m_density.sample(space, m_context.rows(batch), rng, theta);
    uncenter(space, false, theta);
  }

  /// n draws θ ~ q(· | x_one) for one context (x_one: 1 × context_dim) into theta (n × theta_dim).
  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x_one, std::size_t n, BatchRandom rng,
              const Matrix<Scalar, Space>& theta) {
    detail::check_flow_sample_one(part, theta_dim(), context_dim(), x_one, n, theta);
    if (n == 0) return;
    condition(space, x_one, 1);
    m_density.sample(space, m_context.rows(1), n, rng, theta);
    uncenter(space, true, theta);
  }

private:
  using Buffer = nn::detail::BatchBuffer<Scalar, Space>;
  using Linear = nn::DenseLayer<Scalar, Space, nn::init::Zero>;
  /// c → H (tanh) → H (tanh) → 2D, the last layer starting at 0; widths at run time.
  using Hidden = nn::Dense<nn::dynamic_extent, nn::init::TorchDefault, nn::activation::Tanh>;
  using Mlp = nn::SequentialLayer<Scalar, Space, Hidden, Hidden, nn::Dense<nn::dynamic_extent, nn::init::Zero>>;
  static constexpr const char* part = "osbi::ConditionallyCentered";
  static constexpr std::uint64_t init_stream = streams::centering_init;
  static constexpr std::size_t max_fit_rows = 20000;

  static const CenteringOptions& check(const CenteringOptions& options) {
    require(options.hidden > 0, part, "options.hidden must be > 0");
    require(std::isfinite(options.log_scale_bound) && options.log_scale_bound > 0, part,
            "options.log_scale_bound = ", options.log_scale_bound, " must be finite and > 0");
    return options;
  }

  std::size_t conditioner_count() const {
    return m_linear.parameter_count() + m_mlp.parameter_count();
  }
  std::pair<std::size_t, std::size_t> flow_slice() const { return {conditioner_count(), m_parameters.extent(0)}; }

  void bind_conditioner() {
    std::size_t offset = 0;
    const auto bind = [&](auto& layer) {
      const auto slice = std::make_pair(offset, offset + layer.parameter_count());
      layer.bind(Kokkos::subview(m_parameters, slice), Kokkos::subview(m_gradients, slice));
      offset = slice.second;
    };
    bind(m_linear);
    bind(m_mlp);
  }

  void identity_inner_standardization() {
    m_density.set_standardization(std::vector<double>(theta_dim(), 0.0), std::vector<double>(theta_dim(), 1.0),
                                  std::vector<double>(context_dim(), 0.0), std::vector<double>(context_dim(), 1.0));
  }

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  /// m_context.rows(rows) = z-scored x, and the conditioner's output for it in m_shift_scale.
  void condition(const Space& space, const ConstMatrix<Scalar, Space>& x, std::size_t rows) {
    const Matrix<Scalar, Space> context = m_context.rows(rows);
    const Matrix<Scalar, Space> linear = m_linear_out.rows(rows), mlp = m_mlp_out.rows(rows),
                                sum = m_shift_scale.rows(rows);
    m_standardization.embed(space, x, false, context);
    m_linear.forward(space, context, linear);
    m_mlp.forward(space, context, mlp);
    Kokkos::parallel_for(
        "osbi::flow::ConditionallyCentered::sum",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {rows, 2 * theta_dim()}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { sum(i, j) = linear(i, j) + mlp(i, j); });
  }

  /// m_centered = θ' and m_log_scale_sum = Σ_j s_j for each row.
  void center(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x) {
    const std::size_t batch = theta.extent(0), dim = theta_dim();
    condition(space, x, batch);
    const ConstMatrix<Scalar, Space> shift_scale = m_shift_scale.rows(batch);
    const Matrix<Scalar, Space> centered = m_centered.rows(batch), log_scale_sum = m_log_scale_sum.rows(batch);
    const ConstVector<Scalar, Space> mean = m_standardization.theta_mean(), deviation = m_standardization.theta_std();
    const Scalar bound = static_cast<Scalar>(m_options.log_scale_bound);
    Kokkos::parallel_for(
        "osbi::flow::ConditionallyCentered::center", Kokkos::RangePolicy<Space>(space, 0, batch),
        KOKKOS_LAMBDA(const std::size_t i) {
          Scalar sum = 0;
          for (std::size_t j = 0; j < dim; ++j) {
            const Scalar log_scale = bound * math::tanh(shift_scale(i, dim + j) / bound);
            centered(i, j) = ((theta(i, j) - mean(j)) / deviation(j) - shift_scale(i, j)) * math::exp(-log_scale);
            sum += log_scale;
          }
          log_scale_sum(i, 0) = sum;
        });
  }

  /// θ ← (θ'·e^{s} + μ)·θ_std + θ_mean in place; with `broadcast` every row uses the conditioner's row 0.
  void uncenter(const Space& space, bool broadcast, const Matrix<Scalar, Space>& theta) {
    const std::size_t rows = theta.extent(0), dim = theta_dim();
    const ConstMatrix<Scalar, Space> shift_scale = m_shift_scale.rows(broadcast ? 1 : rows);
    const ConstVector<Scalar, Space> mean = m_standardization.theta_mean(), deviation = m_standardization.theta_std();
    const Scalar bound = static_cast<Scalar>(m_options.log_scale_bound);
    Kokkos::parallel_for(
        "osbi::flow::ConditionallyCentered::uncenter",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {rows, dim}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          const std::size_t row = broadcast ? 0 : i;
          const Scalar log_scale = bound * math::tanh(shift_scale(row, dim + j) / bound);
          theta(i, j) = (theta(i, j) * math::exp(log_scale) + shift_scale(row, j)) * deviation(j) + mean(j);
        });
  }

private:
  Density m_density;
  CenteringOptions m_options;
  Linear m_linear;
  Mlp m_mlp;
  detail::FlowStandardization<Scalar, Space> m_standardization;
  Vector<Scalar, Space> m_parameters, m_gradients;
  Buffer m_context, m_linear_out, m_mlp_out, m_shift_scale, m_centered, m_grad_centered, m_grad_shift_scale,
      m_grad_context, m_grad_context_flow, m_grad_context_linear, m_log_scale_sum;
};

/// sbi's default NSF (5 transforms, 2×50 tanh hidden, 10 bins, tail bound 3) behind the conditional affine map:
/// the estimator the sbibm benchmark reports. `seed` fixes the flow's and the conditioner's initial parameters.
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
ConditionallyCentered<ConditionalNSF<Scalar, ExecutionSpace>> centered_nsf(std::size_t theta_dim, std::size_t context_dim,
                                                                           std::uint64_t seed = 0) {
  return ConditionallyCentered<ConditionalNSF<Scalar, ExecutionSpace>>(
      sbi_default_nsf<Scalar, ExecutionSpace>(theta_dim, context_dim, seed), CenteringOptions{.seed = seed});
}

} // namespace osbi
