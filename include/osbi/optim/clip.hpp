// SPDX-License-Identifier: BSD-3-Clause
/// \brief Global L2 gradient-norm clipping over a flat gradient buffer, as torch.nn.utils.clip_grad_norm_.
#pragma once

#include <osbi/nn/kernels/rowwise.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <type_traits>

namespace osbi::optim {

namespace detail {

/// Elements per partial sum of squares. Fixed (not a function of the backend or thread count), and
/// the partials are added on the host in index order, so the norm has the same bits everywhere.
inline constexpr std::size_t clip_chunk = 1024;


/// Σ value² over chunk `chunk` of 1024 elements, in double (clip_gradient_norm's first pass). The
/// kernels here are named functors: nvcc 13's wrapper of host-device lambdas made a null host call
/// for one instantiation of this function on an H200.
template <class GradientView, class PartialView>
struct SquareSums {
  GradientView values;
  PartialView partial;
  std::size_t count;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t chunk) const {
    const std::size_t begin = chunk * clip_chunk;
    const std::size_t end = begin + clip_chunk < count ? begin + clip_chunk : count;
    // rowwise's eight interleaved sums in a fixed order: one chain of dependent double adds ran at the add's latency
    // (3 % of a vector-field training step for 76 k gradients).
    partial(chunk) = nn::kernels::detail::host_row_sum<double>(end - begin, [&](const std::size_t j) {
      const double value = static_cast<double>(values(begin + j));
      return value * value;
    });
  }
};

/// values *= factor.
template <class GradientView, class Scalar>
struct Scale {
  GradientView values;
  Scalar factor;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const { values(i) *= factor; }
};

} // namespace detail

/*
 * clip_gradient_norm(space, gradients, max_norm) -> the global L2 norm ‖g‖ BEFORE clipping.
 *
 * Like torch.nn.utils.clip_grad_norm_(norm_type=2): with c = max_norm / (‖g‖ + 1e-6), the gradients
 * are multiplied by c when c < 1 (so a norm within 1e-6 below max_norm is scaled by a factor just
 * under one, as in PyTorch) and left bit-for-bit untouched otherwise. ‖g‖ is accumulated in double
 * (squares of the Scalar values, summed per fixed chunk of 1024 elements on `space`, the chunk sums
 * added on the host in order): deterministic across backends and thread counts.
 *
 * Non-finite gradients: if ‖g‖ is NaN or +Inf the gradients are left UNTOUCHED and the NaN/Inf norm
 * is returned, so the caller can detect it (std::isfinite) and skip the step. (PyTorch 1.13 with
 * error_if_nonfinite=False instead multiplies by a NaN/0 coefficient; a NaN check then skip is what
 * training loops want.) max_norm must be > 0 and not NaN (InvalidArgument); +Inf never scales, which
 * makes the call a norm computation. Fences `space` (the returned norm is a host value).
 */
template <class ExecutionSpace, class GradientView>
requires(compat::is_view_v<GradientView> && GradientView::rank == 1 &&
         static_cast<bool>(Kokkos::SpaceAccessibility<ExecutionSpace, typename GradientView::memory_space>::accessible) &&
         std::is_floating_point_v<typename GradientView::value_type>) // non-const: it may be scaled
double clip_gradient_norm(const ExecutionSpace& space, const GradientView& gradients, double max_norm) {
  using Scalar = typename GradientView::value_type;
  require(!std::isnan(max_norm) && max_norm > 0.0, "osbi::optim::clip_gradient_norm", "max_norm = ", max_norm, " must be > 0");
  const std::size_t count = gradients.extent(0);
  const std::size_t chunks = (count + detail::clip_chunk - 1) / detail::clip_chunk;
  Vector<double, ExecutionSpace> partial(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "osbi::optim::clip_gradient_norm::partial"), chunks);
  const auto values = gradients;
  Kokkos::parallel_for("osbi::optim::clip_gradient_norm::square_sums",
                       Kokkos::RangePolicy<ExecutionSpace>(space, 0, chunks),
                       detail::SquareSums<GradientView, Vector<double, ExecutionSpace>>{values, partial, count});
  const auto host_partial = Kokkos::create_mirror_view(Kokkos::HostSpace(), partial);
  Kokkos::deep_copy(space, host_partial, partial);
  space.fence();
  double sum_of_squares = 0.0;
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) sum_of_squares += host_partial(chunk);
  const double norm = std::sqrt(sum_of_squares);
  if (!std::isfinite(norm)) return norm;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0) {
    const Scalar factor = static_cast<Scalar>(coefficient);
    Kokkos::parallel_for("osbi::optim::clip_gradient_norm::scale", Kokkos::RangePolicy<ExecutionSpace>(space, 0, count),
                         detail::Scale<GradientView, Scalar>{values, factor});
  }
  return norm;
}

} // namespace osbi::optim
