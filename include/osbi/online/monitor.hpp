// SPDX-License-Identifier: BSD-3-Clause
/// \brief Monitor: the pipeline's watcher thread — periodic checks (timeouts, wall time, Ctrl-C), progress lines and the metrics CSV.
#pragma once

#include <osbi/online/metrics.hpp>
#include <osbi/online/options.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <functional>
#include <mutex>
#include <ostream>
#include <thread>
#include <utility>

namespace osbi::online {

namespace detail {

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" inline void pipeline_interrupt_handler(int) { interrupt_flag().store(true); }

} // namespace detail

/// While alive (and `enabled`), SIGINT sets a flag instead of ending the process (interrupted() reads it);
/// the previous handler comes back on destruction.
class InterruptGuard {
public:
  explicit InterruptGuard(bool enabled) : m_enabled(enabled) {
    if (!m_enabled) return;
    detail::interrupt_flag().store(false);
    m_previous = std::signal(SIGINT, detail::pipeline_interrupt_handler);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  ~InterruptGuard() {
    if (m_enabled) std::signal(SIGINT, m_previous);
  }
  bool interrupted() const { return m_enabled && detail::interrupt_flag().load(); }

private:
  using Handler = void (*)(int);
  bool m_enabled;
  Handler m_previous = SIG_DFL;
};

/*
 * Monitor — one thread that wakes every 20 ms and calls `tick` (the pipeline checks timeouts, wall time and
 * interrupts there), and every options.progress_seconds of `elapsed` writes a progress line to options.progress
 * and a row to options.metrics_csv from `metrics` (both optional). finish() (or the destructor) stops and joins.
 */
class Monitor {
public:
  Monitor(const PipelineOptions& options, std::function<double()> elapsed, std::function<void()> tick,
          std::function<PipelineMetrics()> metrics)
      : m_options(options), m_elapsed(std::move(elapsed)), m_tick(std::move(tick)), m_metrics(std::move(metrics)) {}

  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
  ~Monitor() { finish(); }

  void start() {
    m_thread = std::thread([this] { main(); });
  }

  void finish() {
    {
      const std::lock_guard lock(m_mutex);
      m_done = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
  }

private:
  void main() {
    std::ofstream csv;
    if (!m_options.metrics_csv.empty()) {
      csv.open(m_options.metrics_csv);
      if (csv) csv << PipelineMetrics::csv_header() << '\n';
    }
    double next_line = m_options.progress_seconds;
    std::unique_lock lock(m_mutex);
    while (!m_done) {
      m_wake.wait_for(lock, std::chrono::milliseconds(20));
      if (m_done) break;
      lock.unlock();
      m_tick();
      if (m_elapsed() >= next_line) {
        next_line += m_options.progress_seconds;
        const PipelineMetrics metrics = m_metrics();
        if (m_options.progress) *m_options.progress << metrics.progress_line() << std::endl;
        if (csv) csv << metrics.csv_row() << '\n' << std::flush;
      }
      lock.lock();
    }
  }

  const PipelineOptions& m_options;
  std::function<double()> m_elapsed;
  std::function<void()> m_tick;
  std::function<PipelineMetrics()> m_metrics;
  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_done = false;
};

} // namespace osbi::online
