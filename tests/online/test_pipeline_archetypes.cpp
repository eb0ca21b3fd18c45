// SPDX-License-Identifier: BSD-3-Clause
/// \brief online::Pipeline compiled and run with the archetype of every part it takes (estimator, loss, proposal,
/// buffer, optimizer): it uses no more of its parts than their concepts promise — training, validation,
/// checkpoints and resume included.
#include <osbi/online/pipeline.hpp>
#include <osbi/testing/buffer_archetype.hpp>
#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>
#include <osbi/testing/optimizer_archetype.hpp>
#include <osbi/testing/proposal_archetype.hpp>

#include <support/files.hpp>
#include <support/test_seed.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <span>
#include <utility>

namespace {

// Workers draw θ on their own threads: with Kokkos 3.x the proposal must not live on OpenMP.
using Proposal = osbi::testing::ProposalArchetypeOn<Kokkos::Serial>;
using Estimator = osbi::testing::EstimatorArchetype;
using Buffer = osbi::testing::SampleBufferArchetype;
using Loss = osbi::testing::LossArchetype;
using Optimizer = osbi::testing::OptimizerArchetype;

/// x = θ + 0.1·ε. The pipeline runs one copy of a point simulator per worker, so this one is copyable
/// (PointSimulatorArchetype is not, on purpose: it is for PointSimulatorAdapter's in-place construction).
struct NoisyCopy {
  std::size_t theta_dim() const { return 1; }
  std::size_t x_dim() const { return 1; }
  void simulate(std::span<const double> theta, std::span<double> x, osbi::RowRandom& rng) const {
    x[0] = theta[0] + 0.1 * rng.normal();
  }
};

using Pipeline = osbi::online::Pipeline<Proposal, NoisyCopy, Buffer, Estimator, Loss, Optimizer>;

osbi::online::PipelineOptions archetype_options(std::uint64_t seed) {
  osbi::online::PipelineOptions options;
  options.workers = 2;
  options.seed = seed;
  options.batch_size = 16;
  options.train_after = 50;
  options.validation_size = 20;
  options.validate_every = 10;
  options.stop.max_simulations = 2'000;
  return options;
}

double parameter(Pipeline& pipeline) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pipeline.estimator().parameters());
  return host(0);
}

Pipeline make(Buffer& buffer, const osbi::online::PipelineOptions& options) {
  // An unbounded support: the archetype estimator models θ itself.
  return Pipeline(osbi::Posterior<Estimator>(Estimator(1.0), osbi::SupportBounds::unbounded(1)), Proposal(std::in_place),
                  NoisyCopy{}, buffer, Optimizer(1), options, Loss(0.1));
}

} // namespace

BOOST_AUTO_TEST_SUITE(online_pipeline_archetypes)

// The loss archetype moves μ toward E[θ − x] = 0 from 1; a consuming buffer large enough to evict nothing trains on
// every accepted row exactly once.
BOOST_AUTO_TEST_CASE(the_pipeline_runs_with_the_archetype_of_every_part) {
  const auto options = archetype_options(osbi::testing::test_seed());
  Buffer buffer({.capacity = 2'000, .theta_dim = 1, .x_dim = 1, .seed = options.seed});
  auto pipeline = make(buffer, options);
  const auto report = pipeline.run();
  const auto& counts = report.accounting;
  BOOST_TEST(counts.consistent());
  BOOST_TEST(counts.finished == 2'000u);
  BOOST_TEST(counts.validation == 20u);
  BOOST_TEST(counts.failed() == 0u);
  BOOST_TEST(report.reason == osbi::online::StopReason::simulation_budget);
  BOOST_TEST(counts.buffer.evicted_unseen == 0u);
  BOOST_TEST(report.final_metrics.samples_trained == counts.buffer.pushed_total);
  BOOST_TEST(report.final_metrics.steps == 124u); // 1 980 rows in batches of 16, the last one partial
  BOOST_TEST(report.validation_loss.size() == report.final_metrics.steps / 10);

  // 124 steps of momentum SGD (lr 0.01, momentum 0.9) on ½(μ − t)², t ≈ 0 ± 0.14: μ ends far below its start.
  BOOST_TEST(std::abs(parameter(pipeline)) < 0.5, "μ = " << parameter(pipeline));
}

// Checkpoints go through the concepts too (optimizer state(), buffer snapshot()): a deterministic run stopped and
// resumed ends with the same parameter as one that never stopped.
BOOST_AUTO_TEST_CASE(checkpoint_and_resume_need_only_the_concepts) {
  const osbi::testing::ScratchDirectory scratch;
  auto options = archetype_options(osbi::testing::test_seed() + 1);
  options.workers = 1;
  options.deterministic = true;
  options.arrivals_per_step = 16; // a consuming buffer: each batch takes 16 rows
  options.stop.max_simulations = 0;
  options.stop.max_steps = 60;
  options.checkpoint = scratch.path / "archetypes.ckpt";
  options.checkpoint_every_steps = 20;
  double uninterrupted = 0;
  {
    Buffer buffer({.capacity = 400, .theta_dim = 1, .x_dim = 1, .seed = options.seed});
    auto pipeline = make(buffer, options);
    const auto report = pipeline.run();
    BOOST_TEST(report.final_metrics.steps == 60u);
    uninterrupted = parameter(pipeline);

  }
  auto first_half = options;
  first_half.stop.max_steps = 40;
  first_half.checkpoint = scratch.path / "half.ckpt";
  {
    Buffer buffer({.capacity = 400, .theta_dim = 1, .x_dim = 1, .seed = options.seed});
    auto pipeline = make(buffer, first_half);
    pipeline.run();
  }
  Buffer buffer({.capacity = 400, .theta_dim = 1, .x_dim = 1, .seed = options.seed});
  auto resumed = make(buffer, options);
  resumed.resume(first_half.checkpoint);
  const auto report = resumed.run();
  BOOST_TEST(report.resumed);

  BOOST_TEST(report.final_metrics.steps == 60u);
  BOOST_TEST(parameter(resumed) == uninterrupted);
}

BOOST_AUTO_TEST_SUITE_END()
