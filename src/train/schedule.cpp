#include "frugal/train/schedule.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::train {

double learning_rate(const ScheduleConfig& s, double base_lr, int64_t step, int64_t steps_per_epoch,
                     int64_t total_steps) {
  if (s.warmup_steps > 0 && step < s.warmup_steps) return base_lr * static_cast<double>(step + 1) / s.warmup_steps;
  if (s.type == "none") return base_lr;
  if (s.type == "step") {
    int64_t epoch = steps_per_epoch > 0 ? step / steps_per_epoch : 0;
    return base_lr * std::pow(s.gamma, static_cast<double>(epoch / s.step_epochs));
  }
  if (s.type == "cosine") {
    double progress = total_steps > 0 ? static_cast<double>(step) / static_cast<double>(total_steps) : 0.0;
    return s.min_lr + 0.5 * (base_lr - s.min_lr) * (1 + std::cos(M_PI * progress));
  }
  throw Error("schedule.type: expected none, step or cosine, got '" + s.type + "'");
}

}  // namespace frugal::train
