// SPDX-License-Identifier: BSD-3-Clause
/// \brief Per-feature running mean and variance over batches (Chan et al.'s merge), for z-scoring online.
#pragma once

#include <osbi/core/error.hpp>
#include <osbi/core/kokkos_compat.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace osbi {

/*
 * RunningMoments — mean and (population) variance of every column of all rows seen so far.
 *
 *   update(space, data)   folds in an N × D batch; rows with any NaN/±Inf entry are skipped and
 *                         counted in skipped_rows() (a failed simulation never shifts the statistics).
 *                         Batch sums are reduced on the device in double, then merged on the host with
 *                         the pairwise update of Chan, Golub & LeVeque (1979), so streaming batches give
 *                         the same moments as one pass over their union, up to rounding.
 *   count(), mean(), variance(), standard_deviation(floor)
 *                         host values; standard_deviation replaces values below `floor` (constant
 *                         features) by 1, so z-scoring never divides by zero.
 * The state is (count, mean, M2): three host vectors, easy to checkpoint.
 */
template <class Scalar = real_t, class ExecutionSpace = DefaultExecutionSpace>
class RunningMoments {
public:
  using scalar_type = Scalar;
  using execution_space = ExecutionSpace;

  explicit RunningMoments(std::size_t dim) : m_mean(dim, 0.0), m_m2(dim, 0.0) {
    require(dim > 0, "osbi::RunningMoments", "dim = ", dim, " must be > 0");
  }

  /// Restores a saved state (count, mean, M2 = count · variance).
  RunningMoments(std::size_t count, std::vector<double> mean, std::vector<double> m2, std::size_t skipped = 0)
      : m_count(count), m_skipped(skipped), m_mean(std::move(mean)), m_m2(std::move(m2)) {
    require<DimensionMismatch>(m_mean.size() == m_m2.size(), "osbi::RunningMoments", "mean has ", m_mean.size(),
                               " entries but M2 has ", m_m2.size());
    require(!m_mean.empty(), "osbi::RunningMoments", "dim must be > 0");
  }

  std::size_t dim() const { return m_mean.size(); }
  std::size_t count() const { return m_count; }
  std::size_t skipped_rows() const { return m_skipped; }
  const std::vector<double>& mean() const { return m_mean; }
  const std::vector<double>& m2() const { return m_m2; }

  std::vector<double> variance() const {
    std::vector<double> result(dim(), 0.0);
    if (m_count > 0)
      for (std::size_t j = 0; j < dim(); ++j) result[j] = m_m2[j] / static_cast<double>(m_count);
    return result;
  }

  /// Standard deviations, with values below `floor` (constant or unseen features) replaced by 1.
  std::vector<double> standard_deviation(double floor = 1e-12) const {
    std::vector<double> result = variance();
    for (double& value : result) value = std::sqrt(value) < floor ? 1.0 : std::sqrt(value);
    return result;
  }

  void update(const ExecutionSpace& space, const ConstMatrix<Scalar, ExecutionSpace>& data) {
    require_extent(data.extent(1), dim(), "osbi::RunningMoments", "data's column count");
    const std::size_t rows = data.extent(0), columns = dim();
    if (rows == 0) return;
    // Row validity once; then per column, pass 1 sums the finite rows and pass 2 their squared
    // deviations from the batch mean (two passes keep the variance accurate when |mean| >> std).
    using Memory = typename ExecutionSpace::memory_space;
    Kokkos::View<std::uint8_t*, Memory> valid("osbi::RunningMoments::valid", rows);
    Kokkos::View<double*, Memory> sums("osbi::RunningMoments::sums", columns + 1);
    Kokkos::View<double*, Memory> squares("osbi::RunningMoments::squares", columns);
    Kokkos::parallel_for(
        "osbi::flow::RunningMoments::valid", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
        KOKKOS_LAMBDA(const std::size_t i) {
          bool finite = true;
          for (std::size_t c = 0; c < columns; ++c) finite = finite && math::isfinite(data(i, c));
          valid(i) = finite ? 1 : 0;
        });
    Kokkos::parallel_for(
        "osbi::flow::RunningMoments::sum", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns + 1),
        KOKKOS_LAMBDA(const std::size_t j) {
          double total = 0;
          for (std::size_t i = 0; i < rows; ++i)
            if (valid(i)) total += j < columns ? static_cast<double>(data(i, j)) : 1.0;
          sums(j) = total;
        });
    Kokkos::parallel_for(
        "osbi::flow::RunningMoments::squares", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns),
        KOKKOS_LAMBDA(const std::size_t j) {
          const double count = sums(columns);
          const double batch_mean = count > 0 ? sums(j) / count : 0.0;
          double total = 0;
          for (std::size_t i = 0; i < rows; ++i) {
            if (!valid(i)) continue;
            const double deviation = static_cast<double>(data(i, j)) - batch_mean;
            total += deviation * deviation;
          }
          squares(j) = total;
        });
    const auto sums_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sums);
    const auto squares_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), squares);
    const double batch_count = sums_host(columns);
    m_skipped += rows - static_cast<std::size_t>(batch_count);
    if (batch_count == 0) return;
    const double old_count = static_cast<double>(m_count), total = old_count + batch_count;
    for (std::size_t j = 0; j < columns; ++j) {
      const double batch_mean = sums_host(j) / batch_count;
      const double delta = batch_mean - m_mean[j];
      m_mean[j] += delta * batch_count / total;
      m_m2[j] += squares_host(j) + delta * delta * old_count * batch_count / total;
    }
    m_count += static_cast<std::size_t>(batch_count);
  }

private:
  std::size_t m_count = 0;
  std::size_t m_skipped = 0;
  std::vector<double> m_mean;
  std::vector<double> m_m2;
};

} // namespace osbi
