// `frugal info MODEL [--json]`: the layers of a saved model, their parameters and bytes.
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/nn/model_file.h"

namespace frugal::cli {

void add_info(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("info", "describe a saved model: layers, parameters, bytes");
  cmd->add_option("model", opt->model, "model.safetensors written by frugal")->required();
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    nn::SavedModel saved = nn::load_model(opt->model);
    Json out;
    out["model"] = opt->model;
    out["spec"] = saved.model->spec();
    int64_t total = 0;
    Json params = Json::array();
    for (nn::Param& p : saved.model->parameters()) {
      params.push_back({{"name", p.name}, {"shape", p.var.shape()}, {"count", p.var.value().numel()}});
      total += p.var.value().numel();
      log(p.name + " " + shape_str(p.var.shape()));
    }
    out["parameters"] = params;
    out["parameter_count"] = total;
    out["parameter_bytes"] = total * 4;
    log(std::to_string(total) + " parameters, " + std::to_string(total * 4) + " bytes as float32");
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
