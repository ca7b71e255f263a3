// Brain-tumour segmentation objective and scores (BraTS conventions, Menze et al. 2015): four
// classes (0 background, 1 necrotic/non-enhancing core, 2 edema, 3 enhancing tumour = BraTS
// label 4) evaluated as three nested regions: whole tumour WT = {1,2,3}, tumour core TC = {1,3},
// enhancing tumour ET = {3}. The loss is softmax cross-entropy plus soft Dice (Milletari et al.
// 2016) on the three regions' summed probabilities.
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/autograd/tape.h"

namespace frugal::rev {

constexpr int kRegions = 3;
const char* region_name(int region);  // "WT", "TC", "ET"
bool class_in_region(int cls, int region);

// logits [N, 4, D, H, W]; labels: class per voxel, N*D*H*W of them, in 0..3.
// Returns mean CE + (1 - mean over regions of soft Dice), Dice over the whole batch (smooth 1).
autograd::Var dice_ce_loss(const autograd::Var& logits, const std::vector<uint8_t>& labels);

struct RegionScores {
  double dice[kRegions];  // 1 when both prediction and truth are empty
  double hd95[kRegions];  // voxels; 0 when both empty, the volume diagonal when only one is
};

// Hard scores of one volume: prediction and truth are class maps [D, H, W].
RegionScores score_volume(const std::vector<uint8_t>& predicted, const std::vector<uint8_t>& truth, int64_t d,
                          int64_t h, int64_t w);
// Argmax over classes of logits [N, C, D, H, W] for sample n.
std::vector<uint8_t> argmax_classes(const Tensor& logits, int64_t n);

}  // namespace frugal::rev
