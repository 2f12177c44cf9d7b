// Fixtures shared by the apps tests: a temporary directory and a synthetic features archive.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "heal/core/rng.h"
#include "heal/io/npy.h"
#include "testing/temp_dir.h"

namespace heal::apps::he_train {

namespace fs = std::filesystem;

// A per-test temporary directory (tests/testing/temp_dir.h).
struct TempDir : ::heal::testing::TempDir {
  TempDir() : ::heal::testing::TempDir("heal-apps-test") {}
};

// Features of a linearly separable problem with a margin (label 1 iff w* . x > 0), split three ways.
inline void write_features(const std::string& path, std::size_t d, std::size_t n_train, std::size_t n_val, std::size_t n_test,
                    bool break_labels = false) {
  SeededRng rng(seed_from_u64(31));
  io::NpzWriter w;
  auto split = [&](const std::string& name, std::size_t n) {
    std::vector<float> x(n * d);
    std::vector<std::int64_t> y(n);
    for (std::size_t i = 0; i < n; ++i) {
      double m = 0;
      for (std::size_t j = 0; j < d; ++j) {
        x[i * d + j] = static_cast<float>(4 * rng.uniform_double() - 2 + 3.0 * static_cast<double>(j));  // offset: normalised
        m += (x[i * d + j] - 3.0 * static_cast<double>(j)) * (j % 2 == 0 ? 1.0 : -0.7);
      }
      y[i] = m > 0 ? 1 : 0;
    }
    if (break_labels && name == "train") y[0] = 2;
    ASSERT_TRUE(w.add(name + "_x", std::span<const float>(x), {n, d}).ok());
    ASSERT_TRUE(w.add(name + "_y", std::span<const std::int64_t>(y), {n}).ok());
  };
  split("train", n_train);
  split("val", n_val);
  split("test", n_test);
  ASSERT_TRUE(w.write(path).ok());
}


}  // namespace heal::apps::he_train
