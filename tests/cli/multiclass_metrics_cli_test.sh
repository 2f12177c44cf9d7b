#!/usr/bin/env bash
# CLI checks of the multi-class metrics (per-class one-vs-rest table, kappa, per_class JSON) on a
# synthetic 3-class MedMNIST-style dataset and a random 3-class model (no libtorch needed); with
# libtorch also `heal train` on it: report.json per_class and the one-curve-per-class roc_test.png.
# Usage: multiclass_metrics_cli_test.sh HEAL_BINARY MAKE_TEST_MODEL_BINARY MAKE_TEST_DATASET_BINARY
set -euo pipefail
heal=$1
make_model=$2
make_dataset=$3
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$make_dataset" "$work/three.npz" 3 || fail "cannot write the test dataset"
"$make_model" "$work/m3.heal" 3 || fail "cannot write the 3-class test model"

# Text table: macro lines keep "name value" (scripts read the last field), then the per-class table.
out=$("$heal" --quiet eval --model "$work/m3.heal" --data "$work/three.npz")
echo "$out"
grep -Eq '^  ROC AUC +[0-9.]+$' <<<"$out" || fail "ROC AUC line does not end with its value"
grep -Eq '^  kappa +-?[0-9.]+$' <<<"$out" || fail "kappa line"
grep -Eq '^  quadratic-weighted kappa \(ordinal labels\) +-?[0-9.]+$' <<<"$out" || fail "quadratic kappa line"
grep -q '^  per class (one-vs-rest)$' <<<"$out" || fail "per-class table header"
for k in 0 1 2; do
  row="^    class$k +20 +[0-9.]+ +[0-9.]+ +([0-9.]+|nan) +([0-9.]+|nan) +[0-9.]+$"  # n, sens, spec, prec, F1, AUC
  grep -Eq "$row" <<<"$out" || fail "row of class$k"
done
grep -Eq '^    macro +60 ' <<<"$out" || fail "macro row"

# JSON of eval and of infer's plaintext reference: per_class with names, kappa fields, old keys.
check_json() {  # FILE METRICS(python expression on j) NAMES(1: per_class entries carry the model's class names)
  python3 - "$1" "$2" "$3" <<'PY' || fail "JSON check of $1"
import json, math, sys
j = json.load(open(sys.argv[1]))
m = eval(sys.argv[2])
for key in ("n", "accuracy", "auc", "sensitivity", "specificity", "kappa", "quadratic_kappa", "macro_f1", "per_class"):
    assert key in m, key
pc = m["per_class"]
assert [e["class"] for e in pc] == [0, 1, 2], pc
if sys.argv[3] == "1":
    assert [e["name"] for e in pc] == ["class0", "class1", "class2"], pc
else:
    assert all("name" not in e for e in pc), pc
assert [e["n"] for e in pc] == [20, 20, 20], pc
aucs = [e["auc"] for e in pc]
assert abs(sum(aucs) / 3 - m["auc"]) < 1e-9, (aucs, m["auc"])
assert abs(sum(e["sensitivity"] for e in pc) / 3 - m["sensitivity"]) < 1e-9
assert len(m["confusion"]) == 3 and sum(map(sum, m["confusion"])) == 60
assert -1 <= m["kappa"] <= 1 and -1 <= m["quadratic_kappa"] <= 1
PY
}
if command -v python3 >/dev/null; then
  "$heal" --quiet eval --model "$work/m3.heal" --data "$work/three.npz" --json > "$work/eval.json"
  check_json "$work/eval.json" 'j["metrics"]' 1
  "$heal" --quiet infer --model "$work/m3.heal" --data "$work/three.npz" --json > "$work/infer.json"
  check_json "$work/infer.json" 'j["plaintext"]' 0  # infer names the dataset's classes (none here)
else
  echo "no python3: JSON structure checks skipped"
fi

# Training (libtorch builds only): report.json per_class and the multi-class ROC plot.
if "$heal" --quiet train --help | grep -q -- '--recipe'; then
  "$heal" --quiet train --data "$work/three.npz" --model hecnn --epochs 2 --threads 2 --out "$work/run" \
    > "$work/train.txt" ||
    { cat "$work/train.txt"; fail "heal train on the 3-class dataset"; }
  grep -q '^  per class (one-vs-rest)$' "$work/train.txt" || fail "train table without the per-class rows"
  [ "$(head -c 4 "$work/run/roc_test.png" | tail -c 3)" = "PNG" ] || fail "roc_test.png missing or not a PNG"
  if command -v python3 >/dev/null; then
    python3 - "$work/run/report.json" <<'PY' || fail "report.json per_class"
import json, sys
r = json.load(open(sys.argv[1]))
for split in ("val", "test"):
    pc = r[split]["per_class"]
    assert len(pc) == 3 and all("auc" in e and "specificity" in e for e in pc), pc
    assert "kappa" in r[split] and "quadratic_kappa" in r[split]
PY
  fi
else
  echo "heal built without libtorch: training checks skipped"
fi
echo "multi-class metrics CLI checks passed"
