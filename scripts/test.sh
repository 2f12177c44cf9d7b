#!/usr/bin/env bash
# Installs dependencies, builds (Release), checks layering, runs the whole test suite, then the unit
# tests again under ASan + UBSan (debug preset, without libtorch): the loaders of outside bytes, the
# CKKS engine, he_infer's kernels and the CLI with sanitizers.
#   scripts/test.sh            # everything: unit + slow tests and examples, then the sanitizer run
#   HEAL_TEST_LABEL=unit scripts/test.sh   # only the fast tests
#   HEAL_SANITIZERS=0 scripts/test.sh      # skip the sanitizer run
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}

scripts/install-deps.sh
tools/check_layering.sh
cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$JOBS"

args=(--preset release -j "$JOBS")
if [ -n "${HEAL_TEST_LABEL:-}" ]; then args+=(-L "$HEAL_TEST_LABEL"); fi
ctest "${args[@]}"

if [ "${HEAL_SANITIZERS:-1}" != 0 ]; then
  cmake --preset debug -G Ninja >/dev/null
  cmake --build --preset debug -j "$JOBS"
  ctest --preset debug -j "$JOBS" -L unit
fi
