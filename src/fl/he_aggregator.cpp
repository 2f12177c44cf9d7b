// The public side of the HE aggregator: simulated setup (secrets, Shamir re-sharing, collective
// public key), the noise budget, summing contributions and combining decryption shares.
#include "heal/fl/he_aggregator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "he_internal.h"
#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/ckks/serialization.h"
#include "heal/core/check.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"
#include "heal/math/sampler.h"

namespace heal::fl {

using math::RnsPoly;

namespace {

Seed derive_seed(std::string_view label, std::uint64_t seed, std::uint64_t index) {
  std::string buf(label);
  for (int b = 0; b < 8; ++b) buf.push_back(static_cast<char>(seed >> (8 * b)));
  for (int b = 0; b < 8; ++b) buf.push_back(static_cast<char>(index >> (8 * b)));
  return blake2b_256(std::string_view(buf));
}

ckks::ContextPtr make_context(const HeAggregatorConfig& c) {
  ckks::ParamsSpec spec;
  spec.log_n = c.log_n;
  spec.q_bits = c.q_bits;
  spec.p_bits = c.p_bits;
  spec.default_scale = 1.0;
  return ckks::Context::create(spec);  // refuses < 128-bit security
}

// Std of the noise on a decrypted coefficient before compression: t flooded shares and the
// contributors' fresh encryption noise.
double unrounded_noise_std(const he::Shared& sh) {
  const double sigma = ckks::multiparty::flooding_sigma(*sh.ctx, sh.flooding);
  const double fresh_std = math::kDefaultSigma * std::sqrt(static_cast<double>(sh.parties));
  return std::sqrt(static_cast<double>(sh.threshold) * sigma * sigma + fresh_std * fresh_std);
}

// Low bits dropped from every contribution's c0 and every decryption share (ckks::save_compact):
// each rounding adds an independent error, uniform on (-2^(k-1), 2^(k-1)] (std 2^k / sqrt 12), to
// the decrypted coefficient. At most n contributions and n shares (a quorum may exceed t) add
// up; k is the largest value with sqrt(2n) * 2^k / sqrt(12) <= std / 16, so the total error std
// grows by a factor <= sqrt(1 + 1/256). Public parameters only: every party and the aggregator
// derive the same k (and the readers refuse chunks compressed with another one).
int compute_drop_bits(const he::Shared& sh) {
  const double bound =
      unrounded_noise_std(sh) * std::sqrt(12.0) / (16.0 * std::sqrt(2.0 * static_cast<double>(sh.parties)));
  const int k = bound < 1 ? 0 : static_cast<int>(std::floor(std::log2(bound)));
  return std::max(0, k);
}

double rounding_std(const he::Shared& sh, std::size_t roundings) {
  if (sh.drop_bits == 0) return 0;  // exact
  return std::exp2(sh.drop_bits) / std::sqrt(12.0) * std::sqrt(static_cast<double>(roundings));
}

void fill_budget(const he::Shared& sh, HeBudget& b) {
  const auto& ctx = *sh.ctx;
  b.n = ctx.n();
  b.log_q = 0;
  for (std::size_t i = 0; i < ctx.q_count(); ++i) b.log_q += std::log2(static_cast<double>(ctx.q(i).value()));
  b.log_delta = std::log2(sh.delta);
  b.fresh_noise_bound = ckks::multiparty::effective_noise_bound(ctx, sh.flooding);
  b.log_flood_sigma = std::log2(ckks::multiparty::flooding_sigma(ctx, sh.flooding));
  const double std_unrounded = unrounded_noise_std(sh);
  b.log_noise_std = std::log2(std_unrounded);
  b.drop_bits = sh.drop_bits;
  // The error of a decryption with t shares of a sum of all parties' contributions.
  b.rounding_std = rounding_std(sh, sh.parties + sh.threshold) / sh.delta;
  b.abs_error_std_unrounded = std_unrounded / sh.delta;
  b.abs_error_std = std::hypot(b.abs_error_std_unrounded, b.rounding_std);
  const auto bits = ckks::compact_coefficient_bits(ctx, ctx.max_level(), sh.drop_bits);
  HEAL_REQUIRE(bits.ok(), "HeAggregator: " << bits.status().message());
  b.upload_ratio = *bits / 32.0;
  b.share_ratio = *bits / 32.0;
}

// Threshold rules (src/fl/README.md "Threshold rules"; configuration, not outside bytes: misuse throws).
void apply_threshold_rules(const HeAggregatorConfig& config, std::size_t num_parties, he::Shared& sh) {
  const auto n = static_cast<std::uint32_t>(num_parties);
  sh.threshold = config.threshold == 0 ? n / 2 + 1 : config.threshold;
  const std::uint32_t t = sh.threshold;
  // t = 1 is Shamir degree 0: every hospital's share of every secret is the secret itself.
  HEAL_REQUIRE(t >= 2, "HeAggregator: threshold t = "
                           << t << " refused: t must be >= 2 (with t = 1 every hospital holds every secret)");
  HEAL_REQUIRE(t <= n, "HeAggregator: threshold t = " << t << " exceeds the " << n << " parties");
  // t > n/2: any two quorums intersect, and every member shares for one contributor set per round,
  // so no two different sets are decrypted in one round (their difference would isolate an update).
  HEAL_REQUIRE(
      2 * t > n || config.allow_non_majority_threshold,
      "HeAggregator: threshold t = " << t << " of n = " << n
                                     << " refused: t must exceed n/2 (two disjoint quorums could decrypt two "
                                        "contributor sets in one round); opt in: allow_non_majority_threshold");
  sh.colluders = config.colluders_tolerated.value_or(t - 1);
  HEAL_REQUIRE(sh.colluders <= t - 1, "HeAggregator: colluders_tolerated " << sh.colluders << " exceeds t - 1 = "
                                                                           << t - 1 << " (t colluders decrypt alone)");
  // A sum of m contributions, c of them colluding, reveals the sum of the m - c others to the
  // colluders: m >= c + 2 keeps that a sum of at least two. And at least 3 contributions with HE:
  // with 2, either contributor subtracts its own update from the decrypted sum and reads the other.
  const std::uint32_t floor = std::max<std::uint32_t>(3, sh.colluders + 2);
  sh.min_parties = config.min_aggregate_parties == 0 ? floor : config.min_aggregate_parties;
  HEAL_REQUIRE(sh.min_parties >= floor, "HeAggregator: min_aggregate_parties "
                                            << sh.min_parties << " is below " << floor
                                            << " = max(3, colluders tolerated " << sh.colluders << " + 2)");
  HEAL_REQUIRE(sh.min_parties <= n, "HeAggregator: a sum needs at least "
                                        << sh.min_parties << " contributors but there are only " << n
                                        << " parties; lower t or set colluders_tolerated (now " << sh.colluders << ")");
}

}  // namespace

std::shared_ptr<he::Shared> he::make_shared_state(const HeAggregatorConfig& config, std::size_t num_parties) {
  HEAL_REQUIRE(num_parties >= 2, "HeAggregator: needs at least 2 parties, got " << num_parties);
  HEAL_REQUIRE(config.max_abs_update > 0 && config.max_total_weight >= 1,
               "HeAggregator: max_abs_update must be > 0 and max_total_weight >= 1");
  auto sh = std::make_shared<he::Shared>();
  sh->config = config;
  sh->ctx = make_context(config);
  sh->encoder = std::make_shared<const ckks::Encoder>(sh->ctx);
  sh->parties = num_parties;
  apply_threshold_rules(config, num_parties, *sh);
  double log_q = 0;
  for (std::size_t i = 0; i < sh->ctx->q_count(); ++i) log_q += std::log2(static_cast<double>(sh->ctx->q(i).value()));
  HEAL_REQUIRE(log_q <= 120, "HeAggregator: Q must stay below 2^120 (128-bit CRT decoding), got 2^" << log_q);
  // Headroom: |sum_i w_i u_i[k]| * Delta <= W * U * Delta <= Q / 8, leaving room for the sign and the noise.
  const double log_delta = std::floor(log_q - 3 - std::log2(config.max_total_weight * config.max_abs_update));
  sh->delta = std::exp2(log_delta);
  sh->crs = derive_seed("HEAL-fl-he-crs", config.seed, 0);
  sh->params_hash = ckks::params_hash(*sh->ctx);
  sh->flooding.security_bits = config.flooding_bits;
  sh->flooding.max_decryptions = config.max_decryptions;
  // What every party checks before a share leaves it (ThresholdDecryptor): B_ct is derived, not
  // trusted. An aggregate is the sum of the c0 of at most `num_parties` fresh symmetric encryptions
  // (distinct contributors, checked by read_message), each with noise <= 6 sigma (sample_gaussian
  // truncates); the weights multiply the message before encryption, not the noise.
  sh->flooding.fresh_kind = ckks::multiparty::FreshEncryption::kSymmetric;
  sh->flooding.fresh_encryptions = num_parties;
  sh->flooding.secret_parties = num_parties;
  sh->flooding.parties = sh->threshold;
  sh->flooding.required_bits = config.min_precision_bits;
  ckks::multiparty::validate(*sh->ctx, sh->flooding);  // lambda >= 40, the derived B_ct
  sh->drop_bits = compute_drop_bits(*sh);
  HeBudget b;
  fill_budget(*sh, b);
  // The noise must stay well below the headroom left under Q/2 (12 sigma below 2^(log q - 2)).
  HEAL_REQUIRE(b.log_noise_std + std::log2(12.0) < log_q - 2,
               "HeAggregator: flooding noise 2^" << b.log_noise_std << " leaves no headroom in Q = 2^" << log_q);
  HEAL_REQUIRE(log_delta >= 20, "HeAggregator: scale 2^" << log_delta << " too small; raise Q or lower the bounds");
  // The same precision check every party makes before sharing, for the largest quorum (all parties;
  // coefficient encoding): refuse the configuration now rather than every decryption later.
  const Status precise = ckks::multiparty::check_flooding_precision(*sh->ctx, sh->flooding, num_parties, sh->delta,
                                                                    config.min_precision_bits, 0);
  HEAL_REQUIRE(precise.ok(), "HeAggregator: " << precise.message());
  return sh;
}

struct HeAggregator::Impl {
  std::shared_ptr<he::Shared> sh;
  std::vector<he::Material> material;  // index: fl party id
};

HeBudget he_budget(const HeAggregatorConfig& config, std::size_t num_parties) {
  auto sh = he::make_shared_state(config, num_parties);
  HeBudget b;
  fill_budget(*sh, b);
  return b;
}

HeAggregator::HeAggregator(HeAggregatorConfig config, std::size_t num_parties) : impl_(std::make_unique<Impl>()) {
  impl_->sh = he::make_shared_state(config, num_parties);
  auto& sh = *impl_->sh;
  fill_budget(sh, budget_);
  const auto& ctx = sh.ctx;
  // Simulated setup. In a deployment each step below runs at its hospital; only the Shamir share
  // addressed to party j (privately) and the public-key share leave hospital i.
  std::vector<ckks::multiparty::PartyId> ids(num_parties);
  std::iota(ids.begin(), ids.end(), 1u);
  ckks::multiparty::ThresholdKeyGen tkg(ctx, sh.threshold, ids);
  ckks::multiparty::CollectivePublicKeyGen cpkg(ctx, sh.crs);
  impl_->material.resize(num_parties);
  for (auto& m : impl_->material) m.received.resize(num_parties);
  std::vector<ckks::multiparty::KeyShare> pk_shares;
  for (std::size_t i = 0; i < num_parties; ++i) {
    SeededRng rng(derive_seed("HEAL-fl-he-party", config.seed, i));
    ckks::KeyGenerator kg(ctx, std::make_unique<SeededRng>(derive_seed("HEAL-fl-he-secret", config.seed, i)));
    impl_->material[i].secret = kg.secret_key();
    auto shamir = tkg.gen_share(ids[i], impl_->material[i].secret, rng);
    for (std::size_t j = 0; j < num_parties; ++j) impl_->material[j].received[i] = std::move(shamir[j]);
    pk_shares.push_back(cpkg.gen_share(ids[i], impl_->material[i].secret, rng));
  }
  const ckks::PublicKey cpk = cpkg.finalize(cpkg.aggregate_shares(pk_shares));
  sh.cpk_hash = blake2b_256(ckks::save(*ctx, cpk));
}

HeAggregator::HeAggregator(const HePublicSetup& setup) : impl_(std::make_unique<Impl>()) {
  impl_->sh = he::make_shared_state(setup.config, setup.num_parties);
  impl_->sh->crs = setup.crs;
  impl_->sh->cpk_hash = setup.cpk_hash;
  fill_budget(*impl_->sh, budget_);
}

HeAggregator::~HeAggregator() = default;

const ckks::ContextPtr& HeAggregator::context() const { return impl_->sh->ctx; }

const HeAggregatorConfig& HeAggregator::config() const { return impl_->sh->config; }

std::size_t HeAggregator::chunks(std::size_t length) const { return he::chunk_count(*impl_->sh, length); }

std::size_t HeAggregator::contribution_bytes(std::size_t length) const {
  // A throwaway party: the size does not depend on the secret (public side: a fresh one).
  he::Material throwaway;
  if (impl_->material.empty()) {
    throwaway.secret = ckks::KeyGenerator(impl_->sh->ctx).secret_key();
  } else {
    throwaway = impl_->material[0];
  }
  auto p = he::make_party(impl_->sh, 0, std::move(throwaway));
  const std::vector<float> zeros(length, 0.0f);
  SystemRng rng;
  auto c = p->contribute(zeros, 0, 0, rng);
  HEAL_REQUIRE(c.ok(), "HeAggregator::contribution_bytes: " << c.status().to_string());
  return c->size();
}

AggregatorSetupInfo HeAggregator::setup_info() const {
  const auto& sh = *impl_->sh;
  return {"threshold-ckks", "fl-he/" + sh.ctx->describe(), sh.params_hash, sh.cpk_hash, sh.threshold, sh.min_parties};
}

std::uint32_t HeAggregator::threshold() const { return impl_->sh->threshold; }
std::uint32_t HeAggregator::colluders_tolerated() const { return impl_->sh->colluders; }
std::uint32_t HeAggregator::min_aggregate_parties() const { return impl_->sh->min_parties; }

Result<std::optional<PartyId>> HeAggregator::contributor(std::span<const std::uint8_t> contribution, std::size_t length,
                                                         std::uint64_t round) const {
  auto p = he::read_message(*impl_->sh, contribution, he::kContribution, round, length);
  if (!p.ok()) return p.status();
  if (p->ids.size() != 1) return Status::corruption("contribution must name one party");
  return std::optional<PartyId>(p->ids[0]);
}

Status HeAggregator::check_share(std::span<const std::uint8_t> share, PartyId party, std::size_t length,
                                 std::uint64_t round) const {
  // The same checks as finalize() makes of each share, one share at a time.
  auto p = he::read_message(*impl_->sh, share, he::kShare, round, length);
  if (!p.ok()) return p.status();
  if (p->ids.size() != 1 || p->ids[0] != party) return Status::corruption("decryption share: producer mismatch");
  return {};
}

double HeAggregator::sum_bound(double total_weight) const {
  const auto& c = impl_->sh->config;
  // The key holders refuse to share unless 8 std of the error stay below 2^-min_precision_bits.
  const double noise = std::max(8 * budget_.abs_error_std, std::exp2(-c.min_precision_bits));
  return total_weight * c.max_abs_update + noise;
}

Result<std::unique_ptr<AggregationParty>> HeAggregator::party(PartyId p) {
  if (impl_->material.empty()) {
    return Status::failed_precondition(
        "HeAggregator: public side of a dealer-free setup holds no party's keys; "
        "build the party from its own HeKeyMaterial");
  }
  if (p >= impl_->material.size())
    return Status::invalid_argument("party " + std::to_string(p) + " is not in the federation");
  return he::make_party(impl_->sh, p, impl_->material[p]);
}

Result<std::unique_ptr<NodeStore>> HeAggregator::create_party_store(PartyId p, const std::string& path,
                                                                    std::string_view passphrase,
                                                                    const VaultKdf& kdf) const {
  if (p >= impl_->material.size()) {
    return Status::invalid_argument("party " + std::to_string(p) + " is not in the federation");
  }
  const auto& sh = *impl_->sh;
  return NodeStore::create(path, passphrase, p, sh.cpk_hash, sh.config.max_decryptions,
                           he::save_material(sh, p, impl_->material[p]), kdf);
}

Result<std::unique_ptr<AggregationParty>> HeAggregator::party_from_store(std::shared_ptr<NodeStore> store) {
  HEAL_REQUIRE(store != nullptr, "HeAggregator::party_from_store: null store");
  const auto& sh = *impl_->sh;
  const PartySafeguards& g = store->safeguards();
  if (g.party >= sh.parties) {
    return Status::invalid_argument("the store's party " + std::to_string(g.party) + " is not in the federation");
  }
  if (g.key_epoch != sh.cpk_hash) {
    return Status::failed_precondition("the node store belongs to another key epoch (collective public key)");
  }
  if (g.decryption_budget != sh.config.max_decryptions) {
    return Status::failed_precondition("the node store's flooding budget " + std::to_string(g.decryption_budget) +
                                       " differs from this federation's max_decryptions");
  }
  auto m = he::load_material(sh, g.party, store->material());
  if (!m.ok()) return m.status().with_context(store->path());
  return he::make_party(impl_->sh, g.party, std::move(*m), std::move(store));
}

Result<Bytes> HeAggregator::aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) {
  if (contributions.empty()) return Status::invalid_argument("nothing to aggregate");
  const auto& sh = *impl_->sh;
  const auto& ctx = *sh.ctx;
  const std::size_t nchunks = he::chunk_count(sh, length);
  std::vector<he::Parsed> parsed;
  std::vector<PartyId> contributors;
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    auto p = he::read_message(sh, contributions[i], he::kContribution, round, length);
    if (!p.ok()) return p.status().with_context("contribution " + std::to_string(i));
    if (p->ids.size() != 1) return Status::corruption("contribution " + std::to_string(i) + ": must name one party");
    contributors.push_back(p->ids[0]);
    parsed.push_back(std::move(*p));
  }
  std::vector<PartyId> sorted = contributors;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Status::invalid_argument("two contributions from the same party");
  }
  // Chunk by chunk: the contributors' encryptions under the common a_{r,k} add up (ckks) to an
  // encryption of the weighted sum under s_C.
  std::vector<Bytes> chunks;
  std::vector<ckks::SeededCiphertext> cts;
  for (std::size_t c = 0; c < nchunks; ++c) {
    cts.clear();
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      auto ct = he::load_contribution_chunk(sh, parsed[i].chunks[c]);
      if (!ct.ok()) return ct.status().with_context("contribution " + std::to_string(i));
      if (ct->seed() != he::chunk_seed(sh.crs, round, c) || ct->level() != ctx.max_level() || ct->scale() != sh.delta) {
        return Status::corruption("contribution " + std::to_string(i) + ": ciphertext not made for this round/chunk");
      }
      cts.push_back(std::move(*ct));
    }
    auto sum = ckks::multiparty::sum_seeded_ciphertexts(ctx, cts);
    if (!sum.ok()) return sum.status().with_context("aggregate");
    chunks.push_back(ckks::save(ctx, *sum));
  }
  contributors = std::move(sorted);
  return he::write_message(sh, he::kAggregate, round, contributors, length, chunks);
}

Result<std::vector<double>> HeAggregator::finalize(std::span<const std::uint8_t> aggregate,
                                                   std::span<const DecryptionShare> shares, std::size_t length,
                                                   std::uint64_t round) {
  const auto& sh = *impl_->sh;
  const auto& ctx = *sh.ctx;
  auto agg = he::read_message(sh, aggregate, he::kAggregate, round, length);
  if (!agg.ok()) return agg.status().with_context("aggregate");
  if (shares.size() < sh.threshold) {
    return Status::invalid_argument("need " + std::to_string(sh.threshold) + " decryption shares, got " +
                                    std::to_string(shares.size()));
  }
  std::vector<he::Parsed> parsed;
  std::vector<PartyId> seen;
  for (const auto& s : shares) {
    auto p = he::read_message(sh, s.bytes, he::kShare, round, length);
    if (!p.ok()) return p.status().with_context("decryption share of party " + std::to_string(s.party));
    if (p->ids.size() != 1 || p->ids[0] != s.party) return Status::corruption("decryption share: producer mismatch");
    seen.push_back(s.party);
    parsed.push_back(std::move(*p));
  }
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end())
    return Status::invalid_argument("duplicate decryption share");
  std::vector<double> out(length);
  const std::size_t n = ctx.n();
  for (std::size_t c = 0; c < agg->chunks.size(); ++c) {
    auto ct = ckks::load_seeded_ciphertext(ctx, agg->chunks[c]);
    if (!ct.ok()) return ct.status().with_context("aggregate");
    if (ct->seed() != he::chunk_seed(sh.crs, round, c) || ct->level() != ctx.max_level() || ct->scale() != sh.delta) {
      return Status::corruption("aggregate: ciphertext not made for this round/chunk");
    }
    std::vector<ckks::multiparty::DecryptionShare> hs;
    for (const auto& p : parsed) {
      auto h = he::load_share_chunk(sh, p.chunks[c]);
      if (!h.ok()) return h.status().with_context("decryption share");
      hs.push_back(std::move(*h));
    }
    // m = c0 + sum_j h_j (ckks), then centred CRT decoding of the coefficients divided by delta.
    auto m = ckks::multiparty::combine_decryption_shares(ctx, *ct, hs);
    if (!m.ok()) return m.status().with_context("decryption shares");
    const std::vector<double> coeffs = sh.encoder->decode_coeffs(*m);
    const std::size_t begin = c * n, count = std::min(length - begin, n);
    std::copy_n(coeffs.begin(), count, out.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  for (double v : out) {
    if (!std::isfinite(v)) return Status::corruption("decrypted aggregate holds a non-finite value");
  }
  return out;
}

std::vector<std::uint64_t> HeAggregator::secret_for_testing(PartyId p) const {
  const auto& ctx = *impl_->sh->ctx;
  const auto& s = impl_->material.at(p).secret.poly();
  return std::vector<std::uint64_t>(s.data(), s.data() + ctx.q_count() * ctx.n());
}

std::vector<std::uint64_t> HeAggregator::shamir_share_for_testing(PartyId p) const {
  const auto& ctx = *impl_->sh->ctx;
  const ckks::multiparty::KeyShare sum = ckks::multiparty::sum_key_shares(ctx, impl_->material.at(p).received);
  return std::vector<std::uint64_t>(sum.polys[0].data(), sum.polys[0].data() + ctx.q_count() * ctx.n());
}

Result<std::vector<double>> HeAggregator::decrypt_with_for_testing(std::span<const std::uint8_t> bytes,
                                                                   std::uint64_t round, std::size_t length,
                                                                   std::size_t chunk,
                                                                   const std::vector<std::uint64_t>& secret_ntt) const {
  const auto& sh = *impl_->sh;
  const auto& ctx = *sh.ctx;
  auto p = he::read_message(sh, bytes, he::kContribution, round, length);
  const bool contribution = p.ok();
  if (!p.ok()) p = he::read_message(sh, bytes, he::kAggregate, round, length);
  if (!p.ok()) return p.status();
  if (chunk >= p->chunks.size() || secret_ntt.size() != ctx.q_count() * ctx.n()) {
    return Status::invalid_argument("decrypt_with_for_testing: bad chunk or secret size");
  }
  auto ct = contribution ? he::load_contribution_chunk(sh, p->chunks[chunk])
                         : ckks::load_seeded_ciphertext(ctx, p->chunks[chunk]);
  if (!ct.ok()) return ct.status();
  // A key-basis secret whose Q limbs are the given ones; the P limbs stay zero (Decryptor reads
  // only the ciphertext's Q limbs).
  RnsPoly s(ctx.n(), ctx.key_basis().size(), true);
  std::copy(secret_ntt.begin(), secret_ntt.end(), s.data());
  const ckks::Decryptor dec(sh.ctx, ckks::SecretKey(std::move(s)));
  const std::vector<double> coeffs = sh.encoder->decode_coeffs(dec.decrypt(ct->expand(ctx)));
  return std::vector<double>(coeffs.begin(),
                             coeffs.begin() + static_cast<std::ptrdiff_t>(std::min(ctx.n(), length - chunk * ctx.n())));
}

}  // namespace heal::fl
