// Secure mode "none". Contribution / aggregate bytes: HEAL header (ObjectType::kFlUpdate,
// version 1), then u8 kind (1 contribution, 2 aggregate), u64 round, u64 count, count f64 values.
#include "heal/fl/plain_aggregator.h"

#include <cmath>

#include "heal/core/serialization.h"

namespace heal::fl {

namespace {

constexpr std::uint16_t kVersion = 1;
constexpr std::uint8_t kContribution = 1;
constexpr std::uint8_t kAggregate = 2;

Bytes encode(std::uint8_t kind, std::uint64_t round, std::span<const double> values) {
  ByteWriter w;
  const std::size_t start = begin_object(w, ObjectType::kFlUpdate, kVersion);
  w.put<std::uint8_t>(kind);
  w.put<std::uint64_t>(round);
  w.put_array<double>(values);
  end_object(w, start);
  return w.take();
}

Result<std::vector<double>> decode(std::span<const std::uint8_t> bytes, std::uint8_t kind, std::uint64_t round,
                                   std::size_t length) {
  ByteReader r(bytes);
  HEAL_ASSIGN_OR_RETURN(Header h, read_header(r, ObjectType::kFlUpdate, kVersion));
  if (h.payload_size != r.remaining()) return Status::corruption("plain update: payload length mismatch");
  std::uint8_t k = 0;
  std::uint64_t rd = 0;
  HEAL_RETURN_IF_ERROR(r.get(&k));
  HEAL_RETURN_IF_ERROR(r.get(&rd));
  if (k != kind) return Status::corruption("plain update: unexpected kind " + std::to_string(k));
  if (rd != round) {
    return Status::corruption("plain update is for round " + std::to_string(rd) + ", expected " + std::to_string(round));
  }
  std::vector<double> v;
  HEAL_RETURN_IF_ERROR(r.get_array(&v, length));
  if (v.size() != length) {
    return Status::corruption("plain update has " + std::to_string(v.size()) + " values, expected " + std::to_string(length));
  }
  if (!r.at_end()) return Status::corruption("plain update: trailing bytes");
  for (double x : v) {
    if (!std::isfinite(x)) return Status::corruption("plain update holds a non-finite value");
  }
  return v;
}

class PlainParty final : public AggregationParty {
 public:
  explicit PlainParty(PartyId id) : id_(id) {}
  PartyId party() const override { return id_; }
  Result<Bytes> contribute(std::span<const float> update, double weight, std::uint64_t round, Rng&) override {
    if (!std::isfinite(weight) || weight < 0) return Status::invalid_argument("contribution weight must be finite and >= 0");
    std::vector<double> v(update.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = weight * static_cast<double>(update[i]);
    return encode(kContribution, round, v);
  }
  Result<Bytes> decryption_share(std::span<const std::uint8_t>, std::span<const PartyId>, std::span<const PartyId>,
                                 std::uint64_t, Rng&) override {
    return Bytes{};
  }

 private:
  PartyId id_;
};

}  // namespace

PlainAggregator::PlainAggregator(std::set<PartyId> parties) : parties_(std::move(parties)) {}

AggregatorSetupInfo PlainAggregator::setup_info() const { return {"none", "", {}, {}, 0}; }

Result<std::unique_ptr<AggregationParty>> PlainAggregator::party(PartyId p) {
  if (!parties_.count(p)) return Status::invalid_argument("party " + std::to_string(p) + " is not in the federation");
  return std::unique_ptr<AggregationParty>(std::make_unique<PlainParty>(p));
}

Result<Bytes> PlainAggregator::aggregate(std::span<const Bytes> contributions, std::size_t length, std::uint64_t round) {
  if (contributions.empty()) return Status::invalid_argument("nothing to aggregate");
  std::vector<double> sum(length, 0.0);
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    auto v = decode(contributions[i], kContribution, round, length);
    if (!v.ok()) return v.status().with_context("contribution " + std::to_string(i));
    for (std::size_t j = 0; j < length; ++j) sum[j] += (*v)[j];
  }
  return encode(kAggregate, round, sum);
}

Result<std::vector<double>> PlainAggregator::finalize(std::span<const std::uint8_t> aggregate,
                                                      std::span<const DecryptionShare>, std::size_t length,
                                                      std::uint64_t round) {
  return decode(aggregate, kAggregate, round, length);
}

}  // namespace heal::fl
