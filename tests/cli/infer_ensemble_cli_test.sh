#!/usr/bin/env bash
# heal infer ensemble (secure ensemble diagnosis, issue 17) on a synthetic 2-class dataset with small
# random hecnn-shaped members (no libtorch, no shared data needed):
#  - SMPC mode equals the plaintext ensemble (--check-plaintext) within the fixed-point error, its
#    probabilities are rows summing to 1 and its ACC is recomputed from the printed rows;
#  - an ensemble of three copies of one model gives exactly that model's `heal eval` ACC and AUC;
#  - HE mode (explicit insecure test ring, 2 images) matches the plaintext weighted logits, and on copies
#    of one model predicts the classes SMPC predicts;
#  - an unknown mode, a ReLU member in HE mode and a weight count mismatch fail with a clear message.
# Usage: infer_ensemble_cli_test.sh HEAL_BINARY MAKE_TEST_MODEL_BINARY MAKE_TEST_DATASET_BINARY
set -euo pipefail
heal=$1
make_model=$2
make_dataset=$3
fail() { echo "FAIL: $*"; exit 1; }
json_number() { grep "\"$1\"" | head -1 | sed 's/.*: *//; s/,$//'; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v python3 >/dev/null || { echo "no python3: skipping"; exit 0; }

"$make_dataset" "$work/two.npz" 2 || fail "cannot write the test dataset"
for s in 1 2 3; do "$make_model" "$work/m$s.heal" 2 $s || fail "cannot write model $s"; done
"$make_model" "$work/relu.heal" 2 4 relu || fail "cannot write the ReLU model"
d="$work/two.npz"
members="--model $work/m1.heal --model $work/m2.heal --model $work/m3.heal"

# SMPC, three different members, the whole test split (40 images).
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $members --weights 0.5,0.3,0.2 --data "$d" --check-plaintext --json > "$work/smpc.json"
python3 - "$work/smpc.json" <<'PY' || fail "SMPC report"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "smpc" and "SEE THE IMAGES" in j["who_learns_what"], j["who_learns_what"]
assert j["images"] == 40 and len(j["results"]) == 40
assert abs(sum(j["weights"]) - 1) < 1e-12 and abs(j["weights"][0] - 0.5) < 1e-12
assert j["max_abs_diff_plaintext"] < 3 * 2**-17, j["max_abs_diff_plaintext"]
correct = 0
for r, p in zip(j["results"], [j["plaintext"][2 * i:2 * i + 2] for i in range(40)]):
    q = r["probabilities"]
    assert abs(sum(q) - 1) < 1e-4, q
    assert max(abs(a - b) for a, b in zip(q, p)) < 3 * 2**-17
    assert r["predicted"] == q.index(max(q))
    correct += r["predicted"] == r["label"]
assert abs(j["metrics"]["accuracy"] - correct / 40) < 1e-12, (j["metrics"]["accuracy"], correct)
b = j["bytes"]
assert len(b["member_sent"]) == 3 and min(b["member_sent"]) > 0 and b["querier_received"] == sum(b["member_sent"])
print("SMPC: ACC %.4f AUC %.4f, max |secure - plain| %.2e, %.3f s, querier sent %d received %d"
      % (j["metrics"]["accuracy"], j["metrics"]["auc"], j["max_abs_diff_plaintext"], j["seconds"],
         b["querier_sent"], b["querier_received"]))
PY

# Three copies of m1: the ensemble is m1; its metrics must be heal eval's.
same="--model $work/m1.heal --model $work/m1.heal --model $work/m1.heal"
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $same --data "$d" --json > "$work/same.json"
"$heal" --quiet eval --model "$work/m1.heal" --data "$d" --json > "$work/eval.json"
python3 - "$work/same.json" "$work/eval.json" <<'PY' || fail "ensemble of copies differs from heal eval"
import json, sys
e, v = json.load(open(sys.argv[1]))["metrics"], json.load(open(sys.argv[2]))["metrics"]
assert e["accuracy"] == v["accuracy"], (e["accuracy"], v["accuracy"])
# Fixed point (2^-17) can tie or untie two scores closer than that: each such pair moves the AUC by
# 0.5 / (20 * 20) = 0.00125. Up to 4 such pairs are tolerated; a wrong ensemble moves it far more.
assert abs(e["auc"] - v["auc"]) < 0.0055, (e["auc"], v["auc"])
print("copies of m1: ACC %.4f = heal eval %.4f, AUC %.4f vs %.4f" % (e["accuracy"], v["accuracy"], e["auc"], v["auc"]))
PY

# HE, 2 images, explicit insecure test ring (the CLI's tests-only opt-in).
he="--mode he --log-n 11 --allow-insecure --limit 2 --threads 2"
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $members --weights 0.5,0.3,0.2 --data "$d" $he --check-plaintext --json > "$work/he.json"
err=$(json_number max_abs_diff_plaintext < "$work/he.json")
awk -v e="$err" 'BEGIN { exit !(e < 1e-2) }' || fail "HE weighted logits differ from plaintext by $err"
grep -q "never see the images" "$work/he.json" || fail "HE header"
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $same --data "$d" $he --json > "$work/he_same.json"
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $same --data "$d" --limit 2 --json > "$work/smpc_same.json"
python3 - "$work/he_same.json" "$work/smpc_same.json" <<'PY' || fail "HE and SMPC predictions differ"
import json, sys
h, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
hp, sp = [r["predicted"] for r in h["results"]], [r["predicted"] for r in s["results"]]
assert len(hp) == 2 and hp == sp, (hp, sp)
print("HE: predictions", hp, "= SMPC; %.2f s; querier sent %d received %d" % (h["seconds"], h["bytes"]["querier_sent"],
                                                                          h["bytes"]["querier_received"]))
PY
echo "HE: max |decrypted - plain weighted logits| = $err"

# Image files (PNG, one of them resized from 56x56) after repeated --model options.
python3 - "$work" <<'PY'
import struct, sys, zlib
def png(path, w, h, px):
    raw = b"".join(b"\x00" + bytes(px[y * w:(y + 1) * w]) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    hdr = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + hdr + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/a.png", 56, 56, [(x * 4) % 256 for x in range(56 * 56)])
png(sys.argv[1] + "/b.png", 28, 28, [200] * 784)
PY
# shellcheck disable=SC2086
"$heal" --quiet infer ensemble $members "$work/a.png" "$work/b.png" --check-plaintext --json > "$work/png.json" ||
  fail "image files"
grep -q '"images": 2' "$work/png.json" || fail "image files: count"
err=$(json_number max_abs_diff_plaintext < "$work/png.json")
awk -v e="$err" 'BEGIN { exit !(e < 3 * 2^-17) }' || fail "image files: SMPC differs from plaintext by $err"

# Failures with a message.
# shellcheck disable=SC2086
if msg=$("$heal" --quiet infer ensemble $members --mode nonsense --data "$d" 2>&1); then
  fail "unknown mode accepted"
fi
grep -q "smpc or he" <<<"$msg" || fail "unknown mode message: $msg"
if msg=$("$heal" --quiet infer ensemble --model "$work/m1.heal" --model "$work/relu.heal" --data "$d" $he 2>&1); then
  fail "a ReLU member joined HE mode"
fi
grep -q "use --mode smpc" <<<"$msg" || fail "ReLU member message: $msg"
# shellcheck disable=SC2086
if msg=$("$heal" --quiet infer ensemble $members --weights 0.5,0.5 --data "$d" 2>&1); then
  fail "2 weights, 3 members accepted"
fi
grep -q "weights" <<<"$msg" || fail "weight count message: $msg"
# The ReLU member is fine in SMPC mode.
"$heal" --quiet infer ensemble --model "$work/m1.heal" --model "$work/relu.heal" --data "$d" --limit 4 > /dev/null ||
  fail "SMPC mode refused a ReLU member"
echo "infer ensemble CLI checks passed"
