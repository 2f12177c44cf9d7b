#include "heal/smpc/fixed_point.h"

#include <cmath>

#include "heal/core/check.h"

namespace heal::smpc {

namespace {
void require_frac_bits(int f) {
  HEAL_REQUIRE(f >= 0 && f <= 52, "fixed point: frac_bits must be in [0, 52], got " << f);
}
}  // namespace

double fixed_point_limit(int frac_bits) {
  require_frac_bits(frac_bits);
  return std::ldexp(1.0, 63 - frac_bits);
}

std::uint64_t fixed_encode(double x, int frac_bits) {
  require_frac_bits(frac_bits);
  HEAL_REQUIRE(std::isfinite(x), "fixed point: cannot encode a non-finite value");
  const double scaled = std::round(std::ldexp(x, frac_bits));
  // |scaled| < 2^63 so that the int64 conversion is defined (2^63 itself is exactly representable).
  HEAL_REQUIRE(std::fabs(scaled) < 0x1.0p63,
               "fixed point: |" << x << "| is not below 2^" << (63 - frac_bits) << " (frac_bits " << frac_bits << ")");
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(scaled));
}

double fixed_decode(std::uint64_t v, int frac_bits) {
  require_frac_bits(frac_bits);
  return std::ldexp(static_cast<double>(static_cast<std::int64_t>(v)), -frac_bits);
}

std::vector<std::uint64_t> fixed_encode(std::span<const double> x, int frac_bits) {
  std::vector<std::uint64_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = fixed_encode(x[i], frac_bits);
  return out;
}

std::vector<double> fixed_decode(std::span<const std::uint64_t> v, int frac_bits) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = fixed_decode(v[i], frac_bits);
  return out;
}

void add_in_place(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x) {
  HEAL_REQUIRE(acc.size() == x.size(), "add_in_place: sizes differ (" << acc.size() << " vs " << x.size() << ")");
  for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += x[i];
}

void sub_in_place(std::span<std::uint64_t> acc, std::span<const std::uint64_t> x) {
  HEAL_REQUIRE(acc.size() == x.size(), "sub_in_place: sizes differ (" << acc.size() << " vs " << x.size() << ")");
  for (std::size_t i = 0; i < acc.size(); ++i) acc[i] -= x[i];
}

void scale_in_place(std::span<std::uint64_t> v, std::uint64_t w) {
  for (auto& e : v) e *= w;
}

}  // namespace heal::smpc
