// PACS URLs, the labels CSV join, study-level splits, `heal data pull` and in-memory PACS datasets.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <tuple>

#include "heal/core/rng.h"
#include "heal/io/dicom.h"
#include "heal/io/image.h"
#include "pacs_internal.h"

namespace fs = std::filesystem;

namespace heal::io {
namespace pacs_detail {

bool valid_uid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64 || uid.front() == '.' || uid.back() == '.') return false;
  for (std::size_t i = 0; i < uid.size(); ++i) {
    const char c = uid[i];
    if (c == '.') {
      if (uid[i + 1] == '.') return false;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool is_series_level_key(std::string_view key) {
  static const std::set<std::string, std::less<>> kSeries = {
      "Modality", "00080060", "SeriesInstanceUID", "0020000E", "SeriesNumber", "00200011",
      "SeriesDescription", "0008103E", "BodyPartExamined", "00180015", "SeriesDate", "00080021"};
  return kSeries.count(key) > 0;
}

}  // namespace pacs_detail

namespace {

using pacs_detail::valid_uid;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return Status::invalid_argument("malformed %-escape in PACS URL");
      }
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool valid_filter_key(const std::string& k) {
  if (k.empty() || k.size() > 64) return false;
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  if (k.size() == 8 && std::all_of(k.begin(), k.end(), hex)) return true;
  return std::isupper(static_cast<unsigned char>(k[0])) &&
         std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

bool valid_aet(const std::string& a) {
  if (a.empty() || a.size() > 16) return false;
  return std::all_of(a.begin(), a.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; });
}

Result<double> parse_fraction(const std::string& key, const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size() || !(d >= 0.0 && d < 1.0)) throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    return Status::invalid_argument("PACS URL parameter " + key + "=" + v + " must be a fraction in [0, 1)");
  }
}

}  // namespace

std::string PacsUrl::endpoint() const {
  if (protocol == PacsProtocol::kDimse) return called_aet + "@" + host + ":" + std::to_string(port);
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         path;
}

bool is_pacs_url(std::string_view s) {
  return s.rfind("dicomweb://", 0) == 0 || s.rfind("dicomwebs://", 0) == 0 || s.rfind("dimse://", 0) == 0;
}

Result<PacsUrl> parse_pacs_url(const std::string& url) {
  PacsUrl u;
  std::string_view rest(url);
  if (rest.rfind("dicomweb://", 0) == 0) {
    rest.remove_prefix(11);
  } else if (rest.rfind("dicomwebs://", 0) == 0) {
    u.tls = true;
    rest.remove_prefix(12);
  } else if (rest.rfind("dimse://", 0) == 0) {
    u.protocol = PacsProtocol::kDimse;
    rest.remove_prefix(8);
  } else {
    return Status::invalid_argument("not a PACS URL (expected dicomweb://HOST:PORT/PATH, dicomwebs://... or "
                                    "dimse://AET@HOST:PORT)");
  }
  const bool dimse = u.protocol == PacsProtocol::kDimse;
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (const auto s = rest.find('/'); s != std::string_view::npos) {
    authority = rest.substr(0, s);
    std::string path(rest.substr(s));
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (dimse && !path.empty()) return Status::invalid_argument("a dimse:// URL has no path (dimse://AET@HOST:PORT)");
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == '#' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
        return Status::invalid_argument("PACS URL path has a character that is not allowed");
      }
    }
    u.path = path;
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (!dimse) {
      return Status::invalid_argument("credentials in a dicomweb:// URL are not supported (they would end up in "
                                      "logs and shell history)");
    }
    HEAL_ASSIGN_OR_RETURN(u.called_aet, percent_decode(authority.substr(0, at)));
    authority.remove_prefix(at + 1);
  } else if (dimse) {
    return Status::invalid_argument("a dimse:// URL needs the PACS's AE title: dimse://AET@HOST:PORT");
  }
  std::string_view hostpart = authority, portpart;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const auto rb = authority.find(']');
    if (rb == std::string_view::npos) return Status::invalid_argument("PACS URL has an unclosed '[' in the host");
    hostpart = authority.substr(1, rb - 1);
    if (authority.substr(rb + 1, 1) == ":") portpart = authority.substr(rb + 2);
  } else if (const auto c = authority.rfind(':'); c != std::string_view::npos) {
    hostpart = authority.substr(0, c);
    portpart = authority.substr(c + 1);
  }
  u.host = std::string(hostpart);
  if (u.host.empty()) return Status::invalid_argument("PACS URL has no host");
  for (char c : u.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return Status::invalid_argument("PACS URL host has a character that is not allowed");
    }
  }
  if (portpart.empty()) {
    u.port = dimse ? 104 : (u.tls ? 443 : 80);
  } else {
    const std::string p(portpart);
    if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1 ||
        std::stoi(p) > 65535) {
      return Status::invalid_argument("PACS URL port '" + p + "' is not a number in 1..65535");
    }
    u.port = std::stoi(p);
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty()) continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) {
      return Status::invalid_argument("PACS URL parameter without '=': " + std::string(kv.substr(0, 64)));
    }
    HEAL_ASSIGN_OR_RETURN(std::string key, percent_decode(kv.substr(0, eq)));
    HEAL_ASSIGN_OR_RETURN(std::string value, percent_decode(kv.substr(eq + 1)));
    if (key == "labels") {
      u.labels = value;
    } else if (key == "seed") {
      if (value.empty() || value.size() > 19 || value.find_first_not_of("0123456789") != std::string::npos) {
        return Status::invalid_argument("PACS URL parameter seed=" + value + " is not a non-negative integer");
      }
      u.seed = std::stoull(value);
    } else if (key == "val") {
      HEAL_ASSIGN_OR_RETURN(double f, parse_fraction(key, value));
      u.val_fraction = f;
    } else if (key == "test") {
      HEAL_ASSIGN_OR_RETURN(double f, parse_fraction(key, value));
      u.test_fraction = f;
    } else if (key == "calling") {
      u.calling_aet = value;
    } else {
      if (!valid_filter_key(key)) {
        return Status::invalid_argument("PACS URL filter key '" + key.substr(0, 64) +
                                        "' is neither a DICOM keyword (e.g. Modality, StudyDate) nor an 8-digit "
                                        "hex tag");
      }
      u.filters.emplace_back(key, value);
    }
  }
  if (dimse && (!valid_aet(u.called_aet) || !valid_aet(u.calling_aet))) {
    return Status::invalid_argument("AE titles must have 1 to 16 printable characters without '\\'");
  }
  return u;
}

Result<std::unique_ptr<PacsClient>> open_pacs(const PacsUrl& url, const PacsLimits& limits) {
  if (url.protocol == PacsProtocol::kDimse) return pacs_detail::open_dimse(url, limits);
  return pacs_detail::open_dicomweb(url, limits);
}

// ---- labels ----

Result<PacsLabels> load_pacs_labels(const std::string& csv_path) {
  std::ifstream in(csv_path);
  if (!in) return Status::not_found("cannot open labels CSV '" + csv_path + "'");
  PacsLabels out;
  std::map<std::string, std::size_t> seen;  // key -> line
  std::string line;
  std::size_t lineno = 0;
  bool header = false;
  std::size_t ncols = 0;
  auto where = [&] { return csv_path + ":" + std::to_string(lineno) + ": "; };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.size() > 4096) return Status::corruption(where() + "line longer than 4096 characters");
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(trim(cell));
    if (!line.empty() && line.back() == ',') f.emplace_back();
    if (!header) {
      if (f.size() < 2 || f.size() > 3 || f[1] != "label" || (f.size() == 3 && f[2] != "split") ||
          (f[0] != "StudyInstanceUID" && f[0] != "SOPInstanceUID")) {
        return Status::corruption(where() + "the header must be StudyInstanceUID,label[,split] or "
                                  "SOPInstanceUID,label[,split]");
      }
      out.by_study = f[0] == "StudyInstanceUID";
      out.has_split = f.size() == 3;
      ncols = f.size();
      header = true;
      continue;
    }
    if (f.size() != ncols) {
      return Status::corruption(where() + "expected " + std::to_string(ncols) + " fields, got " +
                                std::to_string(f.size()));
    }
    if (!valid_uid(f[0])) return Status::corruption(where() + "the first field is not a valid DICOM UID");
    if (f[1].empty() || f[1].size() > 64 || f[1].find_first_of("\"/\\") != std::string::npos) {
      return Status::corruption(where() + "a label must have 1 to 64 characters without quotes or slashes");
    }
    PacsLabels::Row row{f[1], std::nullopt};
    if (out.has_split) {
      const std::string& s = f[2];
      if (s == "train") row.split = Split::kTrain;
      else if (s == "val" || s == "valid" || s == "validation") row.split = Split::kVal;
      else if (s == "test") row.split = Split::kTest;
      else return Status::corruption(where() + "unknown split '" + s.substr(0, 20) + "' (expected train, val or test)");
    }
    if (auto it = seen.find(f[0]); it != seen.end()) {
      return Status::corruption(where() + "the UID is already labelled on line " + std::to_string(it->second));
    }
    seen[f[0]] = lineno;
    out.rows.emplace_back(f[0], std::move(row));
  }
  if (!header) return Status::corruption(csv_path + ": empty labels CSV (no header row)");
  if (out.rows.empty()) return Status::corruption(csv_path + ": the labels CSV has no rows");
  return out;
}

Result<PacsJoin> join_pacs_labels(const std::vector<PacsInstance>& found, const PacsLabels& labels,
                                  const SplitRule& rule) {
  if (!(rule.val_fraction >= 0 && rule.test_fraction >= 0 && rule.val_fraction + rule.test_fraction < 1.0)) {
    return Status::invalid_argument("split fractions: val and test must be >= 0 with val + test < 1");
  }
  std::map<std::string, const PacsLabels::Row*, std::less<>> by_key;
  for (const auto& [k, r] : labels.rows) by_key[k] = &r;
  PacsJoin join;
  std::set<std::string> sops;
  for (const auto& inst : found) {
    if (!sops.insert(inst.sop_uid).second) continue;  // the same instance listed twice
    auto it = by_key.find(labels.by_study ? inst.study_uid : inst.sop_uid);
    if (it == by_key.end()) {
      ++join.unlabelled;
      continue;
    }
    join.items.push_back({inst, it->second->label, it->second->split.value_or(Split::kTrain)});
  }
  std::sort(join.items.begin(), join.items.end(), [](const PacsItem& a, const PacsItem& b) {
    return std::tie(a.instance.study_uid, a.instance.series_uid, a.instance.sop_uid) <
           std::tie(b.instance.study_uid, b.instance.series_uid, b.instance.sop_uid);
  });
  // Studies and their labels.
  std::map<std::string, std::map<std::string, std::size_t>> study_labels;
  std::map<std::string, std::set<int>> study_splits;
  for (const auto& it : join.items) {
    ++study_labels[it.instance.study_uid][it.label];
    study_splits[it.instance.study_uid].insert(static_cast<int>(it.split));
  }
  join.studies = study_labels.size();
  if (labels.has_split) {
    for (const auto& [study, splits] : study_splits) {
      if (splits.size() > 1) {
        return Status::invalid_argument("the labels CSV puts instances of one study into different splits; a "
                                        "study's images must share one split (train, val or test)");
      }
    }
    return join;
  }
  // Seeded split by study, stratified by the study's label.
  std::map<std::string, std::vector<std::string>> by_label;  // label -> studies (sorted: map order)
  for (const auto& [study, counts] : study_labels) {
    auto best = counts.begin();
    for (auto c = counts.begin(); c != counts.end(); ++c) {
      if (c->second > best->second) best = c;
    }
    by_label[best->first].push_back(study);
  }
  SeededRng rng(seed_from_u64(rule.seed), /*stream=*/0x5041435353504c54ull);  // "PACSSPLT"
  std::map<std::string, Split> study_split;
  for (auto& [label, studies] : by_label) {
    shuffle(std::span<std::string>(studies), rng);
    const auto n = static_cast<double>(studies.size());
    const auto n_test = static_cast<std::size_t>(std::llround(rule.test_fraction * n));
    const auto n_val = std::min(studies.size() - n_test, static_cast<std::size_t>(std::llround(rule.val_fraction * n)));
    for (std::size_t i = 0; i < studies.size(); ++i) {
      study_split[studies[i]] = i < n_test ? Split::kTest : i < n_test + n_val ? Split::kVal : Split::kTrain;
    }
  }
  for (auto& it : join.items) it.split = study_split.at(it.instance.study_uid);
  return join;
}

// ---- pipelines ----

namespace {

struct Prepared {
  PacsUrl url;
  std::unique_ptr<PacsClient> client;
  PacsJoin join;
  std::size_t found = 0;
};

Result<Prepared> prepare(const std::string& url_str, const std::string& labels_csv, const PacsFilters& extra,
                         const SplitRule& rule, const PacsLimits& limits) {
  Prepared p;
  HEAL_ASSIGN_OR_RETURN(p.url, parse_pacs_url(url_str));
  for (const auto& f : extra) {
    if (!valid_filter_key(f.first)) {
      return Status::invalid_argument("filter key '" + f.first.substr(0, 64) +
                                      "' is neither a DICOM keyword (e.g. Modality) nor an 8-digit hex tag");
    }
    p.url.filters.push_back(f);
  }
  HEAL_ASSIGN_OR_RETURN(PacsLabels labels, load_pacs_labels(labels_csv));
  HEAL_ASSIGN_OR_RETURN(p.client, open_pacs(p.url, limits));
  HEAL_ASSIGN_OR_RETURN(auto found, p.client->find_instances(p.url.filters));
  p.found = found.size();
  HEAL_ASSIGN_OR_RETURN(p.join, join_pacs_labels(found, labels, rule));
  if (p.join.items.empty()) {
    return Status::not_found("none of the " + std::to_string(found.size()) + " instances found at " +
                             p.client->endpoint() + " has a label in " + labels_csv + " (keyed by " +
                             (labels.by_study ? "StudyInstanceUID" : "SOPInstanceUID") + ")");
  }
  return p;
}

// Retrieves one instance and checks that the server sent the object asked for.
Result<std::vector<std::uint8_t>> retrieve_checked(PacsClient& c, const PacsInstance& inst) {
  HEAL_ASSIGN_OR_RETURN(auto bytes, c.retrieve(inst));
  auto info = read_dicom_info_bytes(bytes);
  if (!info.ok()) return info.status().with_context("object retrieved from " + c.endpoint());
  if (info->sop_instance_uid != inst.sop_uid) {
    return Status::corruption("the PACS at " + c.endpoint() + " returned another instance than the one requested");
  }
  return bytes;
}

}  // namespace

Result<PullReport> pull_pacs_dataset(const std::string& url, const PullOptions& opts) {
  if (opts.out_dir.empty()) return Status::invalid_argument("pull: no output directory (--out)");
  std::string labels_csv = opts.labels_csv;
  if (labels_csv.empty()) {  // the URL's labels= then
    HEAL_ASSIGN_OR_RETURN(PacsUrl u, parse_pacs_url(url));
    labels_csv = u.labels;
  }
  if (labels_csv.empty()) return Status::invalid_argument("pull: no labels CSV (--labels or labels= in the URL)");
  HEAL_ASSIGN_OR_RETURN(Prepared p, prepare(url, labels_csv, opts.filters, opts.split, opts.limits));
  PullReport rep;
  rep.found = p.found;
  rep.labelled = p.join.items.size();
  rep.unlabelled = p.join.unlabelled;
  rep.studies = p.join.studies;
  const fs::path out(opts.out_dir);
  std::error_code ec;
  fs::create_directories(out / "dicom", ec);
  if (ec) return Status::io_error("cannot create '" + (out / "dicom").string() + "': " + ec.message());
  std::ostringstream csv;
  csv << "path,label,split\n";
  PacsProgress prog{0, p.join.items.size(), 0};
  for (const auto& it : p.join.items) {
    const fs::path rel = fs::path("dicom") / it.instance.study_uid / (it.instance.sop_uid + ".dcm");
    const fs::path dst = out / rel;
    bool present = false;
    if (fs::is_regular_file(dst, ec)) {
      auto info = read_dicom_info(dst.string());
      present = info.ok() && info->sop_instance_uid == it.instance.sop_uid;
    }
    if (present) {
      ++rep.already_present;
    } else {
      HEAL_ASSIGN_OR_RETURN(auto bytes, retrieve_checked(*p.client, it.instance));
      rep.bytes += bytes.size();
      if (rep.bytes > opts.limits.max_total_bytes) {
        return Status::out_of_range("pull: more than " + std::to_string(opts.limits.max_total_bytes) +
                                    " bytes retrieved; raise the limit or narrow the filters");
      }
      fs::create_directories(dst.parent_path(), ec);
      if (ec) return Status::io_error("cannot create '" + dst.parent_path().string() + "': " + ec.message());
      const fs::path tmp = dst.string() + ".part";
      {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!f) return Status::io_error("cannot write '" + tmp.string() + "'");
      }
      fs::rename(tmp, dst, ec);
      if (ec) return Status::io_error("cannot rename '" + tmp.string() + "': " + ec.message());
      ++rep.retrieved;
    }
    ++rep.per_split[static_cast<int>(it.split)];
    csv << rel.generic_string() << "," << it.label << "," << split_name(it.split) << "\n";
    ++prog.done;
    prog.bytes = rep.bytes;
    if (opts.progress) opts.progress(prog);
  }
  rep.csv_path = (out / "dataset.csv").string();
  const fs::path tmp = rep.csv_path + ".part";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << csv.str();
    if (!f) return Status::io_error("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, rep.csv_path, ec);
  if (ec) return Status::io_error("cannot write '" + rep.csv_path + "': " + ec.message());
  return rep;
}

Result<Dataset> load_pacs_dataset(const std::string& url, const LoadOptions& opts, const PacsLimits& limits) {
  HEAL_ASSIGN_OR_RETURN(PacsUrl u, parse_pacs_url(url));
  if (u.labels.empty()) {
    return Status::invalid_argument("a PACS dataset needs a labels CSV: add ?labels=/path/labels.csv to the URL "
                                    "(header StudyInstanceUID,label[,split] or SOPInstanceUID,label[,split])");
  }
  SplitRule rule;
  if (u.seed) rule.seed = *u.seed;
  if (u.val_fraction) rule.val_fraction = *u.val_fraction;
  if (u.test_fraction) rule.test_fraction = *u.test_fraction;
  HEAL_ASSIGN_OR_RETURN(Prepared p, prepare(url, u.labels, {}, rule, limits));
  // Labels: integers if all are small non-negative integers, else class names numbered in sorted order
  // (the CSV dataset rule of load_folder_dataset).
  bool numeric = true;
  std::set<std::string> names;
  for (const auto& it : p.join.items) {
    names.insert(it.label);
    if (it.label.size() > 3 || it.label.find_first_not_of("0123456789") != std::string::npos) numeric = false;
  }
  std::map<std::string, int> ids;
  Dataset ds;
  if (!numeric) {
    for (const auto& n : names) {
      ids[n] = static_cast<int>(ds.class_names.size());
      ds.class_names.push_back(n);
    }
  }
  std::uint64_t total = 0;
  int max_label = static_cast<int>(ds.class_names.size()) - 1;
  bool have_shape = false;
  int c0 = 0, h0 = 0, w0 = 0;
  for (const auto& it : p.join.items) {
    HEAL_ASSIGN_OR_RETURN(auto bytes, retrieve_checked(*p.client, it.instance));
    total += bytes.size();
    if (total > limits.max_total_bytes) {
      return Status::out_of_range("PACS dataset: more than " + std::to_string(limits.max_total_bytes) +
                                  " bytes retrieved; narrow the filters");
    }
    auto img = decode_dicom(bytes);
    if (!img.ok()) return img.status().with_context("decoding an instance retrieved from " + p.client->endpoint());
    Image im = opts.grayscale ? to_grayscale(*img) : *img;
    if (!opts.grayscale && im.channels != 3) {
      Image rgb = im;
      const std::size_t plane = static_cast<std::size_t>(im.width) * im.height;
      rgb.channels = 3;
      rgb.pixels.resize(plane * 3);
      for (int c = 1; c < 3; ++c) {
        std::copy_n(im.pixels.begin(), plane, rgb.pixels.begin() + static_cast<std::ptrdiff_t>(c * plane));
      }
      im = std::move(rgb);
    }
    if (opts.resize_to > 0) im = resize(im, opts.resize_to, opts.resize_to);
    if (!have_shape) {
      c0 = im.channels, h0 = im.height, w0 = im.width;
      have_shape = true;
    } else if (im.channels != c0 || im.height != h0 || im.width != w0) {
      return Status::invalid_argument("PACS images have different sizes (" + std::to_string(w0) + "x" +
                                      std::to_string(h0) + " and " + std::to_string(im.width) + "x" +
                                      std::to_string(im.height) + "); set a common size (CLI: --size)");
    }
    SplitData& s = ds.split(it.split);
    s.images.insert(s.images.end(), im.pixels.begin(), im.pixels.end());
    const int label = numeric ? std::stoi(it.label) : ids.at(it.label);
    s.labels.push_back(label);
    max_label = std::max(max_label, label);
  }
  for (Split sp : {Split::kTrain, Split::kVal, Split::kTest}) {
    SplitData& s = ds.split(sp);
    s.channels = c0;
    s.height = h0;
    s.width = w0;
  }
  ds.num_classes = max_label + 1;
  ds.name = "pacs";
  ds.source = u.endpoint();  // no query: the labels path and filters stay out of printed names
  return ds;
}

}  // namespace heal::io
