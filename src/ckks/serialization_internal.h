// Building blocks of the CKKS serializers (not installed): bit-packed residues, the parameter
// hash prefix and whole-buffer framing.
#pragma once

#include <span>

#include "heal/ckks/params.h"
#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/serialization.h"

namespace heal::ckks::ser {

/// ceil(log2 q): the bits one residue takes.
int residue_bits(const math::Modulus& q);
/// Packed size of `limbs` limbs of the basis (n coefficients each).
std::size_t packed_size(const math::RnsBasis& basis, std::size_t limbs);
/// Writes the limbs of p (limb i packed in residue_bits(basis.modulus(i)) bits, LSB first).
void put_poly(ByteWriter& w, const math::RnsPoly& p, const math::RnsBasis& basis);
/// Reads `limbs` packed limbs; checks the size before allocating and every residue < q_i.
Status get_poly(ByteReader& r, const math::RnsBasis& basis, std::size_t limbs, bool ntt, math::RnsPoly* out);

/// Lossy compact form of a polynomial mod Q_l = q_0 ... q_{limbs-1} (docs/formats/ckks.md): per
/// coefficient the CRT integer x in [0, Q_l) becomes v = floor((x + 2^(k-1)) / 2^k), packed in
/// compact_bits(Q_l, k) bits; the reader returns v * 2^k mod q_i. Needs Q_l < 2^126.
/// The bits per coefficient, or a Status when Q_l >= 2^126 or k is not in [0, log2 Q_l).
Result<int> compact_bits(const math::RnsBasis& basis, std::size_t limbs, int drop_bits);
/// Packed size of a compact polynomial (n coefficients of `bits` bits).
std::size_t compact_size(std::size_t n, int bits);
/// Writes p (NTT or coefficient form) compactly; HEAL_REQUIRE on an unsupported Q_l or k.
void put_compact_poly(ByteWriter& w, const math::RnsPoly& p, const math::RnsBasis& basis, int drop_bits);
/// Reads a compact polynomial of `limbs` limbs, returned in NTT form when `ntt`; checks the size
/// before allocating, every v <= floor((Q_l - 1 + 2^(k-1)) / 2^k) and zero padding bits.
Status get_compact_poly(ByteReader& r, const math::RnsBasis& basis, std::size_t limbs, int drop_bits, bool ntt,
                        math::RnsPoly* out);

/// Writes the params hash of ctx.
void put_hash(ByteWriter& w, const Context& ctx);
/// Reads a params hash and compares it with ctx's (FailedPrecondition on mismatch).
Status check_hash(ByteReader& r, const Context& ctx);

/// Reads the header of `type`, returning a reader limited to the payload; fails if bytes trail it.
Result<ByteReader> open(std::span<const std::uint8_t> bytes, ObjectType type);
/// Fails unless the payload reader is at its end.
Status close(const ByteReader& r, ObjectType type);

/// Hash of a context, cached per call site by callers when hot.
Digest hash_of(const Context& ctx);

}  // namespace heal::ckks::ser
