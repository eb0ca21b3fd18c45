// SPDX-License-Identifier: BSD-3-Clause
/// \brief The argument checks that the conditional flows (ConditionalMAF, ConditionalNSF) share, and their labels.
#pragma once

#include <osbi/core/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace osbi::detail {

/// The kernel/View label of a flow part: "osbi::ConditionalMAF" (its C++ name, what errors say) and step
/// "embed" give "osbi::flow::ConditionalMAF::embed" (osbi::<area>::<Part>::<step>).
inline std::string flow_label(std::string_view part, std::string_view step) {
  constexpr std::string_view prefix = "osbi::";
  if (part.substr(0, prefix.size()) == prefix) part.remove_prefix(prefix.size());
  std::string text = "osbi::flow::";
  text.append(part).append("::").append(step);
  return text;
}

/// Returns value after requiring value > 0 ("<what> must be > 0", InvalidArgument); usable in a
/// constructor's initializer list, so a flow checks its sizes before it builds anything from them.
inline std::size_t require_positive(std::string_view part, std::size_t value, std::string_view what) {
  require(value > 0, part, what, " must be > 0");
  return value;
}

/// Checks a batch of pairs (θ_i, x_i) against a flow's sizes: θ has theta_dim columns, x has
/// context_dim columns and θ's row count. The messages start with "<step>: ".
template <class ThetaView, class ContextView>
void check_flow_pairs(std::string_view part, std::string_view step, std::size_t theta_dim, std::size_t context_dim,
                      const ThetaView& theta, const ContextView& x) {
  const std::string where = std::string(step) + ": ";
  require_extent(theta.extent(1), theta_dim, part, where + "theta's column count (theta_dim)");
  require_extent(x.extent(1), context_dim, part, where + "x's column count (context_dim)");
  require_extent(x.extent(0), theta.extent(0), part, where + "x's row count (theta's row count)");
}

/// Checks sample(space, x, rng, theta): one draw of θ (theta_dim columns) per row of x (context_dim columns).
template <class ContextView, class ThetaView>
void check_flow_sample(std::string_view part, std::size_t theta_dim, std::size_t context_dim, const ContextView& x,
                       const ThetaView& theta) {
  require_extent(x.extent(1), context_dim, part, "sample: x's column count (context_dim)");
  require_extent(theta.extent(1), theta_dim, part, "sample: theta's column count (theta_dim)");
  require_extent(theta.extent(0), x.extent(0), part, "sample: theta's row count (x's row count)");
}

/// Checks sample(space, x_one, n, rng, theta): n draws of θ (n × theta_dim) for one context (1 × context_dim).
template <class ContextView, class ThetaView>
void check_flow_sample_one(std::string_view part, std::size_t theta_dim, std::size_t context_dim,
                           const ContextView& x_one, std::size_t n, const ThetaView& theta) {
  require_extent(x_one.extent(0), 1, part, "sample: x_one's row count (one context)");
  require_extent(x_one.extent(1), context_dim, part, "sample: x_one's column count (context_dim)");
  require_extent(theta.extent(1), theta_dim, part, "sample: theta's column count (theta_dim)");
  require_extent(theta.extent(0), n, part, "sample: theta's row count (n)");
}

} // namespace osbi::detail
