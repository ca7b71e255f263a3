#include "commands.h"

#include "frugal/train/layer_families.h"

namespace frugal::cli {

namespace {
int g_exit_code = 0;
}

void add_run_l2mu_int8(CLI::App& app);  // apps/frugal/compress_l2mu.cpp

void add_commands(CLI::App& app) {
  // Saved models and configs may name any family's layer types (nm_linear, l2mu, ...).
  train::register_layer_families();
  add_train(app);
  add_eval(app);
  add_info(app);
  add_import(app);
  add_export(app);
  add_run(app);
  add_data_phantom(app);
  add_bench_memory(app);
  add_bench_lif(app);
  add_bench_nm(app);
  add_hardwire(app);
  add_convert(app);
  add_compress_l2mu(app);
  add_run_l2mu_int8(app);
}

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

}  // namespace frugal::cli
