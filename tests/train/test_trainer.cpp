// SPDX-License-Identifier: BSD-3-Clause
/// \brief train(): the batches a loss sees carry exactly the dataset's rows, weights and metadata (arrival = row, uses =
/// epoch), the split and the report add up, the best parameters come back; and train() runs with EstimatorArchetype,
/// LossArchetype and a user's optimizer.
#include <osbi/train/dataset.hpp>
#include <osbi/train/trainer.hpp>

#include <osbi/testing/estimator_archetype.hpp>
#include <osbi/testing/loss_archetype.hpp>

#include <osbi/flow/linear_gaussian.hpp>
#include <osbi/loss/nll.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/random_streams.hpp>
#include <osbi/core/types.hpp>

#include <support/test_seed.hpp>
#include <support/views.hpp>
#include <train/train_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

namespace {

using Space = osbi::DefaultExecutionSpace;
using osbi::train_test::RecordedBatch;
using osbi::train_test::RecordingLoss;
using Sgd = osbi::train_test::RecordingSgd<double, Space>;
using Index = Kokkos::View<std::uint64_t*, Space::memory_space>;
namespace tt = boost::test_tools;

/// 103 rows (θ 2 wide, x 3 wide) with weights and metadata; row 7 has a NaN in θ, row 20 an Inf in x, row 50 a NaN
/// weight: 100 finite rows.
struct WeightedData {
  static constexpr std::size_t n = 103, d = 2, c = 3;
  std::vector<double> theta = osbi::testing::normals(n * d, 111), x = osbi::testing::normals(n * c, 112),
                      weights = osbi::testing::normals(n, 113), log_prob = std::vector<double>(n);
  std::vector<std::uint64_t> rounds = std::vector<std::uint64_t>(n);
  osbi::Dataset<double, Space> data;

  WeightedData() {
    for (std::size_t i = 0; i < n; ++i) {
      weights[i] = std::exp(0.3 * weights[i]);
      log_prob[i] = -1.5 - 0.01 * static_cast<double>(i);
      rounds[i] = i % 3;
    }
    theta[7 * d + 1] = std::numeric_limits<double>::quiet_NaN();
    x[20 * c] = std::numeric_limits<double>::infinity();
    weights[50] = std::numeric_limits<double>::quiet_NaN();
    data.theta = osbi::testing::device_matrix<double>(theta, n, d);
    data.x = osbi::testing::device_matrix<double>(x, n, c);
    data.weights = osbi::testing::device_vector<double>(weights);
    data.proposal_log_prob = osbi::testing::device_vector<double>(log_prob);
    Index round("round", n);
    auto host = Kokkos::create_mirror_view(round);
    for (std::size_t i = 0; i < n; ++i) host(i) = rounds[i];
    Kokkos::deep_copy(round, host);
    data.round = round;
  }

  /// Every field of the recorded batch's row r is the dataset's row arrival(r), bit for bit.
  void expect_rows_of_the_dataset(const RecordedBatch& batch) const {
    for (std::size_t r = 0; r < batch.arrival.size(); ++r) {
      const std::size_t row = batch.arrival[r];
      BOOST_TEST_REQUIRE(row < n);
      for (std::size_t j = 0; j < d; ++j) BOOST_TEST(batch.theta[r * d + j] == theta[row * d + j]);
      for (std::size_t j = 0; j < c; ++j) BOOST_TEST(batch.x[r * c + j] == x[row * c + j]);
      BOOST_TEST(batch.weights[r] == weights[row]);
      BOOST_TEST(batch.proposal_log_prob[r] == log_prob[row]);
      BOOST_TEST(batch.round[r] == rounds[row]);
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(train_trainer)

BOOST_AUTO_TEST_CASE(batches_carry_the_datasets_rows_weights_and_metadata) {
  const WeightedData dataset;
  osbi::LinearGaussian<double, Space> density(WeightedData::d, WeightedData::c);
  RecordingLoss<osbi::NllLoss> loss;
  Sgd optimizer(density.parameters().extent(0), 0.05);
  const osbi::TrainingOptions options{.batch_size = 16, .validation_fraction = 0.1, .stop_after_epochs = 100,
                                      .max_epochs = 4, .seed = osbi::testing::test_seed()};
  const osbi::TrainingReport report = osbi::train(density, dataset.data, options, loss, optimizer);

  // Accounting: 100 finite rows, 10 held out, 90 trained on in 5 batches of 16 per epoch (the partial one dropped).
  BOOST_TEST(report.rows_total == 103u);
  BOOST_TEST(report.rows_dropped == 3u);
  BOOST_TEST(report.rows_validation == 10u);
  BOOST_TEST(report.rows_train == 90u);
  BOOST_TEST(report.epochs == 4u);
  BOOST_TEST(report.steps == 20u);
  BOOST_TEST(optimizer.step_count() == 20u);
  BOOST_TEST(!report.stopped_early);
  BOOST_TEST_REQUIRE(loss.trained.size() == 20u);
  BOOST_TEST_REQUIRE(loss.validated.size() == 4u);
  BOOST_TEST_REQUIRE(report.train_loss.size() == 4u);
  BOOST_TEST_REQUIRE(report.validation_loss.size() == 4u);

  // Validation: the same 10 rows every epoch, delivered once; never a training row, never a dropped one.
  std::set<std::uint64_t> validation_rows(loss.validated[0].arrival.begin(), loss.validated[0].arrival.end());
  BOOST_TEST(validation_rows.size() == 10u);
  for (std::size_t e = 0; e < 4; ++e) {
    const RecordedBatch& batch = loss.validated[e];
    BOOST_TEST(batch.arrival == loss.validated[0].arrival, tt::per_element());
    BOOST_TEST(batch.uses == std::vector<std::uint64_t>(10, 1), tt::per_element());
    dataset.expect_rows_of_the_dataset(batch);
    BOOST_TEST(report.validation_loss[e] == batch.value);
  }
  // Training: per epoch 80 distinct rows, each delivered with uses = the epoch (from 1).
  for (std::size_t e = 0; e < 4; ++e) {
    std::set<std::uint64_t> epoch_rows;
    double epoch_loss = 0;
    for (std::size_t b = 0; b < 5; ++b) {
      const RecordedBatch& batch = loss.trained[e * 5 + b];
      BOOST_TEST_REQUIRE(batch.arrival.size() == 16u);
      BOOST_TEST(batch.uses == std::vector<std::uint64_t>(16, e + 1), tt::per_element());
      dataset.expect_rows_of_the_dataset(batch);
      epoch_rows.insert(batch.arrival.begin(), batch.arrival.end());
      epoch_loss += batch.value;
    }
    BOOST_TEST(epoch_rows.size() == 80u);
    for (const std::uint64_t row : epoch_rows) {
      BOOST_TEST(validation_rows.count(row) == 0u);
      BOOST_TEST((row != 7 && row != 20 && row != 50));
    }
    BOOST_TEST(report.train_loss[e] == epoch_loss / 5.0, tt::tolerance(1e-15));
  }

  // The best epoch's parameters came back: the validation value now is the best one, bit for bit.
  const auto best = std::min_element(report.validation_loss.begin(), report.validation_loss.end());
  BOOST_TEST(report.best_validation_loss == *best);
  BOOST_TEST(report.best_epoch == static_cast<std::size_t>(best - report.validation_loss.begin()) + 1);
  osbi::TrainingBatch<double, Space> validation;
  const RecordedBatch& held_out = loss.validated[0];
  validation.theta = osbi::testing::device_matrix<double>(held_out.theta, 10, WeightedData::d);
  validation.x = osbi::testing::device_matrix<double>(held_out.x, 10, WeightedData::c);
  validation.weights = osbi::testing::device_vector<double>(held_out.weights);
  const osbi::BatchRandom validation_rng =
      osbi::RandomStream(options.seed, osbi::streams::trainer_validation).at(0);
  BOOST_TEST(osbi::NllLoss().value(density, Space(), validation, validation_rng) == report.best_validation_loss);
}

BOOST_AUTO_TEST_CASE(a_dataset_without_metadata_gives_batches_without_it) {
  WeightedData dataset;
  dataset.data.proposal_log_prob = {};
  dataset.data.round = {};
  dataset.data.weights = {};
  osbi::LinearGaussian<double, Space> density(WeightedData::d, WeightedData::c);
  RecordingLoss<osbi::NllLoss> loss;
  Sgd optimizer(density.parameters().extent(0), 0.05);
  const auto report = osbi::train(density, dataset.data, {.batch_size = 32, .max_epochs = 1}, loss, optimizer);
  // Without weights only θ and x can be non-finite: rows 7 and 20 are dropped.
  BOOST_TEST(report.rows_dropped == 2u);
  BOOST_TEST_REQUIRE(!loss.trained.empty());
  BOOST_TEST(loss.trained[0].weights.empty());
  BOOST_TEST(loss.trained[0].proposal_log_prob.empty());
  BOOST_TEST(loss.trained[0].arrival.empty());
}

BOOST_AUTO_TEST_CASE(dataset_shapes_are_checked) {
  WeightedData dataset;
  osbi::LinearGaussian<double, Space> density(WeightedData::d, WeightedData::c);
  osbi::NllLoss loss;
  Sgd optimizer(density.parameters().extent(0), 0.05);
  auto bad = dataset.data;
  bad.weights = osbi::Vector<double, Space>("weights", WeightedData::n - 1);
  BOOST_CHECK_THROW(osbi::train(density, bad, {}, loss, optimizer), osbi::DimensionMismatch);
  bad = dataset.data;
  bad.round = {};
  BOOST_CHECK_THROW(osbi::train(density, bad, {}, loss, optimizer), osbi::InvalidArgument);
  bad = dataset.data;
  bad.x = osbi::Matrix<double, Space>("x", WeightedData::n, WeightedData::c + 1);
  BOOST_CHECK_THROW(osbi::train(density, bad, {}, loss, optimizer), osbi::DimensionMismatch);
}

BOOST_AUTO_TEST_CASE(trains_the_estimator_archetype_with_the_loss_archetype_and_a_custom_optimizer) {
  // θ = 0.7 + x + ε, 20 000 rows: the archetype's μ is fitted to mean(θ − x). SGD at lr 0.05 reaches the training
  // rows' mean (standard error 0.0075) within the first epoch of 90 steps and then jitters around it by ≈ 0.011;
  // early stopping keeps the epoch closest to the 2 000 validation rows' mean (standard error 0.022), all of them near
  // the training mean. |μ − 0.7| < 0.1 is over 4 standard deviations of the sum: false failure probability < 1e-4.
  const auto data = osbi::train_test::shifted_normal_data(20'000, 0.7, 121, 122);

  osbi::testing::EstimatorArchetype estimator(-1.0);
  osbi::testing::LossArchetype loss(0.1);
  Sgd optimizer(1, 0.05);
  const auto report = osbi::train(estimator, data,
                                  {.batch_size = 200, .stop_after_epochs = 5, .max_epochs = 60,
                                   .seed = osbi::testing::test_seed()},
                                  loss, optimizer);
  const double mu = osbi::testing::host_values(estimator.parameters())[0];
  BOOST_TEST_MESSAGE("archetype: mu = " << mu << " after " << report.epochs << " epochs (best " << report.best_epoch
                                        << ", validation " << report.best_validation_loss << ")");
  BOOST_TEST(std::abs(mu - 0.7) < 0.1);
  BOOST_TEST(report.rows_train == 18'000u);
  BOOST_TEST(report.steps == report.epochs * 90);
  BOOST_TEST(optimizer.step_count() == report.steps);
  // Patience 5 without decays: a stopped run ends 5 epochs after its best.
  if (report.stopped_early) BOOST_TEST(report.epochs == report.best_epoch + 5);
  BOOST_TEST(report.validation_loss[report.best_epoch - 1] == report.best_validation_loss);
}

BOOST_AUTO_TEST_CASE(learning_rate_decays_are_counted_and_reach_the_optimizer) {
  // Patience 1 with 2 decays of 0.5 on a converged problem: each plateau halves the rate, then the run stops.
  const auto data = osbi::train_test::shifted_normal_data(400, 0.3, 123, 124);
  osbi::testing::EstimatorArchetype estimator(0.3);
  osbi::testing::LossArchetype loss(0.5);
  Sgd optimizer(1, 0.5);
  const auto report = osbi::train(estimator, data,
                                  {.batch_size = 40, .stop_after_epochs = 1, .learning_rate_decays = 2,
                                   .learning_rate_decay = 0.5, .max_epochs = 1000, .seed = osbi::testing::test_seed()},
                                  loss, optimizer);
  BOOST_TEST(report.stopped_early);
  BOOST_TEST(report.learning_rate_decays == 2u);
  BOOST_TEST(optimizer.learning_rate() == 0.125);
}

BOOST_AUTO_TEST_SUITE_END()
