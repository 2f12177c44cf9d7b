#include "heal/apps/ensemble_simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "heal/apps/ensemble_diagnosis.h"
#include "heal/core/bytes.h"
#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/fl/ensemble/simulation.h"
#include "heal/ledger/backends/sqlite_ledger.h"
#include "heal/ledger/uri.h"
#ifdef HEAL_HAVE_EVM
#include "heal/ledger/backends/evm_ledger.h"
#endif
#include "heal/nn/metrics.h"
#include "heal/nn/model_ir.h"
#include "heal/nn/plots.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps::ensemble {

namespace tb = nn::torch_backend;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Mean per-class recall (binary: (sensitivity + specificity) / 2; multi-class: macro recall).
double balanced_accuracy(const nn::ClassificationMetrics& m) {
  return m.num_classes == 2 ? (m.sensitivity + m.specificity) / 2 : m.sensitivity;
}

// Weighted mean of row-major probability matrices.
std::vector<double> weighted_mean(const std::vector<std::vector<double>>& probs, const std::vector<double>& w) {
  std::vector<double> out(probs.front().size(), 0.0);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (std::size_t i = 0; i < probs.size(); ++i) {
    for (std::size_t k = 0; k < out.size(); ++k) out[k] += w[i] * probs[i][k] / total;
  }
  return out;
}

}  // namespace

namespace {

// A positive decimal number in [1, max] (the whole string).
bool parse_count(const std::string& t, int max, int* out) {
  if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos) return false;
  const int v = std::stoi(t);
  if (v < 1 || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

bool is_member_model_file(const std::string& arch) {
  const std::string suffix = ".heal";
  return arch.size() >= suffix.size() && arch.compare(arch.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<MemberArch> member_arch(const std::string& text, const io::Dataset& d) {
  MemberArch m;
  tb::ModelSpec& s = m.spec;
  s.in_channels = d.train.channels;
  s.image_size = d.train.height;
  s.num_classes = d.num_classes;
  if (is_member_model_file(text)) {
    // A model the institution brings: its architecture and weights.
    auto bytes = read_file(text, std::size_t{1} << 31);
    if (!bytes.ok()) return bytes.status().with_context("member model " + text);
    auto ir = nn::deserialize_model(*bytes);
    if (!ir.ok()) return ir.status().with_context("member model " + text);
    auto spec = tb::spec_from_ir(*ir, s);
    if (!spec.ok()) {
      return spec.status().with_context(
          "member model " + text + " (a member can start from an HE CNN model, e.g. heal train --model hecnn --save)");
    }
    m.spec = *spec;
    m.init_hash = blake2b_256(*bytes);
    m.init = std::make_shared<const nn::ModelIr>(std::move(*ir));
    return m;
  }
  const auto colon = text.find(':');
  auto arch = tb::parse_architecture(text.substr(0, colon));
  if (!arch.ok()) return arch.status();
  s.arch = *arch;
  if (colon != std::string::npos) {
    const std::string shape = text.substr(colon + 1);
    const auto x = shape.find('x');
    if (!parse_count(shape.substr(0, x), 4096, &s.width) ||
        (x != std::string::npos && !parse_count(shape.substr(x + 1), 8, &s.depth))) {
      return Status::invalid_argument("bad width or depth in architecture '" + text +
                                      "' (expected NAME, NAME:WIDTH or NAME:WIDTHxDEPTH, depth 1..8, or a .heal file)");
    }
  }
  return m;
}

Result<tb::ModelSpec> member_spec(const std::string& text, const io::Dataset& d) {
  HEAL_ASSIGN_OR_RETURN(MemberArch m, member_arch(text, d));
  return m.spec;
}

std::uint64_t member_seed(std::uint64_t seed, std::size_t k, std::size_t site) {
  return seed * 1000 + 1 + 101 * k + 7 * site;
}

Result<EnsembleData> split_ensemble_data(const io::Dataset& data, int sites, io::PartitionSpec partition,
                                         double reference_fraction, std::uint64_t seed) {
  if (!(reference_fraction > 0 && reference_fraction < 0.9)) {
    return Status::invalid_argument("reference fraction must be in (0, 0.9)");
  }
  if (data.val.size() == 0) return Status::invalid_argument("the dataset has no validation split (ensemble weights)");
  // Reference set: a seeded random fraction of the training split, labels dropped.
  SeededRng rng(seed_from_u64(seed), 0x5ef);
  std::vector<std::size_t> all(data.train.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  shuffle(std::span(all), rng);
  const auto n_ref = static_cast<std::size_t>(std::llround(reference_fraction * static_cast<double>(all.size())));
  std::vector<std::size_t> ref_idx(all.begin(), all.begin() + static_cast<long>(n_ref));
  std::vector<std::size_t> rest(all.begin() + static_cast<long>(n_ref), all.end());
  std::sort(ref_idx.begin(), ref_idx.end());
  std::sort(rest.begin(), rest.end());
  EnsembleData d;
  d.reference = std::make_shared<io::SplitData>(io::subset(data.train, ref_idx));
  std::fill(d.reference->labels.begin(), d.reference->labels.end(), 0);  // unlabelled: the labels are not available
  d.pool = std::make_shared<io::SplitData>(io::subset(data.train, rest));
  d.val = std::make_shared<io::SplitData>(data.val);
  d.reference_hash = images_hash(*d.reference);
  // Every site (hospital) gets a label-skewed share of the rest.
  partition.hospitals = sites;
  partition.seed = seed;
  auto part = io::partition(d.pool->labels, data.num_classes, partition);
  if (!part.ok()) return part.status();
  d.site_indices = std::move(part->hospitals);
  return d;
}

Result<EnsembleSimulationReport> run_ensemble_simulation(const io::Dataset& data, const std::string& name,
                                                         const EnsembleSimulationOptions& o) {
  namespace fe = fl::ensemble;
  const auto t0 = Clock::now();
  auto say = [&](const std::string& s) {
    if (o.on_progress) o.on_progress(s);
  };
  std::vector<InstitutionPlan> plan = o.institutions;
  if (plan.empty()) {
    if (o.archs.empty()) return Status::invalid_argument("no architecture given");
    for (int h = 0; h < o.hospitals; ++h) {
      plan.push_back({"hospital" + std::to_string(h + 1), o.archs[static_cast<std::size_t>(h) % o.archs.size()], 1});
    }
  }
  if (plan.size() < 2) return Status::invalid_argument("an ensemble needs at least 2 institutions");
  if (o.rounds < 1) return Status::invalid_argument("rounds must be >= 1");
  if (o.ledger_path.empty()) return Status::invalid_argument("no ledger path given");
  std::vector<MemberArch> specs;
  int total_sites = 0;
  for (const auto& inst : plan) {
    if (inst.sites < 1) return Status::invalid_argument("institution '" + inst.name + "' has no site");
    auto s = member_arch(inst.arch, data);
    if (!s.ok()) return s.status();
    specs.push_back(*s);
    total_sites += inst.sites;
  }
  const std::size_t C = static_cast<std::size_t>(data.num_classes);

  auto split = split_ensemble_data(data, total_sites, o.partition, o.reference_fraction, o.seed);
  if (!split.ok()) return split.status();
  const std::shared_ptr<io::SplitData> ref = split->reference, pool = split->pool, val = split->val;
  const auto* part = &split->site_indices;
  std::vector<std::vector<std::vector<std::size_t>>> site_idx(plan.size());  // [institution][site]
  std::vector<std::vector<std::size_t>> inst_idx(plan.size());               // union of its sites
  for (std::size_t k = 0, h = 0; k < plan.size(); ++k) {
    for (int s = 0; s < plan[k].sites; ++s, ++h) {
      site_idx[k].push_back((*part)[h]);
      inst_idx[k].insert(inst_idx[k].end(), (*part)[h].begin(), (*part)[h].end());
    }
    std::sort(inst_idx[k].begin(), inst_idx[k].end());
  }

  EnsembleSimulationReport rep;
  rep.dataset = name;
  rep.recipe = {.partition = io::partition_scheme_name(o.partition),
                .reference_fraction = o.reference_fraction,
                .rounds = o.rounds,
                .local_epochs = o.member.local_epochs,
                .distill_epochs = o.member.distill_epochs,
                .lr = o.member.train.learning_rate,
                .distill_lr = o.member.distill.learning_rate,
                .sharpen_temperature = o.member.sharpen_temperature,
                .joint_distill_weight = o.member.joint_distill_weight,
                .cosine = o.member.schedule.cosine,
                .balance_consensus = o.member.balance_consensus,
                .central_arch = o.central_arch,
                .seed = o.seed};
  rep.reference_size = ref->size();
  const Digest ref_hash = split->reference_hash;
  rep.reference_hash = digest_hex(ref_hash);

  // --- the federation: institutions (1-site: the member; multi-site: an institution model plus sites) ---
  std::vector<std::unique_ptr<TorchEnsembleMember>> models;
  std::vector<std::vector<std::unique_ptr<TorchEnsembleMember>>> sites(plan.size());
  std::vector<fe::InstitutionSpec> inst_specs;
  for (std::size_t k = 0; k < plan.size(); ++k) {
    // A multi-site institution's model holds the FedAvg of its sites and has no data of its own.
    models.push_back(std::make_unique<TorchEnsembleMember>(
        pool, plan[k].sites == 1 ? site_idx[k][0] : std::vector<std::size_t>{}, ref, val, specs[k].spec, o.member,
        member_seed(o.seed, k, 0), specs[k].init, specs[k].init_hash));
    fe::InstitutionSpec is;
    is.name = plan[k].name;
    is.model = models.back().get();
    if (plan[k].sites > 1) {
      for (int s = 0; s < plan[k].sites; ++s) {
        sites[k].push_back(std::make_unique<TorchEnsembleMember>(
            pool, site_idx[k][static_cast<std::size_t>(s)], ref, val, specs[k].spec, o.member,
            member_seed(o.seed, k, static_cast<std::size_t>(s) + 1), specs[k].init, specs[k].init_hash));
        is.sites.push_back(sites[k].back().get());
      }
    }
    inst_specs.push_back(is);
  }
  HEAL_ASSIGN_OR_RETURN(const ledger::LedgerUri uri, ledger::parse_ledger_uri(o.ledger_path));
  std::unique_ptr<ledger::Ledger> lg;
#ifdef HEAL_HAVE_EVM
  ledger::evm::EvmLedger* evm = nullptr;
#endif
  if (uri.scheme == "sqlite") {
    auto l = ledger::SqliteLedger::open(uri.path);
    if (!l.ok()) return l.status().with_context("opening the ledger " + uri.path);
    lg = std::move(*l);
  } else {
#ifdef HEAL_HAVE_EVM
    HEAL_RETURN_IF_ERROR(ledger::evm::check_ensemble_size(plan.size()));
    HEAL_ASSIGN_OR_RETURN(auto e, ledger::evm::EvmLedger::open(uri, /*read_only=*/false));
    evm = e.get();
    lg = std::move(e);
#else
    return Status::unsupported("this build has no EVM ledger client (HEAL_WITH_EVM=OFF); use a SQLite ledger");
#endif
  }
  rep.ledger_backend = uri.scheme == "sqlite" ? "sqlite" : "evm";
  rep.ledger_uri = uri.scheme == "sqlite" ? uri.path : uri.redacted();
  SystemRng sys;
  fe::SimulationOptions so;
  so.federation_id = "heal-ensemble-" + name;
  so.reference_hash = ref_hash;
  // One SecAgg key setup serves up to 20 rounds (never more than the run has).
  so.secagg_rounds_per_setup = static_cast<std::uint32_t>(std::min(o.rounds, 20));
  // One identity scheme on every backend (as `heal fl simulate`): each party's secp256k1 key signs
  // its ledger records and, on a chain, is its account.
  so.signature_scheme = ledger::SignatureScheme::kSecp256k1;
  fe::EnsembleSimulation sim(inst_specs, so, *lg, sys);
#ifdef HEAL_HAVE_EVM
  if (evm && evm->contract_address().empty()) {
    // A fresh contract for this consortium (threshold: the SecAgg t the simulation uses, n/2 + 1),
    // deployed from the URI's key, which also pays the parties' gas on a dev chain.
    const auto t = static_cast<std::uint32_t>(plan.size() / 2 + 1);
    HEAL_ASSIGN_OR_RETURN(const auto cons,
                          ledger::evm::ensemble_consortium_of(so.federation_id, sim.participants(), t));
    HEAL_ASSIGN_OR_RETURN(const std::string contract, evm->fund_and_deploy(cons));
    say("ledger: HealFederation deployed at " + contract);
  }
  if (evm) rep.ledger_uri = evm->audit_uri();
#endif
  if (auto st = sim.setup(); !st.ok()) return st.with_context("ensemble setup");
#ifdef HEAL_HAVE_EVM
  const ledger::evm::TxStats chain_after_setup = evm ? evm->stats() : ledger::evm::TxStats{};
#endif
  std::vector<double> weights(plan.size(), 1.0);
  // Early stopping on the public validation split, as for one model: each institution deploys the
  // weights of its best validation round (TorchEnsembleMember::end_round / deploy; the local-only
  // baseline gets the same rule).
  for (int r = 0; r < o.rounds; ++r) {
    auto rr = sim.run_round();
    if (!rr.ok()) return rr.status();
    if (!rr->completed) return Status::unavailable("round " + std::to_string(r + 1) + " failed: " + rr->failure);
    RoundRow row;
    row.round = r + 1;
    row.seconds = rr->round_seconds;
    row.secagg_seconds = rr->secagg_seconds;
    row.contributors.assign(rr->contributors.begin(), rr->contributors.end());
    std::vector<std::vector<double>> val_probs;
    for (std::size_t k = 0; k < plan.size(); ++k) {
      const auto& ir = rr->institutions[k];
      weights[k] = ir.weight;
      row.bytes_up.push_back(ir.bytes_up);
      row.bytes_down.push_back(ir.bytes_down);
      row.setup_bytes_up.push_back(ir.setup_bytes_up);
      row.amortised_bytes_up.push_back(ir.amortised_bytes_up);
      row.site_bytes.push_back(ir.site_bytes_up + ir.site_bytes_down);
      row.plaintext_bytes = ir.plaintext_bytes;
      // The harness (not a protocol role) reads each model's score on the public validation split at
      // the round's end, which the member computes for its own early stopping.
      auto end = models[k]->end_round();
      row.members.push_back({end.val_accuracy, ir.weight});
      val_probs.push_back(std::move(end.val_probabilities));
    }
    row.ensemble_val_accuracy =
        nn::compute_metrics(weighted_mean(val_probs, weights), val->labels, data.num_classes).accuracy;
    char line[256];
    std::snprintf(line, sizeof line, "round %d/%d: ensemble val ACC %.3f, %.1f s (secure aggregation %.2f s)", r + 1,
                  o.rounds, row.ensemble_val_accuracy, row.seconds, row.secagg_seconds);
    say(line);
    rep.rounds.push_back(std::move(row));
  }
  if (!rep.rounds.empty()) {
    // Institution 1's upload per round over the run, the SecAgg setup spread over the rounds it
    // serves (the front end prints it beside the float32 baseline).
    double up = 0;
    for (const auto& row : rep.rounds) up += row.amortised_bytes_up.empty() ? 0.0 : row.amortised_bytes_up[0];
    rep.amortised_upload_per_round = up / static_cast<double>(rep.rounds.size());
    rep.plaintext_upload_per_round = static_cast<double>(rep.rounds[0].plaintext_bytes);
  }
#ifdef HEAL_HAVE_EVM
  if (evm && !rep.rounds.empty()) {
    const ledger::evm::TxStats st = evm->stats();
    const double nr = static_cast<double>(rep.rounds.size());
    rep.chain_transactions_per_round = static_cast<double>(st.transactions - chain_after_setup.transactions) / nr;
    rep.chain_gas_per_round = static_cast<double>(st.gas_used - chain_after_setup.gas_used) / nr;
    rep.chain_setup_gas = chain_after_setup.gas_used;
  }
#endif
  const auto verified = lg->verify();
  rep.ledger_verified = verified.ok;
  if (!verified.ok) say("ledger verification FAILED: " + verified.summary());

  // The diagnosis ensemble: each institution's best-validation weights, weighed by that accuracy. A
  // one-site institution's member tracked its best over both states of every round (after private
  // training and after distillation); a multi-site institution's model over the rounds' ends.
  std::vector<double> best_val(plan.size());
  for (std::size_t k = 0; k < plan.size(); ++k) {
    HEAL_ASSIGN_OR_RETURN(best_val[k], models[k]->deploy(plan[k].sites == 1));
    weights[k] = fe::ensemble_weight(best_val[k], C);
  }
  std::vector<std::vector<double>> test_probs;
  for (std::size_t k = 0; k < plan.size(); ++k) {
    MemberSummary s;
    s.institution = plan[k].name;
    s.sites = plan[k].sites;
    s.architecture = models[k]->describe().architecture;
    s.num_parameters = models[k]->trainer().num_parameters();
    s.class_counts = pool->class_counts(data.num_classes);
    std::fill(s.class_counts.begin(), s.class_counts.end(), 0);
    for (auto i : inst_idx[k]) ++s.class_counts[static_cast<std::size_t>(pool->labels[i])];
    test_probs.push_back(models[k]->trainer().predict_proba(data.test));
    const auto m = nn::compute_metrics(test_probs.back(), data.test.labels, data.num_classes);
    s.test_accuracy = m.accuracy;
    s.test_auc = m.auc;
    s.test_probabilities = test_probs.back();
    s.local_test_accuracy = s.local_test_auc = std::numeric_limits<double>::quiet_NaN();
    s.weight = weights[k];
    s.best_val_accuracy = best_val[k];
    s.local_best_val_accuracy = std::numeric_limits<double>::quiet_NaN();
    rep.members.push_back(s);
  }
  {
    std::vector<std::vector<double>> vp;
    for (const auto& m : models) vp.push_back(m->trainer().predict_proba(*val));
    const auto vm = nn::compute_metrics(weighted_mean(vp, weights), val->labels, data.num_classes);
    rep.ensemble_val_accuracy = vm.accuracy;
    rep.ensemble_val_balanced_accuracy = balanced_accuracy(vm);
    rep.test_labels = data.test.labels;
    rep.ensemble_test_probabilities = weighted_mean(test_probs, weights);
    const auto m = nn::compute_metrics(rep.ensemble_test_probabilities, data.test.labels, data.num_classes);
    rep.ensemble_test_accuracy = m.accuracy;
    rep.ensemble_test_auc = m.auc;
  }

  // The same test split answered by secure ensemble diagnosis (SMPC mode), one batch.
  {
    std::vector<SmpcMemberSpec> sm;
    for (std::size_t k = 0; k < plan.size(); ++k) {
      const TorchEnsembleMember* m = models[k].get();
      const io::SplitData& t = data.test;
      sm.push_back({weights[k], [m, &t](std::span<const float> images, std::size_t count) {
                      io::SplitData q;
                      q.channels = t.channels;
                      q.height = t.height;
                      q.width = t.width;
                      q.images.assign(images.begin(), images.end());
                      q.labels.assign(count, 0);
                      return m->trainer().predict_proba(q);
                    }});
    }
    RunStats stats;
    auto out = smpc_diagnose(sm, data.test.images, data.test.size(), C, sys, 0, {}, &stats);
    if (!out.ok()) return out.status().with_context("secure ensemble diagnosis of the test split");
    const auto& plain = rep.ensemble_test_probabilities;
    for (std::size_t i = 0; i < plain.size(); ++i) {
      rep.secure_max_abs_diff = std::max(rep.secure_max_abs_diff, std::abs(plain[i] - out->mean[i]));
    }
    rep.secure_test_accuracy = nn::compute_metrics(out->mean, data.test.labels, data.num_classes).accuracy;
    rep.secure_seconds = stats.seconds;
    rep.secure_querier_bytes_received = stats.querier_received;
    say("secure ensemble diagnosis of the test split: ACC " + std::to_string(rep.secure_test_accuracy).substr(0, 5) +
        ", max |secure - plaintext| " + std::to_string(rep.secure_max_abs_diff));
  }

  // --- baseline: every institution on its own data only (its sites pooled), the same schedule ---
  if (o.local_baseline) {
    std::vector<std::vector<double>> lp;
    std::vector<double> lw(plan.size());
    for (std::size_t k = 0; k < plan.size(); ++k) {
      TorchEnsembleMember local(pool, inst_idx[k], ref, val, specs[k].spec, o.member, member_seed(o.seed, k, 0),
                                specs[k].init, specs[k].init_hash);
      double best = -1;
      std::vector<float> bw;
      for (int r = 0; r < o.rounds; ++r) {
        auto tl = local.train_local(fl::TrainConfig{.round = static_cast<std::uint64_t>(r + 1)});
        if (!tl.ok()) return tl.status();
        const double acc = local.trainer().evaluate(*val).accuracy;
        if (acc > best) {
          best = acc;
          bw = local.get_weights();
        }
      }
      if (auto st = local.set_weights(bw); !st.ok()) return st;
      lw[k] = fe::ensemble_weight(best, C);
      rep.members[k].local_best_val_accuracy = best;
      lp.push_back(local.trainer().predict_proba(data.test));
      const auto m = nn::compute_metrics(lp.back(), data.test.labels, data.num_classes);
      rep.members[k].local_test_accuracy = m.accuracy;
      rep.members[k].local_test_auc = m.auc;
      rep.members[k].local_test_probabilities = lp.back();
      say("local-only " + plan[k].name + " " + plan[k].arch + ": test ACC " + std::to_string(m.accuracy).substr(0, 5));
    }
    rep.local_ensemble_test_accuracy =
        nn::compute_metrics(weighted_mean(lp, lw), data.test.labels, data.num_classes).accuracy;
  } else {
    rep.local_ensemble_test_accuracy = std::numeric_limits<double>::quiet_NaN();
  }

  // --- baseline: one model on all the training data (the reference set with its labels included) ---
  rep.central_test_accuracy = rep.central_test_auc = rep.central_best_val_accuracy =
      std::numeric_limits<double>::quiet_NaN();
  if (o.central_baseline) {
    auto cs = member_spec(o.central_arch, data);
    if (!cs.ok()) return cs.status();
    tb::Trainer central(*cs, o.seed * 1000 + 999);
    const int epochs = o.central_epochs > 0 ? o.central_epochs : o.rounds * o.member.local_epochs;
    // The same schedule as a member (local_epochs per call) and the same early stopping on validation.
    double best = -1;
    std::vector<float> bw;
    for (int e = 0; e < epochs; e += o.member.local_epochs) {
      tb::TrainOptions to = o.member.train;
      to.learning_rate = round_learning_rate(to.learning_rate, o.member.schedule,
                                             static_cast<std::uint64_t>(e / o.member.local_epochs + 1));
      central.train_epochs(data.train, {}, o.member.local_epochs, to);
      const double acc = central.evaluate(*val).accuracy;
      if (acc > best) {
        best = acc;
        bw = central.get_weights();
      }
    }
    central.set_weights(bw);
    rep.central_best_val_accuracy = best;
    rep.central_val_balanced_accuracy =
        balanced_accuracy(nn::compute_metrics(central.predict_proba(*val), val->labels, data.num_classes));
    rep.central_test_probabilities = central.predict_proba(data.test);
    const auto m = nn::compute_metrics(rep.central_test_probabilities, data.test.labels, data.num_classes);
    rep.central_test_accuracy = m.accuracy;
    rep.central_test_auc = m.auc;
    rep.central_architecture = describe_spec(central.spec());
    say("central " + o.central_arch + ": test ACC " + std::to_string(m.accuracy).substr(0, 5));
  }
  rep.seconds = seconds_since(t0);
  return rep;
}

std::string ensemble_report_json(const EnsembleSimulationReport& r) {
  using nlohmann::json;
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j;
  j["dataset"] = r.dataset;
  const EnsembleRecipe& rc = r.recipe;
  j["recipe"] = {{"partition", rc.partition},
                 {"reference_fraction", rc.reference_fraction},
                 {"rounds", rc.rounds},
                 {"local_epochs", rc.local_epochs},
                 {"distill_epochs", rc.distill_epochs},
                 {"lr", rc.lr},
                 {"distill_lr", rc.distill_lr},
                 {"sharpen", rc.sharpen_temperature},
                 {"joint_distill", rc.joint_distill_weight},
                 {"balance_consensus", rc.balance_consensus},
                 {"lr_schedule", rc.cosine ? "cosine" : "constant"},
                 {"central_arch", rc.central_arch},
                 {"seed", rc.seed}};
  j["reference"] = {{"size", r.reference_size}, {"hash", r.reference_hash}};
  j["members"] = json::array();
  for (const auto& m : r.members) {
    j["members"].push_back({{"institution", m.institution},
                            {"sites", m.sites},
                            {"architecture", m.architecture},
                            {"num_parameters", m.num_parameters},
                            {"class_counts", m.class_counts},
                            {"test_accuracy", num(m.test_accuracy)},
                            {"test_auc", num(m.test_auc)},
                            {"local_only_test_accuracy", num(m.local_test_accuracy)},
                            {"local_only_test_auc", num(m.local_test_auc)},
                            {"gain_over_local_only", num(m.test_accuracy - m.local_test_accuracy)},
                            {"weight", m.weight},
                            {"best_val_accuracy", num(m.best_val_accuracy)},
                            {"local_only_best_val_accuracy", num(m.local_best_val_accuracy)},
                            // per image, at full double precision: their argmax reproduces the accuracies
                            {"test_probabilities", m.test_probabilities},
                            {"local_only_test_probabilities", m.local_test_probabilities}});
  }
  j["rounds"] = json::array();
  for (const auto& row : r.rounds) {
    json jr{{"round", row.round},
            {"ensemble_val_accuracy", row.ensemble_val_accuracy},
            {"seconds", row.seconds},
            {"secagg_seconds", row.secagg_seconds},
            {"bytes_up", row.bytes_up},
            {"bytes_down", row.bytes_down},
            {"setup_bytes_up", row.setup_bytes_up},
            {"amortised_bytes_up", row.amortised_bytes_up},
            {"site_bytes", row.site_bytes},
            {"contributors", row.contributors},
            {"plaintext_bytes", row.plaintext_bytes}};
    jr["members"] = json::array();
    for (const auto& m : row.members) jr["members"].push_back({{"val_accuracy", m.val_accuracy}, {"weight", m.weight}});
    j["rounds"].push_back(jr);
  }
  j["secure_diagnosis"] = {{"test_accuracy", r.secure_test_accuracy},
                           {"max_abs_diff_from_plaintext", r.secure_max_abs_diff},
                           {"seconds", r.secure_seconds},
                           {"querier_bytes_received", r.secure_querier_bytes_received}};
  j["ensemble"] = {{"test_accuracy", r.ensemble_test_accuracy},
                   {"test_auc", r.ensemble_test_auc},
                   {"val_accuracy", r.ensemble_val_accuracy},
                   {"val_balanced_accuracy", r.ensemble_val_balanced_accuracy},
                   {"test_probabilities", r.ensemble_test_probabilities}};
  j["test_labels"] = r.test_labels;
  j["local_only_ensemble_test_accuracy"] = num(r.local_ensemble_test_accuracy);
  j["central"] = {{"architecture", r.central_architecture},
                  {"test_accuracy", num(r.central_test_accuracy)},
                  {"test_auc", num(r.central_test_auc)},
                  {"best_val_accuracy", num(r.central_best_val_accuracy)},
                  {"val_balanced_accuracy", num(r.central_val_balanced_accuracy)},
                  {"test_probabilities", r.central_test_probabilities}};
  j["ledger_verified"] = r.ledger_verified;
  j["ledger"] = {{"backend", r.ledger_backend}, {"uri", r.ledger_uri}};
  if (r.ledger_backend == "evm") {
    j["ledger"]["transactions_per_round"] = r.chain_transactions_per_round;
    j["ledger"]["gas_per_round"] = r.chain_gas_per_round;
    j["ledger"]["setup_gas_including_deployment"] = r.chain_setup_gas;
  }
  j["seconds"] = r.seconds;
  return j.dump(2);
}

Status plot_ensemble_report(const EnsembleSimulationReport& r, const std::string& png) {
  std::vector<nn::Series> series;
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    nn::Series s;
    s.label = r.members[i].institution + " " + r.members[i].architecture.substr(0, r.members[i].architecture.find('('));
    for (const auto& row : r.rounds) {
      s.x.push_back(row.round);
      s.y.push_back(row.members[i].val_accuracy);
    }
    series.push_back(std::move(s));
  }
  nn::Series e;
  e.label = "ensemble";
  for (const auto& row : r.rounds) {
    e.x.push_back(row.round);
    e.y.push_back(row.ensemble_val_accuracy);
  }
  series.push_back(std::move(e));
  if (std::isfinite(r.central_best_val_accuracy) && !r.rounds.empty()) {
    series.push_back({"central model (best)",
                      {1.0, static_cast<double>(r.rounds.back().round)},
                      {r.central_best_val_accuracy, r.central_best_val_accuracy}});
  }
  return nn::plot_lines(png, "Ensemble FL on " + r.dataset + ": validation accuracy per round", "round",
                        "validation accuracy", series);
}

}  // namespace heal::apps::ensemble
