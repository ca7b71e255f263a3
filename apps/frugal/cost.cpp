// `frugal cost hnlpu [--model gpt-oss-120b] [--config FILE.toml] [--json]`: the LLM-scale
// hardwiring cost model (include/frugal/hardwire/cost_model.h) as a table of every input and
// result with its unit and source. A TOML config replaces any input: top-level keys name
// CostInputs fields (chips = 20, mask_set_usd_low = 2e7, measured_transistors_per_weight = 98),
// and a [model] table the architecture's (layers, hidden, experts, ...); the lines it changes are
// labelled with the config file as their source.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "frugal/core/error.h"
#include "frugal/hardwire/cost_model.h"
#include "frugal/train/config.h"

namespace frugal::cli {

namespace {

std::vector<std::pair<std::string, double*>> model_fields(hardwire::LlmArchitecture& m) {
  return {{"layers", &m.layers},         {"hidden", &m.hidden},
          {"query_heads", &m.query_heads}, {"kv_heads", &m.kv_heads},
          {"head_dim", &m.head_dim},     {"experts", &m.experts},
          {"experts_per_token", &m.experts_per_token}, {"expert_intermediate", &m.expert_intermediate},
          {"vocabulary", &m.vocabulary}};
}

std::vector<std::pair<std::string, double*>> input_fields(hardwire::CostInputs& in) {
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
          {"density_ratio", &in.density_ratio},
          {"design_usd_low", &in.design_usd_low},
          {"design_usd_high", &in.design_usd_high},
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

// Sets the fields `table` names; an unknown key or a non-number is an error naming file and key.
void apply_table(const Json& table, const std::vector<std::pair<std::string, double*>>& fields,
                 const std::string& where, const std::string& prefix, std::set<std::string>& changed) {
  for (const auto& [key, value] : table.items()) {
    if (prefix.empty() && key == "model") continue;
    double* field = nullptr;
    for (const auto& [name, ptr] : fields)
      if (name == key) field = ptr;
    require(field != nullptr, where + ": key '" + prefix + key + "' is not a cost model input (see docs/hardwire.md)");
    require(value.is_number(), where + ": key '" + prefix + key + "' must be a number");
    *field = value.get<double>();
    changed.insert(key);
  }
}

// Up to a million with 6 significant digits (827.08 mm2, $16988), larger in scientific notation,
// small ratios with 4.
std::string fixed(double v) {
  char b[64];
  double a = std::fabs(v);
  if (a >= 1e6)
    std::snprintf(b, sizeof b, "%.4g", v);
  else if (a >= 100)
    std::snprintf(b, sizeof b, "%.6g", v);
  else
    std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

void add_cost(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string target, model = "gpt-oss-120b", config;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("cost", "cost model of hardwiring an LLM into silicon");
  cmd->add_option("target", opt->target, "what to cost: hnlpu (weights hardwired in metal, Liu et al. 2025)")
      ->required()
      ->check(CLI::IsMember({"hnlpu"}));
  cmd->add_option("--model", opt->model, "the LLM whose weights are hardwired")->capture_default_str();
  cmd->add_option("--config", opt->config, "TOML file replacing cost model inputs");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    require(opt->model == "gpt-oss-120b", "cost: model '" + opt->model +
                                              "' unknown; known: gpt-oss-120b (give another one's "
                                              "architecture in a [model] table of --config)");
    hardwire::CostInputs in;
    std::set<std::string> changed;
    if (!opt->config.empty()) {
      std::ifstream f(opt->config, std::ios::binary);
      require(f.good(), opt->config + ": cannot open cost config");
      std::stringstream text;
      text << f.rdbuf();
      require(text.str().size() < (1u << 20), opt->config + ": cost config larger than 1 MiB");
      Json cfg = train::toml_to_json(text.str(), opt->config);
      apply_table(cfg, input_fields(in), opt->config, "", changed);
      if (cfg.contains("model")) {
        require(cfg["model"].is_object(), opt->config + ": 'model' must be a table");
        apply_table(cfg["model"], model_fields(in.model), opt->config, "model.", changed);
      }
    }
    hardwire::CostReport r = hardwire::llm_cost(in);
    Json out, lines = Json::array();
    out["target"] = opt->target;
    out["model"] = opt->model;
    if (!opt->config.empty()) out["config"] = opt->config;
    for (hardwire::CostLine& l : r.lines) {
      if (changed.count(l.key)) l.source = "set in " + opt->config;
      out[l.key] = l.value;
      lines.push_back({{"key", l.key}, {"value", l.value}, {"unit", l.unit}, {"source", l.source}});
      char row[512];
      std::snprintf(row, sizeof row, "%-34s %14s  %-28s %s", l.key.c_str(), fixed(l.value).c_str(), l.unit.c_str(),
                    l.source.c_str());
      log(row);
    }
    for (const std::string& key : changed)
      if (out.find(key) == out.end()) log("(" + key + " set in " + opt->config + ")");
    out["lines"] = lines;
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
