// TorchEnsembleMember's early-stopping rule (end_round / deploy), the one rule `heal fl ensemble
// simulate` and ensemble nodes deploy members with, on small synthetic data.
#include "heal/apps/torch_ensemble_member.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>

#include "heal/core/rng.h"
#include "heal/nn/metrics.h"
#include "heal/nn/torch/trainer.h"
#include "nn/torch/halves_data.h"

namespace heal::apps::ensemble {
namespace {

namespace tb = nn::torch_backend;

const bool kOneThread = (tb::set_num_threads(1), true);

io::SplitData synthetic(std::size_t n, int side, std::uint64_t seed) { return tb::testing::halves_data(n, side, seed); }

// One-hot targets for the reference images: their labels, or the other class.
std::vector<double> one_hot(const io::SplitData& d, bool flipped) {
  std::vector<double> q(d.size() * 2, 0.0);
  for (std::size_t i = 0; i < d.size(); ++i) q[2 * i + (flipped ? 1 - d.labels[i] : d.labels[i])] = 1.0;
  return q;
}

double val_accuracy(const TorchEnsembleMember& m, const io::SplitData& val) {
  return nn::compute_metrics(m.trainer().predict_proba(val), val.labels, 2).accuracy;
}

struct Fixture {
  std::shared_ptr<const io::SplitData> train = std::make_shared<io::SplitData>(synthetic(96, 16, 1));
  std::shared_ptr<const io::SplitData> reference = std::make_shared<io::SplitData>(synthetic(64, 16, 2));
  std::shared_ptr<const io::SplitData> val = std::make_shared<io::SplitData>(synthetic(64, 16, 3));
  TorchEnsembleMember member;
  Fixture() : member(train, all(train->size()), reference, val, tb::ModelSpec{.image_size = 16}, options(), 7) {}
  static std::vector<std::size_t> all(std::size_t n) {
    std::vector<std::size_t> v(n);
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
  }
  static TorchMemberOptions options() {
    TorchMemberOptions o;
    o.train.augment = false;
    o.train.batch_size = 32;
    o.train.learning_rate = 3e-3;
    o.local_epochs = 4;
    o.distill = o.train;
    o.distill_epochs = 6;
    return o;
  }
};

TEST(TorchEnsembleMember, DeploysTheBestRoundEndUnlessAStateAfterPrivateTrainingWasStrictlyBetter) {
  (void)kOneThread;
  Fixture f;
  auto& m = f.member;
  EXPECT_EQ(m.deploy(true).status().code(), StatusCode::kFailedPrecondition);

  // Round 1: private training learns the task; distilling a consensus that names the wrong class of
  // every reference image then unlearns it. The round ends in the bad state.
  ASSERT_TRUE(m.train_local({.round = 1, .seed = 11}).ok());
  const auto trained = m.validate();
  ASSERT_TRUE(trained.ok());
  const double acc_trained = trained->at("accuracy");
  ASSERT_GE(acc_trained, 0.85);
  const auto wrong = one_hot(*f.reference, /*flipped=*/true);
  ASSERT_TRUE(m.distill(wrong, {.round = 1, .seed = 12}).ok());
  const auto end1 = m.end_round();
  EXPECT_EQ(end1.val_probabilities, m.last_distilled_val_probabilities());
  EXPECT_DOUBLE_EQ(end1.val_accuracy, val_accuracy(m, *f.val));
  ASSERT_LT(end1.val_accuracy, acc_trained - 0.2);

  // A multi-site institution's model deploys round ends only; a one-site member also its state after
  // private training, which was strictly better.
  auto d = m.deploy(false);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(*d, end1.val_accuracy);
  EXPECT_DOUBLE_EQ(val_accuracy(m, *f.val), end1.val_accuracy);
  d = m.deploy(true);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(*d, acc_trained);
  EXPECT_DOUBLE_EQ(val_accuracy(m, *f.val), acc_trained);

  // Round 2 from the bad state: a consensus with the right classes; no private training, so the
  // round's end is scored on the distilled state, which replaces round 1's as the best round end.
  ASSERT_TRUE(m.deploy(false).ok());
  ASSERT_TRUE(m.distill(one_hot(*f.reference, false), {.round = 2, .seed = 13}).ok());
  const auto end2 = m.end_round();
  ASSERT_GT(end2.val_accuracy, end1.val_accuracy);
  const auto w2 = m.get_weights();
  // Round 3 without a consensus (the member dropped out of it): its end is the current state; a
  // worse one does not replace round 2's.
  ASSERT_TRUE(m.distill(wrong, {.round = 3, .seed = 14}).ok());
  (void)m.end_round();              // ends the round the bad consensus came in
  const auto end4 = m.end_round();  // nothing distilled since: scored by predicting afresh
  EXPECT_EQ(end4.val_probabilities, m.trainer().predict_proba(*f.val));
  ASSERT_LT(end4.val_accuracy, end2.val_accuracy);
  d = m.deploy(false);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(*d, end2.val_accuracy);
  EXPECT_EQ(m.get_weights(), w2);
}

// --balance-consensus: the consensus is divided by its class prior on the reference set. A consensus
// that calls every reference image 80 % class 0 carries nothing but that prior: balanced, it asks for
// 50 / 50; as it is, for 80 / 20.
TEST(TorchEnsembleMember, ABalancedConsensusLeavesTheReferencePriorOut) {
  (void)kOneThread;
  Fixture f;
  std::vector<double> prior_only(f.reference->size() * 2);
  for (std::size_t i = 0; i < f.reference->size(); ++i) {
    prior_only[2 * i] = 0.8;
    prior_only[2 * i + 1] = 0.2;
  }
  const auto mean_class0 = [&](const TorchEnsembleMember& m) {
    const auto p = m.trainer().predict_proba(*f.reference);
    double s = 0;
    for (std::size_t i = 0; i < p.size(); i += 2) s += p[i];
    return s / static_cast<double>(p.size() / 2);
  };
  auto opts = Fixture::options();
  opts.distill_epochs = 30;
  TorchEnsembleMember plain(f.train, Fixture::all(f.train->size()), f.reference, f.val, tb::ModelSpec{.image_size = 16},
                            opts, 7);
  opts.balance_consensus = true;
  TorchEnsembleMember balanced(f.train, Fixture::all(f.train->size()), f.reference, f.val,
                               tb::ModelSpec{.image_size = 16}, opts, 7);
  ASSERT_TRUE(plain.distill(prior_only, {.round = 1}).ok());
  ASSERT_TRUE(balanced.distill(prior_only, {.round = 1}).ok());
  EXPECT_NEAR(mean_class0(plain), 0.8, 0.05);
  EXPECT_NEAR(mean_class0(balanced), 0.5, 0.05);
  // An informative consensus keeps its ranking: one-hot labels of a skewed reference set stay one-hot.
  TorchEnsembleMember informative(f.train, Fixture::all(f.train->size()), f.reference, f.val,
                                  tb::ModelSpec{.image_size = 16}, opts, 7);
  ASSERT_TRUE(informative.distill(one_hot(*f.reference, false), {.round = 1}).ok());
  EXPECT_GE(val_accuracy(informative, *f.val), 0.85);
}

TEST(TorchEnsembleMember, RefusesAConsensusOfTheWrongSize) {
  Fixture f;
  const std::vector<double> short_consensus(3, 0.5);
  EXPECT_EQ(f.member.distill(short_consensus, {.round = 1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.member.deploy(false).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace heal::apps::ensemble
