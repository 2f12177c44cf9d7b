// JPEG 2000 (1.2.840.10008.1.2.4.90 / .91) frames through OpenJPEG, decoded from memory. The
// codestream header is checked against the DICOM header before any sample is decoded, so a
// damaged or oversized stream never makes OpenJPEG allocate what the DICOM object did not promise.
#include "dicom_j2k.h"

#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace heal::io::internal {
namespace {
struct MemStream {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
};

OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* m = static_cast<MemStream*>(user);
  if (m->pos >= m->size) return static_cast<OPJ_SIZE_T>(-1);
  const std::size_t k = std::min<std::size_t>(n, m->size - m->pos);
  std::memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return k;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<MemStream*>(user);
  if (n < 0) {
    const auto back = static_cast<std::size_t>(-n);
    if (back > m->pos) return -1;
    m->pos -= back;
    return n;
  }
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(n), m->size - m->pos);
  m->pos += k;
  return static_cast<OPJ_OFF_T>(k);
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
  auto* m = static_cast<MemStream*>(user);
  if (n < 0 || static_cast<std::size_t>(n) > m->size) return OPJ_FALSE;
  m->pos = static_cast<std::size_t>(n);
  return OPJ_TRUE;
}
void quiet(const char*, void*) {}

struct CodecDel {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDel {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDel {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};
}  // namespace

Status decode_j2k_frame(std::span<const std::uint8_t> stream, const J2kExpect& e, std::vector<std::uint8_t>* out) {
  if (stream.size() < 12) return Status::corruption("JPEG 2000 frame: codestream too short");
  if (e.rows <= 0 || e.columns <= 0 || (e.samples != 1 && e.samples != 3) ||
      (e.bits_allocated != 8 && e.bits_allocated != 16) || e.bits_stored < 1 || e.bits_stored > e.bits_allocated) {
    return Status::unsupported("JPEG 2000 frame: the DICOM header (samples " + std::to_string(e.samples) +
                               ", bits allocated " + std::to_string(e.bits_allocated) + ", bits stored " +
                               std::to_string(e.bits_stored) + ") is not one HEAL decodes");
  }
  // Raw codestream starts with SOC (FF 4F FF 51); a JP2 file with its signature box.
  static const std::uint8_t kJp2[] = {0, 0, 0, 0x0c, 'j', 'P', ' ', ' '};
  OPJ_CODEC_FORMAT fmt;
  if (stream[0] == 0xff && stream[1] == 0x4f && stream[2] == 0xff && stream[3] == 0x51) {
    fmt = OPJ_CODEC_J2K;
  } else if (std::memcmp(stream.data(), kJp2, sizeof(kJp2)) == 0) {
    fmt = OPJ_CODEC_JP2;
  } else {
    return Status::corruption("JPEG 2000 frame: neither a J2K codestream (FF4F) nor a JP2 file");
  }
  std::unique_ptr<opj_codec_t, CodecDel> codec(opj_create_decompress(fmt));
  if (!codec) return Status::internal("OpenJPEG: cannot create a decoder");
  opj_set_error_handler(codec.get(), quiet, nullptr);
  opj_set_warning_handler(codec.get(), quiet, nullptr);
  opj_set_info_handler(codec.get(), quiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec.get(), &params)) return Status::internal("OpenJPEG: decoder setup failed");

  MemStream ms{stream.data(), stream.size(), 0};
  std::unique_ptr<opj_stream_t, StreamDel> st(opj_stream_create(64 * 1024, OPJ_TRUE));
  if (!st) return Status::internal("OpenJPEG: cannot create a stream");
  opj_stream_set_user_data(st.get(), &ms, nullptr);
  opj_stream_set_user_data_length(st.get(), stream.size());
  opj_stream_set_read_function(st.get(), mem_read);
  opj_stream_set_skip_function(st.get(), mem_skip);
  opj_stream_set_seek_function(st.get(), mem_seek);

  opj_image_t* raw = nullptr;
  if (!opj_read_header(st.get(), codec.get(), &raw)) {
    if (raw) opj_image_destroy(raw);
    return Status::corruption("JPEG 2000 frame: unreadable codestream header");
  }
  std::unique_ptr<opj_image_t, ImageDel> img(raw);
  const long long w = static_cast<long long>(img->x1) - img->x0;
  const long long h = static_cast<long long>(img->y1) - img->y0;
  if (w != e.columns || h != e.rows) {
    return Status::corruption("JPEG 2000 frame is " + std::to_string(w) + "x" + std::to_string(h) +
                              " but the DICOM header says " + std::to_string(e.columns) + "x" +
                              std::to_string(e.rows));
  }
  if (static_cast<int>(img->numcomps) != e.samples) {
    return Status::corruption("JPEG 2000 frame has " + std::to_string(img->numcomps) +
                              " components but the DICOM header says " + std::to_string(e.samples) +
                              " samples per pixel");
  }
  for (OPJ_UINT32 c = 0; c < img->numcomps; ++c) {
    const opj_image_comp_t& comp = img->comps[c];
    if (comp.dx != 1 || comp.dy != 1) {
      return Status::unsupported("JPEG 2000 frame: subsampled components are not supported");
    }
    // GDCM and others write a 12-bit Bits Stored image as a 16-bit codestream, so the precision
    // may exceed Bits Stored (values are clamped to the Bits Stored range below) but not Bits
    // Allocated; the sign must match Pixel Representation.
    if (comp.prec < 1 || static_cast<int>(comp.prec) > e.bits_allocated || (comp.sgnd != 0) != e.is_signed) {
      return Status::corruption("JPEG 2000 frame: component precision " + std::to_string(comp.prec) +
                                (comp.sgnd ? " signed" : " unsigned") + " does not fit the DICOM header (bits " +
                                "allocated " + std::to_string(e.bits_allocated) +
                                (e.is_signed ? ", signed)" : ", unsigned)"));
    }
  }
  if (!opj_decode(codec.get(), st.get(), img.get()) || !opj_end_decompress(codec.get(), st.get())) {
    return Status::corruption("JPEG 2000 frame: damaged codestream");
  }
  const std::size_t plane = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  for (OPJ_UINT32 c = 0; c < img->numcomps; ++c) {
    const opj_image_comp_t& comp = img->comps[c];
    if (!comp.data || comp.w != static_cast<OPJ_UINT32>(w) || comp.h != static_cast<OPJ_UINT32>(h)) {
      return Status::corruption("JPEG 2000 frame: decoded component has the wrong size");
    }
  }
  const std::size_t bytes = static_cast<std::size_t>(e.bits_allocated / 8);
  const std::size_t base = out->size();
  out->resize(base + plane * e.samples * bytes);
  std::uint8_t* dst = out->data() + base;
  const long long lo = e.is_signed ? -(1LL << (e.bits_stored - 1)) : 0;
  const long long hi = e.is_signed ? (1LL << (e.bits_stored - 1)) - 1 : (1LL << e.bits_stored) - 1;
  for (std::size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < e.samples; ++c) {
      const long long v = std::clamp<long long>(img->comps[c].data[i], lo, hi);
      const auto u = static_cast<std::uint32_t>(v);  // two's complement; DICOM masks to bits stored
      std::uint8_t* p = dst + (i * e.samples + c) * bytes;
      p[0] = static_cast<std::uint8_t>(u & 0xff);
      if (bytes == 2) p[1] = static_cast<std::uint8_t>((u >> 8) & 0xff);
    }
  }
  return Status::ok_status();
}

}  // namespace heal::io::internal
