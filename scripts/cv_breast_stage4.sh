#!/usr/bin/env bash
# Stage 4 of the small-data recipe choice (src/nn/README.md): nested 5-fold cross-validation on
# BreastMNIST train + val (the test split is never read) of the 18 configurations that were fixed
# before any of them was evaluated on test. Rule: highest mean CV accuracy; ties within 0.002 go to
# the cheaper model under CKKS. Two runs at a time (2 cores, one libtorch thread each); about
# 40 minutes in all, the distillation rows being the slowest.
# Usage: scripts/cv_breast_stage4.sh [DATA_DIR (default ../shared/data or $HEAL_DATA)] [OUT_DIR (default runs/cv_stage4)]
# shellcheck source=scripts/lib/cv_rows.sh
source "$(dirname "$0")/lib/cv_rows.sh" runs/cv_stage4 "$@"

# The stage-3 small-data options written out (v5: one conv block), and the two-block model. Every
# option appears once per command line (the CLI refuses repeated options).
base="--ema 0.99 --dropout 0.2 --label-smoothing 0.05 --warmup 2 --weight-decay 5e-4 --threads 1 --recipe none"
long="--epochs 150 --patience 40"
w16="--width 16 --hidden 128"
v5="--model hecnn $base $long $w16"
two="--model hecnn --depth 2 $base $long"
add v5                "$v5 --monitor accuracy"
add v5_auc            "$v5 --monitor auc"
add v5_loss           "$v5 --monitor loss"
add v4                "--model hecnn $base --epochs 80 --patience 25 $w16 --monitor accuracy"
add v5_last           "$v5 --monitor last"
add v5_kd_wide        "$v5 --monitor accuracy --distill hecnn-wide"
add resnet            "--model resnet --threads 1 --monitor auc"
add two               "$two $w16 --monitor accuracy"
add two_last          "$two $w16 --monitor last"
add two_loss          "$two $w16 --monitor loss"
add two_jitter        "$two $w16 --monitor accuracy --scale 0.1 --brightness 0.1 --contrast 0.2"
add two_kd_resnet     "$two $w16 --monitor accuracy --distill resnet"
add two_kd_wide       "$two $w16 --monitor accuracy --distill hecnn-wide"
add two_nocw          "$two $w16 --monitor accuracy --no-class-weights"
add two_nocw_last     "$two $w16 --monitor last --no-class-weights"
add two_nocw_loss     "$two $w16 --monitor loss --no-class-weights"
add two_nocw_w32      "$two --width 32 --hidden 256 --monitor accuracy --no-class-weights"
add two_nocw_x3       "$two $w16 --monitor accuracy --no-class-weights --ensemble 3"

run_rows
