#!/usr/bin/env bash
# Issue 15 measurements: what the ledger costs per round on an EVM chain (anvil) against SQLite, from
# real `heal fl simulate --secure he` runs on PneumoniaMNIST with 3, 5 and 10 hospitals: gas and
# calldata per round and per hospital, and the wall time the ledger adds to a round (every append and
# catch-up, as a share of the federation's time). Prints a Markdown table.
#   scripts/ledger_cost_report.sh [HEAL_BINARY] [DATA_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
heal=${1:-build/release/cli/heal}
data=${2:-../shared/data}
rounds=${3:-3}
anvil=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
work=$(mktemp -d)
mkdir -p "$work/home"
HOME="$work/home" "$anvil" --port 0 > "$work/anvil.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  port=$(grep -o 'Listening on 127.0.0.1:[0-9]*' "$work/anvil.log" | sed 's/.*://' || true)
  [ -n "${port:-}" ] && break
  sleep 0.1
done
export HEAL_DEV_KEY=$(grep -A3 'Private Keys' "$work/anvil.log" | grep -o '0x[0-9a-f]\{64\}' | head -1)
echo "| hospitals | backend | gas / round | calldata B / round | calldata B / hospital / round | ledger s / round | ledger % of federation time | round s |"
echo "|---|---|---|---|---|---|---|---|"
for k in 3 5 10; do
  for backend in sqlite evm; do
    if [ "$backend" = sqlite ]; then uri="sqlite://$work/l$k.db"; else uri="evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY"; fi
    "$heal" fl simulate --data "$data/pneumoniamnist.npz" --hospitals "$k" --rounds "$rounds" --secure he --seed 1 \
      --json --out "$work/o$k$backend" --ledger "$uri" > "$work/r.json"
    jq -r --arg k "$k" --arg b "$backend" '
      (.rounds | map(.seconds.round) | add / length) as $rs |
      "| \($k) | \($b) | \(.ledger.gas_per_round // "-" | tostring) | \(.ledger.calldata_bytes_per_round // "-" | tostring) | \(.ledger.calldata_bytes_per_hospital_per_round // "-" | tostring | .[0:6]) | \(.ledger.seconds_per_round | tostring | .[0:6]) | \(.ledger.percent_of_federation_time | tostring | .[0:5]) | \($rs | tostring | .[0:5]) |"' "$work/r.json"
  done
done
