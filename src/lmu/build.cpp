#include "frugal/lmu/build.h"

#include "frugal/core/error.h"
#include "frugal/lmu/l2mu.h"
#include "frugal/lmu/lmu_cell.h"
#include "frugal/nn/builder.h"

namespace frugal::lmu {

namespace {

// A population table {beta, alpha, threshold}; missing keys keep `base`.
PopulationConfig read_population(nn::SpecReader& r, const std::string& key, const PopulationConfig& base) {
  if (!r.has(key)) return base;
  nn::SpecReader p(r.get_json(key), r.where() + "." + key);
  PopulationConfig c;
  c.beta = static_cast<float>(p.get_double("beta", base.beta));
  c.alpha = static_cast<float>(p.get_double("alpha", base.alpha));
  c.threshold = static_cast<float>(p.get_double("threshold", base.threshold));
  p.finish();
  return c;
}

}  // namespace

nn::ModulePtr try_build_lmu(const nn::Json& spec, Rng& rng, const std::string& where) {
  nn::SpecReader r(spec, where);
  const std::string type = r.get_string("type");
  nn::ModulePtr m;
  if (type == "lmu") {
    LmuCellConfig c;
    c.in = r.get_int("in");
    c.memory_d = r.get_int("memory_d", 1);
    c.order = r.get_int("order");
    c.theta = r.get_double("theta");
    c.hidden = r.get_int("hidden");
    c.hidden_to_memory = r.get_bool("hidden_to_memory", c.hidden_to_memory);
    c.memory_to_memory = r.get_bool("memory_to_memory", c.memory_to_memory);
    c.input_to_hidden = r.get_bool("input_to_hidden", c.input_to_hidden);
    c.hidden_recurrent = r.get_bool("hidden_recurrent", c.hidden_recurrent);
    c.trainable_theta = r.get_bool("trainable_theta", c.trainable_theta);
    c.discretizer = r.get_string("discretizer", c.discretizer);
    c.return_sequences = r.get_bool("return_sequences", c.return_sequences);
    c.batch_first = r.get_bool("batch_first", c.batch_first);
    m = std::make_unique<LmuCell>(c, rng);
  } else if (type == "l2mu") {
    L2muConfig c;
    c.in = r.get_int("in");
    c.memory_size = r.get_int("memory_size");
    c.order = r.get_int("order");
    c.theta = r.get_double("theta");
    c.hidden = r.get_int("hidden");
    c.out = r.get_int("out");
    c.neuron = r.get_string("neuron", c.neuron);
    c.encoder = r.get_string("encoder", c.encoder);
    c.encoder_population = r.get_int("encoder_population", c.encoder_population);
    c.encoder_hidden = r.get_int("encoder_hidden", c.encoder_hidden);
    // Shared neuron settings first, then per-population tables override them.
    PopulationConfig base;
    base.beta = static_cast<float>(r.get_double("beta", base.beta));
    base.alpha = static_cast<float>(r.get_double("alpha", base.alpha));
    base.threshold = static_cast<float>(r.get_double("threshold", base.threshold));
    c.pop_u = read_population(r, "u", base);
    c.pop_m = read_population(r, "m", base);
    c.pop_h = read_population(r, "h", base);
    c.pop_out = read_population(r, "output", base);
    c.pop_enc = read_population(r, "enc", base);
    c.learn_beta = r.get_bool("learn_beta", c.learn_beta);
    c.learn_threshold = r.get_bool("learn_threshold", c.learn_threshold);
    c.trainable_theta = r.get_bool("trainable_theta", c.trainable_theta);
    c.discretizer = r.get_string("discretizer", c.discretizer);
    c.transpose_a = r.get_bool("transpose_a", c.transpose_a);
    c.reset = r.get_string("reset", c.reset);
    c.surrogate = r.get_string("surrogate", c.surrogate);
    c.surrogate_param = static_cast<float>(r.get_double("surrogate_param", c.surrogate_param));
    c.readout = r.get_string("readout", c.readout);
    c.batch_first = r.get_bool("batch_first", c.batch_first);
    try {
      m = std::make_unique<L2mu>(c, rng);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  } else {
    return nullptr;
  }
  r.finish();
  return m;
}

void register_layers() { nn::add_module_builder(try_build_lmu); }

}  // namespace frugal::lmu
