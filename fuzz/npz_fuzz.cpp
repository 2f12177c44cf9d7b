// libFuzzer target over the .npy header parser, the in-memory .npz reader and the MedMNIST
// loader. Build: cmake --preset fuzz && cmake --build build/fuzz --target fuzz_npz
// Run:   build/fuzz/fuzz/fuzz_npz -max_total_time=300 -rss_limit_mb=4096 fuzz/corpus/npz
#include <algorithm>
#include <cstddef>
#include <map>
#include <cstdint>
#include <span>
#include <string_view>

#include "heal/io/dataset.h"
#include "heal/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace heal::io;
  const std::span<const std::uint8_t> in(data, size);

  // 1. The input as a bare .npy file; convert what parses (count is bounded by the bytes).
  if (auto a = parse_npy(in); a.ok()) {
    const auto v = npy_to_doubles(*a);
    if (v.size() != a->header.count) __builtin_trap();
  }
  // 2. The input as the header dict text alone.
  NpyHeader h;
  (void)parse_npy_header_dict(std::string_view(reinterpret_cast<const char*>(data), size), &h);

  // 3. The input as an .npz: every member inflated (with a small cap) and parsed as .npy.
  if (auto z = NpzArchive::from_bytes(heal::Bytes(in.begin(), in.end())); z.ok()) {
    for (const auto& name : z->members()) {
      auto b = z->read(name, std::uint64_t{64} << 20);
      if (b.ok()) {
        if (auto a = parse_npy(*b); a.ok()) (void)npy_to_doubles(*a);
      }
    }
  }
  // 4. The full MedMNIST loader on the same bytes.
  (void)load_medmnist_npz_bytes(heal::Bytes(in.begin(), in.end()), "fuzz");

  // 5. The input as six members (u16 little-endian lengths, then the bytes) handed straight to the
  //    MedMNIST assembly, so mutations of the .npy contents are not stopped by zip CRCs.
  if (size >= 12) {
    static const char* kNames[6] = {"train_images.npy", "train_labels.npy", "val_images.npy",
                                    "val_labels.npy",   "test_images.npy",  "test_labels.npy"};
    std::map<std::string, heal::Bytes> members;
    std::size_t pos = 12;
    for (int i = 0; i < 6; ++i) {
      std::size_t len = data[2 * i] | (std::size_t{data[2 * i + 1]} << 8);
      len = std::min(len, size - pos);
      members[kNames[i]] = heal::Bytes(data + pos, data + pos + len);
      pos += len;
    }
    (void)load_medmnist_members(members, "fuzz");
  }
  return 0;
}
