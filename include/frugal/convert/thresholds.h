// Firing thresholds of a converted net's neuron sites, from a few calibration batches:
//  - ltb: local threshold balancing with one threshold per channel (Bu et al., CVPR 2025): every
//    θ_c starts at 0; on each calibration batch, at each site in forward order,
//    θ_c += 2 · mean over N, H, W of (x − θ_c)⁺ (x the site's pre-activation), and the forward
//    pass continues clipped at the updated θ_c, so later sites see the clipped activations the
//    spiking net will produce. One forward pass per batch.
//  - maxnorm: one θ per site, the largest activation over the calibration data (Diehl et al.,
//    IJCNN 2015).
//  - robust: one θ per site, the 99.9th percentile of the site's nonzero activations
//    (Rueckauer et al., Front. Neurosci. 2017), computed per batch and averaged over batches.
// A Clip site's threshold never exceeds its max (a ReLU6 neuron saturates at 6).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "frugal/convert/spiking_net.h"

namespace frugal::convert {

enum class ThresholdMethod { ltb, maxnorm, robust };

// "ltb", "maxnorm" (also "max"), "robust"; anything else is an Error naming the choices.
ThresholdMethod parse_threshold_method(const std::string& name);
const char* threshold_method_name(ThresholdMethod m);

struct Thresholds {
  std::vector<std::vector<float>> per_site;  // [site][channel]; a layer-wide method repeats its θ
  int forward_passes = 0;                    // ANN forward passes the calibration ran
};

// `after_batch`, if set, runs after each batch's forward pass and threshold update (frugal convert
// times a reference ANN pass there, so that the reference sees the same machine load as the
// calibration it is compared with).
Thresholds calibrate(const SpikingNet& net, const std::vector<Tensor>& batches, ThresholdMethod method,
                     double percentile = 99.9, const std::function<void()>& after_batch = {});

// The ANN with every site clipped at its thresholds: the function the spiking net approximates.
Tensor forward_clipped(const SpikingNet& net, const Thresholds& th, const Tensor& x);

}  // namespace frugal::convert
