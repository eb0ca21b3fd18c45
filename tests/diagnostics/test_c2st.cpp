// SPDX-License-Identifier: BSD-3-Clause
/// \brief C2ST: identical distributions give ≈ 0.5, mean shifts give the Bayes accuracy Φ(δ/2),
/// invariance to affine transforms (z-scoring), determinism, float32 training, and input errors.
#include <osbi/diagnostics/c2st.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>

#include <support/statistics.hpp>
#include <support/test_seed.hpp>

#include <Eigen/Core>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

/*
 * The statistic's noise: with a classifier trained on the other folds, each held-out row is right
 * with probability a (the classifier's accuracy), so the mean over all 2n held-out rows has standard
 * deviation ≈ √(a(1 − a)/(2n)) (folds' classifiers differ, which only shrinks the spread of the mean).
 * Every bound below is z·sd + an allowance for the training deficit of a finite network, with
 * z = two_sided_z(1e-9) ≈ 6.1: a false failure is rarer than 1e-9 per assertion.
 * Sizes: n = 2000-4000 per set (sbibm uses 10 000; the noise is then √2.5-√5 larger, and the bounds
 * say so). Epochs: the default max_epochs = 1000 with sklearn's stopping rule (the shifted 1-D cases stop
 * after 12-40 epochs), except identical distributions, capped at 100: there the network only memorises
 * noise (sklearn too runs ~600 epochs on 10-D N(0, I) halves) and held-out accuracy stays 0.5 + noise.
 */

namespace {

namespace diagnostics = osbi::diagnostics;

/// n × dim standard normal samples (+ shift in every column), from one Philox row of (seed, stream).
Eigen::MatrixXd normal_samples(std::size_t n, std::size_t dim, std::uint64_t stream, double shift = 0.0) {
  osbi::RowRandom generator = osbi::RandomStream(osbi::testing::test_seed(), stream).next().row(0);
  Eigen::MatrixXd samples(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < samples.rows(); ++i)
    for (Eigen::Index j = 0; j < samples.cols(); ++j) samples(i, j) = generator.normal() + shift;
  return samples;
}

diagnostics::C2stOptions seeded() {
  diagnostics::C2stOptions options;
  options.seed = osbi::testing::test_seed();
  return options;
}

double accuracy_sd(double accuracy, std::size_t n_per_set) {
  return std::sqrt(accuracy * (1.0 - accuracy) / (2.0 * static_cast<double>(n_per_set)));
}

double bayes_accuracy(double shift) { return osbi::testing::standard_normal_cdf(shift / 2.0); }

template <class Exception>
void check_throws(const std::function<void()>& call, const std::string& expected_text) {
  try {
    call();
    BOOST_ERROR("expected an exception mentioning '" << expected_text << "'");
  } catch (const Exception& error) {
    BOOST_TEST_INFO("message: " << error.what());
    BOOST_CHECK(std::string(error.what()).find(expected_text) != std::string::npos);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(diagnostics_c2st)

// Two independent samples of N(0, I): nothing to learn, so the held-out accuracy is 0.5 + noise
// (sd 0.5/√(2n) = 0.0079 at n = 2000) minus the small KFold bias (a fold holding more of one class
// leaves the training set with more of the other). |C2ST − 0.5| < 6.1·0.0079 + 0.005 = 0.053 ≈ the
// usual "< 0.55" criterion.
// Statistical (skipped under the sanitizers, see scripts/test.sh): the same classifier and folds run there
// through clearly_different_distributions_give_the_bayes_accuracy and report_is_deterministic_and_consistent.
BOOST_AUTO_TEST_CASE(identical_distributions_give_one_half, *boost::unit_test::label("statistical")) {
  for (const std::size_t dim : {std::size_t{2}, std::size_t{10}}) {
    const std::size_t n = 2000;
    diagnostics::C2stOptions options = seeded();
    options.max_epochs = 100; // 10-D memorises noise for ~600 epochs (as sklearn does); 0.5 needs no convergence
    const double value = diagnostics::c2st(normal_samples(n, dim, 10 + dim), normal_samples(n, dim, 20 + dim), options);
    const double bound = osbi::testing::two_sided_z() * accuracy_sd(0.5, n) + 0.005;
    BOOST_TEST_INFO("dim " << dim << " C2ST " << value << " bound |C2ST - 0.5| < " << bound);
    BOOST_TEST(std::abs(value - 0.5) < bound);
  }
}

// N(0, 1) vs N(3, 1): the Bayes classifier (threshold 1.5) is right with probability Φ(1.5) = 0.9332.
// A trained classifier cannot beat it beyond noise (sd 0.0040 at n = 2000) and a 20-unit MLP on one
// dimension comes within 0.01 of it: |C2ST − 0.9332| < 6.1·0.0040 + 0.01 = 0.034.
BOOST_AUTO_TEST_CASE(clearly_different_distributions_give_the_bayes_accuracy) {
  const std::size_t n = 2000;
  const double value = diagnostics::c2st(normal_samples(n, 1, 30), normal_samples(n, 1, 31, 3.0), seeded());
  const double expected = bayes_accuracy(3.0);
  const double bound = osbi::testing::two_sided_z() * accuracy_sd(expected, n) + 0.01;
  BOOST_TEST_INFO("C2ST " << value << " Bayes " << expected << " bound " << bound);
  BOOST_TEST(std::abs(value - expected) < bound);
  BOOST_TEST(value > 0.9);
}

// A mean shift δ in 1-D: C2ST ≈ Φ(δ/2), the Bayes accuracy, within 6.1·sd + 0.01 (n = 4000: sd ≤ 0.0056).
BOOST_AUTO_TEST_CASE(mean_shift_gives_phi_of_half_the_shift) {
  const std::size_t n = 4000;
  std::uint64_t stream = 40;
  for (const double shift : {0.5, 1.0, 2.0}) {
    const double value =
        diagnostics::c2st(normal_samples(n, 1, stream), normal_samples(n, 1, stream + 1, shift), seeded());
    stream += 2;
    const double expected = bayes_accuracy(shift);
    const double bound = osbi::testing::two_sided_z() * accuracy_sd(expected, n) + 0.01;
    BOOST_TEST_INFO("shift " << shift << " C2ST " << value << " Phi(shift/2) " << expected << " bound " << bound);
    BOOST_TEST(std::abs(value - expected) < bound);
  }
}

// z-scoring with the reference's statistics makes the C2ST invariant to a per-column affine map
// x ↦ a·x + b applied to both sets. With a > 0 the z-scored data agree to rounding, so with the same
// seed the whole run repeats: equal to within a few flipped predictions (0.002). With a < 0 in one
// column the z-scored data are mirrored, the training differs, and only the statistic agrees: the two
// values share their data, so |difference| < 6.1·√2·sd (sd = 0.0073 at n = 2000, accuracy ≈ 0.69) = 0.063.
BOOST_AUTO_TEST_CASE(affine_transforms_do_not_change_the_result) {
  const std::size_t n = 2000, dim = 2;
  const Eigen::MatrixXd reference = normal_samples(n, dim, 50);
  const Eigen::MatrixXd approximate = normal_samples(n, dim, 51, 1.0 / std::sqrt(2.0)); // |shift| = 1
  const double plain = diagnostics::c2st(reference, approximate, seeded());

  const auto transform = [](const Eigen::MatrixXd& x, const Eigen::RowVector2d& scale, const Eigen::RowVector2d& offset) {
    Eigen::MatrixXd y = x.array().rowwise() * scale.array();
    return Eigen::MatrixXd(y.rowwise() + offset);
  };
  const Eigen::RowVector2d positive_scale(250.0, 0.004), negative_scale(-3.0, 0.5), offset(-1000.0, 7.0);
  const double scaled = diagnostics::c2st(transform(reference, positive_scale, offset),
                                          transform(approximate, positive_scale, offset), seeded());
  const double mirrored = diagnostics::c2st(transform(reference, negative_scale, offset),
                                            transform(approximate, negative_scale, offset), seeded());
  BOOST_TEST_INFO("plain " << plain << " scaled " << scaled << " mirrored " << mirrored);
  BOOST_TEST(std::abs(scaled - plain) <= 0.002);
  BOOST_TEST(std::abs(mirrored - plain) < osbi::testing::two_sided_z() * std::sqrt(2.0) * accuracy_sd(0.69, n));
  const double expected = bayes_accuracy(1.0);
  BOOST_TEST(std::abs(plain - expected) < osbi::testing::two_sided_z() * accuracy_sd(expected, n) + 0.01);
}

// Same seed, same data → the same report; the report's folds, epochs and mean agree with each other.
BOOST_AUTO_TEST_CASE(report_is_deterministic_and_consistent) {
  const Eigen::MatrixXd reference = normal_samples(500, 2, 60), approximate = normal_samples(500, 2, 61, 0.5);
  diagnostics::C2stOptions options = seeded();
  options.folds = 4;
  const diagnostics::C2stReport first = diagnostics::c2st_report(reference, approximate, options);
  const diagnostics::C2stReport second = diagnostics::c2st_report(reference, approximate, options);
  BOOST_TEST(first.accuracy == second.accuracy);
  BOOST_TEST(first.fold_accuracies == second.fold_accuracies, boost::test_tools::per_element());
  BOOST_TEST(first.fold_epochs == second.fold_epochs, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(first.fold_accuracies.size() == 4u);
  double sum = 0.0;
  for (std::size_t k = 0; k < 4; ++k) {
    sum += first.fold_accuracies[k];
    BOOST_TEST(first.fold_epochs[k] >= options.n_iter_no_change + 1); // the rule needs n_iter_no_change+1 epochs
    BOOST_TEST(first.fold_epochs[k] <= options.max_epochs);
    BOOST_TEST(std::isfinite(first.fold_final_loss[k]));
  }
  BOOST_TEST(first.accuracy == sum / 4.0, boost::test_tools::tolerance(1e-12));
  // max_epochs caps training.
  options.max_epochs = 3;
  const diagnostics::C2stReport capped = diagnostics::c2st_report(reference, approximate, options);
  for (const std::size_t epochs : capped.fold_epochs) BOOST_TEST(epochs == 3u);
}

// float64 training (the default is float32, as sbibm's tensors) estimates the same statistic.
BOOST_AUTO_TEST_CASE(double_training_matches_the_bayes_accuracy) {
  const std::size_t n = 2000;
  const double value =
      diagnostics::c2st<double>(normal_samples(n, 1, 70), normal_samples(n, 1, 71, 1.0), seeded());
  const double expected = bayes_accuracy(1.0);
  BOOST_TEST_INFO("double C2ST " << value << " Phi(1/2) " << expected);
  BOOST_TEST(std::abs(value - expected) < osbi::testing::two_sided_z() * accuracy_sd(expected, n) + 0.01);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_rejected_with_a_message) {
  const Eigen::MatrixXd good = normal_samples(20, 2, 80);
  check_throws<osbi::DimensionMismatch>([&] { diagnostics::c2st(good, normal_samples(20, 3, 81)); },
                                        "reference has 2 columns, approximate has 3");
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, normal_samples(4, 2, 82)); },
                                      "the approximate set has 4 rows, fewer than folds = 5");
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(normal_samples(3, 2, 83), good); },
                                      "the reference set has 3 rows");
  Eigen::MatrixXd with_nan = good;
  with_nan(7, 1) = std::numeric_limits<double>::quiet_NaN();
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(with_nan, good); }, "reference set has a non-finite value");
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(with_nan, good); }, "row 7, column 1");
  Eigen::MatrixXd with_inf = good;
  with_inf(12, 0) = -std::numeric_limits<double>::infinity();
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, with_inf); }, "approximate set has a non-finite value");
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, with_inf); }, "row 12, column 0");
  Eigen::MatrixXd constant = good;
  constant.col(1).setConstant(2.0);
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(constant, good); },
                                      "reference column 1 has standard deviation 0");
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(Eigen::MatrixXd(20, 0), Eigen::MatrixXd(20, 0)); },
                                      "0 columns");
  diagnostics::C2stOptions options;
  options.folds = 1;
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, good, options); }, "folds = 1 must be >= 2");
  options = {};
  options.learning_rate = -1.0;
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, good, options); }, "learning_rate = -1");
  options = {};
  options.alpha = std::numeric_limits<double>::quiet_NaN();
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, good, options); }, "alpha = nan");
  options = {};
  options.hidden_multiplier = 0;
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, good, options); }, "hidden_multiplier = 0");
  options = {};
  options.batch_size = 0;
  check_throws<osbi::InvalidArgument>([&] { diagnostics::c2st(good, good, options); }, "batch_size = 0");
}

BOOST_AUTO_TEST_SUITE_END()
