#include "heal/math/rns_basis.h"

#include <cmath>

namespace heal::math {

RnsBasis::RnsBasis(int log_n, const std::vector<u64>& primes) : log_n_(log_n) {
  for (std::size_t i = 0; i < primes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      HEAL_REQUIRE(primes[i] != primes[j], "RnsBasis: prime " << primes[i] << " appears twice");
    }
    moduli_.emplace_back(primes[i]);
    ntt_.push_back(std::make_shared<const NttTables>(log_n, moduli_.back()));
  }
}

std::vector<u64> RnsBasis::primes() const {
  std::vector<u64> p;
  for (const auto& m : moduli_) p.push_back(m.value());
  return p;
}

RnsBasis RnsBasis::slice(std::size_t begin, std::size_t end) const {
  HEAL_REQUIRE(begin <= end && end <= size(), "RnsBasis::slice: bad range");
  RnsBasis b;
  b.log_n_ = log_n_;
  b.moduli_.assign(moduli_.begin() + static_cast<std::ptrdiff_t>(begin), moduli_.begin() + static_cast<std::ptrdiff_t>(end));
  b.ntt_.assign(ntt_.begin() + static_cast<std::ptrdiff_t>(begin), ntt_.begin() + static_cast<std::ptrdiff_t>(end));
  return b;
}

RnsBasis RnsBasis::select(const std::vector<std::size_t>& indices) const {
  RnsBasis b;
  b.log_n_ = log_n_;
  for (std::size_t i : indices) {
    HEAL_REQUIRE(i < size(), "RnsBasis::select: index out of range");
    b.moduli_.push_back(moduli_[i]);
    b.ntt_.push_back(ntt_[i]);
  }
  return b;
}

RnsBasis RnsBasis::concat(const RnsBasis& other) const {
  HEAL_REQUIRE(size() == 0 || other.size() == 0 || log_n_ == other.log_n_, "RnsBasis::concat: degree mismatch");
  RnsBasis b = *this;
  if (size() == 0) b.log_n_ = other.log_n_;
  b.moduli_.insert(b.moduli_.end(), other.moduli_.begin(), other.moduli_.end());
  b.ntt_.insert(b.ntt_.end(), other.ntt_.begin(), other.ntt_.end());
  return b;
}

double RnsBasis::log2_product() const {
  double s = 0;
  for (const auto& m : moduli_) s += std::log2(static_cast<double>(m.value()));
  return s;
}

namespace {
// out (w words) = a (w words) * m; returns the carry word.
u64 mul_words(const u64* a, u64 m, u64* out, std::size_t w) {
  u64 carry = 0;
  for (std::size_t k = 0; k < w; ++k) {
    const u128 p = static_cast<u128>(a[k]) * m + carry;
    out[k] = static_cast<u64>(p);
    carry = static_cast<u64>(p >> 64);
  }
  return carry;
}
bool geq_words(const u64* a, const u64* b, std::size_t w) {
  for (std::size_t k = w; k-- > 0;) {
    if (a[k] != b[k]) return a[k] > b[k];
  }
  return true;
}
void sub_words(u64* a, const u64* b, std::size_t w) {
  u64 borrow = 0;
  for (std::size_t k = 0; k < w; ++k) {
    const u64 bk = b[k] + borrow;
    const u64 nb = (bk < borrow) || (a[k] < bk) ? 1 : 0;
    a[k] -= bk;
    borrow = nb;
  }
}
double words_to_double(const u64* a, std::size_t w) {
  double r = 0;
  for (std::size_t k = w; k-- > 0;) r = r * 0x1p64 + static_cast<double>(a[k]);
  return r;
}
}  // namespace

CrtComposer::CrtComposer(const std::vector<Modulus>& moduli) : moduli_(moduli) {
  HEAL_REQUIRE(!moduli.empty(), "CrtComposer: empty basis");
  words_ = moduli.size() + 1;
  q_.assign(words_, 0);
  q_[0] = 1;
  std::vector<u64> tmp(words_);
  for (const auto& m : moduli) {
    mul_words(q_.data(), m.value(), tmp.data(), words_);
    q_ = tmp;
  }
  // half_q = floor(Q / 2)
  half_q_ = q_;
  for (std::size_t k = 0; k < words_; ++k) {
    half_q_[k] = (q_[k] >> 1) | (k + 1 < words_ ? (q_[k + 1] << 63) : 0);
  }
  for (std::size_t i = 0; i < moduli.size(); ++i) {
    std::vector<u64> qhat(words_, 0);
    qhat[0] = 1;
    u64 qhat_mod_qi = 1;
    for (std::size_t j = 0; j < moduli.size(); ++j) {
      if (j == i) continue;
      mul_words(qhat.data(), moduli[j].value(), tmp.data(), words_);
      qhat = tmp;
      qhat_mod_qi = moduli[i].mul(qhat_mod_qi, moduli[i].reduce(moduli[j].value()));
    }
    qhat_.push_back(qhat);
    qhat_inv_.emplace_back(moduli[i].inv(qhat_mod_qi), moduli[i].value());
    inv_q_.push_back(1.0 / static_cast<double>(moduli[i].value()));
  }
}

void CrtComposer::compose_centered(const u64* residues, std::size_t stride, std::size_t count,
                                   double divisor, double* out) const {
  const std::size_t k = moduli_.size();
  const std::size_t w = words_;
  if (k == 1) {  // one prime: the centered residue itself
    const Modulus& q = moduli_[0];
    for (std::size_t c = 0; c < count; ++c) out[c] = static_cast<double>(q.centered(residues[c])) / divisor;
    return;
  }
  if (k == 2) {  // Q < 2^128: plain 128-bit CRT
    const u128 Q = static_cast<u128>(q_[1]) << 64 | q_[0];
    const u128 half = Q >> 1;
    const u128 qh0 = static_cast<u128>(qhat_[0][1]) << 64 | qhat_[0][0];
    const u128 qh1 = static_cast<u128>(qhat_[1][1]) << 64 | qhat_[1][0];
    const u64 q0 = moduli_[0].value(), q1 = moduli_[1].value();
    for (std::size_t c = 0; c < count; ++c) {
      const u64 y0 = mul_shoup(residues[c], qhat_inv_[0].value, qhat_inv_[0].shoup, q0);
      const u64 y1 = mul_shoup(residues[stride + c], qhat_inv_[1].value, qhat_inv_[1].shoup, q1);
      // y0*qh0 < q0*q1 = Q, same for y1*qh1: the sum is below 2Q < 2^128.
      u128 x = static_cast<u128>(y0) * static_cast<u64>(qh0) + static_cast<u128>(y1) * static_cast<u64>(qh1);
      if (x >= Q) x -= Q;
      const double v = x > half ? -static_cast<double>(Q - x) : static_cast<double>(x);
      out[c] = v / divisor;
    }
    return;
  }
  std::vector<u64> acc(w), prod(w);
  std::vector<u64> y(k);
  for (std::size_t c = 0; c < count; ++c) {
    std::fill(acc.begin(), acc.end(), 0);
    long double frac = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const u64 qi = moduli_[i].value();
      y[i] = mul_shoup(residues[i * stride + c], qhat_inv_[i].value, qhat_inv_[i].shoup, qi);
      frac += static_cast<long double>(y[i]) / static_cast<long double>(qi);
      // acc += y_i * qhat_i
      u64 carry = 0;
      const u64* qh = qhat_[i].data();
      for (std::size_t t = 0; t < w; ++t) {
        const u128 p = static_cast<u128>(qh[t]) * y[i] + acc[t] + carry;
        acc[t] = static_cast<u64>(p);
        carry = static_cast<u64>(p >> 64);
      }
    }
    // acc = x + v*Q with v = floor(sum y_i/q_i) (up to rounding of frac); subtract v*Q, then fix.
    const u64 v = static_cast<u64>(frac);
    if (v > 0) {
      mul_words(q_.data(), v, prod.data(), w);
      if (geq_words(acc.data(), prod.data(), w)) {
        sub_words(acc.data(), prod.data(), w);
      } else {  // frac rounded up across an integer: subtract (v-1)Q instead
        mul_words(q_.data(), v - 1, prod.data(), w);
        sub_words(acc.data(), prod.data(), w);
      }
    }
    while (geq_words(acc.data(), q_.data(), w)) sub_words(acc.data(), q_.data(), w);
    double value;
    if (geq_words(half_q_.data(), acc.data(), w)) {
      value = words_to_double(acc.data(), w);
    } else {
      prod = q_;
      sub_words(prod.data(), acc.data(), w);
      value = -words_to_double(prod.data(), w);
    }
    out[c] = value / divisor;
  }
}

}  // namespace heal::math
