#include "heal/io/partition.h"
#include "heal/io/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <numeric>
#include <set>

namespace heal::io {
namespace {

std::vector<int> make_labels(std::size_t n, int classes) {
  std::vector<int> l(n);
  for (std::size_t i = 0; i < n; ++i) l[i] = static_cast<int>((i * 7 + i / 3) % static_cast<std::size_t>(classes));
  return l;
}

void expect_valid(const Partition& p, std::size_t n, std::size_t min_each) {
  std::set<std::size_t> seen;
  std::size_t total = 0;
  for (const auto& h : p.hospitals) {
    EXPECT_GE(h.size(), min_each);
    EXPECT_TRUE(std::is_sorted(h.begin(), h.end()));
    total += h.size();
    seen.insert(h.begin(), h.end());
  }
  EXPECT_EQ(total, n);        // disjoint (no index twice) ...
  EXPECT_EQ(seen.size(), n);  // ... and the union is everything
  EXPECT_EQ(*seen.rbegin(), n - 1);
}

TEST(Partition, GammaMomentsMatchTheory) {
  SeededRng rng(seed_from_u64(11));
  for (double k : {0.3, 1.0, 2.5, 7.0}) {
    const int n = 20000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = sample_gamma(rng, k);
      ASSERT_TRUE(x >= 0 && std::isfinite(x));
      s += x;
      s2 += x * x;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, k, 4 * std::sqrt(k / n)) << "shape " << k;  // Gamma(k,1): mean k, variance k
    EXPECT_NEAR(var, k, 0.12 * k) << "shape " << k;
  }
  EXPECT_THROW(sample_gamma(rng, 0.0), std::invalid_argument);
}

TEST(Partition, DirichletIsADistributionEvenForTinyAlpha) {
  SeededRng rng(seed_from_u64(3));
  for (double a : {0.001, 0.5, 50.0}) {
    const auto p = sample_dirichlet(rng, a, 6);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-12);
    for (double x : p) EXPECT_TRUE(x >= 0 && x <= 1);
  }
}

TEST(Partition, DirichletReproducibleDisjointComplete) {
  const auto labels = make_labels(1000, 3);
  PartitionSpec spec;
  spec.scheme = PartitionScheme::kDirichlet;
  spec.alpha = 0.5;
  spec.hospitals = 3;
  spec.seed = 42;
  auto a = partition(labels, 3, spec);
  auto b = partition(labels, 3, spec);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  expect_valid(*a, labels.size(), spec.min_per_hospital);
  EXPECT_EQ(a->hospitals, b->hospitals);  // same seed -> same partition
  spec.seed = 43;
  auto c = partition(labels, 3, spec);
  ASSERT_TRUE(c.ok());
  expect_valid(*c, labels.size(), spec.min_per_hospital);
  EXPECT_NE(a->hospitals, c->hospitals);  // different seed -> different partition
}

// Mean total-variation distance between each hospital's class mix and the global mix.
double label_skew(const Partition& p, const std::vector<int>& labels, int nc) {
  const auto counts = partition_class_counts(p, labels, nc);
  std::vector<double> global(static_cast<std::size_t>(nc), 0.0);
  for (int l : labels) global[static_cast<std::size_t>(l)] += 1.0 / static_cast<double>(labels.size());
  double tv = 0;
  for (const auto& row : counts) {
    const double t = static_cast<double>(std::accumulate(row.begin(), row.end(), std::size_t{0}));
    for (std::size_t c = 0; c < global.size(); ++c) tv += 0.5 * std::abs(static_cast<double>(row[c]) / t - global[c]);
  }
  return tv / static_cast<double>(counts.size());
}

TEST(Partition, SmallAlphaSkewsLabelsLargeAlphaDoesNot) {
  const auto labels = make_labels(3000, 4);  // class mix 1/3, 1/6, 1/3, 1/6
  PartitionSpec spec;
  spec.scheme = PartitionScheme::kDirichlet;
  spec.hospitals = 5;
  spec.seed = 7;
  spec.alpha = 0.1;
  const double skewed = label_skew(*partition(labels, 4, spec), labels, 4);
  spec.alpha = 1000.0;
  const double flat = label_skew(*partition(labels, 4, spec), labels, 4);
  EXPECT_GT(skewed, 0.3);
  EXPECT_LT(flat, 0.05);
}

TEST(Partition, MinimumPerHospitalIsGuaranteed) {
  const auto labels = make_labels(400, 2);
  PartitionSpec spec;
  spec.scheme = PartitionScheme::kDirichlet;
  spec.alpha = 0.01;  // almost every class goes to one hospital
  spec.hospitals = 10;
  spec.min_per_hospital = 25;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    spec.seed = seed;
    auto p = partition(labels, 2, spec);
    ASSERT_TRUE(p.ok());
    expect_valid(*p, labels.size(), 25);
  }
  spec.min_per_hospital = 41;  // 10 * 41 > 400
  EXPECT_EQ(partition(labels, 2, spec).status().code(), StatusCode::kInvalidArgument);
}

TEST(Partition, IidAndQuantity) {
  const auto labels = make_labels(1001, 2);
  PartitionSpec spec;
  spec.hospitals = 4;
  auto iid = partition(labels, 2, spec);
  ASSERT_TRUE(iid.ok());
  expect_valid(*iid, labels.size(), 0);
  for (const auto& h : iid->hospitals) EXPECT_TRUE(h.size() == 250 || h.size() == 251);
  spec.scheme = PartitionScheme::kQuantity;
  spec.alpha = 0.3;
  spec.min_per_hospital = 30;
  auto q = partition(labels, 2, spec);
  ASSERT_TRUE(q.ok());
  expect_valid(*q, labels.size(), 30);
  std::vector<std::size_t> sizes;
  for (const auto& h : q->hospitals) sizes.push_back(h.size());
  EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 2 * *std::min_element(sizes.begin(), sizes.end()));
  EXPECT_EQ(partition({0, 5}, 2, spec).status().code(), StatusCode::kInvalidArgument);  // label out of range
}

TEST(Partition, ParseSchemeAndFormat) {
  PartitionSpec s;
  ASSERT_TRUE(parse_partition_scheme("dirichlet:0.5", &s).ok());
  EXPECT_EQ(s.scheme, PartitionScheme::kDirichlet);
  EXPECT_EQ(s.alpha, 0.5);
  EXPECT_EQ(partition_scheme_name(s), "dirichlet:0.5");
  ASSERT_TRUE(parse_partition_scheme("quantity:2", &s).ok());
  EXPECT_EQ(s.scheme, PartitionScheme::kQuantity);
  ASSERT_TRUE(parse_partition_scheme("iid", &s).ok());
  for (const char* bad : {"dirichlet", "dirichlet:", "dirichlet:-1", "dirichlet:0", "dirichlet:1x", "pareto:1", ""}) {
    EXPECT_FALSE(parse_partition_scheme(bad, &s).ok()) << bad;
  }
  const std::vector<std::vector<std::size_t>> counts = {{5, 1}, {0, 4}};
  const std::string table = format_partition_table(counts, {"neg", "pos"});
  EXPECT_NE(table.find("neg"), std::string::npos);
  EXPECT_NE(table.find("total"), std::string::npos);
  EXPECT_NE(table.find("60.0%"), std::string::npos);
  const std::string json = format_partition_json(counts);
  EXPECT_NE(json.find("\"class_counts\""), std::string::npos);
  EXPECT_NE(json.find("\"total\""), std::string::npos);
}

}  // namespace
}  // namespace heal::io

namespace heal::io {
namespace {

// Cross-validation folds: stratified, disjoint, covering; with patient groups no patient straddles
// two folds (or the inner hold-out), and singleton groups give exactly the ungrouped folds.
TEST(CvFolds, GroupedFoldsKeepPatientsTogetherAndStayStratified) {
  std::vector<int> labels;
  std::vector<std::string> groups;
  for (int p = 0; p < 60; ++p) {  // 60 patients with 1..5 images each, class by patient
    for (int j = 0; j <= p % 5; ++j) {
      labels.push_back(p % 3 == 0 ? 1 : 0);
      groups.push_back("patient " + std::to_string(p));
    }
  }
  const double overall = static_cast<double>(std::count(labels.begin(), labels.end(), 1)) / static_cast<double>(labels.size());
  SeededRng rng(seed_from_u64(7), 1);
  const auto folds = cv_folds(labels, groups, 2, 5, rng);
  ASSERT_EQ(folds.size(), 5u);
  std::map<std::string, std::set<std::size_t>> fold_of;
  std::vector<int> seen(labels.size(), 0);
  for (std::size_t f = 0; f < 5; ++f) {
    std::size_t pos = 0;
    for (auto i : folds[f]) {
      ++seen[i];
      fold_of[groups[i]].insert(f);
      pos += labels[i] == 1 ? 1 : 0;
    }
    const double frac = static_cast<double>(pos) / static_cast<double>(folds[f].size());
    EXPECT_NEAR(frac, overall, 0.08) << "fold " << f << " is not stratified";
    EXPECT_TRUE(std::is_sorted(folds[f].begin(), folds[f].end()));  // grouped folds are sorted
  }
  for (int v : seen) ASSERT_EQ(v, 1) << "folds must partition the images";
  for (const auto& [g, fs] : fold_of) EXPECT_EQ(fs.size(), 1u) << g << " straddles folds";
  // Negative control: the ungrouped folds split patients.
  SeededRng r2(seed_from_u64(7), 1);
  const auto plain = cv_folds(labels, {}, 2, 5, r2);
  std::map<std::string, std::set<std::size_t>> plain_of;
  for (std::size_t f = 0; f < 5; ++f) {
    for (auto i : plain[f]) plain_of[groups[i]].insert(f);
  }
  std::size_t split_patients = 0;
  for (const auto& [g, fs] : plain_of) split_patients += fs.size() > 1 ? 1 : 0;
  EXPECT_GT(split_patients, 10u);
  // Singleton groups: identical to no groups.
  std::vector<std::string> single;
  for (std::size_t i = 0; i < labels.size(); ++i) single.push_back(std::to_string(i));
  SeededRng r3(seed_from_u64(7), 1);
  EXPECT_EQ(cv_folds(labels, single, 2, 5, r3), plain);
  // The inner hold-out is grouped too and about the asked size.
  std::vector<std::size_t> tr;
  for (std::size_t f = 1; f < 5; ++f) tr.insert(tr.end(), folds[f].begin(), folds[f].end());
  SeededRng r4(seed_from_u64(7), 2);
  const auto [keep, held] = holdout_split(labels, groups, tr, 2, 0.125, r4);
  EXPECT_EQ(keep.size() + held.size(), tr.size());
  EXPECT_NEAR(static_cast<double>(held.size()), 0.125 * static_cast<double>(tr.size()), 6.0);
  std::set<std::string> kg, hg;
  for (auto i : keep) kg.insert(groups[i]);
  for (auto i : held) hg.insert(groups[i]);
  for (const auto& g : hg) EXPECT_FALSE(kg.contains(g)) << g << " is in both parts";
  EXPECT_THROW(cv_folds(labels, {"a"}, 2, 5, rng), std::invalid_argument);
  EXPECT_THROW(cv_folds(labels, groups, 2, 1, rng), std::invalid_argument);
}

TEST(PatientCsv, ParsesQuotedFieldsAndRejectsMalformedFiles) {
  const std::string ok =
      "File name,Patient ID,Caption\n"
      "a.png,Patient 1,\"Figure 1, a \"\"quoted\"\" word\nover two lines\"\r\n"
      "b.png, Patient 2 ,x\n"
      "\n"
      "a.png,Patient 1,again\n";
  auto m = parse_patient_csv(ok, "file name", "PATIENT ID");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at("a.png"), "Patient 1");
  EXPECT_EQ(m->at("b.png"), "Patient 2");
  // The NonCOVID layout: an unnamed index column first.
  auto n = parse_patient_csv(",image name,patient id\n0,0.jpg,crawled_patient_0\n1,1%0.jpg,crawled_patient_1", "image name",
                             "patient id");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->at("1%0.jpg"), "crawled_patient_1");
  for (const char* bad : {"File name,Patient ID\na.png,\"unterminated\n", "File name,Other\na.png,1\n",
                          "File name,Patient ID\na.png,1\na.png,2\n", "File name,Patient ID\na.png\n",
                          "File name,Patient ID\n,1\n", "File name,Patient ID\n\"a.png\"x,1\n", ""}) {
    EXPECT_FALSE(parse_patient_csv(bad, "File name", "Patient ID").ok()) << bad;
  }
  EXPECT_FALSE(parse_patient_csv(std::string((1u << 20) + 1, 'a'), "a", "b").ok());
}

}  // namespace
}  // namespace heal::io
