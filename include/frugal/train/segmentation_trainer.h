// Training loop for volumetric segmentation (dataset "brats": a BraTS-layout folder, real or the
// synthetic phantoms): a U-Net3d (reversible or plain) on random crops with the soft Dice + CE
// loss, then Dice and HD95 per region (WT, TC, ET) on whole held-out volumes. The run folder holds
// metrics.json, model.safetensors and train.log, like the classification trainer's.
#pragma once
#include "frugal/train/trainer.h"

namespace frugal::train {

// The last quarter of the sorted case folders (at least one) is the test split; train_limit and
// test_limit cap the case counts. Test volumes are centre-cropped to a multiple of the U-Net's
// downsampling factor. metrics.json: dice and hd95 objects keyed WT/TC/ET, dice_mean,
// test_accuracy (voxels), test_loss, peak_bytes, max_rss_bytes, train_seconds,
// train_samples_per_s (crops), samples_per_s (test volumes), epoch_loss.
nn::Json run_segmentation_training(const TrainConfig& config, const TrainOptions& options);

}  // namespace frugal::train
