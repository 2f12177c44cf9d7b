// The seam between ensemble federated learning (issue 17) and actual models: a member is one
// hospital's model of ITS OWN architecture (hecnn of some width, resnet, capsnet, a loaded model),
// seen through this torch-free interface so the fl layer builds and tests without libtorch
// (nn/torch implements it for real models; tests implement it with small fakes).
//
// Federated distillation in the style of FedMD (Li & Wang, arXiv:1910.03581) and FedDF (Lin et al.,
// arXiv:2006.07242): in each round every member trains on its private data, scores a reference set
// the consortium agreed on (its hash is on the ledger), the weighted mean of those soft predictions
// is computed by secure aggregation (no member's own predictions are revealed), and every member
// distils that consensus into its own model.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/status.h"
#include "heal/fl/local_trainer.h"

namespace heal::fl::ensemble {

/// What a member states about itself (recorded on the ledger with each model version).
struct MemberDescription {
  /// Architecture and its size, e.g. "hecnn(width=8,depth=1,hidden=64)", "resnet(width=16)".
  std::string architecture;
  std::uint64_t num_parameters = 0;
};

class EnsembleMember {
 public:
  virtual ~EnsembleMember() = default;

  virtual MemberDescription describe() const = 0;
  /// Classes predicted (every member of an ensemble has the same count).
  virtual std::size_t num_classes() const = 0;
  /// Images in this member's copy of the reference set.
  virtual std::size_t num_reference() const = 0;
  /// BLAKE2b-256 of this member's copy of the reference set (images, in order); compared with the
  /// hash on the ledger before the member contributes.
  virtual Digest reference_hash() const = 0;
  /// Training examples this member holds (FedAvg weight of a site inside its institution).
  virtual std::uint64_t num_train_samples() const = 0;

  /// One round of private training (local epochs on the member's own data). Non-ok: the member
  /// failed this round (treated as a dropout).
  virtual Result<Metrics> train_local(const TrainConfig& config) = 0;
  /// Metrics on the member's own validation data; must contain "accuracy" in [0, 1] and
  /// "num_samples" (> 0). The ensemble weight is derived from them.
  virtual Result<Metrics> validate() = 0;
  /// Class probabilities on the reference set: num_reference() x num_classes(), row-major, rows
  /// summing to 1.
  virtual Result<std::vector<double>> predict_reference() = 0;
  /// Distils `consensus` (same shape as predict_reference(), rows summing to 1) into the model,
  /// alongside private training as the implementation chooses.
  virtual Result<Metrics> distill(std::span<const double> consensus, const TrainConfig& config) = 0;

  /// The model's parameters as flat floats (for FedAvg between the sites of one institution, which
  /// share an architecture) and their setter. set_weights fails on a length mismatch.
  virtual std::vector<float> get_weights() const = 0;
  virtual Status set_weights(std::span<const float> weights) = 0;
  /// The serialized model; its BLAKE2b-256 is the model hash recorded per version.
  virtual Bytes model_bytes() const = 0;
};

}  // namespace heal::fl::ensemble
