#include "heal/math/buffer.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "heal/core/rng.h"

namespace heal::math::pool {
namespace {

// Blocks are kept per exact byte size: HE code allocates a handful of distinct sizes
// (N words times a limb count), so exact buckets hit well.
constexpr std::size_t kMaxCachedBytes = std::size_t{4} << 30;
constexpr std::size_t kBestFitMin = std::size_t{1} << 20;

struct Pool {
  std::mutex mu;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;
  std::size_t cached = 0;
  ~Pool() {
    for (auto& [bytes, list] : free_lists) {
      for (void* p : list) std::free(p);
    }
  }
};

Pool& instance() {
  static Pool* p = new Pool();  // intentionally leaked: usable during static destruction
  return *p;
}

std::size_t round_up(std::size_t bytes) { return (bytes + 63) & ~std::size_t{63}; }

}  // namespace

void* allocate(std::size_t bytes) {
  const std::size_t b = round_up(bytes);
  Pool& pl = instance();
  {
    std::lock_guard<std::mutex> lock(pl.mu);
    auto it = pl.free_lists.find(b);
    if (it != pl.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      pl.cached -= b;
      return p;
    }
    // Large blocks: the smallest cached block up to 1/4 larger. Polynomials shrink by a limb per
    // rescale, so exact buckets alone miss at every level; a fresh block costs a page fault per
    // 4 KiB on first touch (measured: 40% of an N = 2^16 bootstrap before this). The block is
    // later released under the smaller size: its tail was wiped when it was cached and is never
    // written by the new owner.
    if (b >= kBestFitMin) {
      auto best = pl.free_lists.end();
      for (auto jt = pl.free_lists.begin(); jt != pl.free_lists.end(); ++jt) {
        if (jt->first > b && jt->first <= b + b / 4 && !jt->second.empty() &&
            (best == pl.free_lists.end() || jt->first < best->first)) {
          best = jt;
        }
      }
      if (best != pl.free_lists.end()) {
        void* p = best->second.back();
        best->second.pop_back();
        pl.cached -= best->first;
        return p;
      }
    }
  }
  void* p = std::aligned_alloc(64, b);
  if (!p) throw std::bad_alloc();
  return p;
}

void release(void* p, std::size_t bytes, bool wipe) {
  if (!p) return;
  const std::size_t b = round_up(bytes);
  // Zero the whole block before it is recycled or freed: blocks of secret-derived polynomials
  // (s^2, c1 * s_i, Shamir shares, encryption randomness) must not reach the next user of the
  // bucket or linger in the heap. secure_wipe: a memset before free() may be elided.
  // Blocks declared public (ciphertexts) skip it.
  if (wipe) secure_wipe(p, b);
  Pool& pl = instance();
  {
    std::lock_guard<std::mutex> lock(pl.mu);
    if (pl.cached + b <= kMaxCachedBytes) {
      pl.free_lists[b].push_back(p);
      pl.cached += b;
      return;
    }
  }
  std::free(p);
}

std::size_t cached_bytes() {
  Pool& pl = instance();
  std::lock_guard<std::mutex> lock(pl.mu);
  return pl.cached;
}

void trim() {
  Pool& pl = instance();
  std::lock_guard<std::mutex> lock(pl.mu);
  for (auto& [bytes, list] : pl.free_lists) {
    for (void* p : list) std::free(p);
    list.clear();
  }
  pl.cached = 0;
}

}  // namespace heal::math::pool

namespace heal::math {

void U64Buffer::wipe() {
  public_ = false;  // release() then wipes the whole block (>= capacity) before recycling it
  reset();
}

}  // namespace heal::math
