// Secure ensemble diagnosis: SMPC and HE modes and their in-process drivers (see the header).
#include "heal/apps/ensemble_diagnosis.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/keys.h"
#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/circuit.h"
#include "heal/he_infer/privacy.h"
#include "heal/nn/forward.h"
#include "heal/nn/metrics.h"

namespace heal::apps::ensemble {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_weights(const SmpcSessionConfig& cfg) {
  HEAL_REQUIRE(cfg.weights.size() == cfg.num_members,
               "ensemble SMPC: " << cfg.num_members << " members but " << cfg.weights.size() << " weights");
  for (double w : cfg.weights)
    HEAL_REQUIRE(std::isfinite(w) && w > 0 && w <= 1e6, "ensemble SMPC: weights must be finite in (0, 1e6], got " << w);
  HEAL_REQUIRE(cfg.num_classes >= 1 && cfg.count >= 1, "ensemble SMPC: need at least one class and one query");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SMPC mode
// ---------------------------------------------------------------------------------------------

smpc::SecAggConfig SmpcSessionConfig::secagg() const {
  smpc::SecAggConfig c;
  c.num_clients = num_members;
  c.threshold = threshold;
  c.vector_len = static_cast<std::uint64_t>(count) * num_classes;
  c.session = session;
  return c;
}

SmpcMember::SmpcMember(SmpcSessionConfig cfg, std::uint32_t id, smpc::SecAggIdentity identity,
                       std::vector<smpc::PublicKey> verify_keys, ProbabilityFn predict, Rng& rng)
    : cfg_(std::move(cfg)),
      predict_(std::move(predict)),
      client_((check_weights(cfg_), cfg_.secagg()), id, std::move(identity), std::move(verify_keys), rng) {
  HEAL_REQUIRE(predict_, "SmpcMember: no model callback");
}

Result<Bytes> SmpcMember::masked_input(std::span<const std::uint8_t> shares_for_me, std::span<const float> images) {
  HEAL_REQUIRE(images.size() % cfg_.count == 0,
               "SmpcMember: " << images.size() << " floats for " << cfg_.count << " images");
  const std::vector<double> p = predict_(images, cfg_.count);
  HEAL_REQUIRE(p.size() == cfg_.count * cfg_.num_classes,
               "SmpcMember: the model returned " << p.size() << " values, expected " << cfg_.count * cfg_.num_classes);
  const double w = cfg_.weights[id() - 1];
  std::vector<double> wp(p.size());
  // The bound |w p| < 2^(63-f) / n (fixed_point.h) keeps the sum decodable; probabilities are in [0, 1].
  const double limit = smpc::fixed_point_limit(cfg_.frac_bits) / cfg_.num_members;
  for (std::size_t k = 0; k < p.size(); ++k) {
    wp[k] = w * p[k];
    HEAL_REQUIRE(std::isfinite(wp[k]) && std::fabs(wp[k]) < limit, "SmpcMember: output " << p[k] << " out of range");
  }
  encoded_ = smpc::fixed_encode(wp, cfg_.frac_bits);
  return client_.masked_input(shares_for_me, encoded_);
}

SmpcQuerier::SmpcQuerier(SmpcSessionConfig cfg, std::vector<smpc::PublicKey> verify_keys)
    : cfg_(std::move(cfg)), server_((check_weights(cfg_), cfg_.secagg()), std::move(verify_keys)) {}

Result<EnsembleOutput> SmpcQuerier::finish() {
  HEAL_ASSIGN_OR_RETURN(auto sum, server_.finish());
  EnsembleOutput out;
  out.count = cfg_.count;
  out.num_classes = cfg_.num_classes;
  out.weighted_sum = smpc::fixed_decode(sum, cfg_.frac_bits);
  out.members = server_.aggregated_clients();
  double wsum = 0;
  for (std::uint32_t id : out.members) wsum += cfg_.weights[id - 1];
  out.mean = out.weighted_sum;
  for (auto& v : out.mean) v /= wsum;
  return out;
}

Result<EnsembleOutput> smpc_diagnose(const std::vector<SmpcMemberSpec>& members, std::span<const float> images,
                                     std::size_t count, std::size_t num_classes, Rng& rng, std::uint32_t threshold,
                                     const std::vector<int>& drop_at, RunStats* stats) {
  const auto t_start = Clock::now();
  const auto n = static_cast<std::uint32_t>(members.size());
  HEAL_REQUIRE(n >= 2, "smpc_diagnose: secure aggregation needs at least 2 members, got " << n);
  HEAL_REQUIRE(drop_at.empty() || drop_at.size() == n, "smpc_diagnose: drop_at needs one entry per member");
  SmpcSessionConfig cfg;
  cfg.num_members = n;
  cfg.threshold = threshold ? threshold : n / 2 + 1;
  cfg.num_classes = num_classes;
  cfg.count = count;
  for (const auto& m : members) cfg.weights.push_back(m.weight);
  rng.fill(cfg.session);
  smpc::validate(cfg.secagg());

  std::vector<smpc::SecAggIdentity> ids;
  std::vector<smpc::PublicKey> vks;
  for (std::uint32_t u = 0; u < n; ++u) {
    ids.push_back(smpc::make_secagg_identity(rng));
    vks.push_back(ids.back().verify_key);
  }
  std::vector<std::unique_ptr<SmpcMember>> mem;
  for (std::uint32_t u = 0; u < n; ++u)
    mem.push_back(std::make_unique<SmpcMember>(cfg, u + 1, std::move(ids[u]), vks, members[u].predict, rng));
  SmpcQuerier q(cfg, vks);
  smpc::SecAggServer& srv = q.server();

  RunStats local;
  RunStats& st = stats ? *stats : local;
  st = RunStats{};
  st.member_sent.assign(n, 0);
  st.member_received.assign(n, 0);
  auto alive = [&](std::size_t u, int round) { return drop_at.empty() || drop_at[u] > round; };
  double qs = 0, ms = 0;
  auto timed = [](double& acc, auto&& f) {
    const auto t0 = Clock::now();
    auto r = f();
    acc += since(t0);
    return r;
  };
  // member u -> querier
  auto up = [&](std::size_t u, const Bytes& b, auto&& deliver) -> Status {
    st.member_sent[u] += b.size();
    st.querier_received += b.size();
    st.querier_inbox.push_back(b);
    const Status s = timed(qs, [&] { return deliver(std::span<const std::uint8_t>(b)); });
    return s.ok() ? s : s.with_context("member " + std::to_string(u + 1));
  };
  // querier -> member u
  auto down = [&](std::size_t u, std::size_t bytes) {
    st.querier_sent += bytes;
    st.member_received[u] += bytes;
  };

  for (std::size_t u = 0; u < n; ++u) {
    if (!alive(u, 0)) continue;
    const Bytes m = timed(ms, [&] { return mem[u]->advertise_keys(); });
    HEAL_RETURN_IF_ERROR(up(u, m, [&](auto b) { return srv.receive_advertise(b); }));
  }
  HEAL_ASSIGN_OR_RETURN(const Bytes key_list, timed(qs, [&] { return srv.key_list(); }));
  for (std::size_t u = 0; u < n; ++u) {
    if (!alive(u, 1)) continue;
    down(u, key_list.size());
    HEAL_ASSIGN_OR_RETURN(const Bytes m, timed(ms, [&] { return mem[u]->share_keys(key_list); }));
    HEAL_RETURN_IF_ERROR(up(u, m, [&](auto b) { return srv.receive_shares(b); }));
  }
  HEAL_ASSIGN_OR_RETURN(const auto routed, timed(qs, [&] { return srv.route_shares(); }));
  for (const auto& entry : routed) {
    // Not a structured binding: clang < 16 cannot capture one in the lambda below (fuzz preset).
    const std::size_t u = entry.first - 1;
    const auto& bytes = entry.second;
    if (!alive(u, 2)) continue;
    down(u, bytes.size() + images.size_bytes());  // the routed shares and the query images, in the clear
    HEAL_ASSIGN_OR_RETURN(const Bytes m, timed(ms, [&] { return mem[u]->masked_input(bytes, images); }));
    HEAL_RETURN_IF_ERROR(up(u, m, [&](auto b) { return srv.receive_masked_input(b); }));
  }
  HEAL_ASSIGN_OR_RETURN(const Bytes survivors, timed(qs, [&] { return srv.survivors(); }));
  const std::vector<std::uint32_t> u3 = srv.aggregated_clients();
  for (std::uint32_t v : u3) {
    const std::size_t u = v - 1;
    if (!alive(u, 3)) continue;
    down(u, survivors.size());
    HEAL_ASSIGN_OR_RETURN(const Bytes m, timed(ms, [&] { return mem[u]->sign_survivors(survivors); }));
    HEAL_RETURN_IF_ERROR(up(u, m, [&](auto b) { return srv.receive_survivor_signature(b); }));
  }
  HEAL_ASSIGN_OR_RETURN(const Bytes request, timed(qs, [&] { return srv.unmask_request(); }));
  for (std::uint32_t v : u3) {
    const std::size_t u = v - 1;
    if (!alive(u, 4)) continue;
    down(u, request.size());
    HEAL_ASSIGN_OR_RETURN(const Bytes m, timed(ms, [&] { return mem[u]->unmask(request); }));
    HEAL_RETURN_IF_ERROR(up(u, m, [&](auto b) { return srv.receive_unmask(b); }));
  }
  auto out = timed(qs, [&] { return q.finish(); });
  st.querier_seconds = qs;
  st.member_seconds = ms;
  st.seconds = since(t_start);
  return out;
}

// ---------------------------------------------------------------------------------------------
// HE mode
// ---------------------------------------------------------------------------------------------

namespace {

// Message framing: u32 magic, u16 version, then the fields below. All parsed with ByteReader.
constexpr std::uint32_t kBundleMagic = 0x42454548;  // "HEEB": querier -> members, aggregator (public keys)
constexpr std::uint32_t kQueryMagic = 0x51454548;   // "HEEQ": querier -> members (seeded ciphertexts)
constexpr std::uint32_t kShareMagic = 0x4c454548;   // "HEEL": member -> aggregator (weighted logits)
constexpr std::uint32_t kSumMagic = 0x53454548;     // "HEES": aggregator -> querier (the sum)
constexpr std::uint16_t kVersion = 1;
constexpr std::uint32_t kMaxMembers = 1024;
constexpr std::uint32_t kMaxCiphertexts = 1u << 20;
constexpr std::uint64_t kMaxObjectBytes = std::uint64_t{1} << 32;
constexpr int kMaxWeightBits = 20, kMinWeightBits = 6;

void put_blob(ByteWriter& w, std::span<const std::uint8_t> b) {
  w.put<std::uint64_t>(b.size());
  w.put_bytes(b);
}
Status get_blob(ByteReader& r, std::span<const std::uint8_t>* b) {
  std::uint64_t len = 0;
  HEAL_RETURN_IF_ERROR(r.get(&len));
  if (len > kMaxObjectBytes) return Status::corruption("object of " + std::to_string(len) + " bytes exceeds limit");
  return r.get_bytes(static_cast<std::size_t>(len), b);
}
Status get_magic(ByteReader& r, std::uint32_t want, const char* what) {
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  HEAL_RETURN_IF_ERROR(r.get(&magic));
  if (magic != want) return Status::invalid_argument(std::string("not an ensemble ") + what + " message");
  HEAL_RETURN_IF_ERROR(r.get(&version));
  if (version < 1 || version > kVersion)
    return Status::unsupported(std::string("ensemble ") + what + " message version " + std::to_string(version));
  return {};
}

struct Bundle {
  ckks::ContextPtr ctx;
  ckks::PublicKey pk;
  ckks::RelinKey rk;
  std::uint32_t members = 0, classes = 0, depth = 0;
  nn::Shape input;
};

Result<Bundle> parse_bundle(std::span<const std::uint8_t> bytes, bool allow_insecure, bool keys) {
  ByteReader r(bytes);
  HEAL_RETURN_IF_ERROR(get_magic(r, kBundleMagic, "key bundle"));
  Bundle b;
  std::int32_t c = 0, h = 0, w = 0;
  HEAL_RETURN_IF_ERROR(r.get(&b.members));
  HEAL_RETURN_IF_ERROR(r.get(&b.classes));
  HEAL_RETURN_IF_ERROR(r.get(&b.depth));
  HEAL_RETURN_IF_ERROR(r.get(&c));
  HEAL_RETURN_IF_ERROR(r.get(&h));
  HEAL_RETURN_IF_ERROR(r.get(&w));
  if (b.members < 1 || b.members > kMaxMembers || b.classes < 1 || c < 1 || h < 1 || w < 1)
    return Status::corruption("key bundle: bad member count, classes or input shape");
  b.input = {c, h, w};
  std::span<const std::uint8_t> params, pk, rk;
  HEAL_RETURN_IF_ERROR(get_blob(r, &params));
  HEAL_RETURN_IF_ERROR(get_blob(r, &pk));
  HEAL_RETURN_IF_ERROR(get_blob(r, &rk));
  if (!r.at_end()) return Status::corruption("key bundle: trailing bytes");
  ckks::ParamsLoadOptions lo;
  lo.allow_insecure = allow_insecure;
  HEAL_ASSIGN_OR_RETURN(b.ctx, ckks::load_params(params, lo));
  if (keys) {
    HEAL_ASSIGN_OR_RETURN(b.pk, ckks::load_public_key(*b.ctx, pk));
    HEAL_ASSIGN_OR_RETURN(b.rk, ckks::load_relin_key(*b.ctx, rk));
  }
  return b;
}

struct CtList {
  std::uint64_t count = 0;
  std::vector<ckks::Ciphertext> cts;
};

Bytes encode_cts(const ckks::Context& ctx, std::uint32_t magic, std::uint64_t count,
                 const std::vector<ckks::Ciphertext>& cts) {
  ByteWriter w;
  w.put(magic);
  w.put(kVersion);
  w.put(count);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(cts.size()));
  for (const auto& ct : cts) put_blob(w, ckks::save(ctx, ct));
  return w.take();
}

Result<CtList> decode_cts(const ckks::Context& ctx, std::span<const std::uint8_t> bytes, std::uint32_t magic,
                          const char* what, std::uint32_t expected_cts, bool seeded) {
  ByteReader r(bytes);
  HEAL_RETURN_IF_ERROR(get_magic(r, magic, what));
  CtList l;
  std::uint32_t k = 0;
  HEAL_RETURN_IF_ERROR(r.get(&l.count));
  HEAL_RETURN_IF_ERROR(r.get(&k));
  if (l.count < 1 || l.count > ctx.slots())
    return Status::corruption(std::string(what) + ": image count " + std::to_string(l.count) + " not in [1, N/2]");
  if (k != expected_cts || k > kMaxCiphertexts)
    return Status::invalid_argument(std::string(what) + ": " + std::to_string(k) + " ciphertexts, expected " +
                                    std::to_string(expected_cts));
  l.cts.reserve(k);
  for (std::uint32_t i = 0; i < k; ++i) {
    std::span<const std::uint8_t> b;
    HEAL_RETURN_IF_ERROR(get_blob(r, &b));
    if (seeded) {
      HEAL_ASSIGN_OR_RETURN(auto sct, ckks::load_seeded_ciphertext(ctx, b));
      l.cts.push_back(sct.expand(ctx));
    } else {
      HEAL_ASSIGN_OR_RETURN(auto ct, ckks::load_ciphertext(ctx, b));
      l.cts.push_back(std::move(ct));
    }
  }
  if (!r.at_end()) return Status::corruption(std::string(what) + ": trailing bytes");
  return l;
}

}  // namespace

HeMemberInfo he_member_info(const nn::ModelIr& model) {
  he_infer::Circuit c;
  try {
    c = he_infer::compile(model);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("ensemble HE mode: member model '") + model.meta.architecture +
                                "' is not HE-evaluable and cannot join HE mode (use SMPC mode): " + e.what());
  }
  return {model.input, c.num_classes, c.depth()};
}

struct HeQuerier::Keys {
  ckks::ContextPtr ctx;
  std::unique_ptr<ckks::KeyGenerator> kg;
  std::unique_ptr<ckks::Encoder> enc;
};

HeQuerier::HeQuerier(const std::vector<HeMemberInfo>& members, const HeQuerierOptions& opts, std::unique_ptr<Rng> rng)
    : keys_(std::make_unique<Keys>()) {
  HEAL_REQUIRE(!members.empty(), "HeQuerier: no member");
  HEAL_REQUIRE(members.size() <= kMaxMembers, "HeQuerier: at most " << kMaxMembers << " members");
  const HeMemberInfo& m0 = members[0];
  for (std::size_t i = 1; i < members.size(); ++i) {
    const HeMemberInfo& m = members[i];
    HEAL_REQUIRE(m.input == m0.input, "ensemble HE mode: member "
                                          << i + 1 << " takes a " << m.input.c << "x" << m.input.h << "x" << m.input.w
                                          << " input, member 1 a " << m0.input.c << "x" << m0.input.h << "x"
                                          << m0.input.w << " one");
    HEAL_REQUIRE(m.num_classes == m0.num_classes, "ensemble HE mode: member " << i + 1 << " has " << m.num_classes
                                                                              << " classes, member 1 "
                                                                              << m0.num_classes);
    HEAL_REQUIRE(m.depth == m0.depth,
                 "ensemble HE mode: member "
                     << i + 1 << " has circuit depth " << m.depth << ", member 1 " << m0.depth
                     << ": the logits would come out at different levels and scales and cannot be added; "
                        "all HE members must have the same number of polynomial activations");
  }
  input_ = m0.input;
  num_classes_ = m0.num_classes;
  plan_ = he_infer::plan_params(m0.depth, opts.plan);
  keys_->ctx = ckks::Context::create(plan_.spec);
  keys_->kg = rng ? std::make_unique<ckks::KeyGenerator>(keys_->ctx, std::move(rng))
                  : std::make_unique<ckks::KeyGenerator>(keys_->ctx);
  keys_->enc = std::make_unique<ckks::Encoder>(keys_->ctx);
  const auto& ctx = *keys_->ctx;
  ByteWriter w;
  w.put(kBundleMagic);
  w.put(kVersion);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(members.size()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(num_classes_));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m0.depth));
  w.put<std::int32_t>(input_.c);
  w.put<std::int32_t>(input_.h);
  w.put<std::int32_t>(input_.w);
  put_blob(w, ckks::save_params(ctx));
  put_blob(w, ckks::save(ctx, keys_->kg->create_public_key()));
  put_blob(w, ckks::save(ctx, keys_->kg->create_relin_key()));
  bundle_ = w.take();
}

HeQuerier::~HeQuerier() = default;

std::size_t HeQuerier::capacity() const { return keys_->ctx->slots(); }

Bytes HeQuerier::encrypt_query(std::span<const float> images, std::size_t count) {
  const std::size_t dim = input_.size();
  HEAL_REQUIRE(count >= 1 && count <= capacity(), "HeQuerier: count must be in [1, " << capacity() << "]");
  HEAL_REQUIRE(images.size() == count * dim, "HeQuerier: expected " << count * dim << " floats, got " << images.size());
  const auto& ctx = *keys_->ctx;
  // Symmetric encryption under the querier's own secret key, seeded (only c0 travels): as in
  // BatchEngine::encrypt, ciphertext j holds pixel j of image s in slot s.
  ckks::Encryptor enc(keys_->ctx, keys_->kg->secret_key());
  ByteWriter w;
  w.put(kQueryMagic);
  w.put(kVersion);
  w.put<std::uint64_t>(count);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(dim));
  std::vector<double> v(capacity(), 0.0);
  for (std::size_t j = 0; j < dim; ++j) {
    for (std::size_t s = 0; s < count; ++s) v[s] = images[s * dim + j];
    const auto pt = keys_->enc->encode(std::span<const double>(v), ctx.default_scale(), ctx.max_level());
    put_blob(w, ckks::save(ctx, enc.encrypt_seeded(pt)));
  }
  return w.take();
}

Result<std::vector<double>> HeQuerier::decrypt_result(std::span<const std::uint8_t> result, std::size_t count) const {
  const auto& ctx = *keys_->ctx;
  HEAL_ASSIGN_OR_RETURN(const CtList l, decode_cts(ctx, result, kSumMagic, "ensemble result",
                                                   static_cast<std::uint32_t>(num_classes_), false));
  if (l.count != count)
    return Status::invalid_argument("ensemble result holds " + std::to_string(l.count) + " images, expected " +
                                    std::to_string(count));
  const ckks::Decryptor dec(keys_->ctx, keys_->kg->secret_key());
  const auto k = static_cast<std::size_t>(num_classes_);
  std::vector<double> out(count * k);
  for (std::size_t c = 0; c < k; ++c) {
    const auto v = keys_->enc->decode_real(dec.decrypt(l.cts[c]));
    for (std::size_t s = 0; s < count; ++s) out[s * k + c] = v[s];
  }
  return out;
}

struct HeMember::State {
  he_infer::Circuit circuit;
  Bundle keys;
  std::unique_ptr<he_infer::BatchEngine> engine;
};

HeMember::HeMember(const nn::ModelIr& model, double weight, int threads)
    : st_(std::make_unique<State>()), weight_(weight), threads_(threads) {
  info_ = he_member_info(model);  // throws, with the reason, for a model that is not HE-evaluable
  st_->circuit = he_infer::compile(model);
  HEAL_REQUIRE(std::isfinite(weight) && weight > 0 && weight <= 1,
               "HeMember: the ensemble weight must be finite in (0, 1], got " << weight);
  HEAL_REQUIRE(threads >= 1, "HeMember: threads must be >= 1");
}
HeMember::~HeMember() = default;
HeMember::HeMember(HeMember&&) noexcept = default;
HeMember& HeMember::operator=(HeMember&&) noexcept = default;

Status HeMember::load_keys(std::span<const std::uint8_t> bundle, bool allow_insecure) {
  HEAL_ASSIGN_OR_RETURN(Bundle b, parse_bundle(bundle, allow_insecure, true));
  if (b.input != info_.input || static_cast<int>(b.classes) != info_.num_classes ||
      static_cast<int>(b.depth) != info_.depth) {
    return Status::invalid_argument("ensemble HE mode: the querier's keys are for input " + std::to_string(b.input.c) +
                                    "x" + std::to_string(b.input.h) + "x" + std::to_string(b.input.w) + ", " +
                                    std::to_string(b.classes) + " classes, depth " + std::to_string(b.depth) +
                                    "; this member's model has " + std::to_string(info_.num_classes) +
                                    " classes and depth " + std::to_string(info_.depth));
  }
  const std::size_t need = static_cast<std::size_t>(info_.depth) + 1;  // he_infer::plan_params' chain
  if (b.ctx->max_level() < need)
    return Status::invalid_argument("ensemble HE mode: the querier's parameters have too few levels for depth " +
                                    std::to_string(info_.depth));
  st_->keys = std::move(b);
  st_->engine = std::make_unique<he_infer::BatchEngine>(st_->circuit, st_->keys.ctx, threads_);
  return {};
}

Result<Bytes> HeMember::evaluate(std::span<const std::uint8_t> query) {
  if (!st_->engine) return Status::failed_precondition("HeMember: load_keys first");
  const Bundle& k = st_->keys;
  const auto& ctx = *k.ctx;
  HEAL_ASSIGN_OR_RETURN(CtList q, decode_cts(ctx, query, kQueryMagic, "ensemble query",
                                             static_cast<std::uint32_t>(info_.input.size()), true));
  for (const auto& ct : q.cts) {
    if (ct.level() != ctx.max_level() || std::fabs(std::log2(ct.scale()) - std::log2(ctx.default_scale())) > 1e-9)
      return Status::invalid_argument("ensemble query: ciphertexts must be fresh (top level, default scale)");
  }
  std::vector<ckks::Ciphertext> logits = st_->engine->evaluate(std::move(q.cts), k.rk, k.pk);
  // w_i * logits at const_scale 2^b (no level consumed; the scale grows by 2^b). b leaves
  // kLogitHeadroomBits + log2(members) + 1 bits above |sum w logit| * scale in Q_l; every member of the
  // same depth gets the same level, scale and b, so the aggregator can add the ciphertexts.
  const std::size_t lvl = logits[0].level();
  double log_q = 0;
  for (std::size_t i = 0; i <= lvl; ++i) log_q += std::log2(static_cast<double>(ctx.q(i).value()));
  const int bits = std::min(kMaxWeightBits, static_cast<int>(std::floor(log_q - std::log2(logits[0].scale()))) -
                                                he_infer::kLogitHeadroomBits -
                                                static_cast<int>(std::ceil(std::log2(k.members))) - 1);
  if (bits < kMinWeightBits)
    return Status::failed_precondition("ensemble HE mode: no room for the weight in the logits' modulus (" +
                                       std::to_string(bits) + " bits)");
  const ckks::Evaluator ev(k.ctx);
  for (auto& ct : logits) ev.mul_const_inplace(ct, weight_, std::ldexp(1.0, bits));
  return encode_cts(ctx, kShareMagic, q.count, logits);
}

struct HeAggregator::State {
  Bundle keys;
  CtList sum;
};

Status HeAggregator::load_keys(std::span<const std::uint8_t> bundle, bool allow_insecure) {
  HEAL_ASSIGN_OR_RETURN(Bundle b, parse_bundle(bundle, allow_insecure, false));
  st_ = std::make_shared<State>();
  st_->keys = std::move(b);
  added_ = 0;
  return {};
}

Status HeAggregator::add(std::span<const std::uint8_t> member_output) {
  if (!st_) return Status::failed_precondition("HeAggregator: load_keys first");
  const auto& ctx = *st_->keys.ctx;
  if (added_ >= st_->keys.members) return Status::invalid_argument("HeAggregator: more outputs than members");
  HEAL_ASSIGN_OR_RETURN(CtList l,
                        decode_cts(ctx, member_output, kShareMagic, "member output", st_->keys.classes, false));
  for (const auto& ct : l.cts) {
    if (ct.size() != 2) return Status::invalid_argument("member output: ciphertexts must be relinearized");
  }
  if (added_ == 0) {
    st_->sum = std::move(l);
  } else {
    if (l.count != st_->sum.count)
      return Status::invalid_argument("member output: " + std::to_string(l.count) + " images, the others " +
                                      std::to_string(st_->sum.count));
    const ckks::Evaluator ev(st_->keys.ctx);
    for (std::size_t c = 0; c < l.cts.size(); ++c) {
      const auto& a = st_->sum.cts[c];
      const auto& b = l.cts[c];
      if (a.level() != b.level() || std::fabs(a.scale() / b.scale() - 1.0) > 1e-12)
        return Status::invalid_argument(
            "member output: level " + std::to_string(b.level()) + " / scale 2^" + std::to_string(std::log2(b.scale())) +
            " differ from the others' (level " + std::to_string(a.level()) + ", scale 2^" +
            std::to_string(std::log2(a.scale())) + "): members must share depth and weight precision");
    }
    for (std::size_t c = 0; c < l.cts.size(); ++c) ev.add_inplace(st_->sum.cts[c], l.cts[c]);
  }
  ++added_;
  return {};
}

Result<Bytes> HeAggregator::result() const {
  if (!st_ || added_ == 0) return Status::failed_precondition("HeAggregator: no member output");
  return encode_cts(*st_->keys.ctx, kSumMagic, st_->sum.count, st_->sum.cts);
}

Result<EnsembleOutput> he_diagnose(const std::vector<HeMemberSpec>& members, std::span<const float> images,
                                   std::size_t count, const HeQuerierOptions& opts, std::unique_ptr<Rng> querier_rng,
                                   int threads, RunStats* stats) {
  const auto t_start = Clock::now();
  HEAL_REQUIRE(!members.empty(), "he_diagnose: no member");
  RunStats local;
  RunStats& st = stats ? *stats : local;
  st = RunStats{};
  const std::size_t n = members.size();
  st.member_sent.assign(n, 0);
  st.member_received.assign(n, 0);
  std::vector<HeMember> mem;
  std::vector<HeMemberInfo> infos;
  for (std::size_t i = 0; i < n; ++i) {
    HEAL_REQUIRE(members[i].model, "he_diagnose: member " << i + 1 << " has no model");
    try {
      mem.emplace_back(*members[i].model, members[i].weight, threads);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("member " + std::to_string(i + 1) + ": " + e.what());
    }
    infos.push_back(mem.back().info());
  }
  const bool insecure = opts.plan.allow_insecure;
  auto t0 = Clock::now();
  HeQuerier q(infos, opts, std::move(querier_rng));
  const Bytes& bundle = q.key_bundle();
  const Bytes query = q.encrypt_query(images, count);
  st.querier_seconds += since(t0);
  st.setup_bytes = bundle.size();
  st.params = q.plan().describe();
  st.capacity = q.capacity();
  HeAggregator agg;
  HEAL_RETURN_IF_ERROR(agg.load_keys(bundle, insecure));
  for (std::size_t i = 0; i < n; ++i) {
    st.querier_sent += bundle.size() + query.size();
    st.member_received[i] += bundle.size() + query.size();
    t0 = Clock::now();
    HEAL_RETURN_IF_ERROR(mem[i].load_keys(bundle, insecure).with_context("member " + std::to_string(i + 1)));
    auto out = mem[i].evaluate(query);
    st.member_seconds += since(t0);
    if (!out.ok()) return out.status().with_context("member " + std::to_string(i + 1));
    st.member_sent[i] += out->size();
    st.aggregator_received += out->size();
    HEAL_RETURN_IF_ERROR(agg.add(*out));
  }
  HEAL_ASSIGN_OR_RETURN(const Bytes sum, agg.result());
  st.aggregator_sent += sum.size();
  st.querier_received += sum.size();
  t0 = Clock::now();
  HEAL_ASSIGN_OR_RETURN(auto logits, q.decrypt_result(sum, count));
  st.querier_seconds += since(t0);
  EnsembleOutput out;
  out.count = count;
  out.num_classes = static_cast<std::size_t>(infos[0].num_classes);
  out.weighted_sum = std::move(logits);
  double wsum = 0;
  for (const auto& m : members) wsum += m.weight;
  out.mean = out.weighted_sum;
  for (auto& v : out.mean) v /= wsum;
  for (std::size_t i = 0; i < n; ++i) out.members.push_back(static_cast<std::uint32_t>(i + 1));
  st.seconds = since(t_start);
  return out;
}

Result<ModelDiagnosis> diagnose_with_models(const std::vector<const nn::ModelIr*>& models,
                                            std::span<const float> images, std::size_t count,
                                            const ModelDiagnosisOptions& opts, Rng& rng, std::unique_ptr<Rng> he_rng) {
  if (models.empty()) return Status::invalid_argument("ensemble diagnosis: no member model");
  for (const auto* m : models) HEAL_REQUIRE(m != nullptr, "diagnose_with_models: null model");
  const std::size_t n = models.size();
  const std::size_t dim = models[0]->input.size();
  const int k = models[0]->num_classes;
  for (std::size_t i = 1; i < n; ++i) {
    if (models[i]->input.size() != dim)
      return Status::invalid_argument("ensemble diagnosis: member " + std::to_string(i + 1) + " takes " +
                                      std::to_string(models[i]->input.size()) + " inputs, member 1 takes " +
                                      std::to_string(dim));
    if (models[i]->num_classes != k)
      return Status::invalid_argument("ensemble diagnosis: member " + std::to_string(i + 1) + " has " +
                                      std::to_string(models[i]->num_classes) + " classes, member 1 has " +
                                      std::to_string(k));
  }
  if (count == 0) return Status::invalid_argument("ensemble diagnosis: no image");
  if (images.size() != count * dim)
    return Status::invalid_argument("ensemble diagnosis: " + std::to_string(images.size()) + " floats for " +
                                    std::to_string(count) + " images of " + std::to_string(dim));
  if (opts.mode == DiagnosisMode::kSmpc && n < 2)
    return Status::invalid_argument("ensemble diagnosis: SMPC mode needs at least 2 members (secure aggregation)");
  std::vector<double> w = opts.weights;
  if (w.empty()) w.assign(n, 1.0);
  if (w.size() != n)
    return Status::invalid_argument("ensemble diagnosis: " + std::to_string(w.size()) + " weights for " +
                                    std::to_string(n) + " members");
  double ws = 0;
  for (double v : w) {
    if (!std::isfinite(v) || v <= 0)
      return Status::invalid_argument("ensemble diagnosis: weights must be finite and > 0");
    ws += v;
  }
  for (double& v : w) v /= ws;

  ModelDiagnosis r;
  r.mode = opts.mode;
  r.weights = w;
  const auto kc = static_cast<std::size_t>(k);
  auto probs = [k](const nn::ModelIr& m, std::span<const float> x, std::size_t c) {
    return nn::softmax_rows(nn::forward(m, x, c), k);
  };
  if (opts.mode == DiagnosisMode::kSmpc) {
    std::vector<SmpcMemberSpec> specs;
    for (std::size_t i = 0; i < n; ++i) {
      const nn::ModelIr* m = models[i];
      specs.push_back({w[i], [m, probs](std::span<const float> x, std::size_t c) { return probs(*m, x, c); }});
    }
    HEAL_ASSIGN_OR_RETURN(r.secure, smpc_diagnose(specs, images, count, kc, rng, 0, {}, &r.stats));
    r.probabilities = r.secure.mean;
  } else {
    std::vector<HeMemberSpec> specs;
    for (std::size_t i = 0; i < n; ++i) specs.push_back({models[i], w[i]});
    HEAL_ASSIGN_OR_RETURN(r.secure,
                          he_diagnose(specs, images, count, opts.he, std::move(he_rng), opts.threads, &r.stats));
    r.probabilities = nn::softmax_rows(r.secure.mean, k);
  }
  for (std::size_t i = 0; i < count; ++i) {
    const auto row = r.probabilities.begin() + static_cast<std::ptrdiff_t>(i * kc);
    r.predicted.push_back(static_cast<int>(std::max_element(row, row + static_cast<std::ptrdiff_t>(kc)) - row));
  }
  if (opts.plaintext_reference) {
    r.plaintext.assign(count * kc, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto z =
          opts.mode == DiagnosisMode::kSmpc ? probs(*models[i], images, count) : nn::forward(*models[i], images, count);
      for (std::size_t j = 0; j < z.size(); ++j) r.plaintext[j] += w[i] * z[j];
    }
    for (std::size_t j = 0; j < r.plaintext.size(); ++j)
      r.max_abs_diff = std::max(r.max_abs_diff, std::fabs(r.secure.mean[j] - r.plaintext[j]));
  }
  return r;
}

}  // namespace heal::apps::ensemble
