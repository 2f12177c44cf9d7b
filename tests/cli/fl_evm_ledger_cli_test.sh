#!/usr/bin/env bash
# Issue 15 acceptance: `heal fl simulate --secure he` on an EVM chain (a private anvil on a free
# loopback port) produces the same model versions and hashes as the same run on SQLite, and
# `heal ledger verify` passes on both; `heal ledger deploy` deploys for a consortium file.
# Issue 17 on the chain: `heal fl ensemble simulate --ledger evm://...` records the same member
# versions (institution, version, round, model hash) as on SQLite, and the chain verifies.
# Usage: fl_evm_ledger_cli_test.sh HEAL_BINARY SHARED_DATA_DIR ANVIL_BINARY
anvil=$3
source "$(dirname "$0")/lib.sh" "$1" "$2" pneumoniamnist.npz
[ -x "$anvil" ] || fail "anvil not found at $anvil (run scripts/install-deps.sh)"

mkdir -p "$work/home"
HOME="$work/home" "$anvil" --port 0 > "$work/anvil.log" 2>&1 &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null; wait $anvil_pid 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 100); do
  port=$(grep -o 'Listening on 127.0.0.1:[0-9]*' "$work/anvil.log" | sed 's/.*://' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "anvil did not start: $(cat "$work/anvil.log")"
key=$(grep -A3 'Private Keys' "$work/anvil.log" | grep -o '0x[0-9a-f]\{64\}' | head -1)
[ -n "$key" ] || fail "no dev key in anvil's output"
export HEAL_DEV_KEY=$key   # the URI names the variable, so the key is not on the command line

sim=(fl simulate --data "$data/pneumoniamnist.npz" --hospitals 3 --rounds 2 --secure he --seed 5 --json)
"$heal" "${sim[@]}" --out "$work/sql" --ledger "sqlite://$work/sql.db" > "$work/sql.json" || fail "simulate on sqlite"
"$heal" "${sim[@]}" --out "$work/evm" --ledger "evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY" > "$work/evm.json" \
  || fail "simulate on evm"
uri=$(jq -r '.ledger.uri' "$work/evm.json")
grep -q '^evm://127.0.0.1:.*contract=0x' <<<"$uri" || fail "no audit URI in the report: $uri"
echo "chain ledger: $uri"
jq '.ledger' "$work/evm.json"

"$heal" ledger verify --ledger "sqlite://$work/sql.db" || fail "verify sqlite"
"$heal" ledger verify --ledger "$uri" || fail "verify evm"
"$heal" ledger log --ledger "sqlite://$work/sql.db" --json | jq -c '[.[] | [.version, .model_hash]]' > "$work/sql.hist"
"$heal" ledger log --ledger "$uri" --json | jq -c '[.[] | [.version, .model_hash]]' > "$work/evm.hist"
cat "$work/evm.hist"
[ "$(jq length "$work/evm.hist")" = 3 ] || fail "expected model versions 0..2 on the chain"
cmp -s "$work/sql.hist" "$work/evm.hist" || fail "model versions or hashes differ between sqlite and evm"
jq -e '.ledger.calldata_bytes_per_hospital_per_round < 2048' "$work/evm.json" >/dev/null \
  || fail "more than 2 kB of calldata per hospital per round"

# An audit needs no key and refuses one; a rule-breaking URI is refused before any transaction.
"$heal" ledger verify --ledger "$uri&key=env:HEAL_DEV_KEY" > /dev/null 2>&1 && fail "an audit accepted a key"
"$heal" ledger show --ledger "$uri" --height 6 --json | jq -e '.record.type == "contributors"' > /dev/null \
  || fail "block 6 is not round 1's contributor set"

# heal ledger deploy for a consortium file (three hospitals, t = 2, min_contributors = 3, and a
# coordinator: anvil's accounts 1..4).
cat > "$work/consortium.json" <<JSON
{"federation_id": "cli-test", "threshold": 2, "min_contributors": 3, "members": [
  {"party_id": 0, "role": "hospital", "name": "a", "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"},
  {"party_id": 1, "role": "hospital", "name": "b", "address": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"},
  {"party_id": 2, "role": "hospital", "name": "d", "address": "0x90F79bf6EB2c4f870365E785982E1f101E93b906"},
  {"party_id": 100000, "role": "coordinator", "name": "c", "address": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"}]}
JSON
out=$("$heal" ledger deploy --chain "evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY" --consortium "$work/consortium.json" --json)
echo "$out"
jq -e '.contract | test("^0x[0-9a-fA-F]{40}$")' <<<"$out" > /dev/null || fail "deploy printed no contract"
# The new contract is reachable by its URI and holds no block yet (verify reports an empty ledger).
v=$("$heal" ledger verify --ledger "$(jq -r .uri <<<"$out")" 2>&1 || true)
grep -q 'the ledger is empty' <<<"$v" || fail "fresh contract: $v"
# A consortium the contract's constructor would revert is refused before any transaction, and the
# CLI names the contract's error: t above the hospitals, t = 1, min_contributors below max(3, t + 1).
for bad in 's/"threshold": 2/"threshold": 4/ BadThreshold' 's/"threshold": 2/"threshold": 1/ ThresholdBelowTwo' \
           's/"min_contributors": 3/"min_contributors": 2/ MinContributorsBelowFloor'; do
  sed "${bad% *}" "$work/consortium.json" > "$work/bad.json"
  err=$("$heal" ledger deploy --chain "evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY" --consortium "$work/bad.json" 2>&1) \
    && fail "an invalid consortium was deployed (${bad% *})"
  grep -q "${bad##* }" <<<"$err" || fail "the refusal does not name ${bad##* }: $err"
done

# The SMPC ensemble of heterogeneous models (issue 17) on the chain: each institution records its own
# model versions from its own account; the same run on SQLite records the same versions and hashes.
ens=(fl ensemble simulate --data "$data/breastmnist.npz" --hospitals 3 --archs hecnn,resnet,hecnn --rounds 2
     --local-epochs 1 --no-local-baseline --no-central --threads 1 --seed 3 --json)
"$heal" "${ens[@]}" --out "$work/ens_sql" --ledger "$work/ens.db" > "$work/ens_sql.json" || fail "ensemble on sqlite"
"$heal" "${ens[@]}" --out "$work/ens_evm" --ledger "evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY" \
  > "$work/ens_evm.json" || fail "ensemble on evm"
euri=$(jq -r '.ledger.uri' "$work/ens_evm.json")
grep -q '^evm://127.0.0.1:.*contract=0x' <<<"$euri" || fail "no audit URI in the ensemble report: $euri"
jq '.ledger' "$work/ens_evm.json"
"$heal" ledger verify --ledger "$euri" || fail "verify the ensemble on evm"
"$heal" ledger log --ledger "$work/ens.db" --members --json \
  | jq -c '[.[] | [.institution, .version, .round, .model_hash]]' > "$work/ens_sql.hist"
"$heal" ledger log --ledger "$euri" --members --json \
  | jq -c '[.[] | [.institution, .version, .round, .model_hash]]' > "$work/ens_evm.hist"
cat "$work/ens_evm.hist"
[ "$(jq length "$work/ens_evm.hist")" = 9 ] || fail "expected versions 1..3 of 3 members on the chain"
cmp -s "$work/ens_sql.hist" "$work/ens_evm.hist" || fail "member versions or hashes differ between sqlite and evm"
[ "$(jq -c '[.members[].test_accuracy]' "$work/ens_sql.json")" = "$(jq -c '[.members[].test_accuracy]' "$work/ens_evm.json")" ] \
  || fail "the members' test accuracies differ between sqlite and evm"
jq -e '.ledger.backend == "evm" and .ledger.transactions_per_round == 4' "$work/ens_evm.json" > /dev/null \
  || fail "expected 4 transactions per round (the round and 3 member versions)"
# Two institutions cannot meet the contract's threshold rules: refused with what to do, before any transaction.
err=$("$heal" fl ensemble simulate --data "$data/breastmnist.npz" --hospitals 2 --archs hecnn --rounds 1 \
      --no-local-baseline --no-central --out "$work/ens2" --ledger "evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY" 2>&1) \
  && fail "a 2-institution ensemble ran on the chain"
grep -q ">= 3 institutions" <<<"$err" || fail "the refusal does not say what is needed: $err"
echo "OK"
