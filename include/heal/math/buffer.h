// 64-byte aligned, uninitialised word buffers backed by a size-bucketed pool, so that the
// large short-lived polynomials of HE operations do not pay malloc + page-fault costs on every
// call (see ../shared/anchors/he-baseline.md §5.3). The layout (contiguous limbs, 64-byte
// aligned) is what a SIMD (AVX-512) NTT path expects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace heal::math {

namespace pool {
/// Returns a 64-byte aligned block of `bytes` (recycled when possible). Thread-safe.
void* allocate(std::size_t bytes);
/// Zeroes the whole block (every byte of the 64-byte rounded size, with secure_wipe) and gives it
/// back to the pool, or frees it when the pool is full: a recycled block never carries data over.
/// `wipe = false` is only for blocks whose contents are public (see U64Buffer::mark_public).
void release(void* p, std::size_t bytes, bool wipe = true);
/// Bytes currently cached in the pool (for tests and diagnostics).
std::size_t cached_bytes();
/// Frees every cached block.
void trim();
}  // namespace pool

/// Owning aligned array of u64 (uninitialised on construction unless `zero` is true).
class U64Buffer {
 public:
  U64Buffer() = default;
  explicit U64Buffer(std::size_t n, bool zero = true) : n_(n), cap_(n) {
    if (n_) {
      p_ = static_cast<std::uint64_t*>(pool::allocate(n_ * sizeof(std::uint64_t)));
      if (zero) std::memset(p_, 0, n_ * sizeof(std::uint64_t));
    }
  }
  ~U64Buffer() { reset(); }
  // A copy is a new block and starts out secret (it may be overwritten with secrets in place).
  U64Buffer(const U64Buffer& o) : U64Buffer(o.n_, false) {
    if (n_) std::memcpy(p_, o.p_, n_ * sizeof(std::uint64_t));
  }
  U64Buffer(U64Buffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)),
        n_(std::exchange(o.n_, 0)),
        cap_(std::exchange(o.cap_, 0)),
        public_(std::exchange(o.public_, false)) {}
  U64Buffer& operator=(const U64Buffer& o) {
    if (this != &o) {
      if (n_ != o.n_) *this = U64Buffer(o.n_, false);
      if (n_) std::memcpy(p_, o.p_, n_ * sizeof(std::uint64_t));
      public_ = public_ && o.public_;
    }
    return *this;
  }
  U64Buffer& operator=(U64Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      cap_ = std::exchange(o.cap_, 0);
      public_ = std::exchange(o.public_, false);
    }
    return *this;
  }

  std::uint64_t* data() { return p_; }
  const std::uint64_t* data() const { return p_; }
  std::size_t size() const { return n_; }
  /// Words allocated (>= size(); shrink() keeps them).
  std::size_t capacity() const { return cap_; }
  std::uint64_t& operator[](std::size_t i) { return p_[i]; }
  const std::uint64_t& operator[](std::size_t i) const { return p_[i]; }
  /// Shrinks the logical size without reallocating (the block keeps its capacity).
  void shrink(std::size_t n) {
    if (n < n_) n_ = n;
  }
  /// Wipes every allocated word (the whole capacity, not only size()) and releases the block.
  void wipe();
  /// Declares the block's current contents public (ciphertext words, evaluation-key products):
  /// it is then released without the wipe, which costs a pass over the block. Any block is
  /// treated as secret until this is called; writing anything secret into the block afterwards
  /// is a bug. Copies start out secret again.
  void mark_public() { public_ = true; }
  bool is_public() const { return public_; }
  void reset() {
    if (p_) pool::release(p_, cap_ * sizeof(std::uint64_t), !public_);
    p_ = nullptr;
    n_ = 0;
    cap_ = 0;
    public_ = false;
  }

 private:
  std::uint64_t* p_ = nullptr;
  std::size_t n_ = 0;
  std::size_t cap_ = 0;  // words allocated (the pool bucket), >= n_
  bool public_ = false;  // contents declared public: released without the wipe
};

}  // namespace heal::math
