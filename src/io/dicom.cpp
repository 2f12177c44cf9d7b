// DICOM via DCMTK: dcmdata parses the file, dcmimgle applies the modality LUT (rescale
// slope/intercept), the VOI window and the MONOCHROME1 polarity (DICOM PS3.3 C.11.2.1.2).
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/oflog/oflog.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "heal/io/dicom.h"
#include "heal/io/image.h"

namespace heal::io {
namespace {
void quiet_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

Status check_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found("DICOM file '" + path + "' not found");
  return Status::ok_status();
}

Status load_file(DcmFileFormat& ff, const std::string& path) {
  quiet_dcmtk();
  HEAL_RETURN_IF_ERROR(check_path(path));
  const OFCondition c = ff.loadFile(path.c_str());
  if (c.bad()) {
    if (c == EC_InvalidFilename) return Status::not_found("cannot open DICOM '" + path + "': " + c.text());
    return Status::corruption(std::string("not a readable DICOM file: ") + c.text());
  }
  return Status::ok_status();
}

Status load_bytes(DcmFileFormat& ff, std::span<const std::uint8_t> bytes) {
  quiet_dcmtk();
  if (bytes.empty()) return Status::corruption("not a readable DICOM object: no bytes");
  DcmInputBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  ff.transferInit();
  const OFCondition c = ff.read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  ff.transferEnd();
  if (c.bad()) return Status::corruption(std::string("not a readable DICOM object: ") + c.text());
  return Status::ok_status();
}

Result<Image> render(DcmFileFormat& ff, const DicomOptions& opts) {
  DcmDataset* ds = ff.getDataset();
  if (!ds->tagExists(DCM_PixelData)) return Status::unsupported("DICOM file has no pixel data (not an image)");
  const E_TransferSyntax xfer = ds->getOriginalXfer();
  const DcmXfer x(xfer);
  if (x.isEncapsulated() && ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad()) {
    return Status::unsupported(std::string("DICOM transfer syntax '") + x.getXferName() + "' (" + x.getXferID() +
                               ") is compressed and HEAL registers no decoder for it; convert the file to "
                               "an uncompressed syntax first (e.g. `dcmdjpeg in.dcm out.dcm`)");
  }
  DicomImage di(&ff, ds->getCurrentXfer(), CIF_MayDetachPixelData, static_cast<unsigned long>(opts.frame), 1);
  if (di.getStatus() != EIS_Normal) {
    return Status::corruption(std::string("DICOM image cannot be rendered: ") +
                              DicomImage::getString(di.getStatus()));
  }
  const auto w = static_cast<int>(di.getWidth());
  const auto h = static_cast<int>(di.getHeight());
  if (w <= 0 || h <= 0) return Status::corruption("DICOM image has zero size");
  Image img;
  img.width = img.original_width = w;
  img.height = img.original_height = h;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  if (di.isMonochrome()) {
    bool set = false;
    if (opts.window.kind == DicomWindow::Kind::kExplicit) {
      set = di.setWindow(opts.window.center, opts.window.width) != 0;
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
    const auto* out = static_cast<const Uint8*>(di.getOutputData(8, 0, 1 /*planar*/));
    if (!out) return Status::corruption("DICOM colour pixel data could not be rendered");
    img.channels = 3;
    img.pixels.resize(plane * 3);
    for (std::size_t i = 0; i < plane * 3; ++i) img.pixels[i] = static_cast<float>(out[i]) / 255.0f;
  }
  return img;
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
    if (end != str.c_str()) return static_cast<int>(v);
  }
  return fallback;
}

bool get_double(DcmDataset* ds, const DcmTagKey& tag, unsigned long pos, double& out) {
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
  if (get_double(ds, DCM_ImagePositionPatient, 0, pos[0]) && get_double(ds, DCM_ImagePositionPatient, 1, pos[1]) &&
      get_double(ds, DCM_ImagePositionPatient, 2, pos[2])) {
    info.image_position = pos;
  }
  std::array<double, 6> ori{};
  bool all = true;
  for (unsigned long i = 0; i < 6 && all; ++i) all = get_double(ds, DCM_ImageOrientationPatient, i, ori[i]);
  if (all) info.image_orientation = ori;
  if (ds->tagExists(DCM_InstanceNumber)) info.instance_number = get_int(ds, DCM_InstanceNumber, 0);
  info.has_pixel_data = ds->tagExists(DCM_PixelData);
  return info;
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

}  // namespace heal::io
