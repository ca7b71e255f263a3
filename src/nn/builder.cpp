#include "frugal/nn/builder.h"
#include "frugal/nn/nir_graph.h"

#include <algorithm>

#include "frugal/core/error.h"
#include "frugal/nn/layers.h"

namespace frugal::nn {

SpecReader::SpecReader(const Json& spec, std::string where) : spec_(spec), where_(std::move(where)) {
  require(spec_.is_object(), where_ + ": expected a table of layer settings");
}

bool SpecReader::has(const std::string& key) const { return spec_.contains(key); }

const Json& SpecReader::get_json(const std::string& key) {
  require(has(key), where_ + ": missing key '" + key + "'");
  read_.push_back(key);
  return spec_.at(key);
}

int SpecReader::get_int(const std::string& key) {
  const Json& v = get_json(key);
  require(v.is_number_integer(), where_ + "." + key + ": expected an integer, got " + v.dump());
  int64_t i = v.get<int64_t>();
  require(i >= -(1ll << 30) && i <= (1ll << 30), where_ + "." + key + ": integer out of range");
  return static_cast<int>(i);
}

int SpecReader::get_int(const std::string& key, int fallback) { return has(key) ? get_int(key) : fallback; }

double SpecReader::get_double(const std::string& key) {
  const Json& v = get_json(key);
  require(v.is_number(), where_ + "." + key + ": expected a number, got " + v.dump());
  return v.get<double>();
}

double SpecReader::get_double(const std::string& key, double fallback) {
  return has(key) ? get_double(key) : fallback;
}

bool SpecReader::get_bool(const std::string& key, bool fallback) {
  if (!has(key)) return fallback;
  const Json& v = get_json(key);
  require(v.is_boolean(), where_ + "." + key + ": expected true or false, got " + v.dump());
  return v.get<bool>();
}

std::string SpecReader::get_string(const std::string& key) {
  const Json& v = get_json(key);
  require(v.is_string(), where_ + "." + key + ": expected a string, got " + v.dump());
  return v.get<std::string>();
}

std::string SpecReader::get_string(const std::string& key, const std::string& fallback) {
  return has(key) ? get_string(key) : fallback;
}

void SpecReader::finish() const {
  for (auto it = spec_.begin(); it != spec_.end(); ++it)
    require(std::find(read_.begin(), read_.end(), it.key()) != read_.end(),
            where_ + ": unknown key '" + it.key() + "'");
}

namespace {

ModulePtr try_build_nn(const Json& spec, Rng& rng, const std::string& where) {
  SpecReader r(spec, where);
  std::string type = r.get_string("type");
  ModulePtr m;
  if (type == "linear") {
    int in = r.get_int("in"), out = r.get_int("out");
    m = std::make_unique<Linear>(in, out, r.get_bool("bias", true), rng);
  } else if (type == "conv2d") {
    int in = r.get_int("in"), out = r.get_int("out"), k = r.get_int("kernel");
    int stride = r.get_int("stride", 1), pad = r.get_int("pad", 0), groups = r.get_int("groups", 1);
    m = std::make_unique<Conv2d>(in, out, k, stride, pad, groups, r.get_bool("bias", true), rng);
  } else if (type == "relu") {
    m = std::make_unique<ReLU>();
  } else if (type == "maxpool2d" || type == "avgpool2d") {
    int k = r.get_int("kernel");
    int stride = r.get_int("stride", k), pad = r.get_int("pad", 0);
    require(k > 0 && stride > 0 && pad >= 0 && pad * 2 <= k, where + ": pool kernel, stride must be positive, pad <= kernel/2");
    if (type == "maxpool2d")
      m = std::make_unique<MaxPool2d>(k, stride, pad);
    else
      m = std::make_unique<AvgPool2d>(k, stride, pad);
  } else if (type == "flatten") {
    m = std::make_unique<Flatten>(r.get_int("start_axis", 1));
  } else if (type == "batchnorm2d") {
    int c = r.get_int("channels");
    m = std::make_unique<BatchNorm2d>(c, static_cast<float>(r.get_double("momentum", 0.1)),
                                      static_cast<float>(r.get_double("eps", 1e-5)));
  } else if (type == "normalize") {
    double mean = r.get_double("mean", 0.0), std = r.get_double("std", 1.0);
    require(std > 0, where + ".std: expected > 0, got " + std::to_string(std));
    m = std::make_unique<Normalize>(static_cast<float>(mean), static_cast<float>(std));
  } else if (type == "dropout") {
    double p = r.get_double("p", 0.5);
    require(p >= 0 && p < 1, where + ".p: expected 0 <= p < 1");
    m = std::make_unique<Dropout>(static_cast<float>(p), rng.next_u64());
  } else if (type == "sequential") {
    m = build_sequential(r.get_json("layers"), rng);
  } else {
    return nullptr;
  }
  r.finish();
  return m;
}

std::vector<ModuleBuilder>& added_builders() {
  static std::vector<ModuleBuilder> builders;
  return builders;
}

}  // namespace

void add_module_builder(ModuleBuilder builder) {
  std::vector<ModuleBuilder>& all = added_builders();
  if (std::find(all.begin(), all.end(), builder) == all.end()) all.push_back(builder);
}

ModulePtr build_module(const Json& spec, Rng& rng, const std::string& where) {
  require(spec.is_object() && spec.contains("type") && spec["type"].is_string(),
          where + ": expected a table with a string 'type'");
  if (ModulePtr m = try_build_nn(spec, rng, where)) return m;
  if (ModulePtr m = try_build_nir(spec, where)) return m;
  for (ModuleBuilder builder : added_builders())
    if (ModulePtr m = builder(spec, rng, where)) return m;
  throw Error(where + ": unknown layer type '" + spec["type"].get<std::string>() + "'");
}

ModulePtr build_module(const Json& spec, Rng& rng) { return build_module(spec, rng, "layer"); }

ModulePtr build_sequential(const Json& layers, Rng& rng) {
  require(layers.is_array() && !layers.empty(), "layers: expected a non-empty list of layer tables");
  auto seq = std::make_unique<Sequential>();
  for (size_t i = 0; i < layers.size(); ++i)
    seq->add(build_module(layers[i], rng, "layers[" + std::to_string(i) + "]"));
  return seq;
}

}  // namespace frugal::nn
