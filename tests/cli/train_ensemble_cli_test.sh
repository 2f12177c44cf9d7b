#!/usr/bin/env bash
# CLI checks for `heal train --ensemble` and `heal merge` on BreastMNIST (issue 4), with one epoch
# per member so that it stays a quick test: the members are exactly the single-model runs with
# their seeds, and the merged model's logits are their mean (checked through `heal eval`).
# Usage: train_ensemble_cli_test.sh HEAL_BINARY SHARED_DATA_DIR
source "$(dirname "$0")/lib.sh" "$@" breastmnist.npz
common=(--data "$data/breastmnist.npz" --model hecnn --epochs 1 --patience 0 --threads 1)

"$heal" --quiet train "${common[@]}" --ensemble 2 --jobs 2 --seed 5 --out "$work/ens" > "$work/ens.txt"
cat "$work/ens.txt"
[ -f "$work/ens/model.heal" ] || fail "no merged model"
[ -f "$work/ens/member_0/model.heal" ] && [ -f "$work/ens/member_1/model.heal" ] || fail "no member models"
grep -q '"members"' "$work/ens/report.json" || fail "report without members"
# The small-data recipe has two conv blocks: conv0 stacks 2 x 16 channels plus the constant
# channel that carries member 1's activation constant into the zero-padded conv1 (2 x 32).
grep -Eq 'conv2d +conv0 +-> +33x' "$work/ens.txt" || fail "merged conv0 should have 2 x 16 + 1 channels"
grep -Eq 'conv2d +conv1 +-> +64x' "$work/ens.txt" || fail "merged conv1 should have 2 x 32 channels"
grep -q 'multiplicative depth (critical path): naive 10, absorbed 7' "$work/ens.txt" || fail "depth changed by merging"

# Member 1 is the single-model run with seed 6 (the model files differ only in the recorded
# training time, so compare what the models compute: full-precision metrics on val and test).
"$heal" --quiet train "${common[@]}" --seed 6 --out "$work/single6" > /dev/null
for split in val test; do
  a=$("$heal" --quiet eval --json --split $split --model "$work/single6/model.heal" --data "$data/breastmnist.npz" | grep -v '"model"')
  b=$("$heal" --quiet eval --json --split $split --model "$work/ens/member_1/model.heal" --data "$data/breastmnist.npz" | grep -v '"model"')
  [ "$a" = "$b" ] || fail "member 1 differs from the seed-6 run on $split"
done

# heal merge of the two members gives the same model as the ensemble run, and heal eval on it
# reproduces the ensemble's test metrics.
"$heal" --quiet merge --data "$data/breastmnist.npz" --out "$work/merged.heal" \
  "$work/ens/member_0/model.heal" "$work/ens/member_1/model.heal" > "$work/merge.txt"
cmp -s "$work/merged.heal" "$work/ens/model.heal" || fail "heal merge differs from train --ensemble"
acc_train=$(grep -E '^  accuracy' "$work/ens.txt" | awk '{print $2}')
acc_eval=$("$heal" --quiet eval --model "$work/ens/model.heal" --data "$data/breastmnist.npz" | grep -E '^  accuracy' | awk '{print $2}')
[ "$acc_train" = "$acc_eval" ] || fail "eval accuracy $acc_eval != ensemble report $acc_train"

# Cross-validation on train + val (546 + 78 = 624 images), reproducible for a seed.
cv1=$("$heal" --quiet train "${common[@]}" --cv 3 --seed 2 --out "$work/cv1")
cv2=$("$heal" --quiet train "${common[@]}" --cv 3 --seed 2 --out "$work/cv2")
echo "$cv1"
grep -q 'cross-validation (3 folds, 624 images)' <<<"$cv1" || fail "cv pool"
[ "$(grep -cE '^ +[123] +[01]\.[0-9]{4} +[01]\.[0-9]{4}$' <<<"$cv1")" = 3 ] || fail "cv fold rows"
[ "$(sed 's|report: .*||' <<<"$cv1")" = "$(sed 's|report: .*||' <<<"$cv2")" ] || fail "cv not reproducible"
[ -f "$work/cv1/cv.json" ] && [ ! -f "$work/cv1/model.heal" ] || fail "cv writes cv.json and no model"
# Nested validation: per fold, inner train + inner val (early stopping, ~1/8) + held-out (scored)
# partition the 624 images, and the held-out folds partition them too.
awk '/^      "fold":/ {f++} /^        "n":/ {n[f] = $2 + 0} /^      "inner_val":/ {v[f] = $2 + 0}
     /^      "train":/ {t[f] = $2 + 0}
     END { if (f != 3) exit 1; s = 0
           for (i = 1; i <= f; i++) { if (t[i] + v[i] + n[i] != 624) exit 1; r = v[i] / (t[i] + v[i]); if (r < 0.11 || r > 0.14) exit 1; s += n[i] }
           exit s != 624 }' "$work/cv1/cv.json" || fail "cv folds are not nested partitions of train + val"
# Cross-validation of a 2-member ensemble: other scores than one member (mean logits).
cve=$("$heal" --quiet train "${common[@]}" --cv 3 --seed 2 --ensemble 2 --out "$work/cve")
grep -q '"ensemble": 2' "$work/cve/cv.json" || fail "cv ensemble report"
[ "$(grep -E '^ +[123] ' <<<"$cv1")" != "$(grep -E '^ +[123] ' <<<"$cve")" ] || fail "cv ensemble scores equal one member's"

# Without an inner validation split (--cv-inner-val 0, for recipes that keep the final weights):
# each fold trains on its whole training part; train + held-out partition the 624 images.
"$heal" --quiet train "${common[@]}" --cv 3 --seed 2 --cv-inner-val 0 --out "$work/cv0" > /dev/null
awk '/^      "fold":/ {f++} /^        "n":/ {n[f] = $2 + 0} /^      "inner_val":/ {v[f] = $2 + 0}
     /^      "train":/ {t[f] = $2 + 0}
     END { if (f != 3) exit 1; s = 0
           for (i = 1; i <= f; i++) { if (v[i] != 0 || t[i] + n[i] != 624) exit 1; s += n[i] }
           exit s != 624 }' "$work/cv0/cv.json" || fail "--cv-inner-val 0: folds do not train on the whole training part"
if "$heal" --quiet train "${common[@]}" --cv 3 --cv-inner-val 0 --monitor auc 2> "$work/err.txt"; then fail "--cv-inner-val 0 with a monitor accepted"; fi
grep -q "monitor last" "$work/err.txt" || fail "--cv-inner-val 0 error message"
if "$heal" --quiet train "${common[@]}" --cv 3 --cv-inner-val 0.01 2> /dev/null; then fail "--cv-inner-val 0.01 accepted"; fi

# --train-on-val: the 78 validation images join the 546 training images (the small-data recipe
# keeps its final weights, so nothing is chosen on them); no validation metrics are reported.
"$heal" --quiet train "${common[@]}" --train-on-val --seed 6 --out "$work/tov" > "$work/tov.txt" 2> "$work/tov.err"
grep -q '624 train / 0 val / 156 test' "$work/tov.err" || fail "--train-on-val does not train on train + val"
grep -q '"val": null' "$work/tov/report.json" && grep -q '"train_on_val": true' "$work/tov/report.json" ||
  fail "--train-on-val report"
a=$("$heal" --quiet eval --json --model "$work/single6/model.heal" --data "$data/breastmnist.npz" | grep -v '"model"')
b=$("$heal" --quiet eval --json --model "$work/tov/model.heal" --data "$data/breastmnist.npz" | grep -v '"model"')
[ "$a" != "$b" ] || fail "--train-on-val trained the same model as train only"
if "$heal" --quiet train "${common[@]}" --train-on-val --monitor auc 2> "$work/err.txt"; then fail "--train-on-val with a monitor accepted"; fi
grep -q "monitor last" "$work/err.txt" || fail "--train-on-val error message"
if "$heal" --quiet train "${common[@]}" --train-on-val --calibrate youden 2> "$work/err.txt"; then fail "--train-on-val with youden accepted"; fi
grep -q "validation split" "$work/err.txt" || fail "--train-on-val --calibrate error message"
"$heal" --quiet train "${common[@]}" --train-on-val --ensemble 2 --out "$work/tove" > /dev/null 2> "$work/tove.err" ||
  fail "--train-on-val --ensemble failed"
grep -q '"val": null' "$work/tove/member_0/report.json" || fail "--train-on-val member report"

# Errors say what is wrong.
if "$heal" --quiet merge --out "$work/x.heal" "$work/ens/member_0/model.heal" 2> "$work/err.txt"; then fail "merge of one model accepted"; fi
grep -q "at least two" "$work/err.txt" || fail "merge error message"
echo OK
