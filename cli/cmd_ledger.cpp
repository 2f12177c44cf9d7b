// heal ledger verify|log|show: audit a federation's ledger (docs/formats/ledger.md).
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "heal/ledger/open.h"
#include "heal/ledger/uri.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/ledger/ledger.h"

namespace heal::cli {
namespace {

using nlohmann::json;

struct LedgerArgs {
  std::string path;
  std::string expected_head;
  bool json_out = false;
  bool members = false;  // log: the ensemble members' version history only
  std::uint64_t height = 0;
};

std::unique_ptr<ledger::Ledger> open_ledger(const std::string& uri) {
  auto l = ledger::open(uri, ledger::OpenMode::kReadOnly);
  if (!l.ok()) {
    auto parsed = ledger::parse_ledger_uri(uri);
    throw StatusError(l.status().with_context("opening ledger '" + (parsed.ok() ? parsed->redacted() : uri) + "'"));
  }
  return std::move(l).value();
}

std::string short_hex(const Digest& d) { return digest_hex(d).substr(0, 16); }

json metrics(const std::string& s) {
  if (s.empty()) return json::object();
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(s) : j;
}

std::string join(const std::vector<std::uint32_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

void run_verify(const LedgerArgs& a) {
  auto l = open_ledger(a.path);
  std::optional<Digest> head;
  if (!a.expected_head.empty()) {
    auto b = from_hex(a.expected_head);
    if (!b.ok() || b->size() != 32) throw StatusError(Status::invalid_argument("--head must be 64 hex digits"));
    head.emplace();
    std::copy(b->begin(), b->end(), head->begin());
  }
  ledger::VerifyReport rep = l->verify(head);
  if (a.json_out) {
    json j = {{"ok", rep.ok},
              {"blocks", rep.counts.blocks},
              {"signatures", rep.counts.signatures},
              {"setups", rep.counts.setups},
              {"commitments", rep.counts.commitments},
              {"rounds_completed", rep.counts.rounds_completed},
              {"rounds_failed", rep.counts.rounds_failed},
              {"model_versions", rep.counts.model_versions},
              {"rounds_opened", rep.counts.rounds_opened},
              {"contributor_sets", rep.counts.contributor_sets},
              {"ensemble_records", rep.counts.ensemble_records},
              {"head", digest_hex(rep.head_hash)}};
    if (!rep.ok) {
      j["bad_height"] = rep.bad_height ? json(*rep.bad_height) : json(nullptr);
      j["reason"] = rep.reason;
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << rep.summary() << "\n";
  }
  if (!rep.ok) throw CLI::RuntimeError(2);
}

void run_member_log(const ledger::Ledger& l, bool json_out) {
  auto members = l.member_history();
  if (!members.ok()) throw StatusError(members.status().with_context("reading the ensemble member history"));
  if (json_out) {
    json rows = json::array();
    for (const auto& e : *members) {
      rows.push_back({{"institution", e.version.institution},
                      {"version", e.version.version},
                      {"round", e.version.round},
                      {"height", e.height},
                      {"model_hash", digest_hex(e.version.model_hash)},
                      {"architecture", e.version.architecture},
                      {"num_parameters", e.version.num_parameters},
                      {"issued_at_ms", e.issued_at_ms}});
    }
    std::cout << rows.dump(2) << "\n";
    return;
  }
  if (members->empty()) return;
  std::cout << std::left << std::setw(13) << "institution" << std::setw(9) << "version" << std::setw(7) << "round"
            << std::setw(8) << "height" << std::setw(18) << "model hash"
            << "architecture\n";
  for (const auto& e : *members) {
    std::cout << std::left << std::setw(13) << e.version.institution << std::setw(9) << e.version.version
              << std::setw(7) << e.version.round << std::setw(8) << e.height << std::setw(18)
              << short_hex(e.version.model_hash) << e.version.architecture << "\n";
  }
}

void run_log(const LedgerArgs& a) {
  auto l = open_ledger(a.path);
  if (a.members) return run_member_log(*l, a.json_out);
  auto hist = l->model_history();
  if (!hist.ok()) throw StatusError(hist.status().with_context("reading the model history (run `heal ledger verify`)"));
  if (a.json_out) {
    json rows = json::array();
    for (const auto& e : *hist) {
      rows.push_back({{"version", e.version},
                      {"round", e.round},
                      {"height", e.height},
                      {"participants", e.participants},
                      {"model_hash", digest_hex(e.model_hash)},
                      {"issued_at_ms", e.issued_at_ms},
                      {"metrics", metrics(e.metrics_json)}});
    }
    std::cout << rows.dump(2) << "\n";
    return;
  }
  std::cout << std::left << std::setw(8) << "version" << std::setw(7) << "round" << std::setw(8) << "height"
            << std::setw(18) << "participants" << std::setw(18) << "model hash" << "metrics\n";
  for (const auto& e : *hist) {
    std::cout << std::left << std::setw(8) << e.version << std::setw(7) << e.round << std::setw(8) << e.height
              << std::setw(18) << (e.participants.empty() ? "-" : join(e.participants)) << std::setw(18)
              << short_hex(e.model_hash) << (e.metrics_json.empty() ? "-" : e.metrics_json) << "\n";
  }
  // An SMPC ensemble ledger (fl/ensemble): the per-member version history.
  if (auto members = l->member_history(); members.ok() && !members->empty()) {
    std::cout << "\n";
    run_member_log(*l, false);
  }
}

json record_json(const ledger::Record& r) {
  using namespace ledger;
  json j = {{"type", record_type_name(r.type())}, {"federation", r.federation_id}, {"issued_at_ms", r.issued_at_ms}};
  if (const auto* s = std::get_if<RoundSetup>(&r.body)) {
    json parts = json::array();
    for (const auto& p : s->participants) {
      parts.push_back({{"party", p.party_id}, {"role", role_name(p.role)}, {"name", p.name},
                       {"key", p.identity.to_string()}});
    }
    j.update({{"key_epoch", s->key_epoch}, {"secure_mode", s->secure_mode}, {"params_id", s->params_id},
              {"params_hash", digest_hex(s->params_hash)},
              {"collective_public_key_hash", digest_hex(s->collective_public_key_hash)},
              {"min_contributors", s->min_contributors}, {"decryption_threshold", s->decryption_threshold},
              {"strategy", s->strategy}, {"clip_norm", s->clip_norm}, {"participants", parts}});
  } else if (const auto* c = std::get_if<UpdateCommitment>(&r.body)) {
    j.update({{"round", c->round}, {"party", c->party_id}, {"model_version", c->model_version},
              {"model_hash", digest_hex(c->model_hash)}, {"contribution_hash", digest_hex(c->contribution_hash)},
              {"num_samples", c->num_samples}, {"clip_norm", c->clip_norm}});
  } else if (const auto* x = std::get_if<RoundResult>(&r.body)) {
    json contribs = json::array();
    for (const auto& ct : x->contributions) {
      contribs.push_back({{"party", ct.party_id}, {"hash", digest_hex(ct.contribution_hash)}, {"num_samples", ct.num_samples}});
    }
    j.update({{"round", x->round}, {"key_epoch", x->key_epoch},
              {"status", x->status == RoundStatus::kCompleted ? "completed" : "failed"},
              {"failure_reason", x->failure_reason}, {"selected", x->selected}, {"contributions", contribs},
              {"decryptors", x->decryptors}, {"aggregate_hash", digest_hex(x->aggregate_hash)},
              {"model_version_in", x->model_version_in}, {"model_hash_in", digest_hex(x->model_hash_in)},
              {"model_version_out", x->model_version_out}, {"model_hash_out", digest_hex(x->model_hash_out)},
              {"strategy", x->strategy}, {"clip_norm", x->clip_norm}, {"metrics", metrics(x->metrics_json)}});
  } else if (const auto* m = std::get_if<ModelVersion>(&r.body)) {
    j.update({{"version", m->version}, {"round", m->round}, {"parent_version", m->parent_version},
              {"model_hash", digest_hex(m->model_hash)}, {"num_parameters", m->num_parameters},
              {"metrics", metrics(m->metrics_json)}});
  } else if (const auto* o = std::get_if<RoundOpen>(&r.body)) {
    j.update({{"round", o->round}, {"key_epoch", o->key_epoch}, {"params_hash", digest_hex(o->params_hash)},
              {"model_version", o->model_version}, {"model_hash", digest_hex(o->model_hash)},
              {"selected", o->selected}});
  } else if (const auto* cs = std::get_if<ContributorSet>(&r.body)) {
    json contribs = json::array();
    for (const auto& ct : cs->contributions) {
      contribs.push_back({{"party", ct.party_id}, {"hash", digest_hex(ct.contribution_hash)}, {"num_samples", ct.num_samples}});
    }
    j.update({{"round", cs->round}, {"contributions", contribs}, {"aggregate_hash", digest_hex(cs->aggregate_hash)}});
  } else if (const auto* es = std::get_if<EnsembleSetup>(&r.body)) {
    json members = json::array();
    for (const auto& em : es->members) {
      members.push_back({{"institution", em.institution}, {"architecture", em.architecture}, {"sites", em.num_sites}});
    }
    j.update({{"members", members}, {"reference_hash", digest_hex(es->reference_hash)},
              {"reference_size", es->reference_size}, {"num_classes", es->num_classes},
              {"secagg_threshold", es->secagg_threshold}, {"frac_bits", es->frac_bits},
              {"weight_rule", es->weight_rule}});
  } else if (const auto* mv = std::get_if<MemberVersion>(&r.body)) {
    j.update({{"institution", mv->institution}, {"version", mv->version}, {"architecture", mv->architecture},
              {"model_hash", digest_hex(mv->model_hash)}, {"round", mv->round},
              {"num_parameters", mv->num_parameters}});
  } else if (const auto* er = std::get_if<EnsembleRound>(&r.body)) {
    json contribs = json::array();
    for (const auto& ec : er->contributors) {
      contribs.push_back({{"institution", ec.institution}, {"weight", ec.weight}, {"val_accuracy", ec.val_accuracy},
                          {"masked_input_hash", digest_hex(ec.masked_input_hash)}});
    }
    j.update({{"round", er->round}, {"contributors", contribs}, {"consensus_hash", digest_hex(er->consensus_hash)}});
  }
  return j;
}

void run_show(const LedgerArgs& a) {
  auto l = open_ledger(a.path);
  auto b = l->block(a.height);
  if (!b.ok()) throw StatusError(b.status());
  auto rec = ledger::decode_record(b->record);
  if (!rec.ok()) throw StatusError(rec.status().with_context("block " + std::to_string(a.height)));
  auto sigs = ledger::decode_signatures(b->signatures);
  if (!sigs.ok()) throw StatusError(sigs.status().with_context("block " + std::to_string(a.height)));
  json signers = json::array();
  for (const auto& s : *sigs) signers.push_back(s.signer.to_string());
  json j = {{"height", b->height}, {"hash", digest_hex(b->hash)}, {"prev_hash", digest_hex(b->prev_hash)},
            {"signers", signers}, {"record", record_json(*rec)}};
  if (a.json_out) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "block " << b->height << "  " << digest_hex(b->hash) << "\n  " << ledger::describe(*rec) << "\n";
    for (const auto& s : *sigs) std::cout << "  signed by " << s.signer.short_name() << "\n";
    std::cout << "  (not verified here: run `heal ledger verify`)\n" << j["record"].dump(2) << "\n";
  }
}

struct DeployArgs {
  std::string chain;
  std::string consortium;
  bool json_out = false;
};

void run_deploy(const DeployArgs& a) {
#ifdef HEAL_HAVE_EVM
  auto text = read_file(a.consortium, 1 << 20);
  if (!text.ok()) throw StatusError(text.status().with_context("reading the consortium file"));
  auto cons = ledger::evm::parse_consortium(std::string(text->begin(), text->end()));
  if (!cons.ok()) throw StatusError(cons.status());
  auto uri = ledger::parse_ledger_uri(a.chain);
  if (!uri.ok()) throw StatusError(uri.status());
  if (uri->scheme == "sqlite") {
    throw StatusError(Status::invalid_argument("a SQLite ledger needs no deployment; --chain takes evm://host:port?key=…"));
  }
  auto l = ledger::evm::EvmLedger::open(*uri, /*read_only=*/false);
  if (!l.ok()) throw StatusError(l.status());
  auto addr = (*l)->deploy(*cons);
  if (!addr.ok()) throw StatusError(addr.status().with_context("deploying HealFederation"));
  const auto st = (*l)->stats();
  if (a.json_out) {
    std::cout << json{{"contract", *addr}, {"from_block", (*l)->from_block()}, {"uri", (*l)->audit_uri()},
                      {"gas_used", st.gas_used}, {"members", cons->members.size()}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "HealFederation deployed at " << *addr << " (block " << (*l)->from_block() << ", " << st.gas_used
              << " gas) for " << cons->members.size() << " members, t = " << cons->threshold
              << ", min contributors = " << cons->min_contributors << "\nledger URI: " << (*l)->audit_uri() << "\n";
  }
#else
  (void)a;
  throw StatusError(Status::unsupported("this build has no EVM backend (configure with -DHEAL_WITH_EVM=ON after "
                                        "scripts/install-deps.sh)"));
#endif
}

}  // namespace

constexpr const char* kLedgerUriHelp =
    "Ledger URI: a SQLite file (path.db or sqlite:///path.db) or a contract on an EVM chain "
    "(evm://host:port?contract=0x...)";

void add_ledger_commands(CLI::App& app) {
  auto args = std::make_shared<LedgerArgs>();
  auto* ledger = app.add_subcommand("ledger", "Audit a federation's ledger (hash chain + signatures)");
  ledger->require_subcommand(1);

  auto* verify = ledger->add_subcommand("verify", "Check every block, hash link and signature; name the first bad block");
  verify->add_option("--ledger", args->path, kLedgerUriHelp)->required();
  verify->add_option("--head", args->expected_head, "Expected head block hash (hex), detects truncation");
  verify->add_flag("--json", args->json_out, "Print JSON");
  verify->callback([args] { run_verify(*args); });

  auto* log = ledger->add_subcommand("log", "Model version history: version, round, participants, model hash, metrics");
  log->add_option("--ledger", args->path, kLedgerUriHelp)->required();
  log->add_flag("--json", args->json_out, "Print JSON");
  log->add_flag("--members", args->members,
                "Only the ensemble members' version history (institution, version, round, model hash, architecture)");
  log->callback([args] { run_log(*args); });

  auto* show = ledger->add_subcommand("show", "Print one block and its record");
  show->add_option("--ledger", args->path, kLedgerUriHelp)->required();
  show->add_option("--height", args->height, "Block height")->required();
  show->add_flag("--json", args->json_out, "Print JSON");
  show->callback([args] { run_show(*args); });

  auto dargs = std::make_shared<DeployArgs>();
  auto* deploy = ledger->add_subcommand("deploy", "Deploy the HealFederation contract for a consortium file (members, t)");
  deploy->add_option("--chain", dargs->chain, "EVM node and deployer key: evm://host:port?key=env:VAR (or keystore=PATH)")
      ->required();
  deploy->add_option("--consortium", dargs->consortium, "Consortium JSON (federation_id, threshold, min_contributors, "
                                                        "members: party_id, role, name, address)")
      ->required()
      ->check(CLI::ExistingFile);
  deploy->add_flag("--json", dargs->json_out, "Print JSON");
  deploy->callback([dargs] { run_deploy(*dargs); });
}

}  // namespace heal::cli
