// SPDX-License-Identifier: BSD-3-Clause
/// \brief A pollutant plume: 2-D advection–diffusion with a Gaussian source on the periodic unit square, one batch
/// of simulations advanced per kernel launch.
#pragma once

#include <osbi/simulator/simulator.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/prior/box_uniform.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace osbi {

/// Run-time settings of AdvectionDiffusion (checked by its constructor).
struct AdvectionDiffusionOptions {
  std::size_t grid = 64;             ///< N: the field has N × N cells of side h = 1/N
  std::size_t observation_grid = 32; ///< M: x holds the M × M block means of the final field; M divides N
  double final_time = 1.0;           ///< T
  double additive_noise = 0.02;      ///< σ_a of the observation noise (>= 0)
  double relative_noise = 0.05;      ///< σ_r of the observation noise (>= 0)
  std::int64_t max_steps = 100000;   ///< a row whose stable time step needs more steps than this fails (NaN)
};

/// Why a row of AdvectionDiffusion::simulate is (or is not) NaN.
enum class AdvectionDiffusionStatus : int {
  success = 0,
  non_finite_theta = 1,     ///< θ holds NaN or ±Inf, or 10^θ₀ or 10^θ₅ overflows double
  step_budget_exceeded = 2, ///< stability needs more than options.max_steps time steps (huge D or |v|)
  non_finite_result = 3,    ///< the field or the noisy observation overflowed the scalar type
};

namespace detail {

/// Everything the kernels need for one row, worked out on the host in double.
struct AdvectionDiffusionRowPlan {
  AdvectionDiffusionStatus status = AdvectionDiffusionStatus::non_finite_theta;
  std::int64_t steps = 0; ///< K; dt = T / K
  double time_step = 0.0;
  double diffusivity = 0.0, source_rate = 0.0;
  double velocity_x = 0.0, velocity_y = 0.0, source_x = 0.0, source_y = 0.0;
  /// u_new(i, j) = Σ weight · u at (i, j), (i−1, j), (i+1, j), (i, j−1), (i, j+1): centre, west, east, south, north.
  std::array<double, 5> weights{};
};

inline AdvectionDiffusionRowPlan plan_advection_diffusion_row(const AdvectionDiffusionOptions& options,
                                                              const std::array<double, 6>& theta,
                                                              double stability_fraction) {
  AdvectionDiffusionRowPlan plan;
  for (double value : theta)
    if (!std::isfinite(value)) return plan;
  plan.diffusivity = std::pow(10.0, theta[0]);
  plan.source_rate = std::pow(10.0, theta[5]);
  if (!std::isfinite(plan.diffusivity) || !std::isfinite(plan.source_rate)) return plan;
  plan.velocity_x = theta[1];
  plan.velocity_y = theta[2];
  plan.source_x = theta[3];
  plan.source_y = theta[4];
  const double cells = static_cast<double>(options.grid);
  // Σ of the four neighbour weights per unit time; the centre weight 1 − dt·rate must stay >= 0.
  const double rate =
      (std::fabs(plan.velocity_x) + std::fabs(plan.velocity_y)) * cells + 4.0 * plan.diffusivity * cells * cells;
  const double steps = std::ceil(options.final_time * rate / stability_fraction);
  if (!(steps <= static_cast<double>(options.max_steps))) { // NaN-safe
    plan.status = AdvectionDiffusionStatus::step_budget_exceeded;
    return plan;
  }
  plan.steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(steps));
  plan.time_step = options.final_time / static_cast<double>(plan.steps);
  const double courant = plan.time_step * cells, diffusion = plan.time_step * plan.diffusivity * cells * cells;
  const double west = courant * std::fmax(plan.velocity_x, 0.0) + diffusion;
  const double east = courant * std::fmax(-plan.velocity_x, 0.0) + diffusion;
  const double south = courant * std::fmax(plan.velocity_y, 0.0) + diffusion;
  const double north = courant * std::fmax(-plan.velocity_y, 0.0) + diffusion;
  plan.weights = {1.0 - (west + east + south + north), west, east, south, north};
  plan.status = AdvectionDiffusionStatus::success;
  return plan;
}

/// g(c) = exp(−d²/2σ²)/(h·Σ), d the periodic distance from (i + ½)h to `centre`: Σ_i g(i)·h = 1 exactly up to
/// rounding, so the discrete source integrates to its rate whatever N.
inline void periodic_gaussian_profile(double centre, double width, std::size_t cells, double scale, double* out) {
  const double h = 1.0 / static_cast<double>(cells);
  double sum = 0.0;
  for (std::size_t i = 0; i < cells; ++i) {
    const double distance = std::remainder((static_cast<double>(i) + 0.5) * h - centre, 1.0);
    out[i] = std::exp(-0.5 * (distance / width) * (distance / width));
    sum += out[i];
  }
  for (std::size_t i = 0; i < cells; ++i)
    out[i] *= scale / (sum * h);
}

} // namespace detail

/*
 * AdvectionDiffusion — a pollutant released at a constant rate from a Gaussian source into a uniform flow.
 *
 * Model. Concentration u(x, y, t) on the unit square with periodic boundaries, u(·, 0) = 0:
 *     u_t + v·∇u = D Δu + q g(x, y),   g = periodic Gaussian of width σ_s = 0.05 centred at (x₀, y₀), ∫g = 1,
 * simulated to t = T (default 1). θ = (log₁₀ D, v_x, v_y, x₀, y₀, log₁₀ q): D = 10^θ₀, q = 10^θ₅.
 * A continuous source rather than an initial blob: a blob only translates and spreads, so the final field
 * identifies x₀ + vT but not x₀ and v apart; the plume runs from the source along v, so all six are visible.
 * Periodic rather than zero-flux walls: a uniform flow through a wall with no flux piles mass up against it
 * (no physical meaning), whereas periodic boundaries keep the flow uniform, make the discrete scheme exactly
 * conservative (total mass = qt) and give closed-form solutions (sums of Gaussian images) to test against.
 * The prior keeps |v|T <= 0.71 < 1, so a plume never wraps onto itself.
 *
 * Discretization. Cell-centred N × N grid, h = 1/N, forward Euler with first-order upwind advection and
 * the 5-point central Laplacian; for each row dt = T/K, K = ⌈T·λ/0.9⌉, λ = (|v_x| + |v_y|)/h + 4D/h²,
 * from that row's own θ. Then every weight of the update
 *     u' = c₀u + c_W u_{i−1} + c_E u_{i+1} + c_S u_{j−1} + c_N u_{j+1} + w dt q g,
 *     c_W = dt(v_x⁺/h + D/h²), c_E = dt(v_x⁻/h + D/h²), c_S, c_N likewise in y, c₀ = 1 − dt·λ >= 0.1
 *     (v⁺ = max(v, 0), v⁻ = max(−v, 0); w = 1 except ½ on the last step),
 * is non-negative and they sum to 1: the scheme is stable, monotone (u >= 0, u <= T·max(q g)) and conserves
 * mass exactly. The source is the discretely normalised sampled Gaussian (Σ g h² = 1) and is integrated by
 * the trapezoidal rule in time (u⁰ = ½dt q g and the last step's ½), so mass = qT, the centroid
 * of the pure-advection plume is x₀ + vT/2 and the variance of the pure-diffusion plume σ_g² + DT hold
 * exactly, σ_g² being the discrete variance of g. Upwinding adds numerical diffusion |v_x|h(1 − |v_x|dt/h)/2
 * in x (likewise y): first-order accuracy in h, and below D for cell Péclet numbers |v|h/D < 2 (80% of
 * the prior at N = 64). Inference is about this discrete model; its distance to the PDE at N = 16 … 128 is
 * measured in tests/simulator/test_advection_diffusion.cpp (5% of the peak at N = 128 for Pe = 7).
 *
 * Observation. x = the M × M block means ū of the final field (row-major, y slow; M = N/2 = 32 by default:
 * x_dim = 1024), plus independent noise x_j = ū_j + sqrt(σ_a² + σ_r² ū_j²)·ε_j, ε_j ~ N(0, 1) drawn in the
 * order j = 0 … M² − 1 from rng.row(i) (none drawn when σ_a = σ_r = 0). A row that cannot be simulated is NaN
 * (see AdvectionDiffusionStatus): NaN/±Inf θ, a θ needing more than max_steps steps, an overflow.
 *
 * Prior (prior()): independent uniforms, log₁₀ D ∈ [−3, −1], v_x, v_y ∈ [−0.5, 0.5], x₀, y₀ ∈ [0.25, 0.75],
 * log₁₀ q ∈ [−1, 1]. The source Péclet number Pe = |v|·2σ_s/D then runs from 0 to 70 (median 3.5; 23% of
 * draws below 1: diffusion-dominated, round plumes; 27% above 10: advection-dominated, narrow streaks), and
 * the diffusion length sqrt(2DT) from 0.045 (under one source width) to 0.45 (the whole domain).
 *
 * Cost and launches. The host reads θ (fencing `space`) to plan every row: K, the weights and the source
 * profiles (so the coefficients are the same bits on every backend). Rows are ordered by K, largest first;
 * launch k advances the rows that still have a step to take, ping-ponging between the two N × N buffers of
 * each row in one scratch View (16·N² bytes a row). Each launch is one TeamPolicy over (row, grid line):
 * vector lanes run along the line's interior (coalesced on a GPU, vectorised on a CPU) and one lane does the
 * two periodic ends — measured 3× faster on the host than an MDRange over (row, y, x), whose wrapped
 * neighbour indices keep the compiler from vectorising. On Kokkos::Serial a team launch uses Serial's global
 * team data, so (as DESIGN.md asks of every Kokkos simulator) simulate is not to be called from several host
 * threads at once. The work is Σ_rows K·N² cell updates; at N = 64 a prior draw needs K = 426 steps on
 * average (at most 1892). No reductions: every host backend and thread count gives the same bits; a GPU
 * may differ in the last bits (fused multiply-add).
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class AdvectionDiffusion {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  static constexpr std::size_t parameter_count = 6;
  static constexpr double source_width = 0.05;
  /// dt·λ <= this, so the centre weight c₀ >= 0.1 whatever the rounding.
  static constexpr double stability_fraction = 0.9;

  static AdvectionDiffusionOptions default_options() { return AdvectionDiffusionOptions{}; }

  explicit AdvectionDiffusion(AdvectionDiffusionOptions options = default_options()) : m_options(options) {
    require(options.grid >= 1 && options.grid <= 32768, "osbi::AdvectionDiffusion", "grid = ", options.grid,
            " must be in [1, 32768]");
    require(options.observation_grid >= 1 && options.grid % options.observation_grid == 0, "osbi::AdvectionDiffusion",
            "observation_grid = ", options.observation_grid, " must be >= 1 and divide grid = ", options.grid);
    require(options.final_time > 0.0 && std::isfinite(options.final_time), "osbi::AdvectionDiffusion",
            "final_time = ", options.final_time, " must be finite and > 0");
    require(options.additive_noise >= 0.0 && std::isfinite(options.additive_noise), "osbi::AdvectionDiffusion",
            "additive_noise = ", options.additive_noise, " must be finite and >= 0");
    require(options.relative_noise >= 0.0 && std::isfinite(options.relative_noise), "osbi::AdvectionDiffusion",
            "relative_noise = ", options.relative_noise, " must be finite and >= 0");
    require(options.max_steps >= 1, "osbi::AdvectionDiffusion", "max_steps = ", options.max_steps, " must be >= 1");
  }

  std::size_t theta_dim() const { return parameter_count; }
  std::size_t x_dim() const { return m_options.observation_grid * m_options.observation_grid; }
  const AdvectionDiffusionOptions& options() const { return m_options; }

  /// Independent uniforms: log₁₀ D ∈ [−3, −1], v ∈ [−0.5, 0.5]², (x₀, y₀) ∈ [0.25, 0.75]², log₁₀ q ∈ [−1, 1].
  BoxUniform<Scalar, ExecutionSpace> prior() const {
    return BoxUniform<Scalar, ExecutionSpace>({-3.0, -0.5, -0.5, 0.25, 0.25, -1.0}, {-1.0, 0.5, 0.5, 0.75, 0.75, 1.0});
  }

  /// θ of the held-back observation: D = 0.01, v = (0.3, 0.15), source at (0.35, 0.4), q = 1 (Pe = 3.4, a plume
  /// that is both carried and spread).
  static std::array<double, parameter_count> true_theta() { return {-2.0, 0.3, 0.15, 0.35, 0.4, 0.0}; }

  /// Time steps K the scheme takes for θ (dt = T/K), or 0 where the row fails (non-finite θ, over budget).
  std::int64_t time_steps(const std::array<double, parameter_count>& theta) const {
    return detail::plan_advection_diffusion_row(m_options, theta, stability_fraction).steps;
  }

  /// The Simulator contract (simulator.hpp); failed rows are NaN. Fences `space` to read θ.
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng) const {
    launch(space, theta, x, rng, Vector<int, ExecutionSpace>());
  }

  /// As above, and status(i) = static_cast<int>(AdvectionDiffusionStatus) of row i (0 = success).
  void simulate(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
                const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
                const Vector<int, ExecutionSpace>& status) const {
    require_extent(status.extent(0), theta.extent(0), "osbi::AdvectionDiffusion",
                   "status's length (must equal theta's rows)");
    launch(space, theta, x, rng, status);
  }

private:
  using Policy3 = Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<3>, Kokkos::IndexType<int>>;

  // Implementation below, public only because nvcc's extended lambdas cannot live in private member
  // functions.
public:
  void launch(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& theta,
              const Matrix<Scalar, ExecutionSpace>& x, BatchRandom rng,
              const Vector<int, ExecutionSpace>& status) const {
    check_simulation_shapes("osbi::AdvectionDiffusion", theta, x, theta_dim(), x_dim());
    require(theta.extent(0) <= static_cast<std::size_t>(std::numeric_limits<int>::max()), "osbi::AdvectionDiffusion",
            "theta has ", theta.extent(0), " rows, at most ", std::numeric_limits<int>::max(), " are supported");
    const int rows = static_cast<int>(theta.extent(0));
    if (rows == 0) return;
    const int n = static_cast<int>(m_options.grid), m = static_cast<int>(m_options.observation_grid);
    const int block = n / m;

    // Plan every row on the host, in double.
    space.fence();
    const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    // Zero-filled on `space` itself: a pipeline worker thread may run this, and Kokkos 3.4.1 lets only
    // the thread that initialized Kokkos use the OpenMP backend (the default initializer of host Views).
    const auto on_space = [&](const char* step) { return Kokkos::view_alloc(space, label("simulator", "AdvectionDiffusion", step)); };
    Kokkos::View<double* [5], memory_space> weights(on_space("weights"), rows);
    Kokkos::View<double***, Kokkos::LayoutRight, memory_space> profiles(on_space("source_profiles"), rows, 2, n);
    Kokkos::View<std::int64_t*, memory_space> steps(on_space("steps"), rows);
    Kokkos::View<int*, memory_space> codes(on_space("codes"), rows);
    Kokkos::View<int*, memory_space> order(on_space("order"), rows);
    auto weights_host = Kokkos::create_mirror_view(weights);
    auto profiles_host = Kokkos::create_mirror_view(profiles);
    auto steps_host = Kokkos::create_mirror_view(steps);
    auto codes_host = Kokkos::create_mirror_view(codes);
    auto order_host = Kokkos::create_mirror_view(order);
    for (int r = 0; r < rows; ++r) {
      std::array<double, parameter_count> row_theta{};
      for (std::size_t j = 0; j < parameter_count; ++j)
        row_theta[j] = static_cast<double>(theta_host(r, j));
      const detail::AdvectionDiffusionRowPlan plan =
          detail::plan_advection_diffusion_row(m_options, row_theta, stability_fraction);
      codes_host(r) = static_cast<int>(plan.status);
      steps_host(r) = plan.steps;
      for (int k = 0; k < 5; ++k)
        weights_host(r, k) = plan.weights[k];
      if (plan.status == AdvectionDiffusionStatus::success) {
        detail::periodic_gaussian_profile(plan.source_x, source_width, m_options.grid,
                                          plan.time_step * plan.source_rate, &profiles_host(r, 0, 0));
        detail::periodic_gaussian_profile(plan.source_y, source_width, m_options.grid, 1.0, &profiles_host(r, 1, 0));
      } else {
        for (int c = 0; c < 2; ++c)
          for (int i = 0; i < n; ++i)
            profiles_host(r, c, i) = 0.0;
      }
    }
    std::vector<int> by_steps(static_cast<std::size_t>(rows));
    std::iota(by_steps.begin(), by_steps.end(), 0);
    std::stable_sort(by_steps.begin(), by_steps.end(), [&](int a, int b) { return steps_host(a) > steps_host(b); });
    for (int k = 0; k < rows; ++k)
      order_host(k) = by_steps[static_cast<std::size_t>(k)];
    Kokkos::deep_copy(weights, weights_host);
    Kokkos::deep_copy(profiles, profiles_host);
    Kokkos::deep_copy(steps, steps_host);
    Kokkos::deep_copy(codes, codes_host);
    Kokkos::deep_copy(order, order_host);

    // fields(r, b, y, x): buffer b of row r. Buffer 0 starts as ½ dt q g (first half of the trapezoidal rule).
    Kokkos::View<double****, Kokkos::LayoutRight, memory_space> fields(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, label("simulator", "AdvectionDiffusion", "fields")), rows, 2, n,
        n);
    Kokkos::parallel_for(
        "osbi::simulator::AdvectionDiffusion::initial_field", Policy3(space, {0, 0, 0}, {rows, n, n}),
        KOKKOS_LAMBDA(const int r, const int j, const int i) {
          fields(r, 0, j, i) = 0.5 * profiles(r, 0, i) * profiles(r, 1, j);
        });

    // One launch per time step over the rows that still have one to take (a prefix of `order`): a team per
    // grid line of such a row, its vector lanes along the line's interior, one lane for the two periodic ends.
    using TeamPolicy = Kokkos::TeamPolicy<ExecutionSpace>;
    int active = rows;
    const std::int64_t longest = steps_host(by_steps.front());
    for (std::int64_t step = 0; step < longest; ++step) {
      while (active > 0 && steps_host(by_steps[static_cast<std::size_t>(active - 1)]) <= step)
        --active;
      const int read = static_cast<int>(step % 2), write = 1 - read;
      Kokkos::parallel_for(
          "osbi::simulator::AdvectionDiffusion::step", TeamPolicy(space, active * n, Kokkos::AUTO),
          KOKKOS_LAMBDA(const typename TeamPolicy::member_type& team) {
            const int line = team.league_rank();
            const int r = order(line / n), j = line % n;
            const int south = j == 0 ? n - 1 : j - 1, north = j == n - 1 ? 0 : j + 1;
            const double centre_weight = weights(r, 0), west_weight = weights(r, 1), east_weight = weights(r, 2);
            const double south_weight = weights(r, 3), north_weight = weights(r, 4);
            const double source_y = (step + 1 == steps(r) ? 0.5 : 1.0) * profiles(r, 1, j);
            const double* centre = &fields(r, read, j, 0);
            const double* below = &fields(r, read, south, 0);
            const double* above = &fields(r, read, north, 0);
            const double* source_x = &profiles(r, 0, 0);
            double* out = &fields(r, write, j, 0);
            // Same expression, same order of operations, at every cell: the ends only name other neighbours.
            const auto update = [&](const int i, const int west, const int east) {
              return centre_weight * centre[i] + west_weight * centre[west] + east_weight * centre[east] +
                     south_weight * below[i] + north_weight * above[i] + source_y * source_x[i];
            };
            Kokkos::parallel_for(Kokkos::TeamVectorRange(team, 1, n > 1 ? n - 1 : 1),
                                 [&](const int i) { out[i] = update(i, i - 1, i + 1); });
            Kokkos::single(Kokkos::PerTeam(team), [&]() {
              out[0] = update(0, n - 1, n > 1 ? 1 : 0);
              if (n > 1) out[n - 1] = update(n - 1, n - 2, 0);
            });
          });
    }

    // Block means of the final buffer (K mod 2) into the other buffer's first M × M cells.
    const double inverse_area = 1.0 / static_cast<double>(block * block);
    Kokkos::parallel_for(
        "osbi::simulator::AdvectionDiffusion::block_means", Policy3(space, {0, 0, 0}, {rows, m, m}),
        KOKKOS_LAMBDA(const int r, const int by, const int bx) {
          const int final_buffer = static_cast<int>(steps(r) % 2);
          double sum = 0.0;
          for (int j = by * block; j < (by + 1) * block; ++j)
            for (int i = bx * block; i < (bx + 1) * block; ++i)
              sum += fields(r, final_buffer, j, i);
          fields(r, 1 - final_buffer, by, bx) = sum * inverse_area;
        });

    // Noise from rng.row(r) in the order of x's columns; any non-finite entry makes the whole row NaN.
    const double additive = m_options.additive_noise, relative = m_options.relative_noise;
    const bool noisy = additive > 0.0 || relative > 0.0;
    const bool keep_status = status.extent(0) > 0;
    const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    constexpr int success = static_cast<int>(AdvectionDiffusionStatus::success);
    constexpr int overflow = static_cast<int>(AdvectionDiffusionStatus::non_finite_result);
    Kokkos::parallel_for(
        "osbi::simulator::AdvectionDiffusion::observe",
        Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<int>>(space, 0, rows), KOKKOS_LAMBDA(const int r) {
          int code = codes(r);
          if (code == success) {
            const int means = 1 - static_cast<int>(steps(r) % 2);
            RowRandom generator = rng.row(static_cast<std::uint64_t>(r));
            bool finite = true;
            for (int by = 0; by < m; ++by)
              for (int bx = 0; bx < m; ++bx) {
                const double mean = fields(r, means, by, bx);
                const double value = noisy
                                         ? mean + math::sqrt(additive * additive + relative * relative * mean * mean) *
                                                      generator.normal()
                                         : mean;
                const Scalar rounded = static_cast<Scalar>(value);
                finite = finite && math::isfinite(rounded);
                x(r, by * m + bx) = rounded;
              }
            if (!finite) code = overflow;
          }
          if (code != success)
            for (int j = 0; j < m * m; ++j)
              x(r, j) = nan;
          if (keep_status) status(r) = code;
        });
  }

private:
  AdvectionDiffusionOptions m_options;
};

} // namespace osbi
