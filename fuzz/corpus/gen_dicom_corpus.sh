#!/usr/bin/env bash
# Seeds of fuzz_dicom: the decoding corpus of tests/io/make_dicom_corpus.sh (every transfer syntax
# and photometric interpretation, 16x12 pixels), each file prefixed with the selector byte the
# target reads first (window kind, frame, spacing, frames/values paths).
# Usage: fuzz/corpus/gen_dicom_corpus.sh [OUTDIR]   (default fuzz/corpus/dicom)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/dicom}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/../../tests/io/make_dicom_corpus.sh" "$tmp" 16 12
mkdir -p "$out"
i=0
for f in "$tmp"/*.dcm; do
  sel=$(( (i * 37 + 0x60) & 0x7f ))
  { printf "\\x$(printf %02x "$sel")"; cat "$f"; } > "$out/$(basename "$f" .dcm)"
  i=$((i + 1))
done
echo "$i seeds in $out ($(du -sk "$out" | cut -f1) KiB)"
