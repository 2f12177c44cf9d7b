// Progress bar with rate and ETA for long work (training, encrypted inference, FL rounds).
// Draws in place on a terminal; on a pipe or in CI it prints a line at most every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace heal {

class ProgressBar {
 public:
  /// `total` units of work described by `label`. `enabled = false` makes every call a no-op.
  ProgressBar(std::string label, std::uint64_t total, bool enabled = true, std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Advances by `n` units; `suffix` (e.g. "loss 0.31") is shown after the bar.
  void tick(std::uint64_t n = 1, const std::string& suffix = "");
  void set_suffix(const std::string& suffix);
  /// Completes the bar and prints the elapsed time.
  void finish(const std::string& suffix = "");

  double elapsed_seconds() const;

 private:
  void draw(bool force);
  std::string label_;
  std::uint64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::FILE* out_;
  std::string suffix_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// "1h02m", "3m05s", "12.3s".
std::string format_duration(double seconds);

}  // namespace heal
