// Human-activity sensor formats, read into plain structs (no datasets here; see data/har.h):
// - WISDM raw text (v1.1 "user,Activity,timestamp,x,y,z;" and the 2019 smartphone/watch release
//   with activity codes A..S),
// - UCI-HAR (Anguita et al. 2013): "Inertial Signals" files of 128-sample windows, y_*.txt labels
//   1..6, subject_*.txt,
// - the sktime/aeon .ts time-series classification format (equal-length multivariate series).
// Malformed lines are errors naming the file and the line number.
#pragma once
#include <string>
#include <vector>

namespace frugal::io {

struct SensorRecord {
  int subject = 0;
  int activity = 0;  // index into WisdmData::activities
  double timestamp = 0;
  float x = 0, y = 0, z = 0;
};

struct WisdmData {
  std::vector<SensorRecord> records;  // in file order
  std::vector<std::string> activities;  // names, indexed by SensorRecord::activity
};

WisdmData read_wisdm(const std::string& path);

// Windows of equal length: values[(i * channels + c) * length + t].
struct SeriesSet {
  int channels = 0;
  int length = 0;
  std::vector<float> values;
  std::vector<int> labels;            // 0-based class index
  std::vector<int> subjects;          // empty when the format has none
  std::vector<std::string> classes;   // class names, indexed by label
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// dir holds "Inertial Signals/" files and y_<split>.txt, subject_<split>.txt for split = train|test
// (the layout of UCI HAR Dataset/train and /test).
SeriesSet read_uci_har(const std::string& split_dir, const std::string& split);

SeriesSet read_ts(const std::string& path);

}  // namespace frugal::io
