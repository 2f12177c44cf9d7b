// PACS data source (heal/io/pacs.h): URL parsing, QIDO-RS JSON and multipart validation, labels CSV
// join and study-level splits, a hostile loopback HTTP server, and a real Orthanc on loopback
// (tests/support/pacs_fixture.h): QIDO/WADO and DIMSE C-FIND/C-GET round trips, `pull` + resume,
// --data dicomweb://..., and the canary PatientName never leaving the reader.
#include "dcmtk/config/osconfig.h"  // must come first
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dctk.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "heal/io/dataset.h"
#include "heal/io/dicom.h"
#include "heal/io/pacs.h"
#include "io/io_test_util.h"
#include "support/pacs_fixture.h"

namespace heal::io {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// ---------------------------------------------------------------- URLs

TEST(PacsUrl, ParsesTheThreeForms) {
  auto u = parse_pacs_url("dicomweb://127.0.0.1:8042/dicom-web/?Modality=CT&StudyDate=20240101-20241231"
                          "&labels=%2Ftmp%2Fl.csv&seed=3&test=0.25");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->protocol, PacsProtocol::kDicomWeb);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->endpoint(), "http://127.0.0.1:8042/dicom-web");
  EXPECT_EQ(u->labels, "/tmp/l.csv");
  EXPECT_EQ(*u->seed, 3u);
  EXPECT_DOUBLE_EQ(*u->test_fraction, 0.25);
  ASSERT_EQ(u->filters.size(), 2u);
  EXPECT_EQ(u->filters[0], (std::pair<std::string, std::string>{"Modality", "CT"}));
  EXPECT_EQ(u->filters[1].second, "20240101-20241231");

  u = parse_pacs_url("dicomwebs://pacs.example.org/wado");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->endpoint(), "https://pacs.example.org:443/wado");

  u = parse_pacs_url("dimse://ORTHANC@127.0.0.1:4242?calling=HEALX");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->protocol, PacsProtocol::kDimse);
  EXPECT_EQ(u->called_aet, "ORTHANC");
  EXPECT_EQ(u->calling_aet, "HEALX");
  EXPECT_EQ(u->port, 4242);
  EXPECT_TRUE(is_pacs_url("dimse://A@h:1"));
  EXPECT_FALSE(is_pacs_url("/data/dataset.csv"));
}

TEST(PacsUrl, RejectsMalformed) {
  for (const char* bad : {"dicomweb://:8042/x", "dicomweb://h:0/x", "dicomweb://h:70000/x", "dicomweb://h:8a/x",
                          "dicomweb://user:pw@h:80/x", "dimse://127.0.0.1:4242", "dimse://ORTHANC@h:1/path",
                          "dimse://WAYTOOLONGAETITLE123@h:1", "dicomweb://h:1/x?modality=CT", "dicomweb://h:1/x?a%zz=1",
                          "dicomweb://h:1/x?test=1.5", "dicomweb://h:1/x?seed=-1", "dicomweb://h:1/x?noequals",
                          "http://h:1/x", "dicomweb://h;rm:1/x"}) {
    auto u = parse_pacs_url(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) { EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument) << bad; }
  }
}

// ---------------------------------------------------------------- QIDO-RS JSON

TEST(Qido, ParsesRecordsAndRejectsWrongTypesAndMissingTags) {
  const std::string good = R"([{"0020000D":{"vr":"UI","Value":["1.2.3"]},"0020000E":{"vr":"UI","Value":["1.2.3.4"]},
                                "00080018":{"vr":"UI","Value":["1.2.3.4.5"]},"00080060":{"vr":"CS","Value":["CT"]},
                                "00100010":{"vr":"PN","Value":[{"Alphabetic":"X^Y"}]}}])";
  auto r = parse_qido_json(good, "instance");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].sop_uid, "1.2.3.4.5");
  EXPECT_EQ((*r)[0].modality, "CT");
  EXPECT_TRUE(parse_qido_json("[]", "study").ok());

  const std::map<std::string, std::string> bad = {
      {"not json", "[{"},
      {"not an array", R"({"0020000D":{"vr":"UI","Value":["1.2"]}})"},
      {"record not an object", R"([1])"},
      {"attribute not an object", R"([{"0020000D":"1.2.3"}])"},
      {"Value not an array", R"([{"0020000D":{"vr":"UI","Value":"1.2.3"}}])"},
      {"Value[0] not a string", R"([{"0020000D":{"vr":"UI","Value":[123]}}])"},
      {"vr not a string", R"([{"0020000D":{"vr":7,"Value":["1.2"]}}])"},
      {"missing StudyInstanceUID", R"([{"00080060":{"vr":"CS","Value":["CT"]}}])"},
      {"path traversal in a UID", R"([{"0020000D":{"vr":"UI","Value":["../../etc"]}}])"},
      {"UID too long", R"([{"0020000D":{"vr":"UI","Value":["1.)" + std::string(70, '2') + R"("]}}])"},
  };
  for (const auto& [what, body] : bad) {
    auto b = parse_qido_json(body, "study");
    EXPECT_FALSE(b.ok()) << what;
    if (!b.ok()) { EXPECT_EQ(b.status().code(), StatusCode::kCorruption) << what << ": " << b.status().to_string(); }
  }
  auto missing_sop = parse_qido_json(R"([{"0020000D":{"vr":"UI","Value":["1.2"]}}])", "instance");
  ASSERT_FALSE(missing_sop.ok());
  EXPECT_NE(missing_sop.status().message().find("SOPInstanceUID"), std::string::npos);
  auto many = parse_qido_json(R"([{"0020000D":{"Value":["1.2"]}},{"0020000D":{"Value":["1.3"]}}])", "study", 1);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().code(), StatusCode::kOutOfRange);
}

// ---------------------------------------------------------------- multipart/related

std::string multipart(const std::vector<std::string>& parts, const std::string& boundary, bool close = true,
                      bool lengths = false) {
  std::string b = "preamble\r\n";
  for (const auto& p : parts) {
    b += "--" + boundary + "\r\nContent-Type: application/dicom\r\n";
    if (lengths) b += "Content-Length: " + std::to_string(p.size()) + "\r\n";
    b += "\r\n" + p + "\r\n";
  }
  if (close) b += "--" + boundary + "--\r\n";
  return b;
}

TEST(Multipart, SplitsPartsAndValidates) {
  const std::string ct = "multipart/related; type=\"application/dicom\"; boundary=\"abc-123\"";
  const std::string p1 = std::string("DICM\0\r\n--abc-12 binary", 22), p2(1000, 'x');
  auto body = bytes_of(multipart({p1, p2}, "abc-123", true, true));
  auto r = parse_multipart_related(ct, body, 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(std::string((*r)[0].begin(), (*r)[0].end()), p1);
  EXPECT_EQ((*r)[1].size(), 1000u);

  auto expect_error = [&](const std::string& ctype, const std::string& b, StatusCode code, const char* what) {
    auto e = parse_multipart_related(ctype, bytes_of(b), 1 << 20);
    EXPECT_FALSE(e.ok()) << what;
    if (!e.ok()) { EXPECT_EQ(e.status().code(), code) << what << ": " << e.status().to_string(); }
  };
  expect_error(ct, multipart({p1}, "abc-123", false), StatusCode::kCorruption, "no closing boundary");
  const std::string full = multipart({p2}, "abc-123");
  expect_error(ct, full.substr(0, full.size() / 2), StatusCode::kCorruption, "truncated in the middle of a part");
  expect_error(ct, "", StatusCode::kCorruption, "empty body");
  expect_error("multipart/related; type=\"application/dicom\"", full, StatusCode::kCorruption, "no boundary parameter");
  expect_error("application/json", full, StatusCode::kCorruption, "not multipart");
  expect_error("multipart/related; boundary=" + std::string(71, 'b'), full, StatusCode::kCorruption, "boundary > 70");
  std::string lying =
      "--abc-123\r\nContent-Type: application/dicom\r\nContent-Length: 5\r\n\r\nabcdefgh\r\n--abc-123--";
  expect_error(ct, lying, StatusCode::kCorruption, "Content-Length mismatch");
  std::string huge = "--abc-123\r\nContent-Length: 99999999999\r\n\r\nab\r\n--abc-123--";
  expect_error(ct, huge, StatusCode::kOutOfRange, "declared part over the limit");
  std::string wrong = "--abc-123\r\nContent-Type: text/html\r\n\r\n<b>\r\n--abc-123--";
  expect_error(ct, wrong, StatusCode::kCorruption, "part is not application/dicom");
  auto small = parse_multipart_related(ct, body, 500);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), StatusCode::kOutOfRange);
}

// ---------------------------------------------------------------- labels and splits

std::vector<PacsInstance> instances(int studies, int per_study) {
  std::vector<PacsInstance> v;
  for (int s = 0; s < studies; ++s) {
    for (int i = 0; i < per_study; ++i) {
      const std::string st = "1.2.9." + std::to_string(s + 1);
      v.push_back({st, st + ".1", st + ".1." + std::to_string(i + 1), "CT"});
    }
  }
  return v;
}

TEST(PacsLabels, CsvHeaderAndRows) {
  TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir.file("l.csv")) << text;
    return load_pacs_labels(dir.file("l.csv"));
  };
  auto ok = write("StudyInstanceUID,label,split\n1.2.9.1,0,train\n1.2.9.2,1,test\n");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_TRUE(ok->by_study);
  EXPECT_TRUE(ok->has_split);
  ASSERT_EQ(ok->rows.size(), 2u);
  EXPECT_EQ(*ok->rows[1].second.split, Split::kTest);
  auto sop = write("SOPInstanceUID,label\n1.2.9.1.1.1,pneumonia\n");
  ASSERT_TRUE(sop.ok());
  EXPECT_FALSE(sop->by_study);
  for (const char* bad : {"PatientID,label\n1.2,0\n", "StudyInstanceUID,label\n1.2,0,train\n",
                          "StudyInstanceUID,label\n../x,0\n", "StudyInstanceUID,label\n1.2,0\n1.2,1\n",
                          "StudyInstanceUID,label,split\n1.2,0,holdout\n", "StudyInstanceUID,label\n",
                          "StudyInstanceUID,label\n1.2,a/b\n", ""}) {
    auto b = write(bad);
    EXPECT_FALSE(b.ok()) << bad;
  }
  EXPECT_EQ(load_pacs_labels(dir.file("missing.csv")).status().code(), StatusCode::kNotFound);
}

TEST(PacsLabels, SeededStratifiedSplitKeepsStudiesTogether) {
  PacsLabels labels;
  for (int s = 0; s < 40; ++s) labels.rows.push_back({"1.2.9." + std::to_string(s + 1), {std::to_string(s % 2), {}}});
  const auto found = instances(44, 3);  // studies 41..44 have no label
  auto a = join_pacs_labels(found, labels, {7, 0.1, 0.2});
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->unlabelled, 12u);
  EXPECT_EQ(a->items.size(), 120u);
  EXPECT_EQ(a->studies, 40u);
  std::map<std::string, Split> study_split;
  std::map<std::pair<std::string, int>, int> per;  // (label, split) -> studies
  for (const auto& it : a->items) {
    auto [pos, fresh] = study_split.emplace(it.instance.study_uid, it.split);
    EXPECT_EQ(pos->second, it.split) << "a study's images were split across train/val/test";
    if (fresh) ++per[{it.label, static_cast<int>(it.split)}];
  }
  for (const std::string l : {"0", "1"}) {  // 20 studies per label: 4 test, 2 val, 14 train
    EXPECT_EQ((per[{l, static_cast<int>(Split::kTest)}]), 4) << l;
    EXPECT_EQ((per[{l, static_cast<int>(Split::kVal)}]), 2) << l;
    EXPECT_EQ((per[{l, static_cast<int>(Split::kTrain)}]), 14) << l;
  }
  auto again = join_pacs_labels(found, labels, {7, 0.1, 0.2});
  auto other = join_pacs_labels(found, labels, {8, 0.1, 0.2});
  ASSERT_TRUE(again.ok() && other.ok());
  bool same = true, differs = false;
  for (std::size_t i = 0; i < a->items.size(); ++i) {
    same = same && a->items[i].split == again->items[i].split;
    differs = differs || a->items[i].split != other->items[i].split;
  }
  EXPECT_TRUE(same) << "same seed, different split";
  EXPECT_TRUE(differs) << "the seed is ignored";
}

TEST(PacsLabels, CsvSplitsAndSopKeys) {
  PacsLabels labels;
  labels.by_study = false;
  labels.has_split = true;
  labels.rows.push_back({"1.2.9.1.1.1", {"0", Split::kTrain}});
  labels.rows.push_back({"1.2.9.1.1.2", {"0", Split::kTrain}});
  labels.rows.push_back({"1.2.9.2.1.1", {"1", Split::kTest}});
  auto j = join_pacs_labels(instances(2, 2), labels, {});
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  EXPECT_EQ(j->items.size(), 3u);
  EXPECT_EQ(j->unlabelled, 1u);
  EXPECT_EQ(j->items[2].split, Split::kTest);
  labels.rows[1].second.split = Split::kTest;  // one study in two splits
  auto bad = join_pacs_labels(instances(2, 2), labels, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("one study"), std::string::npos);
}

// ---------------------------------------------------------------- a hostile HTTP server

// Answers every request with what `respond` returns (given the request head); loopback only.
class HostileServer {
 public:
  explicit HostileServer(std::function<std::string(const std::string&)> respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("hostile server: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~HostileServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& extra = "") const {
    return "dicomweb://127.0.0.1:" + std::to_string(port_) + "/dicom-web" + extra;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      const std::string resp = respond_(req);
      for (std::size_t off = 0; off < resp.size();) {
        const ssize_t n = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      ::shutdown(c, SHUT_RDWR);
      ::close(c);
    }
  }
  std::function<std::string(const std::string&)> respond_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string http_response(const std::string& status, const std::string& ctype, const std::string& body,
                          const std::string& content_length = "") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + ctype + "\r\nContent-Length: " +
         (content_length.empty() ? std::to_string(body.size()) : content_length) + "\r\nConnection: close\r\n\r\n" +
         body;
}

const std::string kStudyJson = R"([{"0020000D":{"vr":"UI","Value":["1.2.9.1"]}}])";
const std::string kSeriesJson =
    R"([{"0020000E":{"vr":"UI","Value":["1.2.9.1.1"]},"00080060":{"vr":"CS","Value":["CT"]}}])";
const std::string kInstJson = R"([{"00080018":{"vr":"UI","Value":["1.2.9.1.1.1"]}}])";

// A server that answers searches correctly and WADO-RS with `wado`.
std::function<std::string(const std::string&)> searches_then(std::string wado) {
  return [wado](const std::string& req) {
    const std::string line = req.substr(0, req.find("\r\n"));
    if (line.find("/instances/") != std::string::npos) return wado;
    const std::string& j = line.find("/instances") != std::string::npos ? kInstJson
                           : line.find("/series") != std::string::npos  ? kSeriesJson
                                                                          : kStudyJson;
    return http_response("200 OK", "application/dicom+json", j);
  };
}

Status find_status(const std::string& url, PacsLimits limits = {}) {
  auto u = parse_pacs_url(url);
  if (!u.ok()) return u.status();
  auto c = open_pacs(*u, limits);
  if (!c.ok()) return c.status();
  return (*c)->find_instances({}).status();
}

Status retrieve_status(const std::string& url, PacsLimits limits = {}) {
  auto c = open_pacs(*parse_pacs_url(url), limits);
  auto found = (*c)->find_instances({});
  if (!found.ok()) return found.status();
  if (found->size() != 1) return Status::internal("expected one instance");
  return (*c)->retrieve((*found)[0]).status();
}

TEST(PacsHostile, BadJsonWrongTypesAndHttpErrorsAreClear) {
  {
    HostileServer s([](const std::string&) { return http_response("200 OK", "application/dicom+json", "[{\"0020"); });
    const Status st = find_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
    EXPECT_NE(st.message().find("not valid JSON"), std::string::npos) << st.to_string();
    EXPECT_NE(st.message().find("127.0.0.1"), std::string::npos) << st.to_string();
  }
  {
    HostileServer s([](const std::string&) {
      return http_response("200 OK", "application/dicom+json", R"([{"0020000D":{"vr":"UI","Value":[42]}}])");
    });
    EXPECT_EQ(find_status(s.url()).code(), StatusCode::kCorruption);
  }
  {
    HostileServer s([](const std::string&) { return http_response("200 OK", "text/html", "<html>login</html>"); });
    const Status st = find_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kCorruption);
    EXPECT_NE(st.message().find("text/html"), std::string::npos) << st.to_string();
  }
  {
    HostileServer s([](const std::string&) {
      return http_response("500 Internal Server Error", "application/json",
                           R"({"Message":"Database is locked","HttpStatus":500})");
    });
    const Status st = find_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("HTTP 500"), std::string::npos) << st.to_string();
    EXPECT_NE(st.message().find("Database is locked"), std::string::npos) << st.to_string();
  }
  {
    HostileServer s([](const std::string&) { return http_response("401 Unauthorized", "text/plain", "who are you"); });
    EXPECT_EQ(find_status(s.url()).code(), StatusCode::kFailedPrecondition);
  }
  {  // redirects are not followed
    HostileServer s([](const std::string&) {
      return "HTTP/1.1 302 Found\r\nLocation: http://example.org/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    });
    const Status st = find_status(s.url());
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("HTTP 302"), std::string::npos) << st.to_string();
  }
}

TEST(PacsHostile, HugeAndTruncatedResponsesAreRefused) {
  {  // huge Content-Length on a search
    HostileServer s([](const std::string&) {
      return http_response("200 OK", "application/dicom+json", "[]", "99999999999999");
    });
    const Status st = find_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.to_string();
  }
  {  // a search body over the JSON cap (no Content-Length: chunked-free close-delimited body)
    const std::string big = "[" + std::string(4096, ' ') + "]";
    HostileServer s([big](const std::string&) {
      return "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n" + big;
    });
    PacsLimits lim;
    lim.max_json_bytes = 1024;
    const Status st = find_status(s.url(), lim);
    EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.to_string();
  }
  {  // fewer bytes than Content-Length
    HostileServer s([](const std::string&) {
      return http_response("200 OK", "application/dicom+json", "[]", "100");
    });
    const Status st = find_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.to_string();
  }
  const std::string mct = "multipart/related; type=\"application/dicom\"; boundary=XyZ";
  {  // truncated multipart on WADO-RS
    const std::string body = "--XyZ\r\nContent-Type: application/dicom\r\n\r\nDICM....";
    HostileServer s(searches_then(http_response("200 OK", mct, body)));
    const Status st = retrieve_status(s.url());
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.to_string();
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.to_string();
  }
  {  // huge Content-Length on WADO-RS
    HostileServer s(searches_then(http_response("200 OK", mct, "--XyZ", "999999999999")));
    PacsLimits lim;
    lim.max_instance_bytes = 1 << 20;
    const Status st = retrieve_status(s.url(), lim);
    EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.to_string();
  }
  {  // a well-formed multipart whose part is not DICOM
    HostileServer s(searches_then(
        http_response("200 OK", mct, "--XyZ\r\nContent-Type: application/dicom\r\n\r\nnot dicom at all\r\n--XyZ--")));
    auto c = open_pacs(*parse_pacs_url(s.url()));
    auto found = (*c)->find_instances({});
    ASSERT_TRUE(found.ok()) << found.status().to_string();
    auto bytes = (*c)->retrieve((*found)[0]);
    ASSERT_TRUE(bytes.ok());
    EXPECT_FALSE(decode_dicom(*bytes).ok());
  }
  {  // a server that never answers: timeout
    HostileServer s([](const std::string&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      return std::string();
    });
    PacsLimits lim;
    lim.timeout_s = 1;
    const auto t0 = std::chrono::steady_clock::now();
    const Status st = find_status(s.url(), lim);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
    EXPECT_NE(st.message().find("did not answer"), std::string::npos) << st.to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  }
}

TEST(PacsHostile, UnreachableServerSaysWhatToCheck) {
  const int port = heal::testing::free_loopback_port();  // nothing listens there
  const Status st = find_status("dicomweb://127.0.0.1:" + std::to_string(port) + "/dicom-web");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
  EXPECT_NE(st.message().find("is Orthanc (or the PACS) running at 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << st.to_string();
  const Status d = find_status("dimse://ORTHANC@127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(d.code(), StatusCode::kUnavailable) << d.to_string();
  EXPECT_NE(d.message().find("is Orthanc (or the PACS) running"), std::string::npos) << d.to_string();
}

// ---------------------------------------------------------------- a real Orthanc on loopback

constexpr int kStudies = 22, kPerStudy = 2;

class PacsOrthanc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      dir_ = new TempDir();
      orthanc_ = new heal::testing::OrthancServer((dir_->path() / "orthanc").string());
      generated_ = heal::testing::make_studies(kStudies, kPerStudy);
      for (const auto& g : generated_) orthanc_->upload(g.bytes);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete orthanc_;  // kill + wait
    orthanc_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!error_.empty()) FAIL() << "Orthanc fixture: " << error_;
  }
  // Labels for the first 20 studies (the last 2 stay unlabelled), keyed by StudyInstanceUID.
  static std::string write_labels(const fs::path& p) {
    std::ofstream f(p);
    f << "StudyInstanceUID,label\n";
    for (std::size_t i = 0; i < generated_.size(); i += kPerStudy) {
      if (i / kPerStudy < 20) f << generated_[i].study_uid << "," << generated_[i].label << "\n";
    }
    return p.string();
  }
  static const heal::testing::GeneratedInstance* by_sop(const std::string& sop) {
    for (const auto& g : generated_) {
      if (g.sop_uid == sop) return &g;
    }
    return nullptr;
  }
  static void expect_same_pixels(const std::vector<std::uint8_t>& got, const heal::testing::GeneratedInstance& g) {
    DcmInputBufferStream in;
    in.setBuffer(got.data(), static_cast<offile_off_t>(got.size()));
    in.setEos();
    DcmFileFormat ff;
    ff.transferInit();
    ASSERT_TRUE(ff.read(in).good());
    ff.transferEnd();
    const Uint16* px = nullptr;
    unsigned long n = 0;
    ASSERT_TRUE(ff.getDataset()->findAndGetUint16Array(DCM_PixelData, px, &n).good());
    ASSERT_EQ(n, g.pixels.size());
    EXPECT_TRUE(std::equal(g.pixels.begin(), g.pixels.end(), px)) << "retrieved pixels differ from the uploaded ones";
    auto a = decode_dicom(got), b = decode_dicom(g.bytes);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->pixels, b->pixels);
  }
  static bool contains_canary(const std::string& s) {
    return s.find("CANARY") != std::string::npos || s.find("LEAKED") != std::string::npos ||
           s.find("PHI7731") != std::string::npos;
  }

  static TempDir* dir_;
  static heal::testing::OrthancServer* orthanc_;
  static std::vector<heal::testing::GeneratedInstance> generated_;
  static std::string error_;
};
TempDir* PacsOrthanc::dir_ = nullptr;
heal::testing::OrthancServer* PacsOrthanc::orthanc_ = nullptr;
std::vector<heal::testing::GeneratedInstance> PacsOrthanc::generated_;
std::string PacsOrthanc::error_;

TEST_F(PacsOrthanc, QidoWadoRoundTripGivesTheUploadedPixels) {
  auto c = open_pacs(*parse_pacs_url(orthanc_->dicomweb_url()));
  ASSERT_TRUE(c.ok());
  auto found = (*c)->find_instances({});
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), generated_.size());
  std::set<std::string> studies;
  for (const auto& inst : *found) {
    studies.insert(inst.study_uid);
    EXPECT_EQ(inst.modality, "CT");
    const auto* g = by_sop(inst.sop_uid);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(inst.study_uid, g->study_uid);
    auto bytes = (*c)->retrieve(inst);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    expect_same_pixels(*bytes, *g);
  }
  EXPECT_EQ(studies.size(), static_cast<std::size_t>(kStudies));
  // Filters pass through: series level (Modality) and study level (StudyDate range).
  auto mr = (*c)->find_instances({{"Modality", "MR"}});
  ASSERT_TRUE(mr.ok()) << mr.status().to_string();
  EXPECT_TRUE(mr->empty());
  auto ct = (*c)->find_instances({{"Modality", "CT"}, {"StudyDate", "20240101-20240105"}});
  ASSERT_TRUE(ct.ok()) << ct.status().to_string();
  EXPECT_EQ(ct->size(), 5u * kPerStudy);  // studies 0..4 (dates 20240101..05)
}

TEST_F(PacsOrthanc, DimseFindGetRoundTripGivesTheUploadedPixels) {
  auto c = open_pacs(*parse_pacs_url(orthanc_->dimse_url()));
  ASSERT_TRUE(c.ok());
  auto found = (*c)->find_instances({{"Modality", "CT"}});
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), generated_.size());
  for (std::size_t i = 0; i < found->size(); i += 7) {  // a sample keeps the test short
    const auto* g = by_sop((*found)[i].sop_uid);
    ASSERT_NE(g, nullptr);
    auto bytes = (*c)->retrieve((*found)[i]);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    expect_same_pixels(*bytes, *g);
  }
  // A cap on matches is enforced while the responses arrive.
  PacsLimits few;
  few.max_matches = 3;
  auto capped = open_pacs(*parse_pacs_url(orthanc_->dimse_url()), few);
  EXPECT_EQ((*capped)->find_instances({}).status().code(), StatusCode::kOutOfRange);
  // An AE title Orthanc does not know is refused with a clear message.
  auto stranger = open_pacs(*parse_pacs_url(orthanc_->dimse_url() + "?calling=STRANGER"));
  const Status st = (*stranger)->find_instances({}).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("STRANGER"), std::string::npos) << st.to_string();
}

TEST_F(PacsOrthanc, PullWritesADatasetResumesAndLeaksNoIdentifier) {
  const fs::path out = dir_->path() / "pulled";
  PullOptions o;
  o.labels_csv = write_labels(dir_->path() / "labels.csv");
  o.out_dir = out.string();
  o.split = {3, 0.1, 0.2};
  std::vector<PacsProgress> progress;
  o.progress = [&](const PacsProgress& p) { progress.push_back(p); };
  const auto t0 = std::chrono::steady_clock::now();
  auto rep = pull_pacs_dataset(orthanc_->dicomweb_url() + "?Modality=CT", o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  std::cout << "pull of " << rep->labelled << " instances (" << rep->studies << " studies): " << secs << " s\n";
  EXPECT_EQ(rep->found, generated_.size());
  EXPECT_EQ(rep->labelled, 20u * kPerStudy);
  EXPECT_EQ(rep->unlabelled, 2u * kPerStudy);
  EXPECT_EQ(rep->studies, 20u);
  EXPECT_EQ(rep->retrieved, 20u * kPerStudy);
  EXPECT_EQ(progress.size(), 20u * kPerStudy);
  EXPECT_EQ(progress.back().done, progress.back().total);
  // dataset.csv: path,label,split with paths relative to it; every file is the uploaded object.
  const std::string csv = slurp(out / "dataset.csv");
  EXPECT_EQ(csv.rfind("path,label,split\n", 0), 0u);
  EXPECT_FALSE(contains_canary(csv));
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  std::map<std::string, std::string> study_split;
  int rows = 0;
  while (std::getline(lines, line)) {
    ++rows;
    const auto c1 = line.find(','), c2 = line.rfind(',');
    const std::string path = line.substr(0, c1), label = line.substr(c1 + 1, c2 - c1 - 1), split = line.substr(c2 + 1);
    auto info = read_dicom_info((out / path).string());
    ASSERT_TRUE(info.ok()) << path;
    const auto* g = by_sop(info->sop_instance_uid);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(label, std::to_string(g->label));
    EXPECT_EQ(slurp(out / path), std::string(g->bytes.begin(), g->bytes.end())) << "not the uploaded object";
    expect_same_pixels(bytes_of(slurp(out / path)), *g);
    auto [it, fresh] = study_split.emplace(g->study_uid, split);
    EXPECT_EQ(it->second, split) << "a study's images in two splits";
  }
  EXPECT_EQ(rows, 40);
  // The CSV loads as a HEAL dataset (what `heal train --data OUT/dataset.csv` does).
  LoadOptions lo;
  lo.resize_to = 32;
  auto ds = load_dataset((out / "dataset.csv").string(), lo);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->num_classes, 2);
  EXPECT_EQ(ds->train.size() + ds->val.size() + ds->test.size(), 40u);
  EXPECT_EQ(ds->test.size(), 8u);  // 10 studies per class: 2 test studies each, 2 images per study
  // Resume: nothing is retrieved again; a damaged file is retrieved again.
  const fs::path first = out / csv.substr(17, csv.find(',', 17) - 17);
  std::ofstream(first, std::ios::trunc) << "garbage";
  o.progress = nullptr;
  auto again = pull_pacs_dataset(orthanc_->dicomweb_url() + "?Modality=CT", o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->already_present, 39u);
  EXPECT_EQ(again->retrieved, 1u);
  EXPECT_EQ(slurp(out / "dataset.csv"), csv);
  // No identifier in anything HEAL wrote besides the DICOM copies, nor in the status texts.
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    if (e.is_regular_file() && e.path().extension() != ".dcm") {
      EXPECT_FALSE(contains_canary(slurp(e.path()))) << e.path();
    }
  }
  PullOptions bad = o;
  bad.out_dir = (dir_->path() / "x").string();
  bad.labels_csv = (dir_->path() / "nolabels.csv").string();
  std::ofstream(bad.labels_csv) << "StudyInstanceUID,label\n1.2.3.4,0\n";
  auto none = pull_pacs_dataset(orthanc_->dicomweb_url(), bad);
  ASSERT_FALSE(none.ok());
  EXPECT_FALSE(contains_canary(none.status().to_string()));
}

TEST_F(PacsOrthanc, DataUrlLoadsTheSameDatasetWithoutALocalCopy) {
  const std::string labels = write_labels(dir_->path() / "labels.csv");
  const std::string url = orthanc_->dicomweb_url() + "?labels=" + labels + "&seed=3";
  auto path = resolve_dataset_path(url, "");
  ASSERT_TRUE(path.ok()) << path.status().to_string();
  EXPECT_EQ(*path, url);
  auto kind = detect_dataset_kind(url);
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, DatasetKind::kPacs);
  LoadOptions lo;
  lo.resize_to = 32;
  auto ds = load_dataset(url, lo);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ(ds->num_classes, 2);
  EXPECT_EQ(ds->train.size(), 28u);
  EXPECT_EQ(ds->val.size(), 4u);
  EXPECT_EQ(ds->test.size(), 8u);
  EXPECT_EQ(ds->train.width, 32);
  EXPECT_FALSE(contains_canary(ds->name + ds->source));
  // The two classes differ visibly: horizontal vs vertical stripes.
  const auto& tr = ds->train;
  for (std::size_t i = 0; i < tr.size(); ++i) {
    const float* im = tr.image(i);
    double row_var = 0, col_var = 0;  // variation along a row vs along a column
    for (int k = 1; k < 32; ++k) {
      row_var += std::abs(im[16 * 32 + k] - im[16 * 32 + k - 1]);
      col_var += std::abs(im[k * 32 + 16] - im[(k - 1) * 32 + 16]);
    }
    if (tr.labels[i] == 0) {
      EXPECT_GT(col_var, 4 * row_var + 1) << i;  // horizontal stripes
    } else {
      EXPECT_GT(row_var, 4 * col_var + 1) << i;  // vertical stripes
    }
  }
  // Without labels= the error says what to add.
  auto nolabels = load_dataset(orthanc_->dicomweb_url(), lo);
  ASSERT_FALSE(nolabels.ok());
  EXPECT_NE(nolabels.status().message().find("labels="), std::string::npos);
}

}  // namespace
}  // namespace heal::io
