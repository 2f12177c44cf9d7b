// .npy parser: magic, version, header length, the Python dict literal, and data-size validation.
#include <cstring>
#include <limits>

#include "heal/io/npy.h"

namespace heal::io {
namespace {

constexpr std::size_t kMaxDims = 32;            // NPY_MAXDIMS
constexpr std::size_t kMaxHeaderLen = 1u << 20;  // numpy itself refuses headers above ~10 kB

// A cursor over the header dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3,), }
class DictLexer {
 public:
  explicit DictLexer(std::string_view s) : s_(s) {}
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool at_end() {
    skip_ws();
    return i_ >= s_.size();
  }
  Status string(std::string* out) {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return err("expected a quoted string");
    const char q = s_[i_++];
    out->clear();
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') return err("escapes are not supported in header strings");
      out->push_back(s_[i_++]);
    }
    if (i_ >= s_.size()) return err("unterminated string");
    ++i_;
    return {};
  }
  Status boolean(bool* out) {
    skip_ws();
    if (s_.substr(i_, 4) == "True") {
      *out = true;
      i_ += 4;
    } else if (s_.substr(i_, 5) == "False") {
      *out = false;
      i_ += 5;
    } else {
      return err("expected True or False");
    }
    return {};
  }
  Status integer(std::uint64_t* out) {
    skip_ws();
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return err("expected a non-negative integer");
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      const auto d = static_cast<std::uint64_t>(s_[i_] - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return err("dimension overflows 64 bits");
      v = v * 10 + d;
      ++i_;
    }
    if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long literal
    *out = v;
    return {};
  }
  Status err(const std::string& what) const {
    return Status::corruption("npy header: " + what + " at offset " + std::to_string(i_) + " of '" +
                              std::string(s_.substr(0, 200)) + "'");
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

Status parse_descr(const std::string& d, NpyHeader* h) {
  if (d.size() < 2) return Status::corruption("npy header: descr '" + d + "' is too short");
  std::size_t p = 0;
  char order = '=';
  if (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') order = d[p++];
  if (p >= d.size()) return Status::corruption("npy header: descr '" + d + "' has no type");
  const char kind = d[p++];
  const std::string size_str = d.substr(p);
  if (size_str.empty() || size_str.size() > 2 || size_str.find_first_not_of("0123456789") != std::string::npos) {
    return Status::unsupported("npy dtype '" + d + "' is not a plain numeric dtype");
  }
  const int size = std::stoi(size_str);
  switch (kind) {
    case 'b': h->kind = NpyKind::kBool; break;
    case 'u': h->kind = NpyKind::kUnsigned; break;
    case 'i': h->kind = NpyKind::kSigned; break;
    case 'f': h->kind = NpyKind::kFloat; break;
    default: return Status::unsupported("npy dtype '" + d + "' is not numeric (supported: b1, u/i 1-8, f4, f8)");
  }
  const bool int_ok = (h->kind == NpyKind::kUnsigned || h->kind == NpyKind::kSigned) &&
                      (size == 1 || size == 2 || size == 4 || size == 8);
  const bool ok = int_ok || (h->kind == NpyKind::kBool && size == 1) ||
                  (h->kind == NpyKind::kFloat && (size == 4 || size == 8));
  if (!ok) return Status::unsupported("npy dtype '" + d + "' is not supported (supported: b1, u/i 1-8, f4, f8)");
  if (order == '|' && size != 1) return Status::corruption("npy dtype '" + d + "': '|' is only valid for 1-byte types");
  h->item_size = size;
  h->big_endian = order == '>';
  h->descr = d;
  return {};
}

}  // namespace

Status parse_npy_header_dict(std::string_view text, NpyHeader* h) {
  DictLexer lx(text);
  if (!lx.eat('{')) return lx.err("expected '{'");
  bool have_descr = false, have_order = false, have_shape = false;
  while (!lx.eat('}')) {
    std::string key;
    HEAL_RETURN_IF_ERROR(lx.string(&key));
    if (!lx.eat(':')) return lx.err("expected ':'");
    if (key == "descr") {
      if (have_descr) return lx.err("duplicate key 'descr'");
      if (lx.peek('[')) return Status::unsupported("npy structured dtypes are not supported");
      std::string d;
      HEAL_RETURN_IF_ERROR(lx.string(&d));
      HEAL_RETURN_IF_ERROR(parse_descr(d, h));
      have_descr = true;
    } else if (key == "fortran_order") {
      if (have_order) return lx.err("duplicate key 'fortran_order'");
      HEAL_RETURN_IF_ERROR(lx.boolean(&h->fortran_order));
      have_order = true;
    } else if (key == "shape") {
      if (have_shape) return lx.err("duplicate key 'shape'");
      if (!lx.eat('(')) return lx.err("expected '(' for shape");
      h->shape.clear();
      while (!lx.eat(')')) {
        if (h->shape.size() >= kMaxDims) return lx.err("more than 32 dimensions");
        std::uint64_t v = 0;
        HEAL_RETURN_IF_ERROR(lx.integer(&v));
        h->shape.push_back(v);
        if (!lx.eat(',') && !lx.peek(')')) return lx.err("expected ',' or ')' in shape");
      }
      have_shape = true;
    } else {
      return lx.err("unexpected key '" + key + "'");
    }
    if (!lx.eat(',') && !lx.peek('}')) return lx.err("expected ',' or '}'");
  }
  if (!lx.at_end()) return lx.err("trailing characters after '}'");
  if (!have_descr || !have_order || !have_shape) {
    return Status::corruption("npy header: needs 'descr', 'fortran_order' and 'shape'");
  }
  std::uint64_t count = 1;
  for (std::uint64_t d : h->shape) {
    if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d) {
      return Status::corruption("npy header: shape element count overflows 64 bits");
    }
    count *= d;
  }
  h->count = count;
  return {};
}

Result<NpyArray> parse_npy(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  std::span<const std::uint8_t> magic;
  if (!r.get_bytes(6, &magic).ok() || std::memcmp(magic.data(), "\x93NUMPY", 6) != 0) {
    return Status::corruption("not a .npy file (missing \\x93NUMPY magic)");
  }
  std::uint8_t major = 0, minor = 0;
  HEAL_RETURN_IF_ERROR(r.get(&major));
  HEAL_RETURN_IF_ERROR(r.get(&minor));
  if (major < 1 || major > 3 || minor != 0) {
    return Status::unsupported("npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                               " (supported: 1.0, 2.0, 3.0)");
  }
  std::uint32_t header_len = 0;
  if (major == 1) {
    std::uint16_t l16 = 0;
    HEAL_RETURN_IF_ERROR(r.get(&l16));
    header_len = l16;
  } else {
    HEAL_RETURN_IF_ERROR(r.get(&header_len));
  }
  if (header_len > kMaxHeaderLen) return Status::corruption("npy header length " + std::to_string(header_len) + " is absurd");
  std::span<const std::uint8_t> text;
  if (!r.get_bytes(header_len, &text).ok()) {
    return Status::corruption("npy header truncated: needs " + std::to_string(header_len) + " bytes, have " +
                              std::to_string(r.remaining()));
  }
  NpyArray a;
  a.header.major_version = major;
  HEAL_RETURN_IF_ERROR(parse_npy_header_dict(
      std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), &a.header));
  a.header.data_offset = r.position();
  const std::uint64_t isz = static_cast<std::uint64_t>(a.header.item_size);
  // Guard every later allocation by the bytes actually present.
  if (a.header.count > r.remaining() / isz) {
    return Status::corruption("npy data truncated: shape needs " + std::to_string(a.header.count) + " x " +
                              std::to_string(isz) + " bytes, file has " + std::to_string(r.remaining()));
  }
  if (a.header.count * isz != r.remaining()) {
    return Status::corruption("npy data has " + std::to_string(r.remaining() - a.header.count * isz) +
                              " trailing bytes after the array");
  }
  a.data = bytes.subspan(a.header.data_offset);
  return a;
}

namespace {
template <typename T>
double load_as(const std::uint8_t* p, bool swap) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) {
    for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  }
  T v;
  std::memcpy(&v, b, sizeof(T));
  return static_cast<double>(v);
}

double element(const NpyHeader& h, const std::uint8_t* p) {
  const bool sw = h.big_endian;  // hosts are little-endian (checked in core tests)
  switch (h.kind) {
    case NpyKind::kBool: return *p != 0 ? 1.0 : 0.0;
    case NpyKind::kUnsigned:
      switch (h.item_size) {
        case 1: return *p;
        case 2: return load_as<std::uint16_t>(p, sw);
        case 4: return load_as<std::uint32_t>(p, sw);
        default: return load_as<std::uint64_t>(p, sw);
      }
    case NpyKind::kSigned:
      switch (h.item_size) {
        case 1: return load_as<std::int8_t>(p, false);
        case 2: return load_as<std::int16_t>(p, sw);
        case 4: return load_as<std::int32_t>(p, sw);
        default: return load_as<std::int64_t>(p, sw);
      }
    case NpyKind::kFloat: return h.item_size == 4 ? load_as<float>(p, sw) : load_as<double>(p, sw);
  }
  return 0.0;
}
}  // namespace

std::vector<double> npy_to_doubles(const NpyArray& a) {
  const NpyHeader& h = a.header;
  const auto n = static_cast<std::size_t>(h.count);
  const auto isz = static_cast<std::size_t>(h.item_size);
  std::vector<double> out(n);  // n <= data bytes, validated by parse_npy
  if (!h.fortran_order || h.shape.size() < 2) {
    for (std::size_t i = 0; i < n; ++i) out[i] = element(h, a.data.data() + i * isz);
    return out;
  }
  // Fortran order: the first index varies fastest in memory. Walk C order with a multi-index
  // and track the Fortran offset incrementally.
  const std::size_t nd = h.shape.size();
  std::vector<std::size_t> idx(nd, 0), fstride(nd, 1);
  for (std::size_t k = 1; k < nd; ++k) fstride[k] = fstride[k - 1] * static_cast<std::size_t>(h.shape[k - 1]);
  std::size_t off = 0;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = element(h, a.data.data() + off * isz);
    for (std::size_t k = nd; k-- > 0;) {  // increment the C multi-index (last axis fastest)
      if (++idx[k] < h.shape[k]) {
        off += fstride[k];
        break;
      }
      off -= fstride[k] * (idx[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

}  // namespace heal::io
