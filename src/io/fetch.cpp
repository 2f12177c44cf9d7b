// MedMNIST download (libcurl) and MD5 verification (OpenSSL EVP).
#include "heal/io/fetch.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "heal/core/bytes.h"

namespace fs = std::filesystem;

namespace heal::io {

std::optional<std::string> medmnist_md5(const std::string& name) {
  // Official MD5s of the MedMNIST v2 28x28 files (as listed by the `medmnist` package). Only the
  // ones we have verified against the real files are listed.
  static const std::map<std::string, std::string> kMd5 = {
      {"pneumoniamnist", "28209eda62fecd6e6a2d98b1501bb15f"},
      {"breastmnist", "750601b1f35ba3300ea97c75c52ff8f6"},
  };
  auto it = kMd5.find(name);
  if (it == kMd5.end()) return std::nullopt;
  return it->second;
}

std::string medmnist_url(const std::string& name) {
  return "https://zenodo.org/records/10519652/files/" + name + ".npz";
}

Result<std::string> md5_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot open '" + path + "'");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) return Status::internal("OpenSSL MD5 unavailable");
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return Status::io_error("read error on '" + path + "'");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return to_hex(std::span<const std::uint8_t>(md, len));
}

namespace {
std::size_t write_cb(char* p, std::size_t size, std::size_t n, void* user) {
  return std::fwrite(p, size, n, static_cast<std::FILE*>(user)) * size;
}

std::string manual_help(const std::string& name, const std::string& dir) {
  return "Download " + medmnist_url(name) + " on a machine with internet access" +
         (medmnist_md5(name) ? " (MD5 " + *medmnist_md5(name) + ")" : std::string()) + ", copy it to " +
         (fs::path(dir) / (name + ".npz")).string() + ", then point HEAL at that directory with `heal --data " + dir +
         " data info " + name + "` or `export HEAL_DATA=" + dir + "`";
}
}  // namespace

Result<std::string> fetch_medmnist(const std::string& name, const std::string& dir) {
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    return Status::invalid_argument("MedMNIST name '" + name + "' must be lower-case letters, digits and '_' (e.g. pneumoniamnist)");
  }
  const auto md5 = medmnist_md5(name);
  const fs::path target = fs::path(dir) / (name + ".npz");
  std::error_code ec;
  if (fs::exists(target, ec)) {
    HEAL_ASSIGN_OR_RETURN(std::string have, md5_file(target.string()));
    if (!md5 || have == *md5) return target.string();
    return Status::corruption(target.string() + " exists but its MD5 is " + have + ", not the official " + *md5 +
                              "; delete it and fetch again");
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create '" + dir + "': " + ec.message());
  const std::string part = target.string() + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (!f) return Status::io_error("cannot write '" + part + "'");
  static const CURLcode init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = init_rc == CURLE_OK ? curl_easy_init() : nullptr;
  if (!curl) {
    std::fclose(f);
    fs::remove(part, ec);
    return Status::internal("libcurl initialisation failed");
  }
  char err[CURL_ERROR_SIZE] = {};
  const std::string url = medmnist_url(name);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // abort below 1 kB/s for 60 s
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  const bool closed = std::fclose(f) == 0;
  if (rc != CURLE_OK || !closed) {
    fs::remove(part, ec);
    const std::string why = rc != CURLE_OK ? (err[0] ? err : curl_easy_strerror(rc)) : "write error";
    return Status::unavailable("could not download " + url + ": " + why + ". " + manual_help(name, dir));
  }
  HEAL_ASSIGN_OR_RETURN(std::string got, md5_file(part));
  if (md5 && got != *md5) {
    fs::remove(part, ec);
    return Status::corruption("downloaded " + url + " has MD5 " + got + ", expected " + *md5 + "; not kept");
  }
  fs::rename(part, target, ec);
  if (ec) return Status::io_error("cannot move download into place: " + ec.message());
  return target.string();
}

}  // namespace heal::io
