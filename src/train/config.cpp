#include "frugal/train/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/io/limits.h"
#include "frugal/nn/builder.h"
#include "frugal/sparse/nm_ops.h"

namespace frugal::train {

namespace {

// Length of the UTF-8 sequence at text[i], or 0 when it is malformed (bad lead or continuation
// byte, overlong form, surrogate, above U+10FFFF): TOML documents must be valid UTF-8.
size_t utf8_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  unsigned lead = byte(i);
  if (lead < 0x80) return 1;
  size_t n = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (n == 0) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  unsigned second = byte(i + 1);
  if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
  if (lead == 0xED && second >= 0xA0) return 0;  // UTF-16 surrogate
  if (lead == 0xF0 && second < 0x90) return 0;  // overlong
  if (lead == 0xF4 && second >= 0x90) return 0;  // above U+10FFFF
  return n;
}

// Refuses bytes that are not valid UTF-8 anywhere, and non-ASCII characters outside strings and
// comments, where TOML 1.0 allows none. toml++ 3.3 (Debian) must not see the latter: its
// whitespace test reaches __builtin_unreachable for some code points (U+03BE, found by
// fuzz_config), which is undefined behaviour. The scan follows TOML's lexical rules only as far
// as needed to know whether a byte is inside a string or a comment; toml++ checks the rest.
void check_toml_bytes(const std::string& text, const std::string& where) {
  enum class In { code, comment, basic, literal, multi_basic, multi_literal };
  In in = In::code;
  int line = 1, column = 1;
  const auto run_of = [&](size_t i, char q) {
    size_t n = 0;
    while (i + n < text.size() && text[i + n] == q) ++n;
    return n;
  };
  // A backslash and the character it escapes (a quote must not end the string), but not a
  // newline (line counting) nor a malformed byte (reported at its own position).
  const auto escape_length = [&](size_t i) {
    if (i + 1 >= text.size() || text[i + 1] == '\n') return size_t{1};
    return 1 + utf8_length(text, i + 1);
  };
  // toml++ accepts (and skips) a leading byte order mark.
  const size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  for (size_t i = start; i < text.size();) {
    const char c = text[i];
    size_t n = utf8_length(text, i);
    if (n == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(c));
      throw Error(where + ":" + std::to_string(line) + ":" + std::to_string(column) + ": byte " + hex +
                  " is not valid UTF-8 (TOML files must be UTF-8)");
    }
    if (n > 1 && in == In::code)
      throw Error(where + ":" + std::to_string(line) + ":" + std::to_string(column) +
                  ": non-ASCII character outside a string or comment (TOML allows them only in strings and comments)");
    size_t step = n;
    switch (in) {
      case In::code:
        if (c == '#') {
          in = In::comment;
        } else if (c == '"' || c == '\'') {
          bool multi = run_of(i, c) >= 3;
          in = c == '"' ? (multi ? In::multi_basic : In::basic) : (multi ? In::multi_literal : In::literal);
          step = multi ? 3 : 1;
        }
        break;
      case In::comment:
        if (c == '\n') in = In::code;
        break;
      case In::basic:
      case In::literal:
        if (c == '\n' || (c == '"' && in == In::basic) || (c == '\'' && in == In::literal)) in = In::code;
        else if (c == '\\' && in == In::basic) step = escape_length(i);
        break;
      case In::multi_basic:
      case In::multi_literal: {
        const char quote = in == In::multi_basic ? '"' : '\'';
        if (c == '\\' && in == In::multi_basic) {
          step = escape_length(i);
        } else if (c == quote && run_of(i, quote) >= 3) {
          // Up to two quotes may sit right before the closing delimiter: the run ends the string.
          step = std::min<size_t>(run_of(i, quote), 5);
          in = In::code;
        }
        break;
      }
    }
    for (size_t k = 0; k < step && i < text.size(); ++k, ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
  }
}

nn::Json node_to_json(const toml::node& node, int depth, const std::string& where) {
  require(depth <= io::limits().max_nesting_depth,
          where + ": tables and arrays nest deeper than " + std::to_string(io::limits().max_nesting_depth) + " levels");
  if (auto t = node.as_table()) {
    nn::Json j = nn::Json::object();
    for (auto& [k, v] : *t) j[std::string(k.str())] = node_to_json(v, depth + 1, where);
    return j;
  }
  if (auto a = node.as_array()) {
    nn::Json j = nn::Json::array();
    for (auto& v : *a) j.push_back(node_to_json(v, depth + 1, where));
    return j;
  }
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_string()) return v->get();
  throw Error(where + ": dates and times are not supported as values");
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
  check_toml_bytes(text, where);
  try {
    toml::table table = toml::parse(text, where);
    return node_to_json(table, 0, where);
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
  c.source = where;
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
  if (c.dataset == "brats") {
    c.model = r.get_json("model");
    c.crop = r.get_int("crop", c.crop);
  } else {
    c.layers = r.get_json("layers");
  }
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
  require(c.crop >= 0, where + ": crop: must be >= 0");
  return c;
}

}  // namespace frugal::train
