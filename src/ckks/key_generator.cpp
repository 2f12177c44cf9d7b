#include "heal/ckks/key_generator.h"

#include "heal/ckks/key_switch.h"
#include "heal/math/sampler.h"

namespace heal::ckks {

SecretKey sample_secret_key(const Context& ctx, Rng& rng) {
  const auto& kb = ctx.key_basis();
  std::vector<std::int64_t> s = ctx.spec().secret == SecretDistribution::kTernaryHamming
                                    ? math::sample_ternary_hw(rng, ctx.n(), ctx.spec().hamming_weight)
                                    : math::sample_ternary(rng, ctx.n());
  math::RnsPoly p = math::RnsPoly::from_signed(s, kb, kb.size());
  secure_wipe(s.data(), s.size() * sizeof(std::int64_t));
  p.ntt_inplace(kb);
  return SecretKey(std::move(p));
}

KeyGenerator::KeyGenerator(ContextPtr ctx) : KeyGenerator(std::move(ctx), std::make_unique<SystemRng>()) {}

KeyGenerator::KeyGenerator(ContextPtr ctx, std::unique_ptr<Rng> rng) : ctx_(std::move(ctx)), rng_(std::move(rng)) {
  HEAL_REQUIRE(ctx_ != nullptr && rng_ != nullptr, "KeyGenerator: null context or rng");
  sk_ = sample_secret_key(*ctx_, *rng_);
}

KeyGenerator::KeyGenerator(ContextPtr ctx, SecretKey sk)
    : ctx_(std::move(ctx)), rng_(std::make_unique<SystemRng>()), sk_(std::move(sk)) {
  HEAL_REQUIRE(ctx_ != nullptr, "KeyGenerator: null context");
  HEAL_REQUIRE(sk_.poly().num_limbs() == ctx_->key_basis().size() && sk_.poly().n() == ctx_->n() && sk_.poly().is_ntt(),
               "KeyGenerator: secret key does not match the context");
}

Seed KeyGenerator::fresh_seed() {
  Seed s;
  rng_->fill(s);
  return s;
}

PublicKey KeyGenerator::create_public_key() {
  const auto& qb = ctx_->key_basis();
  const std::size_t limbs = qb.size();
  const Seed seed = fresh_seed();
  math::RnsPoly a = math::expand_uniform_poly(seed, PublicKey::kStream, qb, limbs, true);
  math::RnsPoly b = math::RnsPoly::from_signed(math::sample_gaussian(*rng_, ctx_->n()), qb, limbs);
  b.ntt_inplace(qb);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::Modulus& q = qb.modulus(i);
    u64* bi = b.limb(i);
    const u64* ai = a.limb(i);
    const u64* si = sk_.poly().limb(i);
    for (std::size_t t = 0; t < ctx_->n(); ++t) bi[t] = q.sub(bi[t], q.mul(ai[t], si[t]));
  }
  return PublicKey(seed, std::move(b), std::move(a));
}

RelinKey KeyGenerator::create_relin_key() {
  math::RnsPoly s2 = sk_.poly();
  s2.mul_inplace(sk_.poly(), ctx_->key_basis());
  RelinKey rk(make_ksw_key(*ctx_, s2, sk_.poly(), fresh_seed(), *rng_));
  s2.wipe();
  return rk;
}

void KeyGenerator::add_galois_key(GaloisKeys& keys, std::uint64_t galois_elt) {
  if (keys.has(galois_elt)) return;
  const auto& perm = ctx_->galois_permutation(galois_elt);
  math::RnsPoly sg = sk_.poly().automorphism(galois_elt, ctx_->key_basis(), &perm);
  keys.set(galois_elt, make_ksw_key(*ctx_, sg, sk_.poly(), fresh_seed(), *rng_));
  sg.wipe();
}

GaloisKeys KeyGenerator::create_galois_keys(const std::vector<long>& steps, bool conjugation) {
  GaloisKeys keys;
  for (long s : steps) {
    const std::uint64_t g = ctx_->galois_elt_for_step(s);
    if (g != 1) add_galois_key(keys, g);
  }
  if (conjugation) add_galois_key(keys, ctx_->galois_elt_conjugate());
  return keys;
}

std::vector<long> KeyGenerator::power_of_two_steps(std::size_t slots, bool with_negative) {
  std::vector<long> steps;
  for (std::size_t s = 1; s < slots; s <<= 1) {
    steps.push_back(static_cast<long>(s));
    if (with_negative) steps.push_back(-static_cast<long>(s));
  }
  return steps;
}

}  // namespace heal::ckks
