// SPDX-License-Identifier: BSD-3-Clause
/// \brief DefaultLoss<Estimator>: the loss each kind of estimator trains with unless told otherwise (NLL, flow matching, score matching).
#pragma once

#include <osbi/estimator/conditional_density.hpp>
#include <osbi/estimator/score_model.hpp>
#include <osbi/estimator/velocity_model.hpp>
#include <osbi/loss/denoising_score_matching.hpp>
#include <osbi/loss/flow_matching.hpp>
#include <osbi/loss/nll.hpp>

#include <type_traits>

namespace osbi {

namespace detail {
template <class E>
auto default_loss_for() {
  if constexpr (ConditionalDensity<E>) return NllLoss{};
  else if constexpr (VelocityModel<E>) return FlowMatchingLoss{};
  else if constexpr (ScoreModel<E>) return DenoisingScoreMatchingLoss{};
  else return;
}
} // namespace detail

/// A density trains by NLL, a velocity model by flow matching, a score model by denoising score matching: what
/// NPE::train() and the online pipeline use when no loss is given. void for an estimator of none of these kinds.
template <class E>
using DefaultLoss = decltype(detail::default_loss_for<E>());

template <class E>
concept HasDefaultLoss = !std::is_void_v<DefaultLoss<E>>;

} // namespace osbi
