#!/usr/bin/env bash
# PHI-leak check across HEAL (issue 21): a DICOM folder dataset whose patient identifiers are canary
# strings goes through what a user runs on it; no canary may appear in stdout, stderr, any file written
# (recursively, binary-safe, the ledger database included), nor in the output of `heal data deid`.
# Usage: phi_leak_cli_test.sh HEAL_BINARY TORCH(ON|OFF) SOURCE_DIR
set -euo pipefail
heal=$1
torch=$2
src=$3
fail() { echo "FAIL: $*"; exit 1; }
for tool in dump2dcm dcmdump; do
  command -v "$tool" > /dev/null || fail "the DCMTK tool '$tool' is needed (scripts/install-deps.sh installs dcmtk)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Canaries: every identifier below; grep looks for CANARY and the two dates.
canary_re='PHICANARY|19020304|19990909'
write_dcm() {  # write_dcm PATH INDEX CLASS
  local path=$1 i=$2 c=$3 px
  px=$(awk -v i="$i" -v c="$c" \
         'BEGIN { for (k = 0; k < 64; k++) printf "%s%02x", (k ? "\\" : ""), (k * (3 + c) + i) % 256 }')
  cat > "$work/dump.txt" <<EOF
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.2.1125.88.$c.$i]
(0008,0020) DA [19990909]
(0008,0050) SH [PHICANARYACC]
(0008,0060) CS [OT]
(0008,0080) LO [PHICANARY HOSPITAL]
(0008,0090) PN [PHICANARYDOC^REF]
(0008,1030) LO [PHICANARY STUDY]
(0009,0010) LO [PHICANARYCREATOR]
(0009,1001) LO [PHICANARYPRIVATE]
(0010,0010) PN [PHICANARYNAME^LEAK]
(0010,0020) LO [PHICANARYID4242]
(0010,0030) DA [19020304]
(0010,1000) LO [PHICANARYOTHERID]
(0020,000d) UI [1.2.826.0.1.3680043.2.1125.88.$c]
(0020,000e) UI [1.2.826.0.1.3680043.2.1125.88.$c.0]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 8
(0028,0011) US 8
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB $px
EOF
  dump2dcm -q "$work/dump.txt" "$path" || fail "dump2dcm"
}

# <root>/<split>/<class>/*.dcm, two classes.
data="$work/canary_ds"
for split in train val test; do
  n=6; [ "$split" = train ] && n=12
  for c in 0 1; do
    mkdir -p "$data/$split/class$c"
    for i in $(seq 1 "$n"); do write_dcm "$data/$split/class$c/img$i.dcm" "$i" "$c"; done
  done
done
grep -rqaE "$canary_re" "$data" || fail "the canaries are not in the input (the check below would prove nothing)"

out="$work/out"  # every command's files go here; stdout/stderr too
mkdir -p "$out"
run() {  # run NAME ARGS...: runs heal, keeps stdout and stderr under $out
  local name=$1; shift
  echo "+ heal $*"
  "$heal" "$@" > "$out/$name.stdout" 2> "$out/$name.stderr" || { cat "$out/$name.stderr"; fail "heal $* failed"; }
}
run info          data info "$data"
run info_json     data info "$data" --json
run info_file     data info "$data/train/class0/img1.dcm"
run info_file_j   data info "$data/train/class0/img1.dcm" --json
run partition     data partition "$data" --hospitals 2 --min-per-hospital 2
run partition_j   data partition "$data" --hospitals 2 --min-per-hospital 2 --json
grep -q '"count": 24' "$out/info_json.stdout" || fail "the canary dataset did not load (24 training images)"

# A broken file: its error message must not quote the header either.
write_dcm "$work/broken.dcm" 1 0
head -c 600 "$work/broken.dcm" > "$work/broken_short.dcm"
if "$heal" data info "$work/broken_short.dcm" > "$out/broken.stdout" 2> "$out/broken.stderr"; then
  fail "truncated DICOM accepted"
fi

# De-identification: its output (and what HEAL says about it) carries no canary, and it still loads.
run deid          data deid --in "$data" --out "$out/deid" --irreversible
run deid_info     data info "$out/deid" --json
grep -q '"count": 24' "$out/deid_info.stdout" || fail "the de-identified dataset does not load like the original"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj /CN=heal-phi-test > /dev/null 2>&1 || fail "the openssl command is needed"
run deid_rev      data deid --in "$data" --out "$out/deid_rev" --certificate "$work/cert.pem" --json
# GDCM's own re-identifier (E.1.2) opens HEAL's reversible output with the key, and only with it.
command -v gdcmanon > /dev/null || fail "GDCM's gdcmanon is needed (scripts/install-deps.sh installs libgdcm-tools)"
gdcmanon -d -k "$work/key.pem" -c "$work/cert.pem" "$out/deid_rev/train/class1/img3.dcm" "$work/reid.dcm" \
  || fail "gdcmanon could not re-identify HEAL's output"
dcmdump "$work/reid.dcm" > "$work/reid.txt" || fail "dcmdump"  # not piped into grep -q (SIGPIPE + pipefail)
grep -qF 'PHICANARYNAME^LEAK' "$work/reid.txt" || fail "re-identification did not restore PatientName"

if [ "$torch" = ON ]; then
  run train       --quiet train --data "$data" --model hecnn --epochs 1 --size 16 --batch 8 --out "$out/train"
  run eval        --quiet eval --data "$data" --model "$out/train/model.heal"
  run eval_j      --quiet eval --data "$data" --model "$out/train/model.heal" --json
  run fl          --quiet fl simulate --data "$data" --hospitals 2 --rounds 1 --local-epochs 1 --secure none \
                  --model hecnn --out "$out/fl"
  [ -s "$out/fl/ledger.db" ] || fail "fl simulate wrote no ledger database"
else
  echo "(built without libtorch: train/eval/fl simulate not run)"
fi

# The check itself: stdout, stderr and every file written, recursively and binary-safe.
nfiles=$(find "$out" -type f | wc -l)
if hits=$(grep -rlaE "$canary_re" "$out"); then
  echo "$hits"
  fail "patient identifiers leaked into the files above"
fi
echo "no canary in $nfiles files (stdout, stderr, outputs)"

# Code-level check (a bonus, not a substitute): no HEAL source outside the de-identifier names a patient
# or person attribute of the DICOM dictionary.
phi_attr='DCM_(Patient(Name|ID|BirthDate|Address)|OtherPatient|InstitutionName|ReferringPhysician|AccessionNumber)'
if hits=$(grep -rnE "$phi_attr|0x0010, *0x00(10|20|30)" \
            "$src/src" "$src/cli" "$src/include" --include='*.cpp' --include='*.h' | grep -v '/deid/'); then
  echo "$hits"
  fail "HEAL code reads patient identifiers outside src/deid"
fi
echo "PHI leak checks passed"
