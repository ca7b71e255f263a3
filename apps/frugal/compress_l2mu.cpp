// `frugal compress-l2mu MODEL [--prune F] [--finetune-epochs E] [--lr LR] [--no-int8] [--out PATH]
// [--window T] [--int8-out FILE] [--json]`: the edge-CPU compression of a trained L2MU
// (lmu/compress.h): magnitude pruning with masked fine-tuning on the training split, then int8
// weights; prints the test accuracy after each step, the deployable size and the batch-1 latency
// of one T-step window of frugal's float forward pass running the int8-valued weights.
// --int8-out also writes the deployable int8 file (lmu/int8_model.h) and runs the integer-weight
// runtime on the test set: its accuracy, agreement with the float pass, file size and latency.
// `frugal run-l2mu-int8 FILE --input X.npy --output Y.npy` runs such a file on [N, T, C] inputs.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/core/error.h"
#include "frugal/io/npy.h"
#include "frugal/lmu/compress.h"
#include "frugal/lmu/int8_model.h"
#include "frugal/nn/layers.h"
#include "frugal/nn/model_file.h"
#include "frugal/train/datasets.h"
#include "frugal/train/metrics.h"

namespace frugal::cli {

namespace {

// Median wall time of `repeats` batch-1 forward passes over the first `steps` steps of sample 0.
template <typename Forward>
double latency_us_p50(const Forward& forward, const data::Dataset& test, int64_t steps, int repeats) {
  const int64_t T = test.inputs.dim(1), C = test.inputs.dim(2);
  require(steps > 0 && steps <= T, "compress-l2mu: --window must be in 1.." + std::to_string(T));
  Tensor x = Tensor::empty({1, steps, C});
  for (int64_t i = 0; i < steps * C; ++i) x[i] = test.inputs[i];
  autograd::NoGradGuard no_grad;
  std::vector<double> us;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    forward(x);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// Runs the int8 file on the test set in chunks: accuracy, and how many predictions (argmax of the
// spike counts, first maximum) differ from the float model holding the same int8-valued weights.
void check_int8_runtime(lmu::L2mu& model, const lmu::Int8L2mu& q, const data::Dataset& test, Json& out) {
  autograd::NoGradGuard no_grad;
  const int64_t N = test.size(), per = test.inputs.numel() / N, chunk = 256;
  int64_t correct = 0, differ = 0;
  for (int64_t start = 0; start < N; start += chunk) {
    const int64_t n = std::min(chunk, N - start);
    Shape shape = test.inputs.shape();
    shape[0] = n;
    Tensor x = Tensor::empty(shape);
    for (int64_t i = 0; i < n * per; ++i) x[i] = test.inputs[start * per + i];
    const std::vector<int> got = train::argmax_rows(lmu::run_int8(q, x));
    const std::vector<int> want = train::argmax_rows(model.forward(autograd::Var(x)).value());
    for (int64_t i = 0; i < n; ++i) {
      correct += got[i] == test.labels[start + i];
      differ += got[i] != want[i];
    }
  }
  out["int8_runtime_accuracy"] = static_cast<double>(correct) / static_cast<double>(N);
  out["int8_runtime_predictions_differing"] = differ;
}

}  // namespace

void add_compress_l2mu(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, data_dir, out;
    double prune = 0.5, lr = 0;
    int epochs = -1, window = 40, repeats = 200;
    bool no_int8 = false;
    std::string int8_out;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("compress-l2mu", "prune, fine-tune and int8-quantize a trained L2MU");
  cmd->add_option("model", opt->model, "model.safetensors of an L2MU written by frugal train")->required();
  cmd->add_option("--data-dir", opt->data_dir, "where the dataset is read from");
  cmd->add_option("--prune", opt->prune, "fraction of each weight matrix set to zero (default 0.5)");
  cmd->add_option("--finetune-epochs", opt->epochs, "masked fine-tuning epochs after pruning (default: the training config's epochs)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--lr", opt->lr, "fine-tuning learning rate (default: the training config's optimizer.lr)")->check(CLI::PositiveNumber);
  cmd->add_flag("--no-int8", opt->no_int8, "keep float32 weights");
  cmd->add_option("--window", opt->window, "steps of the window the latency is timed on (default 40)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--int8-out", opt->int8_out, "also write the deployable int8 file and check its integer runtime on the test set");
  cmd->add_option("--out", opt->out, "write the compressed model here (weights as their dequantized values)");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    nn::SavedModel saved = nn::load_model(opt->model);
    auto* seq = dynamic_cast<nn::Sequential*>(saved.model.get());
    lmu::L2mu* model = seq && seq->layers.size() == 1 ? dynamic_cast<lmu::L2mu*>(seq->layers[0].get()) : nullptr;
    require(model != nullptr, opt->model + ": compress-l2mu needs a model whose only layer is an l2mu");
    const Json& cfg = saved.config;
    const std::string dataset = cfg.value("dataset", std::string());
    const std::string dir = !opt->data_dir.empty() ? opt->data_dir : cfg.value("data_dir", std::string());
    const data::Dataset train = train::load_dataset(dataset, dir, true, 0);
    const data::Dataset test = train::load_dataset(dataset, dir, false, 0);
    const int eval_batch = 256;
    model->set_training(false);
    auto forward = [model](const Tensor& x) { model->forward(autograd::Var(x)); };

    Json out;
    out["model"] = opt->model;
    out["model_file_bytes"] = std::filesystem::file_size(opt->model);
    out["fp32_accuracy"] = lmu::accuracy(*model, test, eval_batch);
    out["fp32_latency_us_p50"] = latency_us_p50(forward, test, opt->window, opt->repeats);
    std::vector<lmu::PruneMask> masks = lmu::magnitude_prune(*model, opt->prune);
    out["pruned_accuracy"] = lmu::accuracy(*model, test, eval_batch);
    lmu::FineTuneOptions ft;
    // By default fine-tuning repeats the training schedule: its epochs, batch size and learning rate.
    ft.epochs = opt->epochs >= 0 ? opt->epochs : cfg.value("epochs", 40);
    ft.batch_size = cfg.value("batch_size", 8);
    ft.lr = opt->lr > 0 ? opt->lr : (cfg.contains("optimizer") ? cfg["optimizer"].value("lr", 1e-3) : 1e-3);
    ft.seed = cfg.value("seed", uint64_t{42});
    lmu::fine_tune(*model, train, masks, ft);
    out["finetuned_accuracy"] = lmu::accuracy(*model, test, eval_batch);
    if (!opt->no_int8) {
      lmu::quantize_int8(*model);
      out["test_accuracy"] = lmu::accuracy(*model, test, eval_batch);
    } else {
      out["test_accuracy"] = out["finetuned_accuracy"];
    }
    out["prune"] = opt->prune;
    out["int8"] = !opt->no_int8;
    out["model_bytes"] = lmu::int8_model_bytes(*model, false);
    out["model_bytes_sparse"] = lmu::int8_model_bytes(*model, true);
    out["window_steps"] = opt->window;
    out["latency_us_p50"] = latency_us_p50(forward, test, opt->window, opt->repeats);
    if (!opt->out.empty()) nn::save_model(opt->out, *saved.model, saved.config);
    if (!opt->int8_out.empty()) {
      require(!opt->no_int8, "compress-l2mu: --int8-out needs the int8 step (drop --no-int8)");
      const lmu::Int8L2mu q = lmu::export_int8(*model);
      lmu::write_int8_l2mu(opt->int8_out, q);
      const lmu::Int8L2mu loaded = lmu::read_int8_l2mu(opt->int8_out);
      out["int8_file"] = opt->int8_out;
      out["int8_file_bytes"] = std::filesystem::file_size(opt->int8_out);
      check_int8_runtime(*model, loaded, test, out);
      out["int8_runtime_latency_us_p50"] =
          latency_us_p50([&loaded](const Tensor& x) { lmu::run_int8(loaded, x); }, test, opt->window, opt->repeats);
      log(opt->int8_out + ": " + out["int8_file_bytes"].dump() + " bytes; integer runtime accuracy " +
          out["int8_runtime_accuracy"].dump() + " (" + out["int8_runtime_predictions_differing"].dump() +
          " predictions differ from the float pass), batch-1 latency " + out["int8_runtime_latency_us_p50"].dump() + " us");
    }
    log(opt->model + ": accuracy fp32 " + out["fp32_accuracy"].dump() + ", pruned " + out["pruned_accuracy"].dump() +
        ", fine-tuned " + out["finetuned_accuracy"].dump() + ", final " + out["test_accuracy"].dump() + "; " +
        out["model_bytes"].dump() + " bytes int8 (" + out["model_bytes_sparse"].dump() + " sparse); batch-1 latency " +
        out["latency_us_p50"].dump() + " us per " + std::to_string(opt->window) + "-step window");
    emit_json(opt->common, out);
  });
}

void add_run_l2mu_int8(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, input, output;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("run-l2mu-int8", "run a deployable int8 L2MU on a .npy array of [N, T, C] inputs");
  cmd->add_option("model", opt->model, "int8 L2MU file written by compress-l2mu --int8-out")->required();
  cmd->add_option("--input", opt->input, "input array [N, T, C] (.npy)")->required();
  cmd->add_option("--output", opt->output, "output spike counts [N, classes] to write (.npy)")->required();
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    const lmu::Int8L2mu q = lmu::read_int8_l2mu(opt->model);
    const Tensor x = io::read_npy(opt->input);
    const Tensor y = lmu::run_int8(q, x);
    io::write_npy(opt->output, y);
    log(opt->input + " " + shape_str(x.shape()) + " -> " + opt->output + " " + shape_str(y.shape()));
    emit_json(opt->common, {{"output", opt->output}, {"input_shape", x.shape()}, {"output_shape", y.shape()},
                            {"model_bytes", std::filesystem::file_size(opt->model)}});
  });
}

}  // namespace frugal::cli
