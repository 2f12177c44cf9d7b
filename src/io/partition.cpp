// Hospital partitioning (IID, Dirichlet label skew, quantity skew) with a seeded Gamma sampler.
#include "heal/io/partition.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <string_view>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "heal/core/check.h"

namespace heal::io {
namespace {

constexpr std::uint64_t kPartitionStream = 0x706172746974696fULL;  // "partitio": domain separation

double standard_normal(Rng& rng) {  // Box-Muller
  const double u1 = 1.0 - rng.uniform_double();  // (0, 1]
  const double u2 = rng.uniform_double();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// log of a Gamma(shape, 1) variate; log space keeps tiny shapes (alpha = 0.01) from underflowing.
double log_gamma_variate(Rng& rng, double shape) {
  if (shape < 1.0) {
    const double u = 1.0 - rng.uniform_double();  // (0, 1]
    return log_gamma_variate(rng, shape + 1.0) + std::log(u) / shape;
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = standard_normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - rng.uniform_double();
    if (u < 1.0 - 0.0331 * x * x * x * x) return std::log(d * v);
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return std::log(d * v);
  }
}

// n split by proportions p (summing to 1) with largest-remainder rounding; sums exactly to n.
std::vector<std::size_t> apportion(std::size_t n, const std::vector<double>& p) {
  std::vector<std::size_t> out(p.size());
  std::vector<std::pair<double, std::size_t>> rem;
  std::size_t used = 0;
  for (std::size_t h = 0; h < p.size(); ++h) {
    const double exact = static_cast<double>(n) * p[h];
    out[h] = std::min(n, static_cast<std::size_t>(std::floor(exact)));
    used += out[h];
    rem.emplace_back(exact - std::floor(exact), h);
  }
  std::stable_sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; used < n; k = (k + 1) % rem.size(), ++used) ++out[rem[k].second];
  while (used > n) {  // only from floating-point excess; take from the largest
    --*std::max_element(out.begin(), out.end());
    --used;
  }
  return out;
}

}  // namespace

double sample_gamma(Rng& rng, double shape) {
  HEAL_REQUIRE(shape > 0.0 && std::isfinite(shape), "sample_gamma: shape must be positive, got " << shape);
  return std::exp(log_gamma_variate(rng, shape));
}

std::vector<double> sample_dirichlet(Rng& rng, double alpha, int k) {
  HEAL_REQUIRE(alpha > 0.0 && std::isfinite(alpha) && k >= 1, "sample_dirichlet: need alpha > 0 and k >= 1");
  std::vector<double> lg(static_cast<std::size_t>(k));
  for (double& x : lg) x = log_gamma_variate(rng, alpha);
  const double mx = *std::max_element(lg.begin(), lg.end());
  double sum = 0.0;
  for (double& x : lg) sum += (x = std::exp(x - mx));  // the largest term is exactly 1, so sum >= 1
  for (double& x : lg) x /= sum;
  return lg;
}

Status parse_partition_scheme(const std::string& text, PartitionSpec* spec) {
  if (text == "iid") {
    spec->scheme = PartitionScheme::kIid;
    return {};
  }
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  if ((kind != "dirichlet" && kind != "quantity") || colon == std::string::npos) {
    return Status::invalid_argument("partition scheme '" + text + "': expected iid, dirichlet:ALPHA or quantity:ALPHA");
  }
  double alpha = 0.0;
  try {
    std::size_t used = 0;
    alpha = std::stod(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return Status::invalid_argument("partition scheme '" + text + "': ALPHA is not a number");
  }
  if (!(alpha > 0.0) || !std::isfinite(alpha)) return Status::invalid_argument("partition ALPHA must be > 0");
  spec->scheme = kind == "dirichlet" ? PartitionScheme::kDirichlet : PartitionScheme::kQuantity;
  spec->alpha = alpha;
  return {};
}

std::string partition_scheme_name(const PartitionSpec& spec) {
  if (spec.scheme == PartitionScheme::kIid) return "iid";
  std::ostringstream os;
  os << (spec.scheme == PartitionScheme::kDirichlet ? "dirichlet:" : "quantity:") << spec.alpha;
  return os.str();
}

Result<Partition> partition(const std::vector<int>& labels, int num_classes, const PartitionSpec& spec) {
  const std::size_t n = labels.size();
  const int k = spec.hospitals;
  if (k < 1) return Status::invalid_argument("need at least one hospital");
  if (spec.scheme != PartitionScheme::kIid && !(spec.alpha > 0.0 && std::isfinite(spec.alpha))) {
    return Status::invalid_argument("Dirichlet alpha must be > 0");
  }
  const auto ku = static_cast<std::size_t>(k);
  if (n < ku * spec.min_per_hospital) {
    return Status::invalid_argument(std::to_string(n) + " samples cannot give " + std::to_string(k) +
                                    " hospitals at least " + std::to_string(spec.min_per_hospital) + " each");
  }
  for (int l : labels) {
    if (l < 0 || l >= num_classes) return Status::invalid_argument("label " + std::to_string(l) + " outside [0, num_classes)");
  }
  SeededRng rng(seed_from_u64(spec.seed), kPartitionStream);
  Partition part;
  part.hospitals.resize(ku);
  if (spec.scheme == PartitionScheme::kIid || spec.scheme == PartitionScheme::kQuantity) {
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    shuffle(std::span(all), rng);
    std::vector<std::size_t> sizes(ku, n / ku);
    for (std::size_t h = 0; h < n % ku; ++h) ++sizes[h];
    if (spec.scheme == PartitionScheme::kQuantity) {
      const auto q = sample_dirichlet(rng, spec.alpha, k);
      sizes = apportion(n - ku * spec.min_per_hospital, q);
      for (auto& s : sizes) s += spec.min_per_hospital;
    }
    std::size_t pos = 0;
    for (std::size_t h = 0; h < ku; ++h) {
      part.hospitals[h].assign(all.begin() + static_cast<std::ptrdiff_t>(pos),
                               all.begin() + static_cast<std::ptrdiff_t>(pos + sizes[h]));
      pos += sizes[h];
    }
  } else {
    std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(num_classes));
    for (std::size_t i = 0; i < n; ++i) by_class[static_cast<std::size_t>(labels[i])].push_back(i);
    for (auto& idx : by_class) {
      shuffle(std::span(idx), rng);
      const auto counts = apportion(idx.size(), sample_dirichlet(rng, spec.alpha, k));
      std::size_t pos = 0;
      for (std::size_t h = 0; h < ku; ++h) {
        part.hospitals[h].insert(part.hospitals[h].end(), idx.begin() + static_cast<std::ptrdiff_t>(pos),
                                 idx.begin() + static_cast<std::ptrdiff_t>(pos + counts[h]));
        pos += counts[h];
      }
    }
    // Minimum guarantee: top up small hospitals from the currently largest one.
    for (std::size_t h = 0; h < ku; ++h) {
      while (part.hospitals[h].size() < spec.min_per_hospital) {
        auto donor = std::max_element(part.hospitals.begin(), part.hospitals.end(),
                                      [](const auto& a, const auto& b) { return a.size() < b.size(); });
        HEAL_DCHECK(donor->size() > spec.min_per_hospital);
        const std::size_t j = rng.uniform(donor->size());
        part.hospitals[h].push_back((*donor)[j]);
        (*donor)[j] = donor->back();
        donor->pop_back();
      }
    }
  }
  for (auto& hv : part.hospitals) std::sort(hv.begin(), hv.end());
  return part;
}

std::vector<std::vector<std::size_t>> partition_class_counts(const Partition& p, const std::vector<int>& labels,
                                                             int num_classes) {
  std::vector<std::vector<std::size_t>> c(p.hospitals.size(), std::vector<std::size_t>(static_cast<std::size_t>(num_classes)));
  for (std::size_t h = 0; h < p.hospitals.size(); ++h) {
    for (std::size_t i : p.hospitals[h]) {
      HEAL_REQUIRE(i < labels.size(), "partition index " << i << " outside labels");
      ++c[h][static_cast<std::size_t>(labels[i])];
    }
  }
  return c;
}

std::string format_partition_table(const std::vector<std::vector<std::size_t>>& counts,
                                   const std::vector<std::string>& class_names) {
  const std::size_t nc = counts.empty() ? 0 : counts[0].size();
  std::vector<std::string> head;
  for (std::size_t c = 0; c < nc; ++c) head.push_back(c < class_names.size() ? class_names[c] : "class " + std::to_string(c));
  std::vector<std::size_t> col_total(nc, 0);
  std::size_t grand = 0;
  for (const auto& row : counts) {
    for (std::size_t c = 0; c < nc; ++c) col_total[c] += row[c];
    grand += std::accumulate(row.begin(), row.end(), std::size_t{0});
  }
  std::ostringstream os;
  auto cell = [&](const std::string& s, std::size_t w) { os << std::setw(static_cast<int>(w)) << s << "  "; };
  std::vector<std::size_t> width(nc);
  for (std::size_t c = 0; c < nc; ++c) width[c] = std::max<std::size_t>(head[c].size(), 7);
  cell("hospital", 8);
  for (std::size_t c = 0; c < nc; ++c) cell(head[c], width[c]);
  cell("total", 7);
  os << "share\n";
  auto row_out = [&](const std::string& name, const std::vector<std::size_t>& row) {
    const std::size_t t = std::accumulate(row.begin(), row.end(), std::size_t{0});
    cell(name, 8);
    for (std::size_t c = 0; c < nc; ++c) cell(std::to_string(row[c]), width[c]);
    cell(std::to_string(t), 7);
    os << std::fixed << std::setprecision(1) << (grand ? 100.0 * static_cast<double>(t) / static_cast<double>(grand) : 0.0)
       << "%\n";
  };
  for (std::size_t h = 0; h < counts.size(); ++h) row_out(std::to_string(h), counts[h]);
  row_out("total", col_total);
  return os.str();
}

std::string format_partition_json(const std::vector<std::vector<std::size_t>>& counts) {
  nlohmann::json j;
  j["hospitals"] = nlohmann::json::array();
  std::vector<std::size_t> total(counts.empty() ? 0 : counts[0].size(), 0);
  for (std::size_t h = 0; h < counts.size(); ++h) {
    const std::size_t t = std::accumulate(counts[h].begin(), counts[h].end(), std::size_t{0});
    j["hospitals"].push_back({{"id", h}, {"total", t}, {"class_counts", counts[h]}});
    for (std::size_t c = 0; c < total.size(); ++c) total[c] += counts[h][c];
  }
  j["total"] = total;
  return j.dump(2);
}

namespace {

// Index lists of the groups among `from` (in first-seen order), with each group's class.
struct GroupList {
  std::vector<std::vector<std::size_t>> members;
  std::vector<int> label;
};

GroupList collect_groups(const std::vector<int>& labels, const std::vector<std::string>& groups,
                         std::span<const std::size_t> from, int num_classes) {
  GroupList g;
  std::map<std::string, std::size_t> id;
  for (auto i : from) {
    const auto [it, fresh] = id.emplace(groups[i], g.members.size());
    if (fresh) g.members.emplace_back();
    g.members[it->second].push_back(i);
  }
  for (const auto& m : g.members) {
    std::vector<std::size_t> cnt(static_cast<std::size_t>(num_classes), 0);
    for (auto i : m) ++cnt[static_cast<std::size_t>(labels[i])];
    g.label.push_back(static_cast<int>(std::max_element(cnt.begin(), cnt.end()) - cnt.begin()));
  }
  return g;
}

// The images of class c among `from`, in an order shuffled by rng.
std::vector<std::size_t> shuffled_class(const std::vector<int>& labels, std::span<const std::size_t> from, int c, Rng& rng) {
  std::vector<std::size_t> idx;
  for (auto i : from) {
    if (labels[i] == c) idx.push_back(i);
  }
  shuffle(std::span(idx), rng);
  return idx;
}

void check_cv_inputs(const std::vector<int>& labels, const std::vector<std::string>& groups, int num_classes) {
  if (!groups.empty() && groups.size() != labels.size()) {
    throw std::invalid_argument("cross-validation: " + std::to_string(groups.size()) + " groups for " +
                                std::to_string(labels.size()) + " images");
  }
  for (int l : labels) {
    if (l < 0 || l >= num_classes) throw std::invalid_argument("cross-validation: label outside the classes");
  }
}

}  // namespace

std::size_t count_groups(const std::vector<std::string>& groups) {
  return std::set<std::string_view>(groups.begin(), groups.end()).size();
}

std::vector<std::vector<std::size_t>> cv_folds(const std::vector<int>& labels, const std::vector<std::string>& groups,
                                               int num_classes, std::size_t k, Rng& rng) {
  if (k < 2) throw std::invalid_argument("cross-validation needs at least 2 folds");
  check_cv_inputs(labels, groups, num_classes);
  std::vector<std::vector<std::size_t>> folds(k);
  std::vector<std::size_t> all(labels.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  const GroupList g = groups.empty() ? GroupList{} : collect_groups(labels, groups, all, num_classes);
  if (groups.empty() || g.members.size() == labels.size()) {  // no patient with two images
    for (int c = 0; c < num_classes; ++c) {
      const auto idx = shuffled_class(labels, all, c, rng);
      for (std::size_t i = 0; i < idx.size(); ++i) folds[i % k].push_back(idx[i]);
    }
  } else {
    for (int c = 0; c < num_classes; ++c) {
      std::vector<std::size_t> order;
      for (std::size_t j = 0; j < g.members.size(); ++j) {
        if (g.label[j] == c) order.push_back(j);
      }
      shuffle(std::span(order), rng);
      std::vector<std::size_t> filled(k, 0);
      for (auto j : order) {
        const auto f = static_cast<std::size_t>(std::min_element(filled.begin(), filled.end()) - filled.begin());
        for (auto i : g.members[j]) {
          folds[f].push_back(i);
          filled[f] += labels[i] == c ? 1 : 0;
        }
      }
    }
    for (auto& f : folds) std::sort(f.begin(), f.end());
  }
  return folds;
}

std::pair<std::vector<std::size_t>, std::vector<std::size_t>> holdout_split(const std::vector<int>& labels,
                                                                            const std::vector<std::string>& groups,
                                                                            std::span<const std::size_t> from,
                                                                            int num_classes, double fraction, Rng& rng) {
  if (!(fraction >= 0.0 && fraction < 1.0)) throw std::invalid_argument("holdout_split: fraction outside [0, 1)");
  check_cv_inputs(labels, groups, num_classes);
  std::vector<std::size_t> keep, held;
  const GroupList g = groups.empty() ? GroupList{} : collect_groups(labels, groups, from, num_classes);
  if (groups.empty() || g.members.size() == from.size()) {  // no patient with two images
    for (int c = 0; c < num_classes; ++c) {
      const auto idx = shuffled_class(labels, from, c, rng);
      const auto cut = idx.begin() + std::llround(fraction * static_cast<double>(idx.size()));
      held.insert(held.end(), idx.begin(), cut);
      keep.insert(keep.end(), cut, idx.end());
    }
  } else {
    for (int c = 0; c < num_classes; ++c) {
      std::vector<std::size_t> order;
      std::size_t n = 0;
      for (std::size_t j = 0; j < g.members.size(); ++j) {
        if (g.label[j] != c) continue;
        order.push_back(j);
        for (auto i : g.members[j]) n += labels[i] == c ? 1 : 0;
      }
      shuffle(std::span(order), rng);
      const auto want = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
      std::size_t got = 0;
      for (auto j : order) {
        auto& dst = got < want ? held : keep;
        for (auto i : g.members[j]) {
          dst.push_back(i);
          if (&dst == &held) got += labels[i] == c ? 1 : 0;
        }
      }
    }
  }
  std::sort(keep.begin(), keep.end());
  std::sort(held.begin(), held.end());
  return {keep, held};
}

}  // namespace heal::io
