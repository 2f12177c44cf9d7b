// Portable SIMD: every CKKS operation gives the same words at each SIMD level the CPU supports
// (scalar, AVX2, AVX-512 [+IFMA]). Parameter sets cover primes below 2^50 (vector key switching,
// NTT and element-wise kernels) and 60-bit primes (scalar fallbacks), one and several digits.
#include <gtest/gtest.h>

#include <string>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/key_switch.h"
#include "heal/math/base_converter.h"
#include "heal/math/sampler.h"
#include "heal/math/simd.h"

namespace heal::ckks {
namespace {

using math::SimdLevel;

std::vector<SimdLevel> levels() {
  std::vector<SimdLevel> v;
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (l <= math::cpu_simd_level()) v.push_back(l);
  return v;
}

struct Case {
  std::string name;
  ParamsSpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  ParamsSpec a;  // every prime below 2^50: all vector paths
  a.log_n = 11;
  a.q_bits = {45, 36, 36, 36};
  a.p_bits = {49};
  a.default_scale = 0x1p36;
  a.allow_insecure = true;
  out.push_back({"below50", a});
  ParamsSpec b = a;  // 60-bit base and special primes: scalar fallbacks mixed with vector limbs
  b.q_bits = {60, 40, 40, 40};
  b.p_bits = {60};
  b.default_scale = 0x1p40;
  out.push_back({"mixed60", b});
  ParamsSpec c = a;  // two digits of two primes each: the general base conversion
  c.dnum = 2;
  c.p_bits = {49, 49};
  out.push_back({"dnum2", c});
  return out;
}

// A fixed pipeline: key generation (seeded), then multiply, relinearize, rescale, rotate (plain
// and hoisted), multiply by a plaintext, decrypt, on inputs encrypted once beforehand.
struct Outputs {
  std::vector<Ciphertext> cts;
  std::vector<math::RnsPoly> polys;
};

struct Inputs {
  ContextPtr ctx;
  Ciphertext x, y;
  testing::Vec vb;
};

Inputs make_inputs(const ParamsSpec& spec) {
  const math::ScopedSimdLevel s(SimdLevel::kScalar);
  Inputs in;
  in.ctx = Context::create(spec);
  KeyGenerator kg(in.ctx, std::make_unique<SeededRng>(seed_from_u64(11)));
  Encoder enc(in.ctx);
  Encryptor encryptor(in.ctx, kg.create_public_key());
  in.vb = testing::random_vec(in.ctx->slots(), 2);
  in.x = encryptor.encrypt(enc.encode(testing::random_vec(in.ctx->slots(), 1)));
  in.y = encryptor.encrypt(enc.encode(in.vb));
  return in;
}

Outputs run_pipeline(const Inputs& in) {
  const auto& ctx = in.ctx;
  KeyGenerator kg(ctx, std::make_unique<SeededRng>(seed_from_u64(11)));
  Encoder enc(ctx);
  Evaluator ev(ctx);
  const RelinKey rk = kg.create_relin_key();
  const GaloisKeys gk = kg.create_galois_keys({1, 3, -2}, true);
  Decryptor dec(ctx, kg.secret_key());
  Outputs o;
  const Ciphertext m = ev.mul(in.x, in.y);
  const Ciphertext r = ev.relinearize(m, rk);
  const Ciphertext s = ev.rescale(r);
  const Ciphertext t = ev.rotate(s, 3, gk);
  const auto hoisted = ev.rotate_hoisted(in.x, {1, -2}, gk);
  const Ciphertext p = ev.mul_plain(in.x, enc.encode(in.vb));
  o.cts = {m, r, s, t, p, ev.add(t, ev.rotate(s, -2, gk))};
  for (const auto& h : hoisted) o.cts.push_back(h);
  o.polys.push_back(dec.decrypt(t).poly());
  o.polys.push_back(dec.decrypt(p).poly());
  o.polys.push_back(kg.secret_key().poly());
  return o;
}

TEST(SimdLevels, CkksPipelineIsIdenticalAtEveryLevel) {
  const auto lv = levels();
  if (lv.size() < 2) GTEST_SKIP() << "only the scalar level on this CPU";
  for (const Case& c : cases()) {
    const Inputs in = make_inputs(c.spec);
    Outputs ref;
    {
      const math::ScopedSimdLevel s(SimdLevel::kScalar);
      ref = run_pipeline(in);
    }
    for (SimdLevel l : lv) {
      if (l == SimdLevel::kScalar) continue;
      const math::ScopedSimdLevel s(l);
      const Outputs got = run_pipeline(in);
      ASSERT_EQ(got.cts.size(), ref.cts.size());
      for (std::size_t i = 0; i < ref.cts.size(); ++i) {
        ASSERT_EQ(got.cts[i].size(), ref.cts[i].size());
        for (std::size_t p = 0; p < ref.cts[i].size(); ++p)
          EXPECT_TRUE(got.cts[i][p] == ref.cts[i][p]) << c.name << " " << math::simd_level_name(l) << " ct " << i << " poly " << p;
      }
      for (std::size_t i = 0; i < ref.polys.size(); ++i)
        EXPECT_TRUE(got.polys[i] == ref.polys[i]) << c.name << " " << math::simd_level_name(l) << " poly " << i;
    }
  }
}

// The base conversion alone, with inputs at the edges of their ranges.
TEST(SimdLevels, BaseConversionIsIdenticalAtEveryLevel) {
  const auto lv = levels();
  if (lv.size() < 2) GTEST_SKIP() << "only the scalar level on this CPU";
  const std::size_t n = 1024;
  for (int src_bits : {40, 49, 60}) {
    for (std::size_t k : {1, 3}) {
      std::vector<math::Modulus> src, dst;
      for (auto q : math::generate_ntt_primes(src_bits, k, n)) src.emplace_back(q);
      for (auto q : math::generate_ntt_primes(src_bits == 60 ? 45 : 60, 2, n)) dst.emplace_back(q);
      dst.emplace_back(math::generate_ntt_primes(30, 1, n)[0]);
      const math::BaseConverter conv(src, dst);
      SeededRng rng(seed_from_u64(static_cast<std::uint64_t>(src_bits) * 10 + k));
      std::vector<math::u64> x(k * n);
      for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < n; ++j) x[i * n + j] = j < 3 ? (j == 0 ? 0 : src[i].value() - j) : rng.next_u64() % src[i].value();
      auto run = [&] {
        std::vector<math::u64> y(k * n), v(n), out(dst.size() * n), exact(dst.size() * n);
        conv.scale_inputs(x.data(), y.data(), n);
        conv.overflow_counts(y.data(), v.data(), n);
        for (std::size_t t = 0; t < dst.size(); ++t) {
          conv.convert_limb(y.data(), t, out.data() + t * n, n);
          conv.convert_limb_exact(y.data(), v.data(), t, exact.data() + t * n, n);
        }
        out.insert(out.end(), exact.begin(), exact.end());
        return out;
      };
      std::vector<math::u64> ref;
      {
        const math::ScopedSimdLevel s(SimdLevel::kScalar);
        ref = run();
      }
      for (SimdLevel l : lv) {
        const math::ScopedSimdLevel s(l);
        EXPECT_EQ(run(), ref) << "src bits " << src_bits << " k " << k << " " << math::simd_level_name(l);
      }
    }
  }
}

}  // namespace
}  // namespace heal::ckks
