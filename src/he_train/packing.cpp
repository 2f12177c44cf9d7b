// Row packing of Z and the complex-packed weights (include/heal/he_train/packing.h).
#include "heal/he_train/packing.h"

#include <bit>

#include "heal/ckks/encoder.h"
#include "heal/core/check.h"

namespace heal::he_train {

Packing::Packing(std::size_t d, std::size_t data_slots, std::size_t weight_slots)
    : d_(d), width_(std::bit_ceil(d + 1)), rows_(0), data_slots_(data_slots), weight_slots_(weight_slots) {
  HEAL_REQUIRE(d > 0, "Packing: need at least one feature");
  HEAL_REQUIRE(weight_slots > 0 && std::has_single_bit(weight_slots),
               "Packing: weight slots must be a power of two, got " << weight_slots);
  HEAL_REQUIRE(
      data_slots >= weight_slots && std::has_single_bit(data_slots),
      "Packing: data slots must be a power of two >= the weight slots (" << weight_slots << "), got " << data_slots);
  HEAL_REQUIRE(width_ <= weight_slots, "Packing: a row needs " << width_ << " slots (d + 1 = " << d + 1
                                                               << " rounded up to a power of two), only "
                                                               << weight_slots);
  rows_ = data_slots / width_;
}

ckks::Ciphertext widen_slots(ckks::Ciphertext ct, std::size_t slots) {
  HEAL_REQUIRE(std::has_single_bit(slots) && slots >= ct.slots() && ct.slots() > 0,
               "widen_slots: " << ct.slots() << " -> " << slots << " slots");
  ct.set_slots(slots);
  return ct;
}

ckks::Ciphertext narrow_slots(ckks::Ciphertext ct, std::size_t slots) {
  HEAL_REQUIRE(slots > 0 && std::has_single_bit(slots) && slots <= ct.slots(),
               "narrow_slots: " << ct.slots() << " -> " << slots << " slots");
  ct.set_slots(slots);
  return ct;
}

std::vector<std::vector<double>> Packing::pack_rows(std::span<const double> z, std::size_t n) const {
  HEAL_REQUIRE(n > 0 && z.size() == n * (d_ + 1),
               "Packing::pack_rows: z has " << z.size() << " values, expected " << n << " rows x " << d_ + 1);
  std::vector<std::vector<double>> out(ciphertexts(n), std::vector<double>(data_slots_, 0.0));
  for (std::size_t i = 0; i < n; ++i) {
    auto& v = out[i / rows_];
    const std::size_t base = (i % rows_) * width_;
    for (std::size_t j = 0; j <= d_; ++j) v[base + j] = z[i * (d_ + 1) + j];
  }
  return out;
}

std::vector<std::complex<double>> Packing::pack_weights(std::span<const double> v, std::span<const double> w) const {
  HEAL_REQUIRE(v.size() == d_ + 1 && w.size() == d_ + 1, "Packing::pack_weights: v and w need d + 1 values");
  std::vector<std::complex<double>> out(weight_slots_, 0.0);
  for (std::size_t k = 0; k < weight_rows(); ++k)
    for (std::size_t j = 0; j <= d_; ++j) out[k * width_ + j] = {v[j], w[j]};
  return out;
}

std::vector<double> Packing::row_start_mask() const {
  std::vector<double> m(data_slots_, 0.0);
  for (std::size_t k = 0; k < rows_; ++k) m[k * width_] = 1.0;
  return m;
}

DataPacker::DataPacker(ckks::ContextPtr ctx, Packing packing) : ctx_(std::move(ctx)), packing_(packing) {
  HEAL_REQUIRE(ctx_ != nullptr, "DataPacker: null context");
  HEAL_REQUIRE(packing_.data_slots() <= ctx_->slots(),
               "DataPacker: " << packing_.data_slots() << " data slots, the context has " << ctx_->slots());
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
  HEAL_REQUIRE(ct.slots() == packing_.weight_slots(), "DataPacker::decrypt_weights: ciphertext has "
                                                          << ct.slots() << " slots, packing "
                                                          << packing_.weight_slots());
  decode_weights(dec.decrypt(ct), v, w, row);
}

void DataPacker::decode_weights(const ckks::Plaintext& pt, std::vector<double>& v, std::vector<double>& w,
                                std::size_t row) const {
  HEAL_REQUIRE(pt.slots() == packing_.weight_slots(), "DataPacker::decode_weights: plaintext has "
                                                          << pt.slots() << " slots, packing "
                                                          << packing_.weight_slots());
  HEAL_REQUIRE(row < packing_.weight_rows(),
               "DataPacker::decode_weights: row " << row << " of " << packing_.weight_rows());
  const ckks::Encoder encoder(ctx_);
  const auto vals = encoder.decode(pt);
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
    HEAL_REQUIRE(margins[j].slots() == packing_.data_slots(), "DataPacker::decrypt_margins: ciphertext "
                                                                  << j << " has " << margins[j].slots()
                                                                  << " slots, expected " << packing_.data_slots());
    const auto vals = encoder.decode_real(dec.decrypt(margins[j]));
    for (std::size_t k = 0; k < packing_.rows_per_ct() && j * packing_.rows_per_ct() + k < n; ++k)
      out[j * packing_.rows_per_ct() + k] = vals[k * packing_.row_width()];
  }
  return out;
}

}  // namespace heal::he_train
