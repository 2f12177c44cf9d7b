#include "heal/apps/torch_ensemble_member.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>

#include "heal/core/bytes.h"
#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/nn/metrics.h"

namespace heal::apps::ensemble {

namespace tb = nn::torch_backend;

Digest images_hash(const io::SplitData& d) {
  Bytes b;
  ByteWriter w(&b);
  w.put<std::int32_t>(d.channels);
  w.put<std::int32_t>(d.height);
  w.put<std::int32_t>(d.width);
  w.put_array<float>(d.images);
  return blake2b_256(b);
}

std::string describe_spec(const tb::ModelSpec& s) {
  std::ostringstream o;
  o << tb::architecture_name(s.arch) << "(width=" << s.width << ",depth=" << s.depth << ",hidden=" << s.hidden
    << ",classes=" << s.num_classes << ",input=" << s.in_channels << "x" << s.image_size << "x" << s.image_size << ")";
  return o.str();
}

std::string describe_member(const tb::ModelSpec& spec, const Digest* init_hash) {
  std::string d = describe_spec(spec);
  if (init_hash != nullptr) d.insert(d.size() - 1, ",init=" + digest_hex(*init_hash).substr(0, 16));
  return d;
}

TorchEnsembleMember::TorchEnsembleMember(std::shared_ptr<const io::SplitData> train, std::vector<std::size_t> indices,
                                         std::shared_ptr<const io::SplitData> reference,
                                         std::shared_ptr<const io::SplitData> val, const tb::ModelSpec& spec,
                                         TorchMemberOptions options, std::uint64_t seed,
                                         std::shared_ptr<const nn::ModelIr> init, const Digest& init_hash)
    : train_(std::move(train)),
      indices_(std::move(indices)),
      reference_(std::move(reference)),
      val_(std::move(val)),
      reference_hash_(images_hash(*reference_)),
      trainer_(spec, seed),
      options_(std::move(options)) {
  if (init) {
    auto taken = trainer_.init_from(*init);
    if (!taken.ok()) throw StatusError(taken.status().with_context("the member's initial model"));
    init_hash_ = init_hash;
  }
}

fl::ensemble::MemberDescription TorchEnsembleMember::describe() const {
  return {describe_member(trainer_.spec(), init_hash_ ? &*init_hash_ : nullptr), trainer_.num_parameters()};
}

std::size_t TorchEnsembleMember::num_classes() const { return static_cast<std::size_t>(trainer_.spec().num_classes); }

// libtorch reports failures as exceptions; the fl layer expects a Status (a failed member is a dropout).
template <typename F>
static auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Status::internal(std::string(what) + ": " + e.what());
  }
}

Result<fl::Metrics> TorchEnsembleMember::train_local(const fl::TrainConfig& config) {
  if (indices_.empty()) return Status::failed_precondition("this member holds no training data");
  return guarded("local training", [&]() -> Result<fl::Metrics> {
    tb::TrainOptions o = options_.train;
    o.learning_rate = round_learning_rate(o.learning_rate, options_.schedule, config.round);
    if (options_.joint_distill_weight > 0 && !consensus_.empty()) {
      o.consensus_images = reference_.get();
      o.consensus_targets = consensus_;
      o.consensus_weight = options_.joint_distill_weight;
    }
    const double loss = trainer_.train_epochs(*train_, indices_, options_.local_epochs, o);
    return fl::Metrics{{"loss", loss}, {"num_samples", static_cast<double>(indices_.size())}};
  });
}

Result<TorchMemberOptions> member_options(const MemberRecipe& r) {
  TorchMemberOptions m;
  m.local_epochs = r.local_epochs;
  m.distill_epochs = r.distill_epochs;
  m.train.learning_rate = r.lr;
  m.train.batch_size = r.batch;
  m.distill = m.train;
  m.distill.learning_rate = r.distill_lr;
  m.distill.schedule = nn::torch_backend::Schedule::kConstant;
  m.sharpen_temperature = r.sharpen;
  m.joint_distill_weight = r.joint_distill;
  m.balance_consensus = r.balance_consensus;
  HEAL_ASSIGN_OR_RETURN(m.schedule, parse_round_schedule(r.lr_schedule, r.rounds));
  return m;
}

void TorchEnsembleMember::track(double val_accuracy) {
  if (val_accuracy > best_val_) {
    best_val_ = val_accuracy;
    best_weights_ = trainer_.get_weights();
  }
}

Result<fl::Metrics> TorchEnsembleMember::validate() {
  return guarded("validation", [&]() -> Result<fl::Metrics> {
    const auto m = trainer_.evaluate(*val_);
    track(m.accuracy);
    return fl::Metrics{{"accuracy", m.accuracy}, {"auc", m.auc}, {"num_samples", static_cast<double>(val_->size())}};
  });
}

Result<std::vector<double>> TorchEnsembleMember::predict_reference() {
  return guarded("reference prediction",
                 [&]() -> Result<std::vector<double>> { return trainer_.predict_proba(*reference_); });
}

Result<fl::Metrics> TorchEnsembleMember::distill(std::span<const double> consensus, const fl::TrainConfig& config) {
  if (consensus.size() != reference_->size() * num_classes()) {
    return Status::invalid_argument("consensus has " + std::to_string(consensus.size()) + " values, expected " +
                                    std::to_string(reference_->size() * num_classes()));
  }
  return guarded("distillation", [&]() -> Result<fl::Metrics> {
    std::vector<double> q(consensus.begin(), consensus.end());
    const std::size_t C = num_classes();
    if (options_.balance_consensus) {
      std::vector<double> prior(C, 0.0);
      for (std::size_t i = 0; i < q.size(); i += C) {
        for (std::size_t k = 0; k < C; ++k) prior[k] += std::clamp(q[i + k], 0.0, 1.0);
      }
      for (auto& p : prior) p = std::max(p / static_cast<double>(q.size() / C), 1e-6);
      for (std::size_t i = 0; i < q.size(); i += C) {
        double z = 0;
        for (std::size_t k = 0; k < C; ++k) z += (q[i + k] = std::clamp(q[i + k], 0.0, 1.0) / prior[k]);
        for (std::size_t k = 0; k < C; ++k) q[i + k] = z > 0 ? q[i + k] / z : 1.0 / static_cast<double>(C);
      }
    }
    const double T = options_.sharpen_temperature;
    if (T != 1.0) {
      HEAL_REQUIRE(T > 0, "sharpen_temperature must be > 0");
      for (std::size_t i = 0; i < q.size(); i += C) {
        double z = 0;
        for (std::size_t k = 0; k < C; ++k) z += (q[i + k] = std::pow(std::max(q[i + k], 0.0), 1.0 / T));
        for (std::size_t k = 0; k < C; ++k) q[i + k] = z > 0 ? q[i + k] / z : 1.0 / static_cast<double>(C);
      }
    } else {
      for (auto& v : q) v = std::clamp(v, 0.0, 1.0);  // fixed-point rounding may step just outside [0, 1]
    }
    tb::TrainOptions o = options_.distill;
    o.learning_rate = round_learning_rate(o.learning_rate, options_.schedule, config.round);
    const double loss = trainer_.distill_epochs(*reference_, q, options_.distill_epochs, o);
    if (options_.joint_distill_weight > 0) consensus_ = q;
    distilled_val_probs_ = trainer_.predict_proba(*val_);
    distilled_since_round_end_ = true;
    track(nn::compute_metrics(distilled_val_probs_, val_->labels, trainer_.spec().num_classes).accuracy);
    return fl::Metrics{{"distill_loss", loss}};
  });
}

TorchEnsembleMember::RoundEnd TorchEnsembleMember::end_round() {
  RoundEnd e;
  e.val_probabilities = distilled_since_round_end_ ? distilled_val_probs_ : trainer_.predict_proba(*val_);
  distilled_since_round_end_ = false;
  e.val_accuracy = nn::compute_metrics(e.val_probabilities, val_->labels, trainer_.spec().num_classes).accuracy;
  if (e.val_accuracy > best_round_end_val_) {
    best_round_end_val_ = e.val_accuracy;
    best_round_end_weights_ = trainer_.get_weights();
  }
  return e;
}

Result<double> TorchEnsembleMember::deploy(bool with_intermediate) {
  if (best_round_end_weights_.empty()) return Status::failed_precondition("deploy: no round has ended");
  const bool intermediate = with_intermediate && best_val_ > best_round_end_val_ && !best_weights_.empty();
  HEAL_RETURN_IF_ERROR(set_weights(intermediate ? best_weights_ : best_round_end_weights_));
  return intermediate ? best_val_ : best_round_end_val_;
}

Status TorchEnsembleMember::set_weights(std::span<const float> weights) {
  if (weights.size() != trainer_.num_parameters()) {
    return Status::invalid_argument("weights have " + std::to_string(weights.size()) + " values, the model " +
                                    std::to_string(trainer_.num_parameters()));
  }
  trainer_.set_weights(weights);
  return Status::ok_status();
}

Bytes TorchEnsembleMember::model_bytes() const {
  Bytes b;
  ByteWriter w(&b);
  w.put_string(describe_spec(trainer_.spec()));
  const auto weights = trainer_.get_weights();
  w.put_array<float>(weights);
  return b;
}

}  // namespace heal::apps::ensemble
