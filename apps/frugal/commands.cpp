#include "commands.h"

namespace frugal::cli {

namespace {
int g_exit_code = 0;
}

void add_commands(CLI::App& app) {
  add_train(app);
  add_eval(app);
  add_info(app);
  add_hardwire(app);
  add_cost(app);
}

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

}  // namespace frugal::cli
