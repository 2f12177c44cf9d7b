// CKKS basics: encode, encrypt, multiply, rotate, decrypt. Exits non-zero if a result is wrong.
// (Small insecure ring so that the example runs in well under a second; use anchor_params() or
// preset_for_depth() for real data.)
#include <cmath>
#include <complex>
#include <cstdio>
#include <vector>

#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"

int main() {
  using namespace heal::ckks;
  ParamsSpec spec;
  spec.log_n = 12;
  spec.q_bits = {60, 40, 40};
  spec.p_bits = {60};
  spec.allow_insecure = true;  // N = 2^12 with log QP = 200 exceeds the 128-bit bound of 106
  const ContextPtr ctx = Context::create(spec);
  std::printf("%s\n", ctx->describe().c_str());

  KeyGenerator keygen(ctx);
  const PublicKey pk = keygen.create_public_key();
  const RelinKey rk = keygen.create_relin_key();
  const GaloisKeys gk = keygen.create_galois_keys({1});
  Encoder encoder(ctx);
  Encryptor encryptor(ctx, pk);
  Decryptor decryptor(ctx, keygen.secret_key());
  Evaluator ev(ctx);

  std::vector<double> x(8), y(8);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = 0.1 * static_cast<double>(i);
    y[i] = 1.0 - 0.05 * static_cast<double>(i);
  }
  const Ciphertext cx = encryptor.encrypt(encoder.encode(x));
  const Ciphertext cy = encryptor.encrypt(encoder.encode(y));
  const Ciphertext prod = ev.rescale(ev.mul_relin(cx, cy, rk));  // x*y, one level consumed
  const Ciphertext rot = ev.rotate(prod, 1, gk);                 // slot i <- slot i+1
  const auto out = encoder.decode(decryptor.decrypt(rot));

  double err = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t j = (i + 1) % x.size();
    err = std::max(err, std::abs(out[i] - std::complex<double>(x[j] * y[j])));
    std::printf("slot %zu: %.6f (expected %.6f)\n", i, out[i].real(), x[j] * y[j]);
  }
  std::printf("max error %.3g (%.1f bits)\n", err, -std::log2(err));
  return err < 1e-5 ? 0 : 1;
}
