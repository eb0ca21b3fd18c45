// SPDX-License-Identifier: BSD-3-Clause
/// \brief EarlyStopping: the improve / wait / decay / stop sequence with the parameters it keeps and restores, NaN never
/// improving, patience 0, and a load_state round trip that continues exactly as the original.
#include <osbi/train/early_stopping.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <support/views.hpp>
#include <train/train_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using Stopping = osbi::EarlyStopping<double, Space>;
using Sgd = osbi::train_test::RecordingSgd<double, Space>;
using osbi::StoppingVerdict;
namespace tt = boost::test_tools;

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

/// Three parameters, all equal to `value` (so the kept copy shows which observation it came from).
struct Parameters {
  osbi::Vector<double, Space> values{"parameters", 3};
  void set(double value) { Kokkos::deep_copy(values, value); }
  std::vector<double> host() const { return osbi::testing::host_values(values); }
};

std::vector<double> all(double value) { return std::vector<double>(3, value); }

} // namespace

BOOST_AUTO_TEST_SUITE(train_early_stopping)

BOOST_AUTO_TEST_CASE(improve_wait_decay_stop_and_restore) {
  const Space space;
  Parameters parameters;
  parameters.set(0.0);
  Sgd optimizer(3, 1.0);
  Stopping stopping(space, parameters.values, {.patience = 2, .learning_rate_decays = 1, .learning_rate_decay = 0.5});
  BOOST_TEST(!stopping.has_best());
  BOOST_TEST(stopping.best_value() == inf);

  struct Step {
    double parameters, value;
    StoppingVerdict verdict;
    double best_value;
    std::uint64_t best_index, since_best, decays_taken;
    double learning_rate, parameters_after; // the parameters after observe
  };
  const std::vector<Step> steps{
      {1, 5.0, StoppingVerdict::improved, 5.0, 1, 0, 0, 1.0, 1},
      {2, 4.0, StoppingVerdict::improved, 4.0, 2, 0, 0, 1.0, 2},
      {3, 4.0, StoppingVerdict::waiting, 4.0, 2, 1, 0, 1.0, 3},   // equal is not better
      {4, 6.0, StoppingVerdict::decayed, 4.0, 2, 0, 1, 0.5, 2},   // patience spent: best restored, lr × 0.5
      {5, not_a_number, StoppingVerdict::waiting, 4.0, 2, 1, 1, 0.5, 5},   // NaN never improves
      {6, 3.5, StoppingVerdict::improved, 3.5, 6, 0, 1, 0.5, 6},
      {7, not_a_number, StoppingVerdict::waiting, 3.5, 6, 1, 1, 0.5, 7},
      {8, inf, StoppingVerdict::stop, 3.5, 6, 2, 1, 0.5, 8},      // no decays left: stop, the caller restores
  };
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const Step& step = steps[k];
    parameters.set(step.parameters);
    const StoppingVerdict verdict = stopping.observe(space, step.value, k + 1, parameters.values, optimizer);
    BOOST_TEST_CONTEXT("observation " << k + 1) {
      BOOST_TEST(static_cast<int>(verdict) == static_cast<int>(step.verdict));
      BOOST_TEST(stopping.best_value() == step.best_value);
      BOOST_TEST(stopping.best_index() == step.best_index);
      BOOST_TEST(stopping.since_best() == step.since_best);
      BOOST_TEST(stopping.decays_taken() == step.decays_taken);
      BOOST_TEST(optimizer.learning_rate() == step.learning_rate);
      BOOST_TEST(parameters.host() == all(step.parameters_after), tt::per_element());
      BOOST_TEST(osbi::testing::host_values(stopping.best_parameters()) == all(static_cast<double>(step.best_index)),
                 tt::per_element());
    }
  }
  stopping.restore_best(space, parameters.values);
  BOOST_TEST(parameters.host() == all(6.0), tt::per_element());
}

BOOST_AUTO_TEST_CASE(nan_first_keeps_the_starting_parameters) {
  const Space space;
  Parameters parameters;
  parameters.set(9.0);
  Sgd optimizer(3, 1.0);
  Stopping stopping(space, parameters.values, {.patience = 3});
  parameters.set(1.0);
  BOOST_TEST(static_cast<int>(stopping.observe(space, not_a_number, 1, parameters.values, optimizer)) ==
             static_cast<int>(StoppingVerdict::waiting));
  BOOST_TEST(!stopping.has_best());
  BOOST_TEST(stopping.best_value() == inf);
  stopping.restore_best(space, parameters.values);
  BOOST_TEST(parameters.host() == all(9.0), tt::per_element());
}

BOOST_AUTO_TEST_CASE(patience_zero_never_acts_but_tracks_the_best) {
  const Space space;
  Parameters parameters;
  parameters.set(0.0);
  Sgd optimizer(3, 1.0);
  Stopping stopping(space, parameters.values, {.patience = 0, .learning_rate_decays = 2});
  parameters.set(1.0);
  stopping.observe(space, 1.0, 1, parameters.values, optimizer);
  for (std::uint64_t k = 2; k < 100; ++k) {
    parameters.set(static_cast<double>(k));
    BOOST_TEST(static_cast<int>(stopping.observe(space, 2.0, k, parameters.values, optimizer)) ==
               static_cast<int>(StoppingVerdict::waiting));
  }
  BOOST_TEST(stopping.since_best() == 98u);
  BOOST_TEST(optimizer.learning_rate() == 1.0);
  stopping.restore_best(space, parameters.values);
  BOOST_TEST(parameters.host() == all(1.0), tt::per_element());
}

BOOST_AUTO_TEST_CASE(load_state_continues_exactly_as_the_original) {
  const Space space;
  const osbi::EarlyStoppingOptions options{.patience = 2, .learning_rate_decays = 2, .learning_rate_decay = 0.25};
  const std::vector<double> values{3.0, 2.0, 2.5, 2.6, 1.5, not_a_number, 1.7, 1.6, 1.8, 1.9};
  Parameters original_parameters, resumed_parameters;
  original_parameters.set(0.0);
  Sgd original_optimizer(3, 1.0), resumed_optimizer(3, 1.0);
  Stopping original(space, original_parameters.values, options);
  std::size_t k = 0;
  for (; k < 4; ++k) {
    original_parameters.set(static_cast<double>(k + 1));
    original.observe(space, values[k], k + 1, original_parameters.values, original_optimizer);
  }
  // A checkpoint: the state, the kept parameters, the live parameters and the optimizer's state.
  resumed_parameters.set(-7.0);
  Stopping resumed(space, resumed_parameters.values, options);
  Kokkos::deep_copy(resumed_parameters.values, original_parameters.values);
  resumed.load_state(space, original.state(), original.best_parameters());
  resumed_optimizer.load_state(space, original_optimizer.state());
  BOOST_TEST(resumed.best_value() == original.best_value());
  BOOST_TEST(resumed.since_best() == original.since_best());
  BOOST_TEST(resumed.decays_taken() == original.decays_taken());
  for (; k < values.size(); ++k) {
    original_parameters.set(static_cast<double>(k + 1));
    resumed_parameters.set(static_cast<double>(k + 1));
    const auto a = original.observe(space, values[k], k + 1, original_parameters.values, original_optimizer);
    const auto b = resumed.observe(space, values[k], k + 1, resumed_parameters.values, resumed_optimizer);
    BOOST_TEST_CONTEXT("observation " << k + 1) {
      BOOST_TEST(static_cast<int>(a) == static_cast<int>(b));
      BOOST_TEST(original_parameters.host() == resumed_parameters.host(), tt::per_element());
      BOOST_TEST(osbi::testing::host_values(original.best_parameters()) ==
                     osbi::testing::host_values(resumed.best_parameters()),
                 tt::per_element());
      BOOST_TEST(original_optimizer.learning_rate() == resumed_optimizer.learning_rate());
    }
  }
  // The sequence took both decays: 1.0 × 0.25 × 0.25.
  BOOST_TEST(resumed.decays_taken() == 2u);
  BOOST_TEST(resumed_optimizer.learning_rate() == 0.0625);
}

BOOST_AUTO_TEST_CASE(bad_options_and_states_are_rejected) {
  const Space space;
  Parameters parameters;
  BOOST_CHECK_THROW(Stopping(space, parameters.values, {.learning_rate_decays = 1, .learning_rate_decay = 1.0}),
                    osbi::InvalidArgument);
  BOOST_CHECK_THROW(Stopping(space, parameters.values, {.learning_rate_decays = 1, .learning_rate_decay = 0.0}),
                    osbi::InvalidArgument);
  BOOST_CHECK_NO_THROW(Stopping(space, parameters.values, {.learning_rate_decays = 0, .learning_rate_decay = 5.0}));
  Stopping stopping(space, parameters.values, {.learning_rate_decays = 1});
  Stopping::State state;
  state.decays_taken = 2;
  BOOST_CHECK_THROW(stopping.load_state(space, state, parameters.values), osbi::InvalidArgument);
  osbi::Vector<double, Space> longer("longer", 4);
  BOOST_CHECK_THROW(stopping.load_state(space, Stopping::State{}, longer), osbi::DimensionMismatch);
  BOOST_CHECK_THROW(stopping.restore_best(space, longer), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_SUITE_END()
