// SPDX-License-Identifier: BSD-3-Clause
/// \brief Where a stretch of code spends its time, kernel by kernel: wall time per Kokkos kernel label through
/// Kokkos' tool callbacks (no tool library to load), for bench/npe's profile of the training step.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
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

} // namespace osbi::bench
