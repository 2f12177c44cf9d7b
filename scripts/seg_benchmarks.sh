#!/usr/bin/env bash
# Segmentation runs of issue 20 on covid_seg (benchmarks, not tests): U-Net, UCaps and SegCaps trained by
# the same code and recipe over seeds, plus the intensity-normalisation ablation, then a table of
# the test split's mean Dice next to the published baselines: at threshold 0.5, and under the Inf-Net
# evaluation toolbox's protocol (8-bit map stretched, mean over 256 thresholds), the one the published
# numbers use.
# Usage: scripts/seg_benchmarks.sh [DATA_DIR (default ../shared/data or $HEAL_DATA)] [OUT_DIR (default runs/seg)]
# Environment: SEEDS (default "1 2 3"), SIZE (128), UNET_EPOCHS (60, also UCaps), CAPS_EPOCHS (40, SegCaps), MODELS ("unet ucaps segcaps"),
# NORMS (ablation on U-Net seed 1, default "none histogram"; zscore is the default recipe; MODELS= and NORMS= skip them),
# MC_MODELS (multi-class runs on the ground-glass / consolidation masks, e.g. "unet ucaps"; default none)
# with MC_NORM (their normalisation, default none: chosen by cross-validation, docs/segmentation.md),
# THREADS (libtorch threads per run; default: heal's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-${HEAL_DATA:-$root/../shared/data}}
out=${2:-runs/seg}
heal=${HEAL_BIN:-$root/build/release/cli/heal}
seeds=${SEEDS:-1 2 3}
size=${SIZE:-128}
models=${MODELS-unet ucaps segcaps}
norms=${NORMS-none histogram}
[ -x "$heal" ] || { echo "no heal binary at $heal: build first (cmake --preset release && cmake --build --preset release)"; exit 2; }
[ -d "$data/covid_seg" ] || { echo "missing $data/covid_seg: pass the data directory (see README, Data)"; exit 2; }
mkdir -p "$out"

run() {  # name, then heal arguments
  local name=$1; shift
  [ -f "$out/$name/report.json" ] && return 0  # resumable
  "$heal" --quiet train --task segment --data "$data/covid_seg" --size "$size" ${THREADS:+--threads "$THREADS"} "$@" \
    --out "$out/$name" > "$out/$name.log" 2>&1
}
for m in $models; do
  epochs=${UNET_EPOCHS:-60}
  [ "$m" = segcaps ] && epochs=${CAPS_EPOCHS:-40}
  for s in $seeds; do run "${m}_s$s" --model "$m" --epochs "$epochs" --seed "$s"; done
done
for n in $norms; do run "unet_norm_${n}_s1" --model unet --epochs "${UNET_EPOCHS:-60}" --seed 1 --normalize "$n"; done
for m in ${MC_MODELS:-}; do
  for s in $seeds; do
    run "mc_${m}_s$s" --multiclass --model "$m" --epochs "${UNET_EPOCHS:-60}" --seed "$s" --normalize "${MC_NORM:-none}"
  done
done

python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = {}
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d, "report.json")
    if not os.path.isfile(p):
        continue
    r = json.load(open(p))
    if "training" not in r:  # e.g. a federated run's report in the same folder
        continue
    key = d.rsplit("_s", 1)[0]
    rows.setdefault(key, []).append(r)
print("covid_seg test split (48 slices), per image at native resolution, mean over images;")
print("Dice/Sen/Spec at threshold 0.5, then 'toolbox': Dice and S-alpha under the Inf-Net toolbox protocol")
print(f"{'run':<22} {'seeds':>5} {'Dice':>15} {'IoU':>7} {'Sen':>7} {'Spec':>7} {'MAE':>7} {'toolbox Dice':>15} {'S-alpha':>7} {'params':>9} {'train s':>8}")
for k, rs in rows.items():
    d = [r["test"]["dice"] for r in rs]
    m = lambda f: statistics.mean(r["test"][f] for r in rs)
    sd = statistics.stdev(d) if len(d) > 1 else 0.0
    tb = [r["test"].get("infnet", {}).get("dice") for r in rs]
    if all(v is not None for v in tb):
        tsd = statistics.stdev(tb) if len(tb) > 1 else 0.0
        toolbox = f"{statistics.mean(tb):>8.4f} +- {tsd:.3f} {statistics.mean(r['test']['infnet']['s_alpha'] for r in rs):>7.4f}"
    else:  # reports written before the toolbox metrics (heal eval --json recomputes them from model.healseg)
        toolbox = f"{'n/a':>15} {'n/a':>7}"
    print(f"{k:<22} {len(rs):>5} {statistics.mean(d):>8.4f} +- {sd:.3f} {m('iou'):>7.4f} {m('sensitivity'):>7.4f} "
          f"{m('specificity'):>7.4f} {m('mae'):>7.4f} {toolbox} {rs[0]['model']['parameters']:>9} "
          f"{statistics.mean(r['training']['seconds'] for r in rs):>8.0f}")
print("published (Inf-Net Table II, toolbox protocol, 352 x 352): U-Net 0.439, Dense-UNet 0.515, U-Net++ 0.581, Attention-UNet 0.583, "
      "Gated-UNet 0.623, Inf-Net 0.682, Semi-Inf-Net 0.739")
mc = {k: rs for k, rs in rows.items() if rs[0]["test"].get("per_class")}
if mc:
    print()
    print("multi-class runs, per lesion class (one-vs-rest; Dice of the argmax label map, toolbox Dice of P(class)):")
    print(f"{'run':<22} {'seeds':>5} {'class':<22} {'Dice':>15} {'Sen':>7} {'Spec':>7} {'toolbox Dice':>15}")
    for k, rs in mc.items():
        for c in range(len(rs[0]["test"]["per_class"])):
            pcs = [r["test"]["per_class"][c] for r in rs]
            d = [p["dice"] for p in pcs]
            t = [p["infnet"]["dice"] for p in pcs]
            sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
            print(f"{k:<22} {len(rs):>5} {pcs[0]['name']:<22} {statistics.mean(d):>8.4f} +- {sd(d):.3f} "
                  f"{statistics.mean(p['sensitivity'] for p in pcs):>7.4f} {statistics.mean(p['specificity'] for p in pcs):>7.4f} "
                  f"{statistics.mean(t):>8.4f} +- {sd(t):.3f}")
PY
