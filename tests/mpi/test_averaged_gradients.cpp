// SPDX-License-Identifier: BSD-3-Clause
/// \brief AveragedGradients: the reduced gradient is the learners' mean; L learners × batch b train a MAF exactly as
/// one learner × batch L·b (to reduction-order rounding), the learners' parameters stay bitwise equal, and two runs
/// of one layout give the same bits.
#include <osbi/mpi/averaged_gradients.hpp>
#include <osbi/mpi/rank_layout.hpp>

#include <mpi/mpi_test_support.hpp>

#include <osbi/flow/maf.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/loss/nll.hpp>
#include <osbi/online/online_trainer.hpp>
#include <osbi/optim/adam.hpp>
#include <osbi/train/gradient_reduction.hpp>
#include <osbi/train/step.hpp>

#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace {

namespace mt = osbi::mpi_test;
using Space = osbi::DefaultExecutionSpace;
using Flow = osbi::ConditionalMAF<double, Space>;
using osbi::testing::device_matrix;
using osbi::testing::host_values;

constexpr std::size_t theta_dim = 2, x_dim = 3, batch = 16, steps = 12;

/// The fixed sample stream: x = Aθ + noise, row k the same on every rank.
struct Stream {
  std::vector<double> theta, x;
  explicit Stream(std::size_t rows) : theta(osbi::testing::normals(rows * theta_dim, 1)), x(rows * x_dim) {
    const std::vector<double> noise = osbi::testing::normals(rows * x_dim, 2, 0.3);
    for (std::size_t r = 0; r < rows; ++r) {
      const double* t = &theta[r * theta_dim];
      x[r * x_dim + 0] = t[0] + noise[r * x_dim + 0];
      x[r * x_dim + 1] = t[0] - 2 * t[1] + noise[r * x_dim + 1];
      x[r * x_dim + 2] = t[1] * t[1] + noise[r * x_dim + 2];
    }
  }
  /// Rows [first, first + count).
  std::pair<osbi::Matrix<double, Space>, osbi::Matrix<double, Space>> rows(std::size_t first, std::size_t count) const {
    return {device_matrix<double, Space>(std::vector<double>(theta.begin() + static_cast<std::ptrdiff_t>(first * theta_dim),
                                                             theta.begin() + static_cast<std::ptrdiff_t>((first + count) * theta_dim)),
                                         count, theta_dim),
            device_matrix<double, Space>(std::vector<double>(x.begin() + static_cast<std::ptrdiff_t>(first * x_dim),
                                                             x.begin() + static_cast<std::ptrdiff_t>((first + count) * x_dim)),
                                         count, x_dim)};
  }
};

Flow make_flow() { return Flow(theta_dim, x_dim, osbi::MAFOptions{{.transforms = 2, .hidden = 16, .blocks = 1, .seed = osbi::testing::test_seed()}}); }

/// Trains a fresh flow for `steps` steps: step s uses rows [s·stride + first, + count) of the stream.
template <class Reduction>
std::vector<double> train(const Stream& stream, std::size_t stride, std::size_t first, std::size_t count, Reduction&& reduction) {
  const Space space;
  Flow flow = make_flow();
  osbi::optim::Adam<double, Space> adam(flow.parameters().extent(0), {.learning_rate = 1e-2});
  osbi::NllLoss loss;
  for (std::size_t s = 0; s < steps; ++s) {
    const auto [theta, x] = stream.rows(s * stride + first, count);
    const osbi::TrainingBatch<double, Space> training_batch{theta, x, {}, {}, {}, {}, {}};
    osbi::training_step(flow, loss, adam, space, training_batch, osbi::RandomStream(3).at(s), osbi::StepOptions{.clip_max_norm = 5.0},
                        reduction);
  }
  space.fence();
  return host_values(flow.parameters());
}

double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (1e-3 + std::abs(b[i])));
  return worst;
}

} // namespace

BOOST_AUTO_TEST_SUITE(mpi_averaged_gradients)

BOOST_AUTO_TEST_CASE(the_reduced_gradient_is_the_learners_mean) {
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {mt::world_size(), 1});
  const int learners = roles.learners().size(), rank = roles.learners().rank();
  osbi::Vector<double, Space> gradients("gradients", 1000);
  Kokkos::parallel_for(Kokkos::RangePolicy<Space>(0, 1000), KOKKOS_LAMBDA(const std::size_t k) {
    gradients(k) = static_cast<double>(k) * (rank + 1) - rank;
  });
  osbi::mpi::AveragedGradients reduction(roles.learners());
  reduction.reduce(Space(), gradients);
  const auto values = host_values(gradients);
  // mean over r of (k·(r + 1) − r) = k·(L + 1)/2 − (L − 1)/2: sums of small integers, exact in double.
  for (std::size_t k = 0; k < values.size(); ++k)
    BOOST_TEST_REQUIRE(values[k] == static_cast<double>(k) * (learners + 1) / 2.0 - (learners - 1) / 2.0);
  BOOST_TEST(reduction.calls() == 1u);
}

BOOST_AUTO_TEST_CASE(learners_times_b_equal_one_learner_times_learners_b) {
  const int ranks = mt::world_size();
  const auto total_rows = steps * static_cast<std::size_t>(ranks) * batch;
  const Stream stream(total_rows);
  const auto learners = static_cast<std::size_t>(ranks), rank = static_cast<std::size_t>(mt::world_rank());
  const std::vector<double> single = train(stream, learners * batch, 0, learners * batch, osbi::LocalGradients{});
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {ranks, 1});
  const std::vector<double> parallel = train(stream, learners * batch, rank * batch, batch, osbi::mpi::AveragedGradients(roles.learners()));
  // Adam's first steps move every parameter by ~lr whatever the gradient's size, so after 12 steps the parameters
  // differ from the start by ~0.1; a reduction-order difference in the gradient (~1e-16 relative) grows through
  // Adam's normalization to far below 1e-9.
  BOOST_TEST(max_relative_difference(parallel, single) < 1e-9);
  BOOST_TEST(max_relative_difference(parallel, train(stream, 0, 0, batch, osbi::LocalGradients{})) > 1e-6); // the data matter

  // Bitwise the same parameters on every learner: the largest difference from learner 0's.
  std::vector<double> first = parallel;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double difference = 0;
  for (std::size_t i = 0; i < first.size(); ++i) difference = std::max(difference, std::abs(first[i] - parallel[i]));
  BOOST_TEST(mt::max_over_ranks(difference) == 0.0);

  // Deterministic: the same layout and stream give the same bits again.
  const std::vector<double> again = train(stream, learners * batch, rank * batch, batch, osbi::mpi::AveragedGradients(roles.learners()));
  BOOST_TEST(again == parallel, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_learner_draws_its_own_loss_noise) {
  // A random loss (flow or score matching) on data-parallel learners: independent noise on each learner's batch,
  // learner 0's the noise one process would draw.
  const osbi::mpi::Roles roles(MPI_COMM_WORLD, {mt::world_size(), 1});
  const osbi::mpi::AveragedGradients<> reduction(roles.learners());
  BOOST_TEST(reduction.learner() == roles.learners().rank());
  auto row = osbi::online::loss_random(7, 3, reduction).row(0);
  const double mine = row.uniform();
  std::vector<double> all(static_cast<std::size_t>(mt::world_size()));
  MPI_Allgather(&mine, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD);
  auto alone = osbi::online::loss_random(7, 3, osbi::LocalGradients{}).row(0);
  BOOST_TEST(all[0] == alone.uniform());
  std::sort(all.begin(), all.end());
  BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));
}

BOOST_AUTO_TEST_SUITE_END()
