// Writes the seed corpora of the fl / he_infer fuzz targets: real, valid messages serialised with
// the small test parameters of fuzz_fixtures.h. Every seed is checked with the reader it seeds.
//   build/fuzz/fuzz/fuzz_seed_gen fuzz/corpus
// writes fuzz/corpus/{fl_update,fl_aggregate,fl_he_message,fl_node_store,ledger_record,he_infer_query,
// fl_ensemble,smpc}/seed_* (smpc: the multi-round secure aggregation messages of one setup and round).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fl/messages.h"
#include "fl_ensemble_world.h"
#include "fuzz_fixtures.h"
#include "he_infer/query.h"
#include "heal/core/hash.h"
#include "heal/core/vault.h"
#include "heal/fl/node_store.h"
#include "heal/ledger/block.h"
#include "heal/smpc/secagg_multi.h"

namespace {

using namespace heal;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_seed_gen: %s does not pass its reader\n", what.c_str());
    std::exit(1);
  }
}

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& b) {
  std::filesystem::create_directories(dir);
  const Status s = write_file((dir / name).string(), b);
  check(s.ok(), name + " (write: " + s.message() + ")");
}

// A polynomial over the first `limbs` Q primes with small pseudo-random residues (a stand-in for
// ciphertext data: the readers check shape and ranges, not meaning).
math::RnsPoly poly(const ckks::Context& ctx, std::size_t limbs, bool ntt, std::uint64_t salt) {
  math::RnsPoly p(ctx.n(), limbs, ntt);
  for (std::size_t i = 0; i < limbs; ++i) {
    for (std::size_t k = 0; k < ctx.n(); ++k) {
      p.limb(i)[k] = (salt * 1000003 + i * 7919 + k * 104729) % ctx.q(i).value();
    }
  }
  return p;
}

Bytes with_selector(std::uint8_t selector, const Bytes& msg) {
  Bytes b{selector};
  b.insert(b.end(), msg.begin(), msg.end());
  return b;
}

// Records what every party receives (fl_ensemble seeds).
class RecordingTransport final : public fl::Transport {
 public:
  Status send(fl::Message m) override { return net_.send(std::move(m)); }
  std::optional<fl::Message> receive(fl::PartyId party) override {
    auto m = net_.receive(party);
    if (m) inbox[party].push_back(*m);
    return m;
  }
  void wait(fl::PartyId party, std::chrono::milliseconds t) override { net_.wait(party, t); }
  fl::TrafficCounters counters(fl::PartyId party) const override { return net_.counters(party); }
  std::map<fl::PartyId, std::vector<fl::Message>> inbox;

 private:
  fl::InProcessTransport net_;
};

// One real round of the fuzz world (fl_ensemble_world.h); per role, the frames it received: the
// whole sequence (selector | frames) and each message alone.
void ensemble_seeds(const std::filesystem::path& dir) {
  namespace fz = heal::fuzz::ensemble;
  fz::World world;
  RecordingTransport net;
  fz::Roles roles(world, net);
  check(roles.coordinator->start_round(1).ok(), "ensemble round start");
  for (int guard = 0; !roles.coordinator->round_finished(); ++guard) {
    check(guard < 10000, "ensemble round terminates");
    bool moved = false;
    auto c = roles.coordinator->poll();
    check(c.ok(), "coordinator poll");
    moved = moved || *c;
    for (auto& s : roles.sites) moved = (*s->poll()) || moved;
    for (auto& n : roles.nodes) {
      auto r = n->poll();
      check(r.ok(), "node poll");
      moved = moved || *r;
    }
    if (!moved) {
      for (auto& n : roles.nodes) (void)n->on_idle();
      (void)roles.coordinator->on_idle();
    }
  }
  for (int i = 0; i < 8; ++i) {  // the consensus, the nodes' distillation
    for (auto& n : roles.nodes) (void)n->poll();
  }
  check(roles.coordinator->last_round().completed, "ensemble round completes");
  check(roles.nodes[0]->last_round().distilled, "institution 1 distils the consensus");
  const std::pair<std::uint8_t, fl::PartyId> targets[] = {{0, fl::kCoordinatorId}, {1, 1}, {2, 3}, {3, 3000}};
  for (const auto& [sel, id] : targets) {
    const auto& msgs = net.inbox[id];
    check(!msgs.empty(), "ensemble role " + std::to_string(id) + " received messages");
    Bytes all{sel};
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      fz::put_frame(all, msgs[i]);
      Bytes one{sel};
      fz::put_frame(one, msgs[i]);
      write(dir, "seed_" + std::to_string(sel) + "_msg" + std::to_string(i), one);
    }
    write(dir, "seed_" + std::to_string(sel) + "_round", all);
  }
  // The consensus (decode_doubles) and a round start header (get_session).
  const auto& consensus = net.inbox[1].back();
  check(consensus.kind == fl::MessageKind::kEnsembleConsensus, "institution 1's last message is the consensus");
  check(fl::ensemble::internal::decode_doubles(consensus.payload, smpc::kSecAggMaxVectorLen).ok(), "consensus");
  write(dir, "seed_4_consensus", with_selector(4, consensus.payload));
  write(dir, "seed_5_round_start", with_selector(5, net.inbox[1].front().payload));
  write(dir, "seed_5_site_round", with_selector(5, net.inbox[3000].front().payload));
}

// smpc: every message kind of multi-round secure aggregation (4 clients, t = 3, R = 2), from one
// setup and one round in which client 4 drops before its input (so masking-key shares appear too).
void smpc_multi_seeds(const std::filesystem::path& dir) {
  using namespace heal::smpc;
  SeededRng rng(seed_from_u64(17));
  SecAggMultiConfig cfg;
  cfg.base = SecAggConfig{4, 3, 5, {}, 3};
  cfg.rounds = 2;
  rng.fill(cfg.base.session);
  std::vector<SecAggIdentity> ids;
  std::vector<PublicKey> vks;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(make_secagg_identity(rng));
    vks.push_back(ids.back().verify_key);
  }
  std::vector<std::unique_ptr<SecAggMultiClient>> cs;
  for (std::uint32_t u = 0; u < 4; ++u)
    cs.push_back(std::make_unique<SecAggMultiClient>(cfg, u + 1, std::move(ids[u]), vks, rng));
  SecAggMultiServer server(cfg, vks);
  std::vector<std::pair<std::string, Bytes>> out;
  auto ok = [](const auto& r, const char* what) {
    check(r.ok(), std::string("smpc ") + what);
    return *r;
  };
  for (auto& c : cs) {
    out.emplace_back("advertise", c->advertise_keys());
    check(server.receive_advertise(out.back().second).ok(), "smpc advertise");
  }
  const Bytes list = ok(server.key_list(), "key list");
  out.emplace_back("key_list", list);
  for (auto& c : cs) {
    out.emplace_back("share_keys", ok(c->share_keys(list), "share keys"));
    check(server.receive_shares(out.back().second).ok(), "smpc share keys");
  }
  for (auto& [v, b] : ok(server.route_shares(), "route")) {
    out.emplace_back("shares_for_client", b);
    check(cs[v - 1]->receive_shares(b).ok(), "smpc receive shares");
  }
  check(server.begin_round(1).ok(), "smpc begin round");
  const std::vector<std::uint64_t> x = {1, 2, 3, static_cast<std::uint64_t>(-4), 5};
  for (std::size_t u = 0; u < 3; ++u) {
    out.emplace_back("masked_input", ok(cs[u]->masked_input(1, x), "masked input"));
    check(server.receive_masked_input(out.back().second).ok(), "smpc masked input");
  }
  const Bytes surv = ok(server.survivors(), "survivors");
  out.emplace_back("survivors", surv);
  for (std::size_t u = 0; u < 3; ++u) {
    out.emplace_back("survivor_sig", ok(cs[u]->sign_survivors(surv), "signature"));
    check(server.receive_survivor_signature(out.back().second).ok(), "smpc signature");
  }
  const Bytes req = ok(server.unmask_request(), "unmask request");
  out.emplace_back("unmask_request", req);
  for (std::size_t u = 0; u < 3; ++u) {
    out.emplace_back("unmask_response", ok(cs[u]->unmask(req), "unmask"));
    check(server.receive_unmask(out.back().second).ok(), "smpc unmask");
  }
  check(server.finish().ok(), "smpc finish");
  for (std::size_t i = 0; i < out.size(); ++i)
    write(dir, "seed_v2_" + out[i].first + "_" + std::to_string(i), out[i].second);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root(argv[1]);
  smpc_multi_seeds(root / "smpc");
  const fl::he::Shared& sh = fuzz::he_shared();
  const ckks::Context& ctx = *sh.ctx;

  // fl_he_message: contribution, aggregate and decryption share, for each expected length.
  Bytes aggregate_msg;
  for (std::uint8_t li = 0; li < 4; ++li) {
    const std::size_t length = fuzz::kHeLengths[li];
    const std::size_t nchunks = fl::he::chunk_count(sh, length);
    std::vector<Bytes> cts, compact_cts, shares;
    for (std::size_t c = 0; c < nchunks; ++c) {
      const ckks::SeededCiphertext ct(fl::he::chunk_seed(sh.crs, fuzz::kHeRound, c),
                                      poly(ctx, ctx.q_count(), false, c + li), sh.delta, 0);
      cts.push_back(ckks::save(ctx, ct));
      compact_cts.push_back(ckks::save_compact(ctx, ct, sh.drop_bits));
      ckks::multiparty::DecryptionShare share;
      share.party = 2;
      share.parties = {1, 2};
      share.h = poly(ctx, ctx.q_count(), true, 100 + c);
      shares.push_back(ckks::save_compact(ctx, share, sh.drop_bits));
    }
    const fl::PartyId one[] = {1}, set[] = {0, 1, 3};
    const Bytes msgs[3] = {fl::he::write_message(sh, fl::he::kContribution, fuzz::kHeRound, one, length, compact_cts),
                           fl::he::write_message(sh, fl::he::kAggregate, fuzz::kHeRound, set, length, cts),
                           fl::he::write_message(sh, fl::he::kShare, fuzz::kHeRound, one, length, shares)};
    const std::uint8_t kinds[3] = {fl::he::kContribution, fl::he::kAggregate, fl::he::kShare};
    for (std::uint8_t k = 0; k < 3; ++k) {
      auto p = fl::he::read_message(sh, msgs[k], kinds[k], fuzz::kHeRound, length);
      check(p.ok(), "he message");
      for (const auto& chunk : p->chunks) {
        check(k == 2   ? fl::he::load_share_chunk(sh, chunk).ok()
              : k == 0 ? fl::he::load_contribution_chunk(sh, chunk).ok()
                       : ckks::load_seeded_ciphertext(ctx, chunk).ok(),
              "he message chunk");
      }
      const std::uint8_t selector = static_cast<std::uint8_t>(k | (li << 2));
      write(root / "fl_he_message", "seed_k" + std::to_string(kinds[k]) + "_len" + std::to_string(length),
            with_selector(selector, msgs[k]));
    }
    if (li == 2) aggregate_msg = msgs[1];
  }

  // fl_aggregate: the coordinator's request for decryption shares.
  {
    fl::internal::AggregateMsg m{aggregate_msg, {0, 1, 3}, {1, 3}, {}};
    const Bytes b = fl::internal::encode_aggregate(m);
    check(fl::internal::decode_aggregate(b).ok(), "aggregate");
    write(root / "fl_aggregate", "seed_he", b);
    m = {Bytes(40, 0x5a), {0, 1, 2, 3}, {0, 1, 2}};
    write(root / "fl_aggregate", "seed_plain", fl::internal::encode_aggregate(m));
  }

  // fl_node_store: a node state (selector 0) and a test-strength vault holding it (selector 1).
  {
    fl::NodeState st;
    st.safeguards.party = 1;
    st.safeguards.decryption_budget = 4096;
    st.safeguards.decryptions_used = 3;
    st.safeguards.contributed_round = fuzz::kHeRound;
    st.safeguards.decrypted_round = fuzz::kHeRound;
    st.safeguards.decrypted_aggregate = blake2b_256(aggregate_msg);
    st.material = SecretBytes(Bytes(64, 0x42));
    const SecretBytes enc = fl::encode_node_state(st);
    const Bytes plain(enc.span().begin(), enc.span().end());
    check(fl::decode_node_state(plain).ok(), "node state");
    write(root / "fl_node_store", "seed_state", with_selector(0, plain));
    auto key = VaultKey::derive("fuzz", VaultKdf::min_for_testing());
    check(key.ok(), "vault key");
    const Bytes vault = vault_seal(*key, plain);
    VaultOpenOptions o;
    o.allow_weak_kdf = true;
    check(vault_open(vault, "fuzz", o).ok(), "vault");
    write(root / "fl_node_store", "seed_vault", with_selector(1, vault));
  }

  // fl_update: a hospital's update with its signed commitment record.
  {
    const auto signer = ledger::Ed25519Signer::from_seed(Seed{1, 2, 3});
    fl::internal::UpdateMsg u;
    u.num_samples = 120;
    u.metrics = {{"train_loss", 0.25}, {"train_acc", 0.9}};
    u.stats = {1.5, 0.25, 3.75, true};
    u.contribution = aggregate_msg;
    ledger::UpdateCommitment c;
    c.round = fuzz::kHeRound;
    c.party_id = 1;
    c.model_version = 3;
    c.model_hash = blake2b_256(Bytes{1, 2, 3});
    c.contribution_hash = blake2b_256(u.contribution);
    c.num_samples = u.num_samples;
    c.clip_norm = 1.5;
    const ledger::Record rec{"fuzz-federation", 1700000000000, c};
    const ledger::Signer* signers[] = {signer.get()};
    u.commitment = ledger::sign_record(rec, signers);
    const Bytes b = fl::internal::encode_update(u);
    check(fl::internal::decode_update(b).ok(), "update");
    write(root / "fl_update", "seed_he", b);
    u.metrics.clear();
    u.contribution = Bytes(24, 0x11);
    write(root / "fl_update", "seed_small", fl::internal::encode_update(u));
  }

  // fl_messages: the other payloads of the round protocol, behind a selector byte (0 model,
  // 1 decryption share, 2 refusal, 3 evaluation).
  {
    Bytes b = fl::internal::encode_model({7, {0.5f, -1.25f, 3.0f}});
    check(fl::internal::decode_model(b).ok(), "model");
    write(root / "fl_messages", "seed_model", with_selector(0, b));
    b = fl::internal::encode_share({0.125, Bytes(48, 0x33)});
    check(fl::internal::decode_share(b).ok(), "share");
    write(root / "fl_messages", "seed_share", with_selector(1, b));
    b = fl::internal::encode_refusal({fl::internal::RefusalCode::kFloodingBudgetExhausted,
                                      "he: flooding budget of this key epoch exhausted; rotate keys", 4096, 0, 0});
    check(fl::internal::decode_refusal(b).ok(), "refusal");
    write(root / "fl_messages", "seed_refusal_budget", with_selector(2, b));
    b = fl::internal::encode_refusal({fl::internal::RefusalCode::kTrainingFailed, "local training failed", 0, 2.5, 0});
    write(root / "fl_messages", "seed_refusal_failed", with_selector(2, b));
    b = fl::internal::encode_evaluation({{"acc", 0.75}, {"loss", 0.5}});
    check(fl::internal::decode_evaluation(b).ok(), "evaluation");
    write(root / "fl_messages", "seed_evaluation", with_selector(3, b));
  }

  // ledger_record: one record of each type, and signature lists of both schemes.
  {
    const auto ed = ledger::Ed25519Signer::from_seed(Seed{4, 5, 6});
    const auto k1 = ledger::Secp256k1Signer::from_seed(Seed{7, 8, 9});
    const Digest h = blake2b_256(Bytes{9, 9});
    ledger::RoundSetup setup;
    setup.key_epoch = 1;
    setup.secure_mode = "threshold-ckks";
    setup.min_contributors = 2;
    setup.decryption_threshold = 2;
    setup.participants = {{0, ledger::Role::kHospital, "a", ed->identity()},
                          {100000, ledger::Role::kCoordinator, "c", k1->identity()}};
    ledger::RoundResult res;
    res.round = 2;
    res.selected = {0, 1};
    res.contributions = {{0, h, 10}, {1, h, 20}};
    res.decryptors = {0, 1};
    res.metrics_json = R"({"val_acc":0.9})";
    const ledger::RecordBody bodies[] = {
        setup,
        ledger::UpdateCommitment{2, 1, 1, h, h, 10, 1.5},
        res,
        ledger::ModelVersion{2, 2, 1, h, 1000, "{}"},
        ledger::RoundOpen{2, 1, h, 1, h, {0, 1, 2}},
        ledger::ContributorSet{2, {{0, h, 10}, {2, h, 30}}, h},
        ledger::EnsembleSetup{{{0, "logreg", 1}, {2, "hecnn(width=8)", 2}}, h, 100, 2, 2, 16, "max(acc-1/C,0.01)"},
        ledger::MemberVersion{2, 3, "hecnn(width=8)", h, 2, 1000},
        ledger::EnsembleRound{2, {{0, 0.4, 0.9, h}, {2, 0.3, 0.8, h}}, h}};
    for (const auto& body : bodies) {
      const ledger::Record rec{"fuzz-federation", 1700000000000, body};
      const Bytes b = ledger::encode_record(rec);
      check(ledger::decode_record(b).ok(), "ledger record");
      write(root / "ledger_record", "seed_type" + std::to_string(static_cast<int>(rec.type())), b);
    }
    const ledger::Signer* both[] = {ed.get(), k1.get()};
    const ledger::SignedRecord sr = ledger::sign_record({"fuzz-federation", 1, ledger::ModelVersion{}}, both);
    write(root / "ledger_record", "seed_signatures", ledger::encode_signatures(sr.signatures));
  }

  // he_infer_query: a batch query and a single-mode result.
  {
    he_infer::internal::Query q;
    q.count = 3;
    for (std::uint64_t i = 0; i < 2; ++i) {
      std::vector<math::RnsPoly> polys;
      polys.push_back(poly(ctx, ctx.q_count() - i, true, 10 + i));
      polys.push_back(poly(ctx, ctx.q_count() - i, true, 20 + i));
      q.cts.emplace_back(std::move(polys), 0x1p30, ctx.n() / 2);
    }
    Bytes b = he_infer::internal::encode_query(ctx, q);
    check(he_infer::internal::decode_query(ctx, b).ok(), "batch query");
    write(root / "he_infer_query", "seed_batch", b);
    q.mode = he_infer::Mode::kSingle;
    q.count = 1;
    q.cts.resize(1);
    b = he_infer::internal::encode_query(ctx, q);
    check(he_infer::internal::decode_query(ctx, b).ok(), "single query");
    write(root / "he_infer_query", "seed_single", b);
    b = he_infer::internal::encode_query(ctx, q, he_infer::internal::kResultMagic);
    check(he_infer::internal::decode_query(ctx, b, he_infer::internal::kResultMagic).ok(), "single result");
    write(root / "he_infer_query", "seed_result", b);
  }
  ensemble_seeds(root / "fl_ensemble");
  std::printf("seeds written under %s\n", root.string().c_str());
  return 0;
}
