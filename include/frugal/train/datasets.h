// Datasets by the names configs use ("fashion-mnist", ...), so a TOML file or a saved model can
// say what it trains and is evaluated on. Each family of loaders lives in src/data.
#pragma once
#include <string>

#include "frugal/data/dataset.h"

namespace frugal::train {

// dir empty: the dataset's default location. limit 0: all samples.
data::Dataset load_dataset(const std::string& name, const std::string& dir, bool train, int64_t limit);

}  // namespace frugal::train
