#!/usr/bin/env bash
# Side-by-side CKKS bootstrapping: HEAL's `heal ckks bootstrap-bench` against OpenFHE's
# EvalBootstrap (the driver of ../shared/anchors/drivers/openfhe_bootstrap_anchor.cpp, extended with
# --secret/--json; see docs/bootstrapping-openfhe.md for how to build OpenFHE and the driver).
# For each preset (full: N = 2^16, 2^15 slots; sparse: <= 2^10 slots) and thread count, runs the two
# interleaved (HEAL, OpenFHE, HEAL, OpenFHE, ... for ROUNDS rounds), so slow drift of a shared,
# noisy machine hits both alike. 1-thread runs are pinned to one core (OMP_NUM_THREADS=1). OpenFHE's
# configuration follows HEAL's JSON of the same preset (slots, secret, levels after bootstrapping),
# unless OPENFHE_ARGS_<PRESET> is given. Builds nothing.
#
#   OPENFHE_BOOT_BENCH=/work/openfhe-bench/build/boot_bench scripts/bootstrap_vs_openfhe.sh
#   scripts/bootstrap_vs_openfhe.sh ROUNDS=3 THREADS="1 2" PRESETS=sparse OUT=/tmp/boot
#   TABLE_ONLY=1 OUT=/tmp/boot scripts/bootstrap_vs_openfhe.sh     # table from earlier raw files
#
# Settings (environment or NAME=value arguments):
#   OPENFHE_BOOT_BENCH  OpenFHE driver binary (unset: the OpenFHE side is skipped, with a message)
#   HEAL_BIN      heal CLI                              (<repo>/build/release/cli/heal)
#   PRESETS       HEAL presets                          ("full sparse")
#   THREADS       thread counts                         ("1"; e.g. "1 2")
#   ROUNDS        interleaved rounds                    (2)
#   RUNS          OpenFHE bootstraps per invocation (median) (3); HEAL times each of its INPUTS
#   INPUTS        HEAL --inputs                         (100)
#   LEVEL_BUDGET  OpenFHE level budget "a b"            ("3 3")
#   OPENFHE_SEC   OpenFHE security: notset or 128       (notset; 128 falls back to notset when
#                 OpenFHE rejects N = 2^16 at this depth, and the table says so)
#   OPENFHE_ARGS_FULL, OPENFHE_ARGS_SPARSE  full OpenFHE driver argument list for that preset,
#                 instead of the one derived from HEAL's JSON
#   PIN_CPU       core for 1-thread runs                (1; "none" disables pinning)
#   HEAL_ARGS     extra arguments for heal ckks bootstrap-bench ("")
#   SKIP_HEAL=1   run only OpenFHE (its configuration then uses the defaults below)
#   TABLE_ONLY=1  run nothing: rebuild the table from $OUT/raw
#   OUT           output directory                      (bench-out/bootstrap)
# Defaults without a HEAL JSON: full = 2^15 slots, sparse = 2^10 slots, uniform ternary secret,
# 10 levels after bootstrapping.
# Output: $OUT/table.md, $OUT/table.json, $OUT/raw/r<round>-<preset>-t<threads>-<impl>.{json,log}.
# Cell = lowest per-round median; "paired" = median over rounds of HEAL/OpenFHE of the same round.
# A * marks an implementation whose two fastest rounds differ by more than 15 %.
# Memory: OpenFHE's full-slot bootstrapping at N = 2^16 peaks at about 14 GiB.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bootstrap_vs_openfhe: $*" >&2; exit 2; }
warn() { echo "bootstrap_vs_openfhe: warning: $*" >&2; }

settings=(OPENFHE_BOOT_BENCH HEAL_BIN PRESETS THREADS ROUNDS RUNS INPUTS LEVEL_BUDGET OPENFHE_SEC
  OPENFHE_ARGS_FULL OPENFHE_ARGS_SPARSE PIN_CPU HEAL_ARGS SKIP_HEAL TABLE_ONLY OUT)
for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    *=*)
      name=${arg%%=*}
      [[ " ${settings[*]} " == *" $name "* ]] || die "unknown setting '$name' (see --help)"
      printf -v "$name" '%s' "${arg#*=}"
      ;;
    *) die "unexpected argument '$arg' (settings are NAME=value; see --help)" ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OPENFHE_BOOT_BENCH=${OPENFHE_BOOT_BENCH:-}
HEAL_BIN=${HEAL_BIN:-$root/build/release/cli/heal}
PRESETS=${PRESETS:-full sparse}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-3}
INPUTS=${INPUTS:-100}
LEVEL_BUDGET=${LEVEL_BUDGET:-3 3}
OPENFHE_SEC=${OPENFHE_SEC:-notset}
OPENFHE_ARGS_FULL=${OPENFHE_ARGS_FULL:-}
OPENFHE_ARGS_SPARSE=${OPENFHE_ARGS_SPARSE:-}
PIN_CPU=${PIN_CPU:-1}
HEAL_ARGS=${HEAL_ARGS:-}
SKIP_HEAL=${SKIP_HEAL:-0}
TABLE_ONLY=${TABLE_ONLY:-0}
OUT=${OUT:-bench-out/bootstrap}

command -v jq >/dev/null || die "jq is required"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $INPUTS =~ ^[1-9][0-9]*$ ]] || die "INPUTS must be a positive integer"
[[ $LEVEL_BUDGET =~ ^[1-9][0-9]*\ [1-9][0-9]*$ ]] || die "LEVEL_BUDGET must be two positive integers, e.g. \"3 3\""
[[ $OPENFHE_SEC == notset || $OPENFHE_SEC == 128 ]] || die "OPENFHE_SEC must be notset or 128"
for p in $PRESETS; do [[ $p == full || $p == sparse ]] || die "PRESETS entries must be full or sparse (got '$p')"; done
for t in $THREADS; do [[ $t =~ ^[1-9][0-9]*$ ]] || die "THREADS entries must be positive integers (got '$t')"; done
[[ -n $PRESETS && -n $THREADS ]] || die "PRESETS and THREADS must not be empty"

raw=$OUT/raw
mkdir -p "$raw"

run_openfhe=1 run_heal=1
[[ $SKIP_HEAL == 1 ]] && run_heal=0
if [[ -z $OPENFHE_BOOT_BENCH ]]; then
  run_openfhe=0
  echo "bootstrap_vs_openfhe: OPENFHE_BOOT_BENCH is not set: skipping OpenFHE (HEAL runs alone, no ratios)." >&2
  echo "  Build the OpenFHE driver as in docs/bootstrapping-openfhe.md and point OPENFHE_BOOT_BENCH at it." >&2
fi

pin=()
if [[ $PIN_CPU != none ]] && command -v taskset >/dev/null && taskset -c "$PIN_CPU" true 2>/dev/null; then
  pin=(taskset -c "$PIN_CPU")
elif [[ $PIN_CPU != none ]]; then
  warn "1-thread runs not pinned (taskset missing or core $PIN_CPU unavailable)"
fi

log2_int() { # exact log2 of a power of two, else fails
  local v=$1 k=0
  [[ $v =~ ^[1-9][0-9]*$ ]] || return 1
  while ((v > 1)); do
    ((v % 2 == 0)) || return 1
    v=$((v / 2)) k=$((k + 1))
  done
  echo "$k"
}

# OpenFHE driver arguments for a preset: explicit OPENFHE_ARGS_<PRESET>, else derived from the
# first HEAL JSON of that preset and thread count, else the defaults.
openfhe_args() {
  local preset=$1 t=$2 explicit heal_json log_slots levels secret f k
  if [[ $preset == full ]]; then explicit=$OPENFHE_ARGS_FULL; else explicit=$OPENFHE_ARGS_SPARSE; fi
  if [[ -n $explicit ]]; then
    echo "$explicit"
    return
  fi
  if [[ $preset == full ]]; then log_slots=15; else log_slots=10; fi
  levels=10 secret=UNIFORM_TERNARY
  heal_json=""
  for f in "$raw"/r*-"$preset"-t"$t"-heal.json; do
    if [[ -s $f ]]; then heal_json=$f && break; fi
  done
  if [[ -n $heal_json && -s $heal_json ]]; then
    local s l h sec
    s=$(jq -r '.slots // empty' "$heal_json" 2>/dev/null || true)
    l=$(jq -r '.levels_after // empty' "$heal_json" 2>/dev/null || true)
    h=$(jq -r '.hamming_weight // 0' "$heal_json" 2>/dev/null || echo 0)
    sec=$(jq -r '.secret // empty' "$heal_json" 2>/dev/null || true)
    if [[ -n $s ]] && k=$(log2_int "$s"); then log_slots=$k; else warn "HEAL $preset JSON has no usable slots; OpenFHE uses 2^$log_slots"; fi
    [[ $l =~ ^[0-9]+$ ]] && levels=$l
    # OpenFHE's sparse secret has Hamming weight 192 only (src/pke/lib/schemebase/base-pke.cpp).
    if [[ $h =~ ^[1-9][0-9]*$ ]] || [[ ${sec,,} == *sparse* ]]; then
      secret=SPARSE_TERNARY
      [[ $h == 192 ]] || warn "HEAL $preset uses Hamming weight $h; OpenFHE's SPARSE_TERNARY is fixed at 192"
    fi
  fi
  echo "$log_slots $LEVEL_BUDGET $OPENFHE_SEC $RUNS $levels --secret $secret"
}

# run_impl IMPL ROUND PRESET THREADS
run_impl() {
  local impl=$1 r=$2 preset=$3 t=$4
  local base=$raw/r$r-$preset-t$t-$impl json log cmd=() envs=() start=$SECONDS rc=0
  json=$base.json log=$base.log
  rm -f "$json" "$log"
  envs=(OMP_NUM_THREADS="$t")
  local pinning=()
  if ((t == 1)); then pinning=("${pin[@]}"); fi
  if [[ $impl == heal ]]; then
    cmd=("$HEAL_BIN" ckks bootstrap-bench --preset "$preset" --inputs "$INPUTS" --json "$json")
    if ((heal_has_threads)); then cmd+=(--threads "$t"); fi
    # shellcheck disable=SC2206  # HEAL_ARGS is a word list on purpose
    if [[ -n $HEAL_ARGS ]]; then cmd+=($HEAL_ARGS); fi
  else
    local args
    args=$(openfhe_args "$preset" "$t")
    # shellcheck disable=SC2206
    cmd=("$OPENFHE_BOOT_BENCH" $args --json "$json")
  fi
  {
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) load: $(cat /proc/loadavg 2>/dev/null || echo n/a)"
    echo "# ${envs[*]} ${pinning[*]} ${cmd[*]}"
  } >"$log"
  env "${envs[@]}" "${pinning[@]}" "${cmd[@]}" >>"$log" 2>&1 || rc=$?
  echo "# exit $rc after $((SECONDS - start)) s; load: $(cat /proc/loadavg 2>/dev/null || echo n/a)" >>"$log"
  if ((rc != 0)); then
    warn "$impl $preset t=$t round $r failed (exit $rc) after $((SECONDS - start)) s; see $log"
    rm -f "$json"
  elif ! jq -e '.seconds_median | numbers' "$json" >/dev/null 2>&1; then
    warn "$impl $preset t=$t round $r wrote no usable JSON; see $log"
    rm -f "$json"
  else
    echo "    r$r $preset t=$t $impl: $(jq -r '.seconds_median' "$json") s median ($((SECONDS - start)) s wall)"
  fi
}

if [[ $TABLE_ONLY != 1 ]]; then
  heal_has_threads=0
  if ((run_heal)); then
    [[ -x $HEAL_BIN ]] || die "no heal CLI at $HEAL_BIN: build the release preset first (or HEAL_BIN=..., SKIP_HEAL=1)"
    "$HEAL_BIN" ckks bootstrap-bench --help >/dev/null 2>&1 ||
      die "$HEAL_BIN has no 'ckks bootstrap-bench' command (build predates bootstrapping?)"
    "$HEAL_BIN" ckks bootstrap-bench --help 2>&1 | grep -q -- '--threads' && heal_has_threads=1
    if ((!heal_has_threads)) && [[ " $THREADS " != " 1 " ]]; then
      warn "heal ckks bootstrap-bench has no --threads: HEAL's multi-thread rows run with its default threading"
    fi
  fi
  if ((run_openfhe)); then
    [[ -x $OPENFHE_BOOT_BENCH ]] || die "OPENFHE_BOOT_BENCH=$OPENFHE_BOOT_BENCH is not an executable"
  fi
  ((run_heal || run_openfhe)) || die "nothing to run (SKIP_HEAL=1 and OPENFHE_BOOT_BENCH unset)"
  load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
  if awk -v l="$load" 'BEGIN { exit !(l >= 1) }'; then
    warn "load average $load: something else is running (a build?); timings will be noisy"
  fi
  rm -f "$raw"/r*-*.json "$raw"/r*-*.log
  total=$SECONDS
  for ((r = 1; r <= ROUNDS; r++)); do
    echo "round $r/$ROUNDS"
    for preset in $PRESETS; do
      for t in $THREADS; do
        # HEAL first: OpenFHE's configuration is derived from HEAL's JSON of round 1.
        if ((run_heal)); then run_impl heal "$r" "$preset" "$t"; fi
        if ((run_openfhe)); then run_impl openfhe "$r" "$preset" "$t"; fi
      done
    done
  done
  echo "all rounds: $((SECONDS - total)) s"
fi

# ---- table -------------------------------------------------------------------------------------
records=$OUT/records.jsonl
: >"$records"
shopt -s nullglob
for f in "$raw"/r*-*-t*-*.json; do
  b=$(basename "$f" .json) # r<round>-<preset>-t<threads>-<impl>
  IFS=- read -r rr preset tt impl <<<"$b"
  jq -c --argjson round "${rr#r}" --arg preset "$preset" --argjson threads "${tt#t}" --arg impl "$impl" \
    '{round: $round, preset: $preset, threads: $threads, impl: $impl, r: .}' "$f" >>"$records" ||
    warn "could not parse $f"
done
[[ -s $records ]] || die "no results in $raw"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
heal_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then heal_rev+="+dirty"; fi

jq -n --slurpfile m "$records" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$cpu" \
  --arg heal_bin "$HEAL_BIN" --arg heal_rev "$heal_rev" --arg ofhe "${OPENFHE_BOOT_BENCH:-skipped}" \
  --argjson rounds "$ROUNDS" --argjson runs "$RUNS" --arg pin "${pin[*]:-none}" '
  def median: sort as $s | ($s | length) as $n
    | if $n == 0 then null elif $n % 2 == 1 then $s[$n / 2 | floor] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
  def side($recs):
    if ($recs | length) == 0 then null
    else ($recs | map(.r.seconds_median) | sort) as $v
      | ($recs | sort_by(.r.seconds_median) | first | .r) as $best
      | {seconds: $v[0], unconfirmed: (($v | length) > 1 and $v[1] > 1.15 * $v[0]),
         per_round: ($recs | sort_by(.round) | map({round, seconds: .r.seconds_median})),
         log_n: $best.log_n, slots: $best.slots, log_qp: $best.log_qp, secret: $best.secret,
         hamming_weight: $best.hamming_weight, levels_after: $best.levels_after,
         bits_min: ($recs | map(.r.bits_min) | min), bits_mean: $best.bits_mean,
         bits_meanabs: $best.bits_meanabs, keygen_seconds: $best.keygen_seconds,
         key_bytes: $best.key_bytes, peak_rss_bytes: ($recs | map(.r.peak_rss_bytes // 0) | max),
         security: $best.security, dnum: $best.dnum, num_automorphism_keys: $best.num_automorphism_keys}
    end;
  {meta: {date: $date, cpu: $cpu, heal_bin: $heal_bin, heal_commit: $heal_rev, openfhe_driver: $ofhe,
          rounds: $rounds, runs: $runs, pinning_1_thread: $pin,
          statistic: "lowest per-round median; paired = median over rounds of HEAL/OpenFHE"},
   rows: [$m | group_by([.preset, .threads])[]
     | . as $g | ($g | map(select(.impl == "heal"))) as $h | ($g | map(select(.impl == "openfhe"))) as $o
     | (side($h)) as $hs | (side($o)) as $os
     | {preset: $g[0].preset, threads: $g[0].threads, heal: $hs, openfhe: $os,
        ratio: (if $hs == null or $os == null then null else $hs.seconds / $os.seconds end),
        paired_ratio: ([$h[] as $x | $o[] | select(.round == $x.round) | $x.r.seconds_median / .r.seconds_median]
                       | median)}]
     | sort_by(if .preset == "full" then 0 else 1 end, .threads)}' >"$OUT/table.json"

jq -r '
  def fix($d): if . == null then "n/a" elif $d == 0 then round | tostring
    else (. * pow(10; $d) | round) as $t | pow(10; $d) as $s
    | "\($t / $s | floor).\(($t % $s) + $s | tostring | .[1:])" end;
  def secs: if . == null then "n/a" else (.seconds | fix(1)) + (if .unconfirmed then "*" else "" end) end;
  def gib: if . == null or . == 0 then "n/a" else (. / 1073741824 | fix(2)) end;
  def sec: if . == null then "n/a" elif (.hamming_weight // 0) > 0 then "h=\(.hamming_weight)"
           else (.secret // "?" | ascii_downcase | sub("_ternary"; "") | sub("uniform"; "dense")) end;
  def v($f): if . == null then "n/a" else (.[$f] // "n/a" | tostring) end;
  def both($f): "\(.heal | v($f)) / \(.openfhe | v($f))";
  .meta as $x
  | "# HEAL vs OpenFHE CKKS bootstrapping (\($x.date))",
    "",
    "CPU: \($x.cpu); 1-thread runs: \($x.pinning_1_thread), OMP_NUM_THREADS=1.",
    "HEAL: `\($x.heal_bin)` at \($x.heal_commit); OpenFHE driver: `\($x.openfhe_driver)`.",
    "\($x.rounds) interleaved round(s) (HEAL, OpenFHE) x \($x.runs) bootstraps each; time = lowest per-round median (s); * = two fastest rounds differ by > 15 %. ratio = HEAL / OpenFHE (< 1: HEAL faster); paired = median over rounds of the same-round ratio. Cells a / b = HEAL / OpenFHE.",
    "",
    "| preset | thr | log N | slots | secret | log QP | levels after | bits min | bits mean | keygen s | keys GiB | peak RSS GiB | HEAL s | OpenFHE s | ratio | paired |",
    "|---|---:|---|---|---|---|---|---|---|---|---|---|---:|---:|---:|---:|",
    (.rows[] | . as $r
     | "| \(.preset) | \(.threads) | \(both("log_n")) | \(both("slots")) | \(.heal | sec) / \(.openfhe | sec)"
       + " | \(.heal.log_qp | fix(0)) / \(.openfhe.log_qp | fix(0)) | \(both("levels_after"))"
       + " | \(.heal.bits_min | fix(1)) / \(.openfhe.bits_min | fix(1)) | \(.heal.bits_mean | fix(1)) / \(.openfhe.bits_mean | fix(1))"
       + " | \(.heal.keygen_seconds | fix(1)) / \(.openfhe.keygen_seconds | fix(1))"
       + " | \(.heal.key_bytes | gib) / \(.openfhe.key_bytes | gib) | \(.heal.peak_rss_bytes | gib) / \(.openfhe.peak_rss_bytes | gib)"
       + " | \(.heal | secs) | \(.openfhe | secs) | \(.ratio | fix(2)) | \(.paired_ratio | fix(2)) |"),
    "",
    ([.rows[] | select(.openfhe != null and (.openfhe.security // "") != "HEStd_128_classic")
      | "- \(.preset): OpenFHE ran with security \(.openfhe.security) (log QP \(.openfhe.log_qp | fix(0)) at log N \(.openfhe.log_n)): no 128-bit guarantee."]
     | unique | .[]),
    ([.rows[] | select(.heal != null and .openfhe != null)
      | select(.heal.slots != .openfhe.slots or .heal.log_n != .openfhe.log_n
               or .heal.levels_after != .openfhe.levels_after
               or ((.heal.hamming_weight // 0) > 0) != ((.openfhe.hamming_weight // 0) > 0))
      | "- \(.preset): WARNING the two sides differ in slots, log N, levels after or secret kind (see the columns)."]
     | unique | .[])
  ' "$OUT/table.json" >"$OUT/table.md"

cat "$OUT/table.md"
echo
echo "wrote $OUT/table.md and $OUT/table.json (raw runs and logs in $raw)"
