// Multi-hospital encrypted training under a collective threshold key (apps/multi_hospital_training.h).
// Protocols: collective key generation and collective bootstrapping of Mouchet,
// Troncoso-Pastoriza, Bossuat, Hubaux (ePrint 2020/304); t-of-n threshold secrets by one Shamir
// round (the same paper, Sec. V); flooded decryption shares against IND-CPA^D key recovery
// (Li-Micciancio ePrint 2020/1533; ckks/multiparty/flooding.h); the trainer is he_train's
// encrypted NAG (Kim et al. ePrint 2018/254, HETAL arXiv 2403.14111).
#include "heal/apps/multi_hospital_training.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>

#include "ciphertext_file.h"
#include "he_train_internal.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/refresh.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/ckks/serialization.h"
#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/he_train/collective_refresher.h"
#include "heal/he_train/nag.h"
#include "heal/he_train/packing.h"

namespace heal::apps::he_train {

namespace ht = heal::he_train;
namespace mp = ckks::multiparty;

namespace {

using internal::Clock;
using internal::seconds_since;

// ---------------------------------------------------------------------------------------------
// Messages: u8 kind, then the kind's fields (ByteWriter little-endian). Every reader validates.
enum class Kind : std::uint8_t {
  kHello = 1,              // S->H: reply u64 n, u64 d
  kSetup = 2,              // S->H: the public job; reply empty
  kPublicKeyShare = 3,     // S->H: reply KeyShare
  kRelinRound1 = 4,        // S->H: reply KeyShare
  kRelinRound2 = 5,        // S->H: aggregated round-1 KeyShare; reply KeyShare
  kGaloisShare = 6,        // S->H: u64 galois element; reply KeyShare
  kDeal = 7,               // S->H: the hospital sends its Shamir shares to its peers; reply empty
  kShamirShare = 8,        // H->H: KeyShare (kShamirSecret), for the recipient only
  kThresholdFinalize = 9,  // S->H: reply empty
  kPublicKey = 10,         // S->H: the collective public key; reply empty
  kStatistics = 11,        // S->H: u64 n_total; reply ciphertext of (sum x, sum x^2) / n_total
  kDecrypt = 12,           // S->H: u8 purpose, ciphertext; quorum members send shares to peers; reply empty
  kDecryptionShare = 13,   // H->H: u8 purpose, DecryptionShare
  kFinish = 14,            // S->H: u8 purpose; the hospital combines the shares; reply empty
  kEncryptRows = 15,       // S->H: u64 first global row, u64 n_total; reply u64 first ciphertext, HETC list
  kRefresh = 16,           // S->H: u64 session, quorum, ciphertext; reply RefreshShare
};
enum class Purpose : std::uint8_t { kStatistics = 1, kWeights = 2 };

constexpr std::uint64_t kMaxObjectBytes = std::uint64_t{1} << 32;

Bytes message(Kind k) {
  Bytes b;
  ByteWriter(&b).put<std::uint8_t>(static_cast<std::uint8_t>(k));
  return b;
}
void put_blob(Bytes& out, std::span<const std::uint8_t> blob) {
  ByteWriter w(&out);
  w.put<std::uint64_t>(blob.size());
  w.put_bytes(blob);
}
Status get_blob(ByteReader& r, std::span<const std::uint8_t>* out) {
  std::uint64_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxObjectBytes) return Status::corruption("object of " + std::to_string(n) + " bytes exceeds the limit");
  return r.get_bytes(static_cast<std::size_t>(n), out);
}

Status expect_end(const ByteReader& r, const char* what) {
  if (r.remaining() != 0) return Status::corruption(std::string(what) + ": trailing bytes");
  return Status::ok_status();
}

std::vector<Party> quorum_of(const CollectiveJob& j) {
  std::vector<Party> q = j.quorum;
  if (q.empty())
    for (Party p = 1; p <= j.threshold; ++p) q.push_back(p);
  std::sort(q.begin(), q.end());
  return q;
}

void put_job(Bytes& out, const CollectiveJob& j) {
  ByteWriter w(&out);
  w.put_string(j.preset);
  w.put<std::uint64_t>(j.hospitals);
  w.put<std::uint64_t>(j.threshold);
  w.put_array(std::span<const Party>(j.quorum));
  w.put<std::uint64_t>(j.max_refreshes);
  w.put<double>(j.required_bits);
  w.put<double>(j.norm_c);
  w.put_bytes(j.crs);
}
Result<CollectiveJob> get_job(ByteReader& r) {
  CollectiveJob j;
  std::uint64_t h = 0, t = 0, d = 0;
  HEAL_RETURN_IF_ERROR(r.get_string(&j.preset, 64));
  HEAL_RETURN_IF_ERROR(r.get(&h));
  HEAL_RETURN_IF_ERROR(r.get(&t));
  HEAL_RETURN_IF_ERROR(r.get_array(&j.quorum, 1024));
  HEAL_RETURN_IF_ERROR(r.get(&d));
  HEAL_RETURN_IF_ERROR(r.get(&j.required_bits));
  HEAL_RETURN_IF_ERROR(r.get(&j.norm_c));
  std::span<const std::uint8_t> crs;
  HEAL_RETURN_IF_ERROR(r.get_bytes(j.crs.size(), &crs));
  std::copy(crs.begin(), crs.end(), j.crs.begin());
  if (h < 2 || h > 64 || t < 2 || t > h || 2 * t <= h) {
    return Status::invalid_argument("job: need 2 <= threshold <= hospitals <= 64 and threshold > hospitals / 2, got " +
                                    std::to_string(t) + " of " + std::to_string(h));
  }
  j.hospitals = h;
  j.threshold = t;
  std::vector<Party> q = quorum_of(j);
  if (q.size() < t || std::adjacent_find(q.begin(), q.end()) != q.end() || q.front() < 1 || q.back() > h) {
    return Status::invalid_argument("job: the quorum must name at least threshold distinct hospitals in 1..n");
  }
  if (d < 1 || d > 1024) return Status::invalid_argument("job: max_refreshes must be in 1..1024");
  j.max_refreshes = d;
  if (!std::isfinite(j.required_bits) || j.required_bits < 1 || j.required_bits > 40) {
    return Status::invalid_argument("job: required_bits must be in [1, 40]");
  }
  if (!std::isfinite(j.norm_c) || j.norm_c <= 0 || j.norm_c > 1e3) return Status::invalid_argument("job: bad norm_c");
  return j;
}

// Flooding of refresh shares and of the weights' decryption shares (the parties' word on B_ct:
// the weights are a computed ciphertext whose noise no party can bound from the wire).
mp::FloodingParams computed_flooding(const CollectivePreset& pre, const CollectiveJob& j, std::uint64_t max_uses) {
  mp::FloodingParams f;
  f.caller_vouches_for_noise_bound = true;
  f.ciphertext_noise_bound = pre.ciphertext_noise_bound;
  f.max_decryptions = max_uses;
  f.parties = quorum_of(j).size();
  f.secret_parties = j.hospitals;
  f.required_bits = j.required_bits;
  return f;
}
mp::RefreshParams refresh_params(const CollectivePreset& pre, const CollectiveJob& j, double bound) {
  mp::RefreshParams p;
  p.flooding = computed_flooding(pre, j, j.max_refreshes);
  p.message_bound = bound;
  return p;
}
// The statistics ciphertext is a sum of one fresh public-key encryption per hospital: its noise
// bound is derived, not vouched for.
mp::FloodingParams statistics_flooding(const CollectiveJob& j) {
  mp::FloodingParams f;
  f.max_decryptions = 4;  // with the weights: at most 2 decryptions per hospital and job
  f.parties = quorum_of(j).size();
  f.secret_parties = j.hospitals;
  f.fresh_encryptions = j.hospitals;
  f.fresh_kind = mp::FreshEncryption::kPublicKey;
  f.required_bits = j.required_bits;
  return f;
}
// Slot value bound of the weights state v + i w (the refresh masks are sized from it).
constexpr double kWeightBound = 16;
constexpr double kStatisticsScale = 0x1p100;

Seed derive_seed(const Seed& crs, std::string_view label) {
  Blake2b h;
  h.update(std::span<const std::uint8_t>(crs));
  h.update(label);
  const auto d = h.finish();
  Seed s{};
  std::copy_n(d.begin(), s.size(), s.begin());
  return s;
}

std::size_t stats_slots(std::size_t d) { return std::bit_ceil(2 * d); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Presets.

std::vector<std::string> collective_preset_names() { return {"collective", "test-collective"}; }

CollectivePreset collective_preset(const std::string& name) {
  CollectivePreset p;
  p.name = name;
  ckks::ParamsSpec& s = p.params;
  s.secret = ckks::SecretDistribution::kTernary;  // each hospital's s_i; the collective s is their sum
  s.default_scale = 0x1p60;
  // q_0 and 12 levels of 60 bits: two NAG iterations (5 levels each at degree 3) take the weights
  // from level 12 to 7 to 2, where the quorum refreshes them: each refresh share carries a mask of
  // 2^(lambda + log2 N + log2(scale * bound)) = 2^120 at N = 2^16, so the refresh needs
  // Q_l > 2^123 (CollectiveBootstrapper::check_share): level 2 (Q_2 = 2^180), not level 1.
  s.q_bits.assign(13, 60);
  if (name == "collective") {
    s.log_n = 16;
    // 4 key-switching digits of at most 4 primes (2^240) under P = 2^300: the key-switching noise
    // (about dnum N sigma digit / P, Han-Ki ePrint 2019/688) stays far below the rounding noise.
    // log QP = 780 + 300 = 1080 <= 1747 (N = 2^16).
    s.p_bits.assign(5, 60);
    s.dnum = 4;
    p.weight_slots = 1024;
    // B_ct of the weights when they are refreshed or decrypted, vouched for by the parties (a
    // computed ciphertext: nobody can bound it from the wire). Rescale and ModDown rounding with the
    // collective secret (3 ternary secrets, ||s||^2 about 2N): coefficient standard deviation
    // sqrt((1 + 2N) / 12) = 105 at N = 2^16, 6 sigma = 2^9.3 per rounding. The last step of an
    // iteration sums the gradient over the r = 128 rows of a data ciphertext (7 rotations), which
    // adds up to 128 such terms: about sqrt(128) * 2^9.3 = 2^12.8 at high probability, plus the
    // c1 C + c2 D terms. Vouched: 2^14.
    p.ciphertext_noise_bound = 0x1p14;
    p.description = "N=2^16, 12 levels of 60 bits, scale 2^60, uniform ternary secrets (collective refresh, no "
                    "bootstrapping circuit)";
  } else if (name == "test-collective") {
    s.log_n = 12;
    s.p_bits.assign(2, 60);
    s.dnum = 0;  // one digit per prime: P = 2^120 is 2^60 above each digit
    s.allow_insecure = true;
    p.weight_slots = 256;
    p.ciphertext_noise_bound = 0x1p12;  // 6 sigma of one rounding 2^7.3 at N = 2^12, times sqrt(256 rows)
    p.description = "INSECURE (unit tests): N=2^12, 12 levels of 60 bits, scale 2^60";
  } else {
    HEAL_REQUIRE(false, "collective_preset: unknown preset '" << name << "' (collective, test-collective)");
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// In-process network.

Result<Bytes> InProcessPartyNetwork::call(Party from, Party to, Bytes request) {
  const auto it = endpoints_.find(to);
  if (it == endpoints_.end()) return Status::unavailable("party " + std::to_string(to) + " is not reachable");
  if (observer_) observer_(from, to, false, request);
  traffic_[from].sent += request.size();
  traffic_[from].messages_sent += 1;
  traffic_[to].received += request.size();
  auto reply = it->second->handle(from, request);
  if (!reply.ok()) return reply.status();
  Bytes out = std::move(reply).value();
  if (observer_) observer_(to, from, true, out);
  traffic_[to].sent += out.size();
  traffic_[to].messages_sent += 1;
  traffic_[from].received += out.size();
  return out;
}

InProcessPartyNetwork::Traffic InProcessPartyNetwork::traffic(Party id) const {
  const auto it = traffic_.find(id);
  return it == traffic_.end() ? Traffic{} : it->second;
}

// ---------------------------------------------------------------------------------------------
// Hospital.

struct CollectiveHospital::Impl {
  Party id = 0;
  FeatureSplit train;
  PartyNetwork& net;
  bool allow_insecure = false;
  SystemRng rng;

  std::optional<CollectiveJob> job;
  std::optional<CollectivePreset> preset;
  ckks::ContextPtr ctx;
  ckks::SecretKey s;  // additive secret s_i: never serialized, never sent
  mp::RelinKeyGenState relin_state;
  std::vector<mp::KeyShare> shamir_inbox;
  bool dealt = false;
  std::optional<mp::ThresholdSecret> ts;
  std::optional<ckks::PublicKey> pk;
  std::unique_ptr<mp::CollectiveBootstrapper> refresher;
  std::unique_ptr<mp::ThresholdDecryptor> stats_dec, weights_dec;
  // Per purpose: the ciphertext to decrypt (from the server) and the shares received.
  std::map<Purpose, ckks::Ciphertext> to_decrypt;
  std::map<Purpose, std::vector<mp::DecryptionShare>> dec_shares;
  std::map<Purpose, bool> finished;
  Normalizer normalizer;
  std::vector<double> weights;

  Impl(Party i, FeatureSplit t, PartyNetwork& n, bool insecure)
      : id(i), train(std::move(t)), net(n), allow_insecure(insecure) {}

  Status need_setup() const {
    if (!ctx) return Status::failed_precondition("hospital " + std::to_string(id) + ": no job set up yet");
    return Status::ok_status();
  }
  bool in_quorum() const {
    const auto q = quorum_of(*job);
    return std::find(q.begin(), q.end(), id) != q.end();
  }
  Bytes reply_share(const mp::KeyShare& share) const { return ckks::save(*ctx, share); }
  // t-of-n over every hospital of the job (ids 1..n are the Shamir points).
  mp::ThresholdKeyGen threshold_keygen() const {
    std::vector<Party> everyone;
    for (Party p = 1; p <= job->hospitals; ++p) everyone.push_back(p);
    return mp::ThresholdKeyGen(ctx, job->threshold, std::move(everyone));
  }

  Result<Bytes> setup(ByteReader& r) {
    if (ctx) return Status::failed_precondition("hospital " + std::to_string(id) + ": job already set up");
    HEAL_ASSIGN_OR_RETURN(CollectiveJob j, get_job(r));
    HEAL_RETURN_IF_ERROR(expect_end(r, "setup"));
    const auto names = collective_preset_names();
    if (std::find(names.begin(), names.end(), j.preset) == names.end()) {
      return Status::invalid_argument("setup: unknown preset '" + j.preset + "'");
    }
    CollectivePreset pre = collective_preset(j.preset);
    if (pre.params.allow_insecure && !allow_insecure) {
      return Status::invalid_argument("hospital " + std::to_string(id) + ": preset '" + j.preset +
                                      "' is below 128-bit security and this hospital did not opt in");
    }
    if (id > j.hospitals) return Status::invalid_argument("setup: this hospital's id is not in the federation");
    ctx = ckks::Context::create(pre.params);
    s = ckks::sample_secret_key(*ctx, rng);
    job = j;
    refresher = std::make_unique<mp::CollectiveBootstrapper>(ctx, derive_seed(j.crs, "refresh"),
                                                             refresh_params(pre, j, kWeightBound));
    stats_dec = std::make_unique<mp::ThresholdDecryptor>(ctx, statistics_flooding(j));
    weights_dec = std::make_unique<mp::ThresholdDecryptor>(ctx, computed_flooding(pre, j, 4));
    preset = std::move(pre);
    return Bytes{};
  }

  Result<Bytes> deal() {
    if (dealt) return Status::failed_precondition("deal: already dealt");
    auto shares = threshold_keygen().gen_share(id, s, rng);
    dealt = true;
    for (auto& sh : shares) {
      if (sh.recipient == id) {
        shamir_inbox.push_back(std::move(sh));
        continue;
      }
      Bytes m = message(Kind::kShamirShare);
      put_blob(m, ckks::save(*ctx, sh));
      HEAL_RETURN_IF_ERROR(net.call(id, sh.recipient, std::move(m)).status());
    }
    return Bytes{};
  }

  Result<Bytes> shamir_share(Party from, ByteReader& r) {
    std::span<const std::uint8_t> blob;
    HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
    HEAL_RETURN_IF_ERROR(expect_end(r, "shamir share"));
    HEAL_ASSIGN_OR_RETURN(mp::KeyShare sh, ckks::load_key_share(*ctx, blob));
    if (sh.kind != mp::ShareKind::kShamirSecret || sh.recipient != id || sh.party != from) {
      return Status::invalid_argument("shamir share: not a Shamir share from this sender for this hospital");
    }
    for (const auto& have : shamir_inbox)
      if (have.party == from) return Status::invalid_argument("shamir share: a second share from the same hospital");
    shamir_inbox.push_back(std::move(sh));
    return Bytes{};
  }

  Result<Bytes> threshold_finalize() {
    if (ts) return Status::failed_precondition("threshold secret already set");
    if (shamir_inbox.size() != job->hospitals) {
      return Status::failed_precondition("threshold: " + std::to_string(shamir_inbox.size()) + " Shamir shares of " +
                                         std::to_string(job->hospitals));
    }
    const mp::ThresholdKeyGen tkg = threshold_keygen();
    ts = tkg.finalize(tkg.aggregate_shares(id, shamir_inbox));
    shamir_inbox.clear();
    return Bytes{};
  }

  Result<Bytes> statistics(ByteReader& r) {
    std::uint64_t n_total = 0;
    HEAL_RETURN_IF_ERROR(r.get(&n_total));
    HEAL_RETURN_IF_ERROR(expect_end(r, "statistics"));
    if (!pk) return Status::failed_precondition("statistics: no public key yet");
    if (n_total < train.n || n_total > (std::uint64_t{1} << 32)) return Status::invalid_argument("statistics: bad n");
    const std::size_t d = train.d;
    std::vector<double> v(2 * d, 0.0);
    for (std::size_t i = 0; i < train.n; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        const double x = train.x[i * d + j];
        v[j] += x;
        v[d + j] += x * x;
      }
    for (double& x : v) x /= static_cast<double>(n_total);
    const ckks::Encoder enc(ctx);
    ckks::Encryptor e(ctx, *pk);
    // Scale 2^100 (Q at the top level has 780 bits): the flooding noise of the decryption, about
    // 2^48 on the coefficients, then costs 2^-52 of each moment instead of 2^-12 at the default
    // scale, which matters for features of small variance (E[x^2] - mean^2 cancels).
    const auto ct = e.encrypt(enc.encode(v, kStatisticsScale, ctx->max_level()));
    return ckks::save(*ctx, ct);
  }

  Result<Bytes> encrypt_rows(ByteReader& r) {
    std::uint64_t first = 0, n_total = 0;
    HEAL_RETURN_IF_ERROR(r.get(&first));
    HEAL_RETURN_IF_ERROR(r.get(&n_total));
    HEAL_RETURN_IF_ERROR(expect_end(r, "encrypt rows"));
    if (!pk) return Status::failed_precondition("encrypt: no public key yet");
    if (!finished[Purpose::kStatistics]) return Status::failed_precondition("encrypt: no normaliser yet");
    if (first > n_total || n_total - first < train.n) return Status::invalid_argument("encrypt: rows out of range");
    const ht::Packing packing(train.d, ctx->slots(), preset->weight_slots);
    const std::size_t r_ct = packing.rows_per_ct();
    const std::size_t c0 = first / r_ct, c1 = (first + train.n - 1) / r_ct;
    const std::size_t rows = (c1 - c0 + 1) * r_ct, off = first - c0 * r_ct;
    FeatureSplit mine = train;
    normalizer.apply(mine);
    const auto z = ht::make_z(mine.x, mine.y, mine.d);
    std::vector<double> placed(rows * (train.d + 1), 0.0);  // zero rows: other hospitals' positions
    std::copy(z.begin(), z.end(), placed.begin() + static_cast<std::ptrdiff_t>(off * (train.d + 1)));
    ckks::Encryptor e(ctx, *pk);
    const ht::DataPacker packer(ctx, packing);
    const auto cts = packer.encrypt_z(e, placed, rows, ctx->max_level());
    Bytes out;
    ByteWriter(&out).put<std::uint64_t>(c0);
    const Bytes list = internal::encode_ciphertexts(*ctx, cts);
    out.insert(out.end(), list.begin(), list.end());
    return out;
  }

  Result<Bytes> refresh(ByteReader& r) {
    std::uint64_t session = 0;
    std::vector<Party> quorum;
    std::span<const std::uint8_t> blob;
    HEAL_RETURN_IF_ERROR(r.get(&session));
    HEAL_RETURN_IF_ERROR(r.get_array(&quorum, 1024));
    HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
    HEAL_RETURN_IF_ERROR(expect_end(r, "refresh"));
    if (!ts) return Status::failed_precondition("refresh: no threshold secret yet");
    if (quorum != quorum_of(*job)) return Status::invalid_argument("refresh: not the job's quorum");
    HEAL_ASSIGN_OR_RETURN(ckks::Ciphertext ct, ckks::load_ciphertext(*ctx, blob));
    if (ct.slots() != preset->weight_slots) return Status::invalid_argument("refresh: not a weights ciphertext");
    // gen_share refuses a reused session seed, too many refreshes and a ciphertext whose masks
    // would not fit (std::invalid_argument, turned into a Status by handle()).
    return ckks::save(*ctx, refresher->gen_share(*ts, quorum, ct, session, rng));
  }

  Result<Bytes> decrypt(ByteReader& r) {
    std::uint8_t purpose_byte = 0;
    std::span<const std::uint8_t> blob;
    HEAL_RETURN_IF_ERROR(r.get(&purpose_byte));
    HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
    HEAL_RETURN_IF_ERROR(expect_end(r, "decrypt"));
    if (purpose_byte != 1 && purpose_byte != 2) return Status::invalid_argument("decrypt: unknown purpose");
    const auto purpose = static_cast<Purpose>(purpose_byte);
    if (!ts) return Status::failed_precondition("decrypt: no threshold secret yet");
    if (to_decrypt.count(purpose)) return Status::failed_precondition("decrypt: this hospital decrypts one such ciphertext per job");
    HEAL_ASSIGN_OR_RETURN(ckks::Ciphertext ct, ckks::load_ciphertext(*ctx, blob));
    const std::size_t want = purpose == Purpose::kStatistics ? stats_slots(train.d) : preset->weight_slots;
    if (ct.slots() != want || ct.size() != 2) {
      return Status::invalid_argument("decrypt: the ciphertext has " + std::to_string(ct.slots()) + " slots, expected " +
                                      std::to_string(want));
    }
    to_decrypt[purpose] = ct;
    if (in_quorum()) {
      const auto q = quorum_of(*job);
      auto& dec = purpose == Purpose::kStatistics ? *stats_dec : *weights_dec;
      mp::DecryptionShare share = dec.gen_share(*ts, q, ct, rng);
      const Bytes sb = ckks::save(*ctx, share);
      for (Party p = 1; p <= job->hospitals; ++p) {
        if (p == id) continue;
        Bytes m = message(Kind::kDecryptionShare);
        ByteWriter(&m).put<std::uint8_t>(purpose_byte);
        put_blob(m, sb);
        HEAL_RETURN_IF_ERROR(net.call(id, p, std::move(m)).status());
      }
      dec_shares[purpose].push_back(std::move(share));
    }
    return Bytes{};
  }

  Result<Bytes> decryption_share(Party from, ByteReader& r) {
    std::uint8_t purpose_byte = 0;
    std::span<const std::uint8_t> blob;
    HEAL_RETURN_IF_ERROR(r.get(&purpose_byte));
    HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
    HEAL_RETURN_IF_ERROR(expect_end(r, "decryption share"));
    if (purpose_byte != 1 && purpose_byte != 2) return Status::invalid_argument("decryption share: unknown purpose");
    const auto purpose = static_cast<Purpose>(purpose_byte);
    HEAL_ASSIGN_OR_RETURN(mp::DecryptionShare sh, ckks::load_decryption_share(*ctx, blob));
    const auto q = quorum_of(*job);
    if (sh.party != from || std::find(q.begin(), q.end(), from) == q.end()) {
      return Status::invalid_argument("decryption share: not from a quorum member");
    }
    auto& have = dec_shares[purpose];
    for (const auto& x : have)
      if (x.party == from) return Status::invalid_argument("decryption share: a second share from the same hospital");
    have.push_back(std::move(sh));
    return Bytes{};
  }

  Result<Bytes> finish(ByteReader& r) {
    std::uint8_t purpose_byte = 0;
    HEAL_RETURN_IF_ERROR(r.get(&purpose_byte));
    HEAL_RETURN_IF_ERROR(expect_end(r, "finish"));
    if (purpose_byte != 1 && purpose_byte != 2) return Status::invalid_argument("finish: unknown purpose");
    const auto purpose = static_cast<Purpose>(purpose_byte);
    if (finished[purpose]) return Status::failed_precondition("finish: already done");
    const auto it = to_decrypt.find(purpose);
    if (it == to_decrypt.end()) return Status::failed_precondition("finish: nothing to decrypt");
    const auto& shares = dec_shares[purpose];
    if (shares.size() != quorum_of(*job).size()) {
      return Status::failed_precondition("finish: " + std::to_string(shares.size()) + " decryption shares, the quorum has " +
                                         std::to_string(quorum_of(*job).size()));
    }
    auto& dec = purpose == Purpose::kStatistics ? *stats_dec : *weights_dec;
    // finalize refuses shares made for another ciphertext level; aggregate refuses duplicates.
    const ckks::Plaintext pt = dec.finalize(it->second, dec.aggregate_shares(shares));
    const std::size_t d = train.d;
    if (purpose == Purpose::kStatistics) {
      const auto vals = ckks::Encoder(ctx).decode(pt);
      std::vector<double> mean(d), msq(d);
      for (std::size_t j = 0; j < d; ++j) {
        mean[j] = vals[j].real();
        msq[j] = vals[d + j].real();
      }
      normalizer = Normalizer::from_moments(std::move(mean), msq, d, job->norm_c);
    } else {
      std::vector<double> v;
      ht::DataPacker(ctx, ht::Packing(d, ctx->slots(), preset->weight_slots)).decode_weights(pt, v, weights);
    }
    finished[purpose] = true;
    return Bytes{};
  }
};

CollectiveHospital::CollectiveHospital(Party id, FeatureSplit train, PartyNetwork& net, bool allow_insecure)
    : impl_(std::make_unique<Impl>(id, std::move(train), net, allow_insecure)) {
  HEAL_REQUIRE(id >= 1, "CollectiveHospital: ids start at 1 (0 is the server)");
  HEAL_REQUIRE(impl_->train.n > 0 && impl_->train.d > 0, "CollectiveHospital: no training rows");
}
CollectiveHospital::~CollectiveHospital() = default;
Party CollectiveHospital::id() const { return impl_->id; }
const std::vector<double>& CollectiveHospital::weights() const { return impl_->weights; }
const Normalizer& CollectiveHospital::normalizer() const { return impl_->normalizer; }
const ckks::SecretKey& CollectiveHospital::secret_for_attack_test() const { return impl_->s; }
const ckks::SecretKey& CollectiveHospital::threshold_share_for_attack_test() const {
  HEAL_REQUIRE(impl_->ts.has_value(), "threshold_share_for_attack_test: no threshold secret yet");
  return impl_->ts->share;
}

Result<Bytes> CollectiveHospital::handle(Party from, std::span<const std::uint8_t> request) {
  Impl& m = *impl_;
  ByteReader r(request);
  std::uint8_t kind_byte = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kind_byte));
  const auto kind = static_cast<Kind>(kind_byte);
  const bool from_server = from == 0;
  const bool peer_kind = kind == Kind::kShamirShare || kind == Kind::kDecryptionShare;
  if (peer_kind == from_server || (!from_server && (from > (m.job ? m.job->hospitals : 0) || from == m.id))) {
    return Status::invalid_argument("hospital " + std::to_string(m.id) + ": message kind " + std::to_string(kind_byte) +
                                    " from party " + std::to_string(from) + " refused");
  }
  try {
    if (kind == Kind::kSetup) return m.setup(r);
    if (kind == Kind::kHello) {
      HEAL_RETURN_IF_ERROR(expect_end(r, "hello"));
      Bytes b;
      ByteWriter w(&b);
      w.put<std::uint64_t>(m.train.n);
      w.put<std::uint64_t>(m.train.d);
      return b;
    }
    HEAL_RETURN_IF_ERROR(m.need_setup());
    switch (kind) {
      case Kind::kPublicKeyShare: {
        HEAL_RETURN_IF_ERROR(expect_end(r, "public key share"));
        const mp::CollectivePublicKeyGen g(m.ctx, derive_seed(m.job->crs, "public"));
        return m.reply_share(g.gen_share(m.id, m.s, m.rng));
      }
      case Kind::kRelinRound1: {
        HEAL_RETURN_IF_ERROR(expect_end(r, "relin round 1"));
        if (m.relin_state.ready()) return Status::failed_precondition("relin round 1: already done");
        const mp::CollectiveRelinKeyGen g(m.ctx, derive_seed(m.job->crs, "relin"));
        return m.reply_share(g.gen_share(m.id, m.s, m.relin_state, m.rng));
      }
      case Kind::kRelinRound2: {
        std::span<const std::uint8_t> blob;
        HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
        HEAL_RETURN_IF_ERROR(expect_end(r, "relin round 2"));
        if (!m.relin_state.ready()) return Status::failed_precondition("relin round 2 before round 1");
        HEAL_ASSIGN_OR_RETURN(mp::KeyShare agg, ckks::load_key_share(*m.ctx, blob));
        if (agg.kind != mp::ShareKind::kRelinRound1) return Status::invalid_argument("relin round 2: not a round-1 aggregate");
        const mp::CollectiveRelinKeyGen g(m.ctx, derive_seed(m.job->crs, "relin"));
        return m.reply_share(g.gen_share_round2(m.id, m.s, m.relin_state, agg, m.rng));
      }
      case Kind::kGaloisShare: {
        std::uint64_t elt = 0;
        HEAL_RETURN_IF_ERROR(r.get(&elt));
        HEAL_RETURN_IF_ERROR(expect_end(r, "galois share"));
        if (elt % 2 == 0 || elt >= 2 * m.ctx->n()) return Status::invalid_argument("galois share: not a Galois element");
        const mp::CollectiveGaloisKeyGen g(m.ctx, derive_seed(m.job->crs, "galois"));
        return m.reply_share(g.gen_share(m.id, m.s, elt, m.rng));
      }
      case Kind::kDeal:
        HEAL_RETURN_IF_ERROR(expect_end(r, "deal"));
        return m.deal();
      case Kind::kShamirShare:
        return m.shamir_share(from, r);
      case Kind::kThresholdFinalize:
        HEAL_RETURN_IF_ERROR(expect_end(r, "threshold finalize"));
        return m.threshold_finalize();
      case Kind::kPublicKey: {
        std::span<const std::uint8_t> blob;
        HEAL_RETURN_IF_ERROR(get_blob(r, &blob));
        HEAL_RETURN_IF_ERROR(expect_end(r, "public key"));
        if (m.pk) return Status::failed_precondition("public key already set");
        HEAL_ASSIGN_OR_RETURN(ckks::PublicKey pk, ckks::load_public_key(*m.ctx, blob));
        m.pk = std::move(pk);
        return Bytes{};
      }
      case Kind::kStatistics:
        return m.statistics(r);
      case Kind::kEncryptRows:
        return m.encrypt_rows(r);
      case Kind::kRefresh:
        return m.refresh(r);
      case Kind::kDecrypt:
        return m.decrypt(r);
      case Kind::kDecryptionShare:
        return m.decryption_share(from, r);
      case Kind::kFinish:
        return m.finish(r);
      default:
        return Status::invalid_argument("hospital: unknown message kind " + std::to_string(kind_byte));
    }
  } catch (const std::exception& e) {
    // The multiparty objects refuse unsafe steps (flooding budget, reused refresh seeds, shapes)
    // with std::invalid_argument: the hospital answers with an error, it does not crash.
    return Status::failed_precondition("hospital " + std::to_string(m.id) + " refused: " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Server.

namespace {

// Calls `to` and fails with the party named in the error.
Result<Bytes> ask(PartyNetwork& net, Party to, Bytes request) {
  auto r = net.call(0, to, std::move(request));
  if (!r.ok()) return r.status().with_context("hospital " + std::to_string(to));
  return r;
}

Result<mp::KeyShare> ask_share(PartyNetwork& net, const ckks::Context& ctx, Party to, Bytes request,
                               mp::ShareKind kind) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, ask(net, to, std::move(request)));
  auto sh = ckks::load_key_share(ctx, b);
  if (!sh.ok()) return sh.status().with_context("hospital " + std::to_string(to));
  if (sh->kind != kind || sh->party != to) {
    return Status::invalid_argument("hospital " + std::to_string(to) + ": a key share of another kind or party");
  }
  return sh;
}

// The server's side of the refresh: the quorum's shares over the network.
class NetworkRefreshSource final : public ht::RefreshShareSource {
 public:
  NetworkRefreshSource(PartyNetwork& net, ckks::ContextPtr ctx, std::vector<Party> quorum)
      : net_(net), ctx_(std::move(ctx)), quorum_(std::move(quorum)) {}
  std::vector<mp::RefreshShare> refresh_shares(const ckks::Ciphertext& ct, std::uint64_t session) override {
    const Bytes ctb = ckks::save(*ctx_, ct);
    std::vector<mp::RefreshShare> out;
    for (Party p : quorum_) {
      Bytes m = message(Kind::kRefresh);
      ByteWriter w(&m);
      w.put<std::uint64_t>(session);
      w.put_array(std::span<const Party>(quorum_));
      put_blob(m, ctb);
      auto reply = ask(net_, p, std::move(m));
      if (!reply.ok()) throw StatusError(reply.status());
      auto sh = ckks::load_refresh_share(*ctx_, *reply);
      if (!sh.ok()) throw StatusError(sh.status().with_context("hospital " + std::to_string(p)));
      if (sh->party != p) throw StatusError(Status::invalid_argument("refresh share from another party"));
      out.push_back(std::move(sh).value());
    }
    return out;
  }

 private:
  PartyNetwork& net_;
  ckks::ContextPtr ctx_;
  std::vector<Party> quorum_;
};

Status broadcast(PartyNetwork& net, std::size_t hospitals, const Bytes& m) {
  for (Party p = 1; p <= hospitals; ++p) HEAL_RETURN_IF_ERROR(ask(net, p, m).status());
  return Status::ok_status();
}

// Quorum decryption among the hospitals: each gets the ciphertext, quorum members send their
// shares to the others directly, then each combines them. The server sees no share.
Status hospitals_decrypt(PartyNetwork& net, const ckks::Context& ctx, std::size_t hospitals, Purpose purpose,
                         const ckks::Ciphertext& ct) {
  Bytes m = message(Kind::kDecrypt);
  ByteWriter(&m).put<std::uint8_t>(static_cast<std::uint8_t>(purpose));
  put_blob(m, ckks::save(ctx, ct));
  HEAL_RETURN_IF_ERROR(broadcast(net, hospitals, m));
  Bytes f = message(Kind::kFinish);
  ByteWriter(&f).put<std::uint8_t>(static_cast<std::uint8_t>(purpose));
  return broadcast(net, hospitals, f);
}

}  // namespace

CollectiveServer::CollectiveServer(CollectiveJob job, PartyNetwork& net, int threads)
    : job_(std::move(job)), net_(net), threads_(threads) {}

Result<CollectiveServerReport> CollectiveServer::run(const std::function<void(const CollectiveProgress&)>& progress) {
  auto report_progress = [&](const char* stage, double f, const ht::IterationInfo* it = nullptr) {
    if (progress) progress(CollectiveProgress{stage, f, it});
  };
  const std::size_t H = job_.hospitals;
  {  // the same checks the hospitals make (max_refreshes 0 is filled in below)
    CollectiveJob check = job_;
    check.max_refreshes = std::max<std::size_t>(check.max_refreshes, 1);
    Bytes b;
    put_job(b, check);
    ByteReader r(b);
    HEAL_RETURN_IF_ERROR(get_job(r).status());
  }
  const auto names = collective_preset_names();
  if (std::find(names.begin(), names.end(), job_.preset) == names.end()) {
    return Status::invalid_argument("unknown preset '" + job_.preset + "' (collective, test-collective)");
  }
  const CollectivePreset pre = collective_preset(job_.preset);
  if (pre.params.allow_insecure && !job_.allow_insecure) {
    return Status::invalid_argument("preset '" + job_.preset + "' is below 128-bit security; pass --allow-insecure");
  }
  CollectiveServerReport rep;
  try {
    std::size_t d = 0, n_total = 0;
    for (Party p = 1; p <= H; ++p) {
      HEAL_ASSIGN_OR_RETURN(Bytes b, ask(net_, p, message(Kind::kHello)));
      ByteReader r(b);
      std::uint64_t n = 0, dp = 0;
      HEAL_RETURN_IF_ERROR(r.get(&n));
      HEAL_RETURN_IF_ERROR(r.get(&dp));
      if (n == 0 || n > (1u << 24) || dp == 0 || dp > 4096 || (d != 0 && dp != d)) {
        return Status::invalid_argument("hospital " + std::to_string(p) + ": bad row or feature count");
      }
      d = dp;
      rep.rows_per_hospital.push_back(n);
      n_total += n;
    }
    rep.n_train = n_total;
    rep.d = d;
    if (job_.max_refreshes == 0) {  // auto: one refresh per two iterations, plus one
      const std::size_t batch = std::min(job_.batch_rows, n_total);
      job_.max_refreshes = job_.epochs * ((n_total + batch - 1) / batch) / 2 + 1;
    }
    rep.max_refreshes = job_.max_refreshes;
    Bytes setup = message(Kind::kSetup);
    put_job(setup, job_);
    HEAL_RETURN_IF_ERROR(broadcast(net_, H, setup));

    // Collective keys (ePrint 2020/304, Sec. IV): the server only sums shares.
    const auto t_keys = Clock::now();
    const auto ctx = ckks::Context::create(pre.params);
    const ht::Packing packing(d, ctx->slots(), pre.weight_slots);
    rep.row_width = packing.row_width();
    rep.rows_per_ct = packing.rows_per_ct();
    std::vector<std::uint64_t> elts;
    for (long step : ht::EncryptedNag::rotation_steps(packing)) elts.push_back(ctx->galois_elt_for_step(step));
    elts.push_back(2 * ctx->n() - 1);  // conjugation
    std::sort(elts.begin(), elts.end());
    elts.erase(std::unique(elts.begin(), elts.end()), elts.end());
    const double key_steps = static_cast<double>(elts.size() + 4);
    report_progress("keys", 0);
    const mp::CollectivePublicKeyGen pkg(ctx, derive_seed(job_.crs, "public"));
    std::vector<mp::KeyShare> sh;
    for (Party p = 1; p <= H; ++p) {
      HEAL_ASSIGN_OR_RETURN(auto x, ask_share(net_, *ctx, p, message(Kind::kPublicKeyShare), mp::ShareKind::kPublicKey));
      sh.push_back(std::move(x));
    }
    const ckks::PublicKey pk = pkg.finalize(pkg.aggregate_shares(sh));
    report_progress("keys", 1 / key_steps);
    const mp::CollectiveRelinKeyGen rkg(ctx, derive_seed(job_.crs, "relin"));
    sh.clear();
    for (Party p = 1; p <= H; ++p) {
      HEAL_ASSIGN_OR_RETURN(auto x, ask_share(net_, *ctx, p, message(Kind::kRelinRound1), mp::ShareKind::kRelinRound1));
      sh.push_back(std::move(x));
    }
    const mp::KeyShare r1 = rkg.aggregate_shares(sh);
    const Bytes r1b = ckks::save(*ctx, r1);
    sh.clear();
    for (Party p = 1; p <= H; ++p) {
      Bytes m = message(Kind::kRelinRound2);
      put_blob(m, r1b);
      HEAL_ASSIGN_OR_RETURN(auto x, ask_share(net_, *ctx, p, std::move(m), mp::ShareKind::kRelinRound2));
      sh.push_back(std::move(x));
    }
    const ckks::RelinKey rk = rkg.finalize(r1, rkg.aggregate_shares(sh));
    report_progress("keys", 3 / key_steps);
    const mp::CollectiveGaloisKeyGen gkg(ctx, derive_seed(job_.crs, "galois"));
    ckks::GaloisKeys gk;
    for (std::size_t i = 0; i < elts.size(); ++i) {
      sh.clear();
      for (Party p = 1; p <= H; ++p) {
        Bytes m = message(Kind::kGaloisShare);
        ByteWriter(&m).put<std::uint64_t>(elts[i]);
        HEAL_ASSIGN_OR_RETURN(auto x, ask_share(net_, *ctx, p, std::move(m), mp::ShareKind::kGaloisKey));
        if (x.galois_elt != elts[i]) return Status::invalid_argument("a Galois key share for another element");
        sh.push_back(std::move(x));
      }
      gkg.finalize(gkg.aggregate_shares(sh), gk);
      report_progress("keys", static_cast<double>(i + 4) / key_steps);
    }
    sh.clear();
    rep.galois_keys = gk.size();
    // t-of-n: the hospitals deal Shamir shares to each other (the server relays nothing).
    HEAL_RETURN_IF_ERROR(broadcast(net_, H, message(Kind::kDeal)));
    HEAL_RETURN_IF_ERROR(broadcast(net_, H, message(Kind::kThresholdFinalize)));
    {
      Bytes m = message(Kind::kPublicKey);
      put_blob(m, ckks::save(*ctx, pk));
      HEAL_RETURN_IF_ERROR(broadcast(net_, H, m));
    }
    report_progress("keys", 1);
    rep.keygen_seconds = seconds_since(t_keys);

    // Normalisation statistics of the union: encrypted sums, decrypted by the hospitals only.
    const auto t_stats = Clock::now();
    report_progress("statistics", 0);
    const ckks::Evaluator ev(ctx);
    std::optional<ckks::Ciphertext> stats;
    for (Party p = 1; p <= H; ++p) {
      Bytes m = message(Kind::kStatistics);
      ByteWriter(&m).put<std::uint64_t>(n_total);
      HEAL_ASSIGN_OR_RETURN(Bytes b, ask(net_, p, std::move(m)));
      auto ct = ckks::load_ciphertext(*ctx, b);
      if (!ct.ok()) return ct.status().with_context("hospital " + std::to_string(p));
      if (ct->slots() != stats_slots(d) || ct->level() != ctx->max_level() || ct->size() != 2) {
        return Status::invalid_argument("hospital " + std::to_string(p) + ": not a statistics ciphertext");
      }
      if (stats) {
        ev.add_inplace(*stats, *ct);
      } else {
        stats = std::move(ct).value();
      }
    }
    HEAL_RETURN_IF_ERROR(hospitals_decrypt(net_, *ctx, H, Purpose::kStatistics, *stats));
    report_progress("statistics", 1);
    rep.statistics_seconds = seconds_since(t_stats);

    // Rows: each hospital encrypts its rows at their global positions; ciphertexts that two
    // hospitals share are added.
    const auto t_enc = Clock::now();
    report_progress("encrypt", 0);
    std::vector<std::optional<ckks::Ciphertext>> z(packing.ciphertexts(n_total));
    std::size_t first = 0;
    for (Party p = 1; p <= H; ++p) {
      Bytes m = message(Kind::kEncryptRows);
      ByteWriter w(&m);
      w.put<std::uint64_t>(first);
      w.put<std::uint64_t>(n_total);
      HEAL_ASSIGN_OR_RETURN(Bytes b, ask(net_, p, std::move(m)));
      ByteReader r(b);
      std::uint64_t c0 = 0;
      HEAL_RETURN_IF_ERROR(r.get(&c0));
      auto cts = internal::decode_ciphertexts(*ctx, b.size() >= 8 ? std::span<const std::uint8_t>(b).subspan(8)
                                                                   : std::span<const std::uint8_t>());
      if (!cts.ok()) return cts.status().with_context("hospital " + std::to_string(p));
      const std::size_t n_p = rep.rows_per_hospital[p - 1];
      const std::size_t want0 = first / packing.rows_per_ct();
      const std::size_t want = (first + n_p - 1) / packing.rows_per_ct() - want0 + 1;
      if (c0 != want0 || cts->size() != want) {
        return Status::invalid_argument("hospital " + std::to_string(p) + ": rows at the wrong ciphertexts");
      }
      for (std::size_t k = 0; k < want; ++k) {
        auto& ct = (*cts)[k];
        if (ct.slots() != packing.data_slots() || ct.level() != ctx->max_level() || ct.size() != 2) {
          return Status::invalid_argument("hospital " + std::to_string(p) + ": not a data ciphertext");
        }
        auto& slot = z[want0 + k];
        if (slot) {
          ev.add_inplace(*slot, ct);
        } else {
          slot = std::move(ct);
        }
      }
      first += n_p;
      report_progress("encrypt", static_cast<double>(p) / static_cast<double>(H));
    }
    std::vector<ckks::Ciphertext> zc;
    for (auto& c : z) zc.push_back(std::move(*c));
    rep.train_ciphertexts = zc.size();
    rep.encrypt_seconds = seconds_since(t_enc);

    // Training with the quorum's collective refresh.
    NetworkRefreshSource source(net_, ctx, quorum_of(job_));
    const mp::RefreshParams rp = refresh_params(pre, job_, kWeightBound);
    const ht::CollectiveRefresher refresher(ctx, derive_seed(job_.crs, "refresh"), rp, source, packing.weight_slots());
    rep.predicted_refresh_error_std =
        mp::flooded_slot_error_std(*ctx, rp.flooding, quorum_of(job_).size(), ctx->default_scale());
    const auto poly = ht::SigmoidPoly::fit(job_.degree, job_.bound);
    const auto sched = internal::schedule(job_.alpha, job_.inverse_time, job_.nesterov);
    const std::size_t batch = std::min(job_.batch_rows, n_total);
    ht::EncryptedNag nag(ctx, ev, rk, gk, refresher, packing, poly, sched, n_total, batch);
    nag.set_threads(threads_);
    ckks::Encryptor enc(ctx, pk);
    const ht::DataPacker packer(ctx, packing);
    const std::vector<double> zero(d + 1, 0.0);
    ht::TrainOptions topt;
    topt.iterations = job_.epochs * nag.plan().batches();
    topt.on_iteration = [&](const ht::IterationInfo& it) {
      report_progress("train", static_cast<double>(it.iteration + 1) / static_cast<double>(it.iterations), &it);
    };
    report_progress("train", 0);
    const auto res = nag.train(zc, packer.encrypt_weights(enc, zero, zero, ctx->max_level()), topt);
    rep.iterations = res.iterations;
    rep.refreshes = res.refreshes;
    rep.train_seconds = res.seconds;
    rep.refresh_seconds = res.refresh_seconds;
    rep.seconds_per_iteration = res.iterations ? res.seconds / static_cast<double>(res.iterations) : 0;

    const auto t_dec = Clock::now();
    report_progress("decrypt", 0);
    HEAL_RETURN_IF_ERROR(hospitals_decrypt(net_, *ctx, H, Purpose::kWeights, res.weights));
    report_progress("decrypt", 1);
    rep.decrypt_seconds = seconds_since(t_dec);
  } catch (const StatusError& e) {
    return e.status();
  } catch (const std::invalid_argument& e) {
    return Status::invalid_argument(std::string("collective training: ") + e.what());
  }
  return rep;
}

// ---------------------------------------------------------------------------------------------
// The whole run in one process.

Result<MultiHospitalReport> run_multi_hospital(const MultiHospitalOptions& opt) {
  HEAL_ASSIGN_OR_RETURN(FeatureSplit train, load_features(opt.features, "train"));
  HEAL_ASSIGN_OR_RETURN(FeatureSplit test, load_features(opt.features, "test"));
  if (test.d != train.d) return Status::invalid_argument(opt.features + ": train and test have different feature counts");
  if (opt.max_train > 0 && opt.max_train < train.n) {
    train.n = opt.max_train;
    train.x.resize(train.n * train.d);
    train.y.resize(train.n);
  }
  const std::size_t H = opt.job.hospitals;
  if (H < 2 || train.n < H) return Status::invalid_argument("need at least 2 hospitals and a row for each");
  CollectiveJob job = opt.job;
  job.crs = random_seed();
  InProcessPartyNetwork net;
  std::vector<std::unique_ptr<CollectiveHospital>> hospitals;
  std::size_t first = 0;
  for (std::size_t h = 0; h < H; ++h) {  // contiguous parts, the remainder to the first hospitals
    const std::size_t n_h = train.n / H + (h < train.n % H ? 1 : 0);
    FeatureSplit part;
    part.n = n_h;
    part.d = train.d;
    part.x.assign(train.x.begin() + static_cast<std::ptrdiff_t>(first * train.d),
                  train.x.begin() + static_cast<std::ptrdiff_t>((first + n_h) * train.d));
    part.y.assign(train.y.begin() + static_cast<std::ptrdiff_t>(first),
                  train.y.begin() + static_cast<std::ptrdiff_t>(first + n_h));
    first += n_h;
    hospitals.push_back(std::make_unique<CollectiveHospital>(Party(h + 1), std::move(part), net, job.allow_insecure));
    net.attach(Party(h + 1), hospitals.back().get());
  }
  CollectiveServer server(job, net, opt.threads);
  HEAL_ASSIGN_OR_RETURN(CollectiveServerReport srep, server.run(opt.progress));

  MultiHospitalReport rep;
  rep.server = srep;
  for (Party p = 0; p <= H; ++p) rep.traffic.push_back(net.traffic(p));
  rep.weights = hospitals[0]->weights();
  rep.hospitals_agree = true;
  for (const auto& h : hospitals) {
    const auto& w = h->weights();
    if (w.size() != rep.weights.size()) rep.hospitals_agree = false;
    for (std::size_t j = 0; j < w.size() && j < rep.weights.size(); ++j)
      if (std::abs(w[j] - rep.weights[j]) > 1e-9) rep.hospitals_agree = false;
  }
  // The hospitals' normaliser (decrypted union moments) vs. the one fitted in the clear.
  const Normalizer& norm = hospitals[0]->normalizer();
  const Normalizer clear = Normalizer::fit(train, job.norm_c);
  for (std::size_t j = 0; j < train.d; ++j) {
    // Features the clear fit calls constant are left out (counted).
    if (!(clear.inv_std[j] > 0)) {
      ++rep.near_constant_features;
      continue;
    }
    rep.max_normalizer_error = std::max(rep.max_normalizer_error, std::abs(norm.mean[j] - clear.mean[j]) * clear.inv_std[j]);
    rep.max_normalizer_error = std::max(rep.max_normalizer_error, std::abs(norm.inv_std[j] / clear.inv_std[j] - 1));
  }
  FeatureSplit test_h = test;
  norm.apply(test_h);
  rep.n_test = test.n;
  const auto me = internal::evaluate(test_h, rep.weights);
  rep.rows.push_back({"encrypted (" + std::to_string(H) + " hospitals)", job.epochs, 0.0, me.acc, me.auc});
  if (opt.compare_plain) {
    FeatureSplit tr = train, te = test;
    clear.apply(tr);
    clear.apply(te);
    const auto zt = ht::make_z(tr.x, tr.y, tr.d);
    const auto poly = ht::SigmoidPoly::fit(job.degree, job.bound);
    const auto sched = internal::schedule(job.alpha, job.inverse_time, job.nesterov);
    for (const bool exact : {false, true}) {
      ht::PlainNag plain(zt, tr.d, poly, sched, std::min(job.batch_rows, tr.n), exact);
      plain.run(job.epochs * plain.plan().batches());
      const auto mp_ = internal::evaluate(te, plain.w());
      rep.rows.push_back({exact ? "plaintext (exact sigmoid)" : "plaintext (same polynomial)", job.epochs, 0.0, mp_.acc,
                          mp_.auc});
      if (!exact) {
        for (std::size_t j = 0; j < plain.w().size() && j < rep.weights.size(); ++j)
          rep.max_weight_error = std::max(rep.max_weight_error, std::abs(plain.w()[j] - rep.weights[j]));
      }
    }
  }
  return rep;
}

}  // namespace heal::apps::he_train
