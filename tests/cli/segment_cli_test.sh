#!/usr/bin/env bash
# CLI check for segmentation (issue 20): `heal train --task segment` on covid_seg with a tiny U-Net
# (3 epochs at 32x32, quick), 2-fold cross-validation on the training slices, then `heal eval` of the .healseg model (same metrics as the report),
# `heal segment` with a ground-truth mask (mask + overlay PNGs, Dice), one round of federated
# segmentation under threshold CKKS (`heal fl simulate --task segment`), segment-then-classify on COVID-CT
# (patient-grouped CV with the infection map as a channel), and clear refusals.
# Usage: segment_cli_test.sh HEAL_BINARY SHARED_DATA_DIR
source "$(dirname "$0")/lib.sh" "$@" covid_seg
seg=$data/covid_seg
"$heal" --quiet train --task segment --data "$seg" --model unet --width 4 --size 32 --epochs 3 --lr 0.01 --overlays 2 \
  --threads 1 --out "$work/run" > "$work/train.txt"
cat "$work/train.txt"
grep -q 'covid_seg: 50 training, 0 validation, 48 test images; unet' "$work/train.txt" || fail "split sizes"
grep -Eq '^mean +[0-9.]+ +[0-9.]+' "$work/train.txt" || fail "no metrics table"
for f in model.healseg report.json test_overlays.png overlays/6_overlay.png; do
  [ -s "$work/run/$f" ] || fail "missing $f"
done
grep -q '"metric_definition"' "$work/run/report.json" || fail "report without the metric definition"

# heal eval gives the report's mean Dice.
"$heal" eval --model "$work/run/model.healseg" --data "$seg" --json > "$work/eval.json"
report_dice=$(jq -r '.test.dice' "$work/run/report.json")
eval_dice=$(jq -r '.dice' "$work/eval.json")
[ "$report_dice" = "$eval_dice" ] || fail "eval Dice $eval_dice differs from the report's $report_dice"

# --tta-flip: the same training (1 thread, same seed) with flip test-time augmentation stored in the
# model; its report gives the model's metrics without it, which are the plain run's, and heal eval
# --tta-flip of the plain model gives the augmented ones.
"$heal" --quiet train --task segment --data "$seg" --model unet --width 4 --size 32 --epochs 3 --lr 0.01 --overlays 0 \
  --threads 1 --tta-flip --out "$work/tta" > "$work/tta.txt"
grep -q '^flip test-time augmentation: without it the same model gives' "$work/tta.txt" || fail "no TTA line"
jq -e '.model.tta_flip == true' "$work/tta/report.json" > /dev/null || fail "report.json: tta_flip not recorded"
[ "$(jq -r '.test.without_tta.dice' "$work/tta/report.json")" = "$report_dice" ] ||
  fail "the TTA run's Dice without TTA differs from the plain run's"
"$heal" eval --model "$work/run/model.healseg" --data "$seg" --tta-flip --json > "$work/eval_tta.json"
jq -e '.tta_flip == true' "$work/eval_tta.json" > /dev/null || fail "heal eval --tta-flip not applied"
[ "$(jq -r '.dice' "$work/eval_tta.json")" = "$(jq -r '.test.dice' "$work/tta/report.json")" ] ||
  fail "heal eval --tta-flip differs from the TTA run's test Dice"

# --cv: K-fold cross-validation on the 50 training slices only (the recipe chosen without the test
# split), here with the attention-gated U-Net and the structure loss; each slice is held out once.
"$heal" --quiet train --task segment --data "$seg" --model unet-ag --width 4 --size 32 --epochs 1 --lr 0.01 --threads 1 \
  --cv 2 --loss structure --out "$work/cv" > "$work/cv.txt"
cat "$work/cv.txt"
grep -Eq '^cross-validation \(2 folds, 50 training images' "$work/cv.txt" || fail "no cross-validation summary"
jq -e '.pool_images == 50 and .model.arch == "unet-ag" and .training.loss == "structure" and ([.per_fold[].images] | add) == 50' \
  "$work/cv/cv.json" > /dev/null || fail "cv.json: pool, loss or fold sizes wrong"
jq -e '[.per_fold[].per_image[].id] | unique | length == 50' "$work/cv/cv.json" > /dev/null ||
  fail "a training slice was held out twice or never"
[ ! -e "$work/cv/model.healseg" ] || fail "--cv wrote a model"
"$heal" --quiet train --task segment --data "$seg" --loss dice --epochs 1 --out "$work/bad" 2> "$work/bad_loss.err" &&
  fail "an unknown loss was accepted"

# heal segment: mask and overlay, Dice against the given truth.
img=$seg/TestingSet/LungInfection-Test/Imgs/6.jpg
"$heal" segment --model "$work/run/model.healseg" --out "$work/seg" --truth \
  "$seg/TestingSet/LungInfection-Test/GT/6.png" "$img" > "$work/segment.txt"
cat "$work/segment.txt"
grep -q 'Dice' "$work/segment.txt" || fail "no Dice with --truth"
[ -s "$work/seg/6_mask.png" ] && [ -s "$work/seg/6_overlay.png" ] || fail "mask or overlay not written"

# --multiclass: ground-glass opacity and consolidation as classes (softmax head), per-class metrics
# in the table, report, heal eval and heal segment (palette truth), and class-coloured overlays.
"$heal" --quiet train --task segment --data "$seg" --multiclass --model unet --width 4 --size 32 --epochs 2 --lr 0.01 \
  --overlays 2 --threads 1 --out "$work/mc" > "$work/mc.txt"
cat "$work/mc.txt"
grep -q '^per lesion class' "$work/mc.txt" || fail "no per-class table"
grep -Eq '^ground-glass opacity +[0-9.]+' "$work/mc.txt" && grep -Eq '^consolidation +[0-9.]+' "$work/mc.txt" ||
  fail "the per-class table does not name the classes"
jq -e '.model.classes == 3 and (.test.per_class | length) == 2 and .test.per_class[0].name == "ground-glass opacity"
       and .test.per_class[1].name == "consolidation" and (.test.per_class[1].infnet.dice >= 0)' "$work/mc/report.json" \
  > /dev/null || fail "report.json without the classes"
[ -s "$work/mc/test_overlays.png" ] || fail "no multi-class overlay figure"
"$heal" eval --model "$work/mc/model.healseg" --data "$seg" --json > "$work/mc_eval.json"
for q in .dice .per_class[0].dice .per_class[1].dice; do
  [ "$(jq -r ".test$q" "$work/mc/report.json")" = "$(jq -r "$q" "$work/mc_eval.json")" ] ||
    fail "heal eval's $q differs from the report's"
done
mcimg=$seg/TestingSet/MultiClassInfection-Test
"$heal" segment --model "$work/mc/model.healseg" --out "$work/mcseg" --truth "$mcimg/GT/18.png" "$mcimg/Imgs/18.jpg" \
  --json > "$work/mcseg.json"
jq -e '.[0].class_fractions | length == 2' "$work/mcseg.json" > /dev/null || fail "heal segment: no class fractions"
jq -e '.[0].class_dice | length == 2' "$work/mcseg.json" > /dev/null || fail "heal segment: no per-class Dice"
[ -s "$work/mcseg/18_mask.png" ] && [ -s "$work/mcseg/18_overlay.png" ] || fail "multi-class mask or overlay missing"
if "$heal" --quiet train --task segment --data "$seg" --multiclass --loss structure --epochs 1 --size 32 \
  --out "$work/bad" 2> "$work/mc_bad.err"; then
  fail "the structure loss was accepted for multi-class masks"
fi
grep -q 'the structure loss is binary' "$work/mc_bad.err" || fail "unclear refusal: $(cat "$work/mc_bad.err")"
if "$heal" --quiet train --task segment --data "$seg" --multiclass --model segcaps --epochs 1 --size 32 \
  --out "$work/bad" 2> "$work/mc_bad.err"; then
  fail "segcaps was accepted for multi-class masks"
fi
grep -q 'segcaps segments one foreground class' "$work/mc_bad.err" || fail "unclear refusal: $(cat "$work/mc_bad.err")"

# Federated segmentation: 3 hospitals, threshold-CKKS aggregation, ledger verified, Inf-Net test metrics.
# Cosine learning rate over the rounds; the centralised model trains with the same recipe as `heal train`.
"$heal" --quiet fl simulate --task segment --data "$seg" --hospitals 3 --partition iid --rounds 2 --size 32 \
  --threads 1 --secure he --lr-schedule cosine --loss structure --centralized --out "$work/fl" > "$work/fl.txt"
cat "$work/fl.txt"
grep -q 'training slices per hospital: 17 17 16' "$work/fl.txt" || fail "slices not split over 3 hospitals"
grep -Eq 'final global model \(v2\): test Dice [0-9.]+' "$work/fl.txt" || fail "no federated test Dice"
grep -q 'centralized, same model and 2 epochs: test Dice' "$work/fl.txt" || fail "no centralised line"
[ "$(jq -r '.lr_schedule' "$work/fl/report.json")" = cosine ] || fail "report without the schedule"
[ "$(jq -r '.loss' "$work/fl/report.json")" = structure ] || fail "report without the loss"
jq -e '.centralized.recipe | test("cosine")' "$work/fl/report.json" > /dev/null || fail "centralised recipe not recorded"
jq -e '.centralized.history | length == 2' "$work/fl/report.json" > /dev/null || fail "centralised history per round"
grep -Eq 'ledger .*: verified' "$work/fl.txt" || fail "ledger not verified"
[ "$(jq -r '.task' "$work/fl/report.json")" = segment ] || fail "report without the task"
jq -e '.test.dice >= 0' "$work/fl/report.json" > /dev/null || fail "report without test Dice"

# Federated multi-class segmentation: one round under threshold CKKS, each class's test Dice.
"$heal" --quiet fl simulate --task segment --multiclass --data "$seg" --hospitals 3 --partition iid --rounds 1 \
  --size 32 --threads 1 --secure he --out "$work/flmc" > "$work/flmc.txt"
grep -Eq 'final global model \(v1\): test Dice .*ground-glass opacity Dice [0-9.]+; consolidation Dice [0-9.]+' \
  "$work/flmc.txt" || fail "federated multi-class: no per-class test Dice"
jq -e '.multiclass == true and (.test.per_class | length) == 2 and .test.per_class[1].name == "consolidation"' \
  "$work/flmc/report.json" > /dev/null || fail "federated multi-class report without the classes"

# The flooding budget: 119 decryptions per key holder cover one round of this U-Net (119 ciphertexts);
# the setup says so, and round 2 fails naming the budget, leaving model v1.
"$heal" --quiet fl simulate --task segment --data "$seg" --hospitals 3 --partition iid --rounds 2 --size 32 \
  --threads 1 --secure he --max-decryptions 119 --out "$work/budget" > "$work/budget.txt" 2> "$work/budget.err"
grep -q 'flooding budget 119 decryptions per key holder = 1 rounds of this model; WARNING: --rounds 2 exceeds it' \
  "$work/budget.txt" || fail "the setup does not state the flooding budget"
grep -Eq '^2 +FAIL' "$work/budget.txt" || fail "round 2 did not fail past the budget"
grep -q 'flooding budget exhausted at hospital' "$work/budget.txt" || fail "the failure does not name the budget"
grep -Eq 'final global model \(v1\)' "$work/budget.txt" || fail "the model changed in the failed round"
[ "$(jq -r '.he.rounds_per_key' "$work/budget/report.json")" = 1 ] || fail "report without rounds_per_key"

# Segment-then-classify on COVID-CT (when present): the U-Net's infection map as a second channel,
# histogram normalisation per fold, patient-grouped 2-fold CV (1 epoch at 32x32, quick).
if [ -d "$data/covid_ct" ]; then
  "$heal" --quiet train --data "$data/covid_ct" --size 32 --cv 2 --epochs 1 --threads 1 \
    --seg-prior "$work/run/model.healseg" --normalize histogram --out "$work/cct" > "$work/cct.txt" 2> "$work/cct.err"
  cat "$work/cct.txt"
  grep -q 'folds grouped by patient' "$work/cct.err" || fail "COVID-CT folds not grouped by patient"
  grep -q 'segmentation prior: .* mean predicted infection' "$work/cct.err" || fail "no segmentation prior line"
  jq -e '.grouped_by_patient == true and .channels == 2 and .normalize == "histogram" and .groups > 200' \
    "$work/cct/cv.json" > /dev/null || fail "cv.json does not record the grouping, the prior channel or the normalisation"
  jq -e '.folds[0].normalize.standard_scale | length == 11' "$work/cct/cv.json" > /dev/null ||
    fail "the per-fold histogram scale is not recorded"
  "$heal" --quiet train --data "$data/covid_ct" --size 32 --cv 2 --cv-groups none --epochs 1 --threads 1 \
    --out "$work/cct_img" > /dev/null 2> "$work/cct_img.err"
  jq -e '.grouped_by_patient == false and .channels == 1' "$work/cct_img/cv.json" > /dev/null ||
    fail "--cv-groups none still grouped"
  # A final model with the prior (not --cv): 2 input channels, the prior named in the report, and
  # heal eval on the 1-channel images refuses it, saying why.
  "$heal" --quiet train --data "$data/covid_ct" --size 32 --epochs 1 --threads 1 \
    --seg-prior "$work/run/model.healseg" --out "$work/cct_run" > "$work/cct_run.txt" 2> "$work/cct_run.err" ||
    fail "training with --seg-prior failed: $(tail -3 "$work/cct_run.err")"
  jq -e '.spec.in_channels == 2 and (.seg_prior.model | endswith("model.healseg")) and .seg_prior.arch == "unet"
         and .test.n == 203' "$work/cct_run/report.json" > /dev/null ||
    fail "the --seg-prior model's report lacks its 2 channels, its prior or its test split"
  if "$heal" --quiet eval --model "$work/cct_run/model.heal" --data "$data/covid_ct" \
    > /dev/null 2> "$work/cct_eval.err"; then
    fail "heal eval scored a --seg-prior model on images without the infection channel"
  fi
  grep -q 'trained with --seg-prior takes the infection map as a second channel' "$work/cct_eval.err" ||
    fail "unclear refusal of a --seg-prior model: $(cat "$work/cct_eval.err")"
  # --ensemble with the prior: every member process and the merged model see the 2-channel input.
  "$heal" --quiet train --data "$data/covid_ct" --size 32 --epochs 1 --threads 1 --ensemble 2 --jobs 2 \
    --seg-prior "$work/run/model.healseg" --out "$work/cct_ens" > /dev/null 2> "$work/cct_ens.err" ||
    fail "--ensemble with --seg-prior failed: $(tail -3 "$work/cct_ens.err")"
  jq -e '.seg_prior.arch == "unet" and (.members | length == 2)' "$work/cct_ens/report.json" > /dev/null ||
    fail "the ensemble report does not name its prior"
  for k in 0 1; do
    jq -e '.spec.in_channels == 2' "$work/cct_ens/member_$k/report.json" > /dev/null || fail "member $k trained without the prior"
  done
  "$heal" --quiet eval --model "$work/cct_ens/model.heal" --data "$data/covid_ct" > /dev/null 2> "$work/cct_ens_eval.err" &&
    fail "the merged --seg-prior model was scored on 1-channel images"
  grep -q 'model expects 2x32x32 images' "$work/cct_ens_eval.err" || fail "the merged model is not 2-channel"
  # Self-training: the U-Net teacher pseudo-labels 12 of COVID-CT's train + val slices (labels unread),
  # a student trains on both (2 epochs: ceil(2 x 50 / 62), the teacher's steps) and fine-tunes; the report gives the teacher's test Dice beside it.
  "$heal" --quiet train --task segment --data "$seg" --model unet --width 4 --size 32 --epochs 2 --lr 0.01 --threads 1 \
    --overlays 0 --unlabeled "$data/covid_ct" --unlabeled-max 12 --finetune-epochs 1 --out "$work/self" \
    > "$work/self.txt" || fail "self-training failed"
  grep -Eq '^self-training: the teacher .* labelled 12 images .* Teacher on the test split: Dice@0.5 [0-9.]+' \
    "$work/self.txt" || fail "no self-training line: $(cat "$work/self.txt")"
  jq -e '.training.self_training.images == 12 and .training.self_training.finetune_epochs == 1
         and .training.self_training.student_epochs == 2 and (.training.self_training.teacher_test.dice >= 0)
         and (.history | length) == 3' "$work/self/report.json" > /dev/null || fail "report without self-training"
  "$heal" --quiet train --task segment --data "$seg" --model unet --width 4 --size 32 --epochs 1 --threads 1 --cv 2 \
    --unlabeled "$data/covid_ct" --unlabeled-max 6 --out "$work/selfcv" > "$work/selfcv.txt" || fail "self-training CV failed"
  grep -Eq '^self-training \(6 unlabelled images.*student - teacher' "$work/selfcv.txt" || fail "no CV teacher comparison"
  jq -e '(.self_training.per_fold | length) == 2 and (.self_training.teacher_mean_toolbox_dice >= 0)' \
    "$work/selfcv/cv.json" > /dev/null || fail "cv.json without the teacher's folds"
fi
if "$heal" --quiet train --task segment --data "$seg" --epochs 1 --size 32 --unlabeled "$seg" --out "$work/bad" \
  2> "$work/self_bad.err"; then
  fail "a segmentation folder was accepted as unlabelled images"
fi
grep -q 'unlabelled images for self-training' "$work/self_bad.err" || fail "unclear refusal: $(cat "$work/self_bad.err")"

# Refusals that say what to do.
if "$heal" --quiet fl simulate --task segment --data "$seg" --rounds 1 --lr-schedule linear --out "$work/bad" \
  2> "$work/bad.err"; then
  fail "an unknown learning-rate schedule was accepted"
fi
grep -q 'lr-schedule' "$work/bad.err" || fail "the refusal does not name --lr-schedule"
if "$heal" --quiet train --data "$seg" --model segcaps --epochs 1 --out "$work/bad" 2> "$work/bad.err"; then
  fail "segcaps accepted without --task segment"
fi
grep -q 'add --task segment' "$work/bad.err" || fail "unclear refusal: $(cat "$work/bad.err")"
if "$heal" --quiet train --task segment --data "$data" --out "$work/bad2" 2> "$work/bad2.err"; then
  fail "a folder without masks accepted"
fi
grep -q 'is no segmentation dataset' "$work/bad2.err" || fail "unclear refusal: $(cat "$work/bad2.err")"
echo "OK"
