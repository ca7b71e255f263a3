// LLM-scale hardwiring cost model after HNLPU (Liu et al., "Hardwired-Neurons Language Processing
// Units as General-Purpose Cognitive Substrates", arXiv:2508.16151): parameter count of the
// hardwired model, silicon area, dies per wafer and Murphy yield, photomask cost of naive
// cell-embedding against Metal-Embedding (weights only in metal layers M8-M11, 10 of 70 masks per
// chip), NRE range, recurring cost, tokens per joule and a 3-year TCO. Every input carries its
// source: the paper, a public spec, frugal's own measurement, or an explicit assumption.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace frugal::hardwire {

// A mixture-of-experts transformer (examples/llm/gpt-oss-120b.toml gives gpt-oss-120b's).
struct LlmArchitecture {
  std::string name, source;
  double layers = 0, hidden = 0, query_heads = 0, kv_heads = 0, head_dim = 0;
  double experts = 0, experts_per_token = 0, expert_intermediate = 0, vocabulary = 0;
};

// The technology and cost assumptions. No defaults here: every number comes from a technology
// file (examples/hnlpu/5nm.toml holds the paper's), so there is one set of constants, each with
// its source in `source` (key -> text), printed beside it.
struct CostInputs {
  LlmArchitecture model;
  double chips = 0, die_mm2 = 0, neuron_array_mm2 = 0, wafer_diameter_mm = 0, wafer_usd = 0;
  double defect_density_per_cm2 = 0;  // Murphy yield model
  double package_test_usd_per_wafer_low = 0, package_test_usd_per_wafer_high = 0;
  double euv_masks = 0, duv_masks = 0, euv_weight_in_duv = 0;
  double embedding_masks = 0;  // Metal-Embedding: the masks made per chip
  double mask_set_usd_low = 0, mask_set_usd_high = 0;
  // Naive cell-embedding needs ce/metal-embedding area times the chips, each with a full mask set.
  double naive_mask_set_usd = 0, ce_block_area = 0, metal_embedding_block_area = 0;
  double design_architecture_usd_low = 0, design_architecture_usd_high = 0;
  double design_verification_usd_low = 0, design_verification_usd_high = 0;
  double design_physical_usd_low = 0, design_physical_usd_high = 0;
  double design_ip_usd_low = 0, design_ip_usd_high = 0;
  double system_recurring_usd_low = 0, system_recurring_usd_high = 0;
  double hbm_usd_per_gb_low = 0, hbm_usd_per_gb_high = 0, hbm_gb_per_chip = 0;
  double tokens_per_s = 0, chip_power_w = 0, system_power_w = 0;  // inputs: the authors' simulators
  double usd_per_kwh = 0, pue = 0, years = 0;
  double h100_tokens_per_s = 0, h100_power_w = 0, wse3_tokens_per_s = 0, wse3_power_w = 0;
  // frugal's measurement path: transistors per hardwired weight at a logic density; 0 skips it.
  double measured_transistors_per_weight = 0, transistors_per_mm2 = 0;
  std::map<std::string, std::string> source;
};

struct CostLine {
  std::string key, unit, source;
  double value = 0;
};

struct CostReport {
  double parameters = 0, active_parameters = 0;
  double total_area_mm2 = 0, wafer_fraction = 0;
  double dies_per_wafer = 0, yield = 0, cost_per_good_die_usd = 0;
  double naive_mask_cost_usd = 0, metal_embedding_mask_usd_low = 0, metal_embedding_mask_usd_high = 0;
  double mask_saving = 0, shared_mask_saving = 0;
  double nre_usd_low = 0, nre_usd_high = 0;
  double respin_usd_low = 0, respin_usd_high = 0;   // a weight update: the embedding masks only
  double tokens_per_joule = 0, h100_tokens_per_joule = 0, wse3_tokens_per_joule = 0;
  double energy_usd = 0, tco_usd_low = 0, tco_usd_high = 0;
  double measured_area_mm2 = 0, measured_chips = 0;
  std::vector<CostLine> lines;  // every input and result with its unit and source, in print order
};

// Parameters of the model: {total, active per token}, embeddings and unembedding included.
std::vector<double> llm_parameters(const LlmArchitecture& m);
CostReport llm_cost(const CostInputs& in);

// Strict readers (frugal::Error naming the file and the key for a missing, unknown or mistyped
// key). An architecture file has name, source and the LlmArchitecture numbers as plain keys; a
// technology file has every CostInputs number as { value = NUMBER, source = "TEXT" }.
LlmArchitecture read_llm_architecture(const std::string& path);
CostInputs read_cost_tech(const std::string& path);

}  // namespace frugal::hardwire
