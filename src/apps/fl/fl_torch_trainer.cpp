// fl::LocalTrainer over nn::torch_backend::Trainer (see heal/apps/fl_torch_trainer.h).
#include "heal/apps/fl_torch_trainer.h"

#include <exception>

namespace heal::apps {

namespace tb = nn::torch_backend;

namespace {

// The update a hospital sends: its weights after local training minus the global ones.
fl::TrainResult update_of(std::vector<float> trained, std::span<const float> global, std::size_t samples, double loss) {
  fl::TrainResult r;
  r.update = std::move(trained);
  for (std::size_t i = 0; i < r.update.size(); ++i) r.update[i] -= global[i];
  r.num_samples = samples;
  r.metrics["loss"] = loss;
  return r;
}

}  // namespace

TorchLocalTrainer::TorchLocalTrainer(std::shared_ptr<const io::Dataset> data, std::vector<std::size_t> train_indices,
                                     io::SplitData val, const tb::ModelSpec& spec, tb::TrainOptions options,
                                     int local_epochs, std::uint64_t seed)
    : data_(std::move(data)),
      indices_(std::move(train_indices)),
      val_(std::move(val)),
      trainer_(spec, seed),
      options_(std::move(options)),
      epochs_(local_epochs) {}

std::size_t TorchLocalTrainer::num_parameters() const { return trainer_.num_parameters(); }

Result<fl::TrainResult> TorchLocalTrainer::train(std::span<const float> global, const fl::TrainConfig& config) {
  try {
    trainer_.set_weights(global);
    tb::TrainOptions o = options_;
    o.learning_rate = round_learning_rate(options_.learning_rate, schedule_, config.round);
    o.fedprox_mu = config.proximal_mu;
    if (config.proximal_mu > 0) o.global_weights.assign(global.begin(), global.end());
    const double loss = trainer_.train_epochs(data_->train, indices_, epochs_, o);
    return update_of(trainer_.get_weights(), global, indices_.size(), loss);
  } catch (const std::exception& e) {
    return Status::internal(std::string("local training failed: ") + e.what());
  }
}

Result<fl::Metrics> TorchLocalTrainer::evaluate(std::span<const float> weights) {
  try {
    trainer_.set_weights(weights);
    const nn::ClassificationMetrics m = trainer_.evaluate(val_);
    return fl::Metrics{{"accuracy", m.accuracy}, {"auc", m.auc}, {"loss", m.loss}};
  } catch (const std::exception& e) {
    return Status::internal(std::string("evaluation failed: ") + e.what());
  }
}

SegLocalTrainer::SegLocalTrainer(std::shared_ptr<const io::SegDataset> data, std::vector<std::size_t> train_indices,
                                 std::vector<io::SegSample> val, const tb::SegModelSpec& spec,
                                 tb::SegTrainOptions options, int local_epochs, std::uint64_t seed)
    : data_(std::move(data)),
      indices_(std::move(train_indices)),
      val_(std::move(val)),
      own_train_as_val_(val_.empty()),
      trainer_(spec, seed),
      options_(std::move(options)),
      epochs_(local_epochs) {
  if (own_train_as_val_) {
    for (std::size_t i : indices_) val_.push_back(data_->train[i]);
  }
}

std::size_t SegLocalTrainer::num_parameters() const { return trainer_.num_parameters(); }

Result<fl::TrainResult> SegLocalTrainer::train(std::span<const float> global, const fl::TrainConfig& config) {
  if (config.proximal_mu > 0) return Status::unsupported("FedProx is not implemented for segmentation models");
  try {
    trainer_.set_weights(global);
    tb::SegTrainOptions o = options_;
    o.learning_rate = round_learning_rate(options_.learning_rate, schedule_, config.round);
    const double loss = trainer_.train_epochs(data_->train, indices_, epochs_, o);
    return update_of(trainer_.get_weights(), global, indices_.size(), loss);
  } catch (const std::exception& e) {
    return Status::internal(std::string("local training failed: ") + e.what());
  }
}

Result<fl::Metrics> SegLocalTrainer::evaluate(std::span<const float> weights) {
  try {
    trainer_.set_weights(weights);
    const nn::SegMetrics m = trainer_.evaluate(val_);
    return fl::Metrics{{own_train_as_val_ ? "train_dice" : "dice", m.dice}, {"iou", m.iou}};
  } catch (const std::exception& e) {
    return Status::internal(std::string("evaluation failed: ") + e.what());
  }
}

}  // namespace heal::apps
