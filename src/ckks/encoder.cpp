#include "heal/ckks/encoder.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "ckks_internal.h"

namespace heal::ckks {

namespace {
// Plain complex product (std::complex operator* adds NaN/inf handling we do not need).
inline std::complex<double> cmul(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

void bit_reverse_permute(std::complex<double>* v, std::size_t size) {
  for (std::size_t i = 1, j = 0; i < size; ++i) {
    std::size_t bit = size >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(v[i], v[j]);
  }
}
}  // namespace

Encoder::Encoder(ContextPtr ctx) : ctx_(std::move(ctx)) {
  HEAL_REQUIRE(ctx_ != nullptr, "Encoder: null context");
  const std::size_t m = 2 * ctx_->n();
  ksi_.resize(m + 1);
  for (std::size_t k = 0; k <= m; ++k) {
    const double ang = 2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(m);
    ksi_[k] = {std::cos(ang), std::sin(ang)};
  }
  rot_group_.resize(ctx_->n() / 2);
  std::size_t g = 1;
  for (auto& r : rot_group_) {
    r = g;
    g = (g * 5) % m;
  }
  // Twiddles of the special FFT, independent of the slot count: stage len uses entries
  // [len/2, len) (the inverse transform uses their conjugates).
  fft_tw_.assign(std::max<std::size_t>(ctx_->n() / 2, 2), {1.0, 0.0});
  for (std::size_t len = 2; len <= ctx_->n() / 2; len <<= 1) {
    const std::size_t lenh = len >> 1, lenq = len << 2, stride = m / lenq;
    for (std::size_t j = 0; j < lenh; ++j) fft_tw_[lenh + j] = ksi_[(rot_group_[j] % lenq) * stride];
  }
  for (std::size_t l = 0; l < ctx_->q_count(); ++l) {
    crt_.push_back(std::make_unique<math::CrtComposer>(ctx_->q_basis().slice(0, l + 1).moduli()));
  }
}

// Evaluates the packed polynomial at the slot roots (decode direction).
void Encoder::fft_special(std::complex<double>* v, std::size_t slots) const {
  bit_reverse_permute(v, slots);
  for (std::size_t len = 2; len <= slots; len <<= 1) {
    const std::size_t lenh = len >> 1;
    const std::complex<double>* tw = fft_tw_.data() + lenh;
    for (std::size_t i = 0; i < slots; i += len) {
      for (std::size_t j = 0; j < lenh; ++j) {
        const std::complex<double> u = v[i + j];
        const std::complex<double> w = cmul(v[i + j + lenh], tw[j]);
        v[i + j] = u + w;
        v[i + j + lenh] = u - w;
      }
    }
  }
}

// Inverse of fft_special (encode direction), including the 1/slots factor.
void Encoder::fft_special_inv(std::complex<double>* v, std::size_t slots) const {
  for (std::size_t len = slots; len >= 2; len >>= 1) {
    const std::size_t lenh = len >> 1;
    const std::complex<double>* tw = fft_tw_.data() + lenh;
    for (std::size_t i = 0; i < slots; i += len) {
      for (std::size_t j = 0; j < lenh; ++j) {
        const std::complex<double> u = v[i + j] + v[i + j + lenh];
        const std::complex<double> w = cmul(v[i + j] - v[i + j + lenh], std::conj(tw[j]));
        v[i + j] = u;
        v[i + j + lenh] = w;
      }
    }
  }
  bit_reverse_permute(v, slots);
  const double inv = 1.0 / static_cast<double>(slots);
  for (std::size_t i = 0; i < slots; ++i) v[i] *= inv;
}

math::RnsPoly Encoder::round_to_rns(std::span<const double> coeffs, std::size_t level) const {
  const std::size_t n = ctx_->n(), limbs = level + 1;
  const auto& basis = ctx_->q_basis();
  math::RnsPoly p(n, limbs, false);
  for (std::size_t j = 0; j < coeffs.size(); ++j) {
    const double c = coeffs[j];
    if (c == 0.0) continue;
    const double r = std::nearbyint(c);
    if (std::fabs(r) < 0x1p62) {
      const auto iv = static_cast<std::int64_t>(r);
      for (std::size_t i = 0; i < limbs; ++i) p.limb(i)[j] = basis.modulus(i).from_signed(iv);
    } else {
      const auto res = detail::round_to_residues(c, basis, limbs);
      for (std::size_t i = 0; i < limbs; ++i) p.limb(i)[j] = res[i];
    }
  }
  p.ntt_inplace(basis);
  return p;
}

Plaintext Encoder::encode(std::span<const std::complex<double>> values, double scale, std::size_t level) const {
  const std::size_t n = ctx_->n();
  HEAL_REQUIRE(values.size() <= n / 2, "Encoder::encode: at most N/2 = " << n / 2 << " values, got " << values.size());
  HEAL_REQUIRE(level <= ctx_->max_level(), "Encoder::encode: level " << level << " above max level " << ctx_->max_level());
  HEAL_REQUIRE(scale >= 1.0 && std::isfinite(scale), "Encoder::encode: scale must be finite and >= 1");
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(values.size(), 1));
  std::vector<std::complex<double>> v(slots);
  std::copy(values.begin(), values.end(), v.begin());
  fft_special_inv(v.data(), slots);
  const std::size_t gap = (n / 2) / slots;
  std::vector<double> coeffs(n, 0.0);
  for (std::size_t i = 0; i < slots; ++i) {
    coeffs[i * gap] = v[i].real() * scale;
    coeffs[i * gap + n / 2] = v[i].imag() * scale;
  }
  for (double c : coeffs) HEAL_REQUIRE(std::isfinite(c), "Encoder::encode: value * scale is not finite");
  return Plaintext(round_to_rns(coeffs, level), scale, slots);
}

Plaintext Encoder::encode(std::span<const std::complex<double>> values, double scale) const {
  return encode(values, scale, ctx_->max_level());
}
Plaintext Encoder::encode(std::span<const std::complex<double>> values) const {
  return encode(values, ctx_->default_scale(), ctx_->max_level());
}

Plaintext Encoder::encode(std::span<const double> values, double scale, std::size_t level) const {
  std::vector<std::complex<double>> c(values.begin(), values.end());
  return encode(std::span<const std::complex<double>>(c), scale, level);
}
Plaintext Encoder::encode(std::span<const double> values, double scale) const {
  return encode(values, scale, ctx_->max_level());
}
Plaintext Encoder::encode(std::span<const double> values) const {
  return encode(values, ctx_->default_scale(), ctx_->max_level());
}

std::vector<std::complex<double>> Encoder::decode(const Plaintext& pt) const {
  const std::size_t n = ctx_->n();
  HEAL_REQUIRE(pt.poly().n() == n && pt.poly().num_limbs() >= 1 && pt.poly().num_limbs() <= ctx_->q_count(),
               "Encoder::decode: plaintext does not match the context");
  HEAL_REQUIRE(pt.slots() >= 1 && pt.slots() <= n / 2 && std::has_single_bit(pt.slots()),
               "Encoder::decode: plaintext has no slot encoding (slots = " << pt.slots() << "); use decode_coeffs");
  const std::size_t slots = pt.slots(), gap = (n / 2) / slots, limbs = pt.poly().num_limbs();
  math::RnsPoly p = pt.poly();
  if (p.is_ntt()) p.intt_inplace(ctx_->q_basis());
  // Gather only the 2*slots coefficients that carry the message.
  const std::size_t cnt = 2 * slots;
  math::U64Buffer g(limbs * cnt, false);
  for (std::size_t i = 0; i < limbs; ++i) {
    const math::u64* src = p.limb(i);
    for (std::size_t s = 0; s < slots; ++s) {
      g[i * cnt + s] = src[s * gap];
      g[i * cnt + slots + s] = src[s * gap + n / 2];
    }
  }
  std::vector<double> c(cnt);
  crt_[limbs - 1]->compose_centered(g.data(), cnt, cnt, pt.scale(), c.data());
  std::vector<std::complex<double>> v(slots);
  for (std::size_t s = 0; s < slots; ++s) v[s] = {c[s], c[slots + s]};
  fft_special(v.data(), slots);
  return v;
}

std::vector<double> Encoder::decode_real(const Plaintext& pt) const {
  auto v = decode(pt);
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = v[i].real();
  return r;
}

Plaintext Encoder::encode_coeffs(std::span<const double> values, double scale, std::size_t level) const {
  const std::size_t n = ctx_->n();
  HEAL_REQUIRE(values.size() <= n, "Encoder::encode_coeffs: at most N = " << n << " values");
  HEAL_REQUIRE(level <= ctx_->max_level(), "Encoder::encode_coeffs: level above max level");
  std::vector<double> coeffs(n, 0.0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    coeffs[i] = values[i] * scale;
    HEAL_REQUIRE(std::isfinite(coeffs[i]), "Encoder::encode_coeffs: value * scale is not finite");
  }
  return Plaintext(round_to_rns(coeffs, level), scale, 0);
}

Plaintext Encoder::encode_coeffs_int(std::span<const std::int64_t> values, std::size_t level) const {
  const std::size_t n = ctx_->n();
  HEAL_REQUIRE(values.size() <= n, "Encoder::encode_coeffs_int: at most N = " << n << " values");
  HEAL_REQUIRE(level <= ctx_->max_level(), "Encoder::encode_coeffs_int: level above max level");
  std::vector<std::int64_t> c(n, 0);
  std::copy(values.begin(), values.end(), c.begin());
  math::RnsPoly p(n, level + 1, false);
  for (std::size_t i = 0; i <= level; ++i) {
    for (std::size_t j = 0; j < n; ++j) p.limb(i)[j] = ctx_->q(i).from_signed(c[j]);
  }
  p.ntt_inplace(ctx_->q_basis());
  return Plaintext(std::move(p), 1.0, 0);
}

std::vector<double> Encoder::decode_coeffs(const Plaintext& pt) const {
  const std::size_t n = ctx_->n();
  HEAL_REQUIRE(pt.poly().n() == n && pt.poly().num_limbs() >= 1 && pt.poly().num_limbs() <= ctx_->q_count(),
               "Encoder::decode_coeffs: plaintext does not match the context");
  math::RnsPoly p = pt.poly();
  if (p.is_ntt()) p.intt_inplace(ctx_->q_basis());
  std::vector<double> c(n);
  crt_[p.num_limbs() - 1]->compose_centered(p.data(), n, n, pt.scale(), c.data());
  return c;
}

std::vector<u64> Encoder::encode_constant(double value, double scale, std::size_t level) const {
  HEAL_REQUIRE(level <= ctx_->max_level(), "Encoder::encode_constant: level above max level");
  return detail::round_to_residues(value * scale, ctx_->q_basis(), level + 1);
}

}  // namespace heal::ckks
