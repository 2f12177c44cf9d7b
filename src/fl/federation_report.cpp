#include <cmath>
#include <nlohmann/json.hpp>

#include "heal/fl/federation.h"

namespace heal::fl {

namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = number(v);
  return j;
}

}  // namespace

std::string FederationReport::to_json() const {
  nlohmann::json rounds_json = nlohmann::json::array();
  for (const auto& r : rounds) {
    nlohmann::json parties = nlohmann::json::array();
    for (const auto& p : r.parties) {
      parties.push_back({{"party", p.party},
                         {"status", p.status},
                         {"reason", p.reason},
                         {"in_aggregate", p.in_aggregate},
                         {"decrypted", p.decrypted},
                         {"num_samples", p.num_samples},
                         {"train_metrics", metrics_json(p.train_metrics)},
                         {"val_metrics", metrics_json(p.val_metrics)},
                         {"bytes_up", p.bytes_up},
                         {"bytes_down", p.bytes_down},
                         {"train_seconds", p.train_seconds},
                         {"encrypt_seconds", p.encrypt_seconds},
                         {"decrypt_seconds", p.decrypt_seconds}});
    }
    rounds_json.push_back({{"round", r.round},
                           {"completed", r.completed},
                           {"failure_reason", r.failure_reason},
                           {"model_version", r.model_version},
                           {"model_hash", digest_hex(r.model_hash)},
                           {"contributors", r.contributors},
                           {"train_loss", number(r.train_loss)},
                           {"val_metrics", metrics_json(r.val_metrics)},
                           {"update_norm_mean", number(r.update_norm_mean)},
                           {"clipped", r.clipped},
                           {"seconds", {{"train", r.train_seconds},
                                        {"encrypt", r.encrypt_seconds},
                                        {"aggregate", r.aggregate_seconds},
                                        {"decrypt", r.decrypt_seconds},
                                        {"round", r.round_seconds}}},
                           {"bytes_up", r.bytes_up},
                           {"bytes_down", r.bytes_down},
                           {"ledger_height", r.ledger_height},
                           {"parties", parties}});
  }
  nlohmann::json j = {{"federation_id", federation_id},
                      {"secure_mode", secure_mode},
                      {"strategy", strategy},
                      {"hospitals", hospitals},
                      {"parameters", parameters},
                      {"ledger_head", digest_hex(ledger_head)},
                      {"ledger_verified", ledger_verified},
                      {"rounds", rounds_json}};
  return j.dump(2);
}

}  // namespace heal::fl
