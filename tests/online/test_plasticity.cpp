// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Plasticity: in deterministic mode the parameters are pulled toward the prepared estimator's
/// exactly at train_after · growth^k arrivals and nowhere else, by exactly θ₀ + keep · (θ − θ₀); a resumed run
/// pulls toward the same θ₀ (to the bit); bad settings and a checkpoint without θ₀ are rejected.
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/prior/gaussian.hpp>

#include <osbi/core/error.hpp>

#include <support/files.hpp>
#include <support/test_seed.hpp>

#include "online_test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace {

using Space = Kokkos::Serial;
using Density = osbi::LinearGaussian<double, Space>;
using Prior = osbi::Gaussian<double, Space>;
using Buffer = osbi::ReservoirBuffer<osbi::overflow::Evict, double>;
using Parameters = std::vector<double>;

Parameters host_copy(const osbi::Vector<double, Space>& view) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return Parameters(host.data(), host.data() + host.extent(0));
}

/// Adam that records the parameters just before and just after each of its steps.
struct RecordingAdam : osbi::optim::Adam<double, Space> {
  using Base = osbi::optim::Adam<double, Space>;
  using Base::Base;
  std::vector<Parameters>* before = nullptr;
  std::vector<Parameters>* after = nullptr;
  void step(const Space& space, const osbi::Vector<double, Space>& parameters, const osbi::ConstVector<double, Space>& gradients) {
    before->push_back(host_copy(parameters));
    Base::step(space, parameters, gradients);
    space.fence();
    after->push_back(host_copy(parameters));
  }
};

struct Recorded {
  std::vector<Parameters> before, after;
  Parameters final_parameters;
  std::vector<std::uint64_t> plasticity_steps; // as the report gives them
};

osbi::online::PipelineOptions plastic_options() {
  osbi::online::PipelineOptions options;
  options.deterministic = true;
  options.seed = osbi::testing::test_seed();
  options.simulation_batch = 5;
  options.batch_size = 50;
  options.train_after = 100;
  options.arrivals_per_step = 10; // before batch k the buffer holds exactly 100 + 10k arrivals
  options.learning_rate = 1e-2;
  options.stop.max_steps = 100;
  options.plasticity.keep = 0.25;
  return options;
}

Recorded run(const osbi::online::PipelineOptions& options, const std::filesystem::path& resume_from = {}) {
  Buffer buffer(osbi::online_test::buffer_options(5'000, options.seed));
  const Prior prior = Prior::diagonal({0.0, 0.0}, {1.0, 1.0});
  osbi::Posterior<Density> posterior(Density(2, 2), prior);
  Recorded out;
  RecordingAdam adam(posterior.estimator().parameters().extent(0), {.learning_rate = options.learning_rate});
  adam.before = &out.before;
  adam.after = &out.after;
  osbi::online::Pipeline<Prior, osbi::online_test::NoisyIdentity, Buffer, Density, osbi::NllLoss, RecordingAdam> pipeline(
      std::move(posterior), prior, osbi::online_test::NoisyIdentity{}, buffer, std::move(adam), options);
  if (!resume_from.empty()) pipeline.resume(resume_from);
  out.plasticity_steps = pipeline.run().plasticity_steps;
  out.final_parameters = host_copy(pipeline.estimator().parameters());
  return out;
}

/// Whether `pulled` is θ₀ + keep · (θ − θ₀) to rounding.
bool is_pulled(const Parameters& pulled, const Parameters& theta, const Parameters& initial, double keep) {
  for (std::size_t i = 0; i < theta.size(); ++i) {
    const double expected = initial[i] + keep * (theta[i] - initial[i]);
    if (std::abs(pulled[i] - expected) > 1e-14 * (1 + std::abs(expected))) return false;
  }
  return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(online_plasticity)

BOOST_AUTO_TEST_CASE(the_parameters_are_pulled_toward_their_start_at_each_doubling_of_the_arrivals) {
  const auto options = plastic_options();
  const Recorded recorded = run(options);
  BOOST_TEST_REQUIRE(recorded.before.size() == 100u);
  // Milestones at 200, 400 and 800 arrivals: before the batches of steps 10, 30 and 70.
  const std::vector<std::uint64_t> milestones{10, 30, 70};
  BOOST_TEST(recorded.plasticity_steps == milestones, boost::test_tools::per_element());
  const Parameters& initial = recorded.before[0]; // the prepared estimator's: no milestone before the first step
  for (std::size_t k = 1; k < recorded.before.size(); ++k) {
    const bool milestone = std::find(milestones.begin(), milestones.end(), k) != milestones.end();
    if (milestone) {
      BOOST_TEST(recorded.before[k] != recorded.after[k - 1], "step " << k);
      BOOST_TEST(is_pulled(recorded.before[k], recorded.after[k - 1], initial, options.plasticity.keep), "step " << k);
    } else {
      BOOST_TEST(recorded.before[k] == recorded.after[k - 1], "step " << k); // nothing else touches them
    }
  }
  // Off (keep = 1): the parameters go from one step to the next untouched.
  auto off = options;
  off.plasticity.keep = 1.0;
  const Recorded plain = run(off);
  for (std::size_t k = 1; k < plain.before.size(); ++k) BOOST_TEST(plain.before[k] == plain.after[k - 1], "step " << k);
  BOOST_TEST(plain.plasticity_steps.empty());
  // A growth of 3: milestones at 300 and 900 arrivals (steps 20 and 80).
  auto triple = options;
  triple.plasticity.growth = 3.0;
  const Recorded tripled = run(triple);
  for (std::size_t k = 1; k < tripled.before.size(); ++k)
    BOOST_TEST((tripled.before[k] != tripled.after[k - 1]) == (k == 20 || k == 80), "step " << k);
  BOOST_TEST(tripled.plasticity_steps == (std::vector<std::uint64_t>{20, 80}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_resumed_run_pulls_toward_the_same_start) {
  const osbi::testing::ScratchDirectory scratch;
  auto options = plastic_options();
  const Recorded whole = run(options);
  // The same run stopped after 50 steps (its checkpoint is written at the end), then resumed to 100: it crosses the
  // 800-arrival milestone after the resume, with θ₀ from the checkpoint.
  options.checkpoint = scratch.path / "plastic.ckpt";
  options.stop.max_steps = 50;
  run(options);
  options.stop.max_steps = 100;
  const Recorded resumed = run(options, options.checkpoint);
  BOOST_TEST_REQUIRE(resumed.before.size() == 50u);
  BOOST_TEST(resumed.plasticity_steps == (std::vector<std::uint64_t>{70}), boost::test_tools::per_element());
  BOOST_TEST(resumed.final_parameters == whole.final_parameters);
}

BOOST_AUTO_TEST_CASE(bad_settings_and_a_checkpoint_without_a_start_are_rejected) {
  auto options = plastic_options();
  options.plasticity.keep = 1.5;
  BOOST_CHECK_THROW(run(options), osbi::InvalidArgument);
  options.plasticity.keep = -0.1;
  BOOST_CHECK_THROW(run(options), osbi::InvalidArgument);
  options.plasticity.keep = 0.5;
  options.plasticity.growth = 1.0;
  BOOST_CHECK_THROW(run(options), osbi::InvalidArgument);
  // A checkpoint written without plasticity holds no θ₀: a plastic run cannot resume from it.
  const osbi::testing::ScratchDirectory scratch;
  auto plain = plastic_options();
  plain.plasticity.keep = 1.0;
  plain.stop.max_steps = 20;
  plain.checkpoint = scratch.path / "plain.ckpt";
  run(plain);
  auto plastic = plastic_options();
  plastic.checkpoint = scratch.path / "plastic.ckpt";
  BOOST_CHECK_THROW(run(plastic, plain.checkpoint), osbi::DataError);
}

BOOST_AUTO_TEST_SUITE_END()
