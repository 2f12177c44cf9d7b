// DICOM via DCMTK: dcmdata parses the file, dcmimgle applies the modality LUT (rescale
// slope/intercept), the VOI window and the MONOCHROME1 polarity (DICOM PS3.3 C.11.2.1.2).
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/oflog/oflog.h"

#include <filesystem>
#include <mutex>

#include "heal/io/image.h"

namespace heal::io {
namespace {
void quiet_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}
}  // namespace

Result<Image> load_dicom(const std::string& path) {
  quiet_dcmtk();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found("DICOM file '" + path + "' not found");
  DcmFileFormat ff;
  const OFCondition c = ff.loadFile(path.c_str());
  if (c.bad()) {
    if (c == EC_InvalidFilename) return Status::not_found("cannot open DICOM '" + path + "': " + c.text());
    return Status::corruption(std::string("not a readable DICOM file: ") + c.text());
  }
  DcmDataset* ds = ff.getDataset();
  if (!ds->tagExists(DCM_PixelData)) return Status::unsupported("DICOM file has no pixel data (not an image)");
  const E_TransferSyntax xfer = ds->getOriginalXfer();
  const DcmXfer x(xfer);
  if (x.isEncapsulated() && ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad()) {
    return Status::unsupported(std::string("DICOM transfer syntax '") + x.getXferName() + "' (" + x.getXferID() +
                               ") is compressed and HEAL registers no decoder for it; convert the file to "
                               "an uncompressed syntax first (e.g. `dcmdjpeg in.dcm out.dcm`)");
  }
  OFString photometric;
  ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  DicomImage di(&ff, ds->getCurrentXfer(), CIF_MayDetachPixelData, 0, 1);
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
    // The file's first VOI window if it has one, else the full min/max range of the pixels.
    if (di.getWindowCount() == 0 || !di.setWindow(0)) di.setMinMaxWindow(0);
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

}  // namespace heal::io
