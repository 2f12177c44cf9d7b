#!/usr/bin/env bash
# CLI checks of `heal train-encrypted` (client-encrypt, server-train, client-decrypt) on BreastMNIST
# features from a small random backbone (heal_make_test_model, no libtorch), at the insecure
# test-train preset: the roles run from the command line, the insecure preset needs an explicit
# opt-in, the server directory holds no secret key, and the encrypted run matches plaintext NAG.
# Usage: train_encrypted_cli_test.sh HEAL_BINARY SHARED_DATA_DIR MAKE_TEST_MODEL_BINARY
make_model=$3
source "$(dirname "$0")/lib.sh" "$1" "$2" breastmnist.npz
"$make_model" "$work/backbone.heal" || fail "cannot write the test backbone"
"$heal" --quiet features --backbone "$work/backbone.heal" --data "$data/breastmnist.npz" --out "$work/f.npz" > /dev/null

enc=(train-encrypted client-encrypt --features "$work/f.npz" --owner "$work/owner" --server "$work/server"
     --preset test-train --max-train 64 --batch 32 --epochs 2 --lr 2)
if out=$("$heal" --quiet "${enc[@]}" 2>&1); then fail "the insecure preset was accepted without --allow-insecure"; fi
grep -q -- "--allow-insecure" <<<"$out" || fail "the refusal does not say how to opt in: $out"
"$heal" --quiet "${enc[@]}" --allow-insecure --json > "$work/enc.json"
cat "$work/enc.json"
[ "$(json_number n_train < "$work/enc.json")" = 64 ] || fail "n_train"
[ "$(stat -c %a "$work/owner/secret.key")" = 600 ] || fail "secret.key is not 0600"
[ -z "$(find "$work/server" -name '*secret*')" ] || fail "a secret file in the server directory"

if "$heal" --quiet train-encrypted server-train --server "$work/server" --out "$work/model" 2>/dev/null; then
  fail "the server accepted insecure parameters without --allow-insecure"
fi
"$heal" --quiet train-encrypted server-train --server "$work/server" --out "$work/model" --allow-insecure --json \
  > "$work/train.json"
cat "$work/train.json"
[ "$(json_number iterations < "$work/train.json")" = 4 ] || fail "iterations (2 epochs x 2 batches)"
[ -f "$work/model/epoch_002.weights" ] && [ -f "$work/model/epoch_002.margins" ] || fail "checkpoints"

"$heal" --quiet train-encrypted client-decrypt --owner "$work/owner" --model "$work/model" --features "$work/f.npz" \
  --allow-insecure --json > "$work/dec.json"
cat "$work/dec.json"
err=$(json_number max_weight_error < "$work/dec.json")
awk -v e="$err" 'BEGIN { exit !(e < 1e-3) }' || fail "encrypted vs plaintext weights differ by $err"
# The table form names the three classifiers.
table=$("$heal" --quiet train-encrypted client-decrypt --owner "$work/owner" --model "$work/model" \
        --features "$work/f.npz" --allow-insecure)
echo "$table"
grep -q "^encrypted " <<<"$table" && grep -q "^plaintext (same polynomial)" <<<"$table" || fail "table rows"
# A missing checkpoint directory is a clear error.
if out=$("$heal" --quiet train-encrypted client-decrypt --owner "$work/owner" --model "$work/none" \
         --features "$work/f.npz" --allow-insecure 2>&1); then fail "missing model accepted"; fi
grep -q "server-train" <<<"$out" || fail "unhelpful error: $out"
# multi-hospital: three hospitals under a 2-of-3 collective key (insecure test-collective preset).
mh=(train-encrypted multi-hospital --features "$work/f.npz" --preset test-collective --max-train 96 --batch 48
    --epochs 2 --lr 2)
if out=$("$heal" --quiet "${mh[@]}" 2>&1); then fail "multi-hospital accepted the insecure preset without opt-in"; fi
grep -q -- "--allow-insecure" <<<"$out" || fail "the refusal does not say how to opt in: $out"
if "$heal" --quiet "${mh[@]}" --allow-insecure --threshold 1 2>/dev/null; then fail "threshold 1 accepted"; fi
"$heal" --quiet "${mh[@]}" --allow-insecure --json > "$work/mh.json"
cat "$work/mh.json"
[ "$(json_number iterations < "$work/mh.json")" = 4 ] || fail "multi-hospital iterations (2 epochs x 2 batches)"
grep -q '"hospitals_agree": true' "$work/mh.json" || fail "the hospitals decrypted different weights"
err=$(json_number max_weight_error < "$work/mh.json")
awk -v e="$err" 'BEGIN { exit !(e < 1e-3) }' || fail "multi-hospital vs plaintext weights differ by $err"
echo "train-encrypted CLI checks passed"
