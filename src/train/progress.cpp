#include "frugal/train/progress.h"

#include <algorithm>

#include <unistd.h>

#include <cstdio>

namespace frugal::train {

namespace {
std::string fmt_seconds(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}
}  // namespace

void progress_log(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

ProgressLog::ProgressLog(const std::string& path, bool append)
    : file_(path, append ? std::ios::app : std::ios::trunc) {}

void ProgressLog::line(const std::string& text) {
  progress_log(text);
  if (file_) file_ << text << std::endl;
}

Progress::Progress(ProgressLog& log, std::string label, int64_t total, int64_t done)
    : log_(log), label_(std::move(label)), total_(total), start_done_(done), last_done_(done),
      tty_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  next_report_ = done + std::max<int64_t>(1, total / 10);
}

void Progress::update(int64_t done, double loss) {
  last_done_ = done;
  loss_ = loss;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done - start_done_) / elapsed : 0;
  double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %lld/%lld  %.1f batch/s  loss %.4f  ETA %s", label_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), rate, loss, fmt_seconds(eta).c_str());
  if (tty_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < 0.2 && done < total_) return;
    last_draw_ = now;
    int width = 24;
    int filled = total_ > 0 ? static_cast<int>(std::clamp<int64_t>(width * done / total_, 0, width)) : width;
    std::string bar(static_cast<size_t>(width + 2), ' ');
    bar.front() = '[';
    bar.back() = ']';
    for (int i = 0; i < filled; ++i) bar[static_cast<size_t>(i) + 1] = '=';
    std::fprintf(stderr, "\r%s %s\033[K", bar.c_str(), buf);
    std::fflush(stderr);
  } else if (done >= next_report_) {
    next_report_ = done + std::max<int64_t>(1, total_ / 10);
    log_.line(buf);
  }
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace frugal::train
