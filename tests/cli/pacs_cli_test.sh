#!/usr/bin/env bash
# CLI checks for a PACS as the data source (issue 21), run inside heal_pacs_fixture, which starts Orthanc on
# loopback with 22 generated studies (44 images, canary PatientName) and sets HEAL_TEST_DICOMWEB,
# HEAL_TEST_DIMSE, HEAL_TEST_LABELS and HEAL_TEST_CANARY.
# Usage: heal_pacs_fixture WORK 22 -- pacs_cli_test.sh HEAL_BINARY [train]
#   pull  (default): heal data pull over DICOMweb and DIMSE, resume, data info on the URL, unreachable server
#   train: also heal train on the pulled dataset.csv and straight from --data dicomweb://... (needs libtorch)
set -euo pipefail
heal=$1
mode=${2:-pull}
fail() { echo "FAIL: $*"; exit 1; }
[ -n "${HEAL_TEST_DICOMWEB:-}" ] || fail "run me through heal_pacs_fixture (HEAL_TEST_DICOMWEB is not set)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Nothing HEAL prints or writes (besides the DICOM copies) may carry the canary PatientName.
no_canary() {
  for f in "$@"; do
    if grep -rIl -e CANARY -e LEAKED -e PHI7731 --exclude='*.dcm' "$f"; then fail "patient identifier leaked into $f"; fi
  done
}

start=$(date +%s.%N)
"$heal" data pull --from "$HEAL_TEST_DICOMWEB" --labels "$HEAL_TEST_LABELS" --out "$work/pulled" \
  --filter Modality=CT > "$work/pull.txt" 2> "$work/pull.err"
end=$(date +%s.%N)
cat "$work/pull.txt"
echo "pull of 22 studies (44 images) over DICOMweb: $(echo "$end - $start" | bc) s"
grep -q 'found 44 instances; 44 labelled in 22 studies, 0 without a label skipped' "$work/pull.txt" || fail "pull counts"
grep -q 'retrieved 44 ' "$work/pull.txt" || fail "pull retrieved"
grep -q 'splits by study: train 32, val 4, test 8 images' "$work/pull.txt" || fail "pull splits"
[ "$(wc -l < "$work/pulled/dataset.csv")" = 45 ] || fail "dataset.csv rows"
head -1 "$work/pulled/dataset.csv" | grep -qx 'path,label,split' || fail "dataset.csv header"
no_canary "$work/pull.txt" "$work/pull.err" "$work/pulled"

# Resumable: a second pull retrieves nothing.
"$heal" --quiet data pull --from "$HEAL_TEST_DICOMWEB" --labels "$HEAL_TEST_LABELS" --out "$work/pulled" \
  > "$work/pull2.txt"
grep -q 'retrieved 0 (0 bytes), 44 already present' "$work/pull2.txt" || fail "resume: $(cat "$work/pull2.txt")"

# DIMSE C-FIND/C-GET gives the same files (labels given in the URL this time; 5 studies by StudyDate, as
# Orthanc takes about 0.1 s per C-FIND and per C-GET).
"$heal" --quiet data pull --from "$HEAL_TEST_DIMSE?labels=$HEAL_TEST_LABELS&StudyDate=20240101-20240105" \
  --out "$work/dimse" > "$work/dimse.txt"
grep -q 'found 10 instances; 10 labelled in 5 studies' "$work/dimse.txt" || fail "DIMSE pull: $(cat "$work/dimse.txt")"
n=0
while IFS=, read -r path label split; do
  [ "$path" = path ] && continue
  cmp -s "$work/dimse/$path" "$work/pulled/$path" || fail "DIMSE object $path differs from the DICOMweb one"
  n=$((n + 1))
done < "$work/dimse/dataset.csv"
[ "$n" = 10 ] || fail "DIMSE dataset.csv rows: $n"
no_canary "$work/dimse.txt" "$work/dimse"

# The URL is a dataset for every --data command.
"$heal" data info "$HEAL_TEST_DICOMWEB?labels=$HEAL_TEST_LABELS" --size 28 > "$work/info.txt" 2>&1
cat "$work/info.txt"
grep -Eq 'train +32 +1x28x28' "$work/info.txt" || fail "data info on the URL"
no_canary "$work/info.txt"

# An unreachable server says what to check.
if "$heal" data pull --from dicomweb://127.0.0.1:1/dicom-web --labels "$HEAL_TEST_LABELS" --out "$work/x" \
  2> "$work/unreach.txt"; then fail "unreachable server accepted"; fi
grep -q 'is Orthanc (or the PACS) running at 127.0.0.1:1' "$work/unreach.txt" || fail "unreachable message"

if [ "$mode" = train ]; then
  common=(--model hecnn --epochs 10 --batch 8 --no-augment --size 28 --patience 0 --threads 2 --seed 1)
  t0=$(date +%s)
  "$heal" --quiet train --data "$work/pulled/dataset.csv" "${common[@]}" --out "$work/run_csv" > "$work/train1.txt" 2>&1 \
    || { cat "$work/train1.txt"; fail "train on the pulled dataset.csv"; }
  [ -f "$work/run_csv/model.heal" ] || fail "no model from the pulled dataset"
  "$heal" --quiet train --data "$HEAL_TEST_DICOMWEB?labels=$HEAL_TEST_LABELS" "${common[@]}" --out "$work/run_url" \
    > "$work/train2.txt" 2>&1 || { cat "$work/train2.txt"; fail "train straight from dicomweb://"; }
  [ -f "$work/run_url/model.heal" ] || fail "no model from the dicomweb:// dataset"
  echo "two trainings: $(( $(date +%s) - t0 )) s"
  # The two classes (horizontal vs vertical stripes) are easy: both runs must have learned them.
  for t in train1 train2; do
    acc=$(grep -E '^  accuracy ' "$work/$t.txt" | head -1 | awk '{print $2}')
    echo "$t test accuracy: $acc"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }' || fail "$t did not learn the stripes (test accuracy $acc)"
  done
  no_canary "$work/train1.txt" "$work/train2.txt" "$work/run_csv" "$work/run_url"
fi
echo "PACS CLI checks passed ($mode)"
