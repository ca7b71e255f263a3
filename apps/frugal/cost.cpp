// `frugal hardwire cost MODEL.toml --tech TECH.toml [--json]`: the LLM-scale hardwiring cost model
// (include/frugal/hardwire/cost_model.h) as a table of every input and result with its unit and
// source. MODEL.toml is the architecture (examples/llm/gpt-oss-120b.toml), TECH.toml every
// technology and cost assumption with its source (examples/hnlpu/5nm.toml); both are read
// strictly, so a missing, unknown or mistyped key exits 2 naming the file and the key.
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/hardwire/cost_model.h"

namespace frugal::cli {

namespace {

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

CLI::App* add_hardwire_cost(CLI::App& hardwire) {
  struct Options {
    CommonOptions common;
    std::string model, tech;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd =
      hardwire.add_subcommand("cost", "cost model of hardwiring an LLM into silicon (HNLPU, Liu et al. 2025)");
  cmd->add_option("model", opt->model, "the LLM's architecture (examples/llm/gpt-oss-120b.toml)")->required();
  cmd->add_option("--tech", opt->tech, "technology and cost assumptions with sources (examples/hnlpu/5nm.toml)")
      ->required();
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    hardwire::CostInputs in = hardwire::read_cost_tech(opt->tech);
    in.model = hardwire::read_llm_architecture(opt->model);
    hardwire::CostReport r = hardwire::llm_cost(in);
    log("model " + in.model.name + " (" + opt->model + "), technology " + opt->tech);
    Json out, lines = Json::array();
    out["model"] = in.model.name;
    out["model_file"] = opt->model;
    out["tech_file"] = opt->tech;
    for (const hardwire::CostLine& l : r.lines) {
      out[l.key] = l.value;
      lines.push_back({{"key", l.key}, {"value", l.value}, {"unit", l.unit}, {"source", l.source}});
      char row[512];
      std::snprintf(row, sizeof row, "%-34s %14s  %-28s %s", l.key.c_str(), fixed(l.value).c_str(), l.unit.c_str(),
                    l.source.c_str());
      log(row);
    }
    out["lines"] = lines;
    emit_json(opt->common, out);
  });
  return cmd;
}

}  // namespace frugal::cli
