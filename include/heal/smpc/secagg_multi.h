// Multi-round secure aggregation: the protocol of secagg.h (Bonawitz et al., CCS 2017, ePrint
// 2017/281, Fig. 4) with its key setup (rounds 0 and 1) run ONCE for R aggregation rounds, so that
// a federation that aggregates every round (e.g. `heal fl ensemble`) pays the keys, Shamir shares
// and commitments once per R rounds. The idea of a one-time setup serving many aggregations is the
// one of Flamingo (Ma et al., IEEE S&P 2023, ePrint 2023/486); here it is realised by dealing R
// independent copies of the per-round secrets of Bonawitz et al. at setup, not by Flamingo's
// decryptor committee.
//
// Setup (session id fresh and random, known to all parties; threshold t > n/2):
//  S0 client u draws an X25519 pair c_u (encrypting shares) and, for every round r = 1..R, a 16-byte
//     masking seed m_{u,r} with masking key pair s_{u,r}^SK = BLAKE2b-256("heal-secagg-v2-msk" | m_{u,r})
//     (X25519 clamps it), s_{u,r}^PK; it sends c_u^PK and s_{u,1..R}^PK in ONE message signed with its
//     Ed25519 identity key (over session | message). The server forwards the list (U1, >= t).
//  S1 u checks every signature and that no public key repeats, draws 16-byte self-mask seeds b_{u,r},
//     Shamir-shares every m_{u,r} and b_{u,r} separately (t-of-|U1|, fresh polynomials: 2R independent
//     sharings), and sends every v in U1 ONE ChaCha20-Poly1305 ciphertext holding v's 2R shares under
//     k_{u->v} = BLAKE2b("heal-secagg-v2-enc" | session | X25519(c_u^SK, c_v^PK) | u | v) (ordered
//     pair: each key encrypts exactly one message, so the zero nonce is never reused; associated data
//     session | u | v | R), plus the commitments C_{u,r} = the first 16 bytes of
//     BLAKE2b-256("heal-secagg-v2-commit" | session | u | r | b_{u,r}), signed. The server routes the ciphertexts; U2 =
//     the senders (>= t). A client keeps only the shares of senders whose ciphertext authenticates.
// Round r (1 <= r <= R, increasing; a round may be skipped by a client, or by all):
//  2 y_u = x_u + PRG(B_{u,r}) + sum_{v in U2, v > u} PRG(s_{uv,r}) - sum_{v in U2, v < u} PRG(s_{uv,r})
//    with B_{u,r} = BLAKE2b("heal-secagg-v2-self" | session | u | r | b_{u,r}) and s_{uv,r} =
//    BLAKE2b("heal-secagg-v2-mask" | session | X25519(s_{u,r}^SK, s_{v,r}^PK) | min | max | r);
//    U3_r = who sent it (>= t). Every message of round r carries r in its header, signed.
//  3 every u in U3_r signs (session, r, U3_r) once per round.
//  4 the server sends U3_r with >= t signatures; u answers only for the round it is in and only
//    for the U3_r it signed, with its share of b_{v,r} (v in U3_r) or of m_{v,r} (v in U2 \ U3_r).
//    The server checks every reconstructed b_{v,r} against C_{v,r} and every m_{v,r} against
//    s_{v,r}^PK, and outputs sum_{u in U3_r} x_u.
// Why the rounds stay independent: m_{v,r}, b_{v,r} are drawn independently per round and shared
// with independent polynomials, so revealing round r's secret (t shares) says nothing about any
// other round's; the "never b and m of one client" rule is enforced per (client, round) -- a client
// drops to a later round only forward and never answers for a round it has left -- so a client that
// dropped in round r (its m_{v,r} revealed) keeps b_{v,r'} and m_{v,r'} of every later round secret
// and simply contributes again in round r' > r. When R rounds are used up, a new session runs a new
// setup (new objects, fresh session id). The security argument of Bonawitz et al. applies per round:
// round r is their protocol with the keys of round r, the setup messages being their rounds 0-1
// batched (their transcript is fixed before any round starts, which is what their rounds 0-1 give).
//
// What is detected and not is the same as secagg.h, per round, plus: a message of another round
// or session (signature over session, header round; the server accepts only the open round, a
// client only its current round), a tampered setup ciphertext (AEAD), a request for a round other
// than the one whose survivor set this client signed. Compared with v1 (secagg.h): the secrets are
// 128-bit (m_{u,r} and b_{u,r}; X25519 and ChaCha20 give no more than 128-bit security anyway), the
// session id is bound by the signatures and AEAD instead of being sent in each header, and the
// shares carry no redundant ids (bound in the associated data).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "heal/core/bytes.h"
#include "heal/core/rng.h"
#include "heal/core/status.h"
#include "heal/smpc/secagg.h"
#include "heal/smpc/secagg_multi_wire.h"

namespace heal::smpc {

struct SecAggMultiConfig {
  SecAggConfig base;         // n, t, vector_len, session, word_bytes (as for one-shot SecAgg)
  std::uint32_t rounds = 1;  // R: aggregation rounds served by one setup, 1..kSecAggMaxRounds
};
void validate(const SecAggMultiConfig& cfg);

class SecAggMultiClient {
 public:
  SecAggMultiClient(SecAggMultiConfig cfg, std::uint32_t id, SecAggIdentity identity,
                    std::vector<PublicKey> verify_keys, Rng& rng);
  ~SecAggMultiClient();
  SecAggMultiClient(const SecAggMultiClient&) = delete;
  SecAggMultiClient& operator=(const SecAggMultiClient&) = delete;

  std::uint32_t id() const { return id_; }

  /// Setup S0: the signed advertisement of c_u^PK and the R masking public keys.
  Bytes advertise_keys();
  /// Setup S1: from the key list, the commitments and one ciphertext per other member of U1.
  Result<Bytes> share_keys(std::span<const std::uint8_t> key_list);
  /// End of setup: decrypts the shares routed to this client; U2 = their senders and this client.
  Status receive_shares(std::span<const std::uint8_t> shares_for_me);

  /// Round r step 2: the masked input of round r (r > every round this client took part in).
  Result<Bytes> masked_input(std::uint32_t round, std::span<const std::uint64_t> x);
  /// Round step 3: signs the survivor set of the current round (once per round).
  Result<Bytes> sign_survivors(std::span<const std::uint8_t> survivors);
  /// Round step 4: the unmasking shares of the current round, for the survivor set it signed.
  Result<Bytes> unmask(std::span<const std::uint8_t> unmask_request);

 private:
  struct RoundSecrets {
    std::array<std::uint8_t, kMultiSecretBytes> mask_seed{}, self_seed{};
  };
  struct HeldShare {  // this client's shares of one peer's two secrets of one round
    std::array<std::uint64_t, kMultiLimbs> mask_seed{}, self_seed{};
  };
  Bytes sign_message(Bytes msg) const;  // fills the trailing 64 bytes: sig over session | prefix

  SecAggMultiConfig cfg_;
  std::uint32_t id_;
  SecAggIdentity identity_;
  std::vector<PublicKey> verify_keys_;
  Rng& rng_;
  int setup_ = 0;  // 0: advertise next, 1: share next, 2: receive next, 3: done
  std::array<std::uint8_t, 32> enc_sk_{};
  PublicKey enc_pk_{};
  std::vector<RoundSecrets> own_;  // index r - 1
  std::vector<PublicKey> own_mask_pks_;
  std::map<std::uint32_t, MAdvertiseMsg> u1_;
  std::map<std::uint32_t, std::vector<HeldShare>> held_;  // U2 -> R shares (index r - 1)
  std::vector<std::uint32_t> u2_;
  // Current round and where it stands: 1 masked input sent, 2 signed, 3 unmasked.
  std::uint32_t round_ = 0;
  int step_ = 0;
  std::vector<std::uint32_t> u3_;                // the survivor set signed in round_
  std::map<std::uint32_t, ShareKind> revealed_;  // per peer, in round_ only (secrets are per round)
};

class SecAggMultiServer {
 public:
  SecAggMultiServer(SecAggMultiConfig cfg, std::vector<PublicKey> verify_keys);

  Status receive_advertise(std::span<const std::uint8_t> msg);
  Result<Bytes> key_list();
  Status receive_shares(std::span<const std::uint8_t> msg);
  /// Ends the setup: (client id, message) for every client in U2.
  Result<std::vector<std::pair<std::uint32_t, Bytes>>> route_shares();

  /// Opens round r (after the setup; r greater than the last round opened, r <= R). Abandons an
  /// unfinished previous round.
  Status begin_round(std::uint32_t round);
  Status receive_masked_input(std::span<const std::uint8_t> msg);
  Result<Bytes> survivors();
  Status receive_survivor_signature(std::span<const std::uint8_t> msg);
  Result<Bytes> unmask_request();
  Status receive_unmask(std::span<const std::uint8_t> msg);
  /// Closes round r: sum_{u in U3_r} x_u (mod 2^(8 word_bytes), sign-extended as in secagg.h).
  Result<std::vector<std::uint64_t>> finish();

  const std::vector<std::uint32_t>& setup_clients() const { return u2_; }
  /// U3 of the current round (valid after survivors()).
  const std::vector<std::uint32_t>& aggregated_clients() const { return u3_; }
  std::uint32_t rounds_left() const { return cfg_.rounds - round_; }

 private:
  Status verify(std::uint32_t id, std::span<const std::uint8_t> msg) const;
  Status check_round_msg(std::uint32_t round, std::uint32_t id, int step) const;

  SecAggMultiConfig cfg_;
  std::vector<PublicKey> verify_keys_;
  int setup_ = 0;  // 0: adverts, 1: shares, 2: done
  std::map<std::uint32_t, MAdvertiseMsg> adverts_;
  std::map<std::uint32_t, MShareKeysMsg> shares_;
  std::vector<std::uint32_t> u2_;
  std::uint32_t round_ = 0;
  int step_ = 0;  // in round_: 1 inputs, 2 signatures, 3 unmasking, 4 finished
  std::map<std::uint32_t, std::vector<std::uint64_t>> masked_;
  std::vector<std::uint32_t> u3_;
  std::map<std::uint32_t, Signature> u3_sigs_;
  std::map<std::uint32_t, std::vector<std::array<std::uint64_t, kMultiLimbs>>> unmask_;
};

}  // namespace heal::smpc
