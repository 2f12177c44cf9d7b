#include "heal/ckks/encryptor.h"

#include "ckks_internal.h"
#include "heal/ckks/key_switch.h"
#include "heal/math/poly_kernels.h"
#include "heal/math/sampler.h"

namespace heal::ckks {

using math::RnsPoly;

namespace {
RnsPoly gaussian_ntt(Rng& rng, const math::RnsBasis& basis, std::size_t limbs) {
  RnsPoly e = RnsPoly::from_signed(math::sample_gaussian(rng, basis.n()), basis, limbs);
  e.ntt_inplace(basis);
  return e;
}

void check_plaintext(const Context& ctx, const Plaintext& pt) {
  HEAL_REQUIRE(pt.poly().n() == ctx.n() && pt.poly().is_ntt() && pt.poly().num_limbs() >= 1 &&
                   pt.poly().num_limbs() <= ctx.q_count(),
               "Encryptor: plaintext does not match the context (expected NTT form, N = " << ctx.n() << ")");
}
}  // namespace

Encryptor::Encryptor(ContextPtr ctx, PublicKey pk)
    : ctx_(std::move(ctx)), rng_(std::make_unique<SystemRng>()), has_pk_(true), pk_(std::move(pk)) {
  HEAL_REQUIRE(ctx_ != nullptr, "Encryptor: null context");
  const std::size_t kl = ctx_->key_basis().size();
  HEAL_REQUIRE(pk_.b().num_limbs() == kl && pk_.a().num_limbs() == kl && pk_.b().n() == ctx_->n(),
               "Encryptor: public key does not match the context");
}

Encryptor::Encryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), rng_(std::make_unique<SystemRng>()), sk_(sk) {
  HEAL_REQUIRE(ctx_ != nullptr, "Encryptor: null context");
  HEAL_REQUIRE(sk_.poly().num_limbs() == ctx_->key_basis().size() && sk_.poly().n() == ctx_->n(),
               "Encryptor: secret key does not match the context");
}

Rng& Encryptor::noise_rng(std::unique_ptr<Rng>& local) {
  if (custom_rng_) return *rng_;
  local = std::make_unique<SeededRng>(random_seed(), 0);
  return *local;
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) {
  check_plaintext(*ctx_, pt);
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = pt.poly().num_limbs();
  if (!has_pk_) {
    SeededCiphertext s = encrypt_seeded(pt);
    return s.expand(*ctx_);
  }
  // Noise and u come from a ChaCha20 stream keyed with 32 fresh OS-random bytes (one syscall per
  // encryption instead of many), unless the caller installed its own rng.
  std::unique_ptr<Rng> local;
  Rng& rng = noise_rng(local);
  // Work over Q_l u P with the matching limbs of the key, then divide by P (ModDown).
  const auto& qpb = ctx_->qp_basis(limbs - 1);
  const std::size_t k = ctx_->p_count(), ext = limbs + k;
  std::vector<std::int64_t> u = math::sample_ternary(rng, n);
  RnsPoly up = RnsPoly::from_signed(u, qpb, ext);
  secure_wipe(u.data(), u.size() * sizeof(std::int64_t));
  up.ntt_inplace(qpb);
  RnsPoly c0 = gaussian_ntt(rng, qpb, ext), c1 = gaussian_ntt(rng, qpb, ext);
  for (std::size_t i = 0; i < ext; ++i) {
    const std::size_t ki = i < limbs ? i : ctx_->q_count() + (i - limbs);  // limb index in the key basis
    const math::Modulus& q = qpb.modulus(i);
    math::mul_add_mod_vec(pk_.b().limb(ki), up.limb(i), c0.limb(i), c0.limb(i), n, q);
    math::mul_add_mod_vec(pk_.a().limb(ki), up.limb(i), c1.limb(i), c1.limb(i), n, q);
  }
  c0 = mod_down(*ctx_, c0, limbs - 1);
  c1 = mod_down(*ctx_, c1, limbs - 1);
  c0.add_inplace(pt.poly(), qb);
  up.wipe();
  std::vector<RnsPoly> polys;
  polys.push_back(std::move(c0));
  polys.push_back(std::move(c1));
  return Ciphertext(std::move(polys), pt.scale(), pt.slots());
}

SeededCiphertext Encryptor::encrypt_seeded(const Plaintext& pt) {
  HEAL_REQUIRE(!has_pk_, "Encryptor::encrypt_seeded: needs a secret-key (symmetric) encryptor");
  check_plaintext(*ctx_, pt);
  std::unique_ptr<Rng> local;
  Rng& rng = noise_rng(local);
  Seed seed;
  rng.fill(seed);
  return encrypt_seeded(pt, seed, rng);
}

SeededCiphertext Encryptor::encrypt_seeded(const Plaintext& pt, const Seed& a_seed, Rng& noise_rng) {
  HEAL_REQUIRE(!has_pk_, "Encryptor::encrypt_seeded: needs a secret-key (symmetric) encryptor");
  check_plaintext(*ctx_, pt);
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = pt.poly().num_limbs();
  const RnsPoly a = math::expand_uniform_poly(a_seed, SeededCiphertext::kCiphertextStream, qb, limbs, true);
  RnsPoly c0 = gaussian_ntt(noise_rng, qb, limbs);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 qv = q.value();
    const u64 *ai = a.limb(i), *si = sk_.poly().limb(i), *m = pt.poly().limb(i);
    u64* o = c0.limb(i);
    for (std::size_t t = 0; t < n; ++t) {
      u64 v = o[t] + m[t];
      v = v >= qv ? v - qv : v;
      o[t] = q.sub(v, q.mul(ai[t], si[t]));
    }
  }
  return SeededCiphertext(a_seed, std::move(c0), pt.scale(), pt.slots());
}

Ciphertext Encryptor::encrypt_zero(std::size_t level, double scale) {
  HEAL_REQUIRE(level <= ctx_->max_level(), "Encryptor::encrypt_zero: level above max level");
  Plaintext z(RnsPoly(ctx_->n(), level + 1, true), scale, ctx_->slots());
  return encrypt(z);
}

Decryptor::Decryptor(ContextPtr ctx, const SecretKey& sk) : ctx_(std::move(ctx)), sk_(sk) {
  HEAL_REQUIRE(ctx_ != nullptr, "Decryptor: null context");
  HEAL_REQUIRE(sk_.poly().num_limbs() == ctx_->key_basis().size() && sk_.poly().n() == ctx_->n(),
               "Decryptor: secret key does not match the context");
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  detail::check_ciphertext(*ctx_, ct, "Decryptor::decrypt");
  HEAL_REQUIRE(ct.size() <= 3, "Decryptor::decrypt: at most 3 polynomials supported");
  const auto& qb = ctx_->q_basis();
  const std::size_t n = ctx_->n(), limbs = ct[0].num_limbs();
  RnsPoly m = ct[0];
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    const u64 *c1 = ct[1].limb(i), *s = sk_.poly().limb(i);
    u64* o = m.limb(i);
    if (ct.size() == 3) {  // (c1 + c2 s) s
      math::U64Buffer inner(n, false);
      math::mul_add_mod_vec(ct[2].limb(i), s, c1, inner.data(), n, q);
      math::mul_add_mod_vec(inner.data(), s, o, o, n, q);
    } else {
      math::mul_add_mod_vec(c1, s, o, o, n, q);
    }
  }
  return Plaintext(std::move(m), ct.scale(), ct.slots());
}

}  // namespace heal::ckks
