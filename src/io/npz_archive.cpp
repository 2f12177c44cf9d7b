// NpzArchive: an in-memory zip read with libzip (zip_source_buffer), CRC-checked member reads.
#include <zip.h>

#include <algorithm>

#include "heal/io/npy.h"

namespace heal::io {

struct NpzArchive::Impl {
  Bytes bytes;
  zip_t* zip = nullptr;
  ~Impl() {
    if (zip) zip_discard(zip);  // read-only: discard, never write back
  }
};

NpzArchive::NpzArchive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NpzArchive::NpzArchive(NpzArchive&&) noexcept = default;
NpzArchive& NpzArchive::operator=(NpzArchive&&) noexcept = default;
NpzArchive::~NpzArchive() = default;

namespace {
std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}
}  // namespace

Result<NpzArchive> NpzArchive::from_bytes(Bytes bytes) {
  auto impl = std::make_unique<Impl>();
  impl->bytes = std::move(bytes);
  if (impl->bytes.size() < 22) {  // an end-of-central-directory record alone is 22 bytes
    return Status::corruption("not a zip/.npz archive: only " + std::to_string(impl->bytes.size()) + " bytes");
  }
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(impl->bytes.data(), impl->bytes.size(), 0, &err);
  if (!src) {
    std::string m = zip_error_strerror(&err);
    zip_error_fini(&err);
    return Status::internal("libzip: cannot create a buffer source: " + m);
  }
  impl->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl->zip) {
    std::string m = zip_error_strerror(&err);
    zip_error_fini(&err);
    zip_source_free(src);
    return Status::corruption("not a valid zip/.npz archive (truncated or corrupt): " + m);
  }
  zip_error_fini(&err);
  const zip_int64_t n = zip_get_num_entries(impl->zip, 0);
  if (n < 0) return Status::corruption("zip: cannot count entries");
  NpzArchive a(std::move(impl));
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(a.impl_->zip, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (!name) return Status::corruption("zip: entry " + std::to_string(i) + " has no readable name");
    a.names_.emplace_back(name);
  }
  return a;
}

Result<NpzArchive> NpzArchive::from_file(const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path));
  auto r = from_bytes(std::move(b));
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

bool NpzArchive::has(const std::string& member) const {
  return std::find(names_.begin(), names_.end(), member) != names_.end();
}

Result<Bytes> NpzArchive::read(const std::string& member, std::uint64_t max_bytes) const {
  const zip_int64_t idx = zip_name_locate(impl_->zip, member.c_str(), ZIP_FL_ENC_RAW);
  if (idx < 0) return Status::not_found("npz member '" + member + "' is missing");
  const auto uidx = static_cast<zip_uint64_t>(idx);
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(impl_->zip, uidx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
      !(st.valid & ZIP_STAT_COMP_SIZE)) {
    return Status::corruption("npz member '" + member + "': unreadable zip entry");
  }
  if (st.size > max_bytes) {
    return Status::out_of_range("npz member '" + member + "' inflates to " + std::to_string(st.size) +
                                " bytes, above the limit " + std::to_string(max_bytes));
  }
  // DEFLATE cannot expand more than ~1032:1; a larger claim is a lie or a bomb.
  if (st.size > st.comp_size * 1100 + 4096) {
    return Status::corruption("npz member '" + member + "' claims " + std::to_string(st.size) +
                              " bytes from " + std::to_string(st.comp_size) + " compressed bytes");
  }
  if (st.comp_size > impl_->bytes.size()) {
    return Status::corruption("npz member '" + member + "' is larger than the archive (truncated)");
  }
  zip_file_t* f = zip_fopen_index(impl_->zip, uidx, 0);
  if (!f) {
    return Status::unsupported("npz member '" + member + "' cannot be opened: " + zip_strerror(impl_->zip));
  }
  Bytes out(static_cast<std::size_t>(st.size));
  std::size_t got = 0;
  Status status;
  while (got < out.size()) {
    const zip_int64_t r = zip_fread(f, out.data() + got, out.size() - got);
    if (r < 0) {
      status = Status::corruption("npz member '" + member + "' is corrupt: " + zip_file_strerror(f));
      break;
    }
    if (r == 0) {
      status = Status::corruption("npz member '" + member + "' is truncated: " + std::to_string(got) + " of " +
                                  std::to_string(out.size()) + " bytes");
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  if (status.ok()) {
    // Read past the end once so libzip verifies the CRC-32 of the whole member.
    std::uint8_t extra = 0;
    const zip_int64_t r = zip_fread(f, &extra, 1);
    if (r < 0) status = Status::corruption("npz member '" + member + "' fails its check: " + zip_file_strerror(f));
    if (r > 0) status = Status::corruption("npz member '" + member + "' is longer than its header says");
  }
  const int close_rc = zip_fclose(f);
  if (status.ok() && close_rc != 0) {
    status = Status::corruption("npz member '" + member + "': " + zip_error_text(close_rc));
  }
  if (!status.ok()) return status;
  return out;
}

}  // namespace heal::io
