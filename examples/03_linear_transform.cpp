// Encrypted matrix-vector product with the baby-step giant-step diagonal method: only the
// rotation keys the transform reports are generated. Exits non-zero if the result is wrong.
#include <cmath>
#include <cstdio>
#include <vector>

#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/key_generator.h"
#include "heal/ckks/linear_transform.h"

int main() {
  using namespace heal;
  using namespace heal::ckks;
  ParamsSpec spec;
  spec.log_n = 12;
  spec.q_bits = {60, 40, 40};
  spec.p_bits = {60};
  spec.allow_insecure = true;  // small ring for a fast example
  const ContextPtr ctx = Context::create(spec);

  // A 10 x 16 matrix (e.g. a small dense layer) applied to a 16-vector, packed into 16 slots.
  const std::size_t rows = 10, cols = 16, dim = 16;
  SeededRng r(seed_from_u64(3));
  std::vector<double> w(rows * cols), x(cols), want(rows, 0.0);
  for (auto& v : w) v = 2 * r.uniform_double() - 1;
  for (auto& v : x) v = 2 * r.uniform_double() - 1;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) want[i] += w[i * cols + j] * x[j];

  KeyGenerator keygen(ctx);
  Encoder encoder(ctx);
  Encryptor encryptor(ctx, keygen.create_public_key());
  Decryptor decryptor(ctx, keygen.secret_key());
  Evaluator ev(ctx);
  const Ciphertext cx = encryptor.encrypt(encoder.encode(x));
  LinearTransform lt(ctx, w, rows, cols, dim, cx.level());
  const GaloisKeys gk = keygen.create_galois_keys(lt.rotation_steps());
  std::printf("%zu nonzero diagonals, %zu baby steps, rotation keys:", lt.diagonals(), lt.baby_steps());
  for (long s : lt.rotation_steps()) std::printf(" %ld", s);
  std::printf("\n");
  const auto out = encoder.decode_real(decryptor.decrypt(lt.apply(ev, cx, gk)));
  double err = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    err = std::max(err, std::fabs(out[i] - want[i]));
    std::printf("y[%zu] = %.6f (expected %.6f)\n", i, out[i], want[i]);
  }
  std::printf("max error %.3g (%.1f bits)\n", err, -std::log2(err));
  return err < 1e-5 ? 0 : 1;
}
