// Volumetric segmentation training (see segmentation_trainer.h).
#include "frugal/train/segmentation_trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/data/brats.h"
#include "frugal/io/atomic_file.h"
#include "frugal/nn/model_file.h"
#include "frugal/rev/segmentation.h"
#include "frugal/rev/unet3d.h"
#include "frugal/train/progress.h"

namespace frugal::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Cases stacked into one batch [B, 4, D, H, W] and their labels in the same order.
struct SegBatch {
  Tensor x;
  std::vector<uint8_t> labels;
};

SegBatch stack(const std::vector<data::SegCase>& cases) {
  const Shape& s = cases.front().image.shape();
  int64_t per = cases.front().image.numel();
  SegBatch b{Tensor::empty({static_cast<int64_t>(cases.size()), s[0], s[1], s[2], s[3]}), {}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const Tensor& img = cases[i].image;
    for (int64_t j = 0; j < per; ++j) b.x[static_cast<int64_t>(i) * per + j] = img[j];
    b.labels.insert(b.labels.end(), cases[i].labels.begin(), cases[i].labels.end());
  }
  return b;
}

// The centred box whose edges are the largest multiples of `factor` that fit.
data::SegCase centre_crop(const data::SegCase& c, int64_t factor, const std::string& name) {
  const Shape& s = c.image.shape();
  int64_t d = s[1] / factor * factor, h = s[2] / factor * factor, w = s[3] / factor * factor;
  require(d > 0 && h > 0 && w > 0, name + ": volume " + shape_str(s) + " is smaller than the U-Net's downsampling factor " +
                                       std::to_string(factor));
  return data::crop_box(c, (s[1] - d) / 2, (s[2] - h) / 2, (s[3] - w) / 2, d, h, w);
}

struct Scores {
  double dice[rev::kRegions] = {0, 0, 0}, hd95[rev::kRegions] = {0, 0, 0};
  double loss = 0, accuracy = 0, seconds = 0;
};

Scores evaluate_volumes(rev::UNet3d& model, const std::vector<data::SegCase>& cases) {
  autograd::NoGradGuard no_grad;
  model.set_training(false);
  Scores out;
  int64_t correct = 0, voxels = 0;
  auto start = Clock::now();
  for (const data::SegCase& c : cases) {
    const Shape& s = c.image.shape();
    Tensor x = c.image.reshape({1, s[0], s[1], s[2], s[3]});
    autograd::Var logits = model.forward(autograd::Var(x));
    out.loss += rev::dice_ce_loss(logits, c.labels).value()[0];
    std::vector<uint8_t> predicted = rev::argmax_classes(logits.value(), 0);
    rev::RegionScores r = rev::score_volume(predicted, c.labels, s[1], s[2], s[3]);
    for (int k = 0; k < rev::kRegions; ++k) {
      out.dice[k] += r.dice[k];
      out.hd95[k] += r.hd95[k];
    }
    for (size_t v = 0; v < predicted.size(); ++v) correct += predicted[v] == c.labels[v];
    voxels += static_cast<int64_t>(predicted.size());
  }
  out.seconds = seconds_since(start);
  double n = static_cast<double>(cases.size());
  for (int k = 0; k < rev::kRegions; ++k) {
    out.dice[k] /= n;
    out.hd95[k] /= n;
  }
  out.loss /= n;
  out.accuracy = static_cast<double>(correct) / static_cast<double>(voxels);
  model.set_training(true);
  return out;
}

}  // namespace

nn::Json run_segmentation_training(const TrainConfig& c, const TrainOptions& options) {
  require(!options.resume, "--resume: segmentation runs do not write checkpoints yet; start the run again");
  require(!c.data_dir.empty(), c.source + ": data_dir: a BraTS-layout folder is needed (`frugal data phantom --out DIR` writes one)");
  set_num_threads(c.threads);
  std::string dir = options.out_dir.empty() ? "runs/" + c.name : options.out_dir;
  std::filesystem::create_directories(dir);
  ProgressLog log(dir + "/train.log", false);

  std::vector<std::string> folders = data::list_brats_cases(c.data_dir);
  require(folders.size() >= 2, c.data_dir + ": at least 2 case folders are needed (train and test), found " +
                                   std::to_string(folders.size()));
  size_t n_test = std::max<size_t>(1, folders.size() / 4), n_train = folders.size() - n_test;
  std::vector<std::string> test_folders(folders.begin() + static_cast<std::ptrdiff_t>(n_train), folders.end());
  folders.resize(n_train);
  if (c.train_limit > 0 && static_cast<size_t>(c.train_limit) < folders.size()) folders.resize(static_cast<size_t>(c.train_limit));
  if (c.test_limit > 0 && static_cast<size_t>(c.test_limit) < test_folders.size())
    test_folders.resize(static_cast<size_t>(c.test_limit));

  rev::UNet3dConfig net_config = rev::parse_unet3d_config(c.model, c.source + ": model");
  require(net_config.in_channels == 4 && net_config.classes == 4,
          c.source + ": model: BraTS data needs in_channels = 4 (flair, t1, t1ce, t2) and classes = 4");
  int64_t factor = int64_t{1} << (net_config.channels.size() - 1);
  require(c.crop % factor == 0, c.source + ": crop: " + std::to_string(c.crop) + " must be a multiple of the U-Net's downsampling factor " +
                                    std::to_string(factor));
  std::vector<data::SegCase> train_cases, test_cases;
  for (const std::string& f : folders) train_cases.push_back(data::read_brats_case(f));
  for (const std::string& f : test_folders) test_cases.push_back(centre_crop(data::read_brats_case(f), factor, f));
  if (c.crop == 0)
    for (size_t i = 0; i < train_cases.size(); ++i) train_cases[i] = centre_crop(train_cases[i], factor, folders[i]);
  log.line("run " + c.name + ": " + std::to_string(train_cases.size()) + " training, " +
           std::to_string(test_cases.size()) + " test cases from " + c.data_dir + "; " +
           (net_config.reversible ? "reversible" : "plain") + " U-Net; " + std::to_string(num_threads()) + " threads");

  Rng init_rng(c.seed);
  rev::UNet3d model(net_config, init_rng);
  Optimizer opt(model.parameters(), c.optimizer);
  int64_t n = static_cast<int64_t>(train_cases.size());
  int64_t steps_per_epoch = (n + c.batch_size - 1) / c.batch_size;
  int64_t total_steps = steps_per_epoch * c.epochs;
  Rng crop_rng(c.seed * 7919 + 1);

  reset_peak_bytes();
  auto train_start = Clock::now();
  int64_t crops_seen = 0;
  bool interrupted = false;
  std::vector<double> epoch_loss;
  for (int epoch = 0; epoch < c.epochs && !interrupted; ++epoch) {
    Rng order_rng(c.seed * 1000003ull + static_cast<uint64_t>(epoch) + 1);
    std::vector<int64_t> order = data::shuffled_order(n, order_rng);
    Progress bar(log, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs), steps_per_epoch, 0);
    double loss_sum = 0;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      std::vector<data::SegCase> crops;
      for (int64_t i = step * c.batch_size; i < std::min(n, (step + 1) * c.batch_size); ++i) {
        const data::SegCase& whole = train_cases[static_cast<size_t>(order[static_cast<size_t>(i)])];
        crops.push_back(c.crop > 0 ? data::random_crop(whole, c.crop, crop_rng) : whole);
      }
      SegBatch b = stack(crops);
      opt.zero_grad();
      autograd::Var loss = rev::dice_ce_loss(model.forward(autograd::Var(b.x)), b.labels);
      float lv = loss.value()[0];
      if (!std::isfinite(lv)) {
        autograd::clear_tape();
        throw Error("training stopped: loss is not finite (" + std::to_string(lv) + ") at epoch " +
                    std::to_string(epoch + 1) + ", step " + std::to_string(step + 1));
      }
      autograd::backward(loss);
      opt.step(learning_rate(c.schedule, c.optimizer.lr, opt.steps, steps_per_epoch, total_steps));
      loss_sum += lv;
      crops_seen += static_cast<int64_t>(crops.size());
      bar.update(step + 1, lv);
      if (stop_requested()) {
        interrupted = true;
        break;
      }
    }
    if (interrupted) break;
    bar.finish();
    epoch_loss.push_back(loss_sum / static_cast<double>(steps_per_epoch));
    log.line("epoch " + std::to_string(epoch + 1) + ": train loss " + std::to_string(epoch_loss.back()));
  }
  double train_seconds = seconds_since(train_start);
  int64_t train_peak = peak_bytes();

  nn::Json m;
  m["name"] = c.name;
  m["dataset"] = c.dataset;
  m["reversible"] = net_config.reversible;
  m["threads"] = num_threads();
  m["epochs"] = c.epochs;
  m["train_cases"] = train_cases.size();
  m["test_cases"] = test_cases.size();
  m["train_seconds"] = train_seconds;
  m["train_samples_per_s"] = train_seconds > 0 ? static_cast<double>(crops_seen) / train_seconds : 0.0;
  m["peak_bytes"] = train_peak;
  m["max_rss_bytes"] = max_rss_bytes();
  m["epoch_loss"] = epoch_loss;
  if (interrupted) {
    log.line("interrupted: no checkpoint for segmentation runs; metrics of the partial run only");
    m["interrupted"] = true;
    return m;
  }
  Scores s = evaluate_volumes(model, test_cases);
  nn::Json dice = nn::Json::object(), hd95 = nn::Json::object();
  double dice_mean = 0;
  std::string line = "test";
  for (int k = 0; k < rev::kRegions; ++k) {
    dice[rev::region_name(k)] = s.dice[k];
    hd95[rev::region_name(k)] = s.hd95[k];
    dice_mean += s.dice[k] / rev::kRegions;
    line += std::string(" ") + rev::region_name(k) + " Dice " + std::to_string(s.dice[k]) + " HD95 " +
            std::to_string(s.hd95[k]) + ";";
  }
  m["dice"] = dice;
  m["hd95"] = hd95;
  m["dice_mean"] = dice_mean;
  m["test_accuracy"] = s.accuracy;
  m["test_loss"] = s.loss;
  m["samples_per_s"] = s.seconds > 0 ? static_cast<double>(test_cases.size()) / s.seconds : 0.0;
  m["model"] = dir + "/model.safetensors";
  log.line(line + " " + std::to_string(train_seconds) + " s training, peak " +
           std::to_string(static_cast<double>(train_peak) / 1048576.0) + " MiB");
  nn::save_model(dir + "/model.safetensors", model, c.raw);
  io::write_file_atomic(dir + "/metrics.json", m.dump(2) + "\n");
  return m;
}

}  // namespace frugal::train
