#!/usr/bin/env bash
# Stage 5 of the small-data recipe choice (src/nn/README.md): does the recipe v7 (stage 4's best
# single model, which keeps its final EMA weights and so chooses nothing on validation images) gain
# from training on the images the inner validation split held out? Nested 5-fold CV on BreastMNIST
# train + val with the same folds as stage 4 (the test split is never read); --cv-inner-val 0 makes
# each fold train on its whole training part (499 images instead of 437), which is what
# `heal train --train-on-val` does for the final model (546 + 78 images). The four rows were fixed
# before any was run; the rule is stage 4's, over the stage 4 and stage 5 rows together: highest
# mean CV accuracy, ties within 0.002 going to the cheaper model under CKKS.
# Usage: scripts/cv_breast_stage5.sh [DATA_DIR (default ../shared/data or $HEAL_DATA)] [OUT_DIR (default runs/cv_stage5)]
# shellcheck source=scripts/lib/cv_rows.sh
source "$(dirname "$0")/lib/cv_rows.sh" runs/cv_stage5 "$@"

# v7 written out (stage 4's two_nocw_last), without an inner validation split.
base="--ema 0.99 --dropout 0.2 --label-smoothing 0.05 --warmup 2 --weight-decay 5e-4 --threads 1 --recipe none"
v7="--model hecnn --depth 2 --width 16 --hidden 128 --no-class-weights --monitor last --patience 40 $base"
add v7_full           "$v7 --epochs 150 --cv-inner-val 0"
add v7_full_mixup     "$v7 --epochs 150 --cv-inner-val 0 --mixup 0.2"
add v7_full_e300      "$v7 --epochs 300 --cv-inner-val 0"
add v7_full_x3        "$v7 --epochs 150 --cv-inner-val 0 --ensemble 3"

run_rows
