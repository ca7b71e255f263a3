// The LLM-scale cost model (see cost_model.h). Formulas:
//   dies per wafer  = pi (d/2)^2 / A - pi d / sqrt(2 A)        (standard gross-die estimate)
//   Murphy yield    = ((1 - exp(-A D0)) / (A D0))^2
//   mask set        = 12 EUV x 6 + 58 DUV = 130 DUV units; Metal-Embedding makes the 10 embedding
//                     DUV masks per chip and the other 120 units once.
#include "frugal/hardwire/cost_model.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::hardwire {

std::vector<double> llm_parameters(const LlmArchitecture& m) {
  double attention = m.hidden * m.query_heads * m.head_dim * 2      // q and o projections
                     + m.hidden * m.kv_heads * m.head_dim * 2;      // k and v projections
  double expert = 3 * m.hidden * m.expert_intermediate;             // SwiGLU: gate, up, down
  double router = m.hidden * m.experts;
  double embed = m.vocabulary * m.hidden;                           // input embedding; unembedding the same
  double total = m.layers * (attention + m.experts * expert + router) + 2 * embed;
  double active = m.layers * (attention + m.experts_per_token * expert + router) + embed;  // unembedding
  return {total, active};
}

CostReport llm_cost(const CostInputs& in) {
  require(in.chips > 0 && in.die_mm2 > 0 && in.wafer_diameter_mm > 0 && in.system_power_w > 0 &&
              in.metal_embedding_block_area > 0 && in.defect_density_per_cm2 > 0 && in.h100_power_w > 0 &&
              in.wse3_power_w > 0,
          "hardwire cost: chips, die_mm2, wafer_diameter_mm, system_power_w, metal_embedding_block_area, "
          "defect_density_per_cm2 and the baselines' power must be positive");
  CostReport r;
  auto line = [&r](const std::string& key, double value, const std::string& unit, const std::string& source) {
    r.lines.push_back({key, unit, source, value});
  };
  const std::string derived = "derived";
  std::vector<double> p = llm_parameters(in.model);
  r.parameters = p[0];
  r.active_parameters = p[1];
  line("parameters", r.parameters, "weights", "derived from the architecture: " + in.model.source);
  line("active_parameters", r.active_parameters, "weights per token", "derived: attention, top-k experts, unembedding");

  auto src = [&in](const std::string& key) {
    auto it = in.source.find(key);
    return it == in.source.end() ? std::string("set by the caller") : it->second;
  };
  auto input = [&](const std::string& key, double value, const std::string& unit) { line(key, value, unit, src(key)); };
  double density_ratio = in.ce_block_area / in.metal_embedding_block_area;
  double design_low = in.design_architecture_usd_low + in.design_verification_usd_low +
                      in.design_physical_usd_low + in.design_ip_usd_low;
  double design_high = in.design_architecture_usd_high + in.design_verification_usd_high +
                       in.design_physical_usd_high + in.design_ip_usd_high;

  r.total_area_mm2 = in.chips * in.die_mm2;
  double r_mm = in.wafer_diameter_mm / 2;
  double inscribed = 2 * r_mm * r_mm;  // the square inscribed in the wafer circle
  r.wafer_fraction = r.total_area_mm2 / inscribed;
  input("chips", in.chips, "");
  input("die_mm2", in.die_mm2, "mm2");
  input("neuron_array_mm2", in.neuron_array_mm2, "mm2 per chip");
  line("total_area_mm2", r.total_area_mm2, "mm2", derived);
  line("wafer_fraction", r.wafer_fraction, "of the inscribed square of the wafer", derived);

  const double pi = 3.14159265358979323846;
  r.dies_per_wafer = std::floor(pi * r_mm * r_mm / in.die_mm2 - pi * in.wafer_diameter_mm / std::sqrt(2 * in.die_mm2));
  double ad = in.die_mm2 / 100 * in.defect_density_per_cm2;
  r.yield = std::pow((1 - std::exp(-ad)) / ad, 2);
  double good = r.dies_per_wafer * r.yield;
  r.cost_per_good_die_usd = in.wafer_usd / good;
  input("wafer_usd", in.wafer_usd, "USD");
  input("wafer_diameter_mm", in.wafer_diameter_mm, "mm");
  input("defect_density_per_cm2", in.defect_density_per_cm2, "1/cm2");
  line("dies_per_wafer", r.dies_per_wafer, "", "derived: gross-die formula");
  line("yield", r.yield, "", "derived: Murphy model");
  line("cost_per_good_die_usd", r.cost_per_good_die_usd, "USD", derived);

  double set_units = in.euv_masks * in.euv_weight_in_duv + in.duv_masks;
  double emb_share = in.embedding_masks / set_units, shared_share = 1 - emb_share;
  r.metal_embedding_mask_usd_low = in.mask_set_usd_low * (shared_share + in.chips * emb_share);
  r.metal_embedding_mask_usd_high = in.mask_set_usd_high * (shared_share + in.chips * emb_share);
  double naive_chips = in.chips * density_ratio;
  r.naive_mask_cost_usd = naive_chips * in.naive_mask_set_usd;
  r.shared_mask_saving = in.chips / (shared_share + in.chips * emb_share);
  r.mask_saving = density_ratio * r.shared_mask_saving;
  input("euv_masks", in.euv_masks, "masks");
  input("duv_masks", in.duv_masks, "masks");
  input("euv_weight_in_duv", in.euv_weight_in_duv, "DUV masks per EUV mask");
  input("embedding_masks", in.embedding_masks, "DUV masks per chip");
  line("mask_set_duv_units", set_units, "DUV-mask equivalents", "derived: EUV masks x weight + DUV masks");
  input("mask_set_usd_low", in.mask_set_usd_low, "USD");
  input("mask_set_usd_high", in.mask_set_usd_high, "USD");
  input("ce_block_area", in.ce_block_area, "relative to SRAM");
  input("metal_embedding_block_area", in.metal_embedding_block_area, "relative to SRAM");
  line("density_ratio", density_ratio, "cell / metal embedding", "derived: ce_block_area / metal_embedding_block_area");
  input("naive_mask_set_usd", in.naive_mask_set_usd, "USD");
  line("naive_chips", naive_chips, "", derived);
  line("naive_mask_cost_usd", r.naive_mask_cost_usd, "USD", derived);
  line("metal_embedding_mask_usd_low", r.metal_embedding_mask_usd_low, "USD", derived);
  line("metal_embedding_mask_usd_high", r.metal_embedding_mask_usd_high, "USD", derived);
  line("shared_mask_saving", r.shared_mask_saving, "x", derived);
  line("mask_saving", r.mask_saving, "x", "derived: density ratio x shared-mask saving");

  double per_die_pkg_low = in.package_test_usd_per_wafer_low / good;
  double per_die_pkg_high = in.package_test_usd_per_wafer_high / good;
  double hbm_low = in.hbm_gb_per_chip * in.hbm_usd_per_gb_low, hbm_high = in.hbm_gb_per_chip * in.hbm_usd_per_gb_high;
  double hardware_low = in.chips * (r.cost_per_good_die_usd + per_die_pkg_low + hbm_low) + in.system_recurring_usd_low;
  double hardware_high = in.chips * (r.cost_per_good_die_usd + per_die_pkg_high + hbm_high) + in.system_recurring_usd_high;
  r.nre_usd_low = r.metal_embedding_mask_usd_low + design_low + hardware_low;
  r.nre_usd_high = r.metal_embedding_mask_usd_high + design_high + hardware_high;
  r.respin_usd_low = in.mask_set_usd_low * in.chips * emb_share + hardware_low;
  r.respin_usd_high = in.mask_set_usd_high * in.chips * emb_share + hardware_high;
  input("design_architecture_usd_low", in.design_architecture_usd_low, "USD");
  input("design_architecture_usd_high", in.design_architecture_usd_high, "USD");
  input("design_verification_usd_low", in.design_verification_usd_low, "USD");
  input("design_verification_usd_high", in.design_verification_usd_high, "USD");
  input("design_physical_usd_low", in.design_physical_usd_low, "USD");
  input("design_physical_usd_high", in.design_physical_usd_high, "USD");
  input("design_ip_usd_low", in.design_ip_usd_low, "USD");
  input("design_ip_usd_high", in.design_ip_usd_high, "USD");
  line("design_usd_low", design_low, "USD", "derived: architecture + verification + physical design + IP");
  line("design_usd_high", design_high, "USD", "derived: architecture + verification + physical design + IP");
  input("hbm_gb_per_chip", in.hbm_gb_per_chip, "GB");
  input("hbm_usd_per_gb_low", in.hbm_usd_per_gb_low, "USD/GB");
  input("hbm_usd_per_gb_high", in.hbm_usd_per_gb_high, "USD/GB");
  line("hbm_usd_per_chip_low", hbm_low, "USD", "derived");
  line("hbm_usd_per_chip_high", hbm_high, "USD", "derived");
  input("system_recurring_usd_low", in.system_recurring_usd_low, "USD");
  input("system_recurring_usd_high", in.system_recurring_usd_high, "USD");
  input("package_test_usd_per_wafer_low", in.package_test_usd_per_wafer_low, "USD");
  input("package_test_usd_per_wafer_high", in.package_test_usd_per_wafer_high, "USD");
  line("system_hardware_usd_low", hardware_low, "USD", "derived: dies, package and test, HBM, system");
  line("system_hardware_usd_high", hardware_high, "USD", derived);
  line("nre_usd_low", r.nre_usd_low, "USD", "derived: masks + design + first system");
  line("nre_usd_high", r.nre_usd_high, "USD", derived);
  line("respin_usd_low", r.respin_usd_low, "USD", "derived: a weight update = embedding masks + new dies");
  line("respin_usd_high", r.respin_usd_high, "USD", derived);

  r.tokens_per_joule = in.tokens_per_s / in.system_power_w;
  r.h100_tokens_per_joule = in.h100_tokens_per_s / in.h100_power_w;
  r.wse3_tokens_per_joule = in.wse3_tokens_per_s / in.wse3_power_w;
  double hours = in.years * 365 * 24;
  r.energy_usd = in.system_power_w / 1000 * in.pue * hours * in.usd_per_kwh;
  // Assumption (the paper's annual weight updating): one re-spin per further year of service.
  r.tco_usd_low = r.nre_usd_low + (in.years - 1) * r.respin_usd_low + r.energy_usd;
  r.tco_usd_high = r.nre_usd_high + (in.years - 1) * r.respin_usd_high + r.energy_usd;
  input("tokens_per_s", in.tokens_per_s, "tokens/s");
  input("chip_power_w", in.chip_power_w, "W");
  input("system_power_w", in.system_power_w, "W");
  line("tokens_per_joule", r.tokens_per_joule, "tokens/J", derived);
  input("h100_tokens_per_s", in.h100_tokens_per_s, "tokens/s");
  input("h100_power_w", in.h100_power_w, "W");
  line("h100_tokens_per_joule", r.h100_tokens_per_joule, "tokens/J", derived);
  input("wse3_tokens_per_s", in.wse3_tokens_per_s, "tokens/s");
  input("wse3_power_w", in.wse3_power_w, "W");
  line("wse3_tokens_per_joule", r.wse3_tokens_per_joule, "tokens/J", derived);
  input("usd_per_kwh", in.usd_per_kwh, "USD");
  input("pue", in.pue, "");
  input("years", in.years, "years");
  line("energy_usd", r.energy_usd, "USD over the TCO years", derived);
  line("tco_usd_low", r.tco_usd_low, "USD", "derived; assumption: one weight update per year after the first");
  line("tco_usd_high", r.tco_usd_high, "USD", derived);

  if (in.measured_transistors_per_weight > 0) {
    r.measured_area_mm2 = r.parameters * in.measured_transistors_per_weight / in.transistors_per_mm2;
    r.measured_chips = std::ceil(r.measured_area_mm2 / in.neuron_array_mm2);
    input("measured_transistors_per_weight", in.measured_transistors_per_weight, "transistors");
    input("transistors_per_mm2", in.transistors_per_mm2, "1/mm2");
    line("measured_neuron_area_mm2", r.measured_area_mm2, "mm2", derived);
    line("measured_chips", r.measured_chips, "", "derived: at the paper's neuron array per chip");
  }
  return r;
}

}  // namespace frugal::hardwire
