// SPDX-License-Identifier: BSD-3-Clause
/// \brief Predicates for BOOST_CHECK_EXCEPTION on osbi's exceptions.
#pragma once

#include <osbi/core/error.hpp>

#include <cstddef>
#include <string>

namespace osbi::testing {

/// A DimensionMismatch whose message shows the actual and the expected size.
inline auto names_sizes(std::size_t actual, std::size_t expected) {
  return [=](const osbi::DimensionMismatch& error) {
    const std::string message = error.what();
    return message.find("has " + std::to_string(actual)) != std::string::npos &&
           message.find("expected " + std::to_string(expected)) != std::string::npos;
  };
}

} // namespace osbi::testing
