// SPDX-License-Identifier: BSD-3-Clause
/// \brief Where a stretch of code spends its time, kernel by kernel: wall time per Kokkos kernel label through
/// Kokkos' tool callbacks (no tool library to load), for bench/npe's profile of the training step.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace osbi::bench {

/*
 * KernelProfile — between start() and stop(), every parallel_for / parallel_reduce / parallel_scan and deep_copy
 * the process launches is timed from its begin to its end callback and summed under its label. On the host
 * backends a kernel runs inside its launch, so that is its run time; on a device it is the launch (fence inside
 * the region to see kernel times). Nested launches (a kernel started inside another one's region) count in both.
 * One profile at a time, from one thread; the callbacks it replaces are restored by stop().
 */
class KernelProfile {
public:
  struct Entry {
    std::string label;
    double seconds = 0;
    std::uint64_t calls = 0;
  };

  static void start() {
    State& s = state();
    s.totals.clear();
    s.open.clear();
    s.next_id = 0;
    s.saved = Kokkos::Tools::Experimental::get_callbacks();
    namespace tools = Kokkos::Tools::Experimental;
    tools::set_begin_parallel_for_callback(&begin_kernel);
    tools::set_end_parallel_for_callback(&end_kernel);
    tools::set_begin_parallel_reduce_callback(&begin_kernel);
    tools::set_end_parallel_reduce_callback(&end_kernel);
    tools::set_begin_parallel_scan_callback(&begin_kernel);
    tools::set_end_parallel_scan_callback(&end_kernel);
    tools::set_begin_deep_copy_callback(&begin_copy);
    tools::set_end_deep_copy_callback(&end_copy);
  }

  /// The kernels' totals, longest first.
  static std::vector<Entry> stop() {
    State& s = state();
    Kokkos::Tools::Experimental::set_callbacks(s.saved);
    std::vector<Entry> out;
    for (const auto& [label, entry] : s.totals) out.push_back({label, entry.seconds, entry.calls});
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
    return out;
  }

private:
  using Clock = std::chrono::steady_clock;
  struct Open {
    std::string label;
    Clock::time_point begin;
  };
  struct Total {
    double seconds = 0;
    std::uint64_t calls = 0;
  };
  struct State {
    std::map<std::string, Total> totals;
    std::map<std::uint64_t, Open> open;
    std::vector<Open> copies;
    std::uint64_t next_id = 0;
    Kokkos::Tools::Experimental::EventSet saved{};
  };
  static State& state() {
    static State s;
    return s;
  }
  static void close(const Open& open) {
    Total& total = state().totals[open.label];
    total.seconds += std::chrono::duration<double>(Clock::now() - open.begin).count();
    ++total.calls;
  }
  static void begin_kernel(const char* name, std::uint32_t, std::uint64_t* id) {
    State& s = state();
    *id = s.next_id++;
    s.open[*id] = {name, Clock::now()};
  }
  static void end_kernel(std::uint64_t id) {
    State& s = state();
    const auto it = s.open.find(id);
    if (it == s.open.end()) return;
    close(it->second);
    s.open.erase(it);
  }
  static void begin_copy(Kokkos::Tools::SpaceHandle, const char*, const void*, Kokkos::Tools::SpaceHandle, const char*,
                         const void*, std::uint64_t) {
    state().copies.push_back({"deep_copy", Clock::now()});
  }
  static void end_copy() {
    State& s = state();
    if (s.copies.empty()) return;
    close(s.copies.back());
    s.copies.pop_back();
  }
};

/// What profile_calls measured: the wall time of `calls` calls and each kernel label's totals over them.
struct ProfiledCalls {
  double seconds = 0;
  std::size_t calls = 0;
  std::vector<KernelProfile::Entry> kernels;

  double seconds_in_kernels() const {
    double inside = 0;
    for (const auto& kernel : kernels) inside += kernel.seconds;
    return inside;
  }
};

/// `calls` calls of `call` under KernelProfile. Run it after any timed calls: the callbacks' own cost (a clock read and
/// a map update per launch) stays out of those.
template <class Call>
ProfiledCalls profile_calls(const Call& call, std::size_t calls) {
  ProfiledCalls out;
  out.calls = calls;
  KernelProfile::start();
  const auto begin = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < calls; ++k) call();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  out.kernels = KernelProfile::stop();
  return out;
}

/// The lines bench/support/kernel_profile_table.py reads, per call (a training step):
///   PROFILE_STEP <name> <batch> <µs/step> <µs/step inside kernels>
///   PROFILE <name> <batch> <label> <µs/step> <launches/step>
inline void print_profile(const std::string& name, std::size_t batch, const ProfiledCalls& profile) {
  const double per_call = 1e6 / static_cast<double>(profile.calls);
  std::printf("PROFILE_STEP %s %zu %.2f %.2f\n", name.c_str(), batch, profile.seconds * per_call,
              profile.seconds_in_kernels() * per_call);
  for (const auto& kernel : profile.kernels)
    std::printf("PROFILE %s %zu %s %.2f %.2f\n", name.c_str(), batch, kernel.label.c_str(), kernel.seconds * per_call,
                static_cast<double>(kernel.calls) / static_cast<double>(profile.calls));
  std::fflush(stdout);
}

} // namespace osbi::bench
