#!/usr/bin/env bash
# Installs dependencies, builds (Release), checks layering, and runs the whole test suite.
#   scripts/test.sh            # everything: unit + slow tests and examples
#   HEAL_TEST_LABEL=unit scripts/test.sh   # only the fast tests
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
