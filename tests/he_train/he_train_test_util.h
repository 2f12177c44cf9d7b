// Shared fixtures of the he_train tests: a separable toy data set and a "test-train" CKKS setup.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "heal/ckks/bootstrap.h"
#include "heal/ckks/encoder.h"
#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/key_generator.h"
#include "heal/core/rng.h"
#include "heal/he_train/encrypted_nag.h"

namespace heal::he_train::testing {

/// n rows of d features uniform in [-scale, scale], label 1 iff w* . x + 0.1 > 0 for a fixed w*
/// (separable), rows in random order.
struct Toy {
  std::size_t n, d;
  std::vector<double> x;
  std::vector<int> y;
  Toy(std::size_t rows, std::size_t dims, double scale, std::uint64_t seed)
      : n(rows), d(dims), x(rows * dims), y(rows) {
    SeededRng rng(seed_from_u64(seed));
    for (std::size_t i = 0; i < n; ++i) {
      double m = 0.1;
      for (std::size_t j = 0; j < d; ++j) {
        const double v = scale * (2 * rng.uniform_double() - 1);
        x[i * d + j] = v;
        m += v * (j % 2 == 0 ? 1.0 : -0.5);
      }
      y[i] = m > 0 ? 1 : 0;
    }
  }
  std::vector<double> z() const { return make_z(x, y, d); }
};

/// CKKS context, keys and bootstrapper of a preset, with the trainer's rotation keys.
struct HeSetup {
  HeSetup(const std::string& preset, const Packing& packing) : p(ckks::bootstrap_preset(preset)) {
    ctx = ckks::Context::create(p.params);
    keygen = std::make_unique<ckks::KeyGenerator>(ctx, std::make_unique<SeededRng>(seed_from_u64(5)));
    encryptor = std::make_unique<ckks::Encryptor>(ctx, keygen->create_public_key());
    decryptor = std::make_unique<ckks::Decryptor>(ctx, keygen->secret_key());
    ev = std::make_unique<ckks::Evaluator>(ctx);
    rk = keygen->create_relin_key();
    bs = std::make_unique<ckks::Bootstrapper>(ctx, p.config);
    gk = keygen->create_galois_keys(EncryptedNag::rotation_steps(packing), true);
    for (auto g : bs->galois_elements())
      if (!gk.has(g)) keygen->add_galois_key(gk, g);
  }
  ckks::BootstrapPreset p;
  ckks::ContextPtr ctx;
  std::unique_ptr<ckks::KeyGenerator> keygen;
  std::unique_ptr<ckks::Encryptor> encryptor;
  std::unique_ptr<ckks::Decryptor> decryptor;
  std::unique_ptr<ckks::Evaluator> ev;
  ckks::RelinKey rk;
  std::unique_ptr<ckks::Bootstrapper> bs;
  ckks::GaloisKeys gk;
};

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) e = std::max(e, std::abs(a[i] - b[i]));
  return a.size() == b.size() ? e : INFINITY;
}

}  // namespace heal::he_train::testing
