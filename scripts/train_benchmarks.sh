#!/usr/bin/env bash
# Full training runs of issue 4 on the official test splits (benchmarks, not tests): the default
# recipe of `heal train` on PneumoniaMNIST, BreastMNIST and COVID-CT (hecnn and capsnet), and the
# BreastMNIST configurations chosen by nested CV stages 5 (3 members merged, trained on train + val)
# and 6 (the same with three conv blocks), then a table of test ACC / AUC next to the published baselines. Two runs at a time (2 cores, one
# libtorch thread each).
# Usage: scripts/train_benchmarks.sh [DATA_DIR (default ../shared/data or $HEAL_DATA)] [OUT_DIR (default runs/bench)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-${HEAL_DATA:-$root/../shared/data}}
out=${2:-runs/bench}
heal=${HEAL_BIN:-$root/build/release/cli/heal}
[ -x "$heal" ] || { echo "no heal binary at $heal: build first (cmake --preset release && cmake --build --preset release)"; exit 2; }
for f in pneumoniamnist.npz breastmnist.npz covid_ct; do
  [ -e "$data/$f" ] || { echo "missing $data/$f: pass the data directory (see README, Data)"; exit 2; }
done
mkdir -p "$out"

run() {  # name, then heal arguments
  local name=$1; shift
  local t0=$SECONDS
  "$heal" --quiet "$@" --out "$out/$name" > "$out/$name.log" 2>&1
  echo "$((SECONDS - t0))" > "$out/$name.wall"
}
run pneumonia_hecnn train --data "$data/pneumoniamnist.npz" --model hecnn &
run breast_hecnn train --data "$data/breastmnist.npz" --model hecnn
run covid_hecnn train --data "$data/covid_ct" --size 64 --model hecnn
wait
run covid_capsnet train --data "$data/covid_ct" --size 64 --model capsnet --lr 1e-3 --epochs 30 --patience 12 --threads 1 &
run breast_hecnn_x3 train --data "$data/breastmnist.npz" --model hecnn --ensemble 3 --train-on-val --jobs 1
wait
run breast_hecnn_d3_x3 train --data "$data/breastmnist.npz" --model hecnn --depth 3 --ensemble 3 --train-on-val --jobs 2

metric() { grep -E "^  $2 " "$out/$1.log" | tail -1 | awk '{print $NF}'; }
printf '\n| dataset | model | test ACC | test AUC | wall (s) | published baseline |\n|---|---|---:|---:|---:|---|\n'
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "$3" "$(metric "$1" accuracy)" "$(metric "$1" 'ROC AUC')" "$(cat "$out/$1.wall")" "$4"; }
row pneumonia_hecnn PneumoniaMNIST hecnn "ResNet-18 (28): ACC 0.854, AUC 0.944"
row breast_hecnn BreastMNIST hecnn "ResNet-18 (28): ACC 0.863, AUC 0.901"
row breast_hecnn_x3 BreastMNIST "hecnn x3, --train-on-val" "ResNet-18 (28): ACC 0.863, AUC 0.901"
row breast_hecnn_d3_x3 BreastMNIST "hecnn 3 blocks x3, --train-on-val" "ResNet-18 (28): ACC 0.863, AUC 0.901"
row covid_hecnn "COVID-CT 64x64" hecnn "DenseNet-169: ACC 0.847, AUC 0.919"
row covid_capsnet "COVID-CT 64x64" capsnet "DenseNet-169: ACC 0.847, AUC 0.919"
echo "logs, reports and plots: $out/"
