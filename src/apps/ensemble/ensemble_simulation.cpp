#include "heal/apps/ensemble_simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "heal/core/hash.h"
#include "heal/core/rng.h"
#include "heal/nn/metrics.h"
#include "heal/nn/plots.h"
#include "heal/nn/torch/trainer.h"

namespace heal::apps::ensemble {

namespace tb = nn::torch_backend;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// "hecnn", "resnet:32" -> spec for the dataset's images.
Result<tb::ModelSpec> spec_for(const std::string& text, const io::Dataset& d) {
  const auto colon = text.find(':');
  auto arch = tb::parse_architecture(text.substr(0, colon));
  if (!arch.ok()) return arch.status();
  tb::ModelSpec s;
  s.arch = *arch;
  s.in_channels = d.train.channels;
  s.image_size = d.train.height;
  s.num_classes = d.num_classes;
  if (colon != std::string::npos) {
    try {
      std::size_t used = 0;
      s.width = std::stoi(text.substr(colon + 1), &used);
      if (used != text.size() - colon - 1 || s.width < 1) throw std::invalid_argument("width");
    } catch (const std::exception&) {
      return Status::invalid_argument("bad width in architecture '" + text + "' (expected NAME or NAME:WIDTH)");
    }
  }
  return s;
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

// Ensemble weight of a member from its accuracy on the public validation split: its margin over
// chance, floored so a member at or below chance still counts a little (weights are public).
double ensemble_weight(double val_accuracy, std::size_t num_classes) {
  return std::max(val_accuracy - 1.0 / static_cast<double>(num_classes), 0.01);
}

Result<EnsembleSimulationReport> run_ensemble_simulation(const io::Dataset& data, const std::string& name,
                                                         const EnsembleSimulationOptions& o) {
  const auto t0 = Clock::now();
  auto say = [&](const std::string& s) {
    if (o.on_progress) o.on_progress(s);
  };
  if (o.hospitals < 2) return Status::invalid_argument("an ensemble needs at least 2 hospitals");
  if (o.archs.empty()) return Status::invalid_argument("no architecture given");
  if (o.rounds < 1) return Status::invalid_argument("rounds must be >= 1");
  if (!(o.reference_fraction > 0 && o.reference_fraction < 0.9)) {
    return Status::invalid_argument("reference fraction must be in (0, 0.9)");
  }
  if (data.val.size() == 0) return Status::invalid_argument("the dataset has no validation split (ensemble weights)");
  std::vector<tb::ModelSpec> specs;
  for (int h = 0; h < o.hospitals; ++h) {
    auto s = spec_for(o.archs[static_cast<std::size_t>(h) % o.archs.size()], data);
    if (!s.ok()) return s.status();
    specs.push_back(*s);
  }
  const std::size_t C = static_cast<std::size_t>(data.num_classes);

  // Reference set: a seeded random fraction of the training split, labels dropped.
  SeededRng rng(seed_from_u64(o.seed), 0x5ef);
  std::vector<std::size_t> all(data.train.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  shuffle(std::span(all), rng);
  const auto n_ref = static_cast<std::size_t>(std::llround(o.reference_fraction * static_cast<double>(all.size())));
  std::vector<std::size_t> ref_idx(all.begin(), all.begin() + static_cast<long>(n_ref));
  std::vector<std::size_t> rest(all.begin() + static_cast<long>(n_ref), all.end());
  std::sort(ref_idx.begin(), ref_idx.end());
  std::sort(rest.begin(), rest.end());
  auto ref = std::make_shared<io::SplitData>(io::subset(data.train, ref_idx));
  std::fill(ref->labels.begin(), ref->labels.end(), 0);  // unlabelled: the labels are not available
  auto pool = std::make_shared<io::SplitData>(io::subset(data.train, rest));
  auto val = std::make_shared<io::SplitData>(data.val);

  io::PartitionSpec ps = o.partition;
  ps.hospitals = o.hospitals;
  ps.seed = o.seed;
  auto part = io::partition(pool->labels, data.num_classes, ps);
  if (!part.ok()) return part.status();
  const auto counts = io::partition_class_counts(*part, pool->labels, data.num_classes);

  EnsembleSimulationReport rep;
  rep.dataset = name;
  rep.reference_size = ref->size();
  rep.reference_hash = digest_hex(images_hash(*ref));

  auto make_members = [&](std::uint64_t seed_base) {
    std::vector<std::unique_ptr<TorchEnsembleMember>> m;
    for (int h = 0; h < o.hospitals; ++h) {
      const auto hs = static_cast<std::size_t>(h);
      m.push_back(std::make_unique<TorchEnsembleMember>(pool, part->hospitals[hs], ref, val, specs[hs], o.member,
                                                        seed_base + 101 * static_cast<std::uint64_t>(h)));
    }
    return m;
  };

  // --- the federation ---
  auto members = make_members(o.seed * 1000 + 1);
  std::vector<double> weights(members.size(), 1.0);
  for (int r = 0; r < o.rounds; ++r) {
    const auto tr = Clock::now();
    RoundRow row;
    row.round = r + 1;
    std::vector<std::vector<double>> preds;
    for (std::size_t i = 0; i < members.size(); ++i) {
      fl::TrainConfig cfg{.round = static_cast<std::uint64_t>(r), .seed = o.seed * 7919 + i};
      auto tl = members[i]->train_local(cfg);
      if (!tl.ok()) return tl.status();
      auto v = members[i]->validate();
      if (!v.ok()) return v.status();
      weights[i] = ensemble_weight(v->at("accuracy"), C);
      auto p = members[i]->predict_reference();
      if (!p.ok()) return p.status();
      preds.push_back(std::move(*p));
    }
    const auto ts = Clock::now();
    const auto consensus = weighted_mean(preds, weights);
    row.secagg_seconds = seconds_since(ts);
    row.plaintext_bytes = static_cast<std::uint64_t>(ref->size() * C * sizeof(double));
    std::vector<std::vector<double>> val_probs;
    for (std::size_t i = 0; i < members.size(); ++i) {
      fl::TrainConfig cfg{.round = static_cast<std::uint64_t>(r), .seed = o.seed * 7919 + i};
      auto d = members[i]->distill(consensus, cfg);
      if (!d.ok()) return d.status();
      val_probs.push_back(members[i]->trainer().predict_proba(*val));
      row.members.push_back({nn::compute_metrics(val_probs.back(), val->labels, data.num_classes).accuracy,
                             weights[i]});
    }
    row.ensemble_val_accuracy =
        nn::compute_metrics(weighted_mean(val_probs, weights), val->labels, data.num_classes).accuracy;
    row.seconds = seconds_since(tr);
    std::string line = "round " + std::to_string(r + 1) + "/" + std::to_string(o.rounds) + ": val ACC";
    for (const auto& m : row.members) line += " " + std::to_string(m.val_accuracy).substr(0, 5);
    line += " | ensemble " + std::to_string(row.ensemble_val_accuracy).substr(0, 5);
    say(line);
    rep.rounds.push_back(std::move(row));
  }
  // The diagnosis ensemble weighs the final members by their final validation accuracy (public split).
  for (std::size_t i = 0; i < members.size(); ++i) weights[i] = ensemble_weight(rep.rounds.back().members[i].val_accuracy, C);
  std::vector<std::vector<double>> test_probs;
  for (std::size_t i = 0; i < members.size(); ++i) {
    MemberSummary s;
    s.architecture = describe_spec(members[i]->trainer().spec());
    s.num_parameters = members[i]->trainer().num_parameters();
    s.class_counts = counts[i];
    test_probs.push_back(members[i]->trainer().predict_proba(data.test));
    const auto m = nn::compute_metrics(test_probs.back(), data.test.labels, data.num_classes);
    s.test_accuracy = m.accuracy;
    s.test_auc = m.auc;
    s.local_test_accuracy = s.local_test_auc = std::numeric_limits<double>::quiet_NaN();
    s.weight = weights[i];
    rep.members.push_back(s);
  }
  {
    const auto m = nn::compute_metrics(weighted_mean(test_probs, weights), data.test.labels, data.num_classes);
    rep.ensemble_test_accuracy = m.accuracy;
    rep.ensemble_test_auc = m.auc;
  }

  // --- baseline: every member on its own data only, the same schedule ---
  if (o.local_baseline) {
    auto local = make_members(o.seed * 1000 + 1);  // the same initial weights as the federation's members
    std::vector<std::vector<double>> lp;
    std::vector<double> lw(local.size());
    for (std::size_t i = 0; i < local.size(); ++i) {
      for (int r = 0; r < o.rounds; ++r) {
        fl::TrainConfig cfg{.round = static_cast<std::uint64_t>(r), .seed = o.seed * 7919 + i};
        auto tl = local[i]->train_local(cfg);
        if (!tl.ok()) return tl.status();
      }
      lw[i] = ensemble_weight(local[i]->trainer().evaluate(*val).accuracy, C);
      lp.push_back(local[i]->trainer().predict_proba(data.test));
      const auto m = nn::compute_metrics(lp.back(), data.test.labels, data.num_classes);
      rep.members[i].local_test_accuracy = m.accuracy;
      rep.members[i].local_test_auc = m.auc;
      say("local-only " + rep.members[i].architecture + ": test ACC " + std::to_string(m.accuracy));
    }
    rep.local_ensemble_test_accuracy =
        nn::compute_metrics(weighted_mean(lp, lw), data.test.labels, data.num_classes).accuracy;
  }

  // --- baseline: one model on all the training data ---
  if (o.central_baseline) {
    auto cs = spec_for(o.central_arch, data);
    if (!cs.ok()) return cs.status();
    tb::Trainer central(*cs, o.seed * 1000 + 999);
    const int epochs = o.central_epochs > 0 ? o.central_epochs : o.rounds * o.member.local_epochs;
    central.train_epochs(data.train, {}, epochs, o.member.train);
    const auto m = central.evaluate(data.test);
    rep.central_test_accuracy = m.accuracy;
    rep.central_test_auc = m.auc;
    rep.central_architecture = describe_spec(central.spec());
    say("central " + rep.central_architecture + ": test ACC " + std::to_string(m.accuracy));
  }
  rep.seconds = seconds_since(t0);
  return rep;
}

std::string ensemble_report_json(const EnsembleSimulationReport& r) {
  using nlohmann::json;
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j;
  j["dataset"] = r.dataset;
  j["reference"] = {{"size", r.reference_size}, {"hash", r.reference_hash}};
  j["members"] = json::array();
  for (const auto& m : r.members) {
    j["members"].push_back({{"architecture", m.architecture},
                            {"num_parameters", m.num_parameters},
                            {"class_counts", m.class_counts},
                            {"test_accuracy", num(m.test_accuracy)},
                            {"test_auc", num(m.test_auc)},
                            {"local_only_test_accuracy", num(m.local_test_accuracy)},
                            {"local_only_test_auc", num(m.local_test_auc)},
                            {"gain_over_local_only", num(m.test_accuracy - m.local_test_accuracy)},
                            {"weight", m.weight}});
  }
  j["rounds"] = json::array();
  for (const auto& row : r.rounds) {
    json jr{{"round", row.round},
            {"ensemble_val_accuracy", row.ensemble_val_accuracy},
            {"seconds", row.seconds},
            {"secagg_seconds", row.secagg_seconds},
            {"bytes_up", row.bytes_up},
            {"bytes_down", row.bytes_down},
            {"plaintext_bytes", row.plaintext_bytes}};
    jr["members"] = json::array();
    for (const auto& m : row.members) jr["members"].push_back({{"val_accuracy", m.val_accuracy}, {"weight", m.weight}});
    j["rounds"].push_back(jr);
  }
  j["ensemble"] = {{"test_accuracy", r.ensemble_test_accuracy}, {"test_auc", r.ensemble_test_auc}};
  j["local_only_ensemble_test_accuracy"] = num(r.local_ensemble_test_accuracy);
  j["central"] = {{"architecture", r.central_architecture},
                  {"test_accuracy", num(r.central_test_accuracy)},
                  {"test_auc", num(r.central_test_auc)}};
  j["ledger_verified"] = r.ledger_verified;
  j["seconds"] = r.seconds;
  return j.dump(2);
}

Status plot_ensemble_report(const EnsembleSimulationReport& r, const std::string& png) {
  std::vector<nn::Series> series;
  for (std::size_t i = 0; i < r.members.size(); ++i) {
    nn::Series s;
    s.label = "hospital " + std::to_string(i + 1) + " " + r.members[i].architecture.substr(0, r.members[i].architecture.find('('));
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
  return nn::plot_lines(png, "Ensemble FL on " + r.dataset + ": validation accuracy per round", "round",
                        "validation accuracy", series);
}

}  // namespace heal::apps::ensemble
