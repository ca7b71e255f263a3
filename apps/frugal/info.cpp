// `frugal info MODEL [--json]`: the layers of a saved model, their parameters and bytes; for N:M
// sparse layers also the pattern, mode, kernel, fraction of zero weights and packed size.
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/nn/model_file.h"
#include "frugal/sparse/nm_layers.h"

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
    Json sparse_layers = Json::array();
    int64_t saved_bytes = 0;
    for (const sparse::SparseLayerInfo& s : sparse::describe(*saved.model)) {
      sparse_layers.push_back({{"name", s.name}, {"type", s.type}, {"sparsity", s.pattern}, {"mode", s.mode},
                               {"kernel", s.kernel}, {"zero_fraction", s.zero_fraction},
                               {"dense_bytes", s.dense_bytes}, {"packed_bytes", s.packed_bytes}});
      saved_bytes += s.dense_bytes - s.packed_bytes;
      char line[200];
      std::snprintf(line, sizeof line, "layer %s %s: N:M %s %s (%s), %.1f%% of weights zero, packed %lld bytes (dense %lld)",
                    s.name.c_str(), s.type.c_str(), s.pattern.c_str(), s.mode.c_str(), s.kernel.c_str(),
                    100.0 * s.zero_fraction, static_cast<long long>(s.packed_bytes),
                    static_cast<long long>(s.dense_bytes));
      log(line);
    }
    if (!sparse_layers.empty()) {
      out["sparse_layers"] = sparse_layers;
      out["packed_parameter_bytes"] = total * 4 - saved_bytes;
      log(std::to_string(total * 4 - saved_bytes) + " bytes with the sparse weights packed");
    }
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
