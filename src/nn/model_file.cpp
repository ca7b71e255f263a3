#include "frugal/nn/model_file.h"

#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/io/safetensors.h"
#include "frugal/nn/builder.h"

namespace frugal::nn {

void save_model(const std::string& path, Module& model, const Json& config,
                const std::map<std::string, std::string>& extra) {
  io::SafetensorsFile file;
  for (Param& p : model.parameters()) file.tensors.push_back({p.name, p.var.value()});
  for (Buffer& b : model.buffers()) file.tensors.push_back({b.name, *b.tensor});
  file.metadata = extra;
  file.metadata["format"] = "frugal";
  file.metadata["frugal_model"] = model.spec().dump();
  file.metadata["frugal_config"] = config.dump();
  io::write_safetensors(path, file);
}

SavedModel load_model(const std::string& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  auto spec_it = file.metadata.find("frugal_model");
  require(spec_it != file.metadata.end(), path + ": no 'frugal_model' entry in the safetensors metadata (not a frugal model)");
  SavedModel saved;
  Json spec;
  try {
    spec = Json::parse(spec_it->second);
    auto cfg = file.metadata.find("frugal_config");
    if (cfg != file.metadata.end()) saved.config = Json::parse(cfg->second);
  } catch (const Json::exception& e) {
    throw Error(path + ": metadata 'frugal_model' is not valid JSON: " + e.what());
  }
  Rng rng(0);
  try {
    saved.model = build_module(spec, rng, "model");
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  std::map<std::string, Tensor*> slots;
  for (Param& p : saved.model->parameters()) slots[p.name] = &p.var.value();
  for (Buffer& b : saved.model->buffers()) slots[b.name] = b.tensor;
  for (auto& [name, tensor] : file.tensors) {
    auto it = slots.find(name);
    if (it == slots.end()) continue;
    require(it->second->shape() == tensor.shape(), path + ": tensor '" + name + "' has shape " +
                                                       shape_str(tensor.shape()) + ", the model expects " +
                                                       shape_str(it->second->shape()));
    it->second->copy_from(tensor);
    slots.erase(it);
  }
  require(slots.empty(), path + ": missing tensor '" + (slots.empty() ? "" : slots.begin()->first) + "'");
  for (auto& [k, v] : file.metadata)
    if (k != "frugal_model" && k != "frugal_config") saved.extra[k] = v;
  return saved;
}

}  // namespace frugal::nn
