// DIMSE client: C-FIND (study root, STUDY -> SERIES -> IMAGE) and C-GET (PS3.4 C.4.3) through DCMTK's
// DcmSCU. C-GET receives the objects on the same association (no C-MOVE destination, no listening port):
// HEAL proposes the storage SOP classes with the SCP role and keeps the received object in memory.
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/scu.h"
#include "dcmtk/oflog/oflog.h"

#include <cstdio>
#include <memory>
#include <mutex>

#include "pacs_internal.h"

namespace heal::io {
namespace {

void quiet_dcmtk() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

// Receives C-STORE sub-operations of a C-GET into memory.
class GetScu final : public DcmSCU {
 public:
  std::vector<std::vector<std::uint8_t>> received;
  std::size_t max_bytes = 0;
  Status error;

 protected:
  OFCondition handleSTORERequest(const T_ASC_PresentationContextID /*presID*/, DcmDataset* incoming,
                                 OFBool& continue_session, Uint16& store_status) override {
    continue_session = OFTrue;
    store_status = STATUS_Success;
    if (incoming == nullptr) {
      store_status = STATUS_STORE_Error_CannotUnderstand;
      return EC_IllegalParameter;
    }
    // Ownership of `incoming`: DCMTK up to 3.6.7 hands it over ("deletes it after processing", scu.h; ASan
    // showed the leak), later releases delete it in handleCGETSession themselves.
#if PACKAGE_VERSION_NUMBER <= 367
    std::unique_ptr<DcmDataset> owned(incoming);
#endif
    E_TransferSyntax xfer = incoming->getOriginalXfer();
    if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
    DcmFileFormat ff(incoming);  // copies the dataset and adds meta information on write
    const Uint32 len = ff.calcElementLength(xfer, EET_ExplicitLength);
    if (len > max_bytes) {
      error = Status::out_of_range("C-GET: an object of " + std::to_string(len) + " bytes exceeds the limit of " +
                                   std::to_string(max_bytes));
      store_status = STATUS_STORE_Refused_OutOfResources;
      continue_session = OFFalse;
      return EC_Normal;
    }
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(len) + 4096);
    DcmOutputBufferStream out(buf.data(), static_cast<offile_off_t>(buf.size()));
    ff.validateMetaInfo(xfer);
    ff.transferInit();
    const OFCondition c = ff.write(out, xfer, EET_ExplicitLength, nullptr);
    ff.transferEnd();
    if (c.bad()) {
      error = Status::corruption(std::string("C-GET: cannot serialise a received object: ") + c.text());
      store_status = STATUS_STORE_Error_CannotUnderstand;
      return EC_Normal;
    }
    void* p = nullptr;
    offile_off_t n = 0;
    out.flushBuffer(p, n);
    buf.resize(static_cast<std::size_t>(n));
    received.push_back(std::move(buf));
    return EC_Normal;
  }
};

// Stops a C-FIND once more than `cap` matches arrived (a hostile peer cannot fill memory); the caller
// then aborts the association.
class FindScu final : public DcmSCU {
 public:
  std::size_t cap = 0, count = 0;
  bool over = false;

 protected:
  OFCondition handleFINDResponse(const T_ASC_PresentationContextID presID, QRResponse* response,
                                 OFBool& wait_for_next) override {
    const OFCondition c = DcmSCU::handleFINDResponse(presID, response, wait_for_next);
    if (response != nullptr && response->m_dataset != nullptr && ++count > cap) {
      over = true;
      wait_for_next = OFFalse;
    }
    return c;
  }
};

const char* kXfers[] = {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax};

class DimseClient final : public PacsClient {
 public:
  DimseClient(PacsUrl url, PacsLimits limits) : url_(std::move(url)), limits_(limits) { quiet_dcmtk(); }
  ~DimseClient() override {
    if (get_ && get_->isConnected()) get_->releaseAssociation();
  }

  std::string endpoint() const override { return url_.endpoint(); }

  Result<std::vector<PacsInstance>> find_instances(const PacsFilters& filters) override {
    FindScu scu;
    scu.cap = limits_.max_matches;
    configure(scu);
    OFList<OFString> xf;
    for (const char* x : kXfers) xf.push_back(x);
    scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, xf);
    HEAL_RETURN_IF_ERROR(connect(scu));
    const T_ASC_PresentationContextID pc =
        scu.findPresentationContextID(UID_FINDStudyRootQueryRetrieveInformationModel, "");
    if (pc == 0) {
      scu.releaseAssociation();
      return Status::unavailable("the PACS at " + endpoint() + " refused the C-FIND presentation context");
    }
    std::vector<std::pair<DcmTagKey, std::string>> study_keys, series_keys;
    for (const auto& [k, v] : filters) {
      DcmTagKey key;
      if (k.size() == 8 && k.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
        key = DcmTagKey(static_cast<Uint16>(std::stoul(k.substr(0, 4), nullptr, 16)),
                        static_cast<Uint16>(std::stoul(k.substr(4), nullptr, 16)));
      } else {
        DcmTag t;
        if (DcmTag::findTagFromName(k.c_str(), t).bad()) {
          scu.releaseAssociation();
          return Status::invalid_argument("C-FIND: '" + k + "' is not a DICOM keyword");
        }
        key = t;
      }
      (pacs_detail::is_series_level_key(k) ? series_keys : study_keys).emplace_back(key, v);
    }
    std::vector<PacsInstance> out;
    Status st = [&]() -> Status {
      HEAL_ASSIGN_OR_RETURN(auto studies, find(scu, pc, "STUDY", study_keys, {DCM_StudyInstanceUID}));
      for (const auto& s : studies) {
        auto keys = series_keys;
        keys.emplace_back(DCM_StudyInstanceUID, s[0]);
        HEAL_ASSIGN_OR_RETURN(auto series, find(scu, pc, "SERIES", keys, {DCM_SeriesInstanceUID, DCM_Modality}));
        for (const auto& se : series) {
          HEAL_ASSIGN_OR_RETURN(auto images,
                                find(scu, pc, "IMAGE",
                                     {{DCM_StudyInstanceUID, s[0]}, {DCM_SeriesInstanceUID, se[0]}},
                                     {DCM_SOPInstanceUID}));
          for (const auto& im : images) {
            if (out.size() >= limits_.max_matches) {
              return Status::out_of_range("C-FIND at " + endpoint() + ": more than " +
                                          std::to_string(limits_.max_matches) + " instances match");
            }
            out.push_back({s[0], se[0], im[0], se[1]});
          }
        }
      }
      return {};
    }();
    if (scu.over) {
      scu.abortAssociation();
      return Status::out_of_range("C-FIND at " + endpoint() + ": more than " + std::to_string(limits_.max_matches) +
                                  " matches; narrow the filters");
    }
    scu.releaseAssociation();
    HEAL_RETURN_IF_ERROR(st);
    return out;
  }

  Result<std::vector<std::uint8_t>> retrieve(const PacsInstance& inst) override {
    if (!pacs_detail::valid_uid(inst.study_uid) || !pacs_detail::valid_uid(inst.series_uid) ||
        !pacs_detail::valid_uid(inst.sop_uid)) {
      return Status::invalid_argument("C-GET: an instance to retrieve has a malformed UID");
    }
    if (!get_ || !get_->isConnected()) {
      get_ = std::make_unique<GetScu>();
      configure(*get_);
      OFList<OFString> xf;
      for (const char* x : kXfers) xf.push_back(x);
      get_->addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel, xf);
      // Storage SOP classes with the SCP role, for the C-STORE sub-operations (at most 128 contexts).
      for (int i = 0; i < numberOfDcmShortSCUStorageSOPClassUIDs && i < 120; ++i) {
        get_->addPresentationContext(dcmShortSCUStorageSOPClassUIDs[i], xf, ASC_SC_ROLE_SCP);
      }
      Status c = connect(*get_);
      if (!c.ok()) {
        get_.reset();
        return c;
      }
    }
    get_->received.clear();
    get_->error = {};
    get_->max_bytes = limits_.max_instance_bytes;
    const T_ASC_PresentationContextID pc =
        get_->findPresentationContextID(UID_GETStudyRootQueryRetrieveInformationModel, "");
    if (pc == 0) return Status::unavailable("the PACS at " + endpoint() + " refused the C-GET presentation context");
    DcmDataset q;
    q.putAndInsertString(DCM_QueryRetrieveLevel, "IMAGE");
    q.putAndInsertString(DCM_StudyInstanceUID, inst.study_uid.c_str());
    q.putAndInsertString(DCM_SeriesInstanceUID, inst.series_uid.c_str());
    q.putAndInsertString(DCM_SOPInstanceUID, inst.sop_uid.c_str());
    OFList<RetrieveResponse*> responses;
    const OFCondition c = get_->sendCGETRequest(pc, &q, &responses);
    Uint16 final_status = 0;
    if (!responses.empty()) final_status = responses.back()->m_status;
    for (auto* r : responses) delete r;
    if (c.bad()) {
      get_.reset();
      return Status::unavailable("C-GET at " + endpoint() + " failed: " + c.text());
    }
    if (!get_->error.ok()) return get_->error;
    if (final_status != STATUS_Success && final_status != 0) {
      return Status::unavailable("C-GET at " + endpoint() + " ended with DIMSE status 0x" + hex(final_status) +
                                 " (does the PACS allow C-GET for AE title " + url_.calling_aet + "?)");
    }
    if (get_->received.size() != 1) {
      return Status::corruption("C-GET at " + endpoint() + ": expected 1 object, received " +
                                std::to_string(get_->received.size()));
    }
    if (get_->received[0].size() > limits_.max_instance_bytes) {
      return Status::out_of_range("C-GET at " + endpoint() + ": object exceeds the size limit");
    }
    return std::move(get_->received[0]);
  }

 private:
  static std::string hex(Uint16 v) {
    char b[8];
    std::snprintf(b, sizeof b, "%04X", v);
    return b;
  }

  void configure(DcmSCU& scu) const {
    scu.setAETitle(url_.calling_aet.c_str());
    scu.setPeerHostName(url_.host.c_str());
    scu.setPeerPort(static_cast<Uint16>(url_.port));
    scu.setPeerAETitle(url_.called_aet.c_str());
    scu.setConnectionTimeout(static_cast<Sint32>(limits_.connect_timeout_s));
    scu.setACSETimeout(static_cast<Uint32>(limits_.timeout_s));
    scu.setDIMSETimeout(static_cast<Uint32>(limits_.timeout_s));
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setMaxReceivePDULength(ASC_DEFAULTMAXPDU);
  }

  Status connect(DcmSCU& scu) const {
    OFCondition c = scu.initNetwork();
    if (c.bad()) return Status::unavailable(std::string("DIMSE: cannot initialise the network: ") + c.text());
    c = scu.negotiateAssociation();
    if (c.bad()) {
      return Status::unavailable("cannot open a DICOM association with " + endpoint() + " as AE title " +
                                 url_.calling_aet + " (" + c.text() + "): is Orthanc (or the PACS) running at " +
                                 url_.host + ":" + std::to_string(url_.port) +
                                 ", and does it know this AE title (Orthanc: DicomModalities)?");
    }
    return {};
  }

  // One C-FIND at `level`; returns the values of `wanted` (UIDs validated) per matching record.
  Result<std::vector<std::vector<std::string>>> find(FindScu& scu, T_ASC_PresentationContextID pc, const char* level,
                                                     const std::vector<std::pair<DcmTagKey, std::string>>& keys,
                                                     const std::vector<DcmTagKey>& wanted) {
    DcmDataset q;
    q.putAndInsertString(DCM_QueryRetrieveLevel, level);
    for (const auto& [k, v] : keys) {
      if (q.putAndInsertString(DcmTag(k), v.c_str()).bad()) {
        return Status::invalid_argument(std::string("C-FIND: cannot use a matching key at ") + level + " level");
      }
    }
    for (const auto& w : wanted) {
      if (!q.tagExists(w)) q.putAndInsertString(DcmTag(w), "");
    }
    OFList<QRResponse*> responses;
    scu.count = 0;
    const OFCondition c = scu.sendFINDRequest(pc, &q, &responses);
    std::vector<std::vector<std::string>> out;
    Status st;
    Uint16 final_status = 0;
    for (QRResponse* r : responses) {
      if (st.ok() && r->m_dataset != nullptr) {
        if (out.size() >= limits_.max_matches) {
          st = Status::out_of_range(std::string("C-FIND: too many matches at ") + level + " level");
        } else {
          std::vector<std::string> row;
          for (std::size_t i = 0; i < wanted.size(); ++i) {
            OFString v;
            r->m_dataset->findAndGetOFString(wanted[i], v);
            std::string s = v.c_str();
            const bool is_uid = wanted[i] != DCM_Modality;
            if (is_uid && !pacs_detail::valid_uid(s)) {
              st = Status::corruption(std::string("C-FIND at ") + endpoint() + ": a " + level +
                                      " record has a missing or malformed UID");
              break;
            }
            if (s.size() > 16 && !is_uid) s.resize(16);
            row.push_back(std::move(s));
          }
          if (st.ok()) out.push_back(std::move(row));
        }
      }
      final_status = r->m_status;
      delete r;
    }
    if (scu.over) return Status::out_of_range("C-FIND: too many matches");
    if (c.bad()) return Status::unavailable("C-FIND at " + endpoint() + " failed: " + c.text());
    HEAL_RETURN_IF_ERROR(st);
    if (final_status != STATUS_Success) {
      return Status::unavailable("C-FIND at " + endpoint() + " ended with DIMSE status 0x" + hex(final_status) +
                                 " (does the PACS allow C-FIND for AE title " + url_.calling_aet + "?)");
    }
    return out;
  }

  PacsUrl url_;
  PacsLimits limits_;
  std::unique_ptr<GetScu> get_;
};

}  // namespace

namespace pacs_detail {
Result<std::unique_ptr<PacsClient>> open_dimse(const PacsUrl& url, const PacsLimits& limits) {
  if (url.protocol != PacsProtocol::kDimse) return Status::invalid_argument("not a dimse:// URL");
  return std::unique_ptr<PacsClient>(new DimseClient(url, limits));
}
}  // namespace pacs_detail

}  // namespace heal::io
