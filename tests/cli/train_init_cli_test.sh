#!/usr/bin/env bash
# CLI check for `heal train --init` across datasets (issue 19's fine-tuning ceiling): a BreastMNIST
# hecnn (its recipe: 2 conv blocks) fine-tunes on PneumoniaMNIST (recipe: 1 block) with the
# model's architecture and every layer taken; another input size is refused with the reason.
# One epoch each so that it stays quick.
# Usage: train_init_cli_test.sh HEAL_BINARY SHARED_DATA_DIR
source "$(dirname "$0")/lib.sh" "$@" pneumoniamnist.npz
[ -e "$data/breastmnist.npz" ] || { echo "breastmnist.npz not found: skipping"; exit 0; }
common=(--model hecnn --epochs 1 --patience 0 --threads 1)

"$heal" --quiet train --data "$data/breastmnist.npz" "${common[@]}" --out "$work/src" > /dev/null
"$heal" --quiet train --data "$data/pneumoniamnist.npz" "${common[@]}" --init "$work/src/model.heal" \
  --out "$work/ft" > "$work/ft.txt" 2> "$work/ft.err"
cat "$work/ft.err"
grep -q 'architecture hecnn width 16 depth 2 hidden 128' "$work/ft.err" || fail "architecture not taken from the model"
grep -q 'recipe for pneumoniamnist would build hecnn width 16 depth default hidden 128' "$work/ft.err" ||
  fail "the recipe's architecture is not reported"
grep -q 'model.heal: conv0, act0, conv1, act1, fc1, act_fc, fc2 (' "$work/ft.err" || fail "not every layer taken"
grep -q 're-initialised' "$work/ft.err" && fail "2-class head reported as re-initialised"
grep -Eq 'conv2d +conv1 ' "$work/ft.txt" || fail "fine-tuned model lost the second conv block"
grep -q '"init"' "$work/ft/report.json" || fail "report without init"


# Under --cv every fold starts from the model: the held-out scores differ from the same folds and
# seed trained afresh, and cv.json names the model.
"$heal" --quiet train --data "$data/breastmnist.npz" "${common[@]}" --cv 2 --seed 3 --out "$work/cv0" > "$work/cv0.txt"
"$heal" --quiet train --data "$data/breastmnist.npz" "${common[@]}" --cv 2 --seed 3 --init "$work/src/model.heal" \
  --out "$work/cv1" > "$work/cv1.txt" 2> "$work/cv1.err"
cat "$work/cv0.txt" "$work/cv1.txt"
grep -q 'architecture hecnn width 16 depth 2 hidden 128' "$work/cv1.err" || fail "--cv: architecture not taken from the model"
grep -q '"init": ".*src/model.heal"' "$work/cv1/cv.json" || fail "cv.json does not name the init model"
folds() { grep -E '^ +[0-9]+ +[0-9.]+ +[0-9.]+$' "$1"; }
[ "$(folds "$work/cv0.txt" | wc -l)" = 2 ] || fail "no fold lines"
[ "$(folds "$work/cv0.txt")" != "$(folds "$work/cv1.txt")" ] || fail "--init had no effect under --cv"
# --task pretrain (SimCLR on train + val, labels unread) writes a model with --proj-dim outputs that
# --init fine-tunes, its classifier restarting at random.
"$heal" --quiet train --task pretrain --data "$data/breastmnist.npz" --model hecnn --epochs 2 --threads 1 --proj-dim 16 \
  --out "$work/pre" > "$work/pre.txt" 2> "$work/pre.err"
cat "$work/pre.txt"
grep -q 'labels unread, test split not loaded' "$work/pre.err" || fail "pretrain does not say what it reads"
jq -e '.task == "pretrain" and .method == "simclr" and .images == 624 and .proj_dim == 16 and (.history | length) == 2
       and .final_loss > 0 and .chance_loss > 0' "$work/pre/report.json" > /dev/null || fail "pretrain report"
"$heal" --quiet train --data "$data/breastmnist.npz" "${common[@]}" --init "$work/pre/model.heal" --out "$work/ftpre" \
  > /dev/null 2> "$work/ftpre.err"
grep -q 'classifier fc2 re-initialised at random: the model has 16 classes' "$work/ftpre.err" ||
  fail "the pretrained model's head was not replaced"
if "$heal" --quiet train --task pretrain --data "$data/breastmnist.npz" --model capsnet --epochs 1 --out "$work/bad2" \
  > /dev/null 2> "$work/bad2.err"; then
  fail "capsnet pretraining accepted"
fi
grep -q 'pretrain takes --model' "$work/bad2.err" || fail "unclear refusal of capsnet pretraining"
# Another input size (--size 32 resizes the images) is refused, naming both shapes.
if "$heal" --quiet train --data "$data/breastmnist.npz" "${common[@]}" --size 32 --init "$work/src/model.heal" \
  --out "$work/bad" > /dev/null 2> "$work/bad.err"; then
  fail "an init model for 28x28 images was accepted for 32x32 training"
fi
cat "$work/bad.err"
grep -q 'the model takes 1x28x28 images, this training 1x32x32' "$work/bad.err" || fail "unclear refusal"
echo "OK"
