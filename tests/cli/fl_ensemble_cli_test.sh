#!/usr/bin/env bash
# heal fl ensemble simulate end to end on a synthetic 3-class dataset (fast): 3 hospitals with three
# architectures, 2 rounds; checks the per-round table, report.json (members, rounds, bytes with the SecAgg
# setup amortised over the rounds it serves, baselines),
# the plot, the ledger (verified by `heal ledger verify`, per-member history in `heal ledger log`),
# members of other widths and depths and one started from a .heal file, and that a bad option fails
# with a message saying what to do.
# Usage: fl_ensemble_cli_test.sh HEAL_BINARY MAKE_TEST_DATASET_BINARY
set -euo pipefail
heal=$1
make_dataset=$2
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$make_dataset" "$work/three.npz" 3 || fail "cannot write the test dataset"
out=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --hospitals 3 --archs hecnn,resnet,capsnet \
  --rounds 2 --partition dirichlet:0.5 --reference-fraction 0.25 --batch 16 --out "$work/run" 2>&1) \
  || { echo "$out"; fail "simulate failed"; }
echo "$out"
grep -Eq '^1 +' <<<"$out" || fail "round 1 row"
grep -Eq '^2 +' <<<"$out" || fail "round 2 row"
grep -Eq '^ensemble +weighted mean' <<<"$out" || fail "ensemble row"
grep -Eq '^central +hecnn' <<<"$out" || fail "central row"
grep -Eq '^secure +the same ensemble by secure diagnosis' <<<"$out" || fail "secure diagnosis row"
grep -q 'ledger: verified' <<<"$out" || fail "ledger not verified"
grep -Eq '^upload per institution per round: [0-9]+ B with secure aggregation .* [0-9]+ B as float32 in the clear \([0-9.]+x\)' \
  <<<"$out" || fail "no upload line"
[ -s "$work/run/accuracy.png" ] || fail "no accuracy.png"
python3 - "$work/run/report.json" <<'PY' || fail "report.json"
import json, math, sys
j = json.load(open(sys.argv[1]))
m = j["members"]
assert [e["architecture"].split("(")[0] for e in m] == ["hecnn", "resnet", "capsnet"], m
for e in m:
    assert 0 <= e["test_accuracy"] <= 1 and 0 <= e["local_only_test_accuracy"] <= 1, e
    assert abs(e["gain_over_local_only"] - (e["test_accuracy"] - e["local_only_test_accuracy"])) < 1e-12
    assert e["weight"] > 0 and sum(e["class_counts"]) > 0
assert len(j["rounds"]) == 2
for r in j["rounds"]:
    assert len(r["members"]) == 3 and len(r["bytes_up"]) == 3, r
    assert all(b > 0 for b in r["bytes_up"]), r
    assert r["plaintext_bytes"] == j["reference"]["size"] * 3 * 4, r  # float32 predictions in the clear
    assert 0 <= r["secagg_seconds"] <= r["seconds"], r
# One SecAgg key setup serves both rounds (min(20, --rounds)): it travels in round 1 only, and the
# amortised upload spreads it over the two rounds (same total).
r1, r2 = j["rounds"]
assert all(s > 0 for s in r1["setup_bytes_up"]) and all(s == 0 for s in r2["setup_bytes_up"]), (r1, r2)
for k in range(3):
    assert abs(r1["amortised_bytes_up"][k] + r2["amortised_bytes_up"][k] - r1["bytes_up"][k] - r2["bytes_up"][k]) < 1e-6
    assert r1["amortised_bytes_up"][k] < r1["bytes_up"][k] and r2["amortised_bytes_up"][k] > r2["bytes_up"][k]
assert j["ledger_verified"] is True
rc = j["recipe"]  # the settings of this run, as given on the command line
assert (rc["rounds"], rc["local_epochs"], rc["distill_epochs"], rc["partition"], rc["reference_fraction"]) == \
    (2, 2, 1, "dirichlet:0.5", 0.25), rc
assert rc["joint_distill"] == 0 and rc["sharpen"] == 1 and rc["lr_schedule"] == "constant", rc
sd = j["secure_diagnosis"]
assert sd["max_abs_diff_from_plaintext"] < 1e-3 and sd["querier_bytes_received"] > 0, sd
assert abs(sd["test_accuracy"] - j["ensemble"]["test_accuracy"]) <= 1 / 60 + 1e-12, sd
assert 0 <= j["ensemble"]["test_accuracy"] <= 1 and 0 <= j["central"]["test_accuracy"] <= 1
# Per-image test probabilities (for paired confidence intervals): one row of 3 per test image, rows
# summing to 1, and their argmax reproduces every reported accuracy.
y = j["test_labels"]
assert len(y) == 60 and set(y) <= {0, 1, 2}, y
def acc(p):
    assert len(p) == 3 * len(y) and all(abs(sum(p[3 * i:3 * i + 3]) - 1) < 1e-6 for i in range(len(y))), len(p)
    return sum(p[3 * i:3 * i + 3].index(max(p[3 * i:3 * i + 3])) == t for i, t in enumerate(y)) / len(y)
assert abs(acc(j["ensemble"]["test_probabilities"]) - j["ensemble"]["test_accuracy"]) < 1e-12
assert abs(acc(j["central"]["test_probabilities"]) - j["central"]["test_accuracy"]) < 1e-12
for e in m:
    assert abs(acc(e["test_probabilities"]) - e["test_accuracy"]) < 1e-12, e["institution"]
    assert abs(acc(e["local_only_test_probabilities"]) - e["local_only_test_accuracy"]) < 1e-12, e["institution"]
PY
# The benchmark summary reads the per-image probabilities: its bootstrap self-test, then the table
# with the paired intervals for this one run.
root=$(cd "$(dirname "$0")/../.." && pwd)
python3 "$root/scripts/ensemble_summary.py" --self-test || fail "ensemble_summary self-test"
summary=$(python3 "$root/scripts/ensemble_summary.py" "$work/run/report.json") || fail "ensemble_summary.py"
echo "$summary"
# The paired interval over the test images; with one seed, no interval over seeds.
grep -Eq '^\| ensemble - central \| [-+][0-9.]+ \| \[[-+][0-9.]+, [-+][0-9.]+\] \| \(one seed\) \|$' <<<"$summary" \
  || fail "no paired interval for ensemble - central"
"$heal" ledger verify --ledger "$work/run/ledger.db" || fail "heal ledger verify"
log=$("$heal" ledger log --ledger "$work/run/ledger.db")
echo "$log"
for a in hecnn resnet capsnet; do grep -q "$a" <<<"$log" || fail "ledger log lacks the $a member's history"; done

# Joint distillation: round 2's private training also fits round 1's consensus (all three
# architectures, capsnet's margin loss included).
out=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --hospitals 3 --archs hecnn,resnet,capsnet \
  --rounds 2 --reference-fraction 0.25 --batch 16 --joint-distill 1 --no-local-baseline --no-central \
  --out "$work/joint" 2>&1) || { echo "$out"; fail "simulate --joint-distill failed"; }
grep -q 'ledger: verified' <<<"$out" || fail "ledger not verified with --joint-distill"
[ "$(jq -r '.recipe.joint_distill' "$work/joint/report.json")" = 1 ] || fail "the report does not record --joint-distill"
if msg=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --joint-distill -1 --out "$work/bad" 2>&1); then
  fail "a negative --joint-distill was accepted"
fi
grep -q "joint-distill" <<<"$msg" || fail "the refusal does not name --joint-distill: $msg"

# Members of different widths and depths, and one that starts from a model trained before (a .heal
# file): the ledger records which file it started from (the first 16 hex digits of its BLAKE2b).
"$heal" --quiet train --data "$work/three.npz" --model hecnn --width 6 --depth 2 --epochs 1 --batch 16 \
  --out "$work/pre" --save "$work/pre.heal" > "$work/pre.txt" 2>&1 || { cat "$work/pre.txt"; fail "heal train --save"; }
out=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --hospitals 3 \
  --archs "hecnn:4x1,hecnn:4x2,$work/pre.heal" --rounds 1 --reference-fraction 0.25 --batch 16 \
  --no-local-baseline --no-central --out "$work/file" 2>&1) || { echo "$out"; fail "simulate with a .heal member failed"; }
grep -q 'ledger: verified' <<<"$out" || fail "ledger not verified with a .heal member"
python3 - "$work/file/report.json" "$work/pre.heal" <<'PY' || fail "members of widths, depths and a .heal file"
import hashlib, json, sys
m = json.load(open(sys.argv[1]))["members"]
archs = [e["architecture"] for e in m]
assert archs[0].startswith("hecnn(width=4,depth=1,"), archs
assert archs[1].startswith("hecnn(width=4,depth=2,"), archs
h = hashlib.blake2b(open(sys.argv[2], "rb").read(), digest_size=32).hexdigest()[:16]
assert archs[2].startswith("hecnn(width=6,depth=2,") and archs[2].endswith(",init=" + h + ")"), (archs[2], h)
print("members:", archs)
PY
log=$("$heal" ledger log --ledger "$work/file/ledger.db")
grep -q "init=" <<<"$log" || fail "the ledger log does not show the member's initial model"
if msg=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --archs "hecnn,$work/none.heal" \
    --out "$work/bad" 2>&1); then
  fail "a missing .heal member was accepted"
fi
grep -q "none.heal" <<<"$msg" || fail "the refusal does not name the missing model file: $msg"

if msg=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --archs hecnn,vgg --out "$work/bad" 2>&1); then
  fail "an unknown architecture was accepted"
fi
grep -q "unknown model 'vgg'" <<<"$msg" || fail "unclear error: $msg"
if msg=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --lr-schedule linear --out "$work/bad" 2>&1); then
  fail "an unknown learning-rate schedule was accepted"
fi
grep -q "lr-schedule" <<<"$msg" || fail "the refusal does not name --lr-schedule: $msg"
# Two institutions: the consensus and one's own predictions would give the other's. Refused.
if msg=$("$heal" --quiet fl ensemble simulate --data "$work/three.npz" --hospitals 2 --archs hecnn,resnet --rounds 1 \
    --out "$work/bad" 2>&1); then
  fail "a 2-institution ensemble ran"
fi
grep -q "needs >= 3 institutions" <<<"$msg" || fail "the refusal does not say what is needed: $msg"
echo "PASS"
