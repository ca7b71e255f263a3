// Builds the lmu family's modules ("lmu", "l2mu") from their JSON specs, for nn/builder.h.
#pragma once
#include <string>

#include "frugal/core/rng.h"
#include "frugal/nn/module.h"

namespace frugal::lmu {

// nullptr when the spec's type is not one of this family's.
nn::ModulePtr try_build_lmu(const nn::Json& spec, Rng& rng, const std::string& where);

// Makes nn::build_module know "lmu" and "l2mu" (nn sits below lmu, so lmu registers itself).
void register_layers();

}  // namespace frugal::lmu
