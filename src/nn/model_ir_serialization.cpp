// ModelIr <-> bytes (docs/formats/model_ir.md). The reader bounds every count before allocating
// and validates the whole model before returning it.
#include <string>

#include "heal/core/check.h"
#include "heal/core/serialization.h"
#include "heal/nn/model_ir.h"

namespace heal::nn {

namespace {

constexpr std::uint32_t kMaxStrings = 4096;
constexpr std::size_t kMaxStringLen = 1 << 16;
constexpr std::uint32_t kMaxInputs = 2;

void put_floats(ByteWriter& w, const std::vector<float>& v) { w.put_array(std::span<const float>(v)); }

void write_layer(ByteWriter& w, const Layer& l) {
  w.put<std::uint8_t>(static_cast<std::uint8_t>(l.kind));
  w.put_string(l.name);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(l.inputs.size()));
  for (int v : l.inputs) w.put<std::int32_t>(v);
  for (int d : {l.in_channels, l.out_channels, l.kernel, l.stride, l.padding}) w.put<std::int32_t>(d);
  put_floats(w, l.weight);
  put_floats(w, l.bias);
  put_floats(w, l.gamma);
  put_floats(w, l.beta);
  put_floats(w, l.running_mean);
  put_floats(w, l.running_var);
  w.put<float>(l.eps);
  for (double x : {l.a, l.b, l.c, l.input_min, l.input_max}) w.put<double>(x);
}

Status read_layer(ByteReader& r, Layer* l) {
  std::uint8_t kind = 0;
  HEAL_RETURN_IF_ERROR(r.get(&kind));
  l->kind = static_cast<OpKind>(kind);
  HEAL_RETURN_IF_ERROR(r.get_string(&l->name, kMaxStringLen));
  std::uint32_t n_in = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n_in));
  if (n_in > kMaxInputs) return Status::corruption("layer has " + std::to_string(n_in) + " inputs (max 2)");
  l->inputs.resize(n_in);
  for (auto& v : l->inputs) {
    std::int32_t x = 0;
    HEAL_RETURN_IF_ERROR(r.get(&x));
    v = x;
  }
  for (int* d : {&l->in_channels, &l->out_channels, &l->kernel, &l->stride, &l->padding}) {
    std::int32_t x = 0;
    HEAL_RETURN_IF_ERROR(r.get(&x));
    *d = x;
  }
  for (auto* v : {&l->weight, &l->bias, &l->gamma, &l->beta, &l->running_mean, &l->running_var}) {
    HEAL_RETURN_IF_ERROR(r.get_array(v, kMaxParams));
  }
  HEAL_RETURN_IF_ERROR(r.get(&l->eps));
  for (double* x : {&l->a, &l->b, &l->c, &l->input_min, &l->input_max}) HEAL_RETURN_IF_ERROR(r.get(x));
  return {};
}

Status read_strings(ByteReader& r, std::vector<std::string>* out) {
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxStrings) return Status::corruption("too many strings: " + std::to_string(n));
  out->resize(n);
  for (auto& s : *out) HEAL_RETURN_IF_ERROR(r.get_string(&s, kMaxStringLen));
  return {};
}

Status read_payload(ByteReader& r, ModelIr* m) {
  std::int32_t dims[4] = {};
  for (auto& d : dims) HEAL_RETURN_IF_ERROR(r.get(&d));
  m->input = {dims[0], dims[1], dims[2]};
  m->num_classes = dims[3];
  auto& meta = m->meta;
  HEAL_RETURN_IF_ERROR(r.get_string(&meta.architecture, kMaxStringLen));
  HEAL_RETURN_IF_ERROR(r.get_string(&meta.dataset, kMaxStringLen));
  HEAL_RETURN_IF_ERROR(read_strings(r, &meta.class_names));
  HEAL_RETURN_IF_ERROR(r.get_array(&meta.norm_mean, static_cast<std::uint64_t>(kMaxDim)));
  HEAL_RETURN_IF_ERROR(r.get_array(&meta.norm_std, static_cast<std::uint64_t>(kMaxDim)));
  std::uint32_t n = 0;
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxStrings) return Status::corruption("too many metrics");
  for (std::uint32_t k = 0; k < n; ++k) {
    std::string key;
    double v = 0;
    HEAL_RETURN_IF_ERROR(r.get_string(&key, kMaxStringLen));
    HEAL_RETURN_IF_ERROR(r.get(&v));
    meta.metrics[key] = v;
  }
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n > kMaxStrings) return Status::corruption("too many notes");
  for (std::uint32_t k = 0; k < n; ++k) {
    std::string key, v;
    HEAL_RETURN_IF_ERROR(r.get_string(&key, kMaxStringLen));
    HEAL_RETURN_IF_ERROR(r.get_string(&v, kMaxStringLen));
    meta.notes[key] = v;
  }
  HEAL_RETURN_IF_ERROR(r.get(&n));
  if (n == 0 || n > static_cast<std::uint32_t>(kMaxLayers)) {
    return Status::corruption("layer count " + std::to_string(n) + " out of range [1, " +
                              std::to_string(kMaxLayers) + "]");
  }
  // Every layer takes at least ~110 bytes: refuse counts the payload cannot hold before reserving.
  if (n > r.remaining() / 100) return Status::corruption("layer count exceeds the payload (truncated?)");
  m->layers.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    Status s = read_layer(r, &m->layers[i]);
    if (!s.ok()) return s.with_context("layer " + std::to_string(i));
  }
  return {};
}

}  // namespace

Bytes serialize_model(const ModelIr& m) {
  const Status valid = m.validate();
  HEAL_REQUIRE(valid.ok(), "serialize_model: model does not validate: " << valid.to_string());
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kModelIr, model_format_version(m));
  for (int d : {m.input.c, m.input.h, m.input.w, m.num_classes}) w.put<std::int32_t>(d);
  w.put_string(m.meta.architecture);
  w.put_string(m.meta.dataset);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.meta.class_names.size()));
  for (const auto& s : m.meta.class_names) w.put_string(s);
  put_floats(w, m.meta.norm_mean);
  put_floats(w, m.meta.norm_std);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.meta.metrics.size()));
  for (const auto& [k, v] : m.meta.metrics) {
    w.put_string(k);
    w.put<double>(v);
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.meta.notes.size()));
  for (const auto& [k, v] : m.meta.notes) {
    w.put_string(k);
    w.put_string(v);
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(m.layers.size()));
  for (const auto& l : m.layers) write_layer(w, l);
  end_object(w, start);
  return w.take();
}

Result<ModelIr> deserialize_model(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kModelIr, kModelIrVersion));
  if (h.payload_size != r.remaining()) {
    return Status::corruption(std::to_string(r.remaining() - h.payload_size) +
                              " unexpected bytes after the model payload");
  }
  ModelIr m;
  Status s = read_payload(r, &m);
  if (!s.ok()) return s.with_context("model IR");
  if (!r.at_end()) return Status::corruption("model IR: payload length disagrees with its contents");
  // A version-1 file cannot hold the version-2 ops; a version-2 file without one is not what a writer
  // produces (the bytes would not re-serialise identically).
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const OpKind k = m.layers[i].kind;
    if (static_cast<unsigned>(k) >= 1 && static_cast<unsigned>(k) <= 14 && op_min_version(k) > h.version) {
      return Status::corruption("model IR: layer " + std::to_string(i) + " is a " + op_name(k) +
                                ", which needs format version " + std::to_string(op_min_version(k)) +
                                " (file is version " + std::to_string(h.version) + ")");
    }
  }
  if (model_format_version(m) < h.version) {
    return Status::corruption("model IR: format version " + std::to_string(h.version) +
                              " without an op that needs it (writers use the lowest version that holds the model)");
  }
  s = m.validate();
  if (!s.ok()) return s.with_context("model IR");
  return m;
}

Status save_model(const ModelIr& m, const std::string& path) {
  const Status valid = m.validate();
  if (!valid.ok()) return valid.with_context("refusing to save an invalid model");
  return write_file(path, serialize_model(m));
}

Result<ModelIr> load_model(const std::string& path) {
  HEAL_ASSIGN_OR_RETURN(Bytes b, read_file(path, std::size_t{1} << 32));
  auto m = deserialize_model(b);
  if (!m.ok()) return m.status().with_context(path);
  return m;
}

}  // namespace heal::nn
