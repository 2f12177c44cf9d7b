// MedMNIST `.npz`: {train,val,test}_{images,labels}.npy -> Dataset.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "heal/io/dataset.h"
#include "heal/io/npy.h"

namespace heal::io {
namespace {

constexpr int kMaxClasses = 1000;

// Class names of the MedMNIST sets whose label meaning is documented in shared/data/README.md.
std::vector<std::string> known_class_names(const std::string& name) {
  if (name == "pneumoniamnist") return {"normal", "pneumonia"};
  if (name == "breastmnist") return {"malignant", "normal/benign"};
  return {};
}

// Maps array values to [0, 1]: u1 / 255, other unsigned / type max, bool as is; signed and float
// arrays are kept if already inside [0, 1], else min-max scaled over the whole array.
Status normalise(const NpyHeader& h, std::vector<double>* v) {
  if (h.kind == NpyKind::kBool) return {};
  if (h.kind == NpyKind::kUnsigned) {
    const double maxv = h.item_size == 8 ? 18446744073709551615.0 : std::ldexp(1.0, 8 * h.item_size) - 1.0;
    for (double& x : *v) x /= maxv;
    return {};
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : *v) {
    if (!std::isfinite(x)) return Status::corruption("image array holds NaN or infinity");
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (v->empty() || (lo >= 0.0 && hi <= 1.0)) return {};
  const double range = hi > lo ? hi - lo : 1.0;
  for (double& x : *v) x = (x - lo) / range;
  return {};
}

using MemberReader = std::function<Result<Bytes>(const std::string&)>;

Status load_split(const MemberReader& read, const std::string& prefix, const LoadOptions& opts, SplitData* out,
                  int* max_label) {
  const std::string im_name = prefix + "_images.npy", lb_name = prefix + "_labels.npy";
  auto im_bytes = read(im_name);
  if (!im_bytes.ok()) return im_bytes.status();
  auto lb_bytes = read(lb_name);
  if (!lb_bytes.ok()) return lb_bytes.status();
  auto im = parse_npy(*im_bytes);
  if (!im.ok()) return im.status().with_context(im_name);
  auto lb = parse_npy(*lb_bytes);
  if (!lb.ok()) return lb.status().with_context(lb_name);
  const auto& ish = im->header.shape;
  const auto& lsh = lb->header.shape;
  if (ish.size() != 3 && !(ish.size() == 4 && (ish[3] == 1 || ish[3] == 3))) {
    return Status::unsupported(im_name + ": expected shape (N, H, W) or (N, H, W, 1|3)");
  }
  if (ish[1] == 0 || ish[2] == 0 || ish[1] > 65536 || ish[2] > 65536) {
    return Status::corruption(im_name + ": image size " + std::to_string(ish[1]) + "x" + std::to_string(ish[2]) + " is absurd");
  }
  if (!(lsh.size() == 1 || (lsh.size() == 2 && lsh[1] == 1))) {
    return Status::unsupported(lb_name + ": expected labels shaped (N,) or (N, 1) (multi-label sets are not supported)");
  }
  if (lsh[0] != ish[0]) {
    return Status::corruption(prefix + ": " + std::to_string(ish[0]) + " images but " + std::to_string(lsh[0]) + " labels");
  }
  if (lb->header.kind == NpyKind::kFloat) {
    return Status::unsupported(lb_name + ": labels must have an integer dtype, got '" + lb->header.descr + "'");
  }
  const std::size_t n = ish[0];
  const int h = static_cast<int>(ish[1]), w = static_cast<int>(ish[2]);
  const int c = ish.size() == 4 ? static_cast<int>(ish[3]) : 1;
  std::vector<double> lv = npy_to_doubles(*lb);
  out->labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (lv[i] < 0 || lv[i] >= kMaxClasses) {
      return Status::corruption(lb_name + ": label " + std::to_string(lv[i]) + " at row " + std::to_string(i) +
                                " is outside 0.." + std::to_string(kMaxClasses - 1));
    }
    out->labels[i] = static_cast<int>(lv[i]);
    *max_label = std::max(*max_label, out->labels[i]);
  }
  std::vector<double> v = npy_to_doubles(*im);
  HEAL_RETURN_IF_ERROR(normalise(im->header, &v).with_context(im_name));
  const int ow = opts.resize_to > 0 ? opts.resize_to : w, oh = opts.resize_to > 0 ? opts.resize_to : h;
  out->channels = c;
  out->height = oh;
  out->width = ow;
  out->images.resize(n * out->image_size());
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  Image tmp;
  tmp.width = tmp.original_width = w;
  tmp.height = tmp.original_height = h;
  tmp.channels = c;
  tmp.pixels.resize(plane * c);
  for (std::size_t i = 0; i < n; ++i) {
    const double* src = v.data() + i * plane * c;
    for (std::size_t p = 0; p < plane; ++p) {  // (H, W, C) interleaved -> planar
      for (int ch = 0; ch < c; ++ch) tmp.pixels[ch * plane + p] = static_cast<float>(src[p * c + ch]);
    }
    const Image r = (ow != w || oh != h) ? resize(tmp, ow, oh) : tmp;
    std::copy(r.pixels.begin(), r.pixels.end(), out->images.begin() + static_cast<std::ptrdiff_t>(i * out->image_size()));
  }
  return {};
}

Result<Dataset> from_members(const MemberReader& read, const std::string& name, const LoadOptions& opts) {
  Dataset ds;
  ds.name = name;
  int max_label = -1;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    HEAL_RETURN_IF_ERROR(load_split(read, split_name(s), opts, &ds.split(s), &max_label));
  }
  if (ds.train.channels != ds.val.channels || ds.train.channels != ds.test.channels ||
      ds.train.height != ds.val.height || ds.train.height != ds.test.height || ds.train.width != ds.val.width ||
      ds.train.width != ds.test.width) {
    return Status::corruption("splits have different image shapes");
  }
  ds.num_classes = max_label + 1;
  ds.class_names = known_class_names(name);
  if (static_cast<int>(ds.class_names.size()) != ds.num_classes) ds.class_names.clear();
  if (opts.skip_test) {  // parsed with the others (one archive), then dropped: the shape stays
    ds.test.images.clear();
    ds.test.labels.clear();
    ds.test.groups.clear();
  }
  return ds;
}

Result<Dataset> from_archive(const NpzArchive& zip, const std::string& name, const LoadOptions& opts) {
  return from_members([&zip](const std::string& m) { return zip.read(m); }, name, opts);
}

}  // namespace

Result<Dataset> load_medmnist_members(const std::map<std::string, std::vector<std::uint8_t>>& members,
                                     const std::string& name, const LoadOptions& opts) {
  return from_members(
      [&members](const std::string& m) -> Result<Bytes> {
        auto it = members.find(m);
        if (it == members.end()) return Status::not_found("npz member '" + m + "' is missing");
        return it->second;
      },
      name, opts);
}

Result<Dataset> load_medmnist_npz_bytes(std::vector<std::uint8_t> bytes, const std::string& name,
                                        const LoadOptions& opts) {
  HEAL_ASSIGN_OR_RETURN(NpzArchive zip, NpzArchive::from_bytes(std::move(bytes)));
  return from_archive(zip, name, opts);
}

Result<Dataset> load_medmnist_npz(const std::string& path, const LoadOptions& opts) {
  auto zip = NpzArchive::from_file(path);
  if (!zip.ok()) return zip.status();
  std::string name = std::filesystem::path(path).stem().string();
  auto ds = from_archive(*zip, name, opts);
  if (!ds.ok()) return ds.status().with_context(path);
  ds->source = path;
  return ds;
}

}  // namespace heal::io
