// SPDX-License-Identifier: BSD-3-Clause
/// \brief Concept `GradientReduction`: the hook between backward and clipping where data-parallel learners combine gradients.
#pragma once

#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

namespace osbi {

/*
 * GradientReduction<R, Scalar, ExecutionSpace> — what a training step does with the gradient buffer after the
 * loss's backward pass and before clipping and the optimizer (spec):
 *
 *   r.reduce(space, gradients)   gradients: the estimator's flat gradient buffer (Vector<Scalar, ExecutionSpace>).
 *                                In place: afterwards every learner must hold the same values (an MPI learner
 *                                averages over its communicator with one allreduce of the whole buffer), so
 *                                clipping and the optimizer, which are deterministic, keep the parameters
 *                                identical everywhere. Work is enqueued on `space`, or fenced before it returns.
 *
 *   r.learner()                  (optional) this learner's index among the data-parallel learners: a random loss
 *                                then draws noise of its own on each (online::loss_random).
 *
 * LocalGradients (one process: nothing to combine) is the default.
 */
template <class R, class Scalar, class ExecutionSpace>
concept GradientReduction = requires(R& reduction, const ExecutionSpace& space, const Vector<Scalar, ExecutionSpace>& gradients) {
  reduction.reduce(space, gradients);
};

/// One learner: the gradients are already the batch's.
struct LocalGradients {
  template <class ExecutionSpace, class GradientView>
  void reduce(const ExecutionSpace&, const GradientView&) const {}
};

} // namespace osbi
