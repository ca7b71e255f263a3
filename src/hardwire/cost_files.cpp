// Strict readers of the cost model's two files (cost_model.h): an LLM architecture
// (examples/llm/*.toml) and a technology with every assumption and its source
// (examples/hnlpu/*.toml). Every field is required; an unknown key, a missing key or a value of
// the wrong type is an error naming the file and the key.
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "frugal/core/error.h"
#include "frugal/hardwire/cost_model.h"
#include "frugal/train/config.h"

namespace frugal::hardwire {

namespace {

using Fields = std::vector<std::pair<std::string, double*>>;

Fields architecture_fields(LlmArchitecture& m) {
  return {{"layers", &m.layers},       {"hidden", &m.hidden},
          {"query_heads", &m.query_heads}, {"kv_heads", &m.kv_heads},
          {"head_dim", &m.head_dim},   {"experts", &m.experts},
          {"experts_per_token", &m.experts_per_token}, {"expert_intermediate", &m.expert_intermediate},
          {"vocabulary", &m.vocabulary}};
}

Fields tech_fields(CostInputs& in) {
  return {{"chips", &in.chips},
          {"die_mm2", &in.die_mm2},
          {"neuron_array_mm2", &in.neuron_array_mm2},
          {"wafer_diameter_mm", &in.wafer_diameter_mm},
          {"wafer_usd", &in.wafer_usd},
          {"defect_density_per_cm2", &in.defect_density_per_cm2},
          {"package_test_usd_per_wafer_low", &in.package_test_usd_per_wafer_low},
          {"package_test_usd_per_wafer_high", &in.package_test_usd_per_wafer_high},
          {"euv_masks", &in.euv_masks},
          {"duv_masks", &in.duv_masks},
          {"euv_weight_in_duv", &in.euv_weight_in_duv},
          {"embedding_masks", &in.embedding_masks},
          {"mask_set_usd_low", &in.mask_set_usd_low},
          {"mask_set_usd_high", &in.mask_set_usd_high},
          {"naive_mask_set_usd", &in.naive_mask_set_usd},
          {"ce_block_area", &in.ce_block_area},
          {"metal_embedding_block_area", &in.metal_embedding_block_area},
          {"design_architecture_usd_low", &in.design_architecture_usd_low},
          {"design_architecture_usd_high", &in.design_architecture_usd_high},
          {"design_verification_usd_low", &in.design_verification_usd_low},
          {"design_verification_usd_high", &in.design_verification_usd_high},
          {"design_physical_usd_low", &in.design_physical_usd_low},
          {"design_physical_usd_high", &in.design_physical_usd_high},
          {"design_ip_usd_low", &in.design_ip_usd_low},
          {"design_ip_usd_high", &in.design_ip_usd_high},
          {"system_recurring_usd_low", &in.system_recurring_usd_low},
          {"system_recurring_usd_high", &in.system_recurring_usd_high},
          {"hbm_usd_per_gb_low", &in.hbm_usd_per_gb_low},
          {"hbm_usd_per_gb_high", &in.hbm_usd_per_gb_high},
          {"hbm_gb_per_chip", &in.hbm_gb_per_chip},
          {"tokens_per_s", &in.tokens_per_s},
          {"chip_power_w", &in.chip_power_w},
          {"system_power_w", &in.system_power_w},
          {"usd_per_kwh", &in.usd_per_kwh},
          {"pue", &in.pue},
          {"years", &in.years},
          {"h100_tokens_per_s", &in.h100_tokens_per_s},
          {"h100_power_w", &in.h100_power_w},
          {"wse3_tokens_per_s", &in.wse3_tokens_per_s},
          {"wse3_power_w", &in.wse3_power_w},
          {"measured_transistors_per_weight", &in.measured_transistors_per_weight},
          {"transistors_per_mm2", &in.transistors_per_mm2}};
}

nn::Json read_toml(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  require(f.good(), path + ": cannot open " + what);
  std::stringstream text;
  text << f.rdbuf();
  require(text.str().size() < (1u << 20), path + ": " + what + " larger than 1 MiB");
  return train::toml_to_json(text.str(), path);
}

double* field_named(const Fields& fields, const std::string& key) {
  for (const auto& [name, ptr] : fields)
    if (name == key) return ptr;
  return nullptr;
}

std::string text_key(const nn::Json& j, const std::string& key, const std::string& path) {
  require(j.contains(key), path + ": key '" + key + "' missing");
  require(j[key].is_string() && !j[key].get<std::string>().empty(),
          path + ": key '" + key + "' must be a non-empty string");
  return j[key].get<std::string>();
}

}  // namespace

LlmArchitecture read_llm_architecture(const std::string& path) {
  nn::Json j = read_toml(path, "model architecture");
  LlmArchitecture m;
  Fields fields = architecture_fields(m);
  m.name = text_key(j, "name", path);
  m.source = text_key(j, "source", path);
  for (const auto& [key, value] : j.items()) {
    if (key == "name" || key == "source") continue;
    double* field = field_named(fields, key);
    require(field != nullptr, path + ": key '" + key +
                                  "' is not an architecture field (layers, hidden, query_heads, kv_heads, "
                                  "head_dim, experts, experts_per_token, expert_intermediate, vocabulary)");
    require(value.is_number() && value.get<double>() > 0, path + ": key '" + key + "' must be a positive number");
    *field = value.get<double>();
  }
  for (const auto& [name, ptr] : fields) require(*ptr > 0, path + ": key '" + name + "' missing");
  return m;
}

CostInputs read_cost_tech(const std::string& path) {
  nn::Json j = read_toml(path, "technology file");
  CostInputs in;
  Fields fields = tech_fields(in);
  for (const auto& [key, entry] : j.items()) {
    double* field = field_named(fields, key);
    require(field != nullptr, path + ": key '" + key + "' is not a cost model input (docs/hardwire.md lists them)");
    std::string where = path + ": key '" + key + "'";
    require(entry.is_object(), where + " must be a table { value = NUMBER, source = \"TEXT\" }");
    for (const auto& item : entry.items())
      require(item.key() == "value" || item.key() == "source",
              where + ": unknown entry '" + item.key() + "' (value, source)");
    require(entry.contains("value") && entry["value"].is_number(), where + ": 'value' must be a number");
    require(entry["value"].get<double>() >= 0, where + ": 'value' must not be negative");
    *field = entry["value"].get<double>();
    in.source[key] = text_key(entry, "source", where);
  }
  for (const auto& [name, ptr] : fields) require(in.source.count(name) == 1, path + ": key '" + name + "' missing");
  return in;
}

}  // namespace frugal::hardwire
