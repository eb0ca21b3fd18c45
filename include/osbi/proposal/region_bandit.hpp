// SPDX-License-Identifier: BSD-3-Clause
/// \brief RegionBandit: the RL-style query rule — the prior's support cut into regions of equal prior mass, a UCB1
/// bandit choosing the region each batch of simulations comes from, rewarded by the validation-loss drop per unit of
/// simulation cost; a VersionedProposal with exact densities and the importance weights of everything it drew.
#pragma once

#include <osbi/prior/prior.hpp>
#include <osbi/proposal/detail/restricted_prior.hpp>
#include <osbi/proposal/proposal.hpp>

#include <osbi/core/error.hpp>
#include <osbi/core/random.hpp>
#include <osbi/core/types.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

namespace osbi {

/// How RegionBandit cuts the prior and explores.
struct RegionBanditOptions {
  std::size_t depth = 3;              ///< 2^depth regions: `depth` median splits, each of a cell's widest dimension
  std::size_t partition_draws = 20'000; ///< prior draws that place the splits (and estimate each region's mass)
  double exploration = 1.0;           ///< c in UCB1's mean + c·√(2 ln t / n_r), rewards scaled to [0, 1] by the largest seen
  std::size_t max_attempts = 10'000;  ///< prior draws per row before falling back to a draw of the region's own sample
  std::uint64_t seed = 0;
};

/*
 * RegionBandit<Prior> — a multi-armed bandit over regions of θ (spec; UCB1, Auer et al. 2002; the "learning progress"
 * reward of curriculum bandits, Graves et al. 2017, per unit of simulation cost).
 *
 * Regions: a k-d partition of the prior: `depth` times, each cell is split at the median (of the prior draws inside
 * it) of the dimension where those draws spread most in units of the prior's standard deviation. The 2^depth leaves
 * are boxes of (nearly) equal prior mass P_r, estimated by the share of `partition_draws` in each.
 *
 *   choose(rng) → r            UCB1: every region once first, then argmax mean reward + c·√(2 ln t / n_r); sets the
 *                              current region (round() + 1). set_region(r) forces one.
 *   sample(space, rng, theta)  the prior restricted to the current region, by rejection (rows' draws from
 *                              rng.split(a).row(i)); after max_attempts a row takes one of the partition draws that lie
 *                              in the region (counted: fallbacks()).
 *   log_prob(space, theta, out) log p(θ) − log P_r inside the current region, −∞ outside.
 *   record_draws(r, n)         n simulations came from region r (the pipeline's or the caller's count).
 *   reward(r, value)           one reward for a pull of r: e.g. (validation loss before − after) / simulation seconds.
 *   importance_weights(space, theta)
 *                              p(θ)/q̄(θ) = P_r·N / N_r for each row (r its region, N_r the draws recorded there, N their
 *                              sum): q̄ = Σ_r (N_r/N)·p(θ | r) is the mixture of every pull; a row in a region never drawn
 *                              from is an InvalidArgument (q̄ = 0 there: record the draws first).
 *   region_of(θ row)           the leaf holding θ.
 */
template <Prior PriorType>
class RegionBandit {
public:
  using scalar_type = typename PriorType::scalar_type;
  using execution_space = typename PriorType::execution_space;
  using Scalar = scalar_type;
  using Space = execution_space;
  static constexpr const char* part = "osbi::RegionBandit";

  explicit RegionBandit(PriorType prior, RegionBanditOptions options = {})
      : m_prior(std::move(prior)), m_options(options), m_shared(std::make_shared<Shared>()) {
    require(options.depth >= 1 && options.depth <= 16, part, "depth must lie in [1, 16]");
    require(options.partition_draws >= (std::size_t{4} << options.depth), part, "partition_draws must be >= 4·2^depth");
    require(std::isfinite(options.exploration) && options.exploration >= 0, part, "exploration must be finite and >= 0");
    require(options.max_attempts >= 1, part, "max_attempts must be >= 1");
    partition();
    m_shared->arms.assign(regions(), Arm{});
  }

  std::size_t dim() const { return m_prior.dim(); }
  std::size_t regions() const { return m_mass.size(); }
  const PriorType& prior() const { return m_prior; }
  /// P_r of each region.
  const std::vector<double>& region_mass() const { return m_mass; }
  std::uint64_t round() const {
    const std::lock_guard lock(m_shared->mutex);
    return m_shared->round;
  }
  std::size_t current_region() const {
    const std::lock_guard lock(m_shared->mutex);
    return m_shared->region;
  }
  std::uint64_t fallbacks() const { return m_shared->fallbacks.load(); }
  /// Pulls and draws recorded per region.
  std::vector<std::uint64_t> pulls() const { return arm_field([](const Arm& a) { return a.pulls; }); }
  std::vector<std::uint64_t> draws() const { return arm_field([](const Arm& a) { return a.draws; }); }

  /// The leaf holding θ (a row of D values).
  template <class Row>
  std::size_t region_of(const Row& theta) const {
    return leaf([&theta](std::size_t j) { return static_cast<double>(theta[j]); });
  }

  std::size_t choose(BatchRandom rng) {
    const std::lock_guard lock(m_shared->mutex);
    const auto& arms = m_shared->arms;
    std::vector<std::size_t> unexplored;
    for (std::size_t r = 0; r < arms.size(); ++r)
      if (arms[r].pulls == 0) unexplored.push_back(r);
    RowRandom row = rng.row(0);
    std::size_t chosen = 0;
    if (!unexplored.empty()) {
      chosen = unexplored[std::min(unexplored.size() - 1, static_cast<std::size_t>(row.uniform() * static_cast<double>(unexplored.size())))];
    } else {
      double total = 0, largest = 0;
      for (const Arm& a : arms) total += static_cast<double>(a.pulls), largest = std::max(largest, std::abs(a.best_reward));
      const double scale = largest > 0 ? largest : 1.0;
      double best = -HUGE_VAL;
      for (std::size_t r = 0; r < arms.size(); ++r) {
        const double n = static_cast<double>(arms[r].pulls);
        const double score = arms[r].reward_sum / n / scale + m_options.exploration * std::sqrt(2 * std::log(total) / n) +
                             1e-12 * row.uniform(); // random tie-break
        if (score > best) best = score, chosen = r;
      }
    }
    m_shared->arms[chosen].pulls += 1;
    m_shared->region = chosen;
    m_shared->round += 1;
    return chosen;
  }

  void set_region(std::size_t region) {
    require(region < regions(), part, "set_region(", region, "): there are ", regions(), " regions");
    const std::lock_guard lock(m_shared->mutex);
    m_shared->region = region;
    m_shared->round += 1;
  }

  void record_draws(std::size_t region, std::uint64_t n) {
    require(region < regions(), part, "record_draws(", region, "): there are ", regions(), " regions");
    const std::lock_guard lock(m_shared->mutex);
    m_shared->arms[region].draws += n;
  }

  void reward(std::size_t region, double value) {
    require(region < regions(), part, "reward(", region, "): there are ", regions(), " regions");
    require(std::isfinite(value), part, "reward ", value, " for region ", region, " must be finite");
    const std::lock_guard lock(m_shared->mutex);
    Arm& arm = m_shared->arms[region];
    arm.reward_sum += value;
    arm.rewards += 1;
    arm.best_reward = std::max(std::abs(arm.best_reward), std::abs(value));
    // UCB1 needs a mean over pulls: a reward without a pull (set_region + reward) counts as one.
    if (arm.pulls < arm.rewards) arm.pulls = arm.rewards;
  }

  void sample(const Space& space, BatchRandom rng, const Matrix<Scalar, Space>& theta) const {
    require_extent(theta.extent(1), dim(), part, "sample: theta's width");
    const std::size_t region = current_region(), n = theta.extent(0), d = dim();
    if (n == 0) return;
    const auto host = Kokkos::create_mirror_view(theta);
    std::vector<char> filled;
    const std::size_t missing =
        detail::restricted_prior_draws(m_prior, space, rng, m_options.max_attempts, host, filled, in_region(region));
    if (missing > 0) { // the region's own partition draws (prior draws inside it), cycled
      const auto& pool = m_members[region];
      std::size_t k = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (!filled[i]) {
          const std::size_t source = pool[(k++) % pool.size()];
          for (std::size_t j = 0; j < d; ++j) host(i, j) = static_cast<Scalar>(m_partition_draws[source * d + j]);
        }
      m_shared->fallbacks += missing;
    }
    Kokkos::deep_copy(space, theta, host);
    space.fence();
  }

  void log_prob(const Space& space, const ConstMatrix<Scalar, Space>& theta, const Vector<Scalar, Space>& out) const {
    require_extent(theta.extent(1), dim(), part, "log_prob: theta's width");
    require_extent(out.extent(0), theta.extent(0), part, "log_prob: out's length (theta's row count)");
    const std::size_t region = current_region();
    detail::restricted_prior_log_prob(m_prior, space, theta, out, std::log(m_mass[region]), in_region(region));
  }

  /// p(θ_i)/q̄(θ_i) for every row of theta (host vector; see the spec).
  std::vector<double> importance_weights(const Space&, const ConstMatrix<Scalar, Space>& theta) const {
    require_extent(theta.extent(1), dim(), part, "importance_weights: theta's width");
    const std::vector<std::uint64_t> counts = draws();
    const double total = static_cast<double>(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}));
    const auto points = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta);
    std::vector<double> weights(points.extent(0));
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const std::size_t r = leaf([&points, i](std::size_t j) { return static_cast<double>(points(i, j)); });
      require(counts[r] > 0, part, "importance_weights: row ", i, " lies in region ", r,
              ", from which no draws were recorded (record_draws)");
      weights[i] = m_mass[r] * total / static_cast<double>(counts[r]);
    }
    return weights;
  }

private:
  struct Arm {
    std::uint64_t pulls = 0, draws = 0, rewards = 0;
    double reward_sum = 0, best_reward = 0;
  };
  struct Shared {
    mutable std::mutex mutex;
    std::vector<Arm> arms;
    std::size_t region = 0;
    std::uint64_t round = 0;
    std::atomic<std::uint64_t> fallbacks{0};
  };

  /// inside(points, i) for the restricted-prior helpers: row i of a host view lies in `region`.
  auto in_region(std::size_t region) const {
    return [this, region](const auto& points, std::size_t i) {
      return leaf([&points, i](std::size_t j) { return static_cast<double>(points(i, j)); }) == region;
    };
  }

  /// The leaf of the k-d tree holding the point whose coordinate j is value(j).
  template <class Value>
  std::size_t leaf(Value value) const {
    std::size_t node = 0;
    while (node < m_split_dim.size()) node = 2 * node + 1 + (value(m_split_dim[node]) >= m_split_value[node] ? 1 : 0);
    return node - m_split_dim.size();
  }

  template <class F>
  std::vector<std::uint64_t> arm_field(F field) const {
    const std::lock_guard lock(m_shared->mutex);
    std::vector<std::uint64_t> out;
    for (const Arm& a : m_shared->arms) out.push_back(field(a));
    return out;
  }

  /// The k-d splits (a complete binary tree in heap order: node k's children 2k+1, 2k+2) from prior draws.
  void partition() {
    const std::size_t n = m_options.partition_draws, d = dim();
    const Matrix<Scalar, Space> draws("osbi::RegionBandit::partition_draws", n, d);
    const Space space;
    m_prior.sample(space, RandomStream(m_options.seed, 0xBA4D17).next(), draws);
    space.fence();
    const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), draws);
    m_partition_draws.resize(n * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) m_partition_draws[i * d + j] = static_cast<double>(host(i, j));
    std::vector<double> scale(d);
    for (std::size_t j = 0; j < d; ++j) scale[j] = standard_deviation(all_rows(n), j);
    const std::size_t internal = (std::size_t{1} << m_options.depth) - 1;
    m_split_dim.assign(internal, 0);
    m_split_value.assign(internal, 0.0);
    std::vector<std::vector<std::size_t>> members(2 * internal + 1);
    members[0] = all_rows(n);
    for (std::size_t node = 0; node < internal; ++node) {
      auto& rows = members[node];
      std::size_t widest = 0;
      double widest_spread = -1;
      for (std::size_t j = 0; j < d; ++j) {
        const double spread = standard_deviation(rows, j) / scale[j];
        if (spread > widest_spread) widest_spread = spread, widest = j;
      }
      std::vector<double> column;
      for (const std::size_t i : rows) column.push_back(m_partition_draws[i * d + widest]);
      std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(column.size() / 2), column.end());
      m_split_dim[node] = widest;
      m_split_value[node] = column[column.size() / 2];
      for (const std::size_t i : rows) members[2 * node + 1 + (m_partition_draws[i * d + widest] >= m_split_value[node] ? 1 : 0)].push_back(i);
      rows.clear();
    }
    m_members.assign(members.begin() + static_cast<std::ptrdiff_t>(internal), members.end());
    m_mass.resize(m_members.size());
    for (std::size_t r = 0; r < m_members.size(); ++r) {
      require(!m_members[r].empty(), part, "region ", r, " holds none of the partition draws (a prior with atoms?)");
      m_mass[r] = static_cast<double>(m_members[r].size()) / static_cast<double>(n);
    }
  }

  static std::vector<std::size_t> all_rows(std::size_t n) {
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    return rows;
  }

  double standard_deviation(const std::vector<std::size_t>& rows, std::size_t j) const {
    const std::size_t d = dim();
    double mean = 0, square = 0;
    for (const std::size_t i : rows) mean += m_partition_draws[i * d + j];
    mean /= static_cast<double>(rows.size());
    for (const std::size_t i : rows) square += (m_partition_draws[i * d + j] - mean) * (m_partition_draws[i * d + j] - mean);
    const double sd = std::sqrt(square / static_cast<double>(std::max<std::size_t>(rows.size() - 1, 1)));
    return sd > 0 ? sd : std::numeric_limits<double>::min();
  }

  PriorType m_prior;
  RegionBanditOptions m_options;
  std::vector<std::size_t> m_split_dim;  ///< per internal node
  std::vector<double> m_split_value;     ///< per internal node: θ_dim >= value goes right
  std::vector<double> m_partition_draws; ///< n × D
  std::vector<std::vector<std::size_t>> m_members; ///< per region: its partition draws
  std::vector<double> m_mass;            ///< P_r
  std::shared_ptr<Shared> m_shared;
};

} // namespace osbi
