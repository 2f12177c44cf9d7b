// Client/server split on files (heal infer keygen | encrypt | eval | decrypt).
//
// Who holds what (plaintext model):
//   client (hospital):  secret.key (never leaves it), images, labels, logits.
//   server (model host): model.heal, and from the client only params.heal, public.key (for the output
//                        flood, privacy.h), relin.key and (single mode) galois.key with exactly the
//                        rotation steps of the circuit. It never sees the secret key, the images or
//                        the logits in the clear.
// IND-CPA^D rule (Li-Micciancio, ePrint 2020/1533): a CKKS decryption reveals its noise, hence
// information on the secret key; the client must never send decrypted logits (or anything computed
// from them) back to the server. Here: client_decrypt returns the logits to its caller only (the
// CLI prints them locally), result files ("HEIR") are a different kind from queries ("HEIQ") and
// server_eval refuses them.
// Files in the key directory: params.heal, public.key, relin.key, galois.key (single), secret.key.
// A query/result file is "HEIQ" + version + mode + image count + length-prefixed ciphertexts
// (ckks serialization); everything read from disk is validated and returns a Status.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "heal/core/status.h"
#include "heal/he_infer/cost_model.h"
#include "heal/nn/model_ir.h"

namespace heal::he_infer {

/// Client: plans parameters for the model's circuit, generates keys and writes them into `dir`.
Status client_keygen(const nn::ModelIr& model, Mode mode, const std::string& dir);
/// Client: encrypts `count` images (batch: at most N/2) with the public key; writes `out_path`.
Status client_encrypt(const nn::ModelIr& model, Mode mode, const std::string& dir, std::span<const float> images,
                      std::size_t count, const std::string& out_path);
/// Server: evaluates a query with only params, public, relin and Galois keys; writes the result
/// (flooded, privacy.h) to `out_path`. A result file given as `in_path` is refused (InvalidArgument).
Status server_eval(const nn::ModelIr& model, const std::string& dir, const std::string& in_path, const std::string& out_path,
                   int threads);
/// Client: decrypts a result file into logits (count x num_classes), for local use only (never send
/// them, or anything computed from them, back to the server: see the IND-CPA^D rule above).
Result<std::vector<double>> client_decrypt(const nn::ModelIr& model, const std::string& dir, const std::string& in_path);

}  // namespace heal::he_infer
