// DICOMweb client (PS3.18): QIDO-RS search and WADO-RS retrieve through libcurl; JSON (PS3.18 F.2)
// through nlohmann-json; multipart/related (RFC 2387, RFC 2046 5.1) parsed here. Every size is capped
// and every malformed answer becomes a Corruption / Unavailable Status naming the endpoint.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pacs_internal.h"

namespace heal::io {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// A short printable excerpt of a server's error body: the "Message" of Orthanc's JSON errors, else the
// first characters with anything non-printable replaced.
std::string server_message(const std::string& body) {
  std::string msg;
  try {
    const json j = json::parse(body);
    if (j.is_object()) {
      for (const char* k : {"Message", "message", "error", "Details"}) {
        if (j.contains(k) && j[k].is_string()) {
          msg = j[k].get<std::string>();
          break;
        }
      }
    }
  } catch (const json::exception&) {
  }
  if (msg.empty()) msg = body;
  if (msg.size() > 200) msg = msg.substr(0, 200) + "...";
  for (char& c : msg) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = ' ';
  }
  return trim(msg);
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*' || c == ',') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HttpResponse {
  long status = 0;
  std::string content_type;
  std::vector<std::uint8_t> body;
};

struct WriteState {
  std::vector<std::uint8_t>* body;
  std::size_t cap;
  bool too_big = false;
};

std::size_t on_write(char* data, std::size_t size, std::size_t n, void* user) {
  auto* st = static_cast<WriteState*>(user);
  const std::size_t len = size * n;
  if (st->body->size() + len > st->cap) {
    st->too_big = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  st->body->insert(st->body->end(), data, data + len);
  return len;
}

class DicomWebClient final : public PacsClient {
 public:
  DicomWebClient(PacsUrl url, PacsLimits limits) : url_(std::move(url)), limits_(limits) {
    curl_global();
    curl_ = curl_easy_init();
  }
  ~DicomWebClient() override {
    if (curl_) curl_easy_cleanup(curl_);
  }
  DicomWebClient(const DicomWebClient&) = delete;
  DicomWebClient& operator=(const DicomWebClient&) = delete;

  std::string endpoint() const override { return url_.endpoint(); }

  Result<std::vector<PacsInstance>> find_instances(const PacsFilters& filters) override {
    std::string study_q, series_q;
    for (const auto& [k, v] : filters) {
      std::string& q = pacs_detail::is_series_level_key(k) ? series_q : study_q;
      q.append("&").append(url_encode(k)).append("=").append(url_encode(v));
    }
    std::vector<PacsInstance> out;
    HEAL_ASSIGN_OR_RETURN(auto studies, qido("/studies?includefield=0020000D" + study_q, "study"));
    for (const auto& st : studies) {
      HEAL_ASSIGN_OR_RETURN(auto series,
                            qido("/studies/" + st.study_uid + "/series?includefield=0020000E" + series_q, "series"));
      for (const auto& se : series) {
        if (se.study_uid != st.study_uid && !se.study_uid.empty()) {
          return Status::corruption("QIDO-RS at " + endpoint() + ": a series record names another study");
        }
        HEAL_ASSIGN_OR_RETURN(auto insts, qido("/studies/" + st.study_uid + "/series/" + se.series_uid + "/instances",
                                               "instance"));
        for (const auto& in : insts) {
          if (out.size() >= limits_.max_matches) {
            return Status::out_of_range("QIDO-RS at " + endpoint() + ": more than " +
                                        std::to_string(limits_.max_matches) + " instances match; narrow the filters");
          }
          out.push_back({st.study_uid, se.series_uid, in.sop_uid, se.modality});
        }
      }
    }
    return out;
  }

  Result<std::vector<std::uint8_t>> retrieve(const PacsInstance& inst) override {
    if (!pacs_detail::valid_uid(inst.study_uid) || !pacs_detail::valid_uid(inst.series_uid) ||
        !pacs_detail::valid_uid(inst.sop_uid)) {
      return Status::invalid_argument("WADO-RS: an instance to retrieve has a malformed UID");
    }
    const std::string path =
        "/studies/" + inst.study_uid + "/series/" + inst.series_uid + "/instances/" + inst.sop_uid;
    HEAL_ASSIGN_OR_RETURN(HttpResponse r, get(path, "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
                                              limits_.max_instance_bytes + 64 * 1024));
    auto parts = parse_multipart_related(r.content_type, r.body, limits_.max_instance_bytes);
    if (!parts.ok()) return parts.status().with_context("WADO-RS at " + endpoint());
    if (parts->size() != 1) {
      return Status::corruption("WADO-RS at " + endpoint() + ": expected 1 DICOM part for one instance, got " +
                                std::to_string(parts->size()));
    }
    return std::move((*parts)[0]);
  }

 private:
  Result<std::vector<QidoRecord>> qido(const std::string& path, const std::string& level) {
    HEAL_ASSIGN_OR_RETURN(HttpResponse r, get(path, "application/dicom+json", limits_.max_json_bytes));
    if (r.status == 204) return std::vector<QidoRecord>{};  // no matches (PS3.18 10.6.3)
    const std::string ct = lower(r.content_type);
    if (ct.find("json") == std::string::npos) {
      return Status::corruption("QIDO-RS at " + endpoint() + ": expected a JSON response, got Content-Type '" +
                                server_message(r.content_type) + "'");
    }
    std::string_view body(reinterpret_cast<const char*>(r.body.data()), r.body.size());
    auto recs = parse_qido_json(body, level, limits_.max_matches);
    if (!recs.ok()) return recs.status().with_context("QIDO-RS at " + endpoint());
    return recs;
  }

  Result<HttpResponse> get(const std::string& path, const std::string& accept, std::size_t cap) {
    if (!curl_) return Status::internal("curl_easy_init failed");
    const std::string url = url_.endpoint() + path;
    HttpResponse r;
    WriteState ws{&r.body, cap};
    curl_easy_reset(curl_);
    char err[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = curl_slist_append(nullptr, ("Accept: " + accept).c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &ws);
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, url_.tls ? "https" : "http");
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, limits_.connect_timeout_s);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, limits_.timeout_s);
    curl_easy_setopt(curl_, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(cap));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "heal-dicomweb/1");
    if (url_.tls) {
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      const std::string where = url_.host + ":" + std::to_string(url_.port);
      if (ws.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        return Status::out_of_range("response from " + endpoint() + " exceeds the limit of " + std::to_string(cap) +
                                    " bytes");
      }
      if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
        return Status::unavailable("cannot reach the DICOMweb server at " + endpoint() + " (" +
                                   curl_easy_strerror(rc) + "): is Orthanc (or the PACS) running at " + where +
                                   " with its DICOMweb plugin?");
      }
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        return Status::unavailable("DICOMweb server at " + endpoint() + " did not answer within " +
                                   std::to_string(limits_.timeout_s) + " s");
      }
      if (rc == CURLE_PARTIAL_FILE) {
        return Status::corruption("truncated response from " + endpoint() +
                                  " (the connection closed before Content-Length bytes arrived)");
      }
      return Status::unavailable("DICOMweb request to " + endpoint() + " failed: " +
                                 (err[0] ? std::string(err) : std::string(curl_easy_strerror(rc))));
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    char* ct = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) r.content_type = ct;
    if (r.status >= 400 || r.status < 200 || (r.status >= 300 && r.status < 400)) {
      const std::string body(r.body.begin(), r.body.end());
      std::string msg = "HTTP " + std::to_string(r.status) + " from " + endpoint();
      const std::string sm = server_message(body);
      if (!sm.empty()) msg += ": " + sm;
      if (r.status == 404 && url_.path.empty()) msg += " (is the DICOMweb root missing from the URL, e.g. /dicom-web?)";
      if (r.status == 401 || r.status == 403) return Status::failed_precondition(msg);
      if (r.status == 404) return Status::not_found(msg);
      return Status::unavailable(msg);
    }
    return r;
  }

  PacsUrl url_;
  PacsLimits limits_;
  CURL* curl_ = nullptr;
};

// The first string of a tag's "Value" array; "" when the tag or its value is absent.
Result<std::string> first_string(const json& rec, const char* tag, std::size_t index) {
  auto it = rec.find(tag);
  if (it == rec.end()) return std::string();
  if (!it->is_object()) {
    return Status::corruption("record " + std::to_string(index) + ": attribute " + tag + " is not a JSON object");
  }
  if (it->contains("vr") && !(*it)["vr"].is_string()) {
    return Status::corruption("record " + std::to_string(index) + ": attribute " + tag + " has a non-string vr");
  }
  auto v = it->find("Value");
  if (v == it->end()) return std::string();
  if (!v->is_array()) {
    return Status::corruption("record " + std::to_string(index) + ": attribute " + tag + " Value is not an array");
  }
  if (v->empty()) return std::string();
  if (!(*v)[0].is_string()) {
    return Status::corruption("record " + std::to_string(index) + ": attribute " + tag +
                              " Value[0] is not a string");
  }
  return (*v)[0].get<std::string>();
}

}  // namespace

Result<std::vector<QidoRecord>> parse_qido_json(std::string_view body, const std::string& level,
                                                std::size_t max_records) {
  json j;
  try {
    j = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {
    return Status::corruption(std::string("response is not valid JSON (") + e.what() + ")");
  }
  if (!j.is_array()) return Status::corruption("response is not a JSON array of records (PS3.18 F.2)");
  if (j.size() > max_records) {
    return Status::out_of_range("response has " + std::to_string(j.size()) + " records, more than the limit of " +
                                std::to_string(max_records));
  }
  const bool need_series = level == "series" || level == "instance";
  const bool need_sop = level == "instance";
  std::vector<QidoRecord> out;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    const json& rec = j[i];
    if (!rec.is_object()) return Status::corruption("record " + std::to_string(i) + " is not a JSON object");
    QidoRecord r;
    HEAL_ASSIGN_OR_RETURN(r.study_uid, first_string(rec, "0020000D", i));
    HEAL_ASSIGN_OR_RETURN(r.series_uid, first_string(rec, "0020000E", i));
    HEAL_ASSIGN_OR_RETURN(r.sop_uid, first_string(rec, "00080018", i));
    HEAL_ASSIGN_OR_RETURN(r.modality, first_string(rec, "00080060", i));
    auto check = [&](const std::string& uid, const char* name, const char* tag, bool required) -> Status {
      if (uid.empty()) {
        if (!required) return {};
        return Status::corruption("record " + std::to_string(i) + " of a " + level + " search has no " + name + " (" +
                                  tag + ")");
      }
      if (!pacs_detail::valid_uid(uid)) {
        return Status::corruption("record " + std::to_string(i) + ": " + name + " is not a valid UID");
      }
      return {};
    };
    if (level != "study" && level != "series" && level != "instance") {
      return Status::invalid_argument("unknown QIDO-RS level '" + level + "'");
    }
    HEAL_RETURN_IF_ERROR(check(r.study_uid, "StudyInstanceUID", "0020000D", level == "study"));
    HEAL_RETURN_IF_ERROR(check(r.series_uid, "SeriesInstanceUID", "0020000E", need_series && level == "series"));
    HEAL_RETURN_IF_ERROR(check(r.sop_uid, "SOPInstanceUID", "00080018", need_sop));
    if (r.modality.size() > 16) r.modality.resize(16);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<std::vector<std::uint8_t>>> parse_multipart_related(std::string_view content_type,
                                                                       std::span<const std::uint8_t> body,
                                                                       std::size_t max_part_bytes) {
  const std::string ct = lower(std::string(content_type));
  if (ct.rfind("multipart/related", 0) != 0) {
    return Status::corruption("expected Content-Type multipart/related, got '" +
                              trim(content_type.substr(0, std::min<std::size_t>(content_type.size(), 80))) + "'");
  }
  // boundary parameter (case-insensitive name, value possibly quoted; RFC 2046: 1..70 characters).
  const auto bpos = ct.find("boundary=");
  if (bpos == std::string::npos) return Status::corruption("multipart Content-Type has no boundary parameter");
  std::string boundary;
  std::size_t p = bpos + 9;
  if (p < content_type.size() && content_type[p] == '"') {
    const auto q = content_type.find('"', p + 1);
    if (q == std::string_view::npos) return Status::corruption("multipart boundary has no closing quote");
    boundary = std::string(content_type.substr(p + 1, q - p - 1));
  } else {
    const auto q = content_type.find(';', p);
    boundary = trim(content_type.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
  }
  if (boundary.empty() || boundary.size() > 70) {
    return Status::corruption("multipart boundary must have 1 to 70 characters (RFC 2046), has " +
                              std::to_string(boundary.size()));
  }
  const std::string_view data(reinterpret_cast<const char*>(body.data()), body.size());
  const std::string delim = "--" + boundary;
  // The first delimiter starts the body or follows a CRLF (after an ignored preamble).
  std::size_t pos;
  if (data.substr(0, delim.size()) == delim) {
    pos = 0;
  } else {
    pos = data.find("\r\n" + delim);
    if (pos == std::string_view::npos) return Status::corruption("multipart body has no opening boundary");
    pos += 2;
  }
  std::vector<std::vector<std::uint8_t>> parts;
  const std::string next_delim = "\r\n" + delim;
  for (;;) {
    pos += delim.size();
    if (data.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Transport padding (RFC 2046: linear white space) then CRLF.
    while (pos < data.size() && (data[pos] == ' ' || data[pos] == '\t')) ++pos;
    if (data.substr(pos, 2) != "\r\n") return Status::corruption("multipart boundary line is malformed or truncated");
    pos += 2;
    const auto hend = data.find("\r\n\r\n", pos);
    std::string_view headers;
    std::size_t content;
    if (data.substr(pos, 2) == "\r\n") {  // no part headers
      content = pos + 2;
    } else {
      if (hend == std::string_view::npos) return Status::corruption("multipart part headers are truncated");
      headers = data.substr(pos, hend - pos);
      content = hend + 4;
    }
    std::optional<std::size_t> declared;
    for (std::size_t h = 0; h <= headers.size();) {
      auto e = headers.find("\r\n", h);
      if (e == std::string_view::npos) e = headers.size();
      const std::string line = lower(std::string(headers.substr(h, e - h)));
      h = e + 2;
      if (line.rfind("content-type:", 0) == 0) {
        const std::string v = trim(std::string_view(line).substr(13));
        if (v.rfind("application/dicom", 0) != 0 || v.rfind("application/dicom+", 0) == 0) {
          return Status::corruption("multipart part has Content-Type '" + v.substr(0, 60) +
                                    "', expected application/dicom");
        }
      } else if (line.rfind("content-length:", 0) == 0) {
        const std::string v = trim(std::string_view(line).substr(15));
        if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos) {
          return Status::corruption("multipart part has a malformed Content-Length");
        }
        declared = static_cast<std::size_t>(std::stoull(v));
        if (*declared > max_part_bytes) {
          return Status::out_of_range("multipart part declares " + v + " bytes, more than the limit of " +
                                      std::to_string(max_part_bytes));
        }
      }
    }
    const auto end = data.find(next_delim, content);
    if (end == std::string_view::npos) {
      return Status::corruption("multipart body is truncated (no boundary after part " +
                                std::to_string(parts.size() + 1) + ")");
    }
    const std::size_t len = end - content;
    if (len > max_part_bytes) {
      return Status::out_of_range("multipart part has " + std::to_string(len) + " bytes, more than the limit of " +
                                  std::to_string(max_part_bytes));
    }
    if (declared && *declared != len) {
      return Status::corruption("multipart part declares Content-Length " + std::to_string(*declared) + " but holds " +
                                std::to_string(len) + " bytes");
    }
    parts.emplace_back(body.begin() + static_cast<std::ptrdiff_t>(content),
                       body.begin() + static_cast<std::ptrdiff_t>(end));
    pos = end + 2;
  }
}

namespace pacs_detail {
Result<std::unique_ptr<PacsClient>> open_dicomweb(const PacsUrl& url, const PacsLimits& limits) {
  if (url.protocol != PacsProtocol::kDicomWeb) return Status::invalid_argument("not a DICOMweb URL");
  return std::unique_ptr<PacsClient>(new DicomWebClient(url, limits));
}
}  // namespace pacs_detail

}  // namespace heal::io
