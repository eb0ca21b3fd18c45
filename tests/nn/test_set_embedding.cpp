// SPDX-License-Identifier: BSD-3-Clause
/// \brief SetEmbedding: invariance to the order of the trials, padding that changes nothing, finite differences over
/// every trial entry and parameter (mean and attention pooling), pooled standardization, and bad counts rejected.
#include <osbi/nn/activations.hpp>
#include <osbi/nn/dense.hpp>
#include <osbi/nn/layer.hpp>
#include <osbi/nn/layer_norm.hpp>
#include <osbi/nn/sequential.hpp>
#include <osbi/nn/set_embedding.hpp>
#include <osbi/testing/gradient_check.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/types.hpp>

#include <nn/layer_test_support.hpp>

#include <Kokkos_Core.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <vector>

namespace {

namespace nn = osbi::nn;
namespace layers = osbi::testing::layers;
using layers::Bound;
using layers::HostMatrix;
using layers::test_rng;
using Space = osbi::DefaultExecutionSpace;

using Phi = nn::Sequential<nn::Dense<6, nn::init::TorchDefault, nn::activation::Tanh>, nn::LayerNorm, nn::Dense<4>>;
using MeanSet = nn::SetEmbedding<2, Phi>;
using SumSet = nn::SetEmbedding<2, Phi, nn::pool::Sum>;
using AttentionSet = nn::SetEmbedding<2, Phi, nn::pool::Attention<2, 2>>;

/// Rows of x = (k, trials…) with k from `counts`; padding trials hold `padding`.
HostMatrix set_rows(const std::vector<std::size_t>& counts, std::size_t max_trials, std::size_t trial_dim,
                    std::uint64_t stream, double padding = 0.0) {
  HostMatrix values = layers::random_host(counts.size(), max_trials * trial_dim, stream);
  HostMatrix x{counts.size(), 1 + max_trials * trial_dim, std::vector<double>(counts.size() * (1 + max_trials * trial_dim))};
  for (std::size_t n = 0; n < counts.size(); ++n) {
    x(n, 0) = double(counts[n]);
    for (std::size_t j = 0; j < max_trials * trial_dim; ++j) x(n, 1 + j) = j / trial_dim < counts[n] ? values(n, j) : padding;
  }
  return x;
}

template <class Spec, class Scalar>
HostMatrix embed(Bound<nn::bind_t<Spec, Scalar, Space>>& bound, const HostMatrix& x) {
  const auto y = layers::nan_matrix<Scalar>(x.rows, bound.layer.output_dim());
  bound.layer.forward(Space(), layers::to_device<Scalar>(x), y);
  return layers::to_host(y);
}

/// The set layer with fixed counts in front: input = the trials only, so finite differences never touch k
/// (which is an integer, not a differentiable input). Models Layer.
template <class Spec>
class FixedCounts {
public:
  using scalar_type = double;
  using execution_space = Space;
  using Inner = nn::bind_t<Spec, double, Space>;

  FixedCounts(std::vector<std::size_t> counts, std::size_t trials_dim)
      : m_inner(1 + trials_dim), m_counts(std::move(counts)) {}

  std::size_t input_dim() const { return m_inner.input_dim() - 1; }
  std::size_t output_dim() const { return m_inner.output_dim(); }
  std::size_t parameter_count() const { return m_inner.parameter_count(); }
  void bind(const osbi::Vector<double, Space>& p, const osbi::Vector<double, Space>& g) { m_inner.bind(p, g); }
  void initialize(const Space& space, osbi::BatchRandom rng) { m_inner.initialize(space, rng); }
  Inner& inner() { return m_inner; }

  void forward(const Space& space, const osbi::ConstMatrix<double, Space>& input, const osbi::Matrix<double, Space>& output) {
    m_x = osbi::Matrix<double, Space>("x", input.extent(0), input.extent(1) + 1);
    const auto source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), input);
    const auto target = Kokkos::create_mirror_view(m_x);
    for (std::size_t n = 0; n < input.extent(0); ++n) {
      target(n, 0) = double(m_counts[n]);
      for (std::size_t j = 0; j < input.extent(1); ++j) target(n, 1 + j) = source(n, j);
    }
    Kokkos::deep_copy(m_x, target);
    m_inner.forward(space, m_x, output);
  }

  void backward(const Space& space, const osbi::ConstMatrix<double, Space>& grad_output,
                const osbi::Matrix<double, Space>& grad_input) {
    if (grad_input.data() == nullptr) {
      m_inner.backward(space, grad_output, osbi::Matrix<double, Space>());
      return;
    }
    osbi::Matrix<double, Space> full("grad_x", grad_output.extent(0), input_dim() + 1);
    m_inner.backward(space, grad_output, full);
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), full);
    const auto result = Kokkos::create_mirror_view(grad_input);
    for (std::size_t n = 0; n < grad_input.extent(0); ++n) {
      BOOST_TEST(host(n, 0) == 0.0); // the count gets no gradient
      for (std::size_t j = 0; j < grad_input.extent(1); ++j) result(n, j) = host(n, 1 + j);
    }
    Kokkos::deep_copy(grad_input, result);
  }

private:
  Inner m_inner;
  std::vector<std::size_t> m_counts;
  osbi::Matrix<double, Space> m_x;
};
static_assert(nn::Layer<FixedCounts<MeanSet>>);

} // namespace

BOOST_AUTO_TEST_SUITE(set_embedding)

static_assert(nn::StandardizesInput<nn::bind_t<MeanSet, float, Space>>);
static_assert(nn::StandardizesInput<nn::bind_t<nn::Sequential<MeanSet, nn::Dense<3>>, float, Space>>);
static_assert(!nn::StandardizesInput<nn::bind_t<nn::Sequential<nn::Dense<3>, MeanSet>, float, Space>>);

template <class Spec>
void check_invariance() {
  const std::size_t max_trials = 6, trial_dim = 2;
  Bound<nn::bind_t<Spec, float, Space>> bound(test_rng(11), 1 + max_trials * trial_dim);
  const std::vector<std::size_t> counts{1, 4, 6, 3};
  const HostMatrix x = set_rows(counts, max_trials, trial_dim, 12);
  const HostMatrix y = embed<Spec, float>(bound, x);
  // Reversing the present trials of every row changes nothing.
  HostMatrix reversed = x;
  for (std::size_t n = 0; n < counts.size(); ++n)
    for (std::size_t t = 0; t < counts[n]; ++t)
      for (std::size_t e = 0; e < trial_dim; ++e)
        reversed(n, 1 + t * trial_dim + e) = x(n, 1 + (counts[n] - 1 - t) * trial_dim + e);
  BOOST_TEST(layers::max_relative_difference(embed<Spec, float>(bound, reversed), y) < 1e-5);
  // Padding values change nothing (exactly: they are never read).
  const HostMatrix padded = set_rows(counts, max_trials, trial_dim, 12, 123.0);
  BOOST_TEST(layers::max_relative_difference(embed<Spec, float>(bound, padded), y) == 0.0);
  // A row holds the same summary as the same trials in a set with fewer slots.
  Bound<nn::bind_t<Spec, float, Space>> short_set(test_rng(11), 1 + 4 * trial_dim);
  HostMatrix x_short{1, 1 + 4 * trial_dim, std::vector<double>(x.values.begin() + 13, x.values.begin() + 13 + 9)};
  const HostMatrix y_short = embed<Spec, float>(short_set, x_short);
  for (std::size_t j = 0; j + 1 < y.columns; ++j) BOOST_TEST(std::abs(y_short(0, j) - y(1, j)) < 1e-5);
  // The summary ends with k / max_trials.
  BOOST_TEST(y_short(0, y.columns - 1) == 1.0);
  for (std::size_t n = 0; n < counts.size(); ++n) BOOST_TEST(y(n, y.columns - 1) == float(counts[n]) / float(max_trials));
}

BOOST_AUTO_TEST_CASE(summary_is_invariant_to_the_order_of_the_trials_and_ignores_padding) {
  check_invariance<MeanSet>();
  check_invariance<SumSet>();
  check_invariance<AttentionSet>();
}

template <class Spec>
void check_finite_differences() {
  const std::size_t max_trials = 4, trial_dim = 2;
  const std::vector<std::size_t> counts{1, 4, 2};
  FixedCounts<Spec> layer(counts, max_trials * trial_dim);
  // Standardization with pooled statistics s ≠ 1 (so the chain rule through it is checked too).
  std::vector<double> mean(1 + max_trials * trial_dim, 0.3), deviation(1 + max_trials * trial_dim, 2.0);
  layer.inner().set_input_standardization(mean, deviation);
  HostMatrix trials = set_rows(counts, max_trials, trial_dim, 21);
  HostMatrix input{3, max_trials * trial_dim, std::vector<double>(3 * max_trials * trial_dim)};
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t j = 0; j < max_trials * trial_dim; ++j) input(n, j) = trials(n, 1 + j);
  const auto report = osbi::testing::check_gradients(Space(), layer, layers::to_device<double>(input));
  BOOST_TEST(report.passed(), report.summary());
  BOOST_TEST(report.parameters_checked == layer.parameter_count());
}

BOOST_AUTO_TEST_CASE(finite_differences_over_trials_and_parameters) {
  check_finite_differences<MeanSet>();
  check_finite_differences<SumSet>();
  check_finite_differences<AttentionSet>();
}

BOOST_AUTO_TEST_CASE(standardization_pools_the_trial_slots) {
  // Two slots of one feature: means 1 and 3, standard deviations 1 and 1 → pooled mean 2, variance 1 + 1 = 2.
  using Identity = nn::SetEmbedding<1, nn::Dense<1, nn::init::Zero>>;
  Bound<nn::bind_t<Identity, double, Space>> bound(test_rng(31), 3);
  auto& layer = bound.layer;
  // φ(z) = z: weight 1, bias 0.
  Kokkos::deep_copy(Kokkos::subview(bound.parameters, 0), 1.0);
  layer.set_input_standardization({5.0, 1.0, 3.0}, {9.0, 1.0, 1.0});
  HostMatrix x{1, 3, {2.0, 2.0 + std::sqrt(2.0), 2.0 - 3 * std::sqrt(2.0)}};
  const HostMatrix y = embed<Identity, double>(bound, x);
  BOOST_TEST(std::abs(y(0, 0) - (1.0 - 3.0) / 2) < 1e-12); // mean of z = (1, −3)
  BOOST_TEST(y(0, 1) == 1.0);                             // k / max_trials = 2 / 2
}

BOOST_AUTO_TEST_CASE(bad_counts_are_rejected_naming_the_row) {
  Bound<nn::bind_t<MeanSet, float, Space>> bound(test_rng(41), 1 + 3 * 2);
  for (const double bad : {0.0, 4.0, 1.5, -1.0, std::nan("")}) {
    HostMatrix x = set_rows({2, 3, 1}, 3, 2, 42);
    x(2, 0) = bad;
    std::string message;
    try {
      embed<MeanSet, float>(bound, x);
    } catch (const osbi::InvalidArgument& error) {
      message = error.what();
    }
    BOOST_TEST(message.find("row 2 says it holds") != std::string::npos, "count " << bad << ": '" << message << "'");
  }
  const std::string shape = layers::mismatch_message([] { nn::bind_t<MeanSet, float, Space>(6); });
  BOOST_TEST(shape.find("not 1 (the trial count) + a whole number of 2-number trials") != std::string::npos, shape);
}

BOOST_AUTO_TEST_SUITE_END()
