#!/usr/bin/env bash
# aarch64 portability check (issue 13): cross-compiles the layers without x86 code paths of their
# own (core, math, ckks, nn, he_infer) with Debian's aarch64 cross compiler, then links the math
# and CKKS unit tests against Debian's arm64 libraries and runs them under qemu-aarch64. No x86
# intrinsic may leak into common headers: any would fail to compile here.
#   tools/cross_check_aarch64.sh [--compile-only]
# Needs: g++-aarch64-linux-gnu, qemu-user, and (unless --compile-only) the arm64 packages
#   dpkg --add-architecture arm64 && apt-get update &&
#   apt-get install libsodium-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64 libgtest-dev:arm64
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX_AARCH64:-aarch64-linux-gnu-g++}
out=${OUT:-build/aarch64}
jobs=${JOBS:-2}
command -v "$CXX" > /dev/null || { echo "cross_check_aarch64: $CXX not found (apt-get install g++-aarch64-linux-gnu)" >&2; exit 2; }
mkdir -p "$out/obj"
flags=(-std=c++20 -O2 -Iinclude -Isrc -Itests -Wall -Wextra -Wno-psabi)
start=$(date +%s)

# Compile every source of the portable layers (nn without its libtorch part).
mapfile -t srcs < <(ls src/core/*.cpp src/math/*.cpp src/ckks/*.cpp src/ckks/multiparty/*.cpp src/nn/*.cpp src/he_infer/*.cpp)
printf '%s\n' "${srcs[@]}" | xargs -P "$jobs" -I{} sh -c '
  f=$1; o="$2/obj/$(echo "$f" | tr / _).o"
  "$3" '"${flags[*]}"' -c "$f" -o "$o" 2> "$o.err" || { echo "FAIL $f"; cat "$o.err"; exit 255; }' _ {} "$out" "$CXX"
echo "cross_check_aarch64: ${#srcs[@]} sources of core, math, ckks, nn, he_infer compile for aarch64 ($(( $(date +%s) - start )) s)"
[ "${1:-}" = --compile-only ] && exit 0

if [ ! -e /usr/lib/aarch64-linux-gnu/libsodium.so ] || [ ! -e /usr/lib/aarch64-linux-gnu/libgtest.a ]; then
  echo "cross_check_aarch64: arm64 libraries missing (see the header of this script); link and run skipped"
  exit 0
fi
objs=()
for f in src/core/*.cpp src/math/*.cpp src/ckks/*.cpp src/ckks/multiparty/*.cpp; do objs+=("$out/obj/$(echo "$f" | tr / _).o"); done
for t in math ckks; do
  mapfile -t tsrcs < <(ls tests/$t/*_test.cpp | grep -v _slow_test)
  tobjs=()
  for f in "${tsrcs[@]}" tests/testing/shared_data.cpp; do
    o="$out/obj/$(echo "$f" | tr / _).o"
    "$CXX" "${flags[@]}" -DHEAL_DEFAULT_SHARED_DATA="\"$PWD/../shared/data\"" -c "$f" -o "$o" &
    tobjs+=("$o")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  done
  wait
  "$CXX" -o "$out/heal_${t}_tests" "${tobjs[@]}" "${objs[@]}" -lgtest_main -lgtest -lsodium -lspdlog -lfmt -lpthread
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/heal_${t}_tests" --gtest_brief=1 > "$out/$t.log" || { tail -30 "$out/$t.log"; echo "FAIL: $t tests on aarch64"; exit 1; }
  echo "cross_check_aarch64: $(grep -o '[0-9]* tests\? from [0-9]* test suites\? ran' "$out/$t.log") on qemu-aarch64: $(grep -E '^\[  (PASSED|SKIPPED) ' "$out/$t.log" | tr -s ' ' | tr '\n' ' ')"
done
echo "cross_check_aarch64: OK in $(( $(date +%s) - start )) s"
