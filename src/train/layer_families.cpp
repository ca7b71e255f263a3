#include "frugal/train/layer_families.h"

#include "frugal/lmu/build.h"
#include "frugal/snn/layers.h"
#include "frugal/sparse/nm_layers.h"

namespace frugal::train {

void register_layer_families() {
  sparse::register_layers();
  lmu::register_layers();
  snn::register_layers();
}

}  // namespace frugal::train
