# shellcheck shell=bash
# Shared by scripts/cv_breast_stage*.sh: nested 5-fold cross-validation (`heal train --cv 5`) of
# named configurations on BreastMNIST train + val, two runs at a time (2 cores, one libtorch
# thread each), then a table of mean CV ACC / AUC. Sourced as
#   source "$(dirname "$0")/lib/cv_rows.sh" DEFAULT_OUT_DIR "$@"   # "$@" = [DATA_DIR] [OUT_DIR]
#   add NAME "HEAL TRAIN FLAGS"; ...; run_rows
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${2:-${HEAL_DATA:-$root/../shared/data}}
out=${3:-$1}
heal=${HEAL_BIN:-$root/build/release/cli/heal}
[ -x "$heal" ] || { echo "no heal binary at $heal: build first (cmake --preset release && cmake --build --preset release)"; exit 2; }
[ -e "$data/breastmnist.npz" ] || { echo "missing $data/breastmnist.npz: pass the data directory (see README, Data)"; exit 2; }
mkdir -p "$out"

names=(); flags=()
add() { names+=("$1"); flags+=("$2"); }

# Runs every row, two at a time: a new one starts as soon as either finishes (rows differ in
# length, an ensemble row takes 3 times a single one).
run_rows() {
  local i n
  for i in "${!names[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
    # shellcheck disable=SC2086
    "$heal" --quiet train --data "$data/breastmnist.npz" --cv 5 ${flags[$i]} --out "$out/${names[$i]}" > "$out/${names[$i]}.log" 2>&1 &
  done
  wait
  printf '%-16s %s\n' configuration "nested 5-fold CV"
  for n in "${names[@]}"; do printf '%-16s %s\n' "$n" "$(grep 'cross-validation (' "$out/$n.log" | sed 's/.*images): //')"; done
}
