// SPDX-License-Identifier: BSD-3-Clause
/// \brief mpi::AveragedGradients: the GradientReduction of data-parallel learners — one MPI_Allreduce of the flat gradient buffer per step.
#pragma once

#include <osbi/mpi/communicator.hpp>

#include <osbi/core/types.hpp>
#include <osbi/train/gradient_reduction.hpp>

#include <Kokkos_Core.hpp>

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace osbi::mpi {

/// Where the allreduce reads and writes the gradients.
namespace gradient_staging {
/// Through a host copy (any MPI; a device buffer is copied down and up around the allreduce).
struct Host {};
/// The device pointer itself (a CUDA-aware MPI only; on host spaces the same as Host, without a copy).
struct InPlace {};
} // namespace gradient_staging

/*
 * AveragedGradients<Staging> — models GradientReduction (train/gradient_reduction.hpp) over the learners'
 * communicator: reduce(space, g) fences `space`, replaces g by the mean of every learner's g (an in-place
 * MPI_Allreduce with MPI_SUM of the whole flat buffer, then a scale by 1/learners) and returns with the result
 * in g. Each learner's loss is the mean over its own batch, so with equal batches the result is the gradient of
 * the mean over all learners' rows: L learners × batch b step like one learner × batch L·b.
 *
 * The allreduce is non-blocking and waited for with wait_politely (communicator.hpp): a learner that waits for a
 * slower one sleeps instead of spinning in MPI's progress loop, which on a node shared with simulations (or
 * oversubscribed) took the CPU the slower learner and the solvers needed.
 *
 * Identical parameters on every learner follow from an identical reduced gradient, because clipping and the
 * optimizer are deterministic. MPI recommends, and Open MPI and MPICH deliver, bitwise the same allreduce
 * result on every rank; tests/mpi checks that the learners' parameters stay bitwise equal. The summation order
 * is fixed for a given communicator size and count, so a run is repeatable.
 *
 * average(v) is the learners' mean of a number (their validation losses). Counts calls and seconds spent (fence
 * included) for the benchmarks: calls(), seconds().
 */
template <class Staging = gradient_staging::Host>
class AveragedGradients {
public:
  /// `learners`: the communicator of the learners (Roles::learners()); borrowed, it must outlive this. On a rank
  /// that is not a learner (an empty communicator) it may be built but not used.
  explicit AveragedGradients(const Communicator& learners) : m_learners(&learners) {}

  /// This learner's index (its random losses draw a stream of their own: online::loss_random).
  int learner() const { return m_learners->rank(); }

  template <class ExecutionSpace, class GradientView>
  void reduce(const ExecutionSpace& space, const GradientView& gradients) {
    require(m_learners->member(), "osbi::mpi::AveragedGradients", "this rank is not a learner (empty learners communicator)");
    using Scalar = typename GradientView::non_const_value_type;
    using Memory = typename GradientView::memory_space;
    constexpr bool host_memory = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Memory>::accessible;
    const auto started = std::chrono::steady_clock::now();
    space.fence();
    const int count = static_cast<int>(gradients.extent(0));
    const int learners = m_learners->size();
    if (learners > 1) {
      if constexpr (host_memory || std::is_same_v<Staging, gradient_staging::InPlace>) {
        sum_politely(gradients.data(), count, datatype<Scalar>(), *m_learners, "osbi::mpi::AveragedGradients");
      } else {
        auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradients);
        sum_politely(host.data(), count, datatype<Scalar>(), *m_learners, "osbi::mpi::AveragedGradients");
        Kokkos::deep_copy(space, gradients, host);
      }
      const Scalar scale = Scalar(1) / static_cast<Scalar>(learners);
      Kokkos::parallel_for(
          "osbi::mpi::AveragedGradients::scale", Kokkos::RangePolicy<ExecutionSpace>(space, 0, gradients.extent(0)),
          KOKKOS_LAMBDA(const std::size_t k) { gradients(k) *= scale; });
      space.fence();
    }
    ++m_calls;
    m_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  /// The mean of a value over the learners (the validation loss, so every learner's early stopping sees the same).
  double average(double value) const {
    require(m_learners->member(), "osbi::mpi::AveragedGradients", "this rank is not a learner (empty learners communicator)");
    sum_politely(&value, 1, MPI_DOUBLE, *m_learners, "osbi::mpi::AveragedGradients");
    return value / m_learners->size();
  }

  std::uint64_t calls() const { return m_calls; }
  double seconds() const { return m_seconds; }
  int learners() const { return m_learners->size(); }

private:
  const Communicator* m_learners;
  std::uint64_t m_calls = 0;
  double m_seconds = 0;
};

static_assert(GradientReduction<AveragedGradients<>, double, Kokkos::DefaultHostExecutionSpace>);

} // namespace osbi::mpi
