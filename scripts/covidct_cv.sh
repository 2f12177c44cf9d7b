#!/usr/bin/env bash
# COVID-CT classification runs of issue 20 (benchmarks, not tests): patient-grouped 5-fold
# cross-validation on train + val (the test split is not read) of the hecnn recipe, against the
# scanner-normalisation and segment-then-classify variants, and the same folds over images.
# Usage: scripts/covidct_cv.sh [DATA_DIR (default ../shared/data or $HEAL_DATA)] [OUT_DIR (default runs/covidct_cv)]
# Environment: SEEDS (default "1"), SIZE (64), THREADS (1), GROUPINGS ("auto none"; auto = grouped by
# patient), SEG_MODEL (a .healseg; default: a U-Net trained here on covid_seg, 60 epochs, seed 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-${HEAL_DATA:-$root/../shared/data}}
out=${2:-runs/covidct_cv}
heal=${HEAL_BIN:-$root/build/release/cli/heal}
seeds=${SEEDS:-1}
size=${SIZE:-64}
threads=${THREADS:-1}
groupings=${GROUPINGS:-auto none}
[ -x "$heal" ] || { echo "no heal binary at $heal: build first (cmake --preset release && cmake --build --preset release)"; exit 2; }
[ -d "$data/covid_ct" ] || { echo "missing $data/covid_ct: pass the data directory (see README, Data)"; exit 2; }
mkdir -p "$out"
seg=${SEG_MODEL:-$out/seg_unet/model.healseg}
if [ ! -f "$seg" ]; then
  [ -d "$data/covid_seg" ] || { echo "missing $data/covid_seg for the segmentation prior (or set SEG_MODEL)"; exit 2; }
  echo "training the U-Net infection model on covid_seg ..."
  "$heal" --quiet train --task segment --data "$data/covid_seg" --model unet --size 128 --epochs 60 --seed 1 \
    --threads "$threads" --overlays 0 --out "$out/seg_unet" > "$out/seg_unet.log" 2>&1
fi
run() {  # name, seed, grouping, then heal arguments
  local name=$1 seed=$2 grouping=$3; shift 3
  [ -f "$out/$name/cv.json" ] && return 0  # resumable
  echo "cv $name ..."
  "$heal" --quiet train --data "$data/covid_ct" --size "$size" --cv 5 --cv-groups "$grouping" --seed "$seed" \
    --threads "$threads" "$@" --out "$out/$name" > "$out/$name.log" 2>&1
}
for g in $groupings; do
  for s in $seeds; do
    run "${g}_none_s$s" "$s" "$g"
    run "${g}_histogram_s$s" "$s" "$g" --normalize histogram
    run "${g}_zscore_s$s" "$s" "$g" --normalize zscore
    run "${g}_segprior_s$s" "$s" "$g" --seg-prior "$seg"
    run "${g}_segprior_histogram_s$s" "$s" "$g" --seg-prior "$seg" --normalize histogram
  done
done

python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = {}
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d, "cv.json")
    if os.path.isfile(p):
        rows.setdefault(d.rsplit("_s", 1)[0], []).append(json.load(open(p)))
print("COVID-CT train + val, 5-fold CV (test split not read); mean over seeds of the CV means")
print(f"{'folds':<9} {'variant':<20} {'seeds':>5} {'ACC':>7} {'AUC':>7} {'fold sd ACC':>11}")
for k, rs in rows.items():
    grouping, variant = k.split("_", 1)
    acc = statistics.mean(r["mean"]["accuracy"] for r in rs)
    auc = statistics.mean(r["mean"]["auc"] for r in rs)
    sd = statistics.mean(r["sd"]["accuracy"] for r in rs)
    label = "patients" if rs[0].get("grouped_by_patient") else "images"
    print(f"{label:<9} {variant:<20} {len(rs):>5} {acc:>7.4f} {auc:>7.4f} {sd:>11.4f}")
print("published (official test split): DenseNet-169 ImageNet-pretrained 0.847 / 0.919")
PY
