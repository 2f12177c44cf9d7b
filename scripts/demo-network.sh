#!/usr/bin/env bash
# A federation of separate processes on this host (docs/deployment.md, section 11): a consortium CA,
# one coordinator and N hospital processes (`heal node run`), each with its own TLS key and
# certificate (mutual TLS over gRPC on 127.0.0.1), its own HE key material from the dealer-free key
# setup (in its encrypted node store) and its own ledger key; the rounds are recorded on a shared
# SQLite ledger or (--chain) on the HealFederation contract on a private dev chain (anvil on
# loopback, started and stopped here), which is audited at the end.
#
#   scripts/demo-network.sh [--hospitals 3] [--rounds 5] [--data PATH] [--out DIR] [--model hecnn]
#                           [--partition dirichlet:0.5] [--seed 1] [--local-epochs 1] [--netns | --chain]
#                           [--ensemble hecnn,resnet,capsnet [--sharpen T] [--distill-epochs E] [--sites 1,2,1]]
#
# --ensemble ARCHS runs an SMPC ensemble instead of FedAvg (heal/node/ensemble.h): every hospital is
# an institution with its own architecture (ARCHS cycled over the party ids) and the consensus on the
# reference set is computed by secure aggregation; each institution prints its own model's test
# accuracy. With --chain the ensemble's records go on the contract too (>= 3 institutions).
# --sites S0,S1,... (one count per institution) makes institution k with S > 1 a multi-site
# institution: S site processes (party ids 1000 (k + 1) + s, each with its own certificate and share of
# the data) train the institution's architecture and are averaged by SecAgg with the institution as
# aggregator before the institution takes part in the ensemble (the hierarchy of heal/node/ensemble.h).
#
# --netns puts every process in its own network namespace, joined by veth pairs to a bridge
# (10.77.0.0/24), so that the nodes really talk over a network link and the bytes each hospital
# sends and receives are counted by its interface (needs root and `ip`; the script says so otherwise).
#
# --chain starts anvil (node_modules, from scripts/install-deps.sh; or $ANVIL): the coordinator deploys
# the contract from anvil's dev key and funds the hospitals' fresh secp256k1 accounts; every party
# sends its own records from its own account.
#
# Prints each process's output under OUT/logs, the coordinator's per-round table and summary, and
# `heal ledger audit` of the ledger. Exit status 0 only if the federation completed, the ledger
# verifies and every process exited cleanly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HEAL="${HEAL:-$here/build/release/cli/heal}"
hospitals=3
rounds=5
data="${HEAL_DATA:-}"
out=""
model=hecnn
partition="dirichlet:0.5"
seed=1
netns=0
chain=0
threads=1
lr=0.002
local_epochs=1
timeout_ms=600000
ensemble=""
sites=""
sharpen=1
distill_epochs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --hospitals) hospitals="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --partition) partition="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --lr) lr="$2"; shift 2 ;;
    --local-epochs) local_epochs="$2"; shift 2 ;;
    --timeout-ms) timeout_ms="$2"; shift 2 ;;
    --ensemble) ensemble="$2"; shift 2 ;;
    --sharpen) sharpen="$2"; shift 2 ;;
    --distill-epochs) distill_epochs="$2"; shift 2 ;;
    --sites) sites="$2"; shift 2 ;;
    --netns) netns=1; shift ;;
    --chain) chain=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "demo-network: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$data" ]; then
  for d in "$here/../shared/data/pneumoniamnist.npz" "$here/data/pneumoniamnist.npz"; do
    [ -f "$d" ] && data="$d" && break
  done
fi
[ -n "$data" ] && [ -e "$data" ] || { echo "demo-network: no dataset: pass --data PATH or set HEAL_DATA" >&2; exit 2; }
data="$(cd "$(dirname "$data")" && pwd)/$(basename "$data")"
case "$HEAL" in /*) ;; *) HEAL="$(pwd)/$HEAL" ;; esac
[ -x "$HEAL" ] || { echo "demo-network: $HEAL is not built (cmake --build build/release --target heal), or set HEAL" >&2; exit 2; }
command -v openssl >/dev/null || { echo "demo-network: needs the openssl command (the consortium CA)" >&2; exit 2; }
ensemble_json=""
if [ -n "$ensemble" ]; then
  [ "$chain" = 1 ] && [ "$hospitals" -lt 3 ] && { echo "demo-network: --ensemble --chain needs >= 3 hospitals (the contract's threshold rules)" >&2; exit 2; }
  archs_json=$(printf '%s' "$ensemble" | awk -F, '{ for (i = 1; i <= NF; i++) printf "%s\"%s\"", (i > 1 ? ", " : ""), $i }')
  ensemble_json=",
               \"federation\": \"ensemble\", \"archs\": [$archs_json], \"sharpen\": $sharpen,
               \"distill_epochs\": $distill_epochs"
fi
# Sites of multi-site institutions: site_ids[k] lists institution k's site party ids (empty: one site).
declare -A site_ids
all_sites=()
if [ -n "$sites" ]; then
  [ -n "$ensemble" ] || { echo "demo-network: --sites needs --ensemble (sites belong to an ensemble's institutions)" >&2; exit 2; }
  IFS=, read -r -a site_counts <<< "$sites"
  [ "${#site_counts[@]}" = "$hospitals" ] || { echo "demo-network: --sites needs one count per institution ($hospitals)" >&2; exit 2; }
  for ((k = 0; k < hospitals; k++)); do
    n="${site_counts[$k]}"
    case "$n" in ''|*[!0-9]*) echo "demo-network: --sites: '$n' is not a count" >&2; exit 2 ;; esac
    { [ "$n" -ge 1 ] && [ "$n" -le 64 ]; } || { echo "demo-network: --sites: counts are 1..64" >&2; exit 2; }
    site_ids[$k]=""
    if [ "$n" -gt 1 ]; then
      for ((s = 0; s < n; s++)); do
        site_ids[$k]+="$((1000 * (k + 1) + s)) "
        all_sites+=("$((1000 * (k + 1) + s))")
      done
    fi
  done
  ensemble_json+=", \"sites\": [$sites]"
fi
if [ "$netns" = 1 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "demo-network: --netns needs root and the ip command" >&2; exit 2
  fi
fi
if [ "$chain" = 1 ]; then
  [ "$netns" = 0 ] || { echo "demo-network: --chain and --netns together are not supported" >&2; exit 2; }
  ANVIL="${ANVIL:-$here/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
  [ -x "$ANVIL" ] || { echo "demo-network: --chain needs anvil at $ANVIL (scripts/install-deps.sh), or set ANVIL" >&2; exit 2; }
fi
[ -n "$out" ] || out="$(mktemp -d /tmp/heal-network.XXXXXX)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ -e "$out/ledger.sqlite" ] && { echo "demo-network: $out already holds a federation; use a new --out" >&2; exit 2; }
mkdir -p "$out/pki" "$out/logs"
chmod 700 "$out/pki"

# --- The consortium CA and one certificate per party (party-<id>, serverAuth + clientAuth). ---
openssl genpkey -algorithm ed25519 -out "$out/pki/ca.key" 2>/dev/null
chmod 600 "$out/pki/ca.key"
openssl req -x509 -key "$out/pki/ca.key" -subj "/O=HEAL demo consortium/CN=HEAL demo CA" -days 2 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$out/pki/ca.crt" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' \
  > "$out/pki/leaf.ext"
parties=(coordinator)
for ((h = 0; h < hospitals; h++)); do parties+=("$h"); done
parties+=("${all_sites[@]}")
for p in "${parties[@]}"; do
  "$HEAL" node init --id "$p" --out "$out/pki" --org "HEAL demo" >/dev/null
done
for f in "$out"/pki/party-*.csr; do
  openssl x509 -req -in "$f" -CA "$out/pki/ca.crt" -CAkey "$out/pki/ca.key" -CAcreateserial -days 2 \
    -copy_extensions copy -extfile "$out/pki/leaf.ext" -out "${f%.csr}.crt" 2>/dev/null
done
coord_cn="party-100000"  # fl::kCoordinatorId

# --- Addresses: loopback ports, or one namespace per process on a bridge. ---
declare -A addr listen
base=$((20000 + RANDOM % 20000))
i=0
for p in "${parties[@]}"; do
  if [ "$netns" = 1 ]; then
    addr[$p]="10.77.0.$((10 + i)):7000"
    listen[$p]="10.77.0.$((10 + i)):7000"
  else
    addr[$p]="127.0.0.1:$((base + i))"
    listen[$p]="127.0.0.1:$((base + i))"
  fi
  i=$((i + 1))
done

ns_cleanup() {
  [ "$netns" = 1 ] || return 0
  for p in "${parties[@]}"; do ip netns del "healdemo-$p" 2>/dev/null || true; done
  ip link del healdemo-br 2>/dev/null || true
}
pids=()
anvil_pid=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -z "$anvil_pid" ] || { kill "$anvil_pid" 2>/dev/null; wait "$anvil_pid" 2>/dev/null || true; }
  ns_cleanup
}
trap cleanup EXIT

# --- The ledger: a SQLite file next to the configurations, or a contract on a dev chain. ---
ledger_hospital="ledger.sqlite"
ledger_coordinator="ledger.sqlite"
if [ "$chain" = 1 ]; then
  mkdir -p "$out/anvil-home"
  HOME="$out/anvil-home" "$ANVIL" --port 0 > "$out/logs/anvil.log" 2>&1 &
  anvil_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'Listening on 127.0.0.1:[0-9]*' "$out/logs/anvil.log" | sed 's/.*://' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "demo-network: anvil did not start: $(cat "$out/logs/anvil.log")" >&2; exit 1; }
  # anvil's first dev key deploys the contract and pays gas on this throwaway chain: it reaches the
  # coordinator through its environment only.
  HEAL_DEV_KEY=$(grep -A3 'Private Keys' "$out/logs/anvil.log" | grep -o '0x[0-9a-f]\{64\}' | head -1)
  [ -n "$HEAL_DEV_KEY" ] || { echo "demo-network: no dev key in anvil's output" >&2; exit 1; }
  ledger_hospital="evm://127.0.0.1:$port"
  ledger_coordinator="evm://127.0.0.1:$port?key=env:HEAL_DEV_KEY"
fi

if [ "$netns" = 1 ]; then
  ns_cleanup
  ip link add healdemo-br type bridge
  ip link set healdemo-br up
  i=0
  for p in "${parties[@]}"; do
    ns="healdemo-$p"
    ip netns add "$ns"
    ip link add "hd$i" type veth peer name "hdp$i"
    ip link set "hdp$i" netns "$ns"
    ip link set "hd$i" master healdemo-br up
    ip -n "$ns" addr add "10.77.0.$((10 + i))/24" dev "hdp$i"
    ip -n "$ns" link set "hdp$i" up
    ip -n "$ns" link set lo up
    i=$((i + 1))
  done
fi

# --- One configuration per node. ---
fid="heal-network-demo-$(date +%s)"
is_site() { [ "$1" != coordinator ] && [ "$1" -ge 1000 ]; }
write_config() {  # party
  local p="$1" role key cert peers="" sep="" talks_to=() inst
  # Who talks to whom: the coordinator to the institutions; an institution to the coordinator, the
  # other institutions and its own sites; a site to its institution and its sibling sites.
  if [ "$p" = coordinator ]; then
    for ((h = 0; h < hospitals; h++)); do talks_to+=("$h"); done
  elif is_site "$p"; then
    inst=$((p / 1000 - 1))
    talks_to=("$inst")
    for q in ${site_ids[$inst]}; do [ "$q" = "$p" ] || talks_to+=("$q"); done
  else
    talks_to=(coordinator)
    for ((h = 0; h < hospitals; h++)); do [ "$h" = "$p" ] || talks_to+=("$h"); done
    for q in ${site_ids[$p]:-}; do talks_to+=("$q"); done
  fi
  for q in "${talks_to[@]}"; do
    peers+="$sep\"$q\": \"${addr[$q]}\""
    sep=", "
  done
  if is_site "$p"; then
    cat > "$out/node-$p.json" <<EOF
{
  "role": "site", "party_id": $p, "hospitals": $hospitals, "rounds": $rounds,
  "listen": "${listen[$p]}",
  "peers": {$peers},
  "tls": {"ca_cert": "pki/ca.crt", "cert": "$out/pki/party-$p.crt", "key": "$out/pki/party-$p.key"},
  "federation_id": "$fid",
  "response_timeout_ms": $timeout_ms, "setup_timeout_ms": 120000,
  "training": {"data": "$data", "model": "$model", "partition": "$partition", "seed": $seed,
               "lr": $lr, "local_epochs": $local_epochs, "threads": $threads$ensemble_json}
}
EOF
    return
  fi
  if [ "$p" = coordinator ]; then
    role='"role": "coordinator"'
    cert="$out/pki/$coord_cn"
    ledger="$ledger_coordinator"
  else
    role="\"role\": \"hospital\", \"party_id\": $p"
    cert="$out/pki/party-$p"
    ledger="$ledger_hospital"
  fi
  cat > "$out/node-$p.json" <<EOF
{
  $role, "hospitals": $hospitals, "rounds": $rounds,
  "listen": "${listen[$p]}",
  "peers": {$peers},
  "tls": {"ca_cert": "pki/ca.crt", "cert": "$cert.crt", "key": "$cert.key"},
  "ledger": "$ledger", "federation_id": "$fid",
  "response_timeout_ms": $timeout_ms, "setup_timeout_ms": 120000,
  "he": {"max_abs_update": 256},
$( [ "$p" = coordinator ] || echo "  \"node_store\": {\"path\": \"hospital-$p.store\", \"passphrase_env\": \"HEAL_NODE_PASSPHRASE\"},")
  "training": {"data": "$data", "model": "$model", "partition": "$partition", "seed": $seed,
               "lr": $lr, "local_epochs": $local_epochs, "threads": $threads$ensemble_json}
}
EOF
}
for p in "${parties[@]}"; do write_config "$p"; done

run_in() {  # party, then the command
  local p="$1"
  shift
  if [ "$netns" = 1 ]; then ip netns exec "healdemo-$p" "$@"; else "$@"; fi
}

if [ -n "$ensemble" ]; then
  echo "ensemble $fid: $hospitals institution processes ($ensemble) + 1 coordinator, $rounds rounds, $(basename "$data")"
  [ "${#all_sites[@]}" -gt 0 ] && echo "sites (--sites $sites): ${#all_sites[@]} site processes (${all_sites[*]})"
else
  echo "federation $fid: $hospitals hospital processes + 1 coordinator, $rounds rounds, $(basename "$data"), model $model"
fi
echo "work dir: $out (configs node-*.json, certificates pki/, logs logs/)"
[ "$netns" = 1 ] && echo "network: one namespace per process, veth pairs on bridge healdemo-br (10.77.0.0/24)"
t0=$(date +%s.%N)
for p in "${all_sites[@]}"; do
  run_in "$p" "$HEAL" node run --config "$out/node-$p.json" > "$out/logs/site-$p.log" 2>&1 &
  pids+=($!)
done
for ((h = 0; h < hospitals; h++)); do
  # The passphrase of each hospital's node store: from its own environment, never from a file. A
  # demo draws a random one per hospital.
  HEAL_NODE_PASSPHRASE="$(openssl rand -hex 24)" run_in "$h" "$HEAL" node run --config "$out/node-$h.json" \
    > "$out/logs/hospital-$h.log" 2>&1 &
  pids+=($!)
done
set +e
(cd "$out" && HEAL_DEV_KEY="${HEAL_DEV_KEY:-}" run_in coordinator "$HEAL" node run --config "$out/node-coordinator.json" --out "$out/report") \
  2>&1 | tee "$out/logs/coordinator.log"
coord_rc=${PIPESTATUS[0]}
fail=0
for pid in "${pids[@]}"; do
  wait "$pid" || fail=1
done
set -e
pids=()
t1=$(date +%s.%N)
if [ "$netns" = 1 ]; then
  echo
  echo "bytes on the wire per process (veth counters, TLS and TCP included):"
  i=0
  for p in "${parties[@]}"; do
    rx=$(ip -n "healdemo-$p" -s -j link show "hdp$i" | sed -n 's/.*"rx":{"bytes":\([0-9]*\).*/\1/p')
    tx=$(ip -n "healdemo-$p" -s -j link show "hdp$i" | sed -n 's/.*"tx":{"bytes":\([0-9]*\).*/\1/p')
    printf '  %-12s sent %12s B   received %12s B\n' "$p" "$tx" "$rx"
    echo "{\"party\": \"$p\", \"tx_bytes\": $tx, \"rx_bytes\": $rx}" >> "$out/report/wire_bytes.jsonl"
    i=$((i + 1))
  done
fi
echo
audit="$out/ledger.sqlite"
if [ "$chain" = 1 ]; then
  audit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ledger"]["uri"])' "$out/report/report.json" \
          2>/dev/null || true)
fi
echo "ledger audit (heal ledger verify / log --ledger $audit):"
if [ -n "$audit" ]; then
  "$HEAL" ledger verify --ledger "$audit" || fail=1
  "$HEAL" ledger log --ledger "$audit" || fail=1
else
  echo "no ledger to audit (the coordinator wrote no report)" >&2
  fail=1
fi
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall time %.1f s\n", b - a }'
for p in "${all_sites[@]}"; do
  if ! grep -q "ended the federation" "$out/logs/site-$p.log"; then
    echo "site $p did not end cleanly: see $out/logs/site-$p.log" >&2
    tail -n 5 "$out/logs/site-$p.log" >&2
    fail=1
  fi
done
for ((h = 0; h < hospitals; h++)); do
  if ! grep -q "ended the federation" "$out/logs/hospital-$h.log"; then
    echo "hospital $h did not end cleanly: see $out/logs/hospital-$h.log" >&2
    tail -n 5 "$out/logs/hospital-$h.log" >&2
    fail=1
  fi
done
if [ "$coord_rc" != 0 ] || [ "$fail" != 0 ]; then
  echo "demo-network: FAILED (coordinator exit $coord_rc)" >&2
  exit 1
fi
echo "demo-network: OK"
