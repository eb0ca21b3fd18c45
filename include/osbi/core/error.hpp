// SPDX-License-Identifier: BSD-3-Clause
/// \brief Exceptions whose messages name the part and the offending values; host code only.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace osbi {

/// Base of every exception osbi throws. what() reads "<part>: <message>".
class Error : public std::runtime_error {
public:
  Error(std::string_view part, const std::string& message)
      : std::runtime_error(std::string(part) + ": " + message), m_part(part) {}
  /// The class or function that detected the problem, e.g. "osbi::BoxUniform".
  const std::string& part() const noexcept { return m_part; }

private:
  std::string m_part;
};

/// A caller passed a value outside the documented domain (low >= high, non-SPD covariance, NaN, ...).
class InvalidArgument : public Error {
public:
  using Error::Error;
};

/// Two sizes that must agree do not (a view's extent against a model's dimension, ...).
class DimensionMismatch : public Error {
public:
  using Error::Error;
};

/// Data read from outside (a file, a simulator) is not what it claims to be.
class DataError : public Error {
public:
  using Error::Error;
};

namespace detail {

template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream stream;
  stream.precision(9);
  (stream << ... << std::forward<Args>(args));
  return stream.str();
}

} // namespace detail

/// Throws ExceptionType(part, concat(args...)) unless condition holds.
/// Usage: require<InvalidArgument>(low < high, "osbi::BoxUniform", "low[", i, "] = ", low, " must be < high[", i, "] = ", high);
template <class ExceptionType = InvalidArgument, class... Args>
void require(bool condition, std::string_view part, Args&&... args) {
  if (!condition) throw ExceptionType(part, detail::concat(std::forward<Args>(args)...));
}

/// Checks that a run-time size equals the expected one; the message shows both.
inline void require_extent(std::size_t actual, std::size_t expected, std::string_view part, std::string_view what) {
  if (actual != expected)
    throw DimensionMismatch(part, detail::concat(what, " has ", actual, ", expected ", expected));
}

} // namespace osbi
