// Dropout-tolerant secure aggregation: a server learns the sum mod 2^64 of the clients' vectors
// (fixed-point encoded, heal/smpc/fixed_point.h) and nothing else about them, and the sum is still
// computed when clients drop out during the round, as long as at least t stay.
//
// The protocol is the one of Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving
// Machine Learning", CCS 2017 (ePrint 2017/281), Fig. 4 (the actively secure variant with the
// consistency check and signatures), on the complete graph: every pair of clients shares a mask.
// Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020 (ePrint
// 2020/704; "SecAgg+") replace the complete graph by a sparse random one; that is NOT implemented
// here (cost is O(n) keys and shares per client and O(n^2) PRG expansions at the server on dropouts;
// fine for tens of hospitals).
//
// Rounds (client ids are 1..n; U1 >= U2 >= U3 >= U4 are the clients still present at each round):
//  0 advertise keys: client u sends two X25519 public keys, c_u (encrypting shares) and s_u
//    (masking), signed with its long-term Ed25519 identity key (a PKI: every party knows every
//    client's verify key). The server forwards the list of >= t advertisements (U1).
//  1 share keys: u checks every signature, draws a self-mask seed b_u (32 bytes), Shamir-shares
//    b_u and its masking secret key s_u^SK with threshold t over U1 (additive.h, GF(2^61-1)),
//    and encrypts v's two shares with XChaCha20-Poly1305 under BLAKE2b(X25519(c_u^SK, c_v^PK))
//    (associated data: session, u, v), and sends them with a commitment BLAKE2b(session, u, b_u).
//    The server routes the ciphertexts (U2 = who sent them).
//  2 masked input: with s_uv = BLAKE2b(X25519(s_u^SK, s_v^PK)) and PRG(k) = ChaCha20 keystream of
//    key k read as u64 words, u sends
//        y_u = x_u + PRG(b_u) + sum_{v in U2, v > u} PRG(s_uv) - sum_{v in U2, v < u} PRG(s_uv)  mod 2^64.
//    U3 = who sent y_u.
//  3 consistency check: the server sends U3; each u in U3 signs (session, U3) with its identity key;
//    U4 = who signed. A client signs only one U3 per session.
//  4 unmasking: the server sends U3 and the >= t signatures; u checks they are valid signatures of
//    that same U3 (the one it signed itself) and sends, for every v in U2, its share of b_v if v is
//    in U3 or of s_v^SK if v dropped (U2 \ U3) -- never both for one v: a client records what it
//    revealed for each peer and refuses a request that would reveal the other secret. The server
//    reconstructs, removes PRG(b_v) for v in U3 and the pairwise masks of dropped clients, and
//    outputs sum_{u in U3} x_u, after checking every reconstructed b_v against its commitment and every
//    s_v^SK against s_v^PK.
// For an aggregation repeated every round, secagg_multi.h runs rounds 0-1 (the key setup) once for
// R rounds with independent per-round secrets; this one-shot version stays for single aggregations
// (e.g. apps/ensemble_diagnosis, the site FedAvg of fl::ensemble).
// Every message is bytes (secagg_wire.h); a role never reads another's memory. Every received byte
// string is parsed by a decoder returning Status/Result; a client's messages are signed with its
// identity key, so the server rejects modified or forged client messages.
//
// Security model (see src/smpc/README.md for the full statement):
//  - threshold: t > n/2 is required (HEAL_REQUIRE); with a semi-honest server, any coalition of the
//    server and fewer than t clients learns only the sum of the inputs of a set of >= t clients
//    (Bonawitz et al., Sec. 6, honest-but-curious analysis); against an active server, the
//    consistency round and signatures give their active-adversary guarantee (the server learns at
//    most a sum over >= t clients) only when t exceeds the bound of their analysis (roughly 2n/3
//    with fewer than n/3 corrupt clients; not re-derived here, and not enforced: only t > n/2 is).
//  - detected: forged or modified client messages (signatures); a server substituting public keys
//    (signed advertisements); tampered share ciphertexts (AEAD); a server showing different survivor
//    sets to different clients in round 4 (signatures on U3; a client that signed U3 refuses any other
//    set); requests to reveal both secrets of one client; a reconstructed masking key that does not
//    match the advertised s_v^PK, or a self-mask seed that does not match its round-1 commitment: a
//    wrong unmasking share or an inconsistent dealing that would change the sum is caught even with
//    exactly t answers (the round then fails: detected, not corrected); inconsistent unmasking
//    shares when more than t arrive.
//  - NOT detected: a malicious client's wrong input x_u (any value in Z_2^64; range checks need
//    zero-knowledge proofs); which client sent a wrong share (so one malicious client can make the
//    round fail); a server that drops honest clients at will (it can make the round fail or
//    aggregate fewer clients, never fewer than t); a server giving different U2 to different clients
//    (the sum is then garbage, not a leak). Timing and message sizes are not hidden. No input is
//    authenticated to the other clients.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/smpc/secagg_wire.h"

namespace heal::smpc {

struct SecAggConfig {
  std::uint32_t num_clients = 0;  // ids are 1..num_clients
  std::uint32_t threshold = 0;    // t: n/2 < t <= n
  std::uint64_t vector_len = 0;   // words per input
  Seed session{};                 // fresh random per aggregation (binds every message to it)
  /// Bytes per masked word on the wire, 2..8: the sum is computed mod 2^(8 word_bytes) and returned
  /// sign-extended to 64 bits, so it is exact when every input and the sum, read as signed
  /// integers, lie in [-2^(8 word_bytes - 1), 2^(8 word_bytes - 1)). Reducing a Z_2^64 mask mod
  /// 2^(8w) leaves it uniform, so a smaller word costs no security; it saves upload bytes when the
  /// caller knows the range (e.g. fixed-point probabilities). Every party must use the same value.
  std::uint32_t word_bytes = 8;
  /// The fewest inputs a sum may contain, beyond t: a client signs a survivor set U3 (and so takes
  /// part in unmasking) only if |U3| >= max(t, min_inputs), and the server closes round 2 only with
  /// that many masked inputs. For callers that publish the sum to its contributors: a sum of two
  /// inputs gives each contributor the other's, so such callers set 3. A local policy of each party,
  /// not sent on the wire; 0 leaves t alone.
  std::uint32_t min_inputs = 0;
};

/// max(t, min_inputs): the fewest inputs a sum of this configuration may contain.
std::uint32_t required_inputs(const SecAggConfig& cfg);

/// Throws (HEAL_REQUIRE) unless 2 <= n <= kSecAggMaxClients, n/2 < t <= n, 1 <= len <= kSecAggMaxVectorLen,
/// 2 <= word_bytes <= 8, min_inputs <= n.
void validate(const SecAggConfig& cfg);

/// A client's long-term Ed25519 identity: verify key (public, known to all) and signing key.
struct SecAggIdentity {
  PublicKey verify_key{};
  SecretBytes sign_key;  // 64 bytes (libsodium's seed || public key)
};
/// A fresh identity from `rng` (32 bytes of seed).
SecAggIdentity make_secagg_identity(Rng& rng);

/// One hospital. Calls must follow the rounds in order (FailedPrecondition otherwise). The Rng must
/// outlive the client (a SystemRng in production; SeededRng only in tests).
class SecAggClient {
 public:
  SecAggClient(SecAggConfig cfg, std::uint32_t id, SecAggIdentity identity, std::vector<PublicKey> verify_keys,
               Rng& rng);
  ~SecAggClient();
  SecAggClient(const SecAggClient&) = delete;
  SecAggClient& operator=(const SecAggClient&) = delete;

  std::uint32_t id() const { return id_; }

  /// Round 0: the signed advertisement of this client's two public keys.
  Bytes advertise_keys();
  /// Round 1: from the server's key list, the encrypted shares for every other client in U1.
  Result<Bytes> share_keys(std::span<const std::uint8_t> key_list);
  /// Round 2: from the shares routed to this client, the masked input (x.size() == vector_len).
  Result<Bytes> masked_input(std::span<const std::uint8_t> shares_for_me, std::span<const std::uint64_t> x);
  /// Round 3: signs the survivor set U3.
  Result<Bytes> sign_survivors(std::span<const std::uint8_t> survivors);
  /// Round 4: the unmasking shares. May be asked again with the same set (same answer); refuses a
  /// request that would reveal for some client both its self-mask seed and its masking key.
  Result<Bytes> unmask(std::span<const std::uint8_t> unmask_request);

 private:
  struct Peer {
    PublicKey enc_pk{}, mask_pk{};
  };
  struct HeldShare {  // this client's shares of a peer's two secrets
    std::array<std::uint64_t, kSeedLimbs> mask_key{}, seed{};
  };
  Status check_session(const Seed& s) const;
  Signature sign(std::span<const std::uint8_t> prefix) const;

  SecAggConfig cfg_;
  std::uint32_t id_;
  SecAggIdentity identity_;
  std::vector<PublicKey> verify_keys_;
  Rng& rng_;
  int round_ = 0;  // next round expected
  std::array<std::uint8_t, 32> enc_sk_{}, mask_sk_{}, self_seed_{};
  PublicKey enc_pk_{}, mask_pk_{};
  std::map<std::uint32_t, Peer> u1_;
  std::map<std::uint32_t, HeldShare> held_;  // keys: U2 (the senders of routed shares) and this client
  std::vector<std::uint32_t> u2_, u3_;
  std::map<std::uint32_t, ShareKind> revealed_;
};

/// The aggregator. receive_* take one client message each (Status: rejected or accepted); the
/// producing calls close the current round (FailedPrecondition when fewer than t clients answered).
class SecAggServer {
 public:
  SecAggServer(SecAggConfig cfg, std::vector<PublicKey> verify_keys);

  Status receive_advertise(std::span<const std::uint8_t> msg);
  /// Closes round 0: the key list for every client in U1.
  Result<Bytes> key_list();
  Status receive_shares(std::span<const std::uint8_t> msg);
  /// Closes round 1: (client id, message) for every client in U2.
  Result<std::vector<std::pair<std::uint32_t, Bytes>>> route_shares();
  Status receive_masked_input(std::span<const std::uint8_t> msg);
  /// Closes round 2: the survivor set U3, for every client in it.
  Result<Bytes> survivors();
  Status receive_survivor_signature(std::span<const std::uint8_t> msg);
  /// Closes round 3: U3 and the signatures, for every client in U4.
  Result<Bytes> unmask_request();
  Status receive_unmask(std::span<const std::uint8_t> msg);
  /// Closes round 4: sum_{u in U3} x_u mod 2^64.
  Result<std::vector<std::uint64_t>> finish();

  /// U3: the clients whose inputs the sum contains (valid after survivors()).
  const std::vector<std::uint32_t>& aggregated_clients() const { return u3_; }

 private:
  Status check_client(const Seed& session, std::uint32_t id) const;
  Status verify(std::uint32_t id, std::span<const std::uint8_t> msg) const;

  SecAggConfig cfg_;
  std::vector<PublicKey> verify_keys_;
  int round_ = 0;
  std::map<std::uint32_t, AdvertiseMsg> adverts_;               // U1
  std::map<std::uint32_t, ShareKeysMsg> shares_;                // U2
  std::map<std::uint32_t, std::vector<std::uint64_t>> masked_;  // U3
  std::vector<std::uint32_t> u3_;
  std::map<std::uint32_t, Signature> u3_sigs_;                  // U4
  std::map<std::uint32_t, std::vector<RevealedShare>> unmask_;  // U5
};

}  // namespace heal::smpc
