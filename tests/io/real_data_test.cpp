// Acceptance numbers on the real MedMNIST files in ../shared/data (skipped when absent).
#include <gtest/gtest.h>

#include <algorithm>

#include "heal/io/dataset.h"
#include "heal/io/fetch.h"
#include "heal/io/partition.h"
#include "testing/shared_data.h"

namespace heal::io {
namespace {

void expect_split(const SplitData& s, std::size_t n, std::size_t c0, std::size_t c1) {
  EXPECT_EQ(s.size(), n);
  EXPECT_EQ(s.class_counts(2), (std::vector<std::size_t>{c0, c1}));
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.height, 28);
  EXPECT_EQ(s.width, 28);
  ASSERT_EQ(s.images.size(), n * 28 * 28);
  float lo = 1, hi = 0;
  for (float v : s.images) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, 0.0f);
  EXPECT_LE(hi, 1.0f);
  EXPECT_GT(hi, 0.5f);  // real images, not zeros
}

TEST(RealData, PneumoniaMnistCounts) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  auto ds = load_dataset(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->name, "pneumoniamnist");
  EXPECT_EQ(ds->num_classes, 2);
  expect_split(ds->train, 4708, 1214, 3494);
  expect_split(ds->val, 524, 135, 389);
  expect_split(ds->test, 624, 234, 390);
}

TEST(RealData, BreastMnistCounts) {
  HEAL_REQUIRE_SHARED_DATA(path, "breastmnist.npz");
  auto ds = load_medmnist_npz(path);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  expect_split(ds->train, 546, 147, 399);
  expect_split(ds->val, 78, 21, 57);
  expect_split(ds->test, 156, 42, 114);
}

TEST(RealData, PneumoniaDirichletPartitionOfThreeHospitals) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  auto ds = load_medmnist_npz(path);
  ASSERT_TRUE(ds.ok());
  PartitionSpec spec;
  ASSERT_TRUE(parse_partition_scheme("dirichlet:0.5", &spec).ok());
  spec.hospitals = 3;
  spec.seed = 1;
  auto a = partition(ds->train.labels, 2, spec);
  auto b = partition(ds->train.labels, 2, spec);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->hospitals, b->hospitals);
  const auto counts = partition_class_counts(*a, ds->train.labels, 2);
  std::size_t c0 = 0, c1 = 0;
  for (const auto& row : counts) {
    EXPECT_GE(row[0] + row[1], spec.min_per_hospital);
    c0 += row[0];
    c1 += row[1];
  }
  EXPECT_EQ(c0, 1214u);
  EXPECT_EQ(c1, 3494u);
  std::vector<char> seen(ds->train.size(), 0);  // disjoint and complete
  for (const auto& h : a->hospitals) {
    for (std::size_t i : h) {
      ASSERT_LT(i, seen.size());
      EXPECT_EQ(seen[i]++, 0) << "index " << i << " in two hospitals";
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(seen.size()));
  spec.seed = 2;
  auto c = partition(ds->train.labels, 2, spec);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->hospitals, c->hospitals);
  const SplitData h0 = subset(ds->train, a->hospitals[0]);
  EXPECT_EQ(h0.size(), a->hospitals[0].size());
  EXPECT_EQ(h0.labels[0], ds->train.labels[a->hospitals[0][0]]);
}

TEST(RealData, OfficialMd5sAndFetchOfPresentFile) {
  HEAL_REQUIRE_SHARED_DATA(path, "pneumoniamnist.npz");
  EXPECT_EQ(*md5_file(path), *medmnist_md5("pneumoniamnist"));
  auto breast = testing::shared_data_file("breastmnist.npz");
  if (breast) {
    EXPECT_EQ(*md5_file(*breast), *medmnist_md5("breastmnist"));
  }
  // A present file with the official MD5 is returned without any download.
  auto dir = testing::shared_data_dir();
  auto got = fetch_medmnist("pneumoniamnist", *dir);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, path);
  EXPECT_EQ(fetch_medmnist("../etc", *dir).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace heal::io
