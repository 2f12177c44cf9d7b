// Refreshing the encrypted weights when their levels run out. An interface, so that a multiparty
// collective bootstrap (heal/ckks/multiparty) can replace the single-key bootstrapper.
#pragma once

#include <cstddef>

#include "heal/ckks/bootstrap.h"
#include "heal/ckks/ciphertext.h"
#include "heal/ckks/evaluator.h"
#include "heal/ckks/keys.h"

namespace heal::he_train {

class Refresher {
 public:
  virtual ~Refresher() = default;
  /// Same slots (complex values with |value| <= value_bound()) at output_level() and the context's
  /// default scale, from a 2-polynomial ciphertext of slots() slots at any level.
  virtual ckks::Ciphertext refresh(const ckks::Ciphertext& ct) const = 0;
  virtual std::size_t output_level() const = 0;
  virtual std::size_t slots() const = 0;
  virtual double value_bound() const = 0;
};

/// Single-key CKKS bootstrapping (ckks::Bootstrapper). The slots are divided by value_bound before
/// the bootstrap (by reading the ciphertext at a larger scale, no level used) and the output scale
/// brings them back, so values up to value_bound stay in the range the sine of EvalMod is accurate
/// for; the bootstrapping error grows by the same factor.
class BootstrapRefresher final : public Refresher {
 public:
  /// Keeps references: all must outlive it. gk must hold bs.galois_elements().
  BootstrapRefresher(const ckks::Evaluator& ev, const ckks::Bootstrapper& bs, const ckks::RelinKey& rk,
                     const ckks::GaloisKeys& gk, double value_bound = 8.0);
  ckks::Ciphertext refresh(const ckks::Ciphertext& ct) const override;
  std::size_t output_level() const override { return bs_.output_level(); }
  std::size_t slots() const override { return bs_.config().slots; }
  double value_bound() const override { return bound_; }

 private:
  const ckks::Evaluator& ev_;
  const ckks::Bootstrapper& bs_;
  const ckks::RelinKey& rk_;
  const ckks::GaloisKeys& gk_;
  double bound_;
};

}  // namespace heal::he_train
