#!/usr/bin/env bash
# Installs dependencies, builds (Release, portable baseline), checks layering and that no AVX/AVX-512
# instruction lies outside a dispatched kernel, runs the whole test suite, then the kernel layers'
# unit tests at the lower SIMD levels and on emulated CPUs (qemu: AVX2 without AVX-512, and no AVX),
# then the unit tests again under ASan + UBSan (debug preset, without libtorch): the loaders of
# outside bytes, the CKKS engine, he_infer's kernels and the CLI with sanitizers.
#   scripts/test.sh            # everything: unit + slow tests and examples, then the sanitizer run
#   HEAL_TEST_LABEL=unit scripts/test.sh   # only the fast tests
#   HEAL_SANITIZERS=0 scripts/test.sh      # skip the sanitizer run
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
# The EVM end-to-end tests fail (instead of skipping) when the anvil dev chain from npm is missing.
export HEAL_REQUIRE_ANVIL=1

scripts/install-deps.sh
tools/check_layering.sh
cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$JOBS"

tools/check_simd_isolation.sh build/release

args=(--preset release -j "$JOBS")
if [ -n "${HEAL_TEST_LABEL:-}" ]; then args+=(-L "$HEAL_TEST_LABEL"); fi
ctest "${args[@]}"

# Portable SIMD: the unit tests of the layers that run dispatched kernels (math's NTTs, everything
# on top of them in ckks, he_infer's MAC kernels, he_train and fl's HE aggregation) again at each
# lower level (HEAL_SIMD may only lower the level), then the binaries on emulated CPUs without
# AVX-512 and without AVX (portable_simd_smoke.sh).
export HEAL_SHARED_DATA="$PWD/../shared/data"
for level in avx2 scalar; do
  for layer in math ckks he_infer he_train fl; do
    echo "== $layer unit tests with HEAL_SIMD=$level"
    HEAL_SIMD=$level "build/release/tests/$layer/heal_${layer}_tests" --gtest_brief=1
  done
done
tests/cli/portable_simd_smoke.sh build/release "$PWD/../shared/data"

if [ "${HEAL_SANITIZERS:-1}" != 0 ]; then
  cmake --preset debug -G Ninja >/dev/null
  cmake --build --preset debug -j "$JOBS"
  ctest --preset debug -j "$JOBS" -L unit
fi
