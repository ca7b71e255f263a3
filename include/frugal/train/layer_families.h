// nn::build_module knows nn's own layers; the families above nn (sparse, lmu, snn, ...) register
// their builders so saved models and configs can name their layer types. train sits above them
// all, so this is where every family is registered, once, for the CLI, the trainer and tests.
#pragma once

namespace frugal::train {

void register_layer_families();

}  // namespace frugal::train
