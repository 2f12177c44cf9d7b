// Segmentation datasets (see heal/io/segmentation.h).
#include "heal/io/segmentation.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "heal/core/bytes.h"

namespace fs = std::filesystem;

namespace heal::io {
namespace {

struct Pair {
  std::string id, image, mask;
};

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".dcm" || ext == ".nii" || ext == ".gz";
}

// Images of `images` paired by stem with `<masks>/<stem>.png`, sorted numerically when the stems
// are numbers (covid_seg's 0..49), else by name.
Result<std::vector<Pair>> pair_folder(const fs::path& images, const fs::path& masks) {
  std::error_code ec;
  std::vector<Pair> out;
  for (const auto& e : fs::directory_iterator(images, ec)) {
    if (!e.is_regular_file() || !is_image_file(e.path()) || e.path().filename().string()[0] == '.') continue;
    const std::string stem = e.path().stem().string();
    const fs::path m = masks / (stem + ".png");
    if (!fs::is_regular_file(m, ec)) return Status::corruption("image '" + e.path().string() + "' has no mask '" + m.string() + "'");
    out.push_back({stem, e.path().string(), m.string()});
  }
  if (ec) return Status::io_error("cannot list '" + images.string() + "': " + ec.message());
  auto key = [](const std::string& s) {
    const bool numeric = !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    return std::make_pair(numeric ? std::stol(s) : -1L, s);
  };
  std::sort(out.begin(), out.end(), [&](const Pair& a, const Pair& b) { return key(a.id) < key(b.id); });
  return out;
}

struct Layout {
  std::vector<Pair> train, val, test;
  int num_classes = 2;
  std::vector<std::string> class_names;
  std::string name;
};

Result<Layout> find_layout(const fs::path& root, bool multiclass) {
  std::error_code ec;
  Layout l;
  if (fs::is_directory(root / "TrainingSet", ec) && fs::is_directory(root / "TestingSet", ec)) {
    l.name = "covid_seg";
    if (multiclass) {
      l.num_classes = 3;
      l.class_names = {"background", "ground-glass opacity", "consolidation"};
      HEAL_ASSIGN_OR_RETURN(l.train, pair_folder(root / "TrainingSet/MultiClassInfection-Train/Imgs",
                                                 root / "TrainingSet/MultiClassInfection-Train/GT"));
      HEAL_ASSIGN_OR_RETURN(l.test, pair_folder(root / "TestingSet/MultiClassInfection-Test/Imgs",
                                                root / "TestingSet/MultiClassInfection-Test/GT"));
    } else {
      l.class_names = {"background", "infection"};
      HEAL_ASSIGN_OR_RETURN(l.train, pair_folder(root / "TrainingSet/LungInfection-Train/Doctor-label/Imgs",
                                                 root / "TrainingSet/LungInfection-Train/Doctor-label/GT"));
      HEAL_ASSIGN_OR_RETURN(l.test, pair_folder(root / "TestingSet/LungInfection-Test/Imgs",
                                                root / "TestingSet/LungInfection-Test/GT"));
    }
    return l;
  }
  if (fs::is_directory(root / "train" / "images", ec) && fs::is_directory(root / "train" / "masks", ec)) {
    l.name = root.filename().string();
    l.class_names = {"background", "foreground"};
    for (const char* split : {"train", "val", "test"}) {
      if (!fs::is_directory(root / split / "images", ec)) continue;
      auto pairs = pair_folder(root / split / "images", root / split / "masks");
      if (!pairs.ok()) return pairs.status();
      (std::string(split) == "train" ? l.train : std::string(split) == "val" ? l.val : l.test) = std::move(*pairs);
    }
    return l;
  }
  return Status::not_found("'" + root.string() +
                           "' is no segmentation dataset: expected covid_seg's TrainingSet/ and TestingSet/, or "
                           "<root>/train/{images,masks}");
}

Result<SegSample> load_pair(const Pair& p, int num_classes) {
  ImageOptions io;
  io.grayscale = true;
  auto img = load_image(p.image, io);
  if (!img.ok()) return Status(img.status().code(), "'" + p.image + "': " + img.status().message());
  SegSample s;
  s.id = p.id;
  s.image = std::move(*img);
  HEAL_ASSIGN_OR_RETURN(s.mask, load_mask(p.mask, s.image.width, s.image.height, num_classes));
  return s;
}

}  // namespace

std::size_t SegSample::foreground_pixels() const {
  return static_cast<std::size_t>(std::count_if(mask.begin(), mask.end(), [](std::uint8_t v) { return v != 0; }));
}

bool is_seg_dataset(const std::string& path) {
  std::error_code ec;
  const fs::path root(path);
  return (fs::is_directory(root / "TrainingSet", ec) && fs::is_directory(root / "TestingSet", ec)) ||
         (fs::is_directory(root / "train" / "images", ec) && fs::is_directory(root / "train" / "masks", ec));
}

Result<std::vector<std::uint8_t>> load_mask(const std::string& path, int width, int height, int num_classes) {
  auto bytes = read_file(path, std::size_t{1} << 28);
  if (!bytes.ok()) return bytes.status();
  auto lm = decode_png_labels(*bytes);
  if (!lm.ok()) return Status(lm.status().code(), "mask '" + path + "': " + lm.status().message());
  if (lm->width != width || lm->height != height) {
    return Status::corruption("mask '" + path + "' is " + std::to_string(lm->width) + "x" + std::to_string(lm->height) +
                              " but its image is " + std::to_string(width) + "x" + std::to_string(height));
  }
  std::vector<std::uint8_t> m(lm->labels.size());
  if (!lm->palette) {
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = lm->labels[i] > 127 ? 1 : 0;
  } else {
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (lm->labels[i] >= num_classes) {
        return Status::corruption("mask '" + path + "' has class index " + std::to_string(lm->labels[i]) + ", expected < " +
                                  std::to_string(num_classes));
      }
      m[i] = lm->labels[i];
    }
  }
  return m;
}

std::vector<std::uint8_t> resize_mask_nearest(const std::vector<std::uint8_t>& mask, int width, int height, int new_width,
                                              int new_height) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(new_width) * new_height);
  for (int y = 0; y < new_height; ++y) {
    const int sy = std::min(height - 1, static_cast<int>((y + 0.5) * height / new_height));
    for (int x = 0; x < new_width; ++x) {
      const int sx = std::min(width - 1, static_cast<int>((x + 0.5) * width / new_width));
      out[static_cast<std::size_t>(y) * new_width + x] = mask[static_cast<std::size_t>(sy) * width + sx];
    }
  }
  return out;
}

Result<SegDataset> load_seg_dataset(const std::string& path, const SegLoadOptions& opts) {
  HEAL_ASSIGN_OR_RETURN(Layout l, find_layout(fs::path(path), opts.multiclass));
  if (l.train.empty()) return Status::corruption("segmentation dataset '" + path + "' has no training images");
  if (opts.skip_test) l.test.clear();
  SegDataset ds;
  ds.name = l.name;
  ds.source = path;
  ds.num_classes = l.num_classes;
  ds.class_names = l.class_names;
  // Decode all pairs (train, val, test in order) with a small thread pool; the first error in file
  // order wins.
  std::vector<const Pair*> jobs;
  for (const auto* pairs : {&l.train, &l.val, &l.test}) {
    for (const Pair& p : *pairs) jobs.push_back(&p);
  }
  std::vector<Status> errors(jobs.size());
  std::vector<SegSample> decoded(jobs.size());
  std::atomic<std::size_t> next{0};
  const unsigned n_threads = std::min<unsigned>(static_cast<unsigned>(jobs.size()),
                                                opts.threads > 0 ? static_cast<unsigned>(opts.threads)
                                                                 : std::max(1u, std::thread::hardware_concurrency()));
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      auto s = load_pair(*jobs[i], ds.num_classes);
      if (s.ok()) decoded[i] = std::move(*s);
      else errors[i] = s.status();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const Status& s : errors) HEAL_RETURN_IF_ERROR(s);
  auto next_sample = decoded.begin();
  for (auto [dst, n] : {std::pair{&ds.train, l.train.size()}, std::pair{&ds.val, l.val.size()},
                        std::pair{&ds.test, l.test.size()}}) {
    dst->assign(std::make_move_iterator(next_sample), std::make_move_iterator(next_sample + static_cast<long>(n)));
    next_sample += static_cast<long>(n);
  }
  return ds;
}

}  // namespace heal::io
