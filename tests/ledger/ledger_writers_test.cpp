// Several writers on one chain (node processes sharing a SQLite file): an append whose height another
// writer took between the catch-up and the store is checked again on the longer chain and retried.
#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "ledger/ledger_fixture.h"

namespace heal::ledger::testing {
namespace {

struct SharedChain {
  std::vector<Block> blocks;
  int refused = 0;
};

// A replica of the shared chain; store() refuses a block on a stale head, as the SQLite trigger does.
class Replica final : public Ledger {
 public:
  explicit Replica(SharedChain& chain) : chain_(chain) {}
  Result<std::uint64_t> size() const override { return std::uint64_t{chain_.blocks.size()}; }
  Result<Block> block(std::uint64_t h) const override {
    if (h >= chain_.blocks.size()) return Status::not_found("no block");
    return chain_.blocks[h];
  }
  std::function<void()> before_store;  // runs once, just before the next store
  bool fail_stores = false;            // every store fails (without the chain growing)
  bool assigns = false;                // like the EVM contract: a stale block lands at the next height, then fails
  int stores = 0;

 protected:
  bool assigns_heights() const override { return assigns; }
  Status store(const Block& b) override {
    ++stores;
    if (fail_stores) return Status::io_error("disk full");
    if (auto hook = std::exchange(before_store, nullptr)) hook();
    if (assigns && b.height != chain_.blocks.size()) {
      Block landed = b;
      landed.height = chain_.blocks.size();
      landed.prev_hash = chain_.blocks.back().hash;
      landed.hash = compute_block_hash(landed.height, landed.prev_hash, landed.record, landed.signatures);
      chain_.blocks.push_back(landed);
      return Status::failed_precondition("another writer appended first: landed at another height");
    }
    if (b.height != chain_.blocks.size()) {
      ++chain_.refused;
      return Status::io_error("a block must be appended at the next height");
    }
    chain_.blocks.push_back(b);
    return {};
  }

 private:
  SharedChain& chain_;
};

// Setup, initial model and the opening of round 1, written through `w`.
void open_round_one(Federation& f, Replica& w) {
  ASSERT_TRUE(w.append(f.signed_setup()).ok());
  ASSERT_TRUE(w.append(f.by(*f.coordinator, f.model(0))).ok());
  ASSERT_TRUE(w.append(f.by(*f.coordinator, f.open(1))).ok());
}

TEST(LedgerWriters, AnAppendRacedByAnotherWriterIsRetriedOnTheLongerChain) {
  Federation f;
  SharedChain chain;
  Replica a(chain), b(chain);
  open_round_one(f, a);
  // Hospital 0's writer has caught up and hashed its block for height 3; hospital 1's lands first.
  a.before_store = [&] { ASSERT_TRUE(b.append(f.by(*f.hospitals[1], f.commitment(1, 1))).ok()); };
  auto mine = a.append(f.by(*f.hospitals[0], f.commitment(1, 0)));
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  EXPECT_EQ(chain.refused, 1);
  EXPECT_EQ(mine->height, 4u);
  EXPECT_EQ(chain.blocks.size(), 5u);
  EXPECT_TRUE(a.verify().ok);
  EXPECT_TRUE(b.verify().ok);
  EXPECT_TRUE(a.commitment(1, 0).ok());
  EXPECT_TRUE(b.commitment(1, 1).ok());
}

TEST(LedgerWriters, ARaceThatMakesTheRecordInvalidIsNotRetriedIntoTheChain) {
  Federation f;
  SharedChain chain;
  Replica a(chain), b(chain);
  open_round_one(f, a);
  // The other writer appends the same party's commitment first: the retry checks again and refuses
  // the duplicate (one commitment per party and round).
  a.before_store = [&] { ASSERT_TRUE(b.append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok()); };
  auto dup = a.append(f.by(*f.hospitals[0], f.commitment(1, 0)));
  EXPECT_FALSE(dup.ok());
  EXPECT_EQ(chain.blocks.size(), 4u);
  EXPECT_TRUE(a.verify().ok);
}

TEST(LedgerWriters, ABlockABackendLandedAtALaterHeightIsFoundNotAppendedTwice) {
  Federation f;
  SharedChain chain;
  Replica a(chain), b(chain);
  a.assigns = true;
  open_round_one(f, a);
  // Hospital 1's commitment lands first; the backend then orders hospital 0's after it and reports
  // the stale height: the append finds its block at height 4 instead of sending it again.
  a.before_store = [&] { ASSERT_TRUE(b.append(f.by(*f.hospitals[1], f.commitment(1, 1))).ok()); };
  auto mine = a.append(f.by(*f.hospitals[0], f.commitment(1, 0)));
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  EXPECT_EQ(mine->height, 4u);
  EXPECT_EQ(a.stores, 4);  // 3 for round one's opening, one for the commitment
  EXPECT_EQ(chain.blocks.size(), 5u);
  EXPECT_TRUE(a.verify().ok);
  EXPECT_TRUE(a.commitment(1, 0).ok());
  // Without the backend's height assignment, the same race on an identical record is refused.
  SharedChain other;
  Replica c(other), d(other);
  open_round_one(f, c);
  c.before_store = [&] { ASSERT_TRUE(d.append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok()); };
  EXPECT_FALSE(c.append(f.by(*f.hospitals[0], f.commitment(1, 0))).ok());
}

TEST(LedgerWriters, AStoreErrorWithoutAnotherWriterIsReturnedAtOnce) {
  Federation f;
  SharedChain chain;
  Replica a(chain);
  ASSERT_TRUE(a.append(f.signed_setup()).ok());
  // The store fails while the chain did not grow (a full disk, say): no retry, the error comes back.
  a.fail_stores = true;
  auto r = a.append(f.by(*f.coordinator, f.model(0)));
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_EQ(a.stores, 2);  // the setup, then one attempt
  EXPECT_EQ(chain.blocks.size(), 1u);
}

}  // namespace
}  // namespace heal::ledger::testing
