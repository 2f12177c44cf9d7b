// train-encrypted's three roles on files at the insecure "test-train" preset (N = 2^12, 32 slots):
// the encrypted run against the same algorithm in plaintext, what the server directory holds, and
// the readers of the other party's files on malformed input.
#include "heal/apps/encrypted_training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "apps/ciphertext_file.h"
#include "apps_test_util.h"
#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/io/npy.h"

namespace heal::apps::he_train {
namespace {

namespace fs = std::filesystem;

EncryptOptions encrypt_options(const TempDir& dir) {
  EncryptOptions o;
  o.features = dir / "f.npz";
  o.owner_dir = dir / "owner";
  o.server_dir = dir / "server";
  o.job.preset = "test-train";
  o.job.epochs = 2;
  o.job.batch_rows = 16;
  o.job.alpha = 2.0;
  o.allow_insecure = true;
  return o;
}

TEST(TrainEncrypted, ThreeRolesMatchPlaintextNagAndServerHoldsNoSecret) {
  TempDir dir;
  write_features(dir / "f.npz", 7, 48, 16, 40);
  const auto enc = client_encrypt(encrypt_options(dir));
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  EXPECT_EQ(enc->n_train, 48u);
  EXPECT_EQ(enc->row_width, 8u);  // 7 features + bias
  EXPECT_EQ(enc->rows_per_ct, 256u);  // all N/2 = 2048 slots of the data ciphertexts
  EXPECT_EQ(enc->train_ciphertexts, 1u);
  EXPECT_GT(enc->upload_bytes, enc->data_bytes);

  // The secret key stays with the owner (0600); nothing in the server directory is one.
  EXPECT_EQ(fs::status(dir / "owner/secret.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const auto ctx = ckks::Context::create([] {
    auto p = ckks::bootstrap_preset("test-train").params;
    return p;
  }());
  std::size_t server_files = 0;
  for (const auto& f : fs::directory_iterator(dir.path() / "server")) {
    ++server_files;
    const auto b = read_file(f.path().string());
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(ckks::load_secret_key(*ctx, *b).ok()) << f.path();
    const auto info = ckks::inspect(*b);
    if (info.ok()) {
      EXPECT_NE(info->type, ObjectType::kCkksSecretKey) << f.path();
    }
  }
  EXPECT_EQ(server_files, 7u);  // params, relin, galois, train.cts, val.cts, weights0.cts, job.json

  ServerOptions so;
  so.server_dir = dir / "server";
  so.out_dir = dir / "model";
  so.allow_insecure = true;
  std::size_t iterations_seen = 0;
  so.on_iteration = [&](const heal::he_train::IterationInfo&) { ++iterations_seen; };
  const auto tr = server_train(so);
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  EXPECT_EQ(tr->iterations, 6u);  // 2 epochs x 3 batches of 16
  EXPECT_EQ(iterations_seen, 6u);
  EXPECT_EQ(tr->epochs, 2u);
  EXPECT_GE(tr->refreshes, 2u);

  DecryptOptions dopt;
  dopt.owner_dir = dir / "owner";
  dopt.model_dir = dir / "model";
  dopt.features = dir / "f.npz";
  dopt.allow_insecure = true;
  const auto rep = client_decrypt(dopt);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  ASSERT_EQ(rep->rows.size(), 3u);
  ASSERT_EQ(rep->val_loss.size(), 2u);
  ASSERT_EQ(rep->plain_val_loss.size(), 2u);
  std::printf("encrypted vs plaintext NAG: max |w| error %.3g; val loss %.5f / %.5f; test ACC %.3f / %.3f (exact sigmoid "
              "%.3f)\n",
              rep->max_weight_error, rep->val_loss.back(), rep->plain_val_loss.back(), rep->rows[0].test_acc,
              rep->rows[1].test_acc, rep->rows[2].test_acc);
  EXPECT_LT(rep->max_weight_error, 1e-3);
  for (std::size_t e = 0; e < 2; ++e) EXPECT_NEAR(rep->val_loss[e], rep->plain_val_loss[e], 1e-3);
  EXPECT_EQ(rep->rows[0].epoch, rep->rows[1].epoch);
  EXPECT_NEAR(rep->rows[0].test_acc, rep->rows[1].test_acc, 1.0 / 40 + 1e-9);
  EXPECT_GT(rep->rows[0].test_acc, 0.8);  // the separable problem is learnt
  EXPECT_LT(rep->val_loss[1], std::log(2.0));

  // A tampered ciphertext file (the magic of its first ciphertext object) is an error, not a crash.
  auto bytes = read_file(dir / "server/train.cts");
  ASSERT_TRUE(bytes.ok());
  (*bytes)[bytes->size() / 2] ^= 0xFF;
  (*bytes)[20] ^= 0x01;
  ASSERT_TRUE(write_file(dir / "server/train.cts", *bytes).ok());
  so.out_dir = dir / "model2";
  EXPECT_FALSE(server_train(so).ok());
}

TEST(TrainEncrypted, ServerRefusesInsecureParametersAndForeignPresets) {
  TempDir dir;
  write_features(dir / "f.npz", 3, 8, 4, 4);
  auto o = encrypt_options(dir);
  o.allow_insecure = false;
  const auto refused = client_encrypt(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--allow-insecure"), std::string::npos);
  o.allow_insecure = true;
  o.job.epochs = 1;
  ASSERT_TRUE(client_encrypt(o).ok());

  ServerOptions so;
  so.server_dir = dir / "server";
  so.out_dir = dir / "model";
  const auto st = server_train(so);  // no opt-in: the insecure params.heal is refused
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("--allow-insecure"), std::string::npos);

  // A job that names another preset than params.heal holds.
  auto job = read_file(dir / "server/job.json");
  ASSERT_TRUE(job.ok());
  std::string text(job->begin(), job->end());
  text.replace(text.find("\"test-train\""), 12, "\"test-sparse\"");
  ASSERT_TRUE(write_file(dir / "server/job.json", std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())).ok());
  so.allow_insecure = true;
  const auto st2 = server_train(so);
  ASSERT_FALSE(st2.ok());
  EXPECT_NE(st2.status().message().find("preset"), std::string::npos);
}

TEST(TrainEncrypted, JobJsonIsValidated) {
  Job j;
  j.preset = "train";
  j.d = 128;
  j.n_train = 4708;
  j.n_val = 524;
  j.batch_rows = 1024;
  j.epochs = 5;
  const auto back = job_from_json(job_to_json(j));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(job_to_json(*back), job_to_json(j));
  EXPECT_EQ(back->iterations(), 25u);
  auto bad = [&](const std::string& from, const std::string& to) {
    std::string t = job_to_json(j);
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    return job_from_json(t).ok();
  };
  EXPECT_FALSE(bad("\"degree\": 3", "\"degree\": 4"));
  EXPECT_FALSE(bad("\"degree\": 3", "\"degree\": 9"));
  EXPECT_FALSE(bad("\"epochs\": 5", "\"epochs\": 0"));
  EXPECT_FALSE(bad("\"epochs\": 5", "\"epochs\": -5"));
  EXPECT_FALSE(bad("\"d\": 128", "\"d\": 1000000"));
  EXPECT_FALSE(bad("\"preset\": \"train\"", "\"preset\": \"weak\""));
  EXPECT_FALSE(bad("\"alpha\": 1.0", "\"alpha\": \"1\""));
  EXPECT_FALSE(bad("\"nesterov\": true", "\"nesterov\": 1"));
  EXPECT_FALSE(bad("\"version\": 1", "\"version\": 2"));
  EXPECT_FALSE(bad("\"n_train\": 4708,", ""));
  EXPECT_FALSE(job_from_json("").ok());
  EXPECT_FALSE(job_from_json("[1,2]").ok());
  EXPECT_FALSE(job_from_json("{\"format\": 3}").ok());
}

TEST(TrainEncrypted, CiphertextListReaderRefusesMalformedFiles) {
  const auto ctx = ckks::Context::create(ckks::bootstrap_preset("test-train").params);
  ckks::KeyGenerator keygen(ctx, std::make_unique<SeededRng>(seed_from_u64(3)));
  ckks::Encryptor enc(ctx, keygen.create_public_key());
  ckks::Encoder encoder(ctx);
  std::vector<ckks::Ciphertext> cts;
  for (int i = 0; i < 2; ++i) cts.push_back(enc.encrypt(encoder.encode(std::vector<double>(ctx->slots(), 0.5 * i))));
  const Bytes good = internal::encode_ciphertexts(*ctx, cts);
  const auto back = internal::decode_ciphertexts(*ctx, good);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 2u);
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{9}, good.size() / 2, good.size() - 1}) {
    EXPECT_FALSE(internal::decode_ciphertexts(*ctx, std::span(good).first(cut)).ok()) << cut;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(internal::decode_ciphertexts(*ctx, trailing).ok());
  Bytes magic = good;
  magic[0] ^= 1;
  EXPECT_FALSE(internal::decode_ciphertexts(*ctx, magic).ok());
  Bytes count = good;
  count[6] = 0xFF;
  count[7] = 0xFF;  // 65k+ entries claimed
  EXPECT_FALSE(internal::decode_ciphertexts(*ctx, count).ok());
}

TEST(TrainEncrypted, FeaturesMustBeBinaryAndConsistent) {
  TempDir dir;
  write_features(dir / "f.npz", 3, 8, 4, 4, true);
  const auto r = load_features(dir / "f.npz", "train");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("binary"), std::string::npos);
  EXPECT_FALSE(load_features(dir / "f.npz", "nosuch").ok());
  EXPECT_FALSE(load_features(dir / "missing.npz", "train").ok());
  const auto v = load_features(dir / "f.npz", "val");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->n, 4u);
  EXPECT_EQ(v->d, 3u);
}

TEST(TrainEncrypted, NormalizerStandardisesAndScalesRows) {
  FeatureSplit s;
  s.n = 4;
  s.d = 2;
  s.x = {1, 10, 3, 10, 5, 10, 7, 10};  // the second feature is constant
  s.y = {0, 1, 0, 1};
  const auto z = Normalizer::fit(s, 1.0);
  EXPECT_DOUBLE_EQ(z.mean[0], 4.0);
  EXPECT_DOUBLE_EQ(z.inv_std[1], 0.0);
  EXPECT_NEAR(z.row_scale, 1 / std::sqrt(3.0), 1e-15);
  z.apply(s);
  double sum = 0, sq = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    sum += s.x[2 * i];
    sq += s.x[2 * i] * s.x[2 * i];
    EXPECT_EQ(s.x[2 * i + 1], 0.0);
  }
  EXPECT_NEAR(sum, 0, 1e-12);
  EXPECT_NEAR(sq / 4, 1.0 / 3.0, 1e-12);
}

}  // namespace
}  // namespace heal::apps::he_train
