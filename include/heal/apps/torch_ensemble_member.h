// A hospital's libtorch model as an fl::ensemble::EnsembleMember (issue 17): its own architecture
// (nn::torch_backend::ModelSpec), its private training indices into a shared training split, the
// consortium's reference images (unlabelled for distillation) and the public labelled validation
// split the ensemble weights are measured on. Part of the heal_apps_ensemble target, built only with
// libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "heal/apps/round_schedule.h"
#include "heal/fl/ensemble/member.h"
#include "heal/io/dataset.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps::ensemble {

/// BLAKE2b-256 of a split's images (shape, then the floats in order); labels are not hashed.
Digest images_hash(const io::SplitData& d);

/// "hecnn(width=8,depth=1,hidden=64)" etc., with the architecture's defaults resolved.
std::string describe_spec(const nn::torch_backend::ModelSpec& spec);
/// describe_spec, with ",init=<16 hex digits of init_hash>" before the closing parenthesis when the
/// member starts from a model file.
std::string describe_member(const nn::torch_backend::ModelSpec& spec, const Digest* init_hash);

struct TorchMemberOptions {
  nn::torch_backend::TrainOptions train;  // private training each round
  int local_epochs = 1;
  nn::torch_backend::TrainOptions distill;  // the digest step
  int distill_epochs = 1;
  /// Sharpening of the consensus before distillation, q_k ∝ c_k^(1/T) (entropy reduction, as DS-FL's
  /// ERA, Itahara et al., arXiv:2008.06180); 1 leaves it as it is.
  double sharpen_temperature = 1.0;
  /// Both learning rates (private training and distillation) per round (round_schedule.h);
  /// default constant.
  RoundSchedule schedule;
  /// Joint distillation (TrainOptions::consensus_weight): from the second round on, private training
  /// also fits the latest (sharpened) consensus on the reference images with this weight, so that
  /// private epochs on label-skewed data do not undo the digest step. 0: off (FedMD's alternation
  /// only). It acts where distill() and train_local() run on the same member: a one-site
  /// institution. The sites of a multi-site institution receive its distilled weights, not the
  /// consensus, and train on their own data only.
  double joint_distill_weight = 0;
  /// Balanced distillation: divide the consensus by its class prior on the reference set (the mean
  /// consensus probability per class, which every institution can compute) and renormalise each row,
  /// before sharpening: q_ik ∝ c_ik / pi_k. The targets become balanced posteriors, the soft
  /// counterpart of the 1/frequency class weights of private training (logit adjustment, Menon et al.,
  /// arXiv:2007.07314). Off: the members distil the reference set's prior along with the consensus.
  bool balance_consensus = false;
};

/// The member recipe of `heal fl ensemble simulate` and of ensemble nodes (`heal node run`), in the
/// terms both front ends take it: Adam at `lr` for `local_epochs` private epochs and at a constant
/// `distill_lr` for `distill_epochs`, the batch size, sharpening, joint distillation, and the rate
/// schedule over `rounds` ("constant" | "cosine", round_schedule.h).
struct MemberRecipe {
  int local_epochs = 2, distill_epochs = 1, batch = 64;
  double lr = 2e-3, distill_lr = 1e-3, sharpen = 1.0, joint_distill = 0.0;
  std::string lr_schedule = "constant";
  std::uint64_t rounds = 1;
  bool balance_consensus = false;
};
/// TorchMemberOptions of a recipe; InvalidArgument for an unknown schedule.
Result<TorchMemberOptions> member_options(const MemberRecipe& r);

class TorchEnsembleMember final : public fl::ensemble::EnsembleMember {
 public:
  /// `train` and `indices`: the member's private examples (train[indices]; empty for a model that
  /// only holds an institution's FedAvg: train_local then fails); `reference`: the
  /// agreed reference images; `val`: the labelled split validate() scores on. `init`: a model the
  /// member starts from (its layers taken over by Trainer::init_from; `spec` must be
  /// spec_from_ir's for it, as member_arch makes it), with the hash of its file; null: random.
  /// @throws StatusError if `init` does not fit `spec`.
  TorchEnsembleMember(std::shared_ptr<const io::SplitData> train, std::vector<std::size_t> indices,
                      std::shared_ptr<const io::SplitData> reference, std::shared_ptr<const io::SplitData> val,
                      const nn::torch_backend::ModelSpec& spec, TorchMemberOptions options, std::uint64_t seed,
                      std::shared_ptr<const nn::ModelIr> init = nullptr, const Digest& init_hash = {});

  fl::ensemble::MemberDescription describe() const override;
  std::size_t num_classes() const override;
  std::size_t num_reference() const override { return reference_->size(); }
  Digest reference_hash() const override { return reference_hash_; }
  std::uint64_t num_train_samples() const override { return indices_.size(); }
  Result<fl::Metrics> train_local(const fl::TrainConfig& config) override;
  Result<fl::Metrics> validate() override;
  Result<std::vector<double>> predict_reference() override;
  Result<fl::Metrics> distill(std::span<const double> consensus, const fl::TrainConfig& config) override;
  std::vector<float> get_weights() const override { return trainer_.get_weights(); }
  Status set_weights(std::span<const float> weights) override;
  Bytes model_bytes() const override;

  /// The model (for test-set evaluation by the launcher).
  const nn::torch_backend::Trainer& trainer() const { return trainer_; }
  /// Early stopping: the best validation accuracy this member has seen (after private training, in
  /// validate(), and after each distillation) and those weights (empty before the first).
  double best_val_accuracy() const { return best_val_; }
  const std::vector<float>& best_weights() const { return best_weights_; }
  /// Class probabilities on the validation split after the latest distill() (empty before one).
  const std::vector<double>& last_distilled_val_probabilities() const { return distilled_val_probs_; }

  /// Early stopping on the public validation split, one rule for every front end (`heal fl ensemble
  /// simulate`, ensemble nodes). The front end calls end_round() once per round the member took part
  /// in: it scores the state the round ended in (after distillation, or after private training when
  /// no consensus came) and keeps the best such state (strictly better replaces; ties keep the
  /// earlier one).
  struct RoundEnd {
    std::vector<double> val_probabilities;  // of the round-end state
    double val_accuracy = 0;
  };
  RoundEnd end_round();
  /// Loads the weights the member is deployed with: the best round-end state or, with
  /// `with_intermediate` (a one-site institution, whose member also trained privately), the best state
  /// after private training where that one is strictly better. Returns that state's validation
  /// accuracy; FailedPrecondition before any end_round().
  Result<double> deploy(bool with_intermediate);

 private:
  std::shared_ptr<const io::SplitData> train_;
  std::vector<std::size_t> indices_;
  std::shared_ptr<const io::SplitData> reference_, val_;
  Digest reference_hash_{};
  nn::torch_backend::Trainer trainer_;
  TorchMemberOptions options_;
  std::optional<Digest> init_hash_;
  double best_val_ = -1;
  std::vector<float> best_weights_;
  std::vector<double> distilled_val_probs_;
  std::vector<double> consensus_;  // the latest (sharpened) consensus, for joint distillation
  bool distilled_since_round_end_ = false;
  double best_round_end_val_ = -1;
  std::vector<float> best_round_end_weights_;
  void track(double val_accuracy);
};

}  // namespace heal::apps::ensemble
