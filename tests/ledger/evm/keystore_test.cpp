// Web3 Secret Storage v3: the specification's test vectors (scrypt and PBKDF2, password
// "testpassword"), round trips, the 0600 file, and field-by-field validation.
#include "ledger/backends/evm/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ledger/backends/evm/types.h"

namespace heal::ledger::evm {
namespace {

// The scrypt vector of the Web3 Secret Storage Definition (note n = 262144, r = 1, p = 8 as published).
const char* kScryptVector = R"({
  "crypto" : {
    "cipher" : "aes-128-ctr",
    "cipherparams" : { "iv" : "83dbcc02d8ccb40e466191a123791e0e" },
    "ciphertext" : "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    "kdf" : "scrypt",
    "kdfparams" : { "dklen" : 32, "n" : 262144, "r" : 1, "p" : 8,
                    "salt" : "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19" },
    "mac" : "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
  },
  "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version" : 3
})";

// The PBKDF2-SHA-256 vector of the same specification.
const char* kPbkdf2Vector = R"({
  "crypto" : {
    "cipher" : "aes-128-ctr",
    "cipherparams" : { "iv" : "6087dab2f9fdbbfaddc31a909735c1e6" },
    "ciphertext" : "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf" : "pbkdf2",
    "kdfparams" : { "c" : 262144, "dklen" : 32, "prf" : "hmac-sha256",
                    "salt" : "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd" },
    "mac" : "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
  },
  "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version" : 3
})";

const char* kSpecSecret = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

std::string secret_hex(const Secp256k1Signer& s) { return to_hex(s.secret_bytes().span()); }

TEST(EvmKeystore, SpecScryptVectorDecrypts) {
  auto s = decrypt_keystore(kScryptVector, "testpassword");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(secret_hex(**s), kSpecSecret);
  EXPECT_EQ(address_of((*s)->identity())->to_hex(), "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b");
  auto wrong = decrypt_keystore(kScryptVector, "testpassworD");
  EXPECT_EQ(wrong.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(wrong.status().message(), "MAC mismatch: wrong password or corrupted keystore");
}

TEST(EvmKeystore, SpecPbkdf2VectorDecrypts) {
  auto s = decrypt_keystore(kPbkdf2Vector, "testpassword");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(secret_hex(**s), kSpecSecret);
}

TEST(EvmKeystore, WriteReadRoundTripWithMode0600) {
  const auto dir = std::filesystem::temp_directory_path() / ("heal-ks-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "key.json").string();
  auto key = Secp256k1Signer::generate();
  ::umask(0);  // even so the file must come out 0600
  const Status st = write_keystore(path, *key, "pw", KeystoreOptions::insecure_fast_for_tests());
  ::umask(022);
  ASSERT_TRUE(st.ok()) << st.to_string();
  struct stat sb {};
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  auto back = read_keystore(path, "pw", KeystoreReadOptions::insecure_fast_for_tests());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ((*back)->identity(), key->identity());
  // A key file others can read is refused (and accepted again once it is 0600).
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open_to_all = read_keystore(path, "pw", KeystoreReadOptions::insecure_fast_for_tests());
  EXPECT_EQ(open_to_all.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(open_to_all.status().message().find("chmod 600"), std::string::npos) << open_to_all.status().message();
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(read_keystore(path, "pw", KeystoreReadOptions::insecure_fast_for_tests()).ok());
  // Without the opt-in, the weak file is refused on reading.
  auto weak = read_keystore(path, "pw");
  EXPECT_EQ(weak.status().code(), StatusCode::kCorruption);
  EXPECT_NE(weak.status().message().find("weak"), std::string::npos) << weak.status().message();
  EXPECT_EQ(read_keystore(path, "nope", KeystoreReadOptions::insecure_fast_for_tests()).status().message(),
            path + ": MAC mismatch: wrong password or corrupted keystore");
  // The JSON is the v3 layout with a random UUID v4 and the address.
  auto text = read_file(path);
  const auto j = nlohmann::json::parse(text->begin(), text->end());
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["crypto"]["kdf"], "scrypt");
  EXPECT_EQ(j["crypto"]["kdfparams"]["n"], 1024);
  EXPECT_EQ(j["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["id"].get<std::string>()[14], '4');
  EXPECT_EQ(j["address"], to_hex(address_of(key->identity())->bytes));
  // The secret is not in the file.
  EXPECT_EQ(std::string(text->begin(), text->end()).find(secret_hex(*key)), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(EvmKeystore, WeakParametersNeedAnExplicitOptIn) {
  auto key = Secp256k1Signer::from_seed(seed_from_u64(1));
  KeystoreOptions o;
  o.scrypt_n = 1024;
  EXPECT_EQ(encrypt_keystore(*key, "pw", o).status().code(), StatusCode::kInvalidArgument);
  o.scrypt_n = 1000;  // not a power of two
  o.allow_weak_kdf = true;
  EXPECT_EQ(encrypt_keystore(*key, "pw", o).status().code(), StatusCode::kInvalidArgument);
  // Defaults are geth's standard parameters.
  EXPECT_EQ(KeystoreOptions{}.scrypt_n, 262144u);
  EXPECT_EQ(KeystoreOptions{}.scrypt_r, 8u);
  EXPECT_EQ(KeystoreOptions{}.scrypt_p, 1u);
}

TEST(EvmKeystore, EveryFieldIsValidated) {
  auto key = Secp256k1Signer::from_seed(seed_from_u64(2));
  const std::string good = *encrypt_keystore(*key, "pw", KeystoreOptions::insecure_fast_for_tests());
  const auto ro = KeystoreReadOptions::insecure_fast_for_tests();
  ASSERT_TRUE(decrypt_keystore(good, "pw", ro).ok());
  using J = nlohmann::json;
  struct Case {
    const char* what;
    std::function<void(J&)> edit;
    StatusCode code;
  };
  const std::vector<Case> cases = {
      {"version 4", [](J& j) { j["version"] = 4; }, StatusCode::kUnsupported},
      {"version string", [](J& j) { j["version"] = "3"; }, StatusCode::kCorruption},
      {"no crypto", [](J& j) { j.erase("crypto"); }, StatusCode::kCorruption},
      {"cipher", [](J& j) { j["crypto"]["cipher"] = "aes-128-cbc"; }, StatusCode::kUnsupported},
      {"iv short", [](J& j) { j["crypto"]["cipherparams"]["iv"] = "00"; }, StatusCode::kCorruption},
      {"iv not hex", [](J& j) { j["crypto"]["cipherparams"]["iv"] = std::string(32, 'z'); }, StatusCode::kCorruption},
      {"ciphertext long", [](J& j) { j["crypto"]["ciphertext"] = std::string(66, '0'); }, StatusCode::kCorruption},
      {"mac missing", [](J& j) { j["crypto"].erase("mac"); }, StatusCode::kCorruption},
      {"kdf", [](J& j) { j["crypto"]["kdf"] = "argon2"; }, StatusCode::kUnsupported},
      {"dklen", [](J& j) { j["crypto"]["kdfparams"]["dklen"] = 16; }, StatusCode::kCorruption},
      {"n negative", [](J& j) { j["crypto"]["kdfparams"]["n"] = -1; }, StatusCode::kCorruption},
      {"n not pow2", [](J& j) { j["crypto"]["kdfparams"]["n"] = 1000; }, StatusCode::kCorruption},
      {"r zero", [](J& j) { j["crypto"]["kdfparams"]["r"] = 0; }, StatusCode::kCorruption},
      {"memory bomb",
       [](J& j) {
         j["crypto"]["kdfparams"]["n"] = 1 << 24;
         j["crypto"]["kdfparams"]["r"] = 64;
       },
       StatusCode::kOutOfRange},
      {"salt short", [](J& j) { j["crypto"]["kdfparams"]["salt"] = "00"; }, StatusCode::kCorruption},
      {"address", [](J& j) { j["address"] = std::string(40, '1'); }, StatusCode::kCorruption},
      {"mac flipped",
       [](J& j) {
         std::string m = j["crypto"]["mac"];
         m[0] = m[0] == '0' ? '1' : '0';
         j["crypto"]["mac"] = m;
       },
       StatusCode::kCorruption},
  };
  for (const auto& c : cases) {
    J j = J::parse(good);
    c.edit(j);
    auto r = decrypt_keystore(j.dump(), "pw", ro);
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().to_string();
  }
  EXPECT_EQ(decrypt_keystore("not json", "pw", ro).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(decrypt_keystore("[]", "pw", ro).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(decrypt_keystore("", "pw", ro).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace heal::ledger::evm
