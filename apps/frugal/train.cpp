// `frugal train CONFIG.toml [--set key=value]... [--out DIR] [--resume] [--json]`
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/train/config.h"
#include "frugal/train/trainer.h"

namespace frugal::cli {

void add_train(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string config, out, data_dir;
    std::vector<std::string> sets;
    bool resume = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("train", "train a model from a TOML config");
  cmd->add_option("config", opt->config, "the run's TOML config")->required();
  cmd->add_option("--set", opt->sets, "override a config key: --set epochs=3 --set optimizer.lr=1e-3");
  cmd->add_option("--out", opt->out, "run folder (default runs/<name>)");
  cmd->add_option("--data-dir", opt->data_dir, "where the dataset is read from");
  cmd->add_flag("--resume", opt->resume, "continue from the run folder's last checkpoint");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    Json raw = train::load_config(opt->config, opt->sets);
    if (!opt->data_dir.empty()) raw["data_dir"] = opt->data_dir;
    if (opt->common.threads > 0) raw["threads"] = opt->common.threads;
    train::TrainConfig config = train::parse_train_config(raw, opt->config);
    train::install_stop_handlers();
    Json metrics = train::run_training(config, {opt->out, opt->resume});
    emit_json(opt->common, metrics);
    if (metrics.value("interrupted", false)) set_exit_code(130);
  });
}

}  // namespace frugal::cli
