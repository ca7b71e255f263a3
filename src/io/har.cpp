#include "frugal/io/har.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/io/limits.h"

namespace frugal::io {

namespace {

std::ifstream open_text(const std::string& path) {
  std::ifstream in(path);
  require(in.good(), path + ": cannot open file");
  return in;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string where(const std::string& path, int64_t line) { return path + ":" + std::to_string(line); }

double parse_number(const std::string& text, const std::string& at, const std::string& field) {
  std::string t = trim(text);
  require(!t.empty(), at + ": " + field + " is empty");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  require(end && *end == '\0' && errno != ERANGE && std::isfinite(v),
          at + ": " + field + " is not a finite number: '" + t + "'");
  return v;
}

int parse_int(const std::string& text, const std::string& at, const std::string& field) {
  double v = parse_number(text, at, field);
  require(v == std::floor(v) && std::fabs(v) < 1e9, at + ": " + field + " is not an integer: '" + trim(text) + "'");
  return static_cast<int>(v);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::stringstream ss(s);
  while (std::getline(ss, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.push_back("");
  return parts;
}

// WISDM v1.1 activity names and the 2019 release's letter codes (N is unused there).
int wisdm_activity(const std::string& name, WisdmData& d, const std::string& at) {
  static const char* v1[] = {"Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing"};
  static const char* v2[] = {"walking", "jogging", "stairs", "sitting", "standing", "typing", "teeth",
                             "soup", "chips", "pasta", "drinking", "sandwich", "kicking", "catch",
                             "dribbling", "writing", "clapping", "folding"};
  std::string label;
  for (const char* n : v1)
    if (name == n) label = n;
  if (label.empty() && name.size() == 1 && name[0] >= 'A' && name[0] <= 'S' && name[0] != 'N') {
    int code = name[0] - 'A';
    if (name[0] > 'N') --code;
    label = v2[code];
  }
  require(!label.empty(), at + ": unknown activity code '" + name + "' (expected a WISDM v1.1 name or a letter A..S)");
  for (size_t i = 0; i < d.activities.size(); ++i)
    if (d.activities[i] == label) return static_cast<int>(i);
  d.activities.push_back(label);
  return static_cast<int>(d.activities.size() - 1);
}

}  // namespace

WisdmData read_wisdm(const std::string& path) {
  std::ifstream in = open_text(path);
  WisdmData d;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    // Records end with ';' and some lines of v1.1 hold several records or none.
    for (const std::string& raw : split(line, ';')) {
      std::string rec = trim(raw);
      if (rec.empty()) continue;
      std::string at = where(path, number);
      std::vector<std::string> f = split(rec, ',');
      require(f.size() == 6, at + ": expected 6 fields (user,activity,timestamp,x,y,z), found " + std::to_string(f.size()));
      SensorRecord r;
      r.subject = parse_int(f[0], at, "user");
      r.activity = wisdm_activity(trim(f[1]), d, at);
      r.timestamp = parse_number(f[2], at, "timestamp");
      r.x = static_cast<float>(parse_number(f[3], at, "x"));
      r.y = static_cast<float>(parse_number(f[4], at, "y"));
      r.z = static_cast<float>(parse_number(f[5], at, "z"));
      require(static_cast<int64_t>(d.records.size()) < limits().max_tensor_elements, path + ": more records than supported");
      d.records.push_back(r);
    }
  }
  require(!d.records.empty(), path + ": no records");
  return d;
}

SeriesSet read_uci_har(const std::string& split_dir, const std::string& split_name) {
  static const char* signals[] = {"body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y",
                                  "body_gyro_z", "total_acc_x", "total_acc_y", "total_acc_z"};
  require(std::filesystem::is_directory(split_dir), split_dir + ": UCI-HAR split directory does not exist");
  SeriesSet s;
  s.classes = {"walking", "walking_upstairs", "walking_downstairs", "sitting", "standing", "laying"};
  s.channels = 9;
  std::string ypath = split_dir + "/y_" + split_name + ".txt";
  std::ifstream y = open_text(ypath);
  std::string line;
  int64_t number = 0;
  while (std::getline(y, line)) {
    ++number;
    if (trim(line).empty()) continue;
    int label = parse_int(line, where(ypath, number), "activity label");
    require(label >= 1 && label <= 6, where(ypath, number) + ": unknown activity label " + std::to_string(label) + " (expected 1..6)");
    s.labels.push_back(label - 1);
  }
  std::string spath = split_dir + "/subject_" + split_name + ".txt";
  if (std::filesystem::exists(spath)) {
    std::ifstream subj = open_text(spath);
    number = 0;
    while (std::getline(subj, line)) {
      ++number;
      if (!trim(line).empty()) s.subjects.push_back(parse_int(line, where(spath, number), "subject"));
    }
    require(s.subjects.size() == s.labels.size(), spath + ": " + std::to_string(s.subjects.size()) +
                                                      " subjects for " + std::to_string(s.labels.size()) + " labels");
  }
  int64_t n = s.size();
  require(n > 0, ypath + ": no labels");
  std::vector<std::vector<float>> channel_values(9);
  for (int c = 0; c < 9; ++c) {
    std::string path = split_dir + "/Inertial Signals/" + signals[c] + "_" + split_name + ".txt";
    std::ifstream in = open_text(path);
    number = 0;
    int64_t rows = 0;
    while (std::getline(in, line)) {
      ++number;
      if (trim(line).empty()) continue;
      std::string at = where(path, number);
      std::stringstream ss(line);
      std::string tok;
      int count = 0;
      while (ss >> tok) {
        channel_values[c].push_back(static_cast<float>(parse_number(tok, at, "sample " + std::to_string(count + 1))));
        ++count;
      }
      if (s.length == 0) s.length = count;
      require(count == s.length, at + ": " + std::to_string(count) + " samples, expected " + std::to_string(s.length));
      ++rows;
      require(rows <= n, at + ": more windows than labels in " + ypath);
    }
    require(rows == n, path + ": " + std::to_string(rows) + " windows, expected " + std::to_string(n));
  }
  s.values.resize(static_cast<size_t>(n) * 9 * s.length);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 9; ++c)
      for (int t = 0; t < s.length; ++t)
        s.values[(static_cast<size_t>(i) * 9 + c) * s.length + t] = channel_values[c][static_cast<size_t>(i) * s.length + t];
  return s;
}

SeriesSet read_ts(const std::string& path) {
  std::ifstream in = open_text(path);
  SeriesSet s;
  std::string line;
  int64_t number = 0;
  bool in_data = false;
  std::map<std::string, int> class_index;
  while (std::getline(in, line)) {
    ++number;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    std::string at = where(path, number);
    if (!in_data) {
      if (t[0] != '@') throw Error(at + ": expected a '@' header line before @data");
      std::stringstream ss(t);
      std::string key;
      ss >> key;
      for (char& ch : key) ch = static_cast<char>(std::tolower(ch));
      if (key == "@classlabel") {
        std::string flag, name;
        ss >> flag;
        require(flag == "true", at + ": only labelled .ts files are supported (@classLabel true ...)");
        while (ss >> name) {
          class_index[name] = static_cast<int>(s.classes.size());
          s.classes.push_back(name);
        }
        require(!s.classes.empty(), at + ": @classLabel lists no classes");
      } else if (key == "@equallength") {
        std::string flag;
        ss >> flag;
        require(flag == "true", at + ": only equal-length series are supported (@equalLength true)");
      } else if (key == "@timestamps") {
        std::string flag;
        ss >> flag;
        require(flag == "false", at + ": series with timestamps are not supported (@timeStamps false)");
      } else if (key == "@data") {
        require(!s.classes.empty(), at + ": @data before @classLabel");
        in_data = true;
      }
      continue;
    }
    std::vector<std::string> dims = split(t, ':');
    require(dims.size() >= 2, at + ": expected dimensions separated by ':' and a class label");
    std::string label = trim(dims.back());
    auto it = class_index.find(label);
    require(it != class_index.end(), at + ": unknown class label '" + label + "'");
    int channels = static_cast<int>(dims.size() - 1);
    if (s.channels == 0) s.channels = channels;
    require(channels == s.channels, at + ": " + std::to_string(channels) + " dimensions, expected " + std::to_string(s.channels));
    for (int c = 0; c < channels; ++c) {
      std::vector<std::string> vals = split(dims[c], ',');
      if (s.length == 0) s.length = static_cast<int>(vals.size());
      require(static_cast<int>(vals.size()) == s.length,
              at + ": dimension " + std::to_string(c + 1) + " has " + std::to_string(vals.size()) + " values, expected " + std::to_string(s.length));
      for (const std::string& v : vals) s.values.push_back(static_cast<float>(parse_number(v, at, "value")));
      require(static_cast<int64_t>(s.values.size()) < limits().max_tensor_elements, path + ": more values than supported");
    }
    s.labels.push_back(it->second);
  }
  require(in_data, path + ": no @data section");
  require(!s.labels.empty(), path + ": no series after @data");
  return s;
}

}  // namespace frugal::io
