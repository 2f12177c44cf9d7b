#!/usr/bin/env bash
# Issue 20's federated-vs-centralised segmentation runs on covid_seg: 3 hospitals (iid split of the
# 50 training slices), threshold-CKKS aggregation and the ledger, R rounds x E local epochs with the
# cosine learning-rate schedule over the rounds; the centralised model is trained in the same run
# with `heal train --task segment`'s recipe for R x E epochs. Then a table of test Dice per seed.
# Resumable: a finished run (its report.json) is not repeated.
# Usage: scripts/fedseg_benchmarks.sh [HEAL_BINARY] [OUT_DIR]
# Env: SEEDS ("1 2 3"), MODEL (unet | ucaps | segcaps), ROUNDS (30), LOCAL_EPOCHS (2), SIZE (128),
#      THREADS (2), DATA (../shared/data), MAX_DECRYPTIONS (the key's flooding budget; default 4096)
# The key's flooding budget (decryptions per key epoch) bounds ROUNDS x ciphertexts per update:
# with 4096, U-Net (483,857 weights, 119 ciphertexts) supports 34 rounds, SegCaps (1.43 M weights)
# about 11; the setup line of each run states it. MAX_DECRYPTIONS=16384 (one more bit of flooding
# noise) gives the capsule networks 30 rounds and more.
set -euo pipefail
cd "$(dirname "$0")/.."
heal=${1:-build/release/cli/heal}
out=${2:-runs/fedseg}
data=${DATA:-../shared/data}
model=${MODEL:-unet}
mkdir -p "$out"
for seed in ${SEEDS:-1 2 3}; do
  dir="$out/${model}_s${seed}"
  [ -s "$dir/report.json" ] && continue
  echo "== $model seed $seed"
  "$heal" --quiet fl simulate --task segment --data "$data/covid_seg" --hospitals 3 --partition iid \
    --rounds "${ROUNDS:-30}" --local-epochs "${LOCAL_EPOCHS:-2}" --lr 1e-3 --lr-schedule cosine --batch 4 \
    --size "${SIZE:-128}" --model "$model" --secure he --centralized --threads "${THREADS:-2}" --seed "$seed" \
    --max-decryptions "${MAX_DECRYPTIONS:-4096}" --out "$dir" > "$dir.txt.tmp"
  mv "$dir.txt.tmp" "$dir.txt"
  grep -E "final global model|centralized" "$dir.txt"
done
printf '%-6s %-12s %-12s %-8s\n' seed federated centralised gap
for f in "$out/${model}"_s*/report.json; do
  seed=${f%/report.json}
  jq -r --arg s "${seed##*_s}" '[$s, .test.dice, .centralized.dice] | @tsv' "$f"
done | awk -F'\t' '{printf "%-6s %-12.4f %-12.4f %+.4f\n", $1, $2, $3, $2 - $3; f += $2; c += $3; n++}
  END {if (n) printf "mean   %-12.4f %-12.4f %+.4f\n", f / n, c / n, (f - c) / n}'
