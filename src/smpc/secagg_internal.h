// Primitives shared by the one-shot (secagg.cpp) and multi-round (secagg_multi.cpp) secure
// aggregation. Internal to heal_smpc.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "heal/core/status.h"
#include "heal/smpc/additive.h"
#include "heal/smpc/secagg_wire.h"

namespace heal::smpc::detail {

using Key32 = std::array<std::uint8_t, 32>;

// X25519(sk, pk); libsodium refuses (returns -1) a low-order pk, whose shared secret is all zeros.
inline Status x25519(const Key32& sk, const PublicKey& pk, Key32* out) {
  if (crypto_scalarmult(out->data(), sk.data(), pk.data()) != 0) {
    return Status::corruption("secagg: public key of low order");
  }
  return {};
}

// acc += sign * PRG(key), PRG = ChaCha20 keystream (libsodium crypto_stream_chacha20, zero nonce;
// every key is used for one stream only) read as little-endian u64 words.
inline void add_prg(std::span<std::uint64_t> acc, const Key32& key, bool subtract) {
  constexpr std::size_t kChunk = 4096;  // words; 512 ChaCha20 blocks
  std::array<std::uint64_t, kChunk> buf;
  const std::uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
  for (std::size_t off = 0; off < acc.size(); off += kChunk) {
    const std::size_t n = std::min(kChunk, acc.size() - off);
    std::memset(buf.data(), 0, n * 8);
    auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
    crypto_stream_chacha20_xor_ic(p, p, n * 8, nonce, off / 8, key.data());
    if (subtract) {
      for (std::size_t i = 0; i < n; ++i) acc[off + i] -= buf[i];
    } else {
      for (std::size_t i = 0; i < n; ++i) acc[off + i] += buf[i];
    }
  }
  sodium_memzero(buf.data(), sizeof buf);
}

inline bool verify_sig(const PublicKey& vk, const Signature& sig, std::span<const std::uint8_t> msg) {
  return crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(), vk.data()) == 0;
}

inline std::string id_str(std::uint32_t id) { return "client " + std::to_string(id); }

inline bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// FailedPrecondition unless `have` (of `what`) reaches the threshold t.
inline Status at_least(std::size_t have, std::uint32_t t, const std::string& what) {
  if (have < t) {
    return Status::failed_precondition("secagg: " + std::to_string(have) + " " + what + ", threshold is " +
                                       std::to_string(t));
  }
  return {};
}

// The survivor set and the masked inputs a sum is taken over: at least required_inputs(cfg).
inline Status at_least_inputs(std::size_t have, const SecAggConfig& cfg, const std::string& what) {
  if (required_inputs(cfg) == cfg.threshold) return at_least(have, cfg.threshold, what);
  if (have >= cfg.min_inputs) return {};
  return Status::failed_precondition("secagg: " + std::to_string(have) + " " + what +
                                     ", but a sum must contain at least " + std::to_string(cfg.min_inputs) +
                                     " inputs (a smaller one would reveal inputs to "
                                     "their contributors)");
}

// InvalidArgument unless every input word, read as signed, fits a (8 word_bytes)-bit word; `note`
// ends the message.
inline Status check_input_words(std::span<const std::uint64_t> x, std::uint32_t word_bytes, std::string_view note) {
  if (word_bytes >= 8) return {};
  const unsigned bits = 8 * word_bytes;
  for (std::uint64_t v : x) {
    const auto s = static_cast<std::int64_t>(v);
    if (s < -(std::int64_t{1} << (bits - 1)) || s >= (std::int64_t{1} << (bits - 1))) {
      return Status::invalid_argument("secagg: input word " + std::to_string(s) + " does not fit " +
                                      std::to_string(bits) + "-bit words" + std::string(note));
    }
  }
  return {};
}

// Reduction mod 2^(8w) of masked words (a ring homomorphism from Z_2^64: the server's sum of the
// reduced words minus the reduced masks is the sum of the inputs mod 2^(8w)).
inline void reduce_words(std::span<std::uint64_t> y, std::uint32_t word_bytes) {
  if (word_bytes >= 8) return;
  const std::uint64_t low = (std::uint64_t{1} << (8 * word_bytes)) - 1;
  for (auto& v : y) v &= low;
}

// The sum mod 2^(8w), sign-extended (two's complement) to 64 bits.
inline void sign_extend_words(std::span<std::uint64_t> sum, std::uint32_t word_bytes) {
  if (word_bytes >= 8) return;
  const unsigned bits = 8 * word_bytes;
  for (auto& v : sum) {
    v &= (std::uint64_t{1} << bits) - 1;
    if (v >> (bits - 1)) v |= ~std::uint64_t{0} << bits;
  }
}

// The sum (mod 2^64) of the masked inputs, each of `len` words.
inline std::vector<std::uint64_t> sum_masked(const std::map<std::uint32_t, std::vector<std::uint64_t>>& masked,
                                             std::size_t len) {
  std::vector<std::uint64_t> sum(len, 0);
  for (const auto& [u, y] : masked)
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += y[i];
  return sum;
}

// acc += sign * PRG(s_{me,o}) for every other client o in `others` (s_{me,o} = key_of(X25519(sk,
// pk_of(o)), o), the pairwise key): subtracted when o < me, added when o > me. A client adds its own
// masks this way; the server removes those of a dropped client `me` from the sum the same way.
template <class PkOf, class KeyOf>
Status add_pair_masks(std::span<std::uint64_t> acc, const Key32& sk, std::uint32_t me,
                      const std::vector<std::uint32_t>& others, PkOf pk_of, KeyOf key_of) {
  for (std::uint32_t o : others) {
    if (o == me) continue;
    Key32 shared;
    HEAL_RETURN_IF_ERROR(x25519(sk, pk_of(o), &shared));
    Key32 s = key_of(shared, o);
    add_prg(acc, s, o < me);
    sodium_memzero(shared.data(), shared.size());
    sodium_memzero(s.data(), s.size());
  }
  return {};
}

// The secret whose j-th shares the clients in `unmask` sent (limbs_of(list[j]): the limbs of a
// share), from t of them; the copies of the shares are wiped.
template <class List, class LimbsOf>
Result<SecretBytes> reconstruct_secret(const std::map<std::uint32_t, List>& unmask, std::size_t j, LimbsOf limbs_of,
                                       std::size_t t, std::size_t secret_len) {
  std::vector<ByteShare> shares;
  for (const auto& [w, list] : unmask) {
    const auto& limbs = limbs_of(list[j]);
    shares.push_back(ByteShare{w, {limbs.begin(), limbs.end()}});
  }
  auto secret = shamir_reconstruct_bytes(shares, t, secret_len);
  for (auto& s : shares) secure_wipe(s.limbs.data(), s.limbs.size() * 8);
  return secret;
}

// Corruption unless every survivor is in U2.
inline Status survivors_in_u2(const std::vector<std::uint32_t>& survivors, const std::vector<std::uint32_t>& u2) {
  for (auto v : survivors)
    if (!contains(u2, v)) return Status::corruption("secagg: survivor " + id_str(v) + " is not in U2");
  return {};
}

// Never reveal both secrets of one client: its self-mask seed (it survived) and its masking key (it
// dropped). `revealed`: what this client revealed before (in this round); `where` ends the message.
inline Status check_single_reveal(const std::vector<std::uint32_t>& u2, const std::vector<std::uint32_t>& survivors,
                                  const std::map<std::uint32_t, ShareKind>& revealed, std::string_view where) {
  for (auto v : u2) {
    const ShareKind want = contains(survivors, v) ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey;
    const auto it = revealed.find(v);
    if (it != revealed.end() && it->second != want) {
      return Status::failed_precondition("secagg: refusing to reveal both the self-mask seed and the masking key of " +
                                         id_str(v) + std::string(where));
    }
  }
  return {};
}

// Corruption unless `shares` (a key-share message of `sender`) holds one ciphertext for every other
// member of U1 (the keys of `adverts`), in id order.
template <class Adverts, class Shares>
Status addressed_to_u1(const Adverts& adverts, std::uint32_t sender, const Shares& shares) {
  if (shares.size() + 1 != adverts.size()) return Status::corruption("secagg: shares not addressed to all of U1");
  std::size_t j = 0;
  for (const auto& [id, a] : adverts) {
    if (id == sender) continue;
    if (shares[j++].peer != id) return Status::corruption("secagg: shares not addressed to all of U1");
  }
  return {};
}

}  // namespace heal::smpc::detail
