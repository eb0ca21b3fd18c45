// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_optimizer(o): run-time conformance check of an Optimizer model against the spec in
/// osbi/optim/optimizer.hpp.
#pragma once

#include <osbi/testing/conformance_report.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>
#include <osbi/optim/optimizer.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace osbi::testing {

namespace check_optimizer_detail {

template <class... Args>
std::string text(const Args&... args) {
  std::ostringstream stream;
  stream.precision(17);
  (stream << ... << args);
  return stream.str();
}

template <class View>
auto host_values(const View& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<typename View::non_const_value_type>(host.data(), host.data() + host.extent(0));
}

template <class Scalar, class Space>
Vector<Scalar, Space> device_vector(const std::vector<Scalar>& values, const char* what) {
  Vector<Scalar, Space> view(label("testing", "check_optimizer", what), values.size());
  const Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(values.data(),
                                                                                                     values.size());
  Kokkos::deep_copy(view, host);
  return view;
}

template <class Scalar>
bool same_bits(const std::vector<Scalar>& a, const std::vector<Scalar>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Scalar)) == 0);
}

/// A state whose buffers are copies (state() hands out live handles).
template <class Scalar, class Space>
optim::OptimizerState<Scalar, Space> deep_copy_state(const optim::OptimizerState<Scalar, Space>& state) {
  optim::OptimizerState<Scalar, Space> copy = state;
  for (auto& [name, buffer] : copy.buffers) {
    Vector<Scalar, Space> fresh(label("testing", "check_optimizer", "state_copy"), buffer.extent(0));
    Kokkos::deep_copy(fresh, buffer);
    buffer = fresh;
  }
  Kokkos::fence();
  return copy;
}

/// The first difference between two states, or "".
template <class Scalar, class Space>
std::string state_difference(const optim::OptimizerState<Scalar, Space>& a,
                             const optim::OptimizerState<Scalar, Space>& b) {
  if (a.kind != b.kind) return text("kind '", a.kind, "' vs '", b.kind, "'");
  if (a.reals != b.reals) return "reals";
  if (a.counters != b.counters) return "counters";
  if (a.buffers.size() != b.buffers.size()) return "buffer names";
  for (const auto& [name, buffer] : a.buffers) {
    const auto other = b.buffers.find(name);
    if (other == b.buffers.end()) return "buffer names";
    if (!same_bits(host_values(buffer), host_values(other->second))) return "buffer '" + name + "'";
  }
  return "";
}

} // namespace check_optimizer_detail

/*
 * check_optimizer(optimizer, seed) — checks at run time what the Optimizer spec (osbi/optim/optimizer.hpp)
 * promises and the concept cannot; each violated promise adds one readable line to the report. The
 * optimizer is stepped and its learning rate set (it is left in some state: use a fresh one):
 *   BOOST_TEST(report.passed(), report.summary()).
 *
 *   parameter_count() > 0; state() has a kind and buffers of parameter_count() entries;
 *   set_learning_rate refuses NaN, ±Inf and negative rates (InvalidArgument, rate unchanged), accepts
 *     0, and learning_rate() returns what was set;
 *   step with parameters or gradients of another length → DimensionMismatch before anything changes
 *     (the step count included); each step adds exactly one to step_count(); gradients are left as
 *     they were; a step with a nonzero gradient and lr > 0 moves the parameters; 20 steps at lr 1e-3
 *     lower ½‖θ − c‖² (a first-order method descends);
 *   after load_state(a copy of state()) and the same parameters, the same steps (with a learning-rate
 *     schedule on step_count()) give bit-identical parameters, step count and rate — even when the
 *     copy's buffers are overwritten right after load_state returns (it must copy them);
 *   load_state of a state of another kind, with a missing or extra name (DataError) or a buffer of
 *     another length (DimensionMismatch) is refused and changes nothing.
 * Views of a wrong length are laid over storage large enough for the right one, so a model that
 * forgets a check cannot write outside it.
 */
template <optim::Optimizer OptimizerType>
ConformanceReport check_optimizer(OptimizerType& optimizer, std::uint64_t seed = 1) {
  using Scalar = typename OptimizerType::scalar_type;
  using Space = typename OptimizerType::execution_space;
  using VectorType = Vector<Scalar, Space>;
  using State = optim::OptimizerState<Scalar, Space>;
  using namespace check_optimizer_detail;

  ConformanceReport report;
  const Space space;
  const std::size_t count = optimizer.parameter_count();
  if (count == 0) {
    report.fail("parameter_count() is 0");
    return report;
  }
  try {
    // Deterministic gradients of the seed and the step, and parameters θ_i = c_i + 1.
    const auto gradient_values = [&](std::uint64_t step) {
      std::vector<Scalar> values(count);
      for (std::size_t i = 0; i < count; ++i)
        values[i] = static_cast<Scalar>(std::sin(0.37 * double(i) + 1.3 * double(step) + double(seed % 97)) + 0.25);
      return values;
    };
    std::vector<Scalar> target(count), start(count);
    for (std::size_t i = 0; i < count; ++i) {
      target[i] = static_cast<Scalar>(0.5 * std::cos(double(i) + double(seed % 89)));
      start[i] = static_cast<Scalar>(static_cast<double>(target[i]) + 1.0);
    }

    // State shape.
    {
      const State state = optimizer.state();
      if (state.kind.empty()) report.fail("state().kind is empty (load_state tells states apart by it)");
      for (const auto& [name, buffer] : state.buffers)
        if (buffer.extent(0) != count)
          report.fail(
              text("state().buffers['", name, "'] has ", buffer.extent(0), " entries, parameter_count() is ", count));
    }

    // Learning rate.
    const double original_rate = optimizer.learning_rate();
    for (const double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), -1e-3}) {
      try {
        optimizer.set_learning_rate(bad);
        report.fail(text("set_learning_rate(", bad, ") did not throw osbi::InvalidArgument"));
      } catch (const InvalidArgument&) {
      }
      if (!(optimizer.learning_rate() == original_rate))
        report.fail(text("a refused set_learning_rate(", bad, ") changed learning_rate() from ", original_rate, " to ",
                         optimizer.learning_rate()));
    }
    optimizer.set_learning_rate(0.0);
    if (optimizer.learning_rate() != 0.0) report.fail("learning_rate() is not 0 after set_learning_rate(0)");
    optimizer.set_learning_rate(1e-3);
    if (optimizer.learning_rate() != 1e-3) report.fail("learning_rate() is not 1e-3 after set_learning_rate(1e-3)");

    // Wrong lengths: DimensionMismatch, nothing changes.
    {
      VectorType storage(label("testing", "check_optimizer", "storage"), 2 * count + 4);
      Kokkos::deep_copy(storage, Scalar(0.5));
      const State before = deep_copy_state(optimizer.state());
      const std::uint64_t steps_before = optimizer.step_count();
      const auto expect_mismatch = [&](std::size_t parameters, std::size_t gradients) {
        const VectorType p(storage.data(), parameters);
        const ConstVector<Scalar, Space> g(storage.data() + count + 2, gradients);
        try {
          optimizer.step(space, p, g);
          space.fence();
          report.fail(text("step with ", parameters, " parameters and ", gradients,
                           " gradients (parameter_count() = ", count, ") did not throw osbi::DimensionMismatch"));
        } catch (const DimensionMismatch&) {
        }
      };
      expect_mismatch(count + 1, count + 1);
      expect_mismatch(count, count + 1);
      expect_mismatch(count - 1, count - 1);
      if (optimizer.step_count() != steps_before)
        report.fail(text("refused steps changed step_count() from ", steps_before, " to ", optimizer.step_count()));
      if (const std::string field = state_difference(before, deep_copy_state(optimizer.state())); !field.empty())
        report.fail(text("refused steps changed the state (", field, ")"));
    }

    // One step: counted once, gradients untouched, parameters moved.
    VectorType parameters = device_vector<Scalar, Space>(start, "parameters");
    {
      const VectorType gradients = device_vector<Scalar, Space>(gradient_values(0), "gradients");
      const std::uint64_t steps_before = optimizer.step_count();
      optimizer.step(space, parameters, gradients);
      space.fence();
      if (optimizer.step_count() != steps_before + 1)
        report.fail(text("one step changed step_count() from ", steps_before, " to ", optimizer.step_count()));
      if (!same_bits(host_values(gradients), gradient_values(0))) report.fail("step modified the gradients");
      if (same_bits(host_values(parameters), start))
        report.fail("a step with a nonzero gradient and learning rate 1e-3 left the parameters as they were");
    }

    // Descent on ½‖θ − c‖² from θ = c + 1.
    {
      const auto loss = [&](const std::vector<Scalar>& theta) {
        double sum = 0;
        for (std::size_t i = 0; i < count; ++i) {
          const double d = static_cast<double>(theta[i]) - static_cast<double>(target[i]);
          sum += 0.5 * d * d;
        }
        return sum;
      };
      VectorType theta = device_vector<Scalar, Space>(start, "descent_parameters");
      const double first = loss(start);
      for (int step = 0; step < 20; ++step) {
        std::vector<Scalar> values = host_values(theta);
        for (std::size_t i = 0; i < count; ++i)
          values[i] = values[i] - target[i];
        optimizer.step(space, theta, device_vector<Scalar, Space>(values, "descent_gradients"));
        space.fence();
      }
      const double last = loss(host_values(theta));
      if (!(last < first))
        report.fail(text("20 steps at learning rate 1e-3 on 0.5 |theta - c|^2 went from ", first, " to ", last,
                         " (a first-order method must descend)"));
    }

    // Resume: the same steps after load_state give the same bits.
    const auto run = [&](const VectorType& theta, int steps) {
      for (int k = 0; k < steps; ++k) {
        optimizer.set_learning_rate(1e-3 * (1.0 + 0.5 * std::cos(0.3 * double(optimizer.step_count()))));
        optimizer.step(space, theta, device_vector<Scalar, Space>(gradient_values(optimizer.step_count()), "grads"));
      }
      space.fence();
    };
    run(parameters, 3);
    const State saved = deep_copy_state(optimizer.state());
    const std::uint64_t saved_steps = optimizer.step_count();
    const std::vector<Scalar> saved_parameters = host_values(parameters);
    run(parameters, 7);
    const std::vector<Scalar> first_parameters = host_values(parameters);
    const std::uint64_t first_steps = optimizer.step_count();
    const double first_rate = optimizer.learning_rate();

    State reload = deep_copy_state(saved);
    optimizer.load_state(space, reload);
    for (auto& [name, buffer] : reload.buffers)
      Kokkos::deep_copy(buffer, std::numeric_limits<Scalar>::quiet_NaN());
    Kokkos::fence();
    if (optimizer.step_count() != saved_steps)
      report.fail(
          text("load_state of a state saved at step ", saved_steps, " left step_count() at ", optimizer.step_count()));
    const VectorType resumed = device_vector<Scalar, Space>(saved_parameters, "resumed_parameters");
    run(resumed, 7);
    if (!same_bits(host_values(resumed), first_parameters))
      report.fail("after load_state(state()) the same steps gave other parameters (not bit-identical; or load_state "
                  "kept the state's buffers instead of copying them)");
    if (optimizer.step_count() != first_steps)
      report.fail(
          text("after load_state and 7 steps step_count() is ", optimizer.step_count(), ", expected ", first_steps));
    if (optimizer.learning_rate() != first_rate)
      report.fail(text("after load_state and 7 steps learning_rate() is ", optimizer.learning_rate(), ", expected ",
                       first_rate));

    // Refused states change nothing.
    const State good = deep_copy_state(optimizer.state());
    const std::uint64_t good_steps = optimizer.step_count();
    const double good_rate = optimizer.learning_rate();
    const auto refuses = [&]<class Exception>(const std::string& defect, State bad) {
      try {
        optimizer.load_state(space, bad);
        report.fail(text("load_state of a state with ", defect, " did not throw"));
      } catch (const Exception&) {
      } catch (const std::exception& error) {
        report.fail(text("load_state of a state with ", defect, " threw \"", error.what(), "\" of another type"));
      }
      if (const std::string field = state_difference(good, deep_copy_state(optimizer.state())); !field.empty())
        report.fail(text("load_state of a state with ", defect, " changed the optimizer (", field, ")"));
      if (optimizer.step_count() != good_steps || optimizer.learning_rate() != good_rate)
        report.fail(text("load_state of a state with ", defect, " changed step_count() or learning_rate()"));
    };
    {
      State bad = deep_copy_state(good);
      bad.kind += "-other";
      refuses.template operator()<DataError>("another kind", bad);
    }
    if (!good.reals.empty()) {
      State bad = deep_copy_state(good);
      bad.reals.erase(bad.reals.begin());
      refuses.template operator()<DataError>("a real missing", bad);
    }
    if (!good.counters.empty()) {
      State bad = deep_copy_state(good);
      bad.counters.erase(bad.counters.begin());
      refuses.template operator()<DataError>("a counter missing", bad);
    }
    {
      State bad = deep_copy_state(good);
      bad.counters.emplace("an_unknown_counter", 1);
      refuses.template operator()<DataError>("an unknown counter", bad);
    }
    if (!good.buffers.empty()) {
      State bad = deep_copy_state(good);
      bad.buffers.begin()->second = VectorType(label("testing", "check_optimizer", "long_buffer"), count + 1);
      refuses.template operator()<DimensionMismatch>("a buffer of parameter_count() + 1 entries", bad);
    }
  } catch (const std::exception& error) {
    report.fail(text("an unexpected exception ended the check: \"", error.what(), "\""));
  }
  return report;
}

} // namespace osbi::testing
