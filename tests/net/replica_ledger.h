// One chain in memory that every party's replica reads and appends to, for federations whose roles
// run in threads of one test (each with its own GrpcTransport); an append on a stale head is refused,
// so two writers racing would fail the test rather than fork the chain.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "heal/ledger/ledger.h"

namespace heal::testing {

struct SharedChain {
  std::mutex mu;
  std::vector<ledger::Block> blocks;
};

class ReplicaLedger final : public ledger::Ledger {
 public:
  explicit ReplicaLedger(SharedChain& chain) : chain_(chain) {}
  Result<std::uint64_t> size() const override {
    std::lock_guard lock(chain_.mu);
    return std::uint64_t{chain_.blocks.size()};
  }
  Result<ledger::Block> block(std::uint64_t height) const override {
    std::lock_guard lock(chain_.mu);
    if (height >= chain_.blocks.size()) return Status::not_found("no block " + std::to_string(height));
    return chain_.blocks[height];
  }

 protected:
  Status store(const ledger::Block& b) override {
    std::lock_guard lock(chain_.mu);
    if (b.height != chain_.blocks.size()) return Status::failed_precondition("append on a stale head");
    chain_.blocks.push_back(b);
    return {};
  }

 private:
  SharedChain& chain_;
};

}  // namespace heal::testing
