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
