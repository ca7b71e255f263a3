// `frugal data phantom --out DIR [--cases N] [--size S] [--seed K]`: synthetic brain-tumour
// volumes in the BraTS layout (data/brats.h), the stand-in for BraTS that demos and tests train on.
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/data/brats.h"

namespace frugal::cli {

void add_data_phantom(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string out;
    int cases = 8;
    int64_t size = 48;
    uint64_t seed = 1;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* group = command_group(app, "data", "make or inspect datasets");
  CLI::App* cmd = group->add_subcommand("phantom", "write synthetic BraTS-layout cases (4 modalities + labels, NIfTI)");
  cmd->add_option("--out", opt->out, "folder to write (one sub-folder per case)")->required();
  cmd->add_option("--cases", opt->cases, "number of cases (default 8)")->check(CLI::Range(1, 10000));
  cmd->add_option("--size", opt->size, "edge of the cubic volumes in voxels (default 48)")->check(CLI::Range(8, 512));
  cmd->add_option("--seed", opt->seed, "first case's seed (default 1)");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    data::write_phantom_dataset(opt->out, opt->cases, opt->size, opt->seed);
    log(opt->out + ": " + std::to_string(opt->cases) + " phantom cases of " + std::to_string(opt->size) + "^3 voxels");
    emit_json(opt->common, {{"out", opt->out}, {"cases", opt->cases}, {"size", opt->size}});
  });
}

}  // namespace frugal::cli
