#include "heal/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace heal {

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, bool enabled, std::FILE* out)
    : label_(std::move(label)), total_(std::max<std::uint64_t>(total, 1)), enabled_(enabled), out_(out) {
  tty_ = enabled_ && isatty(fileno(out_));
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (enabled_) draw(true);
}

ProgressBar::~ProgressBar() {
  if (enabled_ && !finished_) finish();
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::tick(std::uint64_t n, const std::string& suffix) {
  done_ = std::min(total_, done_ + n);
  if (!suffix.empty()) suffix_ = suffix;
  if (enabled_) draw(false);
}

void ProgressBar::set_suffix(const std::string& suffix) { suffix_ = suffix; }

void ProgressBar::finish(const std::string& suffix) {
  if (!enabled_ || finished_) return;
  done_ = total_;
  if (!suffix.empty()) suffix_ = suffix;
  draw(true);
  if (tty_) std::fputc('\n', out_);
  std::fflush(out_);
  finished_ = true;
}

void ProgressBar::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since < (tty_ ? 0.1 : 5.0) && done_ < total_) return;
  last_draw_ = now;
  const double el = elapsed_seconds();
  const double frac = static_cast<double>(done_) / static_cast<double>(total_);
  const double eta = done_ > 0 ? el * (1.0 - frac) / frac : NAN;
  const double rate = el > 0 ? static_cast<double>(done_) / el : 0.0;
  constexpr int kWidth = 28;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(out_, "%s%s [%s] %3.0f%% %llu/%llu %.1f/s elapsed %s eta %s %s%s", tty_ ? "\r" : "", label_.c_str(),
               bar.c_str(), frac * 100.0, static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_), rate, format_duration(el).c_str(),
               done_ >= total_ ? "0s" : format_duration(eta).c_str(), suffix_.c_str(), tty_ ? "\x1b[K" : "\n");
  std::fflush(out_);
}

}  // namespace heal
