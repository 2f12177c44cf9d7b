// CKKS encoding: the canonical embedding via the special FFT of Cheon-Kim-Kim-Song
// (ePrint 2016/421; RNS variant ePrint 2018/931). Slot j of a vector of `slots` values is
// m(zeta^(5^j)) with zeta = exp(i pi / N); fewer than N/2 slots means sparse packing (the
// vector is replicated N/(2 slots) times). Values are multiplied by the scale and rounded into
// RNS at the requested level. Coefficient encoding puts values straight into the coefficients.
#pragma once

#include <complex>
#include <memory>
#include <span>
#include <vector>

#include "heal/ckks/params.h"
#include "heal/ckks/plaintext.h"

namespace heal::ckks {

class Encoder {
 public:
  explicit Encoder(ContextPtr ctx);

  /// Encodes complex values (count <= N/2; padded with zeros to the next power of two slots)
  /// at `scale` and `level` (default: top level). Throws if a scaled coefficient is not finite.
  Plaintext encode(std::span<const std::complex<double>> values, double scale, std::size_t level) const;
  Plaintext encode(std::span<const std::complex<double>> values, double scale) const;
  Plaintext encode(std::span<const std::complex<double>> values) const;
  /// Real values (imaginary parts zero).
  Plaintext encode(std::span<const double> values, double scale, std::size_t level) const;
  Plaintext encode(std::span<const double> values, double scale) const;
  Plaintext encode(std::span<const double> values) const;
  /// Decodes the plaintext's slots (exact CRT composition, then the special FFT).
  std::vector<std::complex<double>> decode(const Plaintext& pt) const;
  /// Real parts of decode().
  std::vector<double> decode_real(const Plaintext& pt) const;

  /// Coefficient encoding: coefficient i = round(values[i] * scale), i < N (rest zero).
  Plaintext encode_coeffs(std::span<const double> values, double scale, std::size_t level) const;
  /// Coefficient encoding of exact integers (no scale: scale 1).
  Plaintext encode_coeffs_int(std::span<const std::int64_t> values, std::size_t level) const;
  /// All N coefficients divided by the scale.
  std::vector<double> decode_coeffs(const Plaintext& pt) const;

  /// Round(value * scale) as a constant per limb of q_0..q_level (for constant multiplication).
  std::vector<u64> encode_constant(double value, double scale, std::size_t level) const;

  const Context& context() const { return *ctx_; }

 private:
  void fft_special(std::complex<double>* v, std::size_t slots) const;
  void fft_special_inv(std::complex<double>* v, std::size_t slots) const;
  math::RnsPoly round_to_rns(std::span<const double> coeffs, std::size_t level) const;
  ContextPtr ctx_;
  std::vector<std::complex<double>> ksi_;   // exp(2 pi i k / 2N), k = 0..2N
  std::vector<std::size_t> rot_group_;      // 5^j mod 2N, j < N/2
  std::vector<std::complex<double>> fft_tw_;  // per stage len: ksi[(5^j mod 4len) * 2N/(4len)] at len/2 + j
  std::vector<std::unique_ptr<math::CrtComposer>> crt_;  // per level
};

}  // namespace heal::ckks
