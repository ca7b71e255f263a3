// LLM-scale hardwiring cost model after HNLPU (Liu et al., "Hardwired-Neurons Language Processing
// Units as General-Purpose Cognitive Substrates", arXiv:2508.16151): parameter count of the
// hardwired model, silicon area, dies per wafer and Murphy yield, photomask cost of naive
// cell-embedding against Metal-Embedding (weights only in metal layers M8-M11, 10 of 70 masks per
// chip), NRE range, recurring cost, tokens per joule and a 3-year TCO. Every input carries its
// source: the paper, a public spec, frugal's own measurement, or an explicit assumption.
#pragma once
#include <string>
#include <vector>

namespace frugal::hardwire {

// A mixture-of-experts transformer (defaults: gpt-oss-120b's published configuration).
struct LlmArchitecture {
  double layers = 36, hidden = 2880, query_heads = 64, kv_heads = 8, head_dim = 64;
  double experts = 128, experts_per_token = 4, expert_intermediate = 2880, vocabulary = 201088;
};

struct CostInputs {
  LlmArchitecture model;
  double chips = 16;                    // HNLPU v2 (paper)
  double die_mm2 = 827.08;              // paper
  double neuron_array_mm2 = 573.16;     // per chip (paper)
  double wafer_diameter_mm = 300;
  double wafer_usd = 16988;             // 5 nm wafer (paper's assumption)
  double defect_density_per_cm2 = 0.11; // Murphy yield model (paper's assumption)
  double package_test_usd_per_wafer_low = 3000, package_test_usd_per_wafer_high = 5000;  // paper
  double euv_masks = 12, duv_masks = 58, euv_weight_in_duv = 6;  // paper: 130 DUV units per set
  double embedding_masks = 10;          // Metal-Embedding: M8-M11 layers, DUV (paper)
  double mask_set_usd_low = 15e6, mask_set_usd_high = 30e6;     // paper's 5 nm range
  // Naive cell-embedding needs density_ratio times the chips, each with a full mask set. The paper
  // states "at least $6B"; that follows from its density ratio with a $25M set (assumption).
  double naive_mask_set_usd = 25e6;
  double density_ratio = 14.3 / 0.95;   // paper: 1024x128 FP4 block, CE 14.3 : Metal-Embedding 0.95
  // Design costs (paper, the authors' own data): architecture, verification, physical design, IP.
  double design_usd_low = 1.87e6 + 9.97e6 + 4.80e6 + 10.23e6;
  double design_usd_high = 3.74e6 + 19.93e6 + 14.41e6 + 20.46e6;
  double system_recurring_usd_low = 1.9e3, system_recurring_usd_high = 3.8e3;  // paper
  double hbm_usd_per_gb_low = 10, hbm_usd_per_gb_high = 20, hbm_gb_per_chip = 192;  // paper
  double tokens_per_s = 249960;         // input: the paper's simulator result
  double chip_power_w = 308.39;         // input: paper
  double system_power_w = 6900;         // input: paper
  double usd_per_kwh = 0.095, pue = 1.4, years = 3;   // paper's TCO assumptions
  double h100_tokens_per_s = 45, h100_power_w = 1300;      // paper's baselines
  double wse3_tokens_per_s = 2940, wse3_power_w = 23000;
  // frugal's measurement path: transistors per hardwired weight (hn style, docs/hardwire.md) at a
  // logic density; 0 skips it.
  double measured_transistors_per_weight = 0;
  double transistors_per_mm2 = 138e6;   // 5 nm logic density (TSMC N5, public figure; assumption)
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

}  // namespace frugal::hardwire
