// `frugal import FILE.nir [--dt S] --out MODEL`: a NIR graph (Norse, snnTorch, Sinabs, ...) as a
// frugal model that eval, run and training accept. Neuron mapping with step dt: docs/nir.md.
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/io/nir.h"
#include "frugal/nn/model_file.h"
#include "frugal/nn/nir_graph.h"

namespace frugal::cli {

void add_import(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string file, out;
    double dt = 1e-4;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("import", "turn a NIR file into a frugal model");
  cmd->add_option("file", opt->file, "graph.nir (HDF5)")->required();
  cmd->add_option("--out", opt->out, "model.safetensors to write")->required();
  cmd->add_option("--dt", opt->dt, "time step in seconds for the continuous-time neurons (default 1e-4)");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    io::NirFile file = io::read_nir(opt->file);
    std::unique_ptr<nn::NirGraph> model = nn::import_nir(file, opt->dt, opt->file);
    nn::save_model(opt->out, *model, Json::object(), {{"nir_source", opt->file}, {"nir_version", file.version}});
    log(opt->file + ": " + std::to_string(model->nodes.size()) + " nodes" +
        (model->recurrent() ? " (recurrent, runs step by step)" : "") + " -> " + opt->out);
    Shape in = model->nodes[0].out_shape;
    emit_json(opt->common, {{"model", opt->out}, {"nodes", model->nodes.size()}, {"recurrent", model->recurrent()},
                            {"input_shape", in}, {"output_shape", model->nodes[size_t(model->output)].out_shape},
                            {"dt", opt->dt}});
  });
}

}  // namespace frugal::cli
