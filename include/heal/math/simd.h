// Run-time SIMD dispatch. HEAL is compiled for a portable baseline (x86-64-v2 by default; see
// docs/architecture.md, "Portable SIMD"); vector kernels are compiled with function-level target
// attributes and run only after the CPU check below. The level in use is the highest the CPU and
// OS support, lowered (never raised) by the environment variable HEAL_SIMD=scalar|avx2|avx512 or by
// set_simd_level(). Kernels read simd_level() on every call, so tests can compare levels in one
// process.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace heal::math {

/// Vector instruction levels with kernels in HEAL, in increasing order.
/// kAvx2: AVX2 + FMA + BMI2. kAvx512: AVX-512 F, DQ, VL and BW (IFMA is reported separately).
enum class SimdLevel : std::uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

/// The highest level this CPU and OS support (false on any CPU that is not x86-64).
SimdLevel cpu_simd_level();
/// Whether the CPU has AVX-512 IFMA (52-bit multiply-add) in addition to kAvx512.
bool cpu_has_ifma52();

/// The level the kernels use now: min(cpu_simd_level(), HEAL_SIMD, set_simd_level()).
SimdLevel simd_level();
/// True when the IFMA kernels may run (simd_level() == kAvx512 and the CPU has IFMA).
bool simd_ifma();
/// Requests a level; it is clamped to cpu_simd_level(). Returns the level now in use.
SimdLevel set_simd_level(SimdLevel requested);

/// "scalar", "avx2" or "avx512" (with "+ifma" from simd_description()).
const char* simd_level_name(SimdLevel level);
/// The level in use and the CPU's, e.g. "avx2 (cpu: avx512+ifma; lowered by HEAL_SIMD)".
std::string_view simd_description();
/// Parses "scalar", "avx2" or "avx512"; nullopt for anything else.
std::optional<SimdLevel> parse_simd_level(std::string_view name);

/// RAII: lowers the level for a scope and restores the previous one (tests, benchmarks).
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(SimdLevel level) : previous_(simd_level()) { set_simd_level(level); }
  ~ScopedSimdLevel() { set_simd_level(previous_); }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;

 private:
  SimdLevel previous_;
};

}  // namespace heal::math

// Function attributes for vector kernels. Only code inside functions that carry one of these may
// use the corresponding instructions, and such functions run only after checking simd_level().
// Each also places its function in a section of its own (.text.heal_simd_*): the build's object
// files are audited (tools/check_simd_isolation.sh) for any VEX or EVEX instruction outside them.
// Use them on functions with internal linkage or non-inline functions only.
#if defined(__x86_64__) && defined(__GNUC__)
#define HEAL_X86_KERNELS 1
#define HEAL_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2"), section(".text.heal_simd_avx2")))
#define HEAL_TARGET_AVX512 \
  __attribute__((target("avx2,fma,bmi2,avx512f,avx512dq,avx512vl,avx512bw"), section(".text.heal_simd_avx512")))
#define HEAL_TARGET_IFMA                                                                   \
  __attribute__((target("avx2,fma,bmi2,avx512f,avx512dq,avx512vl,avx512bw,avx512ifma"), \
                 section(".text.heal_simd_ifma")))
#else
#define HEAL_X86_KERNELS 0
#endif
