// secp256k1 identities: signing, verification and refusal of tampered, malleated (high-S) and
// malformed input.
#include <gtest/gtest.h>

#include <array>
#include <set>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/ledger/identity.h"
#include "ledger/ledger_fixture.h"

namespace heal::ledger {
namespace {

Bytes msg(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Group order n of secp256k1 (SEC 2, section 2.4.1), big-endian.
constexpr std::array<std::uint8_t, 32> kOrder = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                                 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};

// s' = n - s (big-endian, s < n): the other valid signature of the same message (ECDSA malleability).
Bytes negate_s(const Bytes& sig) {
  Bytes out = sig;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kOrder[static_cast<std::size_t>(i)] - sig[32 + static_cast<std::size_t>(i)] - borrow;
    borrow = d < 0 ? 1 : 0;
    out[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
  }
  return out;
}

TEST(Secp256k1, SignVerifyRoundTrip) {
  auto s = Secp256k1Signer::generate();
  EXPECT_EQ(s->identity().scheme, SignatureScheme::kSecp256k1);
  ASSERT_EQ(s->identity().public_key.size(), 33u);
  EXPECT_TRUE(s->identity().public_key[0] == 0x02 || s->identity().public_key[0] == 0x03);
  EXPECT_EQ(public_key_size(SignatureScheme::kSecp256k1), 33u);
  EXPECT_EQ(signature_size(SignatureScheme::kSecp256k1), 64u);
  EXPECT_EQ(scheme_name(SignatureScheme::kSecp256k1), "secp256k1");
  EXPECT_TRUE(validate_identity(s->identity()).ok());
  const Bytes m = msg("HEAL-ledger-record-v1 some record");
  const Bytes sig = s->sign(m);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(verify_signature(s->identity(), m, sig).ok());
  // RFC 6979: deterministic.
  EXPECT_EQ(s->sign(m), sig);
  EXPECT_EQ(s->identity().to_string().rfind("secp256k1:", 0), 0u);
}

TEST(Secp256k1, TamperedMessageOrSignatureIsRefused) {
  auto s = Secp256k1Signer::from_seed(seed_from_u64(7));
  const Bytes m = msg("record");
  const Bytes sig = s->sign(m);
  Bytes m2 = m;
  m2[0] ^= 1;
  EXPECT_EQ(verify_signature(s->identity(), m2, sig).code(), StatusCode::kCorruption);
  for (std::size_t i : {0u, 31u, 32u, 63u}) {
    Bytes bad = sig;
    bad[i] ^= 0x01;
    EXPECT_FALSE(verify_signature(s->identity(), m, bad).ok()) << "byte " << i;
  }
  EXPECT_FALSE(verify_signature(s->identity(), m, Bytes(sig.begin(), sig.end() - 1)).ok());
  EXPECT_FALSE(verify_signature(s->identity(), m, Bytes(65, 1)).ok());
}

TEST(Secp256k1, HighSIsRefused) {
  auto s = Secp256k1Signer::from_seed(seed_from_u64(8));
  const Bytes m = msg("record");
  const Bytes sig = s->sign(m);
  ASSERT_TRUE(verify_signature(s->identity(), m, sig).ok());
  const Bytes high = negate_s(sig);
  ASSERT_NE(high, sig);
  const Status st = verify_signature(s->identity(), m, high);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("high S"), std::string::npos) << st.message();
  // r or s >= n, or zero: refused without crashing.
  Bytes over = sig;
  std::copy(kOrder.begin(), kOrder.end(), over.begin() + 32);
  EXPECT_FALSE(verify_signature(s->identity(), m, over).ok());
  EXPECT_FALSE(verify_signature(s->identity(), m, Bytes(64, 0)).ok());
  EXPECT_FALSE(verify_signature(s->identity(), m, Bytes(64, 0xFF)).ok());
}

TEST(Secp256k1, WrongKeyIsRefused) {
  auto a = Secp256k1Signer::from_seed(seed_from_u64(1));
  auto b = Secp256k1Signer::from_seed(seed_from_u64(2));
  const Bytes m = msg("record");
  EXPECT_FALSE(verify_signature(b->identity(), m, a->sign(m)).ok());
  // The same key bytes under the other scheme do not verify either.
  auto e = Ed25519Signer::from_seed(seed_from_u64(1));
  Identity as_secp{SignatureScheme::kSecp256k1, a->identity().public_key};
  EXPECT_FALSE(verify_signature(as_secp, m, e->sign(m)).ok());
}

TEST(Secp256k1, MalformedKeyBytesAreRefused) {
  auto s = Secp256k1Signer::from_seed(seed_from_u64(3));
  const Bytes m = msg("record");
  const Bytes sig = s->sign(m);
  Identity id = s->identity();
  id.public_key[0] = 0x04;  // uncompressed prefix on a 33-byte key
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  id.public_key[0] = 0x05;
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  id = s->identity();
  std::fill(id.public_key.begin() + 1, id.public_key.end(), 0xFF);  // x >= p: not a field element
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  id.public_key = Bytes(33, 0);
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  id.public_key = Bytes(32, 2);  // wrong size
  EXPECT_EQ(validate_identity(id).code(), StatusCode::kCorruption);
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  id.public_key = Bytes(65, 4);
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
  // x = 5 is not the x coordinate of a point on y^2 = x^3 + 7 (5^3 + 7 = 132 is a non-residue mod p).
  id.public_key = Bytes(33, 0);
  id.public_key[0] = 0x02;
  id.public_key[32] = 5;
  EXPECT_EQ(verify_signature(id, m, sig).code(), StatusCode::kCorruption);
}

TEST(Secp256k1, SeedsAndSecretsAreDeterministicAndValidated) {
  auto a = Secp256k1Signer::from_seed(seed_from_u64(11));
  auto b = Secp256k1Signer::from_seed(seed_from_u64(11));
  EXPECT_EQ(a->identity(), b->identity());
  SeededRng r1(seed_from_u64(5)), r2(seed_from_u64(5));
  EXPECT_EQ(Secp256k1Signer::from_rng(r1)->identity(), Secp256k1Signer::from_rng(r2)->identity());
  std::set<std::string> keys;  // (a set of Bytes trips a GCC 12 -Wstringop-overread false positive)
  for (int i = 0; i < 4; ++i) keys.insert(to_hex(Secp256k1Signer::generate()->identity().public_key));
  EXPECT_EQ(keys.size(), 4u);
  // A valid seed is the secret key itself; export and import round-trip.
  const SecretBytes sk = a->secret_bytes();
  const Seed seed = seed_from_u64(11);
  ASSERT_EQ(sk.size(), 32u);
  EXPECT_TRUE(std::equal(seed.begin(), seed.end(), sk.data()));
  auto c = Secp256k1Signer::from_secret(sk);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->identity(), a->identity());
  // Invalid secrets: zero, the group order, wrong length.
  EXPECT_EQ(Secp256k1Signer::from_secret(Bytes(32, 0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Secp256k1Signer::from_secret(Bytes(kOrder.begin(), kOrder.end())).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Secp256k1Signer::from_secret(Bytes(31, 1)).status().code(), StatusCode::kInvalidArgument);
  // The all-zero seed is not a secret key: from_seed re-hashes it to a valid one, deterministically.
  auto z1 = Secp256k1Signer::from_seed(Seed{});
  auto z2 = Secp256k1Signer::from_seed(Seed{});
  EXPECT_EQ(z1->identity(), z2->identity());
  EXPECT_TRUE(verify_signature(z1->identity(), msg("x"), z1->sign(msg("x"))).ok());
}

TEST(Secp256k1, KnownKeyHasKnownPublicKey) {
  // Secret key 1: the public key is the generator G (SEC 2, section 2.4.1), compressed.
  Bytes one(32, 0);
  one[31] = 1;
  auto s = Secp256k1Signer::from_secret(one);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(to_hex((*s)->identity().public_key), "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
}

TEST(Secp256k1, RecoverableSignatureHasLowSAndParity) {
  auto s = Secp256k1Signer::from_seed(seed_from_u64(9));
  std::array<std::uint8_t, 32> d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const Bytes sig = s->sign_recoverable_keccak_digest(d);
  ASSERT_EQ(sig.size(), 65u);
  EXPECT_LE(sig[64], 1);
  // Low S: s <= n/2, so s < 0x7FFFFFFF...5D576E73 57A4501D DFE92F46 681B20A0; the top byte is < 0x80.
  EXPECT_LT(sig[32], 0x80);
  EXPECT_EQ(s->sign_recoverable_keccak_digest(d), sig);
}

TEST(Secp256k1, LedgerChainWithSecp256k1SignersVerifies) {
  testing::Federation f(SignatureScheme::kSecp256k1);
  auto l = SqliteLedger::open(":memory:");
  ASSERT_TRUE(l.ok());
  f.write_chain(**l, 2);
  VerifyReport rep = (*l)->verify();
  EXPECT_TRUE(rep.ok) << rep.summary();
  // Identities and signatures survive the block encoding.
  Block b = *(*l)->block(0);
  auto sigs = decode_signatures(b.signatures);
  ASSERT_TRUE(sigs.ok());
  ASSERT_FALSE(sigs->empty());
  EXPECT_EQ((*sigs)[0].signer.scheme, SignatureScheme::kSecp256k1);
  // A record signed by a secp256k1 key that is not in the setup is refused.
  auto stranger = Secp256k1Signer::from_seed(seed_from_u64(4242));
  EXPECT_FALSE((*l)->append(f.by(*stranger, f.commitment(3, 0))).ok());
}

}  // namespace
}  // namespace heal::ledger
