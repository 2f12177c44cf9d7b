// Three hospitals build a collective CKKS key, encrypt their values, the (untrusted) aggregator
// adds the ciphertexts, and all three decrypt the sum together with noise-flooded shares. Two
// of the three cannot. Exits non-zero if the sum is wrong or two parties can decrypt.
#include <cmath>
#include <cstdio>
#include <vector>

#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/multiparty/key_gen.h"
#include "heal/ckks/multiparty/threshold.h"

int main() {
  using namespace heal;
  using namespace heal::ckks;
  using namespace heal::ckks::multiparty;
  ParamsSpec spec;
  spec.log_n = 12;
  spec.q_bits = {60, 58};  // decrypting at a 58-bit scale leaves room for the flooding noise
  spec.p_bits = {60};
  spec.default_scale = 0x1p58;
  spec.allow_insecure = true;  // small ring for a fast example
  const ContextPtr ctx = Context::create(spec);
  const std::size_t parties = 3;
  SystemRng rng;

  // Each party samples its own secret; the CRS seed is public (e.g. from the ledger).
  std::vector<SecretKey> secrets;
  for (std::size_t i = 0; i < parties; ++i) secrets.push_back(sample_secret_key(*ctx, rng));
  CollectivePublicKeyGen ckg(ctx, seed_from_u64(2026));
  std::vector<KeyShare> pk_shares;
  for (std::size_t i = 0; i < parties; ++i) pk_shares.push_back(ckg.gen_share(PartyId(i + 1), secrets[i], rng));
  const PublicKey pk = ckg.finalize(ckg.aggregate_shares(pk_shares));

  // Every party encrypts its update; the aggregator sums the ciphertexts.
  Encoder encoder(ctx);
  Encryptor encryptor(ctx, pk);
  Evaluator ev(ctx);
  std::vector<double> expected(4, 0.0);
  Ciphertext sum;
  for (std::size_t i = 0; i < parties; ++i) {
    std::vector<double> update{0.1 * double(i + 1), -0.2, 0.3 * double(i), 0.05};
    for (std::size_t k = 0; k < update.size(); ++k) expected[k] += update[k];
    const Ciphertext c = encryptor.encrypt(encoder.encode(update));
    sum = i == 0 ? c : ev.add(sum, c);
  }

  // Threshold decryption: flooding sized for the sum of 3 fresh ciphertexts, lambda = 40, at most
  // 16 decryptions under this key. Check first that the flooding leaves the precision we need.
  // The decryptor derives B_ct = 3 * fresh_noise_bound(ctx, 3) itself from what it is told about
  // the ciphertext (a sum of 3 fresh public-key encryptions) and refuses to share if the flooding
  // leaves fewer than required_bits.
  FloodingParams flood;
  flood.max_decryptions = 16;
  flood.parties = parties;
  flood.secret_parties = parties;
  flood.fresh_encryptions = parties;
  flood.required_bits = 10;
  const Status enough = check_flooding_precision(*ctx, flood, parties, sum.scale(), flood.required_bits);
  if (!enough.ok()) {
    std::printf("%s\n", enough.to_string().c_str());
    return 1;
  }
  ThresholdDecryptor td(ctx, flood);
  std::vector<DecryptionShare> shares;
  for (std::size_t i = 0; i < parties; ++i) shares.push_back(td.gen_share(PartyId(i + 1), sum, secrets[i], rng));
  const auto all = encoder.decode_real(td.finalize(sum, td.aggregate_shares(shares)));
  const auto two = encoder.decode_real(td.finalize(sum, td.aggregate_shares(std::span(shares.data(), 2))));

  double err = 0, err_two = 0;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    err = std::max(err, std::fabs(all[k] - expected[k]));
    err_two = std::max(err_two, std::fabs(two[k] - expected[k]));
    std::printf("slot %zu: %.5f (expected %.5f)\n", k, all[k], expected[k]);
  }
  std::printf("sigma_flood = 2^%.1f; 3-of-3 error %.2g (%.1f bits); 2-of-3 error %.2g (garbage)\n", std::log2(td.sigma()),
              err, -std::log2(err), err_two);
  return err < 1e-3 && err_two > 1.0 ? 0 : 1;
}
