// A model on disk: one safetensors file whose tensors are the parameters and buffers (by their
// names in the module tree) and whose metadata holds the model spec ("frugal_model": the JSON
// from Module::spec()) and the training config ("frugal_config"), so loading needs nothing else.
#pragma once
#include <map>
#include <string>

#include "frugal/nn/module.h"

namespace frugal::nn {

struct SavedModel {
  ModulePtr model;
  Json config;                                 // the run's config (may be empty)
  std::map<std::string, std::string> extra;    // other metadata strings
};

// Atomic: temp file, fsync, rename. `extra` metadata strings are stored beside the spec.
void save_model(const std::string& path, Module& model, const Json& config,
                const std::map<std::string, std::string>& extra = {});
SavedModel load_model(const std::string& path);

}  // namespace frugal::nn
