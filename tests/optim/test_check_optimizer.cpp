// SPDX-License-Identifier: BSD-3-Clause
/// \brief check_optimizer: Adam, AdamW (float and double) and the archetype pass; each deliberately broken
/// optimizer is reported with a line that names its defect.
#include <osbi/testing/check_optimizer.hpp>
#include <osbi/testing/conformance_report.hpp>
#include <osbi/testing/optimizer_archetype.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/optim/optimizer_checkpoint.hpp>

#include <support/files.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using osbi::testing::check_optimizer;
using osbi::testing::ConformanceReport;
using osbi::testing::contains;
using Space = osbi::DefaultExecutionSpace;

enum class Defect {
  uncounted,          // step_count() never grows
  aliases_state,      // load_state keeps the state's buffer instead of copying it
  scales_gradients,   // step halves the gradients in place
  no_size_check,      // step uses the first parameter_count() entries of whatever it gets
  ignores_kind,       // load_state takes a state of any kind
  ascends,            // θ ← θ + lr·g
  accepts_negative_lr // set_learning_rate(-1) is taken
};

// SGD with momentum 0.5 (its velocity is the buffer "last"), one defect switched on.
template <Defect defect>
class BrokenSgd {
public:
  using scalar_type = double;
  using execution_space = Space;

  explicit BrokenSgd(std::size_t count) : m_last(osbi::label("test", "BrokenSgd", "last"), count) {}

  std::size_t parameter_count() const { return m_last.extent(0); }
  void step(const Space& space, const osbi::Vector<double, Space>& parameters,
            const osbi::ConstVector<double, Space>& gradients) {
    if (defect != Defect::no_size_check)
      osbi::optim::detail::check_step_sizes("BrokenSgd", parameter_count(), parameters.extent(0), gradients.extent(0));
    const double lr = defect == Defect::ascends ? -m_rate : m_rate;
    const auto last = m_last;
    const bool scale = defect == Defect::scales_gradients;
    const osbi::Vector<double, Space> writable(const_cast<double*>(gradients.data()), gradients.extent(0));
    Kokkos::parallel_for(
        "osbi::test::BrokenSgd::step", Kokkos::RangePolicy<Space>(space, 0, parameter_count()),
        KOKKOS_LAMBDA(const std::size_t i) {
          last(i) = 0.5 * last(i) + gradients(i);
          parameters(i) -= lr * last(i);
          if (scale) writable(i) = 0.5 * gradients(i);
        });
    if (defect != Defect::uncounted) ++m_step;
  }
  double learning_rate() const { return m_rate; }
  void set_learning_rate(double rate) {
    if (defect != Defect::accepts_negative_lr)
      osbi::require(std::isfinite(rate) && rate >= 0, "BrokenSgd", "bad rate ", rate);
    m_rate = rate;
  }
  std::uint64_t step_count() const { return m_step; }
  osbi::optim::OptimizerState<double, Space> state() const {
    return {"BrokenSgd", {{"last", m_last}}, {{"learning_rate", m_rate}}, {{"step", m_step}}};
  }
  void load_state(const Space& space, const osbi::optim::OptimizerState<double, Space>& state) {
    if (defect != Defect::ignores_kind)
      osbi::require<osbi::DataError>(state.kind == "BrokenSgd", "BrokenSgd", "kind ", state.kind);
    osbi::require<osbi::DataError>(state.buffers.size() == 1 && state.buffers.count("last") == 1 &&
                                       state.reals.size() == 1 && state.reals.count("learning_rate") == 1 &&
                                       state.counters.size() == 1 && state.counters.count("step") == 1,
                                   "BrokenSgd", "names");
    osbi::require_extent(state.buffers.at("last").extent(0), parameter_count(), "BrokenSgd", "last");
    if (defect == Defect::aliases_state)
      m_last = state.buffers.at("last");
    else
      Kokkos::deep_copy(space, m_last, state.buffers.at("last"));
    space.fence();
    m_rate = state.reals.at("learning_rate");
    m_step = state.counters.at("step");
  }

private:
  osbi::Vector<double, Space> m_last;
  double m_rate = 1e-2;
  std::uint64_t m_step = 0;
};

static_assert(osbi::optim::Optimizer<BrokenSgd<Defect::uncounted>>);

template <Defect defect>
ConformanceReport check_broken() {
  BrokenSgd<defect> optimizer(13);
  return check_optimizer(optimizer);
}

bool reports(const ConformanceReport& report, const std::string& part) {
  return std::any_of(report.failures.begin(), report.failures.end(),
                     [&](const std::string& line) { return contains(line, part); });
}

} // namespace

BOOST_AUTO_TEST_SUITE(check_optimizer_suite)

BOOST_AUTO_TEST_CASE(adam_and_adamw_pass) {
  for (const std::size_t count : {std::size_t{1}, std::size_t{7}, std::size_t{300}}) {
    osbi::optim::Adam<float, Space> adam(count);
    const ConformanceReport report = check_optimizer(adam);
    BOOST_TEST(report.passed(), "Adam<float>, " << count << " parameters: " << report.summary());
    osbi::optim::AdamW<double, Space> adamw(count);
    const ConformanceReport report_w = check_optimizer(adamw, 7);
    BOOST_TEST(report_w.passed(), "AdamW<double>, " << count << " parameters: " << report_w.summary());
  }
}

BOOST_AUTO_TEST_CASE(the_archetype_models_the_concept_and_passes) {
  for (const std::size_t count : {std::size_t{1}, std::size_t{64}}) {
    osbi::testing::OptimizerArchetype optimizer(count);
    const ConformanceReport report = check_optimizer(optimizer);
    BOOST_TEST(report.passed(), count << " parameters: " << report.summary());
  }
  // Generic code runs with it: its state goes through a checkpoint and back.
  osbi::testing::ScratchDirectory scratch;
  const Space space;
  osbi::testing::OptimizerArchetype optimizer(5), back(5);
  osbi::Vector<double, Space> parameters("osbi::test::parameters", 5);
  Kokkos::deep_copy(parameters, 1.0);
  optimizer.step(space, parameters, parameters);
  osbi::optim::save_training_state(scratch.path / "archetype.osbi", parameters, optimizer);
  osbi::optim::load_training_state(space, scratch.path / "archetype.osbi", parameters, back);
  BOOST_TEST(back.step_count() == 1u);
}

BOOST_AUTO_TEST_CASE(each_broken_optimizer_is_reported_by_name) {
  const auto expect = [](const ConformanceReport& report, const std::string& part) {
    BOOST_TEST_MESSAGE("broken optimizer, expecting '" << part << "': " << report.summary());
    BOOST_TEST(!report.passed());
    BOOST_TEST(reports(report, part), "no line names '" << part << "':\n" << report.summary());
  };
  expect(check_broken<Defect::uncounted>(), "one step changed step_count() from 0 to 0");
  expect(check_broken<Defect::aliases_state>(), "kept the state's buffers instead of copying them");
  expect(check_broken<Defect::scales_gradients>(), "step modified the gradients");
  expect(check_broken<Defect::no_size_check>(), "parameter_count() = 13) did not throw osbi::DimensionMismatch");
  expect(check_broken<Defect::ignores_kind>(), "load_state of a state with another kind did not throw");
  expect(check_broken<Defect::ascends>(), "(a first-order method must descend)");
  expect(check_broken<Defect::accepts_negative_lr>(), "set_learning_rate(-0.001) did not throw");
}

BOOST_AUTO_TEST_SUITE_END()
