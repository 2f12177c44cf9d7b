#!/usr/bin/env bash
# The client/server split of encrypted inference on files (issue 6): the client generates keys and
# encrypts, a server directory holding only the public material (params, public, relin, Galois keys)
# evaluates, the client decrypts; predictions must agree with the plaintext reference.
# A tiny model is trained for one epoch on BreastMNIST so that no trained model is needed.
# Usage: infer_split_cli_test.sh HEAL_BINARY SHARED_DATA_DIR
source "$(dirname "$0")/lib.sh" "$@" breastmnist.npz
d="$data/breastmnist.npz"
"$heal" --quiet train --data "$d" --model hecnn --epochs 1 --patience 0 --width 4 --hidden 16 --depth 1 --out "$work/train" > /dev/null
m="$work/train/model.heal"

for mode in single batch; do
  client="$work/client_$mode" server="$work/server_$mode"
  "$heal" --quiet infer keygen --model "$m" --keys "$client" --mode $mode
  [ -f "$client/secret.key" ] || fail "$mode: no secret key"
  mkdir -p "$server"
  cp "$client/params.heal" "$client/public.key" "$client/relin.key" "$server/"  # public.key: the output flood
  if [ $mode = single ]; then cp "$client/galois.key" "$server/"; fi
  "$heal" --quiet infer encrypt --model "$m" --keys "$client" --mode $mode --data "$d" --limit 6 --out "$work/q_$mode.bin"
  "$heal" --quiet infer eval --model "$m" --keys "$server" --in "$work/q_$mode.bin" --out "$work/r_$mode.bin"
  out=$("$heal" --quiet infer decrypt --model "$m" --keys "$client" --in "$work/r_$mode.bin" --data "$d" --limit 6)
  echo "$mode: $(grep -E '"(count|argmax_agreement|max_logit_error)"' <<<"$out" | tr -d '\n ')"
  grep -q '"count": 6' <<<"$out" || fail "$mode: count"
  grep -q '"argmax_agreement": 1.0' <<<"$out" || fail "$mode: predictions differ from the plaintext model"
  err=$(json_number max_logit_error <<<"$out")
  awk -v e="$err" 'BEGIN { exit !(e < 1e-2) }' || fail "$mode: max logit error $err"
  [ ! -f "$server/secret.key" ] || fail "$mode: secret key on the server"
  # IND-CPA^D rule: a result file never goes back to the server's eval.
  if "$heal" --quiet infer eval --model "$m" --keys "$server" --in "$work/r_$mode.bin" --out "$work/rr_$mode.bin" 2>/dev/null; then
    fail "$mode: the server evaluated a result file"
  fi
done
# Another client's secret key (or parameters) does not decrypt: either refused, or garbage.
if out=$("$heal" --quiet infer decrypt --model "$m" --keys "$work/client_batch" --in "$work/r_single.bin" --data "$d" --limit 6 2>/dev/null); then
  err=$(json_number max_logit_error <<<"$out")
  awk -v e="$err" 'BEGIN { exit !(e > 1) }' || fail "another client's key decrypted the result (error $err)"
fi
echo OK
