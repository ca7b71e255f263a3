#include "frugal/train/trainer.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "frugal/autograd/ops.h"
#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/io/atomic_file.h"
#include "frugal/io/safetensors.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/layers.h"
#include "frugal/nn/model_file.h"
#include "frugal/snn/layers.h"
#include "frugal/sparse/nm_layers.h"
#include "frugal/train/datasets.h"
#include "frugal/train/layer_families.h"
#include "frugal/train/progress.h"
#include "frugal/train/segmentation_trainer.h"

namespace frugal::train {

namespace {

std::atomic<bool> g_stop{false};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The data order of an epoch depends only on the seed and the epoch, so a resumed run replays it.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int epoch) {
  Rng rng(seed * 1000003ull + static_cast<uint64_t>(epoch) + 1);
  return data::shuffled_order(n, rng);
}

struct Position {
  int epoch = 0;
  int64_t batch = 0;  // next batch to run within the epoch
};

struct History {
  std::vector<double> epoch_loss, epoch_train_acc, epoch_val_acc;
};

std::string join(const std::vector<double>& v) {
  nn::Json j = v;
  return j.dump();
}

std::vector<double> split(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return {};
  return nn::Json::parse(it->second).get<std::vector<double>>();
}

void save_checkpoint(const std::string& path, nn::Module& model, Optimizer& opt, const TrainConfig& c,
                     const Position& pos, const History& h) {
  io::SafetensorsFile file;
  for (nn::Param& p : model.parameters()) file.tensors.push_back({"model." + p.name, p.var.value()});
  for (nn::Buffer& b : model.buffers()) file.tensors.push_back({"model." + b.name, *b.tensor});
  for (nn::Buffer& b : opt.state()) file.tensors.push_back({"optim." + b.name, *b.tensor});
  file.metadata["frugal_model"] = model.spec().dump();
  file.metadata["frugal_config"] = c.raw.dump();
  file.metadata["epoch"] = std::to_string(pos.epoch);
  file.metadata["batch"] = std::to_string(pos.batch);
  file.metadata["optimizer_steps"] = std::to_string(opt.steps);
  file.metadata["epoch_loss"] = join(h.epoch_loss);
  file.metadata["epoch_train_acc"] = join(h.epoch_train_acc);
  file.metadata["epoch_val_acc"] = join(h.epoch_val_acc);
  io::write_safetensors(path, file);
}

void load_checkpoint(const std::string& path, nn::Module& model, Optimizer& opt, Position& pos, History& h) {
  io::SafetensorsFile file = io::read_safetensors(path);
  std::map<std::string, Tensor*> slots;
  for (nn::Param& p : model.parameters()) slots["model." + p.name] = &p.var.value();
  for (nn::Buffer& b : model.buffers()) slots["model." + b.name] = b.tensor;
  for (nn::Buffer& b : opt.state()) slots["optim." + b.name] = b.tensor;
  for (auto& [name, t] : file.tensors) {
    auto it = slots.find(name);
    require(it != slots.end(), path + ": checkpoint tensor '" + name + "' does not belong to this model (config changed?)");
    require(it->second->shape() == t.shape(), path + ": checkpoint tensor '" + name + "' has shape " + shape_str(t.shape()));
    it->second->copy_from(t);
    slots.erase(it);
  }
  require(slots.empty(), path + ": checkpoint lacks tensor '" + (slots.empty() ? "" : slots.begin()->first) + "'");
  try {
    pos.epoch = std::stoi(file.metadata.at("epoch"));
    pos.batch = std::stoll(file.metadata.at("batch"));
    opt.steps = std::stoll(file.metadata.at("optimizer_steps"));
    h.epoch_loss = split(file.metadata, "epoch_loss");
    h.epoch_train_acc = split(file.metadata, "epoch_train_acc");
    h.epoch_val_acc = split(file.metadata, "epoch_val_acc");
  } catch (const std::exception&) {
    throw Error(path + ": checkpoint metadata (epoch, batch, optimizer_steps) missing or malformed");
  }
}

// Names the first parameter whose gradient holds NaN or Inf, or returns "".
std::string nonfinite_gradient(nn::Module& model) {
  for (nn::Param& p : model.parameters()) {
    const Tensor& g = p.var.grad();
    if (!g.defined()) continue;
    float sum = 0;
    for (int64_t i = 0; i < g.numel(); ++i) sum += g[i] * 0.0f;
    if (!std::isfinite(sum)) return p.name;
  }
  return "";
}

void write_curves(const std::string& dir, const History& h) {
  std::string dat = dir + "/curves.dat";
  std::ofstream out(dat);
  out << "# epoch train_loss train_acc val_acc\n";
  for (size_t e = 0; e < h.epoch_loss.size(); ++e)
    out << e + 1 << " " << h.epoch_loss[e] << " " << h.epoch_train_acc[e] << " "
        << (e < h.epoch_val_acc.size() ? h.epoch_val_acc[e] : NAN) << "\n";
  out.close();
  std::string script = dir + "/curves.gp";
  std::ofstream gp(script);
  gp << "set terminal pngcairo size 900,400 noenhanced\nset output '" << dir << "/curves.png'\n"
     << "set multiplot layout 1,2\nset xlabel 'epoch'\nset title 'train loss'\n"
     << "plot '" << dat << "' using 1:2 with linespoints title 'loss'\n"
     << "set title 'accuracy'\nset yrange [0:1]\n"
     << "plot '" << dat << "' using 1:3 with linespoints title 'train', '' using 1:4 with linespoints title 'val'\n";
  gp.close();
  std::string cmd = "gnuplot '" + script + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) progress_log("curves.png not written: gnuplot unavailable or failed");
}

}  // namespace

// SIGINT and SIGTERM are never handled asynchronously: the kernel would push the handler's frame
// at the interrupted thread's stack pointer, and oneDNN 2.x's JIT sgemm kernels (Debian's
// libdnnl 2.6) point rsp into a heap workspace while they run, so a signal landing in a GEMM
// corrupted the heap ("corrupted size vs. prev_size"; oneDNN issue 4845, fixed upstream by
// PR 4855). Instead the signals stay blocked in every thread (threads started later,
// OpenMP's and oneDNN's, inherit the mask) and one thread takes them with sigwait.
void install_stop_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    require(rc == 0, "train: cannot block SIGINT/SIGTERM (pthread_sigmask error " + std::to_string(rc) + ")");
    std::thread([stop_signals] {
      int sig = 0;
      while (sigwait(&stop_signals, &sig) == 0) g_stop = true;
    }).detach();
  });
}

bool stop_requested() { return g_stop.load(); }

autograd::Var compute_loss(const std::string& name, const autograd::Var& output, const std::vector<int>& labels,
                           const autograd::Var& sequence) {
  // A count readout makes `output` the spike counts and a membrane readout the reduced membranes,
  // so snnTorch's ce_count_loss and ce_max_membrane_loss are the cross-entropy of `output`.
  if (name == "cross_entropy" || name == "ce_count" || name == "ce_mem")
    return autograd::softmax_cross_entropy(output, labels);
  if (name == "mse_count") {
    require(sequence.defined(), "loss mse_count: needs the output spike sequence (end the net in a count readout)");
    return snn::mse_count_loss(sequence, labels);
  }
  throw Error("loss: unknown loss '" + name + "' (known: cross_entropy, ce_count, ce_mem, mse_count)");
}

ModelOutput run_model(nn::Module& model, const autograd::Var& x) {
  auto* seq = dynamic_cast<nn::Sequential*>(&model);
  if (!seq || seq->layers.empty() || !dynamic_cast<snn::ReadoutLayer*>(seq->layers.back().get()))
    return {model.forward(x), {}};
  ModelOutput out;
  out.sequence = seq->forward_layers(x, seq->layers.size() - 1);
  out.logits = seq->layers.back()->forward(out.sequence);
  return out;
}

void check_loss_fits(const std::string& loss, nn::Module& model) {
  if (loss == "cross_entropy") return;
  auto* seq = dynamic_cast<nn::Sequential*>(&model);
  auto* last = seq && !seq->layers.empty() ? dynamic_cast<snn::ReadoutLayer*>(seq->layers.back().get()) : nullptr;
  bool count = last && last->how == snn::Readout::spike_count;
  if (loss == "ce_count" || loss == "mse_count")
    require(count, "loss " + loss + ": the last layer must be a readout with mode = \"count\"");
  else if (loss == "ce_mem")
    require(last && !count, "loss ce_mem: the last layer must be a membrane readout (mem_mean, mem_max, mem_last)");
  else
    throw Error("loss: unknown loss '" + loss + "' (known: cross_entropy, ce_count, ce_mem, mse_count)");
}

EvalResult evaluate(nn::Module& model, const data::Dataset& dataset, int batch_size, const std::string& loss) {
  check_loss_fits(loss, model);
  autograd::NoGradGuard no_grad;
  model.set_training(false);
  EvalResult r;
  r.confusion = Confusion(dataset.num_classes);
  std::vector<int64_t> order(static_cast<size_t>(dataset.size()));
  for (int64_t i = 0; i < dataset.size(); ++i) order[static_cast<size_t>(i)] = i;
  auto start = Clock::now();
  double loss_sum = 0;
  for (int64_t s = 0; s < dataset.size(); s += batch_size) {
    int64_t count = std::min<int64_t>(batch_size, dataset.size() - s);
    data::Batch b = data::make_batch(dataset, order, s, count);
    model.reset_state();
    ModelOutput mo = run_model(model, autograd::Var(b.x));
    const autograd::Var& out = mo.logits;
    require(out.value().rank() == 2 && out.value().dim(1) == dataset.num_classes,
            "evaluate: model output " + shape_str(out.shape()) + " does not match " +
                std::to_string(dataset.num_classes) + " classes");
    loss_sum += compute_loss(loss, out, b.y, mo.sequence).value()[0] * static_cast<double>(count);
    r.confusion.add(b.y, argmax_rows(out.value()));
  }
  r.seconds = seconds_since(start);
  r.samples = dataset.size();
  r.accuracy = r.confusion.accuracy();
  r.loss = dataset.size() ? loss_sum / static_cast<double>(dataset.size()) : 0;
  model.set_training(true);
  return r;
}

nn::Json run_training(const TrainConfig& c, const TrainOptions& options) {
  register_layer_families();
  if (c.dataset == "brats") return run_segmentation_training(c, options);
  set_num_threads(c.threads);
  std::string dir = options.out_dir.empty() ? "runs/" + c.name : options.out_dir;
  std::filesystem::create_directories(dir);
  ProgressLog log(dir + "/train.log", options.resume);

  data::Dataset full_train = load_dataset(c.dataset, c.data_dir, true, c.train_limit);
  data::Dataset test = load_dataset(c.dataset, c.data_dir, false, c.test_limit);
  data::Dataset train = full_train, val;
  if (c.val_fraction > 0) {
    data::Split s = data::split_train_val(full_train, c.val_fraction, c.seed);
    train = std::move(s.train);
    val = std::move(s.val);
  }
  require(train.size() > 0, "dataset '" + c.dataset + "': no training samples");
  log.line("run " + c.name + ": " + std::to_string(train.size()) + " training, " + std::to_string(val.size()) +
           " validation, " + std::to_string(test.size()) + " test samples of " + c.dataset + "; " +
           std::to_string(num_threads()) + " threads");

  Rng init_rng(c.seed);
  nn::ModulePtr model = nn::build_sequential(c.layers, init_rng);
  check_loss_fits(c.loss, *model);
  // N:M sparse training: sparse layers take over the dense layers' weights (the dense masters)
  // before the optimizer sees them.
  bool sparse_run = false;
  if (!c.sparsity.empty()) {
    sparse::NMConfig nm;
    nm.pattern = sparse::parse_nm(c.sparsity, "config: sparsity");
    nm.mode = sparse::parse_nm_mode(c.sparsity_mode, "config: sparsity_mode");
    nm.sr_ste_decay = static_cast<float>(c.sr_ste_decay);
    sparse_run = nm.mode != sparse::NMMode::dense;
    if (sparse_run)
      for (const std::string& line : sparse::sparsify(*model, nm)) log.line(line);
    else
      log.line("sparsity " + c.sparsity + " with sparsity_mode dense: every layer trains dense");
  }
  Optimizer opt(model->parameters(), c.optimizer);
  int64_t steps_per_epoch = (train.size() + c.batch_size - 1) / c.batch_size;
  int64_t total_steps = steps_per_epoch * c.epochs;

  Position pos;
  History hist;
  std::string ckpt = dir + "/checkpoint.safetensors";
  if (options.resume) {
    require(std::filesystem::exists(ckpt), ckpt + ": no checkpoint to resume from");
    load_checkpoint(ckpt, *model, opt, pos, hist);
    log.line("resumed from " + ckpt + " at epoch " + std::to_string(pos.epoch + 1) + ", batch " + std::to_string(pos.batch));
  }

  if (sparse_run) {
    // Offline scheduling: each sparse layer's kernel is chosen once, on the training batch shape.
    std::vector<int64_t> first(static_cast<size_t>(std::min<int64_t>(c.batch_size, train.size())));
    for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<int64_t>(i);
    Shape input_shape = data::make_batch(train, first, 0, static_cast<int64_t>(first.size())).x.shape();
    input_shape[0] = c.batch_size;
    for (const std::string& line : sparse::schedule(*model, input_shape)) log.line(line);
    sparse::prepare_all(*model);
  }

  reset_peak_bytes();
  auto train_start = Clock::now();
  double prepare_seconds = 0;
  int64_t samples_seen = 0;
  int64_t skipped = 0;
  bool interrupted = false;
  for (; pos.epoch < c.epochs && !interrupted; ++pos.epoch, pos.batch = 0) {
    std::vector<int64_t> order = epoch_order(train.size(), c.seed, pos.epoch);
    model->set_training(true);
    double loss_sum = 0;
    int64_t correct = 0, counted = 0;
    Progress bar(log, "epoch " + std::to_string(pos.epoch + 1) + "/" + std::to_string(c.epochs), steps_per_epoch,
                 pos.batch);
    for (; pos.batch < steps_per_epoch; ++pos.batch) {
      int64_t start = pos.batch * c.batch_size;
      int64_t count = std::min<int64_t>(c.batch_size, train.size() - start);
      data::Batch b = data::make_batch(train, order, start, count);
      model->reset_state();
      opt.zero_grad();
      ModelOutput mo = run_model(*model, autograd::Var(b.x));
      const autograd::Var& out = mo.logits;
      autograd::Var loss = compute_loss(c.loss, out, b.y, mo.sequence);
      float lv = loss.value()[0];
      if (!std::isfinite(lv)) {
        autograd::clear_tape();
        std::string where = "epoch " + std::to_string(pos.epoch + 1) + ", batch " + std::to_string(pos.batch + 1);
        if (!c.skip_nonfinite) throw Error("training stopped: loss is not finite (" + std::to_string(lv) + ") at " + where + " (set skip_nonfinite = true to skip such steps)");
        ++skipped;
        continue;
      }
      autograd::backward(loss);
      std::string bad = nonfinite_gradient(*model);
      if (!bad.empty()) {
        std::string where = "epoch " + std::to_string(pos.epoch + 1) + ", batch " + std::to_string(pos.batch + 1);
        if (!c.skip_nonfinite) throw Error("training stopped: gradient of layer parameter '" + bad + "' is not finite at " + where);
        ++skipped;
        continue;
      }
      opt.step(learning_rate(c.schedule, c.optimizer.lr, opt.steps, steps_per_epoch, total_steps));
      if (sparse_run) {
        // Both masked copies for the next step, made right after the weights change (SAT's
        // pre-generation), so the next forward and backward start from ready copies.
        auto t0 = Clock::now();
        sparse::prepare_all(*model);
        prepare_seconds += seconds_since(t0);
      }
      std::vector<int> pred = argmax_rows(out.value());
      for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == b.y[i];
      counted += count;
      loss_sum += lv * static_cast<double>(count);
      samples_seen += count;
      bar.update(pos.batch + 1, lv);
      if (stop_requested()) {
        ++pos.batch;
        interrupted = true;
        break;
      }
      if (c.checkpoint_every > 0 && (pos.batch + 1) % c.checkpoint_every == 0 && pos.batch + 1 < steps_per_epoch) {
        Position next{pos.epoch, pos.batch + 1};
        save_checkpoint(ckpt, *model, opt, c, next, hist);
      }
    }
    if (interrupted) break;
    bar.finish();
    hist.epoch_loss.push_back(counted ? loss_sum / static_cast<double>(counted) : NAN);
    hist.epoch_train_acc.push_back(counted ? static_cast<double>(correct) / static_cast<double>(counted) : NAN);
    std::string line = "epoch " + std::to_string(pos.epoch + 1) + ": train loss " + std::to_string(hist.epoch_loss.back()) +
                       ", train accuracy " + std::to_string(hist.epoch_train_acc.back());
    if (val.size() > 0) {
      EvalResult v = evaluate(*model, val, c.eval_batch_size, c.loss);
      hist.epoch_val_acc.push_back(v.accuracy);
      line += ", val accuracy " + std::to_string(v.accuracy);
    }
    log.line(line);
    save_checkpoint(ckpt, *model, opt, c, Position{pos.epoch + 1, 0}, hist);
  }
  double train_seconds = seconds_since(train_start);
  int64_t train_peak = peak_bytes();

  nn::Json m;
  m["name"] = c.name;
  m["dataset"] = c.dataset;
  m["threads"] = num_threads();
  m["epochs"] = c.epochs;
  m["train_seconds"] = train_seconds;
  m["train_samples_per_s"] = train_seconds > 0 ? static_cast<double>(samples_seen) / train_seconds : 0.0;
  m["peak_bytes"] = train_peak;
  m["max_rss_bytes"] = max_rss_bytes();
  m["skipped_steps"] = skipped;
  if (sparse_run) {
    m["sparsity"] = c.sparsity;
    m["sparsity_mode"] = c.sparsity_mode;
    m["sparse_prepare_seconds"] = prepare_seconds;
  }
  m["epoch_loss"] = hist.epoch_loss;
  m["epoch_train_accuracy"] = hist.epoch_train_acc;
  if (!hist.epoch_val_acc.empty()) m["epoch_val_accuracy"] = hist.epoch_val_acc;
  if (interrupted) {
    save_checkpoint(ckpt, *model, opt, c, pos, hist);
    log.line("interrupted: checkpoint saved to " + ckpt + "; continue with --resume");
    m["interrupted"] = true;
    return m;
  }
  if (sparse_run) {
    // The saved (and tested) network is the sparse one: W ⊙ mask_fw, exactly what the forward
    // pass used. The checkpoint above keeps the dense master weights for --resume.
    sparse::prune_to_masks(*model);
    for (const sparse::SparseLayerInfo& s : sparse::describe(*model))
      log.line("layer " + s.name + " " + s.type + " " + s.pattern + ": " + std::to_string(s.zero_fraction) +
               " of weights zero, " + std::to_string(s.packed_bytes) + " bytes packed (dense " +
               std::to_string(s.dense_bytes) + ")");
  }
  EvalResult t = evaluate(*model, test, c.eval_batch_size, c.loss);
  m["test_accuracy"] = t.accuracy;
  m["test_loss"] = t.loss;
  m["samples_per_s"] = t.seconds > 0 ? static_cast<double>(t.samples) / t.seconds : 0.0;
  m["confusion"] = t.confusion.counts;
  m["model"] = dir + "/model.safetensors";
  log.line("test accuracy " + std::to_string(t.accuracy) + " on " + std::to_string(t.samples) + " samples; " +
           std::to_string(train_seconds) + " s training");
  nn::save_model(dir + "/model.safetensors", *model, c.raw);
  io::write_file_atomic(dir + "/metrics.json", m.dump(2) + "\n");
  if (!hist.epoch_loss.empty()) write_curves(dir, hist);
  return m;
}

}  // namespace frugal::train
