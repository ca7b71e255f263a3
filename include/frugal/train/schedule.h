// Learning-rate schedules, evaluated per optimizer step: none, step decay (gamma every
// step_epochs) and cosine annealing to min_lr over the whole run (Loshchilov & Hutter 2017).
#pragma once
#include <cstdint>
#include <string>

namespace frugal::train {

struct ScheduleConfig {
  std::string type = "none";  // none | step | cosine
  int step_epochs = 1;
  double gamma = 0.1;
  double min_lr = 0;
  int warmup_steps = 0;
};

double learning_rate(const ScheduleConfig& s, double base_lr, int64_t step, int64_t steps_per_epoch,
                     int64_t total_steps);

}  // namespace frugal::train
