// Run configs: a TOML file, converted to JSON, with `--set key=value` overrides (dotted keys
// reach into tables: optimizer.lr=3e-4), then checked key by key: an unknown or mistyped key is
// an error naming the file and the key. The JSON form is stored in the saved model.
#pragma once
#include <string>
#include <vector>

#include "frugal/nn/module.h"
#include "frugal/train/optimizer.h"
#include "frugal/train/schedule.h"

namespace frugal::train {

// Reads a TOML file into JSON (integers stay integers) and applies "key=value" overrides, whose
// values are parsed as TOML values (3, 1e-3, true, "adam") or else taken as strings.
nn::Json load_config(const std::string& path, const std::vector<std::string>& overrides);
nn::Json toml_to_json(const std::string& text, const std::string& where);

struct TrainConfig {
  std::string name = "run";
  std::string dataset = "fashion-mnist";
  std::string data_dir;  // empty: the dataset's default location
  int epochs = 1;
  int batch_size = 128;
  int eval_batch_size = 1000;
  uint64_t seed = 42;
  int64_t train_limit = 0;  // 0: all samples
  int64_t test_limit = 0;
  double val_fraction = 0;
  std::string loss = "cross_entropy";
  int threads = 0;
  int checkpoint_every = 0;  // batches between checkpoints; 0: once per epoch
  bool skip_nonfinite = false;
  std::string sparsity;  // "2:8" for N:M sparse training; empty: dense
  std::string sparsity_mode = "bdwp";
  double sr_ste_decay = 0;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  nn::Json layers;
  nn::Json model;  // dataset "brats": the U-Net's [model] table (rev/unet3d.h) instead of layers
  int crop = 0;    // dataset "brats": edge of the random training crops; 0: whole volumes
  nn::Json raw;  // the whole config, as given
  std::string source;  // where it came from (the TOML path), for errors found after parsing
};

// `where` names the source in errors (the TOML path).
TrainConfig parse_train_config(const nn::Json& config, const std::string& where);

}  // namespace frugal::train
