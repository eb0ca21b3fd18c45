// SPDX-License-Identifier: BSD-3-Clause
/// \brief Where every simulated row went: per-row status, the failures with their θ and message, counts.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace osbi {

/// Outcome of one row of a batched simulation.
enum class SimulationStatus : std::uint8_t {
  ok,         ///< every entry of x is finite
  threw,      ///< the simulator threw; the row of x is NaN
  non_finite, ///< the simulator returned NaN or ±Inf somewhere in the row; the row of x is NaN
};

inline const char* to_string(SimulationStatus status) {
  switch (status) {
  case SimulationStatus::ok:
    return "ok";
  case SimulationStatus::threw:
    return "threw";
  case SimulationStatus::non_finite:
    return "non-finite";
  }
  return "unknown";
}

/// One row that did not produce a usable x: which row, why, and the θ it was given (so the
/// failure can be reproduced or the region of θ avoided).
struct SimulationFailure {
  std::size_t row = 0;
  SimulationStatus status = SimulationStatus::ok;
  std::string message;
  std::vector<double> theta;
};

/// Counts only: what a long-running adapter or pipeline keeps across batches without growing.
/// Invariant: ok + threw + non_finite == total().
struct SimulationCounts {
  std::size_t ok = 0;
  std::size_t threw = 0;
  std::size_t non_finite = 0;

  std::size_t total() const { return ok + threw + non_finite; }
  std::size_t failed() const { return threw + non_finite; }

  SimulationCounts& operator+=(const SimulationCounts& other) {
    ok += other.ok;
    threw += other.threw;
    non_finite += other.non_finite;
    return *this;
  }
  friend bool operator==(const SimulationCounts&, const SimulationCounts&) = default;

  /// "N rows: a ok, b threw, c non-finite".
  std::string summary() const {
    return detail::concat(total(), " rows: ", ok, " ok, ", threw, " threw, ", non_finite, " non-finite");
  }
};

/// Accounting of one batch (or of several merged batches): one status per row, so the number of
/// statuses is always the number of rows simulated, and one SimulationFailure per failed row, in
/// row order.
class SimulationReport {
public:
  SimulationReport() = default;
  /// A report of `rows` rows, all ok until marked.
  explicit SimulationReport(std::size_t rows) : m_statuses(rows, SimulationStatus::ok) { m_counts.ok = rows; }

  /// Records that `row` failed. Rows are marked at most once; marking in increasing row order
  /// keeps failures() sorted (the adapter and classify_rows do).
  void mark(std::size_t row, SimulationStatus status, std::string message, std::vector<double> theta) {
    require<InvalidArgument>(row < m_statuses.size(), "osbi::SimulationReport", "row ", row, " is outside the report's ",
                             m_statuses.size(), " rows");
    require<InvalidArgument>(status != SimulationStatus::ok, "osbi::SimulationReport", "mark() records failures; row ", row,
                             " was given status ok");
    require<InvalidArgument>(m_statuses[row] == SimulationStatus::ok, "osbi::SimulationReport", "row ", row,
                             " is already marked ", to_string(m_statuses[row]));
    m_statuses[row] = status;
    --m_counts.ok;
    (status == SimulationStatus::threw ? m_counts.threw : m_counts.non_finite) += 1;
    m_failures.push_back(SimulationFailure{row, status, std::move(message), std::move(theta)});
  }

  std::size_t total() const { return m_statuses.size(); }
  std::size_t ok() const { return m_counts.ok; }
  std::size_t threw() const { return m_counts.threw; }
  std::size_t non_finite() const { return m_counts.non_finite; }
  std::size_t failed() const { return m_counts.failed(); }
  bool all_ok() const { return m_counts.failed() == 0; }
  const SimulationCounts& counts() const { return m_counts; }

  SimulationStatus status(std::size_t row) const {
    require<InvalidArgument>(row < m_statuses.size(), "osbi::SimulationReport", "row ", row, " is outside the report's ",
                             m_statuses.size(), " rows");
    return m_statuses[row];
  }
  const std::vector<SimulationStatus>& statuses() const { return m_statuses; }
  const std::vector<SimulationFailure>& failures() const { return m_failures; }

  /// Appends `other` as the rows that follow this report's: its row r becomes row total() + r.
  SimulationReport& merge(const SimulationReport& other) {
    const std::size_t offset = m_statuses.size();
    m_statuses.insert(m_statuses.end(), other.m_statuses.begin(), other.m_statuses.end());
    for (const SimulationFailure& failure : other.m_failures) {
      m_failures.push_back(failure);
      m_failures.back().row += offset;
    }
    m_counts += other.m_counts;
    return *this;
  }
  SimulationReport& operator+=(const SimulationReport& other) { return merge(other); }

  /// Counts, then up to `max_failures` failures: "row 4 threw at theta = (0.5, 2): <message>".
  std::string summary(std::size_t max_failures = 10) const {
    std::ostringstream text;
    text.precision(9);
    text << m_counts.summary();
    const std::size_t shown = m_failures.size() < max_failures ? m_failures.size() : max_failures;
    for (std::size_t k = 0; k < shown; ++k) {
      const SimulationFailure& failure = m_failures[k];
      text << "\n  row " << failure.row << ' ' << to_string(failure.status) << " at theta = (";
      for (std::size_t j = 0; j < failure.theta.size(); ++j)
        text << (j ? ", " : "") << failure.theta[j];
      text << "): " << failure.message;
    }
    if (shown < m_failures.size()) text << "\n  ... and " << m_failures.size() - shown << " more failures";
    return text.str();
  }

private:
  std::vector<SimulationStatus> m_statuses;
  std::vector<SimulationFailure> m_failures;
  SimulationCounts m_counts;
};

/// Accounts for the output of a batched Simulator: a row of x with any NaN or ±Inf entry is marked
/// non_finite (with its θ and the first offending entry); the others are ok. Reads on the host,
/// copying θ and x to host mirrors when their memory is not host-accessible. Does not fence: call
/// the overload taking the execution space the simulation was enqueued on, or fence first.
/// Throws DimensionMismatch if x and θ have different row counts.
template <class ThetaView, class XView>
SimulationReport classify_rows(const ThetaView& theta, const XView& x) {
  static_assert(compat::is_view_v<ThetaView> && ThetaView::rank == 2,
                "osbi::classify_rows: theta must be a rank-2 Kokkos::View (see osbi/simulator/simulation_report.hpp)");
  static_assert(compat::is_view_v<XView> && XView::rank == 2,
                "osbi::classify_rows: x must be a rank-2 Kokkos::View (see osbi/simulator/simulation_report.hpp)");
  require_extent(x.extent(0), theta.extent(0), "osbi::classify_rows", "x's row count (must equal theta's)");
  const auto theta_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
  const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  SimulationReport report(x.extent(0));
  for (std::size_t row = 0; row < x_host.extent(0); ++row) {
    for (std::size_t column = 0; column < x_host.extent(1); ++column) {
      const double value = static_cast<double>(x_host(row, column));
      if (std::isfinite(value)) continue;
      std::vector<double> theta_row(theta_host.extent(1));
      for (std::size_t j = 0; j < theta_row.size(); ++j)
        theta_row[j] = static_cast<double>(theta_host(row, j));
      report.mark(row, SimulationStatus::non_finite, detail::concat("x(", row, ", ", column, ") = ", value),
                  std::move(theta_row));
      break;
    }
  }
  return report;
}

/// As above, after fencing `space` (the instance the simulation was enqueued on).
template <class ExecutionSpace, class ThetaView, class XView>
requires Kokkos::is_execution_space<ExecutionSpace>::value SimulationReport classify_rows(const ExecutionSpace& space,
                                                                                          const ThetaView& theta,
                                                                                          const XView& x) {
  space.fence();
  return classify_rows(theta, x);
}

} // namespace osbi
