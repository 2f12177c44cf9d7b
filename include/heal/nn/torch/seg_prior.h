// Segment-then-classify (issue 20; the first seed system, Kumar et al. arXiv 2104.10903, segments
// COVID-19 infection and classifies): a frozen segmentation model (SegTrainer, trained on
// covid_seg's infection masks) maps each classification image to its infection probability map,
// which becomes an extra input channel of the classifier. The two datasets are disjoint: the
// segmentation model never sees a classification label and the classifier never sees a mask; the
// map is a fixed, label-free feature of each image, so it may be computed for all splits at once
// (including cross-validation folds) without leaking the scored labels.
#pragma once

#include "heal/io/dataset.h"
#include "heal/nn/torch/seg_trainer.h"

namespace heal::nn::torch_backend {

struct SegPriorStats {
  std::size_t images = 0;
  double mean_foreground = 0;  ///< mean over images of the fraction of pixels with p > 0.5
  double seconds = 0;
};

/// Appends to every image of `split` one channel: seg's foreground probability for channel 0
/// (the raw [0, 1] grey pixels; the model applies its own intensity normalisation and resizes to
/// its input and back). Call it before any in-place normalisation of channel 0.
/// @throws std::invalid_argument on an empty image shape.
SegPriorStats append_segmentation_channel(const SegTrainer& seg, io::SplitData& split);

/// The same for the train, val and test splits of `ds`; returns the totals.
SegPriorStats append_segmentation_channel(const SegTrainer& seg, io::Dataset& ds);

}  // namespace heal::nn::torch_backend
