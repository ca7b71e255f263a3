// `frugal eval MODEL [--data-dir DIR] [--test-limit N] [--energy] [--quantize FORMAT] [--plot DIR] [--json]`:
// accuracy of a saved model on the test split of the dataset its config names; with --energy also
// the per-layer operation and energy counts (energy/energy.h), printed as a table, in --json output
// and merged into the run folder's metrics.json when the model sits next to one; with --quantize
// also the accuracy of its integer-exact hardwire reference in that format (quantized_model.h); with
// --plot a spike raster and membrane traces of one test sample as PNG (plot/spike_plot.h).
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/data/dataset.h"
#include "frugal/energy/energy.h"
#include "frugal/io/atomic_file.h"
#include "frugal/nn/model_file.h"
#include "frugal/plot/spike_plot.h"
#include "frugal/train/datasets.h"
#include "frugal/train/trainer.h"
#include "quantized_model.h"

namespace frugal::cli {

namespace {
Json write_plots(nn::Module& model, const data::Dataset& test, int64_t sample, const std::string& dir) {
  require(sample < test.size(), "--plot-sample: " + std::to_string(sample) + " is past the " +
                                    std::to_string(test.size()) + " test samples");
  std::vector<int64_t> order = {sample};
  data::Batch b = data::make_batch(test, order, 0, 1);
  std::vector<snn::LayerTrace> traces = snn::record_traces(model, b.x);
  std::filesystem::create_directories(dir);
  const std::string raster = (std::filesystem::path(dir) / "raster.png").string();
  const std::string membranes = (std::filesystem::path(dir) / "membranes.png").string();
  plot::Raster r = plot::draw_raster(traces);
  plot::write_png(raster, r.image);
  plot::write_png(membranes, plot::draw_membranes(traces));
  log("spike raster of test sample " + std::to_string(sample) + " written to " + raster + ", membranes to " + membranes);
  Json layers = Json::array();
  for (size_t i = 0; i < traces.size(); ++i) {
    int64_t spikes = 0;
    for (float s : traces[i].spikes) spikes += s != 0.0f;
    layers.push_back({{"name", traces[i].name}, {"steps", traces[i].steps}, {"neurons", traces[i].neurons},
                      {"raster_top", r.top[i]}, {"raster_rows", r.rows[i]}, {"spikes", spikes}});
  }
  return {{"sample", sample}, {"label", b.y[0]}, {"raster", raster}, {"membranes", membranes},
          {"raster_step_width", r.step_width}, {"layers", layers}};
}
}  // namespace

void add_eval(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, data_dir, dataset, quantize, plot_dir;
    int64_t test_limit = -1, plot_sample = 0;
    int batch_size = 1000;
    bool energy = false;
    energy::EnergyModel em;
    int64_t calibrate = 1000;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a saved model on its test set");
  cmd->add_option("model", opt->model, "model.safetensors written by frugal")->required();
  cmd->add_option("--data-dir", opt->data_dir, "where the dataset is read from");
  cmd->add_option("--data", opt->dataset, "dataset name (default: the one in the model's config)");
  cmd->add_option("--test-limit", opt->test_limit, "evaluate the first N test samples (default: the config's)");
  cmd->add_option("--batch-size", opt->batch_size, "evaluation batch size")->check(CLI::PositiveNumber);
  cmd->add_flag("--energy", opt->energy, "count MACs, SOPs, firing rates, bytes and energy per layer");
  cmd->add_option("--pj-mac", opt->em.pj_per_mac, "energy per multiply-accumulate in pJ (default 4.6, 45 nm)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--pj-ac", opt->em.pj_per_ac, "energy per accumulate (synaptic op) in pJ (default 0.9, 45 nm)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--quantize", opt->quantize, "also report the integer reference's accuracy: fp4, int4, int8, mxfp4");
  cmd->add_option("--calibrate", opt->calibrate, "training samples that calibrate --quantize's activation scales")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--plot", opt->plot_dir, "write raster.png and membranes.png of one test sample to this folder");
  cmd->add_option("--plot-sample", opt->plot_sample, "index of the test sample --plot draws (default 0)")
      ->check(CLI::NonNegativeNumber);
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    nn::SavedModel saved = nn::load_model(opt->model);
    const Json& cfg = saved.config;
    std::string dataset = !opt->dataset.empty() ? opt->dataset : cfg.value("dataset", std::string("fashion-mnist"));
    std::string dir = !opt->data_dir.empty() ? opt->data_dir : cfg.value("data_dir", std::string());
    int64_t limit = opt->test_limit >= 0 ? opt->test_limit : cfg.value("test_limit", int64_t{0});
    std::string loss = cfg.value("loss", std::string("cross_entropy"));
    data::Dataset test = train::load_dataset(dataset, dir, false, limit);
    reset_peak_bytes();
    train::EvalResult r = train::evaluate(*saved.model, test, opt->batch_size, loss);
    log(opt->model + ": test accuracy " + std::to_string(r.accuracy) + " on " + std::to_string(r.samples) +
        " samples of " + dataset + " (" + std::to_string(r.seconds) + " s)");
    Json out;
    out["model"] = opt->model;
    out["dataset"] = dataset;
    out["test_accuracy"] = r.accuracy;
    out["test_loss"] = r.loss;
    out["samples"] = r.samples;
    out["samples_per_s"] = r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0.0;
    out["peak_bytes"] = peak_bytes();
    out["confusion"] = r.confusion.counts;
    if (opt->energy) {
      energy::EnergyCounter counter(*saved.model, opt->em);
      std::vector<int64_t> order(static_cast<size_t>(test.size()));
      for (int64_t i = 0; i < test.size(); ++i) order[static_cast<size_t>(i)] = i;
      for (int64_t s = 0; s < test.size(); s += opt->batch_size) {
        int64_t count = std::min<int64_t>(opt->batch_size, test.size() - s);
        counter.add_batch(data::make_batch(test, order, s, count).x);
      }
      energy::EnergyReport report = counter.report();
      log(energy::format_table(report));
      out["energy"] = energy::to_json(report);
      std::filesystem::path metrics = std::filesystem::path(opt->model).parent_path() / "metrics.json";
      if (std::filesystem::exists(metrics)) {
        std::ifstream in(metrics);
        Json m;
        try {
          m = Json::parse(in);
        } catch (const Json::exception& e) {
          throw Error(metrics.string() + ": not valid JSON: " + e.what());
        }
        m["energy"] = out["energy"];
        io::write_file_atomic(metrics.string(), m.dump(2) + "\n");
        log("energy written to " + metrics.string());
      }
    }
    if (!opt->quantize.empty()) {
      hardwire::WeightFormat format = hardwire::parse_weight_format(opt->quantize);
      QuantizedAccuracy q = quantized_accuracy(quantize_saved_model(saved, format, dataset, dir, opt->calibrate), test);
      log(opt->quantize + " integer reference: test accuracy " + std::to_string(q.reference_accuracy));
      out["format"] = opt->quantize;
      out["reference_accuracy"] = q.reference_accuracy;
    }
    if (!opt->plot_dir.empty()) out["plot"] = write_plots(*saved.model, test, opt->plot_sample, opt->plot_dir);
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
