// SPDX-License-Identifier: BSD-3-Clause
/// \brief Optimizer and schedule state in checkpoint sections: training resumes bit-identically; a state of
/// another length, kind, scalar type or with an extra section is rejected without side effects.
#include <osbi/optim/optimizer_checkpoint.hpp>

#include <osbi/optim/adam.hpp>
#include <osbi/optim/clip.hpp>
#include <osbi/optim/schedule.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>
#include <osbi/io/checkpoint.hpp>
#include <osbi/io/parameter_checkpoint.hpp>

#include <Kokkos_Core.hpp>

#include <support/files.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace optim = osbi::optim;
using Space = Kokkos::DefaultExecutionSpace;

using osbi::testing::contains;
using osbi::testing::ScratchDirectory;

template <class Function>
void expect_get_error(Function function, const std::vector<std::string>& parts, const std::string& context) {
  try {
    function();
    BOOST_ERROR(context << ": accepted");
  } catch (const osbi::DataError& error) {
    for (const std::string& part : parts)
      BOOST_TEST(contains(error.what(), part), context << ": \"" << error.what() << "\" lacks \"" << part << "\"");
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(optimizer_checkpoint)

namespace {

// A deterministic training run: the gradient depends on the parameters and the step, the rate on a
// schedule of the optimizer's step count, the gradients are clipped. Optionally checkpoint after
// `stop` steps into `path` and restart from it in fresh objects, as after a SIGKILL.
struct RunResult {
  std::vector<float> parameters, exp_avg, exp_avg_sq;
  std::uint64_t steps;
  double learning_rate;
};

template <class Opt>
RunResult train(std::size_t steps, std::size_t stop, const fs::path& path) {
  const Space space;
  const std::size_t n = 257;
  const optim::CosineAnnealing schedule = optim::CosineAnnealing(0.05, steps).with_warmup(3);
  auto parameters = osbi::Vector<float, Space>("osbi::test::parameters", n);
  auto gradients = osbi::Vector<float, Space>("osbi::test::gradients", n);
  typename Opt::options_type options;
  options.weight_decay = 0.01;
  auto optimizer = std::make_unique<Opt>(n, options);
  for (std::size_t step = 0; step < steps; ++step) {
    if (step == stop) {
      optim::save_training_state(path, parameters, *optimizer);
      // Everything in memory is lost; fresh objects with other contents and options are restored.
      parameters = osbi::Vector<float, Space>("osbi::test::parameters_restarted", n);
      Kokkos::deep_copy(parameters, 123.0f);
      typename Opt::options_type other;
      other.learning_rate = 0.9;
      optimizer = std::make_unique<Opt>(n, other);
      optim::load_training_state(space, path, parameters, *optimizer);
    }
    const float phase = static_cast<float>(step) * 0.37f;
    Kokkos::parallel_for(
        "osbi::test::gradient", Kokkos::RangePolicy<Space>(space, 0, n), KOKKOS_LAMBDA(const std::size_t i) {
          const float target = static_cast<float>(i % 7) - 3.0f;
          gradients(i) = (parameters(i) - target) + 0.1f * osbi::math::sin(phase + static_cast<float>(i));
        });
    optim::clip_gradient_norm(space, gradients, 10.0);
    optimizer->set_learning_rate(schedule(optimizer->step_count()));
    optimizer->step(space, parameters, gradients);
  }
  space.fence();
  const auto copy = [](const auto& view) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    return std::vector<float>(host.data(), host.data() + host.extent(0));
  };
  return {copy(parameters), copy(optimizer->exp_avg()), copy(optimizer->exp_avg_sq()), optimizer->step_count(),
          optimizer->learning_rate()};
}

} // namespace

BOOST_AUTO_TEST_CASE(training_state_resumes_bit_identically) {
  ScratchDirectory scratch;
  const fs::path path = scratch.path / "training.osbi";
  for (std::size_t stop : {std::size_t{0}, std::size_t{1}, std::size_t{17}}) {
    const RunResult uninterrupted = train<optim::Adam<float, Space>>(40, 1000, path);
    const RunResult resumed = train<optim::Adam<float, Space>>(40, stop, path);
    BOOST_TEST(resumed.parameters == uninterrupted.parameters, "stopped after " << stop);
    BOOST_TEST(resumed.exp_avg == uninterrupted.exp_avg);
    BOOST_TEST(resumed.exp_avg_sq == uninterrupted.exp_avg_sq);
    BOOST_TEST(resumed.steps == 40u);
    BOOST_TEST(resumed.learning_rate == uninterrupted.learning_rate);
  }
  const RunResult w_uninterrupted = train<optim::AdamW<float, Space>>(30, 1000, path);
  const RunResult w_resumed = train<optim::AdamW<float, Space>>(30, 11, path);
  BOOST_TEST(w_resumed.parameters == w_uninterrupted.parameters);

  const osbi::CheckpointReader reader(path);
  BOOST_TEST(reader.get_string("optimizer/kind") == "AdamW");
  BOOST_TEST(reader.get_scalar<std::uint64_t>("optimizer/counter/step") == 11u);
  BOOST_TEST((reader.section("optimizer/buffer/exp_avg").shape == std::vector<std::size_t>{257}));
}

BOOST_AUTO_TEST_CASE(training_state_mismatches_are_rejected_without_side_effects) {
  ScratchDirectory scratch;
  const Space space;
  const fs::path path = scratch.path / "training.osbi";
  osbi::Vector<float, Space> parameters("osbi::test::parameters", 30);
  Kokkos::deep_copy(parameters, 0.5f);
  optim::Adam<float, Space> adam(30);
  adam.step(space, parameters, parameters);
  optim::save_training_state(path, parameters, adam);

  // Wrong length: DimensionMismatch naming both.
  osbi::Vector<float, Space> longer("osbi::test::longer", 31);
  optim::Adam<float, Space> adam31(31);
  try {
    optim::load_training_state(space, path, longer, adam31);
    BOOST_ERROR("31 parameters loaded from a checkpoint of 30");
  } catch (const osbi::DimensionMismatch& error) {
    BOOST_TEST((contains(error.what(), "31") && contains(error.what(), "30")), error.what());
  }
  // Another optimizer kind, another scalar type: DataError, and nothing changed.
  osbi::Vector<float, Space> target("osbi::test::target", 30);
  Kokkos::deep_copy(target, -1.0f);
  optim::AdamW<float, Space> adamw(30);
  try {
    optim::load_training_state(space, path, target, adamw);
    BOOST_ERROR("an Adam state loaded into AdamW");
  } catch (const osbi::DataError& error) {
    BOOST_TEST((contains(error.what(), "'Adam'") && contains(error.what(), "AdamW")), error.what());
  }
  BOOST_TEST(adamw.step_count() == 0u);
  auto host_target = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), target);
  BOOST_TEST(host_target(0) == -1.0f);
  osbi::Vector<double, Space> doubles("osbi::test::doubles", 30);
  optim::Adam<double, Space> adam_double(30);
  BOOST_CHECK_THROW(optim::load_training_state(space, path, doubles, adam_double), osbi::DataError);
  BOOST_TEST(adam_double.step_count() == 0u);

  // An unexpected section under the optimizer's prefix.
  osbi::CheckpointWriter writer;
  writer.add("parameters", parameters);
  optim::add_optimizer_state(writer, "optimizer/", adam);
  writer.add_scalar("optimizer/real/amsgrad", 1.0);
  writer.write(path);
  optim::Adam<float, Space> fresh(30);
  expect_get_error([&] { optim::load_training_state(space, path, target, fresh); },
                   {"10 sections under 'optimizer/'", "reads 9"}, "extra section");
}

BOOST_AUTO_TEST_CASE(one_container_holds_a_whole_pipeline_state) {
  // The online pipeline's use: parameters, optimizer, schedule, RNG counters and a buffer, one file.
  ScratchDirectory scratch;
  const Space space;
  const fs::path path = scratch.path / "pipeline.osbi";
  osbi::Vector<float, Space> parameters("osbi::test::parameters", 12);
  Kokkos::deep_copy(parameters, 0.25f);
  optim::AdamW<float, Space> optimizer(12);
  optimizer.step(space, parameters, parameters);
  optim::ReduceOnPlateau plateau(1e-3);
  for (double loss : {3.0, 2.0, 2.5}) plateau.observe(loss);
  osbi::RandomStream rng(99, 3, 0);
  rng.next();
  rng.next();
  osbi::Matrix<float, Space> buffer("osbi::test::buffer", 5, 4);
  Kokkos::deep_copy(buffer, 2.0f);

  osbi::CheckpointWriter writer;
  writer.add("estimator/parameters", parameters);
  optim::add_optimizer_state(writer, "estimator/optimizer/", optimizer);
  optim::add_schedule_state(writer, "estimator/schedule/", plateau);
  writer.add_scalar("rng/seed", rng.seed());
  writer.add_scalar("rng/stream", rng.stream());
  writer.add_scalar("rng/batches_drawn", rng.batches_drawn());
  writer.add("buffer/samples", buffer);
  writer.add_scalar("buffer/count", std::uint64_t{5});
  writer.write(path);

  const osbi::CheckpointReader reader(path);
  osbi::Vector<float, Space> parameters_back("osbi::test::parameters_back", 12);
  osbi::read_parameters(reader, "estimator/parameters", parameters_back);
  optim::AdamW<float, Space> optimizer_back(12);
  optim::read_optimizer_state(space, reader, "estimator/optimizer/", optimizer_back);
  BOOST_TEST(optimizer_back.step_count() == 1u);
  optim::ReduceOnPlateau plateau_back(1e-3);
  optim::read_schedule_state(reader, "estimator/schedule/", plateau_back);
  BOOST_TEST(plateau_back.state().best == 2.0);
  BOOST_TEST(plateau_back.state().bad_steps == 1u);
  BOOST_TEST(plateau_back.state().observations == 3u);
  const osbi::RandomStream rng_back(reader.get_scalar<std::uint64_t>("rng/seed"),
                                    reader.get_scalar<std::uint64_t>("rng/stream"),
                                    reader.get_scalar<std::uint64_t>("rng/batches_drawn"));
  BOOST_TEST(rng_back.batches_drawn() == 2u);
  osbi::Matrix<float, Space> buffer_back("osbi::test::buffer_back", 5, 4);
  reader.read_into("buffer/samples", buffer_back);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), buffer_back);
  BOOST_TEST(host(4, 3) == 2.0f);

  // A schedule state that cannot be one (a negative rate) is a DataError.
  optim::ReduceOnPlateau other(1e-3);
  osbi::CheckpointWriter bad_rate;
  bad_rate.add_scalar("s/learning_rate", -1.0);
  bad_rate.add_scalar("s/best", 1.0);
  bad_rate.add_scalar("s/bad_steps", std::uint64_t{0});
  bad_rate.add_scalar("s/cooldown_counter", std::uint64_t{0});
  bad_rate.add_scalar("s/observations", std::uint64_t{0});
  bad_rate.write(path);
  BOOST_CHECK_THROW(optim::read_schedule_state(osbi::CheckpointReader(path), "s/", other), osbi::DataError);
}
BOOST_AUTO_TEST_SUITE_END()
