// Multi-hospital encrypted training under the collective threshold key (INSECURE small ring):
// three hospitals, a 2-of-3 quorum, the server sees only public keys and ciphertexts.
#include "heal/apps/multi_hospital_training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "apps/ciphertext_file.h"
#include "apps_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"

namespace heal::apps::he_train {
namespace {

MultiHospitalOptions options(const TempDir& dir) {
  MultiHospitalOptions o;
  o.features = dir / "f.npz";
  o.job.preset = "test-collective";
  o.job.allow_insecure = true;
  o.job.hospitals = 3;
  o.job.threshold = 2;
  o.job.epochs = 2;
  o.job.batch_rows = 150;
  o.job.alpha = 2.0;
  return o;
}

TEST(MultiHospital, TrainsOnTheUnionAndMatchesPlaintextNag) {
  TempDir dir;
  // 300 rows, 256 per data ciphertext: hospital 2's rows (100..199) share ciphertext 0 with hospital
  // 1, hospital 3's (200..299) straddle ciphertexts 0 and 1.
  write_features(dir / "f.npz", 7, 300, 16, 80);
  const auto rep = run_multi_hospital(options(dir));
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->server.n_train, 300u);
  EXPECT_EQ(rep->server.rows_per_hospital, (std::vector<std::size_t>{100, 100, 100}));
  EXPECT_EQ(rep->server.train_ciphertexts, 2u);
  EXPECT_EQ(rep->server.iterations, 4u);  // 2 epochs of 2 batches
  EXPECT_EQ(rep->server.refreshes, 1u);   // 12 -> 7 -> 2, refresh, 12 -> 7 -> 2
  EXPECT_TRUE(rep->hospitals_agree);
  EXPECT_LT(rep->max_normalizer_error, 1e-9);  // moments encrypted at scale 2^100
  EXPECT_LT(rep->max_weight_error, 1e-3) << "encrypted weights vs plaintext NAG on the union";
  ASSERT_EQ(rep->rows.size(), 3u);
  std::printf("weights vs plaintext NAG: %.2e (predicted refresh error std %.2e); normaliser %.2e; test ACC %.4f vs %.4f\n",
              rep->max_weight_error, rep->server.predicted_refresh_error_std, rep->max_normalizer_error,
              rep->rows[0].test_acc, rep->rows[1].test_acc);
  EXPECT_NEAR(rep->rows[0].test_acc, rep->rows[1].test_acc, 1.0 / 80 + 1e-12);
  EXPECT_GT(rep->rows[0].test_acc, 0.8);
  // Every hospital uploaded something; the server's traffic is the sum of the rest.
  ASSERT_EQ(rep->traffic.size(), 4u);
  for (std::size_t p = 1; p <= 3; ++p) EXPECT_GT(rep->traffic[p].sent, 0u);
}

// The attack: every party tries to decrypt hospital 2's encrypted rows with what it holds. Each
// hospital's additive secret s_i and its Shamir share fail; the server holds no secret and never
// receives a Shamir or decryption share. Positive control: s_1 + s_2 + s_3 (which nobody holds)
// decrypts them.
TEST(MultiHospital, NoPartyHoldsAKeyThatDecryptsTheRows) {
  TempDir dir;
  write_features(dir / "f.npz", 7, 300, 16, 80);
  FeatureSplit train = load_features(dir / "f.npz", "train").value();
  CollectiveJob job = options(dir).job;
  job.crs = random_seed();
  job.epochs = 1;
  InProcessPartyNetwork net;
  std::vector<std::unique_ptr<CollectiveHospital>> hs;
  for (std::size_t h = 0; h < 3; ++h) {
    FeatureSplit part;
    part.n = 100;
    part.d = 7;
    part.x.assign(train.x.begin() + long(h * 700), train.x.begin() + long((h + 1) * 700));
    part.y.assign(train.y.begin() + long(h * 100), train.y.begin() + long((h + 1) * 100));
    hs.push_back(std::make_unique<CollectiveHospital>(Party(h + 1), std::move(part), net, true));
    net.attach(Party(h + 1), hs.back().get());
  }
  Bytes rows_of_2;  // hospital 2's reply to kEncryptRows (15)
  bool last_request_was_encrypt = false;
  std::set<std::uint8_t> kinds_seen_by_server;
  net.set_observer([&](Party from, Party to, bool is_reply, Bytes& b) {
    if (!is_reply) {
      last_request_was_encrypt = !b.empty() && b[0] == 15 && to == 2;
      if (from != 0 && to != 0) return;
      if (!b.empty()) kinds_seen_by_server.insert(b[0]);
    } else if (last_request_was_encrypt && from == 2) {
      rows_of_2 = b;
      last_request_was_encrypt = false;
    }
  });
  CollectiveServer server(job, net);
  const auto rep = server.run();
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(kinds_seen_by_server.count(8), 0u) << "a Shamir share went through the server";
  EXPECT_EQ(kinds_seen_by_server.count(13), 0u) << "a decryption share went through the server";
  ASSERT_GT(rows_of_2.size(), 8u);

  const auto pre = collective_preset("test-collective");
  const auto ctx = ckks::Context::create(pre.params);
  const auto cts = internal::decode_ciphertexts(*ctx, std::span<const std::uint8_t>(rows_of_2).subspan(8));
  ASSERT_TRUE(cts.ok()) << cts.status().message();
  ASSERT_EQ(cts->size(), 1u);  // rows 100..199 lie in ciphertext 0
  const auto& ct = (*cts)[0];
  // What hospital 2 encrypted: its normalised rows z_i = y'_i (1, x_i) at rows 100..199 (d' = 8).
  FeatureSplit mine;
  mine.n = 100;
  mine.d = 7;
  mine.x.assign(train.x.begin() + 700, train.x.begin() + 1400);
  mine.y.assign(train.y.begin() + 100, train.y.begin() + 200);
  hs[1]->normalizer().apply(mine);
  const auto z = heal::he_train::make_z(mine.x, mine.y, 7);
  const ckks::Encoder enc(ctx);
  auto error_with = [&](const ckks::SecretKey& sk) {
    const auto vals = enc.decode_real(ckks::Decryptor(ctx, sk).decrypt(ct));
    double err = 0;
    for (std::size_t i = 0; i < 100; ++i)
      for (std::size_t c = 0; c < 8; ++c) err = std::max(err, std::abs(vals[(100 + i) * 8 + c] - z[i * 8 + c]));
    return err;
  };
  math::RnsPoly sum = hs[0]->secret_for_attack_test().poly();
  for (std::size_t h = 1; h < 3; ++h) sum.add_inplace(hs[h]->secret_for_attack_test().poly(), ctx->key_basis());
  EXPECT_LT(error_with(ckks::SecretKey(sum)), 1e-6) << "positive control: the collective secret decrypts";
  for (std::size_t h = 0; h < 3; ++h) {
    EXPECT_GT(error_with(hs[h]->secret_for_attack_test()), 1e3) << "hospital " << h + 1 << "'s own secret";
    EXPECT_GT(error_with(hs[h]->threshold_share_for_attack_test()), 1e3) << "hospital " << h + 1 << "'s Shamir share";
  }
}

TEST(MultiHospital, RefusesBadJobsAndInsecureWithoutOptIn) {
  TempDir dir;
  write_features(dir / "f.npz", 3, 30, 4, 4);
  auto o = options(dir);
  o.job.threshold = 1;  // t >= 2 and t > n / 2
  EXPECT_FALSE(run_multi_hospital(o).ok());
  o = options(dir);
  o.job.hospitals = 4;  // t = 2 is not a majority of 4
  EXPECT_FALSE(run_multi_hospital(o).ok());
  o = options(dir);
  o.job.allow_insecure = false;
  const auto r = run_multi_hospital(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("128-bit"), std::string::npos) << r.status().message();
  // A hospital refuses the insecure preset unless it opted in itself, whatever the job says.
  InProcessPartyNetwork net;
  FeatureSplit part = load_features(dir / "f.npz", "train").value();
  CollectiveHospital h1(1, part, net, /*allow_insecure=*/false), h2(2, part, net, true), h3(3, part, net, true);
  net.attach(1, &h1);
  net.attach(2, &h2);
  net.attach(3, &h3);
  CollectiveJob job = options(dir).job;
  job.crs = random_seed();
  const auto rs = CollectiveServer(job, net).run();
  ASSERT_FALSE(rs.ok());
  EXPECT_NE(rs.status().message().find("did not opt in"), std::string::npos) << rs.status().message();
}

// A peer message from the server, a server message from a peer, garbage and truncations: errors.
TEST(MultiHospital, HospitalRejectsMalformedMessages) {
  TempDir dir;
  write_features(dir / "f.npz", 3, 30, 4, 4);
  InProcessPartyNetwork net;
  CollectiveHospital h(1, load_features(dir / "f.npz", "train").value(), net, true);
  const Bytes shamir_from_server{8, 0, 0};
  EXPECT_FALSE(h.handle(0, shamir_from_server).ok());
  const Bytes setup_from_peer{2};
  EXPECT_FALSE(h.handle(2, setup_from_peer).ok());
  const Bytes unknown{200};
  EXPECT_FALSE(h.handle(0, unknown).ok());
  EXPECT_FALSE(h.handle(0, Bytes{}).ok());
  const Bytes refresh_before_setup{16, 1, 2, 3};
  EXPECT_FALSE(h.handle(0, refresh_before_setup).ok());
  const Bytes truncated_setup{2, 5, 0};
  EXPECT_FALSE(h.handle(0, truncated_setup).ok());
}


// Mutations of every real message hospital 1 received (truncated, bytes flipped, sender changed)
// after a whole run: each is answered, with an error or not, and nothing crashes (the ASan CI
// stage runs this too; fuzz/apps_collective_fuzz.cpp is the libFuzzer version).
TEST(MultiHospital, HospitalSurvivesMutatedMessages) {
  TempDir dir;
  write_features(dir / "f.npz", 3, 60, 4, 4);
  FeatureSplit train = load_features(dir / "f.npz", "train").value();
  InProcessPartyNetwork net;
  std::vector<std::unique_ptr<CollectiveHospital>> hs;
  for (Party p = 1; p <= 3; ++p) {
    hs.push_back(std::make_unique<CollectiveHospital>(p, train, net, true));
    net.attach(p, hs.back().get());
  }
  std::vector<std::pair<Party, Bytes>> to_1;
  net.set_observer([&](Party from, Party to, bool is_reply, Bytes& b) {
    if (!is_reply && to == 1) to_1.emplace_back(from, b);
  });
  CollectiveJob job = options(dir).job;
  job.crs = random_seed();
  job.epochs = 1;
  job.batch_rows = 90;
  ASSERT_TRUE(CollectiveServer(job, net).run().ok());
  net.set_observer({});
  ASSERT_GT(to_1.size(), 10u);
  SeededRng rng(seed_from_u64(9));
  std::size_t accepted = 0;
  for (const auto& [from, msg] : to_1) {
    for (int trial = 0; trial < 12; ++trial) {
      Bytes m = msg;
      const auto r = rng.uniform(3);
      if (r == 0 && !m.empty()) m.resize(rng.uniform(m.size()));
      if (r == 1 && !m.empty())
        for (int k = 0; k < 4; ++k) m[rng.uniform(m.size())] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
      const Party sender = r == 2 ? static_cast<Party>(rng.uniform(5)) : from;
      if (hs[0]->handle(sender, m).ok()) ++accepted;
    }
  }
  std::printf("%zu mutated messages, %zu accepted\n", to_1.size() * 12, accepted);
}

}  // namespace
}  // namespace heal::apps::he_train
