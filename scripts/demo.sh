#!/usr/bin/env bash
# Installs dependencies, builds HEAL (Release) and runs the main job: `heal demo`.
# Data: ../shared/data by default, or set HEAL_DATA / pass --data.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}

scripts/install-deps.sh
cmake --preset release -G Ninja >/dev/null
cmake --build --preset release -j "$JOBS" --target heal
if [ -z "${HEAL_DATA:-}" ] && [ -d ../shared/data ]; then export HEAL_DATA="$(cd ../shared/data && pwd)"; fi
exec build/release/cli/heal demo "$@"
