// Rebuilds modules from their JSON specs (the "layers" of a TOML config or a saved model's
// metadata). Unknown types and keys are errors naming the layer and the key. Each family of
// modules (nn, snn, lmu, sparse, ...) contributes one try_build_* function; build_module asks
// nn's first, then the families added with add_module_builder (train::register_layer_families()
// adds them all), so nn never includes the families above it.
#pragma once
#include "frugal/core/rng.h"
#include "frugal/nn/module.h"

namespace frugal::nn {

ModulePtr build_module(const Json& spec, Rng& rng);
// Same, with `where` naming the spec in error messages ("layers[3]").
ModulePtr build_module(const Json& spec, Rng& rng, const std::string& where);
// [{"type": ...}, ...] -> Sequential
ModulePtr build_sequential(const Json& layers, Rng& rng);

// A family's builder returns nullptr for types it does not know. Adding one twice is a no-op.
using ModuleBuilder = ModulePtr (*)(const Json& spec, Rng& rng, const std::string& where);
void add_module_builder(ModuleBuilder builder);

// Reads keys from a layer spec and remembers which were read, so unread (unknown) keys can be
// reported: `SpecReader r(spec, "layers[3]"); int k = r.get_int("kernel", 3); r.finish();`
class SpecReader {
 public:
  SpecReader(const Json& spec, std::string where);
  int get_int(const std::string& key);
  int get_int(const std::string& key, int fallback);
  double get_double(const std::string& key);
  double get_double(const std::string& key, double fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key);
  std::string get_string(const std::string& key, const std::string& fallback);
  const Json& get_json(const std::string& key);  // required, any type
  bool has(const std::string& key) const;
  void finish() const;  // throws naming the first key that was never read
  const std::string& where() const { return where_; }

 private:
  const Json& spec_;
  std::string where_;
  std::vector<std::string> read_;
};

}  // namespace frugal::nn
