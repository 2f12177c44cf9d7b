// Row packing of Z and the complex-packed weights (include/heal/he_train/packing.h).
#include "heal/he_train/packing.h"

#include <bit>

#include "heal/ckks/encoder.h"
#include "heal/core/check.h"

namespace heal::he_train {

Packing::Packing(std::size_t d, std::size_t slots) : d_(d), width_(std::bit_ceil(d + 1)), rows_(0), slots_(slots) {
  HEAL_REQUIRE(d > 0, "Packing: need at least one feature");
  HEAL_REQUIRE(slots > 0 && std::has_single_bit(slots), "Packing: slots must be a power of two, got " << slots);
  HEAL_REQUIRE(width_ <= slots, "Packing: a row needs " << width_ << " slots (d + 1 = " << d + 1
                                                        << " rounded up to a power of two), only " << slots);
  rows_ = slots / width_;
}

std::vector<std::vector<double>> Packing::pack_rows(std::span<const double> z, std::size_t n) const {
  HEAL_REQUIRE(n > 0 && z.size() == n * (d_ + 1),
               "Packing::pack_rows: z has " << z.size() << " values, expected " << n << " rows x " << d_ + 1);
  std::vector<std::vector<double>> out(ciphertexts(n), std::vector<double>(slots_, 0.0));
  for (std::size_t i = 0; i < n; ++i) {
    auto& v = out[i / rows_];
    const std::size_t base = (i % rows_) * width_;
    for (std::size_t j = 0; j <= d_; ++j) v[base + j] = z[i * (d_ + 1) + j];
  }
  return out;
}

std::vector<std::complex<double>> Packing::pack_weights(std::span<const double> v, std::span<const double> w) const {
  HEAL_REQUIRE(v.size() == d_ + 1 && w.size() == d_ + 1, "Packing::pack_weights: v and w need d + 1 values");
  std::vector<std::complex<double>> out(slots_, 0.0);
  for (std::size_t k = 0; k < rows_; ++k)
    for (std::size_t j = 0; j <= d_; ++j) out[k * width_ + j] = {v[j], w[j]};
  return out;
}

std::vector<double> Packing::row_start_mask() const {
  std::vector<double> m(slots_, 0.0);
  for (std::size_t k = 0; k < rows_; ++k) m[k * width_] = 1.0;
  return m;
}

DataPacker::DataPacker(ckks::ContextPtr ctx, Packing packing) : ctx_(std::move(ctx)), packing_(packing) {
  HEAL_REQUIRE(ctx_ != nullptr, "DataPacker: null context");
  HEAL_REQUIRE(packing_.slots() <= ctx_->slots(),
               "DataPacker: " << packing_.slots() << " slots, the context has " << ctx_->slots());
}

std::vector<ckks::Ciphertext> DataPacker::encrypt_z(ckks::Encryptor& enc, std::span<const double> z, std::size_t n,
                                                    std::size_t level) const {
  HEAL_REQUIRE(level <= ctx_->max_level(), "DataPacker::encrypt_z: level " << level << " above the top");
  const ckks::Encoder encoder(ctx_);
  std::vector<ckks::Ciphertext> out;
  for (const auto& v : packing_.pack_rows(z, n))
    out.push_back(enc.encrypt(encoder.encode(v, ctx_->default_scale(), level)));
  return out;
}

ckks::Ciphertext DataPacker::encrypt_weights(ckks::Encryptor& enc, std::span<const double> v, std::span<const double> w,
                                             std::size_t level) const {
  HEAL_REQUIRE(level <= ctx_->max_level(), "DataPacker::encrypt_weights: level " << level << " above the top");
  const ckks::Encoder encoder(ctx_);
  const auto vals = packing_.pack_weights(v, w);
  return enc.encrypt(encoder.encode(vals, ctx_->default_scale(), level));
}

void DataPacker::decrypt_weights(const ckks::Decryptor& dec, const ckks::Ciphertext& ct, std::vector<double>& v,
                                 std::vector<double>& w, std::size_t row) const {
  HEAL_REQUIRE(ct.slots() == packing_.slots(),
               "DataPacker::decrypt_weights: ciphertext has " << ct.slots() << " slots, packing " << packing_.slots());
  HEAL_REQUIRE(row < packing_.rows_per_ct(),
               "DataPacker::decrypt_weights: row " << row << " of " << packing_.rows_per_ct());
  const ckks::Encoder encoder(ctx_);
  const auto vals = encoder.decode(dec.decrypt(ct));
  const std::size_t d1 = packing_.features() + 1, base = row * packing_.row_width();
  v.resize(d1);
  w.resize(d1);
  for (std::size_t j = 0; j < d1; ++j) {
    v[j] = vals[base + j].real();
    w[j] = vals[base + j].imag();
  }
}

std::vector<double> DataPacker::decrypt_margins(const ckks::Decryptor& dec,
                                                const std::vector<ckks::Ciphertext>& margins, std::size_t n) const {
  HEAL_REQUIRE(margins.size() == packing_.ciphertexts(n),
               "DataPacker::decrypt_margins: " << margins.size() << " ciphertexts for " << n << " rows, expected "
                                               << packing_.ciphertexts(n));
  const ckks::Encoder encoder(ctx_);
  std::vector<double> out(n);
  for (std::size_t j = 0; j < margins.size(); ++j) {
    const auto vals = encoder.decode_real(dec.decrypt(margins[j]));
    for (std::size_t k = 0; k < packing_.rows_per_ct() && j * packing_.rows_per_ct() + k < n; ++k)
      out[j * packing_.rows_per_ct() + k] = vals[k * packing_.row_width()];
  }
  return out;
}

}  // namespace heal::he_train
