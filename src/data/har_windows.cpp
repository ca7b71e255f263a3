#include "frugal/data/har_windows.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "frugal/core/error.h"

namespace frugal::data {

Dataset series_to_dataset(const io::SeriesSet& s, const std::string& name) {
  const int64_t N = s.size(), C = s.channels, L = s.length;
  require(static_cast<int64_t>(s.values.size()) == N * C * L, name + ": series values do not match N x channels x length");
  Dataset d;
  d.name = name;
  d.inputs = Tensor::empty({N, L, C});
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < L; ++t) d.inputs[(i * L + t) * C + c] = s.values[static_cast<size_t>((i * C + c) * L + t)];
  d.labels = s.labels;
  d.num_classes = static_cast<int>(s.classes.size());
  return d;
}

ChannelStats channel_stats(const Dataset& d) {
  require(d.inputs.defined() && d.inputs.rank() == 3, d.name + ": expected inputs [N, T, channels]");
  const int64_t C = d.inputs.dim(2), rows = d.inputs.numel() / C;
  std::vector<double> sum(static_cast<size_t>(C), 0.0), sq(static_cast<size_t>(C), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double v = d.inputs[r * C + c];
      sum[c] += v;
      sq[c] += v * v;
    }
  ChannelStats st;
  for (int64_t c = 0; c < C; ++c) {
    const double mean = rows ? sum[c] / static_cast<double>(rows) : 0.0;
    const double var = rows ? std::max(0.0, sq[c] / static_cast<double>(rows) - mean * mean) : 0.0;
    st.mean.push_back(static_cast<float>(mean));
    st.stddev.push_back(static_cast<float>(std::sqrt(var)));
  }
  return st;
}

void normalize(Dataset& d, const ChannelStats& st) {
  const int64_t C = d.inputs.dim(2), rows = d.inputs.numel() / C;
  require(static_cast<int64_t>(st.mean.size()) == C, d.name + ": normalization statistics for another channel count");
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c) {
      float& v = d.inputs[r * C + c];
      v = v - st.mean[c];
      if (st.stddev[c] > 0) v = v / st.stddev[c];
    }
}

Dataset take_subset(const Dataset& d, int64_t limit, uint64_t seed) {
  require(limit >= 0, d.name + ": limit must be >= 0 (0 means all), got " + std::to_string(limit));
  if (limit == 0 || limit >= d.size()) return d;
  Rng rng(seed);
  std::vector<int64_t> order = shuffled_order(d.size(), rng);
  order.resize(static_cast<size_t>(limit));
  std::sort(order.begin(), order.end());
  Batch b = make_batch(d, order, 0, limit);
  Dataset out;
  out.inputs = b.x;
  out.labels = b.y;
  out.num_classes = d.num_classes;
  out.name = d.name;
  return out;
}

Dataset wisdm_windows(const io::WisdmData& w, const WindowOptions& opt, bool train) {
  require(opt.length > 0 && opt.stride > 0, "wisdm: window length and stride must be positive");
  require(opt.test_fraction > 0 && opt.test_fraction < 1, "wisdm: test_fraction must be in (0, 1)");
  std::set<int> subject_set;
  for (const io::SensorRecord& r : w.records) subject_set.insert(r.subject);
  std::vector<int64_t> subjects(subject_set.begin(), subject_set.end());
  require(subjects.size() >= 2, "wisdm: need at least two subjects to split by subject");
  Rng rng(opt.seed);
  rng.shuffle(subjects);
  const size_t n_test = std::max<size_t>(1, static_cast<size_t>(std::lround(opt.test_fraction * static_cast<double>(subjects.size()))));
  std::set<int> test_subjects;
  for (size_t i = 0; i < n_test && i < subjects.size() - 1; ++i) test_subjects.insert(static_cast<int>(subjects[i]));

  std::vector<float> values;
  std::vector<int> labels;
  const size_t L = static_cast<size_t>(opt.length);
  size_t run_start = 0;
  for (size_t i = 1; i <= w.records.size(); ++i) {
    const bool run_ends = i == w.records.size() || w.records[i].subject != w.records[run_start].subject ||
                          w.records[i].activity != w.records[run_start].activity;
    if (!run_ends) continue;
    const io::SensorRecord& first = w.records[run_start];
    if ((test_subjects.count(first.subject) == 0) == train)
      for (size_t s = run_start; s + L <= i; s += static_cast<size_t>(opt.stride)) {
        for (size_t t = 0; t < L; ++t) {
          const io::SensorRecord& r = w.records[s + t];
          values.insert(values.end(), {r.x, r.y, r.z});
        }
        labels.push_back(first.activity);
      }
    run_start = i;
  }
  Dataset d;
  d.name = "wisdm";
  const int64_t N = static_cast<int64_t>(labels.size());
  d.inputs = Tensor({N, opt.length, 3}, values);
  d.labels = labels;
  d.num_classes = static_cast<int>(w.activities.size());
  return d;
}

std::string default_har_dir(const std::string& name) {
  const char* cache = std::getenv("FRUGAL_CACHE");
  const char* home = std::getenv("HOME");
  std::string root = cache ? cache : (home ? std::string(home) + "/.cache/frugal" : ".cache/frugal");
  if (name == "basicmotions") return root + "/BasicMotions";
  if (name == "uci-har") return root + "/UCI HAR Dataset";
  if (name == "wisdm") return root + "/WISDM_ar_v1.1";
  return root;
}

namespace {

std::string path_in(const std::string& dir, const std::string& file, const std::string& hint) {
  std::string p = (std::filesystem::path(dir) / file).string();
  std::error_code ec;
  require(std::filesystem::is_regular_file(p, ec), p + ": HAR file not found" + hint);
  return p;
}

// Both splits, normalized with the training split's statistics.
Split read_splits(const std::string& name, const std::string& dir) {
  Split s;
  if (name == "basicmotions" || name == "har-ts") {
    const std::string hint = name == "basicmotions" ? " (run scripts/fetch_har.sh, or pass data_dir)" : "";
    const std::string stem = name == "basicmotions" ? "BasicMotions_" : "";
    s.train = series_to_dataset(io::read_ts(path_in(dir, stem + "TRAIN.ts", hint)), name);
    s.val = series_to_dataset(io::read_ts(path_in(dir, stem + "TEST.ts", hint)), name);
  } else if (name == "uci-har") {
    s.train = series_to_dataset(io::read_uci_har((std::filesystem::path(dir) / "train").string(), "train"), name);
    s.val = series_to_dataset(io::read_uci_har((std::filesystem::path(dir) / "test").string(), "test"), name);
  } else if (name == "wisdm") {
    io::WisdmData w = io::read_wisdm(path_in(dir, "WISDM_ar_v1.1_raw.txt", " (pass data_dir)"));
    s.train = wisdm_windows(w, {}, true);
    s.val = wisdm_windows(w, {}, false);
  } else {
    throw Error("har: unknown dataset '" + name + "'");
  }
  require(s.train.size() > 0 && s.val.size() > 0, name + ": empty train or test split in " + dir);
  require(s.train.inputs.dim(1) == s.val.inputs.dim(1) && s.train.inputs.dim(2) == s.val.inputs.dim(2),
          name + ": train and test series differ in length or channels");
  require(s.train.num_classes == s.val.num_classes, name + ": train and test name different classes");
  ChannelStats st = channel_stats(s.train);
  normalize(s.train, st);
  normalize(s.val, st);
  return s;
}

}  // namespace

Dataset load_har(const std::string& name, const std::string& dir, bool train, int64_t limit) {
  const std::string where = dir.empty() ? default_har_dir(name) : dir;
  Split s = read_splits(name, where);
  return take_subset(train ? s.train : s.val, limit, 12345);
}

}  // namespace frugal::data
