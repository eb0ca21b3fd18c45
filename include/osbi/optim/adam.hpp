// SPDX-License-Identifier: BSD-3-Clause
/// \brief Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter) with torch.optim.Adam/AdamW semantics: one fused kernel per step.
#pragma once

#include <osbi/nn/kernels/activation.hpp>
#include <osbi/optim/optimizer.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace osbi::optim {

namespace detail {

enum class AdamDecay { none, l2, decoupled };

/// One Adam update per parameter (Adam's class comment). A functor with the weight decay as a template argument:
/// a run-time test of it inside the loop body ("control flow in loop") kept GCC's loop scalar, and so did
/// std::sqrt (errno): float takes the branch-free square root of the activations (a tenth of a vector-field
/// training step went to the scalar loop).
template <class Scalar, class ExecutionSpace, AdamDecay Decay>
struct AdamUpdate {
  Vector<Scalar, ExecutionSpace> theta, exp_avg, exp_avg_sq;
  ConstVector<Scalar, ExecutionSpace> grad;
  Scalar negative_step_size, bias_correction2_sqrt, epsilon, beta1, one_minus_beta1, beta2, one_minus_beta2,
      weight_decay, decay_factor;

  KOKKOS_FUNCTION void operator()(const std::size_t i) const {
    Scalar g = grad(i);
    Scalar p = theta(i);
    if constexpr (Decay == AdamDecay::decoupled) p = p * decay_factor;
    if constexpr (Decay == AdamDecay::l2) g = g + weight_decay * p;
    const Scalar m = exp_avg(i) * beta1 + one_minus_beta1 * g;
    const Scalar v = exp_avg_sq(i) * beta2 + one_minus_beta2 * g * g;
    const Scalar denominator = nn::activation::sqrt_nonnegative(v) / bias_correction2_sqrt + epsilon;
    exp_avg(i) = m;
    exp_avg_sq(i) = v;
    theta(i) = p + negative_step_size * (m / denominator);
  }
};

} // namespace detail

/// Weight decay added to the gradient (g += λ·θ) before the moments: torch.optim.Adam's weight_decay.
struct L2WeightDecay {
  static constexpr std::string_view name = "Adam";
  static constexpr double default_weight_decay = 0.0;
};

/// Weight decay applied to the parameters directly (θ ← θ·(1 − lr·λ)) and kept out of the moments:
/// AdamW, torch.optim.AdamW's weight_decay (default 1e-2 as in PyTorch).
struct DecoupledWeightDecay {
  static constexpr std::string_view name = "AdamW";
  static constexpr double default_weight_decay = 1e-2;
};

template <class Mode>
concept WeightDecayMode = std::same_as<Mode, L2WeightDecay> || std::same_as<Mode, DecoupledWeightDecay>;

/// Hyperparameters; defaults as sbi (lr 5e-4) and PyTorch (betas, eps, weight decay of the mode).
template <WeightDecayMode Mode = L2WeightDecay>
struct AdamOptions {
  double learning_rate = 5e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = Mode::default_weight_decay;
};

using AdamWOptions = AdamOptions<DecoupledWeightDecay>;

namespace detail {

/// Empty when the options are in their domain, else what is wrong (the caller picks the exception:
/// InvalidArgument for a caller's options, DataError for a loaded state). `zero_learning_rate_ok`:
/// a state saved after a schedule reached lr = 0 is valid, a constructor's lr = 0 is a mistake.
template <class Mode>
std::string adam_options_problem(const AdamOptions<Mode>& options, bool zero_learning_rate_ok) {
  const double lr = options.learning_rate;
  if (!std::isfinite(lr) || lr < 0.0 || (lr == 0.0 && !zero_learning_rate_ok))
    return osbi::detail::concat("learning_rate = ", lr, zero_learning_rate_ok ? " must be finite and >= 0" : " must be finite and > 0");
  if (!(options.beta1 >= 0.0 && options.beta1 < 1.0))
    return osbi::detail::concat("beta1 = ", options.beta1, " must be in [0, 1)");
  if (!(options.beta2 >= 0.0 && options.beta2 < 1.0))
    return osbi::detail::concat("beta2 = ", options.beta2, " must be in [0, 1)");
  if (!std::isfinite(options.epsilon) || !(options.epsilon > 0.0))
    return osbi::detail::concat("epsilon = ", options.epsilon, " must be finite and > 0");
  if (!std::isfinite(options.weight_decay) || !(options.weight_decay >= 0.0))
    return osbi::detail::concat("weight_decay = ", options.weight_decay, " must be finite and >= 0");
  return {};
}

} // namespace detail

/*
 * Adam over one flat buffer, exactly torch.optim.Adam / AdamW (amsgrad=False, maximize=False) for
 * step t = step_count() + 1, with g the gradient and θ the parameters:
 *
 *   L2WeightDecay:        g ← g + λ·θ
 *   DecoupledWeightDecay: θ ← θ·(1 − lr·λ)
 *   m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g·g
 *   θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * ε is added AFTER dividing √v by √(1 − β2^t), as PyTorch does (not to √v̂ of the paper's line 11
 * before bias correction). The step-dependent coefficients are computed on the host in double and
 * rounded to Scalar once; the element-wise arithmetic is in Scalar, in PyTorch's order, so a float
 * optimizer tracks torch's float tensors to rounding. The moments (m: "exp_avg", v: "exp_avg_sq",
 * PyTorch's names) are allocated, zeroed, at construction for `parameter_count` entries.
 * Element-wise only: Serial, OpenMP and device backends give the same bits.
 */
template <std::floating_point Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace,
          WeightDecayMode Mode = L2WeightDecay>
class Adam {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;
  using options_type = AdamOptions<Mode>;
  using weight_decay_mode = Mode;
  static constexpr std::string_view kind = Mode::name;

  /// Throws InvalidArgument (naming the option and its value) for options outside their domain.
  explicit Adam(std::size_t parameter_count, const options_type& options = {})
      : m_options(options),
        m_exp_avg(label("optim", kind, "exp_avg"), parameter_count),
        m_exp_avg_sq(label("optim", kind, "exp_avg_sq"), parameter_count) {
    const std::string problem = detail::adam_options_problem(options, false);
    if (!problem.empty()) throw InvalidArgument(std::string(kind), problem);
  }

  std::size_t parameter_count() const { return m_exp_avg.extent(0); }
  const options_type& options() const { return m_options; }
  double learning_rate() const { return m_options.learning_rate; }
  std::uint64_t step_count() const { return m_step; }

  /// lr for the following steps (schedules call this before each step); finite and >= 0.
  void set_learning_rate(double learning_rate) {
    require(std::isfinite(learning_rate) && learning_rate >= 0.0, kind, "set_learning_rate(", learning_rate,
            "): the learning rate must be finite and >= 0");
    m_options.learning_rate = learning_rate;
  }

  /// One update of `parameters` in place from `gradients` (see the class comment); both must have
  /// parameter_count() entries (DimensionMismatch naming both sizes, before anything is enqueued).
  void step(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& parameters,
            const ConstVector<Scalar, ExecutionSpace>& gradients) {
    detail::check_step_sizes(kind, parameter_count(), parameters.extent(0), gradients.extent(0));
    const double t = static_cast<double>(m_step + 1);
    const double lr = m_options.learning_rate, beta1 = m_options.beta1, beta2 = m_options.beta2;
    const double bias_correction1 = 1.0 - std::pow(beta1, t);
    const double bias_correction2 = 1.0 - std::pow(beta2, t);
    // Trivially copyable locals for the kernel (never capture `this`).
    const Scalar negative_step_size = static_cast<Scalar>(-(lr / bias_correction1));
    const Scalar bias_correction2_sqrt = static_cast<Scalar>(std::sqrt(bias_correction2));
    const Scalar epsilon = static_cast<Scalar>(m_options.epsilon);
    const Scalar beta1_s = static_cast<Scalar>(beta1), one_minus_beta1 = static_cast<Scalar>(1.0 - beta1);
    const Scalar beta2_s = static_cast<Scalar>(beta2), one_minus_beta2 = static_cast<Scalar>(1.0 - beta2);
    const Scalar weight_decay = static_cast<Scalar>(m_options.weight_decay);
    const Scalar decay_factor = static_cast<Scalar>(1.0 - lr * m_options.weight_decay);
    const Kokkos::RangePolicy<ExecutionSpace> policy(space, 0, parameter_count());
    const auto update = [&]<detail::AdamDecay Decay>() {
      Kokkos::parallel_for(label("optim", kind, "step"), policy,
                           detail::AdamUpdate<Scalar, ExecutionSpace, Decay>{
                               parameters, m_exp_avg, m_exp_avg_sq, gradients, negative_step_size,
                               bias_correction2_sqrt, epsilon, beta1_s, one_minus_beta1, beta2_s, one_minus_beta2,
                               weight_decay, decay_factor});
    };
    if (m_options.weight_decay == 0.0) update.template operator()<detail::AdamDecay::none>();
    else if constexpr (std::same_as<Mode, DecoupledWeightDecay>) update.template operator()<detail::AdamDecay::decoupled>();
    else update.template operator()<detail::AdamDecay::l2>();
    ++m_step;
  }

  /// The first and second moments (live handles).
  Vector<Scalar, ExecutionSpace> exp_avg() const { return m_exp_avg; }
  Vector<Scalar, ExecutionSpace> exp_avg_sq() const { return m_exp_avg_sq; }

  /// Kind "Adam"/"AdamW"; buffers exp_avg, exp_avg_sq (live handles); reals learning_rate, beta1,
  /// beta2, epsilon, weight_decay; counter step.
  OptimizerState<Scalar, ExecutionSpace> state() const {
    OptimizerState<Scalar, ExecutionSpace> state;
    state.kind = std::string(kind);
    state.buffers = {{"exp_avg", m_exp_avg}, {"exp_avg_sq", m_exp_avg_sq}};
    state.reals = {{"learning_rate", m_options.learning_rate},
                   {"beta1", m_options.beta1},
                   {"beta2", m_options.beta2},
                   {"epsilon", m_options.epsilon},
                   {"weight_decay", m_options.weight_decay}};
    state.counters = {{"step", m_step}};
    return state;
  }

  /// Restores hyperparameters, step count and moments from `state` (see the Optimizer spec): all
  /// of it is validated before anything changes, so a rejected state leaves this optimizer as it was.
  void load_state(const ExecutionSpace& space, const OptimizerState<Scalar, ExecutionSpace>& state) {
    const std::string part = std::string(kind) + "::load_state";
    require<DataError>(state.kind == kind, part, "the state is of an optimizer of kind '", state.kind, "', this is ",
                       kind);
    const auto check_names = [&](const auto& map, std::initializer_list<std::string_view> names, std::string_view what) {
      bool same = map.size() == names.size();
      for (std::string_view name : names) same = same && map.count(std::string(name)) == 1;
      if (!same) {
        std::string found, expected;
        for (const auto& entry : map) found += (found.empty() ? "" : ", ") + entry.first;
        for (std::string_view name : names) expected += (expected.empty() ? "" : ", ") + std::string(name);
        throw DataError(part, osbi::detail::concat("the state's ", what, " are {", found, "}, expected {", expected, "}"));
      }
    };
    check_names(state.buffers, {"exp_avg", "exp_avg_sq"}, "buffers");
    check_names(state.reals, {"learning_rate", "beta1", "beta2", "epsilon", "weight_decay"}, "reals");
    check_names(state.counters, {"step"}, "counters");
    for (const auto& [name, buffer] : state.buffers)
      require_extent(buffer.extent(0), parameter_count(), part, "the state's buffer '" + name + "'");
    options_type options;
    options.learning_rate = state.reals.at("learning_rate");
    options.beta1 = state.reals.at("beta1");
    options.beta2 = state.reals.at("beta2");
    options.epsilon = state.reals.at("epsilon");
    options.weight_decay = state.reals.at("weight_decay");
    const std::string problem = detail::adam_options_problem(options, true);
    if (!problem.empty()) throw DataError(part, "the state's " + problem);

    Kokkos::deep_copy(space, m_exp_avg, state.buffers.at("exp_avg"));
    Kokkos::deep_copy(space, m_exp_avg_sq, state.buffers.at("exp_avg_sq"));
    space.fence();
    m_options = options;
    m_step = state.counters.at("step");
  }

private:
  options_type m_options;
  Vector<Scalar, ExecutionSpace> m_exp_avg;
  Vector<Scalar, ExecutionSpace> m_exp_avg_sq;
  std::uint64_t m_step = 0;
};

/// AdamW: Adam with decoupled weight decay (default λ = 1e-2, as torch.optim.AdamW).
template <std::floating_point Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
using AdamW = Adam<Scalar, ExecutionSpace, DecoupledWeightDecay>;

} // namespace osbi::optim
