#!/usr/bin/env bash
# Portable SIMD (issue 13), run by scripts/test.sh: the release binaries on emulated CPUs that lack
# what the build machine may have. qemu-x86_64 (Debian qemu-user, TCG) implements no AVX-512, so
# any AVX-512 instruction outside a dispatched kernel faults with SIGILL here.
#  1. EPYC-Milan (AMD Zen 3: AVX2, no AVX-512): `heal --version` reports avx2; the math and CKKS
#     unit tests pass; `heal infer --encrypted --mode single` on a BreastMNIST test image with a
#     tiny model trained natively gives the plaintext argmax, as the native run at the AVX2 level
#     does. (Batch mode evaluates full ciphertexts whatever the image count: minutes under TCG.
#     It runs natively at HEAL_SIMD=avx2 with the rest of the unit tests, cli.infer_split included.)
#  2. Nehalem (x86-64-v2, no AVX at all): the baseline binary runs; the NTT and SIMD-level tests
#     pass on the scalar path.
# Usage: portable_simd_smoke.sh BUILD_DIR SHARED_DATA_DIR
set -euo pipefail
build=$1
data=$2
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(uname -m)" != x86_64 ]; then echo "not x86-64: skipped"; exit 0; fi
command -v qemu-x86_64 > /dev/null || fail "qemu-x86_64 not found (scripts/install-deps.sh installs qemu-user)"
if grep -q '^HEAL_NATIVE:BOOL=ON' "$build/CMakeCache.txt"; then echo "HEAL_NATIVE=ON build: skipped"; exit 0; fi
heal="$build/cli/heal"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# TCG prints one warning per host CPU feature it cannot emulate; those lines are dropped.
emu() {
  local cpu=$1
  shift
  qemu-x86_64 -cpu "$cpu" "$@" 2> >(grep -v "TCG doesn't support requested feature" >&2)
}
start=$(date +%s)

# 1. AVX2 without AVX-512.
v=$(emu EPYC-Milan "$heal" --version)
echo "EPYC-Milan: $v"
grep -q "simd avx2 (cpu: avx2)" <<<"$v" || fail "expected the avx2 level on EPYC-Milan, got: $v"
emu EPYC-Milan "$build/tests/math/heal_math_tests" --gtest_brief=1 > "$work/math.log" || { tail -30 "$work/math.log"; fail "math unit tests under EPYC-Milan"; }
emu EPYC-Milan "$build/tests/ckks/heal_ckks_tests" --gtest_brief=1 > "$work/ckks.log" || { tail -30 "$work/ckks.log"; fail "ckks unit tests under EPYC-Milan"; }
echo "EPYC-Milan: math and ckks unit tests pass ($(grep -ho '[0-9]* tests\? from [0-9]* test suites\? ran' "$work/math.log" "$work/ckks.log" | tr '\n' ';'))"

if [ -e "$data/breastmnist.npz" ] && [ -x "$heal" ] && "$heal" train --help > /dev/null 2>&1; then
  d="$data/breastmnist.npz"
  "$heal" --quiet train --data "$d" --model hecnn --epochs 1 --patience 0 --width 4 --hidden 16 --depth 1 --out "$work/train" > /dev/null
  m="$work/train/model.heal"
  mode=single limit=1
  emu EPYC-Milan "$heal" --quiet infer --model "$m" --data "$d" --encrypted --mode $mode --limit $limit --threads 2 --json > "$work/emu.json" \
    || fail "heal infer --encrypted --mode $mode under EPYC-Milan"
  HEAL_SIMD=avx2 "$heal" --quiet infer --model "$m" --data "$d" --encrypted --mode $mode --limit $limit --threads 2 --json > "$work/native.json"
  grep -q '"argmax_agreement": 1.0' "$work/emu.json" || fail "emulated prediction differs from the plaintext model"
  for k in images argmax_agreement accuracy params; do
    a=$(grep "\"$k\"" "$work/emu.json" | head -1) b=$(grep "\"$k\"" "$work/native.json" | head -1)
    [ "$a" = "$b" ] || fail "$k differs: emulated $a, native $b"
  done
  echo "EPYC-Milan: heal infer --encrypted --mode $mode on $limit BreastMNIST image: $(grep -E '"(images|argmax_agreement|max_logit_error)"' "$work/emu.json" | tr -d '\n ')"
else
  echo "EPYC-Milan: heal infer skipped (no BreastMNIST at $data or heal built without libtorch)"
fi

# 2. x86-64-v2 without AVX: the baseline and the scalar kernels.
v=$(emu Nehalem "$heal" --version)
echo "Nehalem: $v"
grep -q "simd scalar (cpu: scalar)" <<<"$v" || fail "expected the scalar level on Nehalem, got: $v"
emu Nehalem "$build/tests/math/heal_math_tests" --gtest_brief=1 --gtest_filter='Ntt*:Rns*' > "$work/v2.log" || { tail -30 "$work/v2.log"; fail "math tests under Nehalem"; }
emu Nehalem "$build/tests/ckks/heal_ckks_tests" --gtest_brief=1 --gtest_filter='SimdLevels*:Evaluator*' > "$work/v2c.log" || { tail -30 "$work/v2c.log"; fail "ckks tests under Nehalem"; }
echo "Nehalem: NTT, RNS, evaluator tests pass on the scalar path"
echo "portable SIMD smoke: OK in $(( $(date +%s) - start )) s"
