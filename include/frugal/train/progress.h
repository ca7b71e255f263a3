// Progress for long work: on a terminal, one self-rewriting line (batches/s, loss, ETA); when
// stderr is a file or pipe, a plain log line every tenth of the work. ProgressLog also appends
// every line to the run's train.log.
#pragma once
#include <chrono>
#include <fstream>
#include <string>

namespace frugal::train {

void progress_log(const std::string& line);  // stderr only

class ProgressLog {
 public:
  ProgressLog(const std::string& path, bool append);
  void line(const std::string& text);  // stderr and the log file

 private:
  std::ofstream file_;
};

class Progress {
 public:
  Progress(ProgressLog& log, std::string label, int64_t total, int64_t done);
  void update(int64_t done, double loss);
  void finish();

 private:
  ProgressLog& log_;
  std::string label_;
  int64_t total_, start_done_, last_done_ = 0;
  double loss_ = 0;
  bool tty_;
  int64_t next_report_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace frugal::train
