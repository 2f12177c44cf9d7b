// Structural pre-scan of DICOM bytes (PS3.5 chapter 7: data elements, 7.5: nesting of data sets,
// A.4: encapsulated pixel data). See dicom_scan.h for why it exists.
#include "dicom_scan.h"

#include <cstring>
#include <string>

namespace heal::io::internal {
namespace {
constexpr std::uint32_t kUndefined = 0xffffffffu;

bool is_long_vr(const std::uint8_t* v) {
  static const char* kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* s : kLong) {
    if (v[0] == static_cast<std::uint8_t>(s[0]) && v[1] == static_cast<std::uint8_t>(s[1])) return true;
  }
  return false;
}
bool is_vr(const std::uint8_t* v) {
  static const char* kShort[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                 "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
  if (is_long_vr(v)) return true;
  for (const char* s : kShort) {
    if (v[0] == static_cast<std::uint8_t>(s[0]) && v[1] == static_cast<std::uint8_t>(s[1])) return true;
  }
  return false;
}

struct Enc {
  bool big = false;
  bool explicit_vr = true;
};

class Scanner {
 public:
  explicit Scanner(std::span<const std::uint8_t> b) : d_(b.data()), n_(b.size()) {}
  bool too_deep() const { return too_deep_; }

  Status run() {
    std::size_t pos = 0;
    Enc enc;
    bool have_meta = false;
    std::string ts;
    if (n_ >= 132 && std::memcmp(d_ + 128, "DICM", 4) == 0) {
      pos = 132;
      have_meta = true;
      // Meta group: always explicit VR little endian.
      while (pos + 8 <= n_ && u16(pos, false) == 0x0002) {
        std::size_t next = 0;
        HEAL_RETURN_IF_ERROR(element(pos, n_, Enc{}, 0, &next, &ts));
        pos = next;
      }
    }
    if (pos + 8 > n_) {
      if (pos == n_ && have_meta) return Status::ok_status();  // meta header only
      return Status::corruption("DICOM object too short for a data element");
    }
    while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
    if (ts == "1.2.840.10008.1.2.1.99") {
      return Status::unsupported("DICOM deflated transfer syntax (1.2.840.10008.1.2.1.99) is not read");
    }
    if (ts == "1.2.840.10008.1.2" || ts == "1.2.840.113619.5.2") {
      enc.explicit_vr = false;
    } else if (ts == "1.2.840.10008.1.2.2") {
      enc.big = true;
    } else if (ts.empty()) {
      enc.explicit_vr = is_vr(d_ + pos + 4);  // as DCMTK guesses without a meta header
    }
    while (pos < n_) {
      if (n_ - pos < 8) return Status::ok_status();  // trailing bytes shorter than a tag: ignored by DCMTK
      std::size_t next = 0;
      HEAL_RETURN_IF_ERROR(element(pos, n_, enc, 0, &next, nullptr));
      if (next == kItemDelim) return bad(pos, "item delimiter outside an item");
      pos = next;
    }
    return Status::ok_status();
  }

 private:
  static constexpr std::size_t kItemDelim = static_cast<std::size_t>(-1);

  std::uint16_t u16(std::size_t p, bool be) const {
    return be ? static_cast<std::uint16_t>(d_[p] << 8 | d_[p + 1]) : static_cast<std::uint16_t>(d_[p + 1] << 8 | d_[p]);
  }
  std::uint32_t u32(std::size_t p, bool be) const {
    const std::uint32_t a = u16(p, be), b = u16(p + 2, be);
    return be ? (a << 16 | b) : (b << 16 | a);
  }
  Status bad(std::size_t at, const std::string& what) const {
    return Status::corruption("not a readable DICOM object: " + what + " at byte " + std::to_string(at));
  }

  // One element at `pos` (inside [.., end)); *next is the offset after it, or kItemDelim when it is
  // an item delimitation item (the end of an undefined-length item).
  Status element(std::size_t pos, std::size_t end, Enc enc, int depth, std::size_t* next, std::string* ts) {
    if (end - pos < 8) return bad(pos, "truncated element header");
    const std::uint16_t group = u16(pos, enc.big);
    const std::uint16_t elem = u16(pos + 2, enc.big);
    if (group == 0xfffe) {
      if (elem == 0xe00d && u32(pos + 4, enc.big) == 0) {
        *next = kItemDelim;
        return Status::ok_status();
      }
      return bad(pos, "item tag where a data element was expected");
    }
    std::size_t header = 8;
    std::uint32_t len = 0;
    bool sq = false, un = false;
    if (enc.explicit_vr) {
      const std::uint8_t* vr = d_ + pos + 4;
      if (!is_vr(vr)) return bad(pos, "unknown value representation");
      if (is_long_vr(vr)) {
        if (end - pos < 12) return bad(pos, "truncated element header");
        header = 12;
        len = u32(pos + 8, enc.big);
        sq = vr[0] == 'S' && vr[1] == 'Q';
        un = vr[0] == 'U' && vr[1] == 'N';
      } else {
        len = u16(pos + 6, enc.big);
      }
    } else {
      len = u32(pos + 4, enc.big);
    }
    const std::size_t body = pos + header;
    const bool pixel_data = group == 0x7fe0 && elem == 0x0010;
    if (len == kUndefined) {
      if (enc.explicit_vr && !sq && !un && !pixel_data) return bad(pos, "undefined length on a non-sequence");
      Enc inner = enc;
      if (un) inner = Enc{false, false};  // PS3.5 6.2.2: UN of undefined length holds implicit VR LE
      return items(body, end, true, pixel_data, inner, depth + 1, next);
    }
    if (len > end - body) {
      return bad(pos, "element (" + hex(group) + "," + hex(elem) + ") declares " + std::to_string(len) +
                          " bytes but only " + std::to_string(end - body) + " remain");
    }
    if (ts != nullptr && group == 0x0002 && elem == 0x0010) ts->assign(reinterpret_cast<const char*>(d_ + body), len);
    // Nested data sets: explicit SQ, or (implicit VR / UN) a value that starts with an item tag.
    const bool starts_item = len >= 8 && u16(body, enc.big) == 0xfffe && u16(body + 2, enc.big) == 0xe000;
    if (!pixel_data && (sq || ((!enc.explicit_vr || un) && starts_item))) {
      Enc inner = enc;
      if (un) inner = Enc{false, false};
      std::size_t after = 0;
      HEAL_RETURN_IF_ERROR(items(body, body + len, false, false, inner, depth + 1, &after));
      if (after != body + len) return bad(body, "sequence items do not fill the sequence");
    }
    *next = body + len;
    return Status::ok_status();
  }

  // Items of a sequence (or fragments of encapsulated pixel data) starting at `pos`. Undefined
  // length: until the sequence delimiter; defined: until `end`.
  Status items(std::size_t pos, std::size_t end, bool undefined, bool fragments, Enc enc, int depth,
               std::size_t* next) {
    if (depth > kMaxDicomNesting) {
      too_deep_ = true;
      return bad(pos, "sequences nested deeper than " + std::to_string(kMaxDicomNesting));
    }
    while (true) {
      if (!undefined && pos == end) {
        *next = pos;
        return Status::ok_status();
      }
      if (end - pos < 8) return bad(pos, "truncated item");
      const std::uint16_t group = u16(pos, enc.big);
      const std::uint16_t elem = u16(pos + 2, enc.big);
      const std::uint32_t len = u32(pos + 4, enc.big);
      if (group != 0xfffe) return bad(pos, "data element where an item was expected");
      if (elem == 0xe0dd) {
        if (!undefined) return bad(pos, "sequence delimiter in a sequence of defined length");
        *next = pos + 8;
        return Status::ok_status();
      }
      if (elem != 0xe000) return bad(pos, "unexpected item tag");
      const std::size_t body = pos + 8;
      if (len == kUndefined) {
        if (fragments) return bad(pos, "pixel data fragment of undefined length");
        std::size_t p = body;
        while (true) {
          std::size_t after = 0;
          HEAL_RETURN_IF_ERROR(element(p, end, enc, depth, &after, nullptr));
          if (after == kItemDelim) {
            p += 8;
            break;
          }
          p = after;
        }
        pos = p;
        continue;
      }
      if (len > end - body) {
        return bad(pos, "item declares " + std::to_string(len) + " bytes but only " + std::to_string(end - body) +
                            " remain");
      }
      if (!fragments) {
        std::size_t p = body;
        const std::size_t item_end = body + len;
        while (p < item_end) {
          std::size_t after = 0;
          HEAL_RETURN_IF_ERROR(element(p, item_end, enc, depth, &after, nullptr));
          if (after == kItemDelim) return bad(p, "item delimiter in an item of defined length");
          p = after;
        }
      }
      pos = body + len;
    }
  }

  static std::string hex(std::uint16_t v) {
    static const char* k = "0123456789ABCDEF";
    return {k[v >> 12], k[(v >> 8) & 15], k[(v >> 4) & 15], k[v & 15]};
  }

  const std::uint8_t* d_;
  std::size_t n_;
  bool too_deep_ = false;
};
}  // namespace

Status scan_dicom(std::span<const std::uint8_t> bytes) {
  Scanner sc(bytes);
  (void)sc.run();  // a structure the scan cannot follow is DCMTK's to judge; only the depth is fatal
  if (sc.too_deep()) {
    return Status::corruption("not a readable DICOM object: sequences nested deeper than " +
                              std::to_string(kMaxDicomNesting) + " levels");
  }
  return Status::ok_status();
}

}  // namespace heal::io::internal
