// DICOM via DCMTK: dcmdata parses the file (with or without the 128-byte preamble and meta header;
// little/big endian, implicit/explicit VR), the registered dcmjpeg / dcmjpls / RLE decoders undo
// JPEG, JPEG-LS and RLE, OpenJPEG undoes JPEG 2000 (dicom_j2k.cpp; DCMTK 3.6.7 has no free J2K
// codec), and dcmimgle/dcmimage apply the modality LUT (rescale slope/intercept), the VOI window,
// the MONOCHROME1 polarity (DICOM PS3.3 C.11.2.1.2) and the colour models (RGB, YBR_*, PALETTE
// COLOR, both planar configurations). The header is validated before DCMTK touches the pixels.
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmimage/diregist.h"  // colour images (RGB, YBR_*, PALETTE COLOR) for DicomImage
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <filesystem>
#include <mutex>

#include <sys/mman.h>
#include <unistd.h>

#include "dicom_j2k.h"
#include "dicom_scan.h"
#include "heal/core/bytes.h"
#include "heal/io/dicom.h"
#include "heal/io/image.h"

namespace heal::io {
namespace {
// Largest frame HEAL decodes (samples of one frame) and largest object (samples of all frames):
// a header that promises more is refused before DCMTK allocates anything.
constexpr std::uint64_t kMaxFrameSamples = std::uint64_t{1} << 27;
constexpr std::uint64_t kMaxTotalSamples = std::uint64_t{1} << 29;
// Largest DICOM file read.
constexpr std::size_t kMaxFileBytes = std::size_t{4} << 30;
// Largest side of a --spacing resample.
constexpr double kMaxResampledSide = 16384;

void init_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();    // JPEG baseline, extended, lossless (SV1 and others)
    DJLSDecoderRegistration::registerCodecs();  // JPEG-LS lossless and near-lossless
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

Status check_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found("DICOM file '" + path + "' not found");
  return Status::ok_status();
}

Status load_path(DcmFileFormat& ff, const std::string& path) {
  const OFCondition c = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (c.bad()) {
    if (c == EC_InvalidFilename) return Status::not_found("cannot open DICOM '" + path + "': " + c.text());
    return Status::corruption(std::string("not a readable DICOM object: ") + c.text());
  }
  // Every value now, while the file is there (values longer than DCM_MaxReadLength were only
  // checked against the file size, which is what bounds DCMTK's allocations on this path).
  const OFCondition l = ff.loadAllDataIntoMemory();
  if (l.bad()) return Status::corruption(std::string("not a readable DICOM object: ") + l.text());
  return Status::ok_status();
}

Status load_file(DcmFileFormat& ff, const std::string& path) {
  init_dcmtk();
  HEAL_RETURN_IF_ERROR(check_path(path));
  auto bytes = read_file(path, kMaxFileBytes);
  if (!bytes.ok()) return bytes.status().with_context("DICOM '" + path + "'");
  HEAL_RETURN_IF_ERROR(internal::scan_dicom(*bytes));  // nesting depth, before DCMTK recurses
  return load_path(ff, path);
}

// Bytes go through DCMTK's file reader too, from an anonymous in-memory file: its buffer-stream
// reader allocates whatever length an element declares (4 GiB from a 100-byte input), its file
// reader refuses a length larger than the bytes that remain.
Status load_bytes(DcmFileFormat& ff, std::span<const std::uint8_t> bytes) {
  init_dcmtk();
  if (bytes.empty()) return Status::corruption("not a readable DICOM object: no bytes");
  HEAL_RETURN_IF_ERROR(internal::scan_dicom(bytes));
  const int fd = memfd_create("heal-dicom", MFD_CLOEXEC);
  if (fd < 0) return Status::io_error(std::string("DICOM: memfd_create failed: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) {
      const int e = errno;
      ::close(fd);
      return Status::io_error(std::string("DICOM: cannot buffer the object: ") + std::strerror(e));
    }
    done += static_cast<std::size_t>(w);
  }
  Status st = load_path(ff, "/proc/self/fd/" + std::to_string(fd));
  ::close(fd);
  if (!st.ok() && st.code() == StatusCode::kNotFound) {
    return Status::io_error("DICOM: cannot reopen the in-memory object (/proc not mounted?)");
  }
  return st;
}

std::string get_string(DcmDataset* ds, const DcmTagKey& tag) {
  OFString v;
  if (ds->findAndGetOFString(tag, v).bad()) return {};
  return std::string(v.c_str());
}

int get_int(DcmDataset* ds, const DcmTagKey& tag, int fallback) {
  Uint16 u = 0;
  if (ds->findAndGetUint16(tag, u).good()) return u;
  Sint32 s = 0;
  if (ds->findAndGetSint32(tag, s).good()) return static_cast<int>(s);
  const std::string str = get_string(ds, tag);
  if (!str.empty()) {
    char* end = nullptr;
    const long v = std::strtol(str.c_str(), &end, 10);
    if (end != str.c_str() && v >= -2147483647L && v <= 2147483647L) return static_cast<int>(v);
  }
  return fallback;
}

bool get_double(DcmDataset* ds, const DcmTagKey& tag, unsigned long pos, double& out) {
  Float64 v = 0;
  if (ds->findAndGetFloat64(tag, v, pos).bad() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// As stored, non-finite values included: geometry consumers (scan_dicom_series) refuse NaN/inf
// positions instead of silently falling back to another slice order.
bool get_double_raw(DcmDataset* ds, const DcmTagKey& tag, unsigned long pos, double& out) {
  Float64 v = 0;
  if (ds->findAndGetFloat64(tag, v, pos).bad()) return false;
  out = v;
  return true;
}

DicomInfo info_of(DcmFileFormat& ff) {
  DcmDataset* ds = ff.getDataset();
  DicomInfo info;
  info.sop_instance_uid = get_string(ds, DCM_SOPInstanceUID);
  info.series_instance_uid = get_string(ds, DCM_SeriesInstanceUID);
  info.study_instance_uid = get_string(ds, DCM_StudyInstanceUID);
  info.modality = get_string(ds, DCM_Modality);
  info.photometric = get_string(ds, DCM_PhotometricInterpretation);
  info.transfer_syntax = DcmXfer(ds->getOriginalXfer()).getXferID();
  info.rows = get_int(ds, DCM_Rows, 0);
  info.columns = get_int(ds, DCM_Columns, 0);
  info.frames = get_int(ds, DCM_NumberOfFrames, 1);
  info.samples_per_pixel = get_int(ds, DCM_SamplesPerPixel, 1);
  info.bits_allocated = get_int(ds, DCM_BitsAllocated, 0);
  info.bits_stored = get_int(ds, DCM_BitsStored, 0);
  info.high_bit = get_int(ds, DCM_HighBit, 0);
  info.pixel_representation = get_int(ds, DCM_PixelRepresentation, 0);
  info.planar_configuration = get_int(ds, DCM_PlanarConfiguration, 0);
  get_double(ds, DCM_RescaleSlope, 0, info.rescale_slope);
  get_double(ds, DCM_RescaleIntercept, 0, info.rescale_intercept);
  for (unsigned long i = 0;; ++i) {
    double c = 0, w = 0;
    if (!get_double(ds, DCM_WindowCenter, i, c) || !get_double(ds, DCM_WindowWidth, i, w)) break;
    info.windows.push_back({c, w});
  }
  get_double(ds, DCM_PixelSpacing, 0, info.row_spacing_mm);
  get_double(ds, DCM_PixelSpacing, 1, info.column_spacing_mm);
  std::array<double, 3> pos{};
  if (get_double_raw(ds, DCM_ImagePositionPatient, 0, pos[0]) &&
      get_double_raw(ds, DCM_ImagePositionPatient, 1, pos[1]) &&
      get_double_raw(ds, DCM_ImagePositionPatient, 2, pos[2])) {
    info.image_position = pos;
  }
  std::array<double, 6> ori{};
  bool all = true;
  for (unsigned long i = 0; i < 6 && all; ++i) all = get_double_raw(ds, DCM_ImageOrientationPatient, i, ori[i]);
  if (all) info.image_orientation = ori;
  if (ds->tagExists(DCM_InstanceNumber)) info.instance_number = get_int(ds, DCM_InstanceNumber, 0);
  info.has_pixel_data = ds->tagExists(DCM_PixelData);
  return info;
}

// The pixel module as validated numbers.
struct PixelModule {
  int rows = 0, columns = 0, frames = 1, samples = 1;
  int bits_allocated = 0, bits_stored = 0, high_bit = 0;
  bool is_signed = false;
  int planar = 0;
  std::string photometric;
  std::uint64_t frame_samples() const { return static_cast<std::uint64_t>(rows) * columns * samples; }
  std::uint64_t frame_bits() const { return frame_samples() * static_cast<std::uint64_t>(bits_allocated); }
};

bool is_j2k(E_TransferSyntax x) {
  return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000 || x == EXS_JPEG2000MulticomponentLosslessOnly ||
         x == EXS_JPEG2000Multicomponent;
}

// Checks the header before any pixel is touched (DCMTK trusts it; a lying header must not make it
// allocate gigabytes or read past the pixel data).
Result<PixelModule> pixel_module(DcmDataset* ds) {
  if (!ds->tagExists(DCM_PixelData)) return Status::unsupported("DICOM file has no pixel data (not an image)");
  PixelModule m;
  m.rows = get_int(ds, DCM_Rows, 0);
  m.columns = get_int(ds, DCM_Columns, 0);
  m.frames = get_int(ds, DCM_NumberOfFrames, 1);
  m.samples = get_int(ds, DCM_SamplesPerPixel, 1);
  m.bits_allocated = get_int(ds, DCM_BitsAllocated, 0);
  m.bits_stored = get_int(ds, DCM_BitsStored, m.bits_allocated);
  m.high_bit = get_int(ds, DCM_HighBit, m.bits_stored - 1);
  m.is_signed = get_int(ds, DCM_PixelRepresentation, 0) == 1;
  m.planar = get_int(ds, DCM_PlanarConfiguration, 0);
  m.photometric = get_string(ds, DCM_PhotometricInterpretation);
  if (m.rows <= 0 || m.columns <= 0) {
    return Status::corruption("DICOM image has no size (Rows " + std::to_string(m.rows) + ", Columns " +
                              std::to_string(m.columns) + ")");
  }
  if (m.frames < 1) return Status::corruption("DICOM Number of Frames is " + std::to_string(m.frames));
  if (m.samples != 1 && m.samples != 3) {
    return Status::unsupported("DICOM Samples per Pixel " + std::to_string(m.samples) + " (HEAL reads 1 or 3)");
  }
  if (m.bits_allocated != 1 && m.bits_allocated != 8 && m.bits_allocated != 16 && m.bits_allocated != 32) {
    return Status::unsupported("DICOM Bits Allocated " + std::to_string(m.bits_allocated) +
                               " (HEAL reads 1, 8, 16 or 32)");
  }
  if (m.bits_stored < 1 || m.bits_stored > m.bits_allocated || m.high_bit < m.bits_stored - 1 ||
      m.high_bit >= m.bits_allocated) {
    return Status::corruption("DICOM Bits Stored " + std::to_string(m.bits_stored) + " / High Bit " +
                              std::to_string(m.high_bit) + " do not fit Bits Allocated " +
                              std::to_string(m.bits_allocated));
  }
  if (m.samples == 3 && m.planar != 0 && m.planar != 1) {
    return Status::corruption("DICOM Planar Configuration " + std::to_string(m.planar));
  }
  if (m.frame_samples() > kMaxFrameSamples ||
      m.frame_samples() * static_cast<std::uint64_t>(m.frames) > kMaxTotalSamples) {
    return Status::unsupported("DICOM image too large (" + std::to_string(m.columns) + "x" + std::to_string(m.rows) +
                               "x" + std::to_string(m.samples) + ", " + std::to_string(m.frames) + " frames)");
  }
  DcmElement* el = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, el).bad() || el == nullptr) {
    return Status::corruption("DICOM pixel data element unreadable");
  }
  const DcmXfer x(ds->getOriginalXfer());
  if (!x.isEncapsulated()) {
    const std::uint64_t need = (m.frame_bits() * static_cast<std::uint64_t>(m.frames) + 7) / 8;
    if (static_cast<std::uint64_t>(el->getLength()) < need) {
      return Status::corruption("DICOM pixel data holds " + std::to_string(el->getLength()) + " bytes, " +
                                std::to_string(m.frames) + " frame(s) of " + std::to_string(m.columns) + "x" +
                                std::to_string(m.rows) + " need " + std::to_string(need));
    }
  }
  return m;
}

Status check_frame(const PixelModule& m, int frame) {
  if (frame < 0 || frame >= m.frames) {
    return Status::invalid_argument("DICOM frame " + std::to_string(frame) + " out of range: the object has " +
                                    std::to_string(m.frames) + " frame(s) (0-based)");
  }
  return Status::ok_status();
}

// The fragments of one frame of encapsulated pixel data (PS3.5 A.4): one fragment per frame, all
// fragments for a single frame, or the Basic Offset Table.
Result<std::vector<std::uint8_t>> encapsulated_frame(DcmDataset* ds, int frames, int frame) {
  DcmElement* el = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, el).bad() || el == nullptr) {
    return Status::corruption("DICOM pixel data element unreadable");
  }
  auto* pd = dynamic_cast<DcmPixelData*>(el);
  DcmPixelSequence* seq = nullptr;
  if (pd == nullptr || pd->getEncapsulatedRepresentation(ds->getOriginalXfer(), nullptr, seq).bad() || !seq) {
    return Status::corruption("DICOM encapsulated pixel data unreadable");
  }
  const unsigned long n = seq->card();
  if (n < 2) return Status::corruption("DICOM encapsulated pixel data has no fragments");
  auto item_bytes = [&](unsigned long i, std::vector<std::uint8_t>* out) -> Status {
    DcmPixelItem* it = nullptr;
    Uint8* p = nullptr;
    if (seq->getItem(it, i).bad() || !it) return Status::corruption("DICOM pixel fragment unreadable");
    const Uint32 len = it->getLength();
    if (len == 0) return Status::ok_status();
    if (it->getUint8Array(p).bad() || !p) return Status::corruption("DICOM pixel fragment unreadable");
    out->insert(out->end(), p, p + len);
    return Status::ok_status();
  };
  const unsigned long fragments = n - 1;
  std::vector<std::uint8_t> out;
  if (fragments == static_cast<unsigned long>(frames)) {
    HEAL_RETURN_IF_ERROR(item_bytes(static_cast<unsigned long>(frame) + 1, &out));
    return out;
  }
  if (frames == 1) {
    for (unsigned long i = 1; i < n; ++i) HEAL_RETURN_IF_ERROR(item_bytes(i, &out));
    return out;
  }
  // Several fragments per frame: the Basic Offset Table gives each frame's first fragment.
  std::vector<std::uint8_t> bot;
  HEAL_RETURN_IF_ERROR(item_bytes(0, &bot));
  if (bot.size() != 4 * static_cast<std::size_t>(frames)) {
    return Status::unsupported("DICOM encapsulated pixel data: " + std::to_string(fragments) + " fragments for " +
                               std::to_string(frames) + " frames and no Basic Offset Table");
  }
  auto offset = [&](int f) {
    const std::size_t o = 4 * static_cast<std::size_t>(f);
    return std::uint64_t{bot[o]} | std::uint64_t{bot[o + 1]} << 8 | std::uint64_t{bot[o + 2]} << 16 |
           std::uint64_t{bot[o + 3]} << 24;
  };
  const std::uint64_t begin = offset(frame);
  const std::uint64_t end = frame + 1 < frames ? offset(frame + 1) : UINT64_MAX;
  std::uint64_t pos = 0;  // offset of the fragment's item tag from the first fragment
  bool found = false;
  for (unsigned long i = 1; i < n; ++i) {
    DcmPixelItem* it = nullptr;
    if (seq->getItem(it, i).bad() || !it) return Status::corruption("DICOM pixel fragment unreadable");
    if (pos == begin) found = true;
    if (pos >= begin && pos < end) HEAL_RETURN_IF_ERROR(item_bytes(i, &out));
    pos += 8 + static_cast<std::uint64_t>(it->getLength());
  }
  if (!found) return Status::corruption("DICOM Basic Offset Table points between fragments");
  return out;
}

// Replaces JPEG 2000 pixel data by the native samples of frames [first, first + count), decoded
// with OpenJPEG, so that DCMTK renders them like any uncompressed object.
Status j2k_to_native(DcmDataset* ds, const PixelModule& m, int first, int count) {
  if (m.bits_allocated != 8 && m.bits_allocated != 16) {
    return Status::unsupported("JPEG 2000 DICOM with Bits Allocated " + std::to_string(m.bits_allocated));
  }
  internal::J2kExpect e;
  e.rows = m.rows;
  e.columns = m.columns;
  e.samples = m.samples;
  e.bits_allocated = m.bits_allocated;
  e.bits_stored = m.bits_stored;
  e.is_signed = m.is_signed;
  std::vector<std::uint8_t> native;
  for (int f = first; f < first + count; ++f) {
    HEAL_ASSIGN_OR_RETURN(std::vector<std::uint8_t> cs, encapsulated_frame(ds, m.frames, f));
    HEAL_RETURN_IF_ERROR(internal::decode_j2k_frame(cs, e, &native).with_context("frame " + std::to_string(f)));
  }
  ds->findAndDeleteElement(DCM_PixelData);
  OFCondition c;
  if (m.bits_allocated == 8) {
    c = ds->putAndInsertUint8Array(DCM_PixelData, native.data(), static_cast<unsigned long>(native.size()));
  } else {
    std::vector<Uint16> words(native.size() / 2);
    for (std::size_t i = 0; i < words.size(); ++i) {
      words[i] = static_cast<Uint16>(native[2 * i] | (native[2 * i + 1] << 8));
    }
    c = ds->putAndInsertUint16Array(DCM_PixelData, words.data(), static_cast<unsigned long>(words.size()));
  }
  if (c.good()) c = ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(count).c_str());
  if (c.good()) c = ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(m.bits_stored - 1));
  if (c.good() && m.samples == 3) {
    c = ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    // OpenJPEG undoes the codestream's multi-component transform (YBR_RCT / YBR_ICT), giving RGB.
    if (c.good() && (m.photometric == "YBR_RCT" || m.photometric == "YBR_ICT")) {
      c = ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
    }
  }
  if (c.bad()) return Status::internal(std::string("DICOM: cannot store the decoded JPEG 2000 frames: ") + c.text());
  return Status::ok_status();
}

// Makes the pixel data native (uncompressed) for frames [first, first + count); returns the
// transfer syntax DicomImage must be told and the index of `first` in the result.
struct Prepared {
  E_TransferSyntax xfer = EXS_Unknown;
  int frame_offset = 0;  // frame index in the prepared dataset = frame - frame_offset
};

Result<Prepared> prepare(DcmDataset* ds, const PixelModule& m, int first, int count) {
  const E_TransferSyntax orig = ds->getOriginalXfer();
  const DcmXfer x(orig);
  Prepared p;
  if (is_j2k(orig)) {
    HEAL_RETURN_IF_ERROR(j2k_to_native(ds, m, first, count));
    p.xfer = EXS_LittleEndianExplicit;
    p.frame_offset = first;
    return p;
  }
  if (x.isEncapsulated()) {
    if (ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
        !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
      return Status::unsupported(std::string("DICOM transfer syntax '") + x.getXferName() + "' (" + x.getXferID() +
                                 ") could not be decoded (no decoder for it, or damaged compressed data)");
    }
    p.xfer = EXS_LittleEndianExplicit;
    return p;
  }
  p.xfer = ds->getCurrentXfer();
  return p;
}

Status resample(Image* img, DcmDataset* ds, double spacing_mm) {
  if (spacing_mm <= 0) return Status::ok_status();
  if (!std::isfinite(spacing_mm)) return Status::invalid_argument("DICOM spacing must be a finite number of mm");
  double row_mm = 0, col_mm = 0;
  if (!get_double(ds, DCM_PixelSpacing, 0, row_mm) || !get_double(ds, DCM_PixelSpacing, 1, col_mm) || row_mm <= 0 ||
      col_mm <= 0) {
    return Status::invalid_argument(
        "DICOM object has no usable Pixel Spacing (0028,0030), so it cannot be resampled to " +
        std::to_string(spacing_mm) + " mm; load it without a spacing");
  }
  // New size: round(size * spacing_in_file / spacing_wanted), at least 1 (the field of view is kept
  // up to half an output pixel).
  const double w = std::round(img->width * col_mm / spacing_mm);
  const double h = std::round(img->height * row_mm / spacing_mm);
  if (w > kMaxResampledSide || h > kMaxResampledSide) {
    return Status::invalid_argument("resampling to " + std::to_string(spacing_mm) + " mm would make a " +
                                    std::to_string(static_cast<long long>(w)) + "x" +
                                    std::to_string(static_cast<long long>(h)) + " image (limit " +
                                    std::to_string(static_cast<int>(kMaxResampledSide)) + ")");
  }
  *img = resize(*img, std::max(1, static_cast<int>(w)), std::max(1, static_cast<int>(h)));
  return Status::ok_status();
}

// Renders frame `frame` (index in the prepared dataset) to [0, 1] pixels.
Result<Image> render_frame(DcmFileFormat& ff, const PixelModule& m, E_TransferSyntax xfer, int frame,
                           const DicomOptions& opts, unsigned long flags) {
  DicomImage di(&ff, xfer, flags, static_cast<unsigned long>(frame), 1);
  if (di.getStatus() != EIS_Normal) {
    return Status::corruption(std::string("DICOM image cannot be rendered: ") +
                              DicomImage::getString(di.getStatus()));
  }
  const auto w = static_cast<int>(di.getWidth());
  const auto h = static_cast<int>(di.getHeight());
  if (w != m.columns || h != m.rows) return Status::corruption("DICOM image size changed while decoding");
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  if (di.isMonochrome()) {
    bool set = false;
    if (opts.window.kind == DicomWindow::Kind::kExplicit) {
      if (!std::isfinite(opts.window.center) || !std::isfinite(opts.window.width) || opts.window.width < 1.0) {
        return Status::invalid_argument("DICOM window width must be >= 1 and both numbers finite");
      }
      set = di.setWindow(opts.window.center, opts.window.width) != 0;
      if (!set) return Status::invalid_argument("DICOM window could not be applied");
    } else if (opts.window.kind == DicomWindow::Kind::kFile && di.getWindowCount() > 0) {
      set = di.setWindow(0) != 0;
    }
    if (!set) di.setMinMaxWindow(0);
    const auto* out = static_cast<const Uint16*>(di.getOutputData(16, 0));
    if (!out) return Status::corruption("DICOM pixel data could not be rendered");
    img.channels = 1;
    img.pixels.resize(plane);
    for (std::size_t i = 0; i < plane; ++i) img.pixels[i] = static_cast<float>(out[i]) / 65535.0f;
  } else {
    const int bits = m.bits_stored > 8 ? 16 : 8;
    const void* out = di.getOutputData(bits, 0, 1 /*planar*/);
    if (!out) return Status::corruption("DICOM colour pixel data could not be rendered");
    img.channels = 3;
    img.pixels.resize(plane * 3);
    if (bits == 8) {
      const auto* o = static_cast<const Uint8*>(out);
      for (std::size_t i = 0; i < plane * 3; ++i) img.pixels[i] = static_cast<float>(o[i]) / 255.0f;
    } else {
      const auto* o = static_cast<const Uint16*>(out);
      for (std::size_t i = 0; i < plane * 3; ++i) img.pixels[i] = static_cast<float>(o[i]) / 65535.0f;
    }
  }
  HEAL_RETURN_IF_ERROR(resample(&img, ff.getDataset(), opts.spacing_mm));
  return img;
}

Result<Image> render(DcmFileFormat& ff, const DicomOptions& opts) {
  DcmDataset* ds = ff.getDataset();
  HEAL_ASSIGN_OR_RETURN(PixelModule m, pixel_module(ds));
  HEAL_RETURN_IF_ERROR(check_frame(m, opts.frame));
  HEAL_ASSIGN_OR_RETURN(Prepared p, prepare(ds, m, opts.frame, 1));
  return render_frame(ff, m, p.xfer, opts.frame - p.frame_offset, opts, CIF_MayDetachPixelData);
}

Result<std::vector<Image>> render_all(DcmFileFormat& ff, const DicomOptions& opts) {
  DcmDataset* ds = ff.getDataset();
  HEAL_ASSIGN_OR_RETURN(PixelModule m, pixel_module(ds));
  HEAL_ASSIGN_OR_RETURN(Prepared p, prepare(ds, m, 0, m.frames));
  std::vector<Image> frames;
  frames.reserve(static_cast<std::size_t>(m.frames));
  for (int f = 0; f < m.frames; ++f) {
    auto img = render_frame(ff, m, p.xfer, f, opts, 0);
    if (!img.ok()) return img.status().with_context("frame " + std::to_string(f));
    frames.push_back(std::move(img).value());
  }
  return frames;
}

// Stored value of sample `i` (0-based over the frame's samples in file order) of a native frame:
// Bits Stored bits ending at High Bit, sign-extended when Pixel Representation is 1.
std::int64_t stored_value(const PixelModule& m, const std::uint8_t* base, std::uint64_t i) {
  std::uint64_t raw = 0;
  switch (m.bits_allocated) {
    case 1: raw = (base[i / 8] >> (i % 8)) & 1u; break;
    case 8: raw = base[i]; break;
    case 16: {
      std::uint16_t w;
      std::memcpy(&w, base + 2 * i, 2);
      raw = w;
      break;
    }
    default: {
      std::uint32_t w;
      std::memcpy(&w, base + 4 * i, 4);
      raw = w;
      break;
    }
  }
  const int shift = m.high_bit + 1 - m.bits_stored;
  const std::uint64_t mask = (m.bits_stored >= 64) ? ~0ull : ((1ull << m.bits_stored) - 1);
  std::uint64_t v = (raw >> shift) & mask;
  if (m.is_signed && m.bits_stored > 0 && (v >> (m.bits_stored - 1)) & 1u) {
    return static_cast<std::int64_t>(v) - (std::int64_t{1} << m.bits_stored);
  }
  return static_cast<std::int64_t>(v);
}

Result<DicomValues> values_of(DcmFileFormat& ff, int frame) {
  DcmDataset* ds = ff.getDataset();
  HEAL_ASSIGN_OR_RETURN(PixelModule m, pixel_module(ds));
  HEAL_RETURN_IF_ERROR(check_frame(m, frame));
  HEAL_ASSIGN_OR_RETURN(Prepared p, prepare(ds, m, frame, 1));
  const int local = frame - p.frame_offset;
  DicomValues v;
  v.width = m.columns;
  v.height = m.rows;
  const std::size_t plane = static_cast<std::size_t>(m.rows) * m.columns;
  const bool mono = m.samples == 1 && m.photometric != "PALETTE COLOR";
  if (!mono) {
    // Colour: the RGB values DCMTK's colour models give (YBR_* converted, PALETTE COLOR looked up),
    // at 8 bits when Bits Stored <= 8, else 16 bits.
    DicomImage di(&ff, p.xfer, 0, static_cast<unsigned long>(local), 1);
    if (di.getStatus() != EIS_Normal) {
      return Status::corruption(std::string("DICOM image cannot be decoded: ") + DicomImage::getString(di.getStatus()));
    }
    if (static_cast<int>(di.getWidth()) != m.columns || static_cast<int>(di.getHeight()) != m.rows) {
      return Status::corruption("DICOM image size changed while decoding");
    }
    if (di.isMonochrome()) return Status::unsupported("DICOM photometric '" + m.photometric + "' with 1 sample");
    const int bits = m.bits_stored > 8 ? 16 : 8;
    const void* out = di.getOutputData(bits, 0, 1);
    if (!out) return Status::corruption("DICOM colour pixel data could not be decoded");
    v.channels = 3;
    v.values.resize(plane * 3);
    for (std::size_t i = 0; i < plane * 3; ++i) {
      v.values[i] = bits == 8 ? static_cast<const Uint8*>(out)[i] : static_cast<const Uint16*>(out)[i];
    }
    return v;
  }
  if (ds->tagExists(DCM_ModalityLUTSequence)) {
    return Status::unsupported("DICOM Modality LUT Sequence (only Rescale Slope/Intercept are applied)");
  }
  double slope = 1.0, intercept = 0.0;
  get_double(ds, DCM_RescaleSlope, 0, slope);
  get_double(ds, DCM_RescaleIntercept, 0, intercept);
  DcmElement* el = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) return Status::corruption("DICOM pixel data unreadable");
  const std::uint64_t first = static_cast<std::uint64_t>(local) * m.frame_samples();
  const std::uint64_t need_bits = (first + m.frame_samples()) * static_cast<std::uint64_t>(m.bits_allocated);
  // The samples as bytes in local byte order (DCMTK swaps OW words on access).
  const std::uint8_t* base = nullptr;
  Uint8* b8 = nullptr;
  Uint16* b16 = nullptr;
  if (el->getUint8Array(b8).good() && b8 != nullptr) {
    base = b8;
  } else if (el->getUint16Array(b16).good() && b16 != nullptr) {
    base = reinterpret_cast<const std::uint8_t*>(b16);
  } else {
    return Status::corruption("DICOM pixel data unreadable");
  }
  if (static_cast<std::uint64_t>(el->getLength()) * 8 < need_bits) {
    return Status::corruption("DICOM pixel data shorter than its frames");
  }
  v.channels = 1;
  v.values.resize(plane);
  for (std::size_t i = 0; i < plane; ++i) {
    const std::int64_t s = stored_value(m, base, first + i);
    v.values[i] = static_cast<float>(static_cast<double>(s) * slope + intercept);
  }
  return v;
}
}  // namespace

Result<DicomWindow> parse_dicom_window(const std::string& spec) {
  struct Preset {
    const char* name;
    double c, w;
  };
  static constexpr Preset kPresets[] = {
      {"lung", -600, 1500}, {"mediastinum", 50, 350}, {"bone", 400, 1800}, {"brain", 40, 80}, {"abdomen", 40, 400}};
  DicomWindow win;
  if (spec == "file" || spec.empty()) return win;
  if (spec == "minmax") {
    win.kind = DicomWindow::Kind::kMinMax;
    return win;
  }
  for (const auto& p : kPresets) {
    if (spec == p.name) {
      win.kind = DicomWindow::Kind::kExplicit;
      win.center = p.c;
      win.width = p.w;
      return win;
    }
  }
  const auto sep = spec.find_first_of(",:");
  if (sep != std::string::npos) {
    const std::string a = spec.substr(0, sep), b = spec.substr(sep + 1);
    char* ea = nullptr;
    char* eb = nullptr;
    const double c = std::strtod(a.c_str(), &ea);
    const double w = std::strtod(b.c_str(), &eb);
    if (!a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && std::isfinite(c) && std::isfinite(w) && w >= 1.0) {
      win.kind = DicomWindow::Kind::kExplicit;
      win.center = c;
      win.width = w;
      return win;
    }
  }
  return Status::invalid_argument("window '" + spec +
                                  "' is not lung, mediastinum, bone, brain, abdomen, file, minmax or CENTER,WIDTH "
                                  "(numbers in modality units, width >= 1), e.g. --window -600,1500");
}

Result<DicomInfo> read_dicom_info(const std::string& path) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_file(ff, path));
  return info_of(ff);
}

Result<DicomInfo> read_dicom_info_bytes(std::span<const std::uint8_t> bytes) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_bytes(ff, bytes));
  return info_of(ff);
}

Result<Image> load_dicom(const std::string& path, const DicomOptions& opts) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_file(ff, path));
  return render(ff, opts);
}

Result<Image> decode_dicom(std::span<const std::uint8_t> bytes, const DicomOptions& opts) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_bytes(ff, bytes));
  return render(ff, opts);
}

Result<std::vector<Image>> load_dicom_frames(const std::string& path, const DicomOptions& opts) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_file(ff, path));
  return render_all(ff, opts);
}

Result<std::vector<Image>> decode_dicom_frames(std::span<const std::uint8_t> bytes, const DicomOptions& opts) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_bytes(ff, bytes));
  return render_all(ff, opts);
}

Result<DicomValues> load_dicom_values(const std::string& path, int frame) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_file(ff, path));
  return values_of(ff, frame);
}

Result<DicomValues> decode_dicom_values(std::span<const std::uint8_t> bytes, int frame) {
  DcmFileFormat ff;
  HEAL_RETURN_IF_ERROR(load_bytes(ff, bytes));
  return values_of(ff, frame);
}

}  // namespace heal::io
