// Toy trainers and a fake threshold aggregator for federation tests (no libtorch, no CKKS).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "heal/core/rng.h"
#include "heal/core/serialization.h"
#include "heal/fl/federation.h"
#include "heal/fl/plain_aggregator.h"
#include "heal/ledger/backends/sqlite_ledger.h"

namespace heal::fl::testing {

/// Returns the same update and sample count every round; can fail on chosen rounds.
class FixedUpdateTrainer final : public LocalTrainer {
 public:
  FixedUpdateTrainer(std::vector<float> update, std::uint64_t samples) : update_(std::move(update)), samples_(samples) {}
  std::size_t num_parameters() const override { return update_.size(); }
  Result<TrainResult> train(std::span<const float>, const TrainConfig& c) override {
    ++calls;
    last_mu = c.proximal_mu;
    if (fail_rounds.count(c.round)) return Status::internal("simulated crash during training");
    return TrainResult{update_, samples_, {{"loss", 1.0}}};
  }
  Result<Metrics> evaluate(std::span<const float>) override { return Metrics{{"acc", 0.5}}; }

  int calls = 0;
  double last_mu = -1;
  std::set<std::uint64_t> fail_rounds;

 private:
  std::vector<float> update_;
  std::uint64_t samples_;
};

/// Linear regression y = <x, w*> + noise on the hospital's own data; local training is full-batch
/// gradient descent on (1/2n)||Xw - y||^2 (+ (mu/2)||w - w_global||^2 for FedProx).
class LinearRegressionTrainer final : public LocalTrainer {
 public:
  LinearRegressionTrainer(const std::vector<float>& w_star, std::size_t n, std::uint64_t seed, float shift = 0)
      : d_(w_star.size()) {
    SeededRng rng(seed_from_u64(seed));
    auto make = [&](std::size_t count, std::vector<float>* x, std::vector<float>* y) {
      for (std::size_t i = 0; i < count; ++i) {
        double dot = 0;
        for (std::size_t j = 0; j < d_; ++j) {
          const float v = static_cast<float>(rng.uniform_double() * 2 - 1) + shift;  // non-IID via shift
          x->push_back(v);
          dot += v * w_star[j];
        }
        y->push_back(static_cast<float>(dot + 0.01 * (rng.uniform_double() - 0.5)));
      }
    };
    make(n, &x_, &y_);
    make(32, &xv_, &yv_);
  }
  std::size_t num_parameters() const override { return d_; }
  Result<TrainResult> train(std::span<const float> global, const TrainConfig& c) override {
    std::vector<double> w(global.begin(), global.end());
    const double loss0 = loss(x_, y_, w);
    for (int step = 0; step < 5; ++step) {
      std::vector<double> g(d_, 0.0);
      const std::size_t n = y_.size();
      for (std::size_t i = 0; i < n; ++i) {
        double r = -y_[i];
        for (std::size_t j = 0; j < d_; ++j) r += x_[i * d_ + j] * w[j];
        for (std::size_t j = 0; j < d_; ++j) g[j] += r * x_[i * d_ + j] / static_cast<double>(n);
      }
      for (std::size_t j = 0; j < d_; ++j) w[j] -= 0.1 * (g[j] + c.proximal_mu * (w[j] - global[j]));
    }
    TrainResult tr;
    tr.num_samples = y_.size();
    tr.metrics["loss"] = loss0;
    for (std::size_t j = 0; j < d_; ++j) tr.update.push_back(static_cast<float>(w[j] - global[j]));
    return tr;
  }
  Result<Metrics> evaluate(std::span<const float> weights) override {
    std::vector<double> w(weights.begin(), weights.end());
    return Metrics{{"loss", loss(xv_, yv_, w)}};
  }

 private:
  double loss(const std::vector<float>& x, const std::vector<float>& y, const std::vector<double>& w) const {
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      double r = -y[i];
      for (std::size_t j = 0; j < d_; ++j) r += x[i * d_ + j] * w[j];
      s += r * r;
    }
    return s / (2.0 * static_cast<double>(y.size()));
  }
  std::size_t d_;
  std::vector<float> x_, y_, xv_, yv_;
};

/// NOT cryptography: wraps PlainAggregator and demands `t` decryption shares from distinct known
/// parties, each a token bound to the round and the aggregate hash, so the round logic's joint
/// decryption, quorum and dropout paths can be tested before the CKKS aggregator exists.
class FakeThresholdAggregator final : public SecureAggregator {
 public:
  FakeThresholdAggregator(std::set<PartyId> parties, std::uint32_t t) : plain_(parties), parties_(parties), t_(t) {}
  AggregatorSetupInfo setup_info() const override {
    return {"fake-threshold", "fake", blake2b_256("fake-params"), blake2b_256("fake-cpk"), t_};
  }
  Result<std::unique_ptr<AggregationParty>> party(PartyId p) override {
    HEAL_ASSIGN_OR_RETURN(auto inner, plain_.party(p));
    return std::unique_ptr<AggregationParty>(std::make_unique<Party>(std::move(inner), this));
  }
  Result<Bytes> aggregate(std::span<const Bytes> c, std::size_t n, std::uint64_t round) override {
    return plain_.aggregate(c, n, round);
  }
  Result<std::vector<double>> finalize(std::span<const std::uint8_t> agg, std::span<const DecryptionShare> shares,
                                       std::size_t n, std::uint64_t round) override {
    std::set<PartyId> seen;
    for (const auto& s : shares) {
      if (!parties_.count(s.party) || s.bytes != token(s.party, agg, round)) return Status::corruption("bad share");
      seen.insert(s.party);
    }
    if (seen.size() != t_ || shares.size() != t_) return Status::failed_precondition("need exactly one quorum of shares");
    return plain_.finalize(agg, {}, n, round);
  }
  static Bytes token(PartyId p, std::span<const std::uint8_t> agg, std::uint64_t round) {
    ByteWriter w;
    w.put<std::uint32_t>(p);
    w.put<std::uint64_t>(round);
    w.put_bytes(blake2b_256(agg));
    Digest d = blake2b_256(w.bytes());
    return Bytes(d.begin(), d.end());
  }
  int shares_made = 0;

 private:
  class Party final : public AggregationParty {
   public:
    Party(std::unique_ptr<AggregationParty> inner, FakeThresholdAggregator* owner) : inner_(std::move(inner)), owner_(owner) {}
    PartyId party() const override { return inner_->party(); }
    Result<Bytes> contribute(std::span<const float> u, double w, std::uint64_t r, Rng& rng) override {
      return inner_->contribute(u, w, r, rng);
    }
    Result<Bytes> decryption_share(std::span<const std::uint8_t> agg, std::span<const PartyId> quorum,
                                   std::span<const PartyId>, std::uint64_t r, Rng&) override {
      ++owner_->shares_made;
      if (quorum.size() != owner_->t_) return Status::invalid_argument("quorum size differs from t");
      return token(party(), agg, r);
    }

   private:
    std::unique_ptr<AggregationParty> inner_;
    FakeThresholdAggregator* owner_;
  };
  PlainAggregator plain_;
  std::set<PartyId> parties_;
  std::uint32_t t_;
};

inline std::set<PartyId> party_set(std::size_t k) {
  std::set<PartyId> s;
  for (std::size_t i = 0; i < k; ++i) s.insert(static_cast<PartyId>(i));
  return s;
}

inline std::unique_ptr<ledger::SqliteLedger> memory_ledger() { return ledger::SqliteLedger::open(":memory:").value(); }

/// Counts ledger records by type.
inline std::map<ledger::RecordType, int> record_counts(const ledger::Ledger& l) {
  std::map<ledger::RecordType, int> out;
  EXPECT_TRUE(l.for_each([&](const ledger::Block& b) -> Status {
                 HEAL_ASSIGN_OR_RETURN(ledger::Record r, ledger::decode_record(b.record));
                 ++out[r.type()];
                 return {};
               }).ok());
  return out;
}

/// The round results on the ledger, in order.
inline std::vector<ledger::RoundResult> round_results(const ledger::Ledger& l) {
  std::vector<ledger::RoundResult> out;
  EXPECT_TRUE(l.for_each([&](const ledger::Block& b) -> Status {
                 HEAL_ASSIGN_OR_RETURN(ledger::Record r, ledger::decode_record(b.record));
                 if (auto* x = std::get_if<ledger::RoundResult>(&r.body)) out.push_back(*x);
                 return {};
               }).ok());
  return out;
}

}  // namespace heal::fl::testing
