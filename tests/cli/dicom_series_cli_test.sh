#!/usr/bin/env bash
# CLI checks for DICOM series folders and the global --slices option (issue 21): `heal data info` on a
# folder of series (table and --json), UIDs kept out of the output unless --uids, and the slice
# selection applied to a folder dataset whose class folders hold series. Every DICOM file is generated
# here with DCMTK's dump2dcm (package dcmtk, installed by scripts/install-deps.sh).
# Usage: dicom_series_cli_test.sh HEAL_BINARY
set -euo pipefail
heal=$1
fail() { echo "FAIL: $*"; exit 1; }
command -v dump2dcm >/dev/null || fail "dump2dcm (DCMTK tools, Debian package dcmtk) is required: scripts/install-deps.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sop=0
# slice FILE SERIES_UID Z INSTANCE: a 3x4 signed 16-bit CT slice at z (mm), values depending on Z.
slice() {
  sop=$((sop + 1))
  mkdir -p "$(dirname "$1")"
  local px="" i
  for i in $(seq 0 11); do px="$px\\$(printf '%04x' $(( (i * 37 + ${3%.*} * 11) & 0xffff )))"; done
  cat >"$work/slice.dump" <<DUMP
(0008,0016) UI =CTImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.901.$sop]
(0008,0060) CS [CT]
(0010,0010) PN [Doe^Jane]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.902]
(0020,000e) UI [$2]
(0020,0032) DS [-10\5\\$3]
(0020,0037) DS [1\0\0\0\1\0]
(0020,0013) IS [$4]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 3
(0028,0011) US 4
(0028,0030) DS [0.8\0.7]
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 1
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW ${px#\\}
DUMP
  dump2dcm -q +te "$work/slice.dump" "$1" || fail "dump2dcm could not write $1"
}

# A folder as a PACS export leaves it: two series (5 slices, files in shuffled order; 3 slices in a
# sub-folder), a series with two slices at one position, and a text file.
uid_a=1.2.826.0.1.3680043.2.1125.900.1
uid_b=1.2.826.0.1.3680043.2.1125.900.2
uid_c=1.2.826.0.1.3680043.2.1125.900.3
i=0
for z in 7.5 0 10 2.5 5; do i=$((i + 1)); slice "$work/pacs/IM$i" $uid_a "$z" "$i"; done
for z in 0 3 6; do slice "$work/pacs/sub/B$z.dcm" $uid_b "$z" 1; done
slice "$work/pacs/dup/D1" $uid_c 4 1
slice "$work/pacs/dup/D2" $uid_c 4 2
echo "not dicom" >"$work/pacs/notes.txt"

out=$("$heal" data info "$work/pacs")
echo "$out"
grep -q '3 DICOM series (10 DICOM files, 1 other files' <<<"$out" || fail "series count"
grep -Eq '^  [0-9] +CT +5  4x3 +0.8 x 0.7 +2.5 +position +5$' <<<"$out" || fail "5-slice series row"
grep -Eq '^  [0-9] +CT +3  4x3 +0.8 x 0.7 +3 +position +3$' <<<"$out" || fail "3-slice series row"
grep -q 'refused: duplicate slice position' <<<"$out" || fail "duplicate positions not reported"
grep -q "$uid_a" <<<"$out" && fail "series UID printed without --uids"
grep -q 'Doe' <<<"$out" && fail "patient name printed"
"$heal" data info "$work/pacs" --uids | grep -q "uid: $uid_a" || fail "--uids does not print the UID"

json=$("$heal" data info "$work/pacs" --json)
grep -q '"kind": "dicom-series"' <<<"$json" || fail "json kind"
grep -q '"selected_slices": 5' <<<"$json" || fail "json selected (auto = all slices of a series)"
grep -q "$uid_a" <<<"$json" && fail "json carries the UID without --uids"
json=$("$heal" --slices every:2 data info "$work/pacs" --json)
grep -q '"selected_slices": 3' <<<"$json" && grep -q '"selected_slices": 2' <<<"$json" || fail "--slices every:2"
grep -q '"slices": "every:2"' <<<"$json" || fail "json slices spec"

# --slices is checked when the command line is parsed.
if "$heal" --slices every:0 data info "$work/pacs" 2>"$work/err"; then fail "--slices every:0 accepted"; fi
grep -q 'every:K' "$work/err" || { cat "$work/err"; fail "--slices error message"; }

# A dataset whose class folders hold one series per patient: one image per selected slice.
for split in train val; do
  for cls in healthy sick; do
    for p in 1 2; do
      for z in 0 2 4 6; do slice "$work/ds/$split/$cls/p$p/s$z.dcm" "1.2.826.0.1.3680043.2.1125.903.$split$cls$p" $z 1; done
    done
  done
done
out=$("$heal" data info "$work/ds" --size 8)
echo "$out"
grep -Eq 'train +16 +1x8x8 +8 .*/ 8 ' <<<"$out" || fail "auto: every slice of every series"
out=$("$heal" --slices every:3 data info "$work/ds" --size 8)
grep -Eq 'train +8 +1x8x8 +4 .*/ 4 ' <<<"$out" || fail "every:3: slices 0 and 3 of each series"
out=$("$heal" --slices middle data info "$work/ds" --size 8 --json)
grep -q '"count": 4' <<<"$out" || fail "middle: one slice per series"
grep -q '"slices": "middle"' <<<"$out" || fail "json slices spec of a dataset"
echo "DICOM series CLI checks passed"
