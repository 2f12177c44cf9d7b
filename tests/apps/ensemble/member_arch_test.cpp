// An institution's model as `--archs`, a consortium file or a node configuration names it
// (apps::ensemble::member_arch): NAME, NAME:WIDTH, NAME:WIDTHxDEPTH, or a `.heal` model file the
// member starts from.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>

#include "heal/apps/ensemble_simulation.h"
#include "heal/apps/torch_ensemble_member.h"
#include "heal/core/hash.h"
#include "heal/nn/model_ir.h"
#include "heal/nn/torch/trainer.h"
#include "nn/torch/halves_data.h"

namespace heal::apps::ensemble {
namespace {

namespace tb = nn::torch_backend;

const bool kOneThread = (tb::set_num_threads(1), true);

io::Dataset dataset(int side) {
  io::Dataset d;
  d.name = "halves";
  d.num_classes = 2;
  d.train = tb::testing::halves_data(64, side, 1);
  d.val = tb::testing::halves_data(32, side, 2);
  d.test = tb::testing::halves_data(32, side, 3);
  return d;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("heal_member_arch_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(MemberArch, NamesWidthsAndDepths) {
  (void)kOneThread;
  const io::Dataset d = dataset(16);
  auto a = member_arch("hecnn", d);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->spec.arch, tb::Architecture::kHeCnn);
  EXPECT_EQ(a->spec.width, 0);  // the architecture's default
  EXPECT_EQ(a->spec.image_size, 16);
  EXPECT_EQ(a->init, nullptr);
  a = member_arch("hecnn:16x2", d);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->spec.width, 16);
  EXPECT_EQ(a->spec.depth, 2);
  a = member_arch("resnet:32", d);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->spec.arch, tb::Architecture::kResNet);
  EXPECT_EQ(a->spec.width, 32);
  EXPECT_EQ(a->spec.depth, 0);
  // Two hecnn members of different depths really differ.
  tb::Trainer one(member_arch("hecnn:8x1", d)->spec, 1), two(member_arch("hecnn:8x2", d)->spec, 1);
  EXPECT_NE(one.num_parameters(), two.num_parameters());
  for (const char* bad : {"hecnn:", "hecnn:0", "hecnn:x2", "hecnn:16x", "hecnn:16x0", "hecnn:16x9", "hecnn:16x2x3",
                          "hecnn:-4", "hecnn:16 ", "hecnn:99999", "vgg:16", ""}) {
    EXPECT_FALSE(member_arch(bad, d).ok()) << bad;
  }
}

TEST(MemberArch, AMemberStartsFromTheWeightsOfAHealFile) {
  (void)kOneThread;
  const io::Dataset d = dataset(16);
  // A model trained before (what `heal train --save` writes), of another width and depth than the
  // defaults.
  tb::Trainer before(tb::ModelSpec{.image_size = 16, .width = 6, .depth = 2, .hidden = 16}, 5);
  tb::TrainOptions to;
  to.augment = false;
  before.train_epochs(d.train, {}, 2, to);
  auto ir = before.export_ir();
  ASSERT_TRUE(ir.ok()) << ir.status().to_string();
  const std::string path = temp_path("a.heal");
  ASSERT_TRUE(nn::save_model(*ir, path).ok());

  auto a = member_arch(path, d);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->spec.width, 6);
  EXPECT_EQ(a->spec.depth, 2);
  EXPECT_EQ(a->spec.hidden, 16);
  ASSERT_NE(a->init, nullptr);
  std::ifstream f(path, std::ios::binary);
  const Bytes file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(a->init_hash, blake2b_256(file));

  auto train = std::make_shared<io::SplitData>(d.train);
  auto val = std::make_shared<io::SplitData>(d.val);
  std::vector<std::size_t> idx(train->size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  TorchEnsembleMember from_file(train, idx, val, val, a->spec, TorchMemberOptions{}, 9, a->init, a->init_hash);
  TorchEnsembleMember random(train, idx, val, val, a->spec, TorchMemberOptions{}, 9);
  // The member starts where the file left off: its predictions are the saved model's (batch norm
  // was folded into the file and starts as the identity), not a random network's.
  const auto want = before.predict_proba(d.test);
  const auto got = from_file.trainer().predict_proba(d.test);
  const auto rnd = random.trainer().predict_proba(d.test);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, worst_random = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
    worst_random = std::max(worst_random, std::abs(rnd[i] - want[i]));
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_GT(worst_random, 1e-2);
  // The ledger learns which model it started from.
  const std::string described = from_file.describe().architecture;
  EXPECT_NE(described.find(",init=" + digest_hex(a->init_hash).substr(0, 16) + ")"), std::string::npos) << described;
  EXPECT_EQ(random.describe().architecture.find("init="), std::string::npos);

  // What is refused, with a reason: no file, bytes that are no model, a model of another family.
  EXPECT_FALSE(member_arch(temp_path("missing.heal"), d).ok());
  const std::string junk = temp_path("junk.heal");
  std::ofstream(junk) << "not a model";
  EXPECT_FALSE(member_arch(junk, d).ok());
  tb::Trainer resnet(tb::ModelSpec{.arch = tb::Architecture::kResNet, .image_size = 16}, 1);
  auto rir = resnet.export_ir();
  ASSERT_TRUE(rir.ok());
  const std::string rpath = temp_path("resnet.heal");
  ASSERT_TRUE(nn::save_model(*rir, rpath).ok());
  auto r = member_arch(rpath, d);
  EXPECT_FALSE(r.ok());
  if (!r.ok()) {
    EXPECT_NE(r.status().message().find("HE CNN"), std::string::npos) << r.status().message();
  }
  const io::Dataset other = dataset(20);  // another image size than the file's input
  EXPECT_FALSE(member_arch(path, other).ok());
  for (const auto& p : {path, junk, rpath}) std::filesystem::remove(p);
}

}  // namespace
}  // namespace heal::apps::ensemble
