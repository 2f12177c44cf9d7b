#include "heal/io/nifti.h"

#include <gtest/gtest.h>
#include <nifti2_io.h>

#include "io/io_test_util.h"

namespace heal::io {
namespace {

using testing::TempDir;

constexpr int kNx = 5, kNy = 4, kNz = 3;

// Voxel (x, y, z, t) = x + 10 y + 100 z + 1000 t, int16, optionally scaled by slope 2.
void write_volume(const std::string& path, int nt = 1, float slope = 0.0f) {
  const std::int64_t dims[8] = {nt > 1 ? 4 : 3, kNx, kNy, kNz, nt, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
  ASSERT_NE(nim, nullptr);
  auto* d = static_cast<std::int16_t*>(nim->data);
  for (int t = 0; t < nt; ++t)
    for (int z = 0; z < kNz; ++z)
      for (int y = 0; y < kNy; ++y)
        for (int x = 0; x < kNx; ++x) d[x + kNx * (y + kNy * (z + kNz * t))] = static_cast<std::int16_t>(x + 10 * y + 100 * z + 1000 * t);
  nim->scl_slope = slope;
  ASSERT_EQ(nifti_set_filenames(nim, path.c_str(), 0, 1), 0);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

TEST(Nifti, SliceCountsAndAxialSlice) {
  TempDir dir;
  for (const char* name : {"vol.nii", "vol.nii.gz"}) {
    const std::string p = dir.file(name);
    write_volume(p);
    EXPECT_EQ(*nifti_slice_count(p, 0), kNx);
    EXPECT_EQ(*nifti_slice_count(p, 1), kNy);
    EXPECT_EQ(*nifti_slice_count(p, 2), kNz) << name;
    auto img = load_nifti_slice(p, 2, 1);
    ASSERT_TRUE(img.ok()) << img.status().to_string();
    EXPECT_EQ(img->width, kNx);
    EXPECT_EQ(img->height, kNy);
    const double lo = 0, hi = 4 + 30 + 200;  // volume min/max
    EXPECT_NEAR(img->at(0, 2, 3), (3 + 20 + 100 - lo) / (hi - lo), 1e-6);
    auto dispatched = load_image(p);  // middle axial slice (z = 1)
    ASSERT_TRUE(dispatched.ok()) << dispatched.status().to_string();
    EXPECT_EQ(dispatched->pixels, img->pixels);
  }
}

TEST(Nifti, OtherAxesAnd4D) {
  TempDir dir;
  const std::string p = dir.file("vol4.nii.gz");
  write_volume(p, /*nt=*/2, /*slope=*/2.0f);
  auto info = read_nifti_info(p);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->ndim, 4);
  EXPECT_EQ(info->dims[3], 2);
  auto sx = load_nifti_slice(p, 0, 4, 1);  // x = 4, t = 1: image (y, z)
  ASSERT_TRUE(sx.ok()) << sx.status().to_string();
  EXPECT_EQ(sx->width, kNy);
  EXPECT_EQ(sx->height, kNz);
  const double lo = 2 * 1000.0, hi = 2 * (1000.0 + 234);  // slope applied; volume t = 1
  EXPECT_NEAR(sx->at(0, 2, 3), (2 * (1000 + 4 + 30 + 200) - lo) / (hi - lo), 1e-6);
  auto sy = load_nifti_slice(p, 1, 0, 0);  // y = 0: image (x, z)
  ASSERT_TRUE(sy.ok());
  EXPECT_EQ(sy->width, kNx);
  EXPECT_EQ(sy->height, kNz);
  EXPECT_NEAR(sy->at(0, 1, 2), (2.0 * (2 + 100)) / (2.0 * 234), 1e-6);
  EXPECT_EQ(load_nifti_slice(p, 2, kNz).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(load_nifti_slice(p, 2, 0, 2).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(load_nifti_slice(p, 3, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(Nifti, TruncatedAndMissing) {
  TempDir dir;
  write_volume(dir.file("v.nii"));
  Bytes b = *read_file(dir.file("v.nii"));
  b.resize(b.size() - 20);
  testing::write_bytes(dir.file("cut.nii"), b);
  auto r = load_nifti_slice(dir.file("cut.nii"), 2, 0);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
  EXPECT_EQ(load_nifti_slice(dir.file("none.nii"), 2, 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace heal::io
