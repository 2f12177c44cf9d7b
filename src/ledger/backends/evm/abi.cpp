#include "ledger/backends/evm/abi.h"

#include <cstring>

#include "heal/core/check.h"

namespace heal::ledger::evm::abi {
namespace {

using Kind = Type::Kind;
constexpr std::size_t kWord = 32;

std::size_t padded(std::size_t n) { return (n + kWord - 1) / kWord * kWord; }

Status mismatch(const Type& t, const char* got) {
  return Status::invalid_argument("ABI: value for " + t.name() + " is " + got);
}

void put_word(Bytes& out, const U256& v) { out.insert(out.end(), v.be.begin(), v.be.end()); }
void put_u64(Bytes& out, std::uint64_t v) { put_word(out, U256::from_u64(v)); }

Status encode_tuple(Bytes& out, const std::vector<const Type*>& types, const std::vector<const Value*>& values);

Status encode_static(Bytes& out, const Type& t, const Value& v) {
  switch (t.kind) {
    case Kind::kUint: {
      HEAL_RETURN_IF_ERROR(std::holds_alternative<U256>(v.raw()) ? Status{} : mismatch(t, "not an integer"));
      const U256& u = v.as_uint();
      const unsigned zero_bytes = (256 - t.size) / 8;
      for (unsigned i = 0; i < zero_bytes; ++i) {
        if (u.be[i] != 0) return Status::invalid_argument("ABI: integer does not fit in " + t.name());
      }
      put_word(out, u);
      return {};
    }
    case Kind::kBool:
      if (!std::holds_alternative<bool>(v.raw())) return mismatch(t, "not a bool");
      put_u64(out, v.as_bool() ? 1 : 0);
      return {};
    case Kind::kAddress: {
      if (!std::holds_alternative<Address>(v.raw())) return mismatch(t, "not an address");
      out.insert(out.end(), 12, 0);
      const auto& a = v.as_address().bytes;
      out.insert(out.end(), a.begin(), a.end());
      return {};
    }
    case Kind::kFixedBytes: {
      if (!std::holds_alternative<Bytes>(v.raw())) return mismatch(t, "not bytes");
      const Bytes& b = v.as_bytes();
      if (b.size() != t.size) {
        return Status::invalid_argument("ABI: " + t.name() + " needs " + std::to_string(t.size) + " bytes, got " +
                                        std::to_string(b.size()));
      }
      out.insert(out.end(), b.begin(), b.end());
      out.insert(out.end(), kWord - b.size(), 0);
      return {};
    }
    default:
      return Status::internal("ABI: encode_static on a dynamic type");
  }
}

Status encode_dynamic(Bytes& out, const Type& t, const Value& v) {
  if (t.kind == Kind::kBytes || t.kind == Kind::kString) {
    std::span<const std::uint8_t> b;
    if (t.kind == Kind::kBytes) {
      if (!std::holds_alternative<Bytes>(v.raw())) return mismatch(t, "not bytes");
      b = v.as_bytes();
    } else {
      if (!std::holds_alternative<std::string>(v.raw())) return mismatch(t, "not a string");
      const std::string& s = v.as_string();
      b = std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }
    put_u64(out, b.size());
    out.insert(out.end(), b.begin(), b.end());
    out.insert(out.end(), padded(b.size()) - b.size(), 0);
    return {};
  }
  if (!std::holds_alternative<std::vector<Value>>(v.raw())) return mismatch(t, "not an array");
  const auto& elems = v.as_array();
  put_u64(out, elems.size());
  std::vector<const Type*> ts(elems.size(), t.elem.get());
  std::vector<const Value*> vs;
  vs.reserve(elems.size());
  for (const auto& e : elems) vs.push_back(&e);
  return encode_tuple(out, ts, vs);
}

Status encode_tuple(Bytes& out, const std::vector<const Type*>& types, const std::vector<const Value*>& values) {
  if (types.size() != values.size()) {
    return Status::invalid_argument("ABI: " + std::to_string(values.size()) + " values for " +
                                    std::to_string(types.size()) + " types");
  }
  const std::size_t start = out.size();
  out.resize(start + kWord * types.size());
  Bytes tail;
  for (std::size_t i = 0; i < types.size(); ++i) {
    Bytes head;
    if (types[i]->is_dynamic()) {
      put_u64(head, kWord * types.size() + tail.size());
      HEAL_RETURN_IF_ERROR(encode_dynamic(tail, *types[i], *values[i]));
    } else {
      HEAL_RETURN_IF_ERROR(encode_static(head, *types[i], *values[i]));
    }
    std::memcpy(out.data() + start + kWord * i, head.data(), kWord);
  }
  out.insert(out.end(), tail.begin(), tail.end());
  return {};
}

// ---- decoding ----

struct Decoder {
  std::span<const std::uint8_t> data;
  std::size_t budget;  // bytes of decoded output still allowed (canonical data uses exactly data.size())

  Status spend(std::size_t n, std::size_t at) {
    if (n > budget) return bad("decoded values exceed the input size (aliased offsets)", at);
    budget -= n;
    return {};
  }
  static Status bad(const std::string& what, std::size_t at) {
    return Status::corruption("ABI: " + what + " at offset " + std::to_string(at));
  }
  Result<U256> word(std::size_t at) const {
    if (at > data.size() || data.size() - at < kWord) return bad("truncated word", at);
    U256 u;
    std::memcpy(u.be.data(), data.data() + at, kWord);
    return u;
  }
  // A word used as an offset or a length: must fit the data.
  Result<std::size_t> size_word(std::size_t at) const {
    HEAL_ASSIGN_OR_RETURN(const U256 u, word(at));
    if (!u.fits_u64() || u.low_u64() > data.size()) return bad("offset or length beyond the data", at);
    return static_cast<std::size_t>(u.low_u64());
  }

  Result<Value> static_value(const Type& t, std::size_t at) {
    HEAL_ASSIGN_OR_RETURN(const U256 u, word(at));
    HEAL_RETURN_IF_ERROR(spend(kWord, at));
    return from_word(t, u, at);
  }

  static Result<Value> from_word(const Type& t, const U256& u, std::size_t at) {
    switch (t.kind) {
      case Kind::kUint: {
        for (unsigned i = 0; i < (256 - t.size) / 8; ++i) {
          if (u.be[i] != 0) return bad("value does not fit in " + t.name(), at);
        }
        return Value::uint(u);
      }
      case Kind::kBool:
        if (!u.fits_u64() || u.low_u64() > 1) return bad("bool is neither 0 nor 1", at);
        return Value::boolean(u.low_u64() == 1);
      case Kind::kAddress: {
        for (int i = 0; i < 12; ++i) {
          if (u.be[i] != 0) return bad("address with non-zero high bytes", at);
        }
        Address a;
        std::memcpy(a.bytes.data(), u.be.data() + 12, 20);
        return Value::address(a);
      }
      case Kind::kFixedBytes: {
        for (unsigned i = t.size; i < kWord; ++i) {
          if (u.be[i] != 0) return bad(t.name() + " with non-zero padding", at);
        }
        return Value::bytes(Bytes(u.be.begin(), u.be.begin() + t.size));
      }
      default:
        return Status::internal("ABI: from_word on a dynamic type");
    }
  }

  Result<Value> dynamic_value(const Type& t, std::size_t at) {
    HEAL_ASSIGN_OR_RETURN(const std::size_t n, size_word(at));
    HEAL_RETURN_IF_ERROR(spend(kWord, at));
    const std::size_t body = at + kWord;
    if (t.kind == Kind::kBytes || t.kind == Kind::kString) {
      if (data.size() - body < padded(n))
        return bad(t.name() + " of " + std::to_string(n) + " bytes runs past the data", at);
      HEAL_RETURN_IF_ERROR(spend(padded(n), at));
      for (std::size_t i = body + n; i < body + padded(n); ++i) {
        if (data[i] != 0) return bad(t.name() + " with non-zero padding", i);
      }
      const auto* p = data.data() + body;
      if (t.kind == Kind::kBytes) return Value::bytes(Bytes(p, p + n));
      return Value::string(std::string(reinterpret_cast<const char*>(p), n));
    }
    // T[]: n heads of one word each must fit after the count.
    if (n > (data.size() - body) / kWord)
      return bad("array of " + std::to_string(n) + " elements runs past the data", at);
    std::vector<const Type*> ts(n, t.elem.get());
    HEAL_ASSIGN_OR_RETURN(std::vector<Value> elems, tuple(ts, body));
    return Value::array(std::move(elems));
  }

  // A tuple whose heads start at `base`; offsets are relative to `base`.
  Result<std::vector<Value>> tuple(const std::vector<const Type*>& types, std::size_t base) {
    std::vector<Value> out;
    out.reserve(types.size());
    for (std::size_t i = 0; i < types.size(); ++i) {
      const std::size_t head = base + kWord * i;
      if (types[i]->is_dynamic()) {
        HEAL_ASSIGN_OR_RETURN(const std::size_t off, size_word(head));
        HEAL_RETURN_IF_ERROR(spend(kWord, head));
        if (off > data.size() - base) return bad("offset beyond the data", head);
        HEAL_ASSIGN_OR_RETURN(Value v, dynamic_value(*types[i], base + off));
        out.push_back(std::move(v));
      } else {
        HEAL_ASSIGN_OR_RETURN(Value v, static_value(*types[i], head));
        out.push_back(std::move(v));
      }
    }
    return out;
  }
};

std::vector<const Type*> pointers(const std::vector<Type>& types) {
  std::vector<const Type*> p;
  p.reserve(types.size());
  for (const auto& t : types) p.push_back(&t);
  return p;
}

}  // namespace

std::string Type::name() const {
  switch (kind) {
    case Kind::kUint:
      return "uint" + std::to_string(size);
    case Kind::kBool:
      return "bool";
    case Kind::kAddress:
      return "address";
    case Kind::kFixedBytes:
      return "bytes" + std::to_string(size);
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return elem->name() + "[]";
  }
  return "?";
}

Result<Type> parse_type(std::string_view name) {
  if (name.size() > 2 && name.substr(name.size() - 2) == "[]") {
    HEAL_ASSIGN_OR_RETURN(Type elem, parse_type(name.substr(0, name.size() - 2)));
    if (elem.kind == Kind::kArray)
      return Status::unsupported("ABI: nested arrays are not supported: " + std::string(name));
    Type t;
    t.kind = Kind::kArray;
    t.size = 0;
    t.elem = std::make_shared<const Type>(std::move(elem));
    return t;
  }
  auto number = [](std::string_view digits, unsigned* v) {
    if (digits.empty() || digits.size() > 3 || digits[0] == '0') return false;
    *v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      *v = *v * 10 + static_cast<unsigned>(c - '0');
    }
    return true;
  };
  Type t;
  if (name == "bool") {
    t.kind = Kind::kBool;
  } else if (name == "address") {
    t.kind = Kind::kAddress;
  } else if (name == "bytes") {
    t.kind = Kind::kBytes;
  } else if (name == "string") {
    t.kind = Kind::kString;
  } else if (name == "uint") {
    t.kind = Kind::kUint;
    t.size = 256;
  } else if (name.substr(0, 4) == "uint") {
    unsigned bits = 0;
    if (!number(name.substr(4), &bits) || bits % 8 != 0 || bits == 0 || bits > 256) {
      return Status::invalid_argument("ABI: bad integer type '" + std::string(name) + "'");
    }
    t.kind = Kind::kUint;
    t.size = bits;
  } else if (name.substr(0, 5) == "bytes") {
    unsigned n = 0;
    if (!number(name.substr(5), &n) || n == 0 || n > 32) {
      return Status::invalid_argument("ABI: bad fixed bytes type '" + std::string(name) + "'");
    }
    t.kind = Kind::kFixedBytes;
    t.size = n;
  } else {
    return Status::unsupported("ABI: type '" + std::string(name.substr(0, 64)) + "' is not supported");
  }
  return t;
}

Result<std::vector<Type>> parse_types(std::string_view list) {
  std::vector<Type> out;
  if (list.empty()) return out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = list.find(',', pos);
    HEAL_ASSIGN_OR_RETURN(Type t, parse_type(list.substr(pos, comma == std::string_view::npos ? comma : comma - pos)));
    out.push_back(std::move(t));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

const U256& Value::as_uint() const {
  HEAL_REQUIRE(std::holds_alternative<U256>(v_), "abi::Value is not an integer");
  return std::get<U256>(v_);
}
Result<std::uint64_t> Value::as_u64() const {
  const U256& u = as_uint();
  if (!u.fits_u64()) return Status::out_of_range("ABI integer " + u.to_quantity() + " exceeds 64 bits");
  return u.low_u64();
}
bool Value::as_bool() const {
  HEAL_REQUIRE(std::holds_alternative<bool>(v_), "abi::Value is not a bool");
  return std::get<bool>(v_);
}
const Address& Value::as_address() const {
  HEAL_REQUIRE(std::holds_alternative<Address>(v_), "abi::Value is not an address");
  return std::get<Address>(v_);
}
const Bytes& Value::as_bytes() const {
  HEAL_REQUIRE(std::holds_alternative<Bytes>(v_), "abi::Value is not bytes");
  return std::get<Bytes>(v_);
}
Hash32 Value::as_bytes32() const {
  const Bytes& b = as_bytes();
  HEAL_REQUIRE(b.size() == 32, "abi::Value has " << b.size() << " bytes, not 32");
  Hash32 h;
  std::memcpy(h.data(), b.data(), 32);
  return h;
}
const std::string& Value::as_string() const {
  HEAL_REQUIRE(std::holds_alternative<std::string>(v_), "abi::Value is not a string");
  return std::get<std::string>(v_);
}
const std::vector<Value>& Value::as_array() const {
  HEAL_REQUIRE(std::holds_alternative<std::vector<Value>>(v_), "abi::Value is not an array");
  return std::get<std::vector<Value>>(v_);
}

Result<Bytes> encode(const std::vector<Type>& types, const std::vector<Value>& values) {
  std::vector<const Value*> vs;
  vs.reserve(values.size());
  for (const auto& v : values) vs.push_back(&v);
  Bytes out;
  HEAL_RETURN_IF_ERROR(encode_tuple(out, pointers(types), vs));
  return out;
}

Result<std::vector<Value>> decode(const std::vector<Type>& types, std::span<const std::uint8_t> data) {
  Decoder d{data, data.size()};
  return d.tuple(pointers(types), 0);
}

std::array<std::uint8_t, 4> selector(std::string_view signature) {
  const Hash32 h = keccak256(signature);
  return {h[0], h[1], h[2], h[3]};
}

Result<Bytes> encode_call(std::string_view signature, const std::vector<Value>& args) {
  const std::size_t open = signature.find('(');
  if (open == std::string_view::npos || open == 0 || signature.back() != ')') {
    return Status::invalid_argument("ABI: signature must look like name(type,...): '" + std::string(signature) + "'");
  }
  HEAL_ASSIGN_OR_RETURN(const std::vector<Type> types,
                        parse_types(signature.substr(open + 1, signature.size() - open - 2)));
  HEAL_ASSIGN_OR_RETURN(const Bytes body, encode(types, args));
  const auto sel = selector(signature);
  Bytes out(sel.begin(), sel.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Hash32 event_topic(std::string_view signature) { return keccak256(signature); }

Result<Value> decode_topic(const Type& type, const Hash32& topic) {
  if (type.is_dynamic()) return Value::bytes32(topic);
  U256 u;
  u.be = topic;
  return Decoder::from_word(type, u, 0);
}

}  // namespace heal::ledger::evm::abi
