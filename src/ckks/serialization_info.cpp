// inspect(): a one-line description of a serialized CKKS object without a Context.
#include <cmath>
#include <cstring>
#include <sstream>

#include "heal/ckks/serialization.h"
#include "serialization_internal.h"

namespace heal::ckks {

Result<ObjectInfo> inspect(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Status::corruption("too short for a HEAL object header");
  std::uint16_t tag = 0;
  std::memcpy(&tag, bytes.data() + 6, 2);
  if (tag < 1 || tag > 13) return Status::unsupported("not a CKKS object (type tag " + std::to_string(tag) + ")");
  const auto type = static_cast<ObjectType>(tag);
  HEAL_ASSIGN_OR_RETURN(ByteReader r, ser::open(bytes, type));
  ObjectInfo info;
  info.type = type;
  std::memcpy(&info.version, bytes.data() + 4, 2);
  info.payload_size = r.remaining();
  std::ostringstream os;
  os << object_type_name(type) << ": ";
  auto read_hash = [&]() -> Status {
    std::span<const std::uint8_t> h;
    HEAL_RETURN_IF_ERROR(r.get_bytes(32, &h));
    std::memcpy(info.params_hash.data(), h.data(), 32);
    return {};
  };
  auto meta = [&]() -> Status {
    std::uint32_t level = 0;
    double scale = 0;
    std::uint64_t slots = 0;
    HEAL_RETURN_IF_ERROR(r.get(&level));
    HEAL_RETURN_IF_ERROR(r.get(&scale));
    HEAL_RETURN_IF_ERROR(r.get(&slots));
    os << "level " << level << ", scale 2^" << (scale > 0 ? std::log2(scale) : 0.0) << ", " << slots << " slots";
    return {};
  };
  if (type == ObjectType::kCkksParams) {
    bool marked = false;
    HEAL_ASSIGN_OR_RETURN(ParamsSpec s, load_params_spec(bytes, &marked));
    int qb = 0, pb = 0;
    for (int b : s.q_bits) qb += b;
    for (int b : s.p_bits) pb += b;
    // Primes of b bits lie just below 2^b, so the bit sum is log QP rounded up.
    const bool weak = marked || !security_violation(s, qb + pb).empty();
    os << "N = 2^" << s.log_n << ", " << s.q_bits.size() << " Q primes (" << qb << " bits), " << s.p_bits.size()
       << " P primes (" << pb << " bits), log QP ~ " << qb + pb << ", default scale 2^" << std::log2(s.default_scale)
       << (s.secret == SecretDistribution::kTernaryHamming ? ", sparse secret h = " + std::to_string(s.hamming_weight) : "")
       << (weak ? ", INSECURE (below 128 bits; loads only with an explicit opt-in)" : "");
    std::memcpy(info.params_hash.data(), bytes.data() + bytes.size() - 32, 32);  // the hash ends the object
  } else {
    HEAL_RETURN_IF_ERROR(read_hash());
    switch (type) {
      case ObjectType::kCkksSecretKey: os << "secret key (keep private)"; break;
      case ObjectType::kCkksPublicKey: {
        std::uint8_t seeded = 0;
        HEAL_RETURN_IF_ERROR(r.get(&seeded));
        os << (seeded ? "seeded (a from a 32-byte seed)" : "expanded");
        break;
      }
      case ObjectType::kCkksRelinKey: {
        std::uint32_t d = 0;
        std::uint8_t seeded = 0;
        HEAL_RETURN_IF_ERROR(r.get(&d));
        HEAL_RETURN_IF_ERROR(r.get(&seeded));
        os << d << " digits, " << (seeded ? "seeded" : "expanded");
        break;
      }
      case ObjectType::kCkksGaloisKeys: {
        std::uint32_t c = 0;
        HEAL_RETURN_IF_ERROR(r.get(&c));
        os << c << " Galois keys";
        break;
      }
      case ObjectType::kCkksPlaintext: HEAL_RETURN_IF_ERROR(meta()); break;
      case ObjectType::kCkksCiphertext: {
        std::uint8_t size = 0;
        HEAL_RETURN_IF_ERROR(r.get(&size));
        os << int{size} << " polynomials, ";
        HEAL_RETURN_IF_ERROR(meta());
        break;
      }
      case ObjectType::kCkksSeededCiphertext: HEAL_RETURN_IF_ERROR(meta()); os << ", c1 from a seed"; break;
      case ObjectType::kCkksCompactSeededCiphertext: {
        HEAL_RETURN_IF_ERROR(meta());
        std::span<const std::uint8_t> seed;
        std::uint8_t k = 0;
        HEAL_RETURN_IF_ERROR(r.get_bytes(32, &seed));
        HEAL_RETURN_IF_ERROR(r.get(&k));
        os << ", c1 from a seed, c0 without its " << int{k} << " low bits (lossy)";
        break;
      }
      case ObjectType::kCkksKeyShare: {
        std::uint8_t kind = 0;
        std::uint32_t party = 0;
        HEAL_RETURN_IF_ERROR(r.get(&kind));
        HEAL_RETURN_IF_ERROR(r.get(&party));
        static const char* kNames[] = {"?", "public key", "relin round 1", "relin round 2", "Galois key", "Shamir secret (private)"};
        os << (kind <= 5 ? kNames[kind] : "unknown kind") << " share from party " << party;
        break;
      }
      case ObjectType::kCkksCompactDecryptionShare:
      case ObjectType::kCkksDecryptionShare: {
        std::uint32_t party = 0, count = 0;
        HEAL_RETURN_IF_ERROR(r.get(&party));
        HEAL_RETURN_IF_ERROR(r.get(&count));
        os << "partial decryption covering " << count << " part" << (count == 1 ? "y" : "ies");
        break;
      }
      case ObjectType::kCkksRefreshShare: {
        std::uint32_t party = 0, count = 0;
        HEAL_RETURN_IF_ERROR(r.get(&party));
        HEAL_RETURN_IF_ERROR(r.get(&count));
        os << "collective bootstrapping share covering " << count << " part" << (count == 1 ? "y" : "ies");
        break;
      }
      default: break;
    }
    os << ", params " << to_hex(std::span<const std::uint8_t>(info.params_hash.data(), 8));
  }
  os << ", " << bytes.size() << " bytes";
  info.description = os.str();
  return info;
}

}  // namespace heal::ckks
