// SPDX-License-Identifier: BSD-3-Clause
/// \brief Learning-rate schedules against their closed forms at chosen steps, and ReduceOnPlateau
/// against a scripted metric sequence worked through by hand with PyTorch's rules (and against
/// torch.optim.lr_scheduler.ReduceLROnPlateau itself when PyTorch is installed).
#include <osbi/optim/schedule.hpp>

#include <osbi/core/error.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

namespace {

namespace optim = osbi::optim;
namespace fs = std::filesystem;

static_assert(optim::LearningRateSchedule<optim::Constant>);
static_assert(optim::LearningRateSchedule<optim::StepDecay>);
static_assert(optim::LearningRateSchedule<optim::ExponentialDecay>);
static_assert(optim::LearningRateSchedule<optim::CosineAnnealing>);
static_assert(optim::LearningRateSchedule<optim::ReduceOnPlateau>);

bool close(double a, double b) { return std::abs(a - b) <= 1e-15 * std::max(1.0, std::abs(b)); }

const double not_a_number = std::numeric_limits<double>::quiet_NaN();

// The scripted run: lr 1, factor 0.5, patience 2, threshold 0.1 (relative), cooldown 1, minimum 0.2.
// Expected rates after each observation, worked out by hand from PyTorch's rules:
//  1: 10 beats inf: best 10                     9: bad 1, cooldown ends → bad 0
//  2-3: 9.5, 9.2 not < 9: bad 1, 2              10: 8 not < 7.2: bad 1
//  4: 9.1: bad 3 > 2 → lr 0.5, cooldown 1       11: NaN is never better: bad 2
//  5: 8 < 9: best 8; cooldown ends              12: bad 3 → lr max(0.125, 0.2) = 0.2
//  6-7: 8 not < 7.2: bad 1, 2                   13: 1 < 7.2: best 1; cooldown ends
//  8: bad 3 → lr 0.25, cooldown 1               14-16: 5: bad 1, 2, 3 → max(0.1, 0.2) = 0.2, a
//                                                      change of 0 <= eps: stays 0.2
const std::vector<double> scripted_metrics = {10, 9.5, 9.2, 9.1, 8, 8, 8, 8, 8, 8, not_a_number, 8, 1, 5, 5, 5};
const std::vector<double> scripted_rates = {1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2};

optim::ReduceOnPlateauOptions scripted_options() {
  optim::ReduceOnPlateauOptions options;
  options.factor = 0.5;
  options.patience = 2;
  options.threshold = 0.1;
  options.cooldown = 1;
  options.minimum_learning_rate = 0.2;
  return options;
}

} // namespace

BOOST_AUTO_TEST_SUITE(schedule)

BOOST_AUTO_TEST_CASE(constant_step_and_exponential_decay_follow_their_closed_forms) {
  const optim::Constant constant(3e-4);
  for (std::size_t step : {0u, 1u, 1000000u}) BOOST_TEST(constant(step) == 3e-4);

  const optim::StepDecay step_decay(0.1, 30, 0.5);
  BOOST_TEST(step_decay(0) == 0.1);
  BOOST_TEST(step_decay(29) == 0.1);
  BOOST_TEST(close(step_decay(30), 0.05));
  BOOST_TEST(close(step_decay(61), 0.025));
  BOOST_TEST(close(step_decay(300), 0.1 * std::pow(0.5, 10)));

  const optim::ExponentialDecay exponential(0.2, 0.99);
  BOOST_TEST(exponential(0) == 0.2);
  BOOST_TEST(close(exponential(1), 0.198));
  BOOST_TEST(close(exponential(100), 0.2 * std::pow(0.99, 100)));
}

BOOST_AUTO_TEST_CASE(cosine_annealing_without_and_with_warmup) {
  const optim::CosineAnnealing cosine(1e-3, 100, 1e-5);
  BOOST_TEST(cosine(0) == 1e-3);
  BOOST_TEST(close(cosine(50), (1e-3 + 1e-5) / 2));
  BOOST_TEST(close(cosine(25), 1e-5 + (1e-3 - 1e-5) * (1 + std::cos(std::numbers::pi / 4)) / 2));
  BOOST_TEST(cosine(100) == 1e-5);
  BOOST_TEST(cosine(5000) == 1e-5); // stays at the minimum (PyTorch's periodic form would rise)
  for (std::size_t s = 1; s <= 100; ++s) BOOST_TEST(cosine(s) <= cosine(s - 1)); // monotone

  const optim::CosineAnnealing warm = optim::CosineAnnealing(1e-3, 110).with_warmup(10, 0.1);
  BOOST_TEST(close(warm(0), 1e-4));
  BOOST_TEST(close(warm(5), 1e-3 * (0.1 + 0.9 * 0.5)));
  BOOST_TEST(close(warm(9), 1e-3 * (0.1 + 0.9 * 0.9)));
  BOOST_TEST(warm(10) == 1e-3); // warm-up ends at the peak, the cosine starts there
  BOOST_TEST(close(warm(60), 0.5e-3));
  BOOST_TEST(warm(110) == 0.0);
  // Warm-up over the whole run: linear, then the minimum.
  const optim::CosineAnnealing all_warmup = optim::CosineAnnealing(1.0, 4).with_warmup(4, 0.5);
  BOOST_TEST(close(all_warmup(2), 0.75));
  BOOST_TEST(all_warmup(4) == 0.0);
}

BOOST_AUTO_TEST_CASE(reject_arguments_outside_their_domain) {
  const double inf = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(static_cast<void>(optim::Constant(0.0)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(static_cast<void>(optim::Constant(not_a_number)), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::StepDecay(0.1, 0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::StepDecay(0.1, 10, 0.0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::ExponentialDecay(0.1, inf), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::ExponentialDecay(-0.1, 0.9), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::CosineAnnealing(0.1, 0), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::CosineAnnealing(0.1, 10, 0.2), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::CosineAnnealing(0.1, 10).with_warmup(11), osbi::InvalidArgument);
  BOOST_CHECK_THROW(optim::CosineAnnealing(0.1, 10).with_warmup(5, 0.0), osbi::InvalidArgument);
  optim::ReduceOnPlateauOptions options;
  options.factor = 1.0;
  BOOST_CHECK_THROW(optim::ReduceOnPlateau(0.1, options), osbi::InvalidArgument);
  options.factor = 0.5;
  options.threshold = -1.0;
  BOOST_CHECK_THROW(optim::ReduceOnPlateau(0.1, options), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_follows_the_scripted_sequence) {
  optim::ReduceOnPlateau plateau(1.0, scripted_options());
  for (std::size_t k = 0; k < scripted_metrics.size(); ++k) {
    BOOST_TEST(plateau.observe(scripted_metrics[k]) == scripted_rates[k], "observation " << k + 1);
    BOOST_TEST(plateau(12345) == scripted_rates[k]);
  }
  BOOST_TEST(plateau.state().observations == scripted_metrics.size());
  BOOST_TEST(plateau.state().best == 1.0);
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_max_mode_and_absolute_threshold) {
  optim::ReduceOnPlateauOptions options;
  options.mode = optim::PlateauMode::max;
  options.threshold_mode = optim::ThresholdMode::absolute;
  options.threshold = 0.05;
  options.patience = 1;
  optim::ReduceOnPlateau plateau(1.0, options);
  // 0.5 beats -inf; 0.6 > 0.55 is better; 0.64 is not > 0.65: bad 1; 0.62: bad 2 > 1 → ×0.1.
  const double metrics[] = {0.5, 0.6, 0.64, 0.62};
  const double rates[] = {1.0, 1.0, 1.0, 0.1};
  for (int k = 0; k < 4; ++k) BOOST_TEST(close(plateau.observe(metrics[k]), rates[k]), "observation " << k + 1);
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_state_round_trip) {
  optim::ReduceOnPlateau original(1.0, scripted_options());
  for (std::size_t k = 0; k < 8; ++k) original.observe(scripted_metrics[k]);
  optim::ReduceOnPlateau restored(1.0, scripted_options());
  restored.load_state(original.state());
  for (std::size_t k = 8; k < scripted_metrics.size(); ++k)
    BOOST_TEST(restored.observe(scripted_metrics[k]) == original.observe(scripted_metrics[k]));

  optim::ReduceOnPlateau::State bad = original.state();
  bad.cooldown_counter = 5; // more than the cooldown option allows
  BOOST_CHECK_THROW(restored.load_state(bad), osbi::InvalidArgument);
  bad = original.state();
  bad.learning_rate = -1.0;
  BOOST_CHECK_THROW(restored.load_state(bad), osbi::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_matches_pytorch_when_installed) {
  const char* const python = "/usr/bin/python3";
  const fs::path output = fs::temp_directory_path() / ("osbi_test_plateau_" + std::to_string(std::random_device()()));
  std::ostringstream metrics;
  metrics.precision(17);
  for (double m : scripted_metrics) metrics << (std::isnan(m) ? std::string("float('nan')") : std::to_string(m)) << ",";
  const std::string code =
      "import sys\n"
      "try:\n"
      "    import torch\n"
      "except ImportError:\n"
      "    sys.exit(3)\n"
      "p = torch.zeros(1, requires_grad=True)\n"
      "opt = torch.optim.SGD([p], lr=1.0)\n"
      "s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode='min', factor=0.5, patience=2, threshold=0.1,\n"
      "    threshold_mode='rel', cooldown=1, min_lr=0.2)\n"
      "rates = []\n"
      "for m in [" + metrics.str() + "]:\n"
      "    s.step(m)\n"
      "    rates.append(repr(opt.param_groups[0]['lr']))\n"
      "open(sys.argv[1], 'w').write(' '.join(rates))\n";
  const fs::path script = output.string() + ".py";
  std::ofstream(script) << code;
  const int status = fs::exists(python) ? std::system((std::string(python) + " '" + script.string() + "' '" +
                                                       output.string() + "'").c_str())
                                        : (3 << 8);
  fs::remove(script);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    BOOST_TEST_MESSAGE("PyTorch is not importable by " << python << ": skipping; the hand-worked sequence stands");
    return;
  }
  BOOST_REQUIRE_MESSAGE(status == 0, "the PyTorch script failed");
  std::ifstream in(output);
  std::vector<double> torch_rates;
  std::string text;
  while (in >> text) torch_rates.push_back(std::stod(text));
  fs::remove(output);
  BOOST_TEST(torch_rates == scripted_rates);
}

BOOST_AUTO_TEST_SUITE_END()
