// BSGS diagonal matrix x encrypted vector vs the plaintext product.
#include "heal/ckks/linear_transform.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ckks_test_util.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"

namespace heal::ckks {
namespace {

using testing::precision_bits;
using testing::Vec;

struct Lt {
  Lt() {
    ParamsSpec s;
    s.log_n = 11;
    s.q_bits = {60, 40, 40};
    s.p_bits = {60};
    s.allow_insecure = true;
    ctx = Context::create(s);
    keygen = std::make_unique<KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(21)));
    encryptor = std::make_unique<Encryptor>(ctx, keygen->create_public_key());
    decryptor = std::make_unique<Decryptor>(ctx, keygen->secret_key());
  }
  // Runs M x (rows x cols, dim slots) under encryption with only the keys the transform asks for.
  double run(std::size_t rows, std::size_t cols, std::size_t dim, std::uint64_t seed, std::size_t* rotations = nullptr) {
    SeededRng r(seed_from_u64(seed));
    std::vector<double> m(rows * cols), x(cols);
    for (auto& v : m) v = 2 * r.uniform_double() - 1;
    for (auto& v : x) v = 2 * r.uniform_double() - 1;
    Vec want(dim, 0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) want[i] += m[i * cols + j] * x[j];
    Encoder enc(ctx);
    std::vector<double> xin(dim, 0);
    std::copy(x.begin(), x.end(), xin.begin());
    const Ciphertext ct = encryptor->encrypt(enc.encode(xin));
    EXPECT_EQ(ct.slots(), dim);
    LinearTransform lt(ctx, m, rows, cols, dim, ct.level());
    const GaloisKeys gk = keygen->create_galois_keys(lt.rotation_steps());
    if (rotations) *rotations = lt.rotation_steps().size();
    Evaluator ev(ctx);
    const Ciphertext y = lt.apply(ev, ct, gk);
    EXPECT_EQ(y.level(), ct.level() - 1);
    EXPECT_NEAR(y.scale(), ct.scale(), 1e-6 * ct.scale());
    Vec got = enc.decode(decryptor->decrypt(y));
    got.resize(dim);
    return precision_bits(want, got);
  }
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
};

Lt& lt() {
  static Lt l;
  return l;
}

TEST(LinearTransform, Dense64x64) {
  std::size_t rot = 0;
  const double bits = lt().run(64, 64, 64, 1, &rot);
  std::printf("[ lt ] 64x64 dense: %.1f bits of precision, %zu rotation keys (BSGS 8 baby + 7 giant)\n", bits, rot);
  EXPECT_GT(bits, 18);
  EXPECT_EQ(rot, 7u + 7u);
}

TEST(LinearTransform, RectangularPackedIntoSlots) {
  const double wide = lt().run(20, 50, 64, 2);
  const double tall = lt().run(100, 30, 128, 3);
  std::printf("[ lt ] 20x50 in 64 slots: %.1f bits; 100x30 in 128 slots: %.1f bits\n", wide, tall);
  EXPECT_GT(wide, 18);
  EXPECT_GT(tall, 18);
}

TEST(LinearTransform, FullSlotsAndSparseDiagonals) {
  auto& l = lt();
  const std::size_t d = l.ctx->slots();  // 1024
  // Tridiagonal (cyclic) matrix: 3 diagonals, so only their rotations are requested.
  std::vector<double> m(d * d, 0);
  for (std::size_t i = 0; i < d; ++i) {
    m[i * d + i] = 1;
    m[i * d + (i + 1) % d] = 0.5;
    m[i * d + (i + d - 1) % d] = -0.25;
  }
  LinearTransform t(l.ctx, m, d, d, d, 2);
  EXPECT_EQ(t.diagonals(), 3u);
  EXPECT_LE(t.rotation_steps().size(), 3u);
  Encoder enc(l.ctx);
  const Vec x = testing::random_vec(d, 4);
  Vec want(d);
  for (std::size_t i = 0; i < d; ++i) want[i] = x[i] + 0.5 * x[(i + 1) % d] - 0.25 * x[(i + d - 1) % d];
  const GaloisKeys gk = l.keygen->create_galois_keys(t.rotation_steps());
  Evaluator ev(l.ctx);
  const double bits = precision_bits(want, enc.decode(l.decryptor->decrypt(t.apply(ev, l.encryptor->encrypt(enc.encode(x)), gk))));
  std::printf("[ lt ] 1024x1024 tridiagonal: %.1f bits, steps:", bits);
  for (long s : t.rotation_steps()) std::printf(" %ld", s);
  std::printf("\n");
  EXPECT_GT(bits, 18);
  // Wrong level or slot count is misuse.
  EXPECT_THROW(t.apply(ev, l.encryptor->encrypt(enc.encode(x, 0x1p40, 1)), gk), std::invalid_argument);
}

}  // namespace
}  // namespace heal::ckks
