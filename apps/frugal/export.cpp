// `frugal export MODEL --nir FILE.nir [--dt S] [--input-shape C,H,W]`: a frugal model as a NIR
// graph for other simulators and chips. Imported (nir_graph) models know their input shape; a
// plain sequential model needs --input-shape.
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/io/nir.h"
#include "frugal/nn/model_file.h"
#include "frugal/nn/nir_graph.h"

namespace frugal::cli {

void add_export(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, nir;
    double dt = 1e-4;
    std::vector<int64_t> input_shape;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("export", "write a frugal model as a NIR file");
  cmd->add_option("model", opt->model, "model.safetensors written by frugal")->required();
  cmd->add_option("--nir", opt->nir, "graph.nir to write")->required();
  cmd->add_option("--dt", opt->dt, "time step in seconds the neurons' decays refer to (default 1e-4)");
  cmd->add_option("--input-shape", opt->input_shape, "per-sample input shape for sequential models")->delimiter(',');
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    nn::SavedModel saved = nn::load_model(opt->model);
    std::vector<std::string> notes;
    io::NirFile file = nn::export_nir(*saved.model, opt->dt, opt->input_shape, &notes);
    for (const std::string& note : notes) log(note);
    io::write_nir(opt->nir, file);
    log(opt->model + " -> " + opt->nir + " (" + std::to_string(file.graph.nodes.size()) + " nodes)");
    emit_json(opt->common, {{"nir", opt->nir}, {"nodes", file.graph.nodes.size()}, {"edges", file.graph.edges.size()}});
  });
}

}  // namespace frugal::cli
