// libFuzzer target: every CKKS loader on arbitrary bytes, against a fixed small context. A loader
// must return an error or a valid object; it must never crash, hang or allocate unboundedly.
// The first byte selects the loader. If its high bit is set, the rest is a payload that gets a
// valid header and the context's params hash prepended (so that mutations explore the payload
// parsers behind the hash check); otherwise the rest is the whole object.
#include <cstddef>
#include <cstdint>
#include <span>

#include "heal/ckks/serialization.h"

namespace {
const heal::ckks::Context& fuzz_context() {
  static const heal::ckks::ContextPtr ctx = [] {
    heal::ckks::ParamsSpec s;
    s.log_n = 4;
    s.q_bits = {30, 25, 25};
    s.p_bits = {30};
    s.dnum = 2;
    s.allow_insecure = true;
    return heal::ckks::Context::create(s);
  }();
  return *ctx;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto& ctx = fuzz_context();
  using namespace heal::ckks;
  static const heal::ObjectType kTypes[15] = {
      heal::ObjectType::kCkksCiphertext, heal::ObjectType::kCkksSeededCiphertext, heal::ObjectType::kCkksPlaintext,
      heal::ObjectType::kCkksSecretKey,  heal::ObjectType::kCkksPublicKey,        heal::ObjectType::kCkksRelinKey,
      heal::ObjectType::kCkksGaloisKeys, heal::ObjectType::kCkksKeyShare,         heal::ObjectType::kCkksDecryptionShare,
      heal::ObjectType::kCkksParams,     heal::ObjectType::kCkksCiphertext,       heal::ObjectType::kCkksParams,
      heal::ObjectType::kCkksRefreshShare, heal::ObjectType::kCkksCompactSeededCiphertext,
      heal::ObjectType::kCkksCompactDecryptionShare};
  // Selector bytes below 12 keep the loader they had before the refresh share was added, and below
  // 13 the one they had before the compact (lossy) objects (13, 14) were added.
  const int which = (data[0] & 0x7f) % 15;
  heal::Bytes framed;
  std::span<const std::uint8_t> b(data + 1, size - 1);
  if (data[0] & 0x80) {
    heal::ByteWriter w;
    const std::size_t start = heal::begin_object(w, kTypes[which], kCkksFormatVersion);
    if (kTypes[which] != heal::ObjectType::kCkksParams) w.put_bytes(params_hash(ctx));
    w.put_bytes(b);
    heal::end_object(w, start);
    framed = w.take();
    b = framed;
  }
  switch (which) {
    case 0: (void)load_ciphertext(ctx, b); break;
    case 1: (void)load_seeded_ciphertext(ctx, b); break;
    case 2: (void)load_plaintext(ctx, b); break;
    case 3: (void)load_secret_key(ctx, b); break;
    case 4: (void)load_public_key(ctx, b); break;
    case 5: (void)load_relin_key(ctx, b); break;
    case 6: (void)load_galois_keys(ctx, b); break;
    case 7: (void)load_key_share(ctx, b); break;
    case 8: (void)load_decryption_share(ctx, b); break;
    case 9: (void)load_params_spec(b); break;
    case 12: (void)load_refresh_share(ctx, b); break;
    case 13: (void)load_compact_seeded_ciphertext(ctx, b); break;
    case 14: (void)load_compact_decryption_share(ctx, b); break;
    case 10: (void)inspect(b); break;
    case 11: {
      // Without the caller's opt-in, insecure sets are refused before any table is built (seeds:
      // fuzz/corpus/gen_ckks_params_corpus.py OUT, from tests/ckks/weak_params). Building a context
      // is costly: the opted-in load only for small specs.
      bool marked = false;
      auto spec = load_params_spec(b, &marked);
      if (spec.ok() && spec->log_n <= 13 && spec->q_bits.size() + spec->p_bits.size() <= 6) {
        auto strict = load_params(b);
        if (strict.ok() && (marked || !(*strict)->meets_security_bound())) __builtin_trap();  // never accepted
        if (spec->log_n <= 6) (void)load_params(b, {.allow_insecure = true});
      }
      break;
    }
  }
  return 0;
}
