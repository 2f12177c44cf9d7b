// Downloading MedMNIST v2 `.npz` files (Zenodo record 10519652) with an MD5 check.
#pragma once

#include <optional>
#include <string>

#include "heal/core/status.h"

namespace heal::io {

/// Official MD5 (lower-case hex) of a MedMNIST v2 28x28 file, e.g. "pneumoniamnist"; none if unknown.
std::optional<std::string> medmnist_md5(const std::string& name);
/// https://zenodo.org/records/10519652/files/<name>.npz
std::string medmnist_url(const std::string& name);
/// MD5 of a file as lower-case hex (OpenSSL EVP).
Result<std::string> md5_file(const std::string& path);

/// Downloads <name>.npz into `dir` (created if needed) through libcurl, verifies its MD5 when the
/// official one is known, and returns the file's path. An already present file with the right MD5
/// is not downloaded again. Offline: Unavailable, with a message that says where to put the file
/// by hand and how to point HEAL at it (--data / HEAL_DATA).
Result<std::string> fetch_medmnist(const std::string& name, const std::string& dir);

}  // namespace heal::io
