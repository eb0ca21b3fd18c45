// SPDX-License-Identifier: BSD-3-Clause
/// \brief The train tests' parts: a plain SGD optimizer that records what it is given, a recording gradient reduction,
/// and a loss wrapper that records every batch it sees.
#pragma once

#include <osbi/estimator/estimator.hpp>
#include <osbi/loss/batch.hpp>
#include <osbi/optim/optimizer.hpp>
#include <osbi/train/dataset.hpp>
#include <osbi/train/gradient_reduction.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <support/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace osbi::train_test {

/// n rows of θ = offset + x + ε, one column each, x and ε standard normal from the test streams given: what the
/// archetype estimator (a mean μ of θ − x) is fitted to; its optimum is offset.
inline Dataset<double, DefaultExecutionSpace> shifted_normal_data(std::size_t n, double offset, std::uint64_t x_stream,
                                                                  std::uint64_t noise_stream) {
  const std::vector<double> x = testing::normals(n, x_stream), noise = testing::normals(n, noise_stream);
  std::vector<double> theta(n);
  for (std::size_t i = 0; i < n; ++i) theta[i] = offset + x[i] + noise[i];
  Dataset<double, DefaultExecutionSpace> data;
  data.theta = testing::device_matrix<double>(theta, n, 1);
  data.x = testing::device_matrix<double>(x, n, 1);
  return data;
}

/// θ ← θ − lr·g, recording the gradient of the last step: a user's optimizer, not Adam.
template <class Scalar, class ExecutionSpace>
class RecordingSgd {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  RecordingSgd(std::size_t parameter_count, double learning_rate)
      : m_count(parameter_count), m_learning_rate(learning_rate) {}

  std::size_t parameter_count() const { return m_count; }

  void step(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& parameters,
            const ConstVector<Scalar, ExecutionSpace>& gradients) {
    optim::detail::check_step_sizes("RecordingSgd", m_count, parameters.extent(0), gradients.extent(0));
    space.fence();
    last_gradient = testing::host_values(gradients);
    const double rate = m_learning_rate;
    Kokkos::parallel_for(
        "osbi::test::RecordingSgd::step", Kokkos::RangePolicy<ExecutionSpace>(space, 0, m_count),
        KOKKOS_LAMBDA(const std::size_t k) { parameters(k) -= static_cast<Scalar>(rate * gradients(k)); });
    ++m_steps;
  }

  double learning_rate() const { return m_learning_rate; }
  void set_learning_rate(double rate) {
    require(rate >= 0, "RecordingSgd", "learning rate ", rate, " must be >= 0");
    m_learning_rate = rate;
  }
  std::uint64_t step_count() const { return m_steps; }

  optim::OptimizerState<Scalar, ExecutionSpace> state() const {
    return {"RecordingSgd", {}, {{"learning_rate", m_learning_rate}}, {{"step", m_steps}}};
  }
  void load_state(const ExecutionSpace&, const optim::OptimizerState<Scalar, ExecutionSpace>& state) {
    require<DataError>(state.kind == "RecordingSgd", "RecordingSgd", "state of kind ", state.kind);
    m_learning_rate = state.reals.at("learning_rate");
    m_steps = state.counters.at("step");
  }

  std::vector<double> last_gradient;

private:
  std::size_t m_count;
  double m_learning_rate;
  std::uint64_t m_steps = 0;
};

static_assert(optim::Optimizer<RecordingSgd<double, DefaultExecutionSpace>>);

/// A reduction that records the gradients it is handed, then multiplies them by `factor` (as a sum over `factor`
/// learners holding the same gradient would).
struct RecordingReduction {
  explicit RecordingReduction(double scale) : factor(scale) {}

  double factor;
  std::vector<double> seen;

  template <class ExecutionSpace, class Scalar>
  void reduce(const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& gradients) {
    space.fence();
    seen = testing::host_values(gradients);
    const double scale = factor;
    Kokkos::parallel_for(
        "osbi::test::RecordingReduction::reduce", Kokkos::RangePolicy<ExecutionSpace>(space, 0, gradients.extent(0)),
        KOKKOS_LAMBDA(const std::size_t k) { gradients(k) = static_cast<Scalar>(scale * gradients(k)); });
  }
};

static_assert(GradientReduction<RecordingReduction, double, DefaultExecutionSpace>);

/// One batch as a loss saw it, on the host.
struct RecordedBatch {
  std::vector<double> theta, x, weights, proposal_log_prob;
  std::vector<std::uint64_t> round, arrival, uses;
  double value = 0; ///< what the loss returned
};

template <class View>
std::vector<std::uint64_t> host_indices(const View& view) {
  if (view.data() == nullptr) return {};
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<std::uint64_t>(host.data(), host.data() + host.extent(0));
}

template <class Scalar, class ExecutionSpace>
RecordedBatch record(const TrainingBatch<Scalar, ExecutionSpace>& batch) {
  RecordedBatch recorded;
  recorded.theta = testing::host_values(batch.theta);
  recorded.x = testing::host_values(batch.x);
  if (batch.weights.data()) recorded.weights = testing::host_values(batch.weights);
  if (batch.proposal_log_prob.data()) recorded.proposal_log_prob = testing::host_values(batch.proposal_log_prob);
  recorded.round = host_indices(batch.round);
  recorded.arrival = host_indices(batch.arrival);
  recorded.uses = host_indices(batch.uses);
  return recorded;
}

/// Forwards to `inner` and records every batch: `trained` for value_and_gradient, `validated` for value.
template <class Inner>
struct RecordingLoss {
  Inner inner;
  std::vector<RecordedBatch> trained, validated;

  template <Estimator E>
  double value_and_gradient(E& estimator, const typename E::execution_space& space,
                            const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch,
                            BatchRandom rng) {
    space.fence();
    trained.push_back(record(batch));
    trained.back().value = inner.value_and_gradient(estimator, space, batch, rng);
    return trained.back().value;
  }

  template <Estimator E>
  double value(E& estimator, const typename E::execution_space& space,
               const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng) {
    space.fence();
    validated.push_back(record(batch));
    validated.back().value = inner.value(estimator, space, batch, rng);
    return validated.back().value;
  }

  template <Estimator E>
  void per_row(E& estimator, const typename E::execution_space& space,
               const TrainingBatch<typename E::scalar_type, typename E::execution_space>& batch, BatchRandom rng,
               const Vector<typename E::scalar_type, typename E::execution_space>& out) {
    inner.per_row(estimator, space, batch, rng, out);
  }
};

} // namespace osbi::train_test
