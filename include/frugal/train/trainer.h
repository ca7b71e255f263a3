// The training loop shared by every classification task: seeded data order, forward, loss,
// backward, optimizer step, progress on the terminal (plain log lines otherwise), checkpoints
// written atomically, bit-exact --resume, Ctrl-C / SIGTERM save and stop, and a run folder with
// metrics.json, model.safetensors, train.log and curves.png.
#pragma once
#include <string>

#include "frugal/data/dataset.h"
#include "frugal/nn/module.h"
#include "frugal/train/config.h"
#include "frugal/train/metrics.h"

namespace frugal::train {

struct TrainOptions {
  std::string out_dir;  // runs/<name> when empty
  bool resume = false;
};

// Trains as configured and returns the metrics also written to out_dir/metrics.json (dataset
// "brats" goes to run_segmentation_training, segmentation_trainer.h). Throws
// Error on bad config or data. If interrupted by SIGINT/SIGTERM, saves a checkpoint and returns
// metrics with "interrupted": true.
nn::Json run_training(const TrainConfig& config, const TrainOptions& options);

struct EvalResult {
  double accuracy = 0;
  double loss = 0;
  double seconds = 0;
  int64_t samples = 0;
  Confusion confusion{0};
};

// Evaluates without recording gradients, in batches, resetting stateful modules per batch.
EvalResult evaluate(nn::Module& model, const data::Dataset& dataset, int batch_size, const std::string& loss);

// The loss named in configs: cross_entropy on logits [N, classes], or the spiking losses ce_count
// (CE of spike counts), ce_mem (CE of a membrane readout) and mse_count (snnTorch mse_count_loss,
// which needs `sequence`, the spikes [T, N, classes] before the final count readout).
autograd::Var compute_loss(const std::string& name, const autograd::Var& output, const std::vector<int>& labels,
                           const autograd::Var& sequence = {});

// A model's output for a batch. When the model is a Sequential ending in a spiking readout,
// `sequence` is that readout's input and `logits` its output; otherwise only logits is set.
struct ModelOutput {
  autograd::Var logits;
  autograd::Var sequence;
};
ModelOutput run_model(nn::Module& model, const autograd::Var& x);

// Throws unless the loss is known and the model ends the way it needs (count readout for
// ce_count and mse_count, a membrane readout for ce_mem).
void check_loss_fits(const std::string& loss, nn::Module& model);

// Makes SIGINT/SIGTERM ask the running training to stop at the next batch. Call it before any
// other thread starts: it blocks both signals in the caller (new threads inherit that) and takes
// them on a thread of its own, so no signal ever interrupts a compute kernel.
void install_stop_handlers();
bool stop_requested();

}  // namespace frugal::train
