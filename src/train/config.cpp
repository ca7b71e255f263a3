#include "frugal/train/config.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/nn/builder.h"
#include "frugal/sparse/nm_ops.h"

namespace frugal::train {

namespace {

nn::Json node_to_json(const toml::node& node) {
  if (auto t = node.as_table()) {
    nn::Json j = nn::Json::object();
    for (auto& [k, v] : *t) j[std::string(k.str())] = node_to_json(v);
    return j;
  }
  if (auto a = node.as_array()) {
    nn::Json j = nn::Json::array();
    for (auto& v : *a) j.push_back(node_to_json(v));
    return j;
  }
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_string()) return v->get();
  throw Error("config: dates and times are not supported as values");
}

void apply_override(nn::Json& config, const std::string& assignment, const std::string& where) {
  size_t eq = assignment.find('=');
  require(eq != std::string::npos && eq > 0, "--set " + assignment + ": expected key=value");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nn::Json value;
  try {
    value = toml_to_json("v = " + text, where)["v"];
  } catch (const Error&) {
    value = text;
  }
  nn::Json* node = &config;
  std::stringstream parts(key);
  std::string part;
  std::vector<std::string> path;
  while (std::getline(parts, part, '.')) path.push_back(part);
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    nn::Json& next = (*node)[path[i]];
    if (next.is_null()) next = nn::Json::object();
    require(next.is_object(), "--set " + key + ": '" + path[i] + "' is not a table");
    node = &next;
  }
  (*node)[path.back()] = value;
}

}  // namespace

nn::Json toml_to_json(const std::string& text, const std::string& where) {
  try {
    toml::table table = toml::parse(text, where);
    return node_to_json(table);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    throw Error(where + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
                std::string(e.description()));
  }
}

nn::Json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  require(buffer.str().size() < (1u << 24), path + ": config file larger than 16 MiB");
  nn::Json config = toml_to_json(buffer.str(), path);
  for (const std::string& o : overrides) apply_override(config, o, path);
  return config;
}

TrainConfig parse_train_config(const nn::Json& config, const std::string& where) {
  TrainConfig c;
  c.raw = config;
  nn::SpecReader r(config, where);
  c.name = r.get_string("name", c.name);
  c.dataset = r.get_string("dataset", c.dataset);
  c.data_dir = r.get_string("data_dir", c.data_dir);
  c.epochs = r.get_int("epochs", c.epochs);
  c.batch_size = r.get_int("batch_size", c.batch_size);
  c.eval_batch_size = r.get_int("eval_batch_size", c.eval_batch_size);
  c.seed = static_cast<uint64_t>(r.get_int("seed", static_cast<int>(c.seed)));
  c.train_limit = r.get_int("train_limit", 0);
  c.test_limit = r.get_int("test_limit", 0);
  c.val_fraction = r.get_double("val_fraction", c.val_fraction);
  c.loss = r.get_string("loss", c.loss);
  c.threads = r.get_int("threads", c.threads);
  c.checkpoint_every = r.get_int("checkpoint_every", c.checkpoint_every);
  c.skip_nonfinite = r.get_bool("skip_nonfinite", c.skip_nonfinite);
  c.sparsity = r.get_string("sparsity", c.sparsity);
  c.sparsity_mode = r.get_string("sparsity_mode", c.sparsity_mode);
  c.sr_ste_decay = r.get_double("sr_ste_decay", c.sr_ste_decay);
  if (!c.sparsity.empty()) sparse::parse_nm(c.sparsity, where + ": sparsity");
  sparse::parse_nm_mode(c.sparsity_mode, where + ": sparsity_mode");
  require(c.sr_ste_decay >= 0, where + ": sr_ste_decay: must be >= 0");
  c.layers = r.get_json("layers");
  if (r.has("optimizer")) {
    nn::SpecReader o(r.get_json("optimizer"), where + ": optimizer");
    OptimizerConfig& oc = c.optimizer;
    oc.type = o.get_string("type", oc.type);
    oc.lr = o.get_double("lr", oc.lr);
    oc.momentum = o.get_double("momentum", oc.momentum);
    oc.nesterov = o.get_bool("nesterov", oc.nesterov);
    oc.weight_decay = o.get_double("weight_decay", oc.weight_decay);
    oc.beta1 = o.get_double("beta1", oc.beta1);
    oc.beta2 = o.get_double("beta2", oc.beta2);
    oc.eps = o.get_double("eps", oc.eps);
    o.finish();
  }
  if (r.has("schedule")) {
    nn::SpecReader s(r.get_json("schedule"), where + ": schedule");
    ScheduleConfig& sc = c.schedule;
    sc.type = s.get_string("type", sc.type);
    sc.step_epochs = s.get_int("step_epochs", sc.step_epochs);
    sc.gamma = s.get_double("gamma", sc.gamma);
    sc.min_lr = s.get_double("min_lr", sc.min_lr);
    sc.warmup_steps = s.get_int("warmup_steps", sc.warmup_steps);
    s.finish();
    require(sc.type == "none" || sc.type == "step" || sc.type == "cosine",
            where + ": schedule.type: expected none, step or cosine, got '" + sc.type + "'");
    require(sc.step_epochs > 0, where + ": schedule.step_epochs: must be positive");
  }
  r.finish();
  require(c.epochs >= 0, where + ": epochs: must be >= 0");
  require(c.batch_size > 0, where + ": batch_size: must be positive");
  require(c.eval_batch_size > 0, where + ": eval_batch_size: must be positive");
  require(c.train_limit >= 0 && c.test_limit >= 0, where + ": train_limit and test_limit must be >= 0");
  require(c.val_fraction >= 0 && c.val_fraction < 1, where + ": val_fraction: expected 0 <= v < 1");
  return c;
}

}  // namespace frugal::train
