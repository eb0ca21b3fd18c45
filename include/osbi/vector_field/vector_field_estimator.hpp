// SPDX-License-Identifier: BSD-3-Clause
/// \brief VectorFieldEstimator<Scalar, Space, Path>: a posterior as a learned vector field on a Gaussian path — flow matching (FMPE) on the linear path, score diffusion (NPSE) on the VE/VP/sub-VP SDEs.
#pragma once

#include <osbi/vector_field/gaussian_path.hpp>
#include <osbi/vector_field/ode_solver.hpp>
#include <osbi/vector_field/vector_field_network.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/estimator/detail/linear_gaussian_fit.hpp>
#include <osbi/estimator/estimator.hpp>
#include <osbi/flow/detail/checks.hpp>
#include <osbi/flow/detail/standardization.hpp>
#include <osbi/nn/detail/layer_support.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace osbi {

/// Where the estimator's Gaussian baseline N(B·c + b, diag s²) for z-scored θ₀ given z-scored x starts (it is trained
/// with the network): `marginal` N(0, I) — sbi's Gaussian skip; `conditional` the least-squares regression of θ on x
/// over the training rows (initialize_from_data) — the analogue of ConditionallyCentered for flows.
enum class GaussianBaseline { marginal, conditional };

/// How sample() draws: integrate the probability-flow ODE, or (score models only) Euler–Maruyama on the reverse SDE.
enum class SamplingMethod { ode, sde };

/// The default, for flow matching and score models alike: the probability-flow ODE by adaptive Dormand–Prince at
/// atol = rtol = 1e-4 (in z-scored θ). sbi 0.27 integrates flow matching's ODE at atol 1e-6 / rtol 1e-5 and runs
/// 500 Euler–Maruyama steps for score models; on two_moons at 10⁴ simulations (bench/vector_field, observation 1)
/// this default gave the same C2ST within its noise (FMPE 0.510 vs 0.513; NPSE 0.503 vs 0.498) at 1.7× (FMPE) and
/// 7.3× (NPSE) the draws per second. 1e-3 scored as well there, but the global error, a few times the tolerance,
/// would then be a visible fraction of a posterior that is narrow in z-scored units. The first trial step is
/// automatic (OdeSolverOptions::first_step); flow matching's default sampler (default_sampler_options) tries the
/// whole interval instead.
struct VectorFieldSamplerOptions {
  SamplingMethod method = SamplingMethod::ode;
  OdeSolverOptions ode{OdeMethod::dopri5, 50, 1e-4, 1e-4, 10'000};
  std::size_t sde_steps = 500; ///< Euler–Maruyama steps when method = sde (sbi's default count)
};

/// An estimator's default sampler. Flow matching's (velocity) tries the whole interval as dopri5's first step, as
/// zuko's odeint does for sbi: its trained paths are nearly straight, the step size the tolerance allows is a large
/// part of [t_min, 1] from the start, and one rejected try (the controller shrinks it at once) costs less than growing
/// from a small start. On two_moons at 10⁴ simulations (observation 1) it took 25 field evaluations per draw where
/// Hairer's automatic first step took 32 and a fixed first 1 % of the interval 37, at the same C2ST (0.503, 0.502,
/// 0.503). Score models keep the automatic step: near t_max the tolerance allows their probability-flow ODE steps of
/// ~4 % of the interval, so the whole interval as the first try cost 79 evaluations against the automatic step's 68.
inline VectorFieldSamplerOptions default_sampler_options(VectorFieldKind kind) {
  VectorFieldSamplerOptions options;
  if (kind == VectorFieldKind::velocity) options.ode.first_step = 1.0;
  return options;
}

/// log_prob integrates the probability-flow ODE with its divergence: exact (one input-gradient pass per θ dimension)
/// up to exact_trace_max_dim, above it Hutchinson's estimator with one Rademacher probe per row — unbiased for the
/// log density's integrand but noisy, so log_prob is then an estimate (fixed probes: deterministic).
struct VectorFieldLogProbOptions {
  OdeSolverOptions ode{OdeMethod::dopri5, 50, 1e-5, 1e-5, 10'000};
  std::size_t exact_trace_max_dim = 16;
};

template <class Path>
struct VectorFieldEstimatorOptions {
  Path path{};
  VectorFieldNetworkOptions network{};
  GaussianBaseline baseline = GaussianBaseline::conditional;
  /// Training times: 0 draws t uniformly on [t_min, t_max]; α > 0 draws them with density ∝ (1 − s)^{1/(1+α)} in
  /// the fraction s of the way to t_max, favouring the data end (Dax et al. 2023's p(t) for FMPE, where α = 4).
  double time_prior_exponent = 0.0;
  VectorFieldSamplerOptions sampler = default_sampler_options(Path::kind);
  VectorFieldLogProbOptions log_prob{};
};

/*
 * VectorFieldEstimator<Scalar, Space, Path> — models Estimator (and Standardizable, DataInitializable and
 * LogProbEstimator). Everything happens in z-scored coordinates y = (θ − θ_mean)/θ_std, c = (x − x_mean)/x_std.
 * The path (vector_field/gaussian_path.hpp) noises y₀ as y_t = α y₀ + σ ε. With the baseline Gaussian N(m(c), diag s²)
 * for y₀, its marginal at t is N(α m, v), v_j = α² s_j² + σ², and the network F (VectorFieldNetwork) sees
 * u = (y_t − α m)/√v and t:
 *
 *   velocity (flow matching):  v(y, t) = α'm + (v'/(2v))·(y − αm) + F      — the baseline's exact velocity + F
 *   score (diffusion):         s(y, t) = −(y − αm)/v − F/σ                  — the baseline's exact score + ε-prediction
 *
 * so an untrained estimator (F = 0: the network's last layer starts at 0) is exactly the baseline Gaussian.
 * Losses (per row, averaged over the batch with the batch's weights):
 *   flow_matching_loss    (1/d)·‖v(y_t, t) − (α'y₀ + σ'ε)‖²,          t ~ U[t_min, t_max]   (Lipman et al. 2023)
 *   score_matching_loss   g(t)²·‖s(y_t, t) + ε/σ‖²  (weight g², sbi's "max_likelihood"), t ~ U[t_min, t_max]
 *                         (Song et al. 2021; sbi additionally subtracts a zero-mean control variate)
 * Sampling: y at t_max from the baseline's marginal, then the probability-flow ODE (velocity v, or f·y − ½g²·s) to
 * t_min, or Euler–Maruyama on the reverse SDE dy = (f·y − g²·s) dt + g dW̄. log_prob: the ODE from the point at
 * t_min to t_max with ∫ div v dt alongside, plus the baseline marginal's log density at t_max and −Σ log θ_std.
 *
 * parameters() = [network | baseline B (d×k), b (d), log s (d)]: the baseline is trained with the network (its exact
 * gradients, through the field and through u), from where initialize_from_data put it, and rides in the flat buffer
 * so checkpoints, MPI allreduces and optimizers treat it like any weight.
 */
template <class Scalar, class ExecutionSpace, class Path>
class VectorFieldEstimator {
  using Space = ExecutionSpace;
  using Buffer = nn::detail::BatchBuffer<Scalar, Space>;

public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using path_type = Path;
  using Options = VectorFieldEstimatorOptions<Path>;
  static constexpr VectorFieldKind kind = Path::kind;
  // A plain `if` on this in kernels, not `if constexpr`: nvcc's extended lambdas cannot first-capture a variable
  // inside a constexpr-if (both branches compile for every path; the dead one is removed).
  static constexpr bool is_velocity = Path::kind == VectorFieldKind::velocity;
  /// train() validates and keeps an exponential moving average of the parameters unless told otherwise
  /// (train/parameter_average.hpp): each step's loss draws a random time and noise per row, so the raw parameters
  /// wander around the optimum. On two_moons at 10⁴ simulations it took the mean C2ST over observations 1–10 from
  /// 0.69 to 0.54 for FMPE and from 0.59 to 0.54 for NPSE, in 2.5–3.5× the epochs (bench/sbibm); sbi 0.27 does not
  /// average.
  static constexpr double default_parameter_average_decay = 0.999;

  VectorFieldEstimator(std::size_t theta_dim, std::size_t context_dim, const Options& options = {})
      : m_theta_dim(theta_dim), m_context_dim(context_dim), m_options(check(options)),
        m_network(theta_dim, context_dim, options.network), m_standardization(part, theta_dim, context_dim) {
    const std::size_t network_count = m_network.parameter_count();
    const std::size_t total = network_count + baseline_count();
    m_parameters = Vector<Scalar, Space>(label("vector_field", "VectorFieldEstimator", "parameters"), total);
    m_gradients = Vector<Scalar, Space>(label("vector_field", "VectorFieldEstimator", "gradients"), total);
    adopt_network();
    set_marginal_baseline();
    const std::string prefix = std::string(part) + "::";
    m_y = Buffer(prefix + "y", theta_dim);
    m_u = Buffer(prefix + "u", theta_dim);
    m_mean = Buffer(prefix + "baseline_mean", theta_dim);
    m_noise = Buffer(prefix + "noise", theta_dim);
    m_net_out = Buffer(prefix + "network_output", theta_dim);
    m_grad = Buffer(prefix + "grad_output", theta_dim);
    m_context = Buffer(prefix + "context", context_dim);
    m_field = Buffer(prefix + "field", theta_dim);
    m_time = Buffer(prefix + "time", 1);
    m_grad_u = Buffer(prefix + "grad_u", theta_dim);
    m_grad_mean = Buffer(prefix + "grad_baseline_mean", theta_dim);
    m_grad_log_spread = Buffer(prefix + "grad_baseline_log_spread", theta_dim);
  }

  std::size_t theta_dim() const { return m_theta_dim; }
  std::size_t context_dim() const { return m_context_dim; }
  const Options& options() const { return m_options; }
  VectorFieldNetwork<Scalar, Space>& network() { return m_network; }
  Vector<Scalar, Space> parameters() const { return m_parameters; }
  Vector<Scalar, Space> gradients() const { return m_gradients; }
  std::size_t parameter_count() const { return m_parameters.extent(0); }
  void zero_gradients(const Space& space) { Kokkos::deep_copy(space, m_gradients, Scalar(0)); }

  /// Moves the parameters and gradients into caller-owned slices of parameter_count() entries (an owner with more
  /// state in one flat buffer, e.g. EmbeddedVectorField); values are preserved. The owner keeps the storage alive.
  void rebind(const Vector<Scalar, Space>& parameters, const Vector<Scalar, Space>& gradients) {
    require_extent(parameters.extent(0), parameter_count(), part, "rebind: the parameter slice's size");
    require_extent(gradients.extent(0), parameter_count(), part, "rebind: the gradient slice's size");
    // All values move with these copies; then the network's layers bind to the new head.
    Kokkos::deep_copy(parameters, m_parameters);
    Kokkos::deep_copy(gradients, m_gradients);
    m_parameters = parameters;
    m_gradients = gradients;
    adopt_network();
  }

  /// Replaces the sampler (e.g. fewer steps for a speed/quality study).
  void set_sampler(const VectorFieldSamplerOptions& sampler) { m_options.sampler = check_sampler(sampler); }
  void set_log_prob_options(const VectorFieldLogProbOptions& options) { m_options.log_prob = options; }
  /// Field evaluations and steps of the last sample() or log_prob() (Euler–Maruyama: one evaluation per step).
  const OdeSolveReport& last_solve() const { return m_last_solve; }

  // ---- Standardizable / DataInitializable (estimator/capabilities.hpp) ----
  void set_standardization(const std::vector<double>& theta_mean, const std::vector<double>& theta_std,
                           const std::vector<double>& x_mean, const std::vector<double>& x_std) {
    m_standardization.set(theta_mean, theta_std, x_mean, x_std);
  }

  /// With a `conditional` baseline: B, b = the ridge regression of z-scored θ on z-scored x over the finite rows
  /// (at most the first 20 000), s = its residual RMS (floored at 1e-3). Returns the rows used (0: left as it was).
  std::size_t initialize_from_data(const Space& space, const ConstMatrix<Scalar, Space>& theta,
                                   const ConstMatrix<Scalar, Space>& x) {
    check_pairs("initialize_from_data", theta, x);
    if (m_options.baseline != GaussianBaseline::conditional) return 0;
    const auto fit = detail::fit_linear_gaussian<Scalar, Space>(space, theta, x, m_standardization.theta_mean(), m_standardization.theta_std(),
                                                 m_standardization.x_mean(), m_standardization.x_std());
    if (fit.rows_used < 2) return 0;
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), baseline_view());
    const std::size_t d = m_theta_dim, k = m_context_dim;
    for (std::size_t j = 0; j < d; ++j) {
      for (std::size_t c = 0; c < k; ++c) host(j * k + c) = static_cast<Scalar>(fit.coefficients(c, j));
      host(d * k + j) = static_cast<Scalar>(fit.coefficients(k, j));
      host(d * k + d + j) = static_cast<Scalar>(std::log(std::max(fit.residual_rms[j], 1e-3)));
    }
    Kokkos::deep_copy(baseline_view(), host);
    return fit.rows_used;
  }

  // ---- Estimator: sampling ----
  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x, BatchRandom rng, const Matrix<Scalar, Space>& theta) {
    detail::check_flow_sample(part, m_theta_dim, m_context_dim, x, theta);
    draw(space, x, false, theta.extent(0), rng, theta);
  }

  void sample(const Space& space, const ConstMatrix<Scalar, Space>& x_one, std::size_t n, BatchRandom rng,
              const Matrix<Scalar, Space>& theta) {
    detail::check_flow_sample_one(part, m_theta_dim, m_context_dim, x_one, n, theta);
    draw(space, x_one, true, n, rng, theta);
  }

  // ---- LogProbEstimator ----
  /// out(i) = log q(θ_i | x_i) through the probability-flow ODE (see VectorFieldLogProbOptions); NaN rows give NaN.
  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                const Vector<Scalar, Space>& out) {
    check_pairs("log_prob", theta, x);
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's size (theta's row count)");
    const std::size_t n = theta.extent(0), d = m_theta_dim;
    if (n == 0) return;
    const auto context = m_context.rows(n);
    m_standardization.embed(space, x, false, context);
    Matrix<Scalar, Space> state(label("vector_field", "VectorFieldEstimator", "log_prob_state"), n, d + 1);
    const auto y = m_y.rows(n);
    m_standardization.standardize(space, theta, y);
    copy_into_state(space, y, state);
    const Path path = m_options.path;
    LogProbField field{*this, context};
    m_last_solve = solve_ode<Scalar>(space, field, state, path.t_min, path.t_max, m_options.log_prob.ode);
    finish_log_prob(space, path, state, baseline_view(), context, m_theta_dim, m_context_dim, m_standardization.log_det(), out);
  }

  // ---- losses (loss/flow_matching.hpp, loss/denoising_score_matching.hpp call these) ----
  /// The mean over rows of w_i·(1/d)‖v − target‖²; row values into row_values when it is not empty; with
  /// LossPass::gradient its parameter gradient is ACCUMULATED, and grad_x (N × context_dim, skipped when empty)
  /// OVERWRITTEN with its gradient with respect to x (what an embedding network in front back-propagates).
  /// rng draws t and ε (row i from rng.row(i)).
  double flow_matching_loss(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                            const ConstVector<Scalar, Space>& weights, BatchRandom rng,
                            const Vector<Scalar, Space>& row_values, LossPass pass,
                            const Matrix<Scalar, Space>& grad_x = Matrix<Scalar, Space>())
    requires(Path::kind == VectorFieldKind::velocity)
  {
    return regression_loss(space, theta, x, weights, rng, row_values, pass, grad_x, "flow_matching_loss");
  }

  /// The mean over rows of w_i·g(t)²‖s − (−ε/σ)‖² (denoising score matching); otherwise as flow_matching_loss.
  double score_matching_loss(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                             const ConstVector<Scalar, Space>& weights, BatchRandom rng,
                             const Vector<Scalar, Space>& row_values, LossPass pass,
                             const Matrix<Scalar, Space>& grad_x = Matrix<Scalar, Space>())
    requires(Path::kind == VectorFieldKind::score)
  {
    return regression_loss(space, theta, x, weights, rng, row_values, pass, grad_x, "score_matching_loss");
  }

  // ---- the kernels below are public only because nvcc's extended lambdas cannot live in private members ----

  /// The baseline's per-coordinate quantities at time t for row i: mean m_j (z units), and α, σ, v_j.
  struct Baseline {
    ConstVector<Scalar, Space> values; // [B (d×k) | b (d) | log s (d)]
    ConstMatrix<Scalar, Space> context;
    std::size_t d, k;
    KOKKOS_INLINE_FUNCTION double mean(std::size_t i, std::size_t j) const {
      double sum = double(values(d * k + j));
      for (std::size_t c = 0; c < k; ++c) sum += double(values(j * k + c)) * double(context(i, c));
      return sum;
    }
    KOKKOS_INLINE_FUNCTION double spread(std::size_t j) const { return math::exp(double(values(d * k + d + j))); }
  };

  /// Training rows: y_t = α y₀ + σ ε with t and ε drawn per row; mean = m, u = (y_t − α m)/√v.
  static void noise_rows(const Space& space, const Path& path, const Baseline& baseline, double time_exponent, BatchRandom rng,
                         const ConstMatrix<Scalar, Space>& y0, const Matrix<Scalar, Space>& y_t,
                         const Matrix<Scalar, Space>& noise, const Matrix<Scalar, Space>& mean,
                         const Matrix<Scalar, Space>& u, const Vector<Scalar, Space>& time) {
    const std::size_t d = baseline.d;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::noise", Kokkos::RangePolicy<Space>(space, 0, y0.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom random = rng.row(i);
          const double fraction = time_exponent > 0 ? 1.0 - math::pow(random.uniform(), time_exponent) : random.uniform();
          const double t = path.t_min + (path.t_max - path.t_min) * fraction;
          time(i) = static_cast<Scalar>(t);
          const double alpha = path.alpha(t), sigma = path.sigma(t);
          for (std::size_t j = 0; j < d; ++j) {
            const double epsilon = random.normal();
            const double value = alpha * double(y0(i, j)) + sigma * epsilon;
            const double m = baseline.mean(i, j), s = baseline.spread(j);
            noise(i, j) = static_cast<Scalar>(epsilon);
            y_t(i, j) = static_cast<Scalar>(value);
            mean(i, j) = static_cast<Scalar>(m);
            u(i, j) = static_cast<Scalar>((value - alpha * m) / math::sqrt(alpha * alpha * s * s + sigma * sigma));
          }
        });
  }

  /// Row losses and the gradient of the batch mean with respect to the network output; returns Σ w_i·L_i.
  static double regression_rows(const Space& space, const Path& path, const Baseline& baseline,
                                const ConstMatrix<Scalar, Space>& y0, const ConstMatrix<Scalar, Space>& y_t,
                                const ConstMatrix<Scalar, Space>& noise, const ConstMatrix<Scalar, Space>& mean,
                                const ConstVector<Scalar, Space>& time, const ConstMatrix<Scalar, Space>& net,
                                const ConstVector<Scalar, Space>& weights, const Vector<Scalar, Space>& row_values,
                                const Matrix<Scalar, Space>& grad, const Matrix<Scalar, Space>& grad_mean,
                                const Matrix<Scalar, Space>& grad_log_spread) {
    const std::size_t n = y0.extent(0), d = baseline.d;
    const bool weighted = weights.data() != nullptr, keep_rows = row_values.data() != nullptr,
               want_grad = grad.data() != nullptr;
    double total = 0;
    Kokkos::parallel_reduce(
        "osbi::vector_field::VectorFieldEstimator::regression", Kokkos::RangePolicy<Space>(space, 0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& sum) {
          const double t = double(time(i)), alpha = path.alpha(t), sigma = path.sigma(t);
          const double alpha_rate = path.alpha_rate(t), sigma_rate = path.sigma_rate(t);
          const double w = weighted ? double(weights(i)) : 1.0;
          double row = 0;
          if (is_velocity) {
            for (std::size_t j = 0; j < d; ++j) {
              const double m = double(mean(i, j)), s = baseline.spread(j);
              const double v = alpha * alpha * s * s + sigma * sigma;
              const double v_rate = 2 * alpha * alpha_rate * s * s + 2 * sigma * sigma_rate;
              const double field = alpha_rate * m + v_rate / (2 * v) * (double(y_t(i, j)) - alpha * m) + double(net(i, j));
              const double target = alpha_rate * double(y0(i, j)) + sigma_rate * double(noise(i, j));
              const double residual = field - target;
              row += residual * residual;
              if (want_grad) {
                // ∂L/∂field; then its direct paths into m and log s (the network's path is added after backward).
                const double g = w * 2 * residual / double(d * n);
                const double r = double(y_t(i, j)) - alpha * m, rate = v_rate / (2 * v);
                const double rate_by_log_s = (4 * alpha * alpha_rate * s * s * v - v_rate * 2 * alpha * alpha * s * s) / (2 * v * v);
                grad(i, j) = static_cast<Scalar>(g);
                grad_mean(i, j) = static_cast<Scalar>(g * (alpha_rate - rate * alpha));
                grad_log_spread(i, j) = static_cast<Scalar>(g * rate_by_log_s * r);
              }
            }
            row /= double(d);
          } else {
            const double lambda = path_diffusion_squared(path, t);
            for (std::size_t j = 0; j < d; ++j) {
              const double m = double(mean(i, j)), s = baseline.spread(j);
              const double v = alpha * alpha * s * s + sigma * sigma;
              const double score = -(double(y_t(i, j)) - alpha * m) / v - double(net(i, j)) / sigma;
              const double residual = score + double(noise(i, j)) / sigma;
              row += residual * residual;
              if (want_grad) {
                const double g = w * lambda * 2 * residual / double(n); // ∂L/∂score
                const double r = double(y_t(i, j)) - alpha * m;
                grad(i, j) = static_cast<Scalar>(-g / sigma);
                grad_mean(i, j) = static_cast<Scalar>(g * alpha / v);
                grad_log_spread(i, j) = static_cast<Scalar>(g * 2 * r * alpha * alpha * s * s / (v * v));
              }
            }
            row *= lambda;
          }
          if (keep_rows) row_values(i) = static_cast<Scalar>(row);
          sum += w * row;
        },
        total);
    return total;
  }

  /// Adds the network's path (through u = (y − α m)/√v) to the direct parts and reduces them into the baseline's
  /// gradient [B | b | log s]: one entry per thread, summing over rows (deterministic; the baseline is small).
  static void baseline_gradient(const Space& space, const Path& path, const Baseline& baseline,
                                const ConstMatrix<Scalar, Space>& y_t, const ConstMatrix<Scalar, Space>& mean,
                                const ConstVector<Scalar, Space>& time, const ConstMatrix<Scalar, Space>& grad_u,
                                const Matrix<Scalar, Space>& grad_mean, const Matrix<Scalar, Space>& grad_log_spread,
                                const Vector<Scalar, Space>& gradient) {
    const std::size_t n = y_t.extent(0), d = baseline.d, k = baseline.k;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::baseline_rows",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {n, d}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          const double t = double(time(i)), alpha = path.alpha(t), sigma = path.sigma(t), s = baseline.spread(j);
          const double v = alpha * alpha * s * s + sigma * sigma, deviation = math::sqrt(v);
          const double r = double(y_t(i, j)) - alpha * double(mean(i, j)), g = double(grad_u(i, j));
          grad_mean(i, j) += static_cast<Scalar>(-g * alpha / deviation);
          grad_log_spread(i, j) += static_cast<Scalar>(-g * r * alpha * alpha * s * s / (v * deviation));
        });
    const ConstMatrix<Scalar, Space> context = baseline.context;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::baseline_gradient", Kokkos::RangePolicy<Space>(space, 0, d * k + 2 * d),
        KOKKOS_LAMBDA(const std::size_t e) {
          double sum = 0;
          if (e < d * k) {
            const std::size_t j = e / k, c = e % k;
            for (std::size_t i = 0; i < n; ++i) sum += double(grad_mean(i, j)) * double(context(i, c));
          } else if (e < d * k + d) {
            for (std::size_t i = 0; i < n; ++i) sum += double(grad_mean(i, e - d * k));
          } else {
            for (std::size_t i = 0; i < n; ++i) sum += double(grad_log_spread(i, e - d * k - d));
          }
          gradient(e) += static_cast<Scalar>(sum);
        });
  }

  /// grad_x(i, c) = (grad_x(i, c) + Σ_j ∂L/∂m_ij·B_jc) / x_std_c: the network's context gradient (already in grad_x)
  /// plus the baseline mean m = B·c + b's, then through the z-scoring c = (x − x_mean)/x_std.
  static void context_gradient(const Space& space, const Baseline& baseline, const ConstMatrix<Scalar, Space>& grad_mean,
                               const ConstVector<Scalar, Space>& x_std, const Matrix<Scalar, Space>& grad_x) {
    const std::size_t d = baseline.d, k = baseline.k;
    const ConstVector<Scalar, Space> values = baseline.values;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::context_gradient",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {grad_x.extent(0), k}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t c) {
          double sum = double(grad_x(i, c));
          for (std::size_t j = 0; j < d; ++j) sum += double(grad_mean(i, j)) * double(values(j * k + c));
          grad_x(i, c) = static_cast<Scalar>(sum / double(x_std(c)));
        });
  }

  /// u = (y − α m)/√v at one time t for every row (sampling and log_prob), mean = m.
  static void normalize_rows(const Space& space, const Path& path, const Baseline& baseline, double t,
                             const ConstMatrix<Scalar, Space>& y, const Matrix<Scalar, Space>& mean,
                             const Matrix<Scalar, Space>& u, const Vector<Scalar, Space>& time) {
    const std::size_t d = baseline.d;
    const double alpha = path.alpha(t), sigma = path.sigma(t);
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::normalize", Kokkos::RangePolicy<Space>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          time(i) = static_cast<Scalar>(t);
          for (std::size_t j = 0; j < d; ++j) {
            const double m = baseline.mean(i, j), s = baseline.spread(j);
            mean(i, j) = static_cast<Scalar>(m);
            u(i, j) = static_cast<Scalar>((double(y(i, j)) - alpha * m) / math::sqrt(alpha * alpha * s * s + sigma * sigma));
          }
        });
  }

  /// The path's coefficients at one time t, and for a diffusion its SDE's drift f and g² (0 for flow matching,
  /// where f = α'/α is undefined at t = 1).
  struct PathAt {
    double alpha, sigma, alpha_rate, sigma_rate, drift = 0, g2 = 0;
    PathAt(const Path& path, double t)
        : alpha(path.alpha(t)), sigma(path.sigma(t)), alpha_rate(path.alpha_rate(t)), sigma_rate(path.sigma_rate(t)) {
      if constexpr (Path::kind == VectorFieldKind::score) {
        drift = path_drift(path, t);
        g2 = path_diffusion_squared(path, t);
      }
    }
  };

  /// What the samplers and log_prob integrate, from the network output: `ode` — the probability-flow velocity;
  /// `sde_drift` — the reverse-time drift f·y − g²·s of Euler–Maruyama.
  enum class FieldKind { ode, sde_drift };
  static void combine_field(const Space& space, const Path& path, const Baseline& baseline, double t, FieldKind what,
                            const ConstMatrix<Scalar, Space>& y, const ConstMatrix<Scalar, Space>& mean,
                            const ConstMatrix<Scalar, Space>& net, const Matrix<Scalar, Space>& out) {
    const std::size_t d = baseline.d;
    const PathAt at(path, t);
    const double alpha = at.alpha, sigma = at.sigma, alpha_rate = at.alpha_rate, sigma_rate = at.sigma_rate,
                 drift = at.drift, g2 = at.g2;
    const double score_factor = what == FieldKind::ode ? 0.5 * g2 : g2;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::field",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {y.extent(0), d}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) {
          const double m = double(mean(i, j)), s = baseline.spread(j), value = double(y(i, j));
          const double v = alpha * alpha * s * s + sigma * sigma;
          if (is_velocity) {
            const double v_rate = 2 * alpha * alpha_rate * s * s + 2 * sigma * sigma_rate;
            out(i, j) = static_cast<Scalar>(alpha_rate * m + v_rate / (2 * v) * (value - alpha * m) + double(net(i, j)));
          } else {
            const double score = -(value - alpha * m) / v - double(net(i, j)) / sigma;
            out(i, j) = static_cast<Scalar>(drift * value - score_factor * score);
          }
        });
  }

  /// state(i, d) += Σ_j ∂v_j/∂y_j: the affine part exactly, the network's from grad_u = probeᵀ·∂F/∂u — exact trace:
  /// one call per j with a unit probe (`only` = j, probe empty); Hutchinson: one call with Rademacher probes.
  static void add_divergence(const Space& space, const Path& path, const Baseline& baseline, double t,
                             const ConstMatrix<Scalar, Space>& grad_u, const ConstMatrix<Scalar, Space>& probe,
                             std::size_t only, const Matrix<Scalar, Space>& state) {
    const std::size_t d = baseline.d;
    const PathAt at(path, t);
    const double alpha = at.alpha, sigma = at.sigma, alpha_rate = at.alpha_rate, sigma_rate = at.sigma_rate,
                 drift = at.drift, g2 = at.g2;
    const bool exact = probe.data() == nullptr;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::divergence", Kokkos::RangePolicy<Space>(space, 0, state.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double sum = 0;
          for (std::size_t j = 0; j < d; ++j) {
            if (exact && j != only) continue;
            const double s = baseline.spread(j);
            const double v = alpha * alpha * s * s + sigma * sigma, deviation = math::sqrt(v);
            const double network = exact ? double(grad_u(i, j)) : double(grad_u(i, j)) * double(probe(i, j));
            double affine, scale;
            if (is_velocity) {
              affine = (2 * alpha * alpha_rate * s * s + 2 * sigma * sigma_rate) / (2 * v);
              scale = 1.0 / deviation;
            } else {
              affine = drift + 0.5 * g2 / v;
              scale = 0.5 * g2 / (sigma * deviation);
            }
            sum += network * scale + affine;
          }
          state(i, d) += static_cast<Scalar>(sum);
        });
  }

  static void finish_log_prob(const Space& space, const Path& path, const ConstMatrix<Scalar, Space>& state,
                              const ConstVector<Scalar, Space>& values, const ConstMatrix<Scalar, Space>& context,
                              std::size_t d, std::size_t k, double log_det, const Vector<Scalar, Space>& out) {
    const Baseline baseline{values, context, d, k};
    const double t = path.t_max, alpha = path.alpha(t), sigma = path.sigma(t);
    constexpr double log_two_pi = 1.8378770664093454836;
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::log_prob", Kokkos::RangePolicy<Space>(space, 0, state.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          double total = double(state(i, d)) + log_det;
          for (std::size_t j = 0; j < d; ++j) {
            const double s = baseline.spread(j), v = alpha * alpha * s * s + sigma * sigma;
            const double r = double(state(i, j)) - alpha * baseline.mean(i, j);
            total += -0.5 * (log_two_pi + math::log(v) + r * r / v);
          }
          out(i) = static_cast<Scalar>(total);
        });
  }

  static void copy_into_state(const Space& space, const ConstMatrix<Scalar, Space>& y, const Matrix<Scalar, Space>& state) {
    const std::size_t d = y.extent(1);
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::state", Kokkos::RangePolicy<Space>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          for (std::size_t j = 0; j < d; ++j) state(i, j) = y(i, j);
          state(i, d) = Scalar(0);
        });
  }

  static void copy_from_state(const Space& space, const ConstMatrix<Scalar, Space>& state, const Matrix<Scalar, Space>& y) {
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::unpack",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {y.extent(0), y.extent(1)}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { y(i, j) = state(i, j); });
  }

  /// y at t_max: the baseline's marginal N(α m, v) with noise from rng.row(i).
  static void initial_rows(const Space& space, const Path& path, const Baseline& baseline, BatchRandom rng,
                           const Matrix<Scalar, Space>& y) {
    const std::size_t d = baseline.d;
    const double t = path.t_max, alpha = path.alpha(t), sigma = path.sigma(t);
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::initial", Kokkos::RangePolicy<Space>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom random = rng.row(i);
          for (std::size_t j = 0; j < d; ++j) {
            const double s = baseline.spread(j);
            y(i, j) = static_cast<Scalar>(alpha * baseline.mean(i, j) + math::sqrt(alpha * alpha * s * s + sigma * sigma) * random.normal());
          }
        });
  }

  /// One Euler–Maruyama step backwards in time: y += drift·h + g√h·z (h > 0, drift = the reverse drift).
  static void euler_maruyama_rows(const Space& space, BatchRandom rng, double h, double g,
                                  const ConstMatrix<Scalar, Space>& drift, const Matrix<Scalar, Space>& y) {
    const std::size_t d = y.extent(1);
    const double noise_scale = g * std::sqrt(h);
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::euler_maruyama", Kokkos::RangePolicy<Space>(space, 0, y.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom random = rng.row(i);
          for (std::size_t j = 0; j < d; ++j)
            y(i, j) = static_cast<Scalar>(double(y(i, j)) - h * double(drift(i, j)) + noise_scale * random.normal());
        });
  }

  /// Rademacher probes ±1 for Hutchinson's estimator.
  static void rademacher_rows(const Space& space, BatchRandom rng, const Matrix<Scalar, Space>& probe) {
    const std::size_t d = probe.extent(1);
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::probe", Kokkos::RangePolicy<Space>(space, 0, probe.extent(0)),
        KOKKOS_LAMBDA(const std::size_t i) {
          RowRandom random = rng.row(i);
          for (std::size_t j = 0; j < d; ++j) probe(i, j) = (random.next_u32() & 1u) ? Scalar(1) : Scalar(-1);
        });
  }

  static void unit_rows(const Space& space, std::size_t only, const Matrix<Scalar, Space>& probe) {
    Kokkos::parallel_for(
        "osbi::vector_field::VectorFieldEstimator::unit_probe",
        Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>(space, {0, 0}, {probe.extent(0), probe.extent(1)}),
        KOKKOS_LAMBDA(const std::size_t i, const std::size_t j) { probe(i, j) = j == only ? Scalar(1) : Scalar(0); });
  }

private:
  static constexpr const char* part = "osbi::VectorFieldEstimator";

  static const Options& check(const Options& options) {
    options.path.check();
    require(std::isfinite(options.time_prior_exponent) && options.time_prior_exponent >= 0, part,
            "time_prior_exponent = ", options.time_prior_exponent, " must be finite and >= 0");
    check_sampler(options.sampler);
    return options;
  }
  static const VectorFieldSamplerOptions& check_sampler(const VectorFieldSamplerOptions& sampler) {
    require(sampler.method == SamplingMethod::ode || Path::kind == VectorFieldKind::score, part,
            "SamplingMethod::sde needs a score model (a diffusion path); flow matching samples with its ODE");
    require(sampler.method == SamplingMethod::ode || sampler.sde_steps > 0, part, "sampler.sde_steps must be > 0");
    require(sampler.method == SamplingMethod::sde || sampler.ode.method == OdeMethod::dopri5 || sampler.ode.steps > 0,
            part, "sampler.ode.steps must be > 0 for a fixed-step method");
    return sampler;
  }

  /// The network's parameters and gradients live at the head of m_parameters / m_gradients.
  void adopt_network() {
    const auto head = std::make_pair(std::size_t{0}, m_network.parameter_count());
    m_network.adopt_storage(Kokkos::subview(m_parameters, head), Kokkos::subview(m_gradients, head));
  }

  std::size_t baseline_count() const { return m_theta_dim * m_context_dim + 2 * m_theta_dim; }
  Vector<Scalar, Space> baseline_view() const {
    const std::size_t start = m_network.parameter_count();
    return Kokkos::subview(m_parameters, std::make_pair(start, start + baseline_count()));
  }
  Vector<Scalar, Space> baseline_gradient_view() const {
    const std::size_t start = m_network.parameter_count();
    return Kokkos::subview(m_gradients, std::make_pair(start, start + baseline_count()));
  }
  Baseline baseline(const ConstMatrix<Scalar, Space>& context) const {
    return Baseline{baseline_view(), context, m_theta_dim, m_context_dim};
  }
  void set_marginal_baseline() {
    auto host = Kokkos::create_mirror_view(baseline_view());
    const std::size_t d = m_theta_dim, k = m_context_dim;
    for (std::size_t e = 0; e < d * k + d; ++e) host(e) = Scalar(0);
    for (std::size_t j = 0; j < d; ++j) host(d * k + d + j) = Scalar(0); // log 1
    Kokkos::deep_copy(baseline_view(), host);
  }

  void check_pairs(const char* step, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x) const {
    detail::check_flow_pairs(part, step, m_theta_dim, m_context_dim, theta, x);
  }

  double regression_loss(const Space& space, const ConstMatrix<Scalar, Space>& theta, const ConstMatrix<Scalar, Space>& x,
                         const ConstVector<Scalar, Space>& weights, BatchRandom rng, const Vector<Scalar, Space>& row_values,
                         LossPass pass, const Matrix<Scalar, Space>& grad_x, const char* step) {
    check_pairs(step, theta, x);
    if (grad_x.data()) {
      require(pass == LossPass::gradient, part, step, ": grad_x needs LossPass::gradient");
      require_extent(grad_x.extent(0), theta.extent(0), part, std::string(step) + ": grad_x's row count (theta's)");
      require_extent(grad_x.extent(1), m_context_dim, part, std::string(step) + ": grad_x's column count (context_dim)");
    }
    const std::size_t n = theta.extent(0);
    require(n > 0, part, step, ": the batch is empty (the mean of no rows is undefined)");
    if (weights.data()) require_extent(weights.extent(0), n, part, std::string(step) + ": weights' size (theta's row count)");
    if (row_values.data()) require_extent(row_values.extent(0), n, part, std::string(step) + ": row_values' size (theta's row count)");
    const auto context = m_context.rows(n), y0 = m_y.rows(n), y_t = m_field.rows(n), noise = m_noise.rows(n),
               mean = m_mean.rows(n), u = m_u.rows(n), net = m_net_out.rows(n);
    const Vector<Scalar, Space> time(m_time.rows(n).data(), n);
    m_standardization.embed(space, x, false, context);
    m_standardization.standardize(space, theta, y0);
    const Baseline base = baseline(context);
    const double exponent = m_options.time_prior_exponent > 0
                                ? (1.0 + m_options.time_prior_exponent) / (2.0 + m_options.time_prior_exponent)
                                : 0.0; // inverse CDF of (1 − s)^{1/(1+α)}: s = 1 − U^{(1+α)/(2+α)}
    noise_rows(space, m_options.path, base, exponent, rng, y0, y_t, noise, mean, u, time);
    const bool gradient = pass == LossPass::gradient;
    if (gradient) m_network.forward(space, u, context, time, net);
    else m_network.evaluate(space, u, context, time, net); // a validation value: nothing kept for a backward pass
    const Matrix<Scalar, Space> grad = gradient ? m_grad.rows(n) : Matrix<Scalar, Space>();
    const Matrix<Scalar, Space> grad_mean = gradient ? m_grad_mean.rows(n) : Matrix<Scalar, Space>();
    const Matrix<Scalar, Space> grad_log_spread = gradient ? m_grad_log_spread.rows(n) : Matrix<Scalar, Space>();
    const double total = regression_rows(space, m_options.path, base, y0, y_t, noise, mean, time, net, weights, row_values,
                                         grad, grad_mean, grad_log_spread);
    if (gradient) {
      const auto grad_u = m_grad_u.rows(n);
      m_network.backward(space, grad, grad_u, ParameterGradients::accumulate, grad_x);
      baseline_gradient(space, m_options.path, base, y_t, mean, time, grad_u, grad_mean, grad_log_spread,
                        baseline_gradient_view());
      // grad_x holds ∂L/∂c through the network; add the baseline mean's part and map c = (x − x_mean)/x_std to x.
      if (grad_x.data()) context_gradient(space, base, grad_mean, m_standardization.x_std(), grad_x);
    }
    return total / static_cast<double>(n);
  }

  /// How a field evaluation runs the network: per row, keeping nothing (VectorFieldNetwork::evaluate); for rows that
  /// share one context (sampling for one observation: forward_shared evaluates the context and time once per call);
  /// or keeping what a backward pass needs (log_prob's divergence: forward).
  enum class NetworkPass { per_row, shared_context, keep_for_backward };

  /// The field the samplers integrate: probability-flow velocity (or the reverse SDE drift) at (y, t).
  void evaluate_field(const Space& space, double t, const ConstMatrix<Scalar, Space>& y,
                      const ConstMatrix<Scalar, Space>& context, FieldKind what, const Matrix<Scalar, Space>& out,
                      NetworkPass pass = NetworkPass::per_row) {
    const std::size_t n = y.extent(0);
    const auto mean = m_mean.rows(n), u = m_u.rows(n), net = m_net_out.rows(n);
    const Vector<Scalar, Space> time(m_time.rows(n).data(), n);
    const Baseline base = baseline(context);
    normalize_rows(space, m_options.path, base, t, y, mean, u, time);
    if (pass == NetworkPass::keep_for_backward)
      m_network.forward(space, u, context, time, net);
    else if (pass == NetworkPass::shared_context && n > 0)
      m_network.forward_shared(space, u, Kokkos::subview(context, std::make_pair(0, 1), Kokkos::ALL), t, net);
    else
      m_network.evaluate(space, u, context, time, net);
    combine_field(space, m_options.path, base, t, what, y, mean, net, out);
  }

  struct SampleField {
    VectorFieldEstimator& estimator;
    ConstMatrix<Scalar, Space> context;
    NetworkPass pass;
    void operator()(const Space& space, double t, const ConstMatrix<Scalar, Space>& y, const Matrix<Scalar, Space>& out) {
      estimator.evaluate_field(space, t, y, context, FieldKind::ode, out, pass);
    }
  };

  /// The augmented field of log_prob: [velocity | divergence] on the state [y | ℓ].
  struct LogProbField {
    VectorFieldEstimator& estimator;
    ConstMatrix<Scalar, Space> context;
    void operator()(const Space& space, double t, const ConstMatrix<Scalar, Space>& state, const Matrix<Scalar, Space>& out) {
      estimator.log_prob_field(space, t, state, context, out);
    }
  };

  void log_prob_field(const Space& space, double t, const ConstMatrix<Scalar, Space>& state,
                      const ConstMatrix<Scalar, Space>& context, const Matrix<Scalar, Space>& out) {
    const std::size_t n = state.extent(0), d = m_theta_dim;
    const auto y = m_y.rows(n), velocity = m_field.rows(n), probe = m_noise.rows(n), grad_u = m_grad.rows(n);
    copy_from_state(space, state, y);
    evaluate_field(space, t, y, context, FieldKind::ode, velocity, NetworkPass::keep_for_backward);
    // out = [velocity | 0], then the divergence is added into its last column.
    copy_into_state(space, velocity, out);
    const Baseline base = baseline(context);
    if (d <= m_options.log_prob.exact_trace_max_dim) {
      for (std::size_t j = 0; j < d; ++j) {
        unit_rows(space, j, probe);
        m_network.backward(space, probe, grad_u, ParameterGradients::discard);
        add_divergence(space, m_options.path, base, t, grad_u, ConstMatrix<Scalar, Space>(), j, out);
      }
    } else {
      // Fixed probes (the same at every t, as FFJORD): the estimate is a smooth function of θ.
      rademacher_rows(space, RandomStream(0x5eed, 0x4c6f6750).next(), probe);
      m_network.backward(space, probe, grad_u, ParameterGradients::discard);
      add_divergence(space, m_options.path, base, t, grad_u, probe, 0, out);
    }
  }

  void draw(const Space& space, const ConstMatrix<Scalar, Space>& x, bool broadcast, std::size_t n, BatchRandom rng,
            const Matrix<Scalar, Space>& theta) {
    if (n == 0) return;
    const auto context = m_context.rows(n);
    m_standardization.embed(space, x, broadcast, context);
    Matrix<Scalar, Space> y(Kokkos::view_alloc(Kokkos::WithoutInitializing, label("vector_field", "VectorFieldEstimator", "sample_y")), n,
                            m_theta_dim);
    const Path path = m_options.path;
    initial_rows(space, path, baseline(context), rng.split(0), y);
    const VectorFieldSamplerOptions& sampler = m_options.sampler;
    const NetworkPass pass = broadcast ? NetworkPass::shared_context : NetworkPass::per_row;
    if (sampler.method == SamplingMethod::ode) {
      SampleField field{*this, context, pass};
      m_last_solve = solve_ode<Scalar>(space, field, y, path.t_max, path.t_min, sampler.ode);
    } else {
      const double h = (path.t_max - path.t_min) / static_cast<double>(sampler.sde_steps);
      const auto drift = m_field.rows(n);
      m_last_solve = OdeSolveReport{sampler.sde_steps, sampler.sde_steps, 0};
      for (std::size_t step = 0; step < sampler.sde_steps; ++step) {
        const double t = path.t_max - h * static_cast<double>(step);
        evaluate_field(space, t, y, context, FieldKind::sde_drift, drift, pass);
        euler_maruyama_rows(space, rng.split(static_cast<std::uint32_t>(step + 1)), h,
                            std::sqrt(std::max(path_diffusion_squared(path, t), 0.0)), drift, y);
      }
    }
    m_standardization.unstandardize(space, y, theta);
  }

  std::size_t m_theta_dim, m_context_dim;
  Options m_options;
  VectorFieldNetwork<Scalar, Space> m_network;
  detail::FlowStandardization<Scalar, Space> m_standardization;
  Vector<Scalar, Space> m_parameters, m_gradients;
  OdeSolveReport m_last_solve{};
  Buffer m_y, m_u, m_mean, m_noise, m_net_out, m_grad, m_context, m_field, m_time, m_grad_u, m_grad_mean, m_grad_log_spread;
};

} // namespace osbi
