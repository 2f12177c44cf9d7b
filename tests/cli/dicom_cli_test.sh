#!/usr/bin/env bash
# CLI checks of the DICOM options (--window, --spacing, --frame) on a corpus made with the DCMTK /
# GDCM tools (tests/io/make_dicom_corpus.sh; a missing tool fails with its name).
# Usage: dicom_cli_test.sh HEAL_BINARY
set -euo pipefail
heal=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../io/make_dicom_corpus.sh" "$work/c" 40 32 || fail "could not build the DICOM corpus (see above)"
c=$work/c
num() { grep "\"$1\"" | head -1 | sed 's/.*: *//; s/,$//'; }

"$heal" --help | grep -q -- "--window" || fail "--help lacks --window"
"$heal" --help | grep -q "lung (-600,1500)" || fail "--help lacks the presets"
"$heal" --help | grep -q -- "--spacing" || fail "--help lacks --spacing"
"$heal" --help | grep -q -- "--frame" || fail "--help lacks --frame"

j=$("$heal" data info "$c/ele_s16.dcm" --json)
[ "$(num width <<<"$j")" = 40 ] && [ "$(num height <<<"$j")" = 32 ] || fail "native size: $j"
# Pixel Spacing 0.5 (rows) \ 0.8 (columns): 1 mm gives round(40*0.8) x round(32*0.5).
j=$("$heal" --spacing 1 data info "$c/ele_s16.dcm" --json)
[ "$(num width <<<"$j")" = 32 ] && [ "$(num height <<<"$j")" = 16 ] || fail "--spacing 1: $j"
# A narrow window saturates: the brain window leaves most of this image at 0 or 1.
lung=$("$heal" --window lung data info "$c/ele_s16.dcm" --json | num mean)
brain=$("$heal" --window 40,80 data info "$c/ele_s16.dcm" --json | num mean)
[ "$lung" != "$brain" ] || fail "--window has no effect ($lung)"
# Frames.
m0=$("$heal" --window 2048,4096 data info "$c/rle_mf.dcm" --json | num mean)
m2=$("$heal" --window 2048,4096 --frame 2 data info "$c/rle_mf.dcm" --json | num mean)
[ "$m0" != "$m2" ] || fail "--frame has no effect"
out=$("$heal" --frame 3 data info "$c/rle_mf.dcm" 2>&1) && fail "frame 3 of 3 accepted"
grep -q "out of range" <<<"$out" || fail "frame error unclear: $out"
# No Pixel Spacing with --spacing: a clear error.
out=$("$heal" --spacing 1 data info "$c/ele_m16.dcm" 2>&1) && fail "--spacing without Pixel Spacing accepted"
grep -q "Pixel Spacing" <<<"$out" || fail "spacing error unclear: $out"
# A bad window is refused while parsing.
out=$("$heal" --window lungs data info "$c/ele_m16.dcm" 2>&1) && fail "--window lungs accepted"
grep -q "CENTER,WIDTH" <<<"$out" || fail "window error unclear: $out"
# Compressed syntaxes decode through the CLI.
for f in j2k_lossless_rgb jpeg_baseline_ybr422 jpls_lossless_s16 nometa_eli_s16; do
  "$heal" data info "$c/$f.dcm" >/dev/null || fail "$f does not decode"
done
echo "dicom CLI checks passed"
