// `frugal run MODEL --input X.npy --output Y.npy`: any frugal model on a NumPy array, outputs as
// .npy (spikes for a spiking output layer). Spiking models take [T, batch, features...].
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/io/npy.h"
#include "frugal/nn/model_file.h"

namespace frugal::cli {

void add_run(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, input, output;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("run", "run a model on a .npy array and write its outputs as .npy");
  cmd->add_option("model", opt->model, "model.safetensors written by frugal")->required();
  cmd->add_option("--input", opt->input, "input array (.npy)")->required();
  cmd->add_option("--output", opt->output, "output array to write (.npy, float32)")->required();
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    nn::SavedModel saved = nn::load_model(opt->model);
    Tensor x = io::read_npy(opt->input);
    saved.model->set_training(false);
    saved.model->reset_state();
    autograd::NoGradGuard no_grad;
    Tensor y = saved.model->forward(autograd::Var(x)).value();
    io::write_npy(opt->output, y);
    log(opt->input + " " + shape_str(x.shape()) + " -> " + opt->output + " " + shape_str(y.shape()));
    emit_json(opt->common, {{"output", opt->output}, {"input_shape", x.shape()}, {"output_shape", y.shape()}});
  });
}

}  // namespace frugal::cli
