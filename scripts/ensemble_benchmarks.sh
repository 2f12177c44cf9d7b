#!/usr/bin/env bash
# Issue 17's acceptance runs: ensemble FL of heterogeneous models (hecnn, resnet, capsnet) over
# 4 hospitals with Dirichlet(0.5) label skew, on PneumoniaMNIST and BreastMNIST, 3 seeds, with the
# local-only and central baselines; then the summary table (scripts/ensemble_summary.py).
# Resumable: a finished run (its report.json) is not repeated.
# Usage: scripts/ensemble_benchmarks.sh [HEAL_BINARY] [OUT_DIR]
# Env: SEEDS ("1 2 3"), DATASETS ("breastmnist pneumoniamnist"), ROUNDS (6), ARCHS (hecnn,resnet,capsnet),
#      DATA (../shared/data), EXTRA (more options for heal fl ensemble simulate)
set -euo pipefail
cd "$(dirname "$0")/.."
heal=${1:-build/release/cli/heal}
out=${2:-runs/ensemble}
data=${DATA:-../shared/data}
mkdir -p "$out"
for ds in ${DATASETS:-breastmnist pneumoniamnist}; do
  for seed in ${SEEDS:-1 2 3}; do
    dir="$out/${ds}_s${seed}"
    [ -s "$dir/report.json" ] && continue
    echo "== $ds seed $seed"
    "$heal" --quiet fl ensemble simulate --data "$data/$ds.npz" --hospitals 4 --archs "${ARCHS:-hecnn,resnet,capsnet}" \
      --partition dirichlet:0.5 --rounds "${ROUNDS:-6}" --seed "$seed" --out "$dir" ${EXTRA:-} > "$dir.txt.tmp"
    mv "$dir.txt.tmp" "$dir.txt"
    tail -n 9 "$dir.txt"
  done
done
/usr/bin/python3 scripts/ensemble_summary.py "$out"/*/report.json
