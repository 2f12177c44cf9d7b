// Writes a small synthetic MedMNIST-style `.npz` (uint8 28x28 grey images, int64 labels (N, 1),
// train / val / test) with NUM_CLASSES classes, for CLI checks of multi-class tasks (the shared
// real datasets are binary). Class k: a uniform grey level 255 (k + 0.5) / NUM_CLASSES plus
// vertical stripes of period k + 2 and noise (SeededRng, fixed seed: the file is the same on every
// run). Per class: 40 train, 10 val and 20 test images, in class order.
// Usage: heal_make_test_dataset OUT.npz NUM_CLASSES
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "heal/core/rng.h"
#include "heal/io/npy.h"

int main(int argc, char** argv) {
  const int classes = argc == 3 ? std::atoi(argv[2]) : 0;
  if (argc != 3 || classes < 2 || classes > 20) {
    std::cerr << "usage: heal_make_test_dataset OUT.npz NUM_CLASSES (2..20)\n";
    return 2;
  }
  heal::SeededRng rng(heal::seed_from_u64(20261205));
  heal::io::NpzWriter npz;
  const std::uint64_t side = 28;
  for (const auto& [split, per_class] : {std::pair{"train", 40}, {"val", 10}, {"test", 20}}) {
    std::vector<std::uint8_t> images;
    std::vector<std::int64_t> labels;
    for (int k = 0; k < classes; ++k) {
      for (int i = 0; i < per_class; ++i) {
        const double level = 255.0 * (k + 0.5) / classes;
        for (std::uint64_t y = 0; y < side; ++y) {
          for (std::uint64_t x = 0; x < side; ++x) {
            const double stripe = (x / static_cast<std::uint64_t>(k + 2)) % 2 == 0 ? 12.0 : -12.0;
            const double noise = 40.0 * (rng.uniform_double() - 0.5);
            images.push_back(static_cast<std::uint8_t>(std::clamp(level + stripe + noise, 0.0, 255.0)));
          }
        }
        labels.push_back(k);
      }
    }
    const auto n = static_cast<std::uint64_t>(labels.size());
    for (const heal::Status& st : {npz.add(std::string(split) + "_images", images, {n, side, side}),
                                   npz.add(std::string(split) + "_labels", labels, {n, 1})}) {
      if (!st.ok()) {
        std::cerr << "error: " << st.to_string() << "\n";
        return 1;
      }
    }
  }
  if (const heal::Status st = npz.write(argv[1]); !st.ok()) {
    std::cerr << "error: " << st.to_string() << "\n";
    return 1;
  }
  return 0;
}
