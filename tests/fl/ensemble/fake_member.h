// Small fake ensemble members for the protocol tests: multinomial logistic regression in plain C++
// on synthetic Gaussian blobs. "Architectures" differ by the feature subset they see, so members
// disagree and distillation has something to transfer; a skewed label partition makes each local
// model blind to some classes, which the consensus on the (unlabeled, balanced) reference set fixes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/fl/ensemble/member.h"

namespace heal::fl::ensemble::testing {

inline constexpr std::size_t kClasses = 3;
inline constexpr std::size_t kDims = 4;

struct Dataset {
  std::vector<std::array<double, kDims>> x;
  std::vector<int> y;
  std::size_t size() const { return y.size(); }
};

/// Gaussian blobs: class c has mean kMeans[c], unit variance.
class BlobSource {
 public:
  explicit BlobSource(std::uint64_t seed) : rng_(seed_from_u64(seed)) {}
  double uniform() {
    std::uint64_t v = 0;
    rng_.fill(std::span(reinterpret_cast<std::uint8_t*>(&v), 8));
    return (static_cast<double>(v >> 11) + 0.5) / 9007199254740992.0;
  }
  double normal() { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }
  /// `per_class[c]` samples of class c.
  Dataset draw(const std::vector<std::size_t>& per_class) {
    static constexpr double kMeans[kClasses][kDims] = {{2, 0, 0, 1}, {0, 2, 0, -1}, {0, 0, 2, 0}};
    Dataset d;
    for (std::size_t c = 0; c < kClasses; ++c) {
      for (std::size_t i = 0; i < per_class[c]; ++i) {
        std::array<double, kDims> p{};
        for (std::size_t k = 0; k < kDims; ++k) p[k] = kMeans[c][k] + normal();
        d.x.push_back(p);
        d.y.push_back(static_cast<int>(c));
      }
    }
    return d;
  }

 private:
  SeededRng rng_;
};

class FakeMember final : public EnsembleMember {
 public:
  FakeMember(std::vector<std::size_t> features, Dataset train, Dataset val, Dataset reference)
      : features_(std::move(features)),
        train_(std::move(train)),
        val_(std::move(val)),
        ref_(std::move(reference)),
        w_((features_.size() + 1) * kClasses, 0.0f) {}

  MemberDescription describe() const override {
    std::string a = "logreg(features=";
    for (std::size_t i = 0; i < features_.size(); ++i) {
      if (i) a += ',';
      a += std::to_string(features_[i]);
    }
    return {a + ")", w_.size()};
  }
  std::size_t num_classes() const override { return kClasses; }
  std::size_t num_reference() const override { return ref_.size(); }
  Digest reference_hash() const override {
    std::vector<std::uint8_t> b(ref_.size() * kDims * 8);
    for (std::size_t i = 0; i < ref_.size(); ++i) std::memcpy(b.data() + i * kDims * 8, ref_.x[i].data(), kDims * 8);
    return blake2b_256(b);
  }
  std::uint64_t num_train_samples() const override { return train_.size(); }

  Result<Metrics> train_local(const TrainConfig&) override {
    for (int s = 0; s < local_steps; ++s) step(&train_, nullptr, 0.5);
    return Metrics{{"loss", 0}};
  }
  Result<Metrics> validate() override {
    last_accuracy = accuracy(val_);
    return Metrics{{"accuracy", last_accuracy}, {"num_samples", static_cast<double>(val_.size())}};
  }
  Result<std::vector<double>> predict_reference() override {
    last_prediction.clear();
    for (const auto& x : ref_.x) {
      auto p = probs(x);
      last_prediction.insert(last_prediction.end(), p.begin(), p.end());
    }
    return last_prediction;
  }
  Result<Metrics> distill(std::span<const double> consensus, const TrainConfig&) override {
    last_consensus.assign(consensus.begin(), consensus.end());
    for (int s = 0; s < distill_steps; ++s) step(&train_, &last_consensus, 0.5);
    return Metrics{};
  }
  std::vector<float> get_weights() const override { return w_; }
  Status set_weights(std::span<const float> w) override {
    if (w.size() != w_.size()) return Status::invalid_argument("weight count");
    w_.assign(w.begin(), w.end());
    return {};
  }
  Bytes model_bytes() const override {
    Bytes b(w_.size() * 4);
    std::memcpy(b.data(), w_.data(), b.size());
    return b;
  }

  double accuracy(const Dataset& d) const {
    std::size_t ok = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      auto p = probs(d.x[i]);
      ok += static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin()) ==
            static_cast<std::size_t>(d.y[i]);
    }
    return static_cast<double>(ok) / static_cast<double>(d.size());
  }
  /// Changes one reference value (a copy of the reference set that is not the consortium's).
  void corrupt_reference() { ref_.x[0][0] += 1; }

  int local_steps = 20, distill_steps = 20;
  double last_accuracy = 0;
  std::vector<double> last_prediction, last_consensus;

 private:
  std::array<double, kClasses> probs(const std::array<double, kDims>& x) const {
    const std::size_t f = features_.size();
    std::array<double, kClasses> z{};
    for (std::size_t c = 0; c < kClasses; ++c) {
      double s = w_[c * (f + 1) + f];
      for (std::size_t k = 0; k < f; ++k) s += w_[c * (f + 1) + k] * x[features_[k]];
      z[c] = s;
    }
    const double m = *std::max_element(z.begin(), z.end());
    double tot = 0;
    for (double& v : z) tot += (v = std::exp(v - m));
    for (double& v : z) v /= tot;
    return z;
  }
  // One full-batch gradient step of the cross-entropy on `d` (hard labels) plus, if given, on the
  // reference set against the soft targets (FedMD/FedDF-style distillation).
  void step(const Dataset* d, const std::vector<double>* soft, double lr) {
    const std::size_t f = features_.size();
    std::vector<double> g(w_.size(), 0.0);
    auto add = [&](const std::array<double, kDims>& x, const double* target, double scale) {
      auto p = probs(x);
      for (std::size_t c = 0; c < kClasses; ++c) {
        const double e = (p[c] - target[c]) * scale;
        for (std::size_t k = 0; k < f; ++k) g[c * (f + 1) + k] += e * x[features_[k]];
        g[c * (f + 1) + f] += e;
      }
    };
    for (std::size_t i = 0; i < d->size(); ++i) {
      double t[kClasses] = {};
      t[d->y[i]] = 1;
      add(d->x[i], t, 1.0 / static_cast<double>(d->size()));
    }
    if (soft) {
      for (std::size_t i = 0; i < ref_.size(); ++i)
        add(ref_.x[i], soft->data() + i * kClasses, 1.0 / static_cast<double>(ref_.size()));
    }
    for (std::size_t k = 0; k < w_.size(); ++k) w_[k] -= static_cast<float>(lr * g[k]);
  }

  std::vector<std::size_t> features_;
  Dataset train_, val_, ref_;
  std::vector<float> w_;
};

/// Members of a label-skewed consortium: member k sees mostly classes k and k+1, and its own feature
/// subset; all share `reference`.
inline std::vector<std::unique_ptr<FakeMember>> skewed_members(BlobSource& src, std::size_t n,
                                                               const Dataset& reference) {
  const std::vector<std::vector<std::size_t>> feats = {{0, 1, 2, 3}, {0, 1, 2}, {1, 2, 3}, {0, 2, 3}};
  std::vector<std::unique_ptr<FakeMember>> m;
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<std::size_t> per(kClasses, 2);
    per[k % kClasses] = 60;
    per[(k + 1) % kClasses] = 60;
    Dataset tr = src.draw(per), va = src.draw({per[0] / 2, per[1] / 2, per[2] / 2});
    m.push_back(std::make_unique<FakeMember>(feats[k % feats.size()], tr, va, reference));
  }
  return m;
}

}  // namespace heal::fl::ensemble::testing
