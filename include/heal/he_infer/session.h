// Client/server split on files (heal infer keygen | encrypt | eval | decrypt).
//
// Who holds what (plaintext model):
//   client (hospital):  secret.key (never leaves it), images, labels, logits.
//   server (model host): model.heal, and from the client only params.heal, relin.key and (single mode)
//                        galois.key with exactly the rotation steps of the circuit. It never sees
//                        public.key's secret counterpart, the images or the logits in the clear.
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
/// Server: evaluates a query with only params, relin and Galois keys; writes `out_path`.
Status server_eval(const nn::ModelIr& model, const std::string& dir, const std::string& in_path, const std::string& out_path,
                   int threads);
/// Client: decrypts a result file into logits (count x num_classes).
Result<std::vector<double>> client_decrypt(const nn::ModelIr& model, const std::string& dir, const std::string& in_path);

}  // namespace heal::he_infer
