// COVID-CT (746 real PNG/JPG slices) with its official split; and a MedMNIST download attempt.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "heal/io/dataset.h"
#include "heal/io/fetch.h"
#include "io/io_test_util.h"
#include "testing/shared_data.h"

namespace heal::io {
namespace {

TEST(RealDataSlow, CovidCtOfficialSplit) {
  HEAL_REQUIRE_SHARED_DATA(path, "covid_ct");
  for (int size : {64, 128}) {
    LoadOptions opts;
    opts.resize_to = size;
    const auto t0 = std::chrono::steady_clock::now();
    auto ds = load_dataset(path, opts);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(ds.ok()) << ds.status().to_string();
    std::printf("COVID-CT at %dx%d loaded in %.2f s\n", size, size, sec);
    EXPECT_EQ(ds->class_names, (std::vector<std::string>{"NonCOVID", "COVID"}));
    EXPECT_EQ(ds->train.size(), 425u);
    EXPECT_EQ(ds->val.size(), 118u);
    EXPECT_EQ(ds->test.size(), 203u);
    EXPECT_EQ(ds->train.class_counts(2), (std::vector<std::size_t>{234, 191}));
    EXPECT_EQ(ds->val.class_counts(2), (std::vector<std::size_t>{58, 60}));
    EXPECT_EQ(ds->test.class_counts(2), (std::vector<std::size_t>{105, 98}));
    EXPECT_EQ(ds->train.width, size);
    EXPECT_EQ(ds->train.channels, 1);
    for (float v : ds->test.images) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
    // Patients from the metadata CSVs: 213 COVID and 171 non-COVID patients (data README), each in
    // one official split only.
    std::map<std::string, std::set<std::string>> splits_of;
    for (Split sp : {Split::kTrain, Split::kVal, Split::kTest}) {
      const SplitData& d = ds->split(sp);
      ASSERT_EQ(d.groups.size(), d.size());
      for (const auto& g : d.groups) splits_of[g].insert(split_name(sp));
    }
    std::size_t covid = 0, straddle = 0;
    for (const auto& [g, s] : splits_of) {
      covid += g.starts_with("COVID/") ? 1 : 0;
      straddle += s.size() > 1 ? 1 : 0;
      ASSERT_TRUE(g.starts_with("COVID/") || g.starts_with("NonCOVID/")) << g << " has no patient from the metadata";
    }
    EXPECT_EQ(covid, 213u);
    EXPECT_EQ(splits_of.size() - covid, 171u);
    EXPECT_EQ(straddle, 0u);
  }
}

TEST(RealDataSlow, FetchDownloadsOrExplainsOffline) {
  testing::TempDir dir;
  auto r = fetch_medmnist("breastmnist", dir.path().string());
  if (r.ok()) {  // online: the file is there and has the official MD5
    EXPECT_EQ(*md5_file(*r), *medmnist_md5("breastmnist"));
  } else {  // offline: a clear message saying where to put the file and how to point HEAL at it
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(dir.file("breastmnist.npz")), std::string::npos) << m;
    EXPECT_NE(m.find("HEAL_DATA"), std::string::npos) << m;
    EXPECT_NE(m.find("--data"), std::string::npos) << m;
    EXPECT_FALSE(std::filesystem::exists(dir.file("breastmnist.npz.part")));
  }
}

}  // namespace
}  // namespace heal::io
