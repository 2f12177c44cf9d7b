// The hospital side of the HE aggregator: encrypts weight * update under its own additive secret
// with the round's public `a` polynomials (only c0 is sent), and produces flooded t-of-n
// decryption shares for one contributor set per round. Design: src/fl/README.md "HE aggregation".
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "he_internal.h"
#include "heal/ckks/ciphertext.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"
#include "heal/ckks/serialization.h"
#include "heal/core/serialization.h"
#include "heal/fl/node_store.h"

namespace heal::fl::he {

namespace {

using ckks::multiparty::KeyShare;
using math::RnsPoly;

class HeParty final : public AggregationParty {
 public:
  HeParty(std::shared_ptr<const Shared> sh, PartyId id, Material material, std::shared_ptr<NodeStore> store)
      : sh_(std::move(sh)),
        id_(id),
        m_(std::move(material)),
        decryptor_(sh_->ctx, sh_->flooding),
        store_(std::move(store)) {}

  PartyId party() const override { return id_; }
  std::uint64_t decryption_budget() const override { return sh_->config.max_decryptions; }

  Result<Bytes> contribute(std::span<const float> update, double weight, std::uint64_t round, Rng& rng) override {
    // A second encryption with the same a_{r,k} would reveal the difference of the two messages.
    if (last_contributed_ && round <= *last_contributed_) {
      return Status::invalid_argument("he: party already contributed in round " + std::to_string(*last_contributed_) +
                                      "; refusing to reuse the round's public polynomials");
    }
    if (!std::isfinite(weight) || weight < 0 || weight > sh_->config.max_total_weight) {
      return Status::invalid_argument("he: contribution weight must be in [0, max_total_weight]");
    }
    for (float u : update) {
      if (!std::isfinite(u) || std::fabs(u) > sh_->config.max_abs_update) {
        return Status::invalid_argument("he: update coordinate outside [-max_abs_update, max_abs_update] (" +
                                        std::to_string(u) + "); raise max_abs_update or clip");
      }
    }
    // Write-ahead: the round is on disk before anything is encrypted under its a (node_store.h).
    if (store_) HEAL_RETURN_IF_ERROR(store_->record_contribution(round));
    const auto& ctx = *sh_->ctx;
    const std::size_t n = ctx.n(), nchunks = chunk_count(*sh_, update.size());
    // Symmetric encryption under the party's additive secret s_i with the round's public
    // a_{r,k}: c0 = -a s_i + e + round(weight * update * delta) (coefficient encoding); only c0
    // travels, and the sum of the contributors' c0 decrypts under the sum of their secrets.
    ckks::Encryptor encryptor(sh_->ctx, m_.secret);
    std::vector<Bytes> chunks;
    std::vector<double> vals;
    for (std::size_t c = 0; c < nchunks; ++c) {
      const std::size_t begin = c * n, end = std::min(update.size(), begin + n);
      vals.assign(end - begin, 0.0);
      for (std::size_t k = begin; k < end; ++k) vals[k - begin] = weight * static_cast<double>(update[k]);
      const ckks::Plaintext pt = sh_->encoder->encode_coeffs(vals, sh_->delta, ctx.max_level());
      // Only c0's high bits travel: rounding adds |e| <= 2^(drop_bits-1), far below the noise
      // (he_aggregator.cpp compute_drop_bits).
      chunks.push_back(
          ckks::save_compact(ctx, encryptor.encrypt_seeded(pt, chunk_seed(sh_->crs, round, c), rng), sh_->drop_bits));
    }
    last_contributed_ = round;
    const PartyId ids[] = {id_};
    return write_message(*sh_, kContribution, round, ids, update.size(), chunks);
  }

  Result<Bytes> decryption_share(std::span<const std::uint8_t> aggregate, std::span<const PartyId> quorum,
                                 std::span<const PartyId> expected, std::uint64_t round, Rng& rng) override {
    const auto& ctx = *sh_->ctx;
    // Only the header matters: the share is a_{r,k} * lambda S_C(x_j) + e_flood and never reads c0.
    auto hdr = peek_length(aggregate);
    if (!hdr.ok()) return hdr.status();
    auto parsed = read_message(*sh_, aggregate, kAggregate, round, static_cast<std::size_t>(*hdr));
    if (!parsed.ok()) return parsed.status().with_context("he decryption request");
    const std::vector<PartyId>& contributors = parsed->ids;
    // The share is built from the ids inside the aggregate bytes: they must be the ledger's set.
    if (!std::equal(contributors.begin(), contributors.end(), expected.begin(), expected.end())) {
      return Status::invalid_argument("he: the aggregate's contributors differ from the round's contributor set");
    }
    if (contributors.size() < std::max<std::size_t>(3, sh_->min_parties)) {
      return Status::invalid_argument("he: refusing to decrypt a sum over " + std::to_string(contributors.size()) +
                                      " contributor(s)");
    }
    if (last_shared_round_) {
      if (round < *last_shared_round_) return Status::invalid_argument("he: decryption request for an earlier round");
      if (round == *last_shared_round_ && contributors != last_shared_set_) {
        return Status::invalid_argument("he: a different contributor set was already decrypted this round");
      }
    }
    std::vector<PartyId> q;
    for (PartyId p : quorum) {
      if (p >= sh_->parties) return Status::invalid_argument("he: unknown quorum member " + std::to_string(p));
      q.push_back(p + 1);  // ckks ids are Shamir points >= 1
    }
    if (q.size() < sh_->threshold || std::find(quorum.begin(), quorum.end(), id_) == quorum.end()) {
      return Status::invalid_argument("he: quorum too small or without this party");
    }
    // The flooding is sized for sums of at most flooding.fresh_encryptions fresh encryptions: one
    // per distinct contributor (read_message refused repeated or unknown ids).
    if (contributors.size() > sh_->flooding.fresh_encryptions) {
      return Status::invalid_argument("he: aggregate over more contributors than the flooding noise is sized for");
    }
    const std::size_t nchunks = parsed->chunks.size();
    if (decryptor_.shares_generated() + nchunks > sh_->config.max_decryptions) {
      return Status::out_of_range("he: flooding budget of this key epoch exhausted; rotate keys");
    }
    // Write-ahead: round, aggregate and spent budget are on disk before a share is made.
    if (store_) HEAL_RETURN_IF_ERROR(store_->record_decryption(round, blake2b_256(aggregate), nchunks));
    // S_C(x_j) = sum over contributors of the Shamir shares received from them: party j's share
    // of sum_{i in C} s_i, the secret the aggregate of C decrypts under.
    std::vector<KeyShare> from_contributors;
    for (PartyId c : contributors) from_contributors.push_back(m_.received.at(c));
    KeyShare sum = ckks::multiparty::sum_key_shares(ctx, from_contributors);
    ckks::multiparty::ThresholdSecret secret;
    secret.party = id_ + 1;
    secret.threshold = sh_->threshold;
    secret.share = ckks::SecretKey(std::move(sum.polys[0]));
    std::vector<Bytes> chunks;
    for (std::size_t c = 0; c < nchunks; ++c) {
      // The share reads only c1 = a_{r,k}: the seeded ciphertext (c0 = 0, a) of the chunk seed.
      const ckks::Ciphertext ct =
          ckks::SeededCiphertext(chunk_seed(sh_->crs, round, c), RnsPoly(ctx.n(), ctx.q_count(), true), sh_->delta, 0)
              .expand(ctx);
      if (Status st = decryptor_.check_share(ct, q.size()); !st.ok()) return st.with_context("he decryption request");
      auto share = decryptor_.gen_share(secret, q, ct, rng);
      chunks.push_back(ckks::save_compact(ctx, share, sh_->drop_bits));  // rounded below the flooding noise
    }
    last_shared_round_ = round;
    last_shared_set_ = contributors;
    const PartyId ids[] = {id_};
    return write_message(*sh_, kShare, round, ids, parsed->length, chunks);
  }

 private:
  // The length field of a message, to validate the rest against it.
  static Result<std::uint64_t> peek_length(std::span<const std::uint8_t> bytes) {
    ByteReader r(bytes);
    HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, kRoundWireVersion));
    (void)h;
    std::uint8_t kind = 0;
    std::uint64_t round = 0;
    std::span<const std::uint8_t> ph;
    std::uint32_t count = 0;
    HEAL_RETURN_IF_ERROR(r.get(&kind));
    HEAL_RETURN_IF_ERROR(r.get(&round));
    HEAL_RETURN_IF_ERROR(r.get_bytes(32, &ph));
    HEAL_RETURN_IF_ERROR(r.get(&count));
    if (count > 1u << 16) return Status::corruption("he update: too many parties");
    std::span<const std::uint8_t> ids;
    HEAL_RETURN_IF_ERROR(r.get_bytes(std::size_t{count} * 4, &ids));
    std::uint64_t length = 0;
    HEAL_RETURN_IF_ERROR(r.get(&length));
    if (length > (std::uint64_t{1} << 34)) return Status::corruption("he update: implausible length");
    return length;
  }

  std::shared_ptr<const Shared> sh_;
  PartyId id_;
  Material m_;
  ckks::multiparty::ThresholdDecryptor decryptor_;
  std::optional<std::uint64_t> last_contributed_;
  std::optional<std::uint64_t> last_shared_round_;
  std::vector<PartyId> last_shared_set_;
  std::shared_ptr<NodeStore> store_;  // optional: safeguards that survive a restart
};

}  // namespace

std::unique_ptr<AggregationParty> make_party(std::shared_ptr<const Shared> sh, PartyId id, Material material,
                                             std::shared_ptr<NodeStore> store) {
  return std::make_unique<HeParty>(std::move(sh), id, std::move(material), std::move(store));
}

}  // namespace heal::fl::he
