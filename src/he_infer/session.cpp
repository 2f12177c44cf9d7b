// Client/server split on files (see session.h).
#include "heal/he_infer/session.h"

#include <filesystem>

#include "heal/ckks/key_generator.h"
#include "heal/ckks/serialization.h"
#include "heal/core/bytes.h"
#include "heal/he_infer/batch_engine.h"
#include "heal/he_infer/cost_model.h"
#include "heal/he_infer/single_engine.h"
#include "query.h"

namespace heal::he_infer {

namespace {

using internal::kQueryMagic;
using internal::kResultMagic;
using internal::Query;

std::string path_in(const std::string& dir, const char* name) { return (std::filesystem::path(dir) / name).string(); }

Status write_query(const ckks::Context& ctx, const Query& q, const std::string& path, std::uint32_t magic) {
  return write_file(path, internal::encode_query(ctx, q, magic));
}

// `magic`: the kind expected. A result (logits under the client's key) is never accepted as a
// query: the server must not be handed anything derived from a decryption (IND-CPA^D, privacy.h).
Result<Query> read_query(const ckks::Context& ctx, const std::string& path, std::uint32_t expected) {
  auto bytes = read_file(path);
  if (!bytes.ok()) return bytes.status();
  auto q = internal::decode_query(ctx, *bytes, expected);
  if (!q.ok()) return q.status().with_context(path);
  return q;
}

template <typename T>
Result<T> load_obj(const std::string& path, Result<T> (*fn)(const ckks::Context&, std::span<const std::uint8_t>), const ckks::Context& ctx) {
  auto b = read_file(path);
  if (!b.ok()) return b.status();
  return fn(ctx, *b);
}

Result<ckks::ContextPtr> load_ctx(const std::string& dir) {
  auto b = read_file(path_in(dir, "params.heal"));
  if (!b.ok()) return b.status();
  return ckks::load_params(*b);  // no opt-in: a weak or insecure-marked params.heal is refused
}

}  // namespace

Status client_keygen(const nn::ModelIr& model, Mode mode, const std::string& dir) {
  const Circuit c = compile(model);
  // Single-image mode: the ring size with the lowest predicted latency (see choose_single_plan);
  // every later step reads params.heal, so client and server agree on it.
  const ParamPlan plan = mode == Mode::kSingle ? choose_single_plan(c, false, 1).plan : plan_params(c.depth());
  const auto ctx = ckks::Context::create(plan.spec);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create " + dir + ": " + ec.message());
  ckks::KeyGenerator kg(ctx);
  HEAL_RETURN_IF_ERROR(write_file(path_in(dir, "params.heal"), ckks::save_params(*ctx)));
  // Mode 0600 from creation (never readable by others, whatever the umask), never through a
  // symlink; the serialized key is wiped when `sk` goes out of scope.
  {
    const SecretBytes sk = ckks::save(*ctx, kg.secret_key());
    HEAL_RETURN_IF_ERROR(write_secret_file(path_in(dir, "secret.key"), sk));
  }
  HEAL_RETURN_IF_ERROR(write_file(path_in(dir, "public.key"), ckks::save(*ctx, kg.create_public_key())));
  HEAL_RETURN_IF_ERROR(write_file(path_in(dir, "relin.key"), ckks::save(*ctx, kg.create_relin_key())));
  if (mode == Mode::kSingle) {
    const SingleEngine eng(c, ctx, 1);
    HEAL_RETURN_IF_ERROR(write_file(path_in(dir, "galois.key"), ckks::save(*ctx, kg.create_galois_keys(eng.rotation_steps()))));
  }
  return {};
}

Status client_encrypt(const nn::ModelIr& model, Mode mode, const std::string& dir, std::span<const float> images, std::size_t count,
                      const std::string& out_path) {
  auto ctx = load_ctx(dir);
  if (!ctx.ok()) return ctx.status();
  auto pk = load_obj<ckks::PublicKey>(path_in(dir, "public.key"), &ckks::load_public_key, **ctx);
  if (!pk.ok()) return pk.status();
  ckks::Encryptor enc(*ctx, std::move(pk).value());
  Query q;
  q.mode = mode;
  q.count = count;
  const Circuit c = compile(model);
  if (mode == Mode::kBatch) {
    const BatchEngine eng(c, *ctx, 1);
    if (count > eng.capacity()) return Status::invalid_argument("batch query holds at most " + std::to_string(eng.capacity()) + " images");
    q.cts = eng.encrypt(images.subspan(0, count * c.input.size()), count, enc);
  } else {
    const SingleEngine eng(c, *ctx, 1);
    for (std::size_t i = 0; i < count; ++i) {
      auto cts = eng.encrypt(images.subspan(i * c.input.size(), c.input.size()), enc);
      for (auto& ct : cts) q.cts.push_back(std::move(ct));
    }
  }
  return write_query(**ctx, q, out_path, kQueryMagic);
}

Status server_eval(const nn::ModelIr& model, const std::string& dir, const std::string& in_path, const std::string& out_path, int threads) {
  auto ctx = load_ctx(dir);
  if (!ctx.ok()) return ctx.status();
  auto rk = load_obj<ckks::RelinKey>(path_in(dir, "relin.key"), &ckks::load_relin_key, **ctx);
  if (!rk.ok()) return rk.status();
  auto pk = load_obj<ckks::PublicKey>(path_in(dir, "public.key"), &ckks::load_public_key, **ctx);
  if (!pk.ok()) return pk.status();
  auto q = read_query(**ctx, in_path, kQueryMagic);
  if (!q.ok()) return q.status();
  const Circuit c = compile(model);
  Query res;
  res.mode = q->mode;
  res.count = q->count;
  if (q->mode == Mode::kBatch) {
    const BatchEngine eng(c, *ctx, threads);
    if (q->cts.size() != c.input.size()) return Status::invalid_argument("query does not match the model's input size");
    res.cts = eng.evaluate(std::move(q->cts), *rk, *pk);
  } else {
    auto gk = load_obj<ckks::GaloisKeys>(path_in(dir, "galois.key"), &ckks::load_galois_keys, **ctx);
    if (!gk.ok()) return gk.status();
    const SingleEngine eng(c, *ctx, threads);
    const WeightSet w = eng.plain_weights();
    const std::size_t t = eng.input_ciphertexts();
    if (q->cts.size() != q->count * t) return Status::invalid_argument("query does not match the model's packing");
    for (std::size_t i = 0; i < q->count; ++i) {
      std::vector<ckks::Ciphertext> in(std::make_move_iterator(q->cts.begin() + static_cast<long>(i * t)),
                                       std::make_move_iterator(q->cts.begin() + static_cast<long>((i + 1) * t)));
      res.cts.push_back(eng.evaluate(std::move(in), w, *rk, *gk, *pk));
    }
  }
  return write_query(**ctx, res, out_path, kResultMagic);
}

Result<std::vector<double>> client_decrypt(const nn::ModelIr& model, const std::string& dir, const std::string& in_path) {
  auto ctx = load_ctx(dir);
  if (!ctx.ok()) return ctx.status();
  auto sk_bytes = read_secret_file(path_in(dir, "secret.key"));  // wiped when it goes out of scope
  if (!sk_bytes.ok()) return sk_bytes.status();
  auto sk = ckks::load_secret_key(**ctx, *sk_bytes);
  if (!sk.ok()) return sk.status().with_context(path_in(dir, "secret.key"));
  auto q = read_query(**ctx, in_path, kResultMagic);
  if (!q.ok()) return q.status();
  const ckks::Decryptor dec(*ctx, *sk);
  const Circuit c = compile(model);
  if (q->mode == Mode::kBatch) {
    const BatchEngine eng(c, *ctx, 1);
    if (q->cts.size() != static_cast<std::size_t>(c.num_classes) || q->count > eng.capacity()) return Status::corruption("result does not match the model");
    return eng.decrypt(q->cts, q->count, dec);
  }
  const SingleEngine eng(c, *ctx, 1);
  if (q->cts.size() != q->count) return Status::corruption("result does not match the query count");
  std::vector<double> out;
  for (const auto& ct : q->cts) {
    const auto l = eng.decrypt(ct, dec);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

}  // namespace heal::he_infer
