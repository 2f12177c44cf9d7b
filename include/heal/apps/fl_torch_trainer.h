// Adapts the libtorch Trainer (nn/torch) to fl::LocalTrainer, so that the fl layer
// itself never depends on nn or torch. Part of heal_apps_fl, which only exists with libtorch.
#pragma once

#include <memory>
#include <vector>

#include "heal/apps/round_schedule.h"
#include "heal/fl/local_trainer.h"
#include "heal/io/dataset.h"
#include "heal/io/segmentation.h"
#include "heal/nn/torch/seg_trainer.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps {

/// One hospital: its partition of the shared training split (indices), its own validation
/// subset, a model of the given spec and the local training options.
class TorchLocalTrainer final : public fl::LocalTrainer {
 public:
  TorchLocalTrainer(std::shared_ptr<const io::Dataset> data, std::vector<std::size_t> train_indices, io::SplitData val,
                    const nn::torch_backend::ModelSpec& spec, nn::torch_backend::TrainOptions options, int local_epochs,
                    std::uint64_t seed);
  std::size_t num_parameters() const override;
  Result<fl::TrainResult> train(std::span<const float> global, const fl::TrainConfig& config) override;
  Result<fl::Metrics> evaluate(std::span<const float> weights) override;
  /// The learning rate per round (default: constant, the options' rate).
  void set_round_schedule(const RoundSchedule& s) { schedule_ = s; }

 private:
  std::shared_ptr<const io::Dataset> data_;
  std::vector<std::size_t> indices_;
  io::SplitData val_;
  nn::torch_backend::Trainer trainer_;
  nn::torch_backend::TrainOptions options_;
  int epochs_;
  RoundSchedule schedule_;
};

/// One hospital of a federated segmentation (issue 20): its slices of the shared training split,
/// a SegTrainer, and the slices it validates on (its own training slices when the dataset has no
/// validation split: the metric is then named "train_dice"). FedProx is not supported here.
class SegLocalTrainer final : public fl::LocalTrainer {
 public:
  SegLocalTrainer(std::shared_ptr<const io::SegDataset> data, std::vector<std::size_t> train_indices,
                  std::vector<io::SegSample> val, const nn::torch_backend::SegModelSpec& spec,
                  nn::torch_backend::SegTrainOptions options, int local_epochs, std::uint64_t seed);
  std::size_t num_parameters() const override;
  Result<fl::TrainResult> train(std::span<const float> global, const fl::TrainConfig& config) override;
  Result<fl::Metrics> evaluate(std::span<const float> weights) override;
  /// The learning rate per round (default: constant, the options' rate).
  void set_round_schedule(const RoundSchedule& s) { schedule_ = s; }

 private:
  std::shared_ptr<const io::SegDataset> data_;
  std::vector<std::size_t> indices_;
  std::vector<io::SegSample> val_;
  bool own_train_as_val_;
  nn::torch_backend::SegTrainer trainer_;
  nn::torch_backend::SegTrainOptions options_;
  int epochs_;
  RoundSchedule schedule_;
};

}  // namespace heal::apps
