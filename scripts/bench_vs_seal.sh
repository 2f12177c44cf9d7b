#!/usr/bin/env bash
# Side-by-side CKKS timings: Microsoft SEAL 4.4.3 (the anchor driver of
# ../shared/anchors/drivers/seal_ckks_anchor.cpp, built for -march=x86-64-v3, no HEXL) against HEAL
# forced to its AVX2 level (HEAL_SIMD=avx2) and to scalar code (HEAL_SIMD=scalar), optionally also
# HEAL at the CPU's own level (INCLUDE_NATIVE=1). Same parameters as ../shared/anchors/he-baseline.md
# section 3: Q = 60 + L x 40 bits, one 60-bit special prime, all ops at the top level; HEAL's key
# switching with dnum = number of Q primes (SEAL's shape). Single thread, pinned to one core,
# interleaved passes (SEAL, HEAL avx2, HEAL scalar[, HEAL native]) and the lowest per-pass median
# per case, as in the anchor reports. Builds nothing: build HEAL (release preset) and the SEAL
# driver first.
#
#   scripts/bench_vs_seal.sh                       # N = 2^13, 2^14, 2^16, 3 passes -> bench-out/
#   scripts/bench_vs_seal.sh LOG_NS="13 14" PASSES=2 OUT=/tmp/b
#   LOG_NS=13 PASSES=1 MIN_TIME=0.01 scripts/bench_vs_seal.sh
#
# Settings (environment or NAME=value arguments):
#   SEAL_ANCHOR   SEAL driver binary               (/work/anchors/seal_ckks_anchor_avx2)
#   HEAL_BUILD    HEAL build directory             (<repo>/build/release)
#   LOG_NS        log2 N values                    ("13 14 16"; the SEAL driver has 13 14 16, NTT also 15)
#   PASSES        interleaved passes               (3)
#   OUT           output directory                 (bench-out)
#   INCLUDE_NATIVE=1  add a column for HEAL at the CPU's default SIMD level (HEAL_SIMD unset)
#   OPS           rows: ntt_fwd ntt_inv encode encrypt decrypt add mul_ct relin mul_pt rescale
#                 rotate (the default), also decode
#   REPETITIONS   Google Benchmark repetitions     (5)
#   MIN_TIME      seconds per repetition           (0.2; passed as a plain number, which every
#                 Google Benchmark version accepts; 1.7.x rejects "0.2s")
#   TIME_FIELD    real_time or cpu_time            (real_time)
#   PIN_CPU       core for taskset                 (1; "none" disables pinning)
#   SKIP_HEAL=1   run only the SEAL driver (HEAL columns n/a)
#   TABLE_ONLY=1  run nothing: rebuild the table from the JSON files already in $OUT/raw
# Output: $OUT/table.md, $OUT/table.json (per-pass medians of every cell), $OUT/raw/*.json|.log.
# A * after a time marks a cell whose two fastest passes differ by more than 15 %.
# N = 2^16 key switching in HEAL needs about 2 GB per key (HEAL_BENCH_N16_KS=1 is set for it).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bench_vs_seal: $*" >&2; exit 2; }
warn() { echo "bench_vs_seal: warning: $*" >&2; }

settings=(SEAL_ANCHOR HEAL_BUILD LOG_NS PASSES OUT INCLUDE_NATIVE OPS REPETITIONS MIN_TIME TIME_FIELD
  PIN_CPU SKIP_HEAL TABLE_ONLY)
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
SEAL_ANCHOR=${SEAL_ANCHOR:-/work/anchors/seal_ckks_anchor_avx2}
HEAL_BUILD=${HEAL_BUILD:-$root/build/release}
LOG_NS=${LOG_NS:-13 14 16}
PASSES=${PASSES:-3}
OUT=${OUT:-bench-out}
INCLUDE_NATIVE=${INCLUDE_NATIVE:-0}
OPS=${OPS:-ntt_fwd ntt_inv encode encrypt decrypt add mul_ct relin mul_pt rescale rotate}
REPETITIONS=${REPETITIONS:-5}
MIN_TIME=${MIN_TIME:-0.2}
MIN_TIME=${MIN_TIME%s}
TIME_FIELD=${TIME_FIELD:-real_time}
PIN_CPU=${PIN_CPU:-1}
SKIP_HEAL=${SKIP_HEAL:-0}
TABLE_ONLY=${TABLE_ONLY:-0}

command -v jq >/dev/null || die "jq is required"
[[ $PASSES =~ ^[1-9][0-9]*$ ]] || die "PASSES must be a positive integer"
[[ $REPETITIONS =~ ^[1-9][0-9]*$ ]] || die "REPETITIONS must be a positive integer"
[[ $MIN_TIME =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MIN_TIME must be a number of seconds"
[[ $TIME_FIELD == real_time || $TIME_FIELD == cpu_time ]] || die "TIME_FIELD must be real_time or cpu_time"
for k in $LOG_NS; do [[ $k =~ ^1[2-6]$ ]] || die "LOG_NS entries must be 12..16 (got '$k')"; done

heal_math=$HEAL_BUILD/bench/math/heal_math_bench
heal_ckks=$HEAL_BUILD/bench/ckks/heal_ckks_bench

# ---- the case mapping: one row per (op, log N) --------------------------------------------------
# Number of Q primes (= HEAL's like-for-like dnum) per log N: L + 1 with L = 2, 7, 19, 40.
q_count() { case $1 in 13) echo 3 ;; 14) echo 8 ;; 15) echo 20 ;; 16) echo 41 ;; *) echo 0 ;; esac; }
# op -> "label|SEAL family|HEAL binary|HEAL suffix kind"
op_info() {
  case $1 in
    ntt_fwd) echo "NTT fwd (40-bit prime)|BM_NttForward|math|bits" ;;
    ntt_inv) echo "NTT inv (40-bit prime)|BM_NttInverse|math|bits" ;;
    encode) echo "encode|BM_Encode|ckks|" ;;
    decode) echo "decode|BM_Decode|ckks|" ;;
    encrypt) echo "encrypt (public key)|BM_EncryptPk|ckks|" ;;
    decrypt) echo "decrypt|BM_Decrypt|ckks|" ;;
    add) echo "add ct+ct|BM_Add|ckks|" ;;
    mul_ct) echo "ct*ct (no relin)|BM_MulNoRelin|ckks|" ;;
    relin) echo "relinearize|BM_Relinearize|ckks|dnum" ;;
    mul_pt) echo "ct*pt|BM_MulPlain|ckks|" ;;
    rescale) echo "rescale|BM_Rescale|ckks|" ;;
    rotate) echo "rotate by 1|BM_Rotate|ckks|dnum" ;;
    *) return 1 ;;
  esac
}

rows_tsv=""
seal_cases=() math_cases=() ckks_cases=()
need_n16_ks=0
for op in $OPS; do
  info=$(op_info "$op") || die "unknown op '$op' in OPS (see --help)"
  IFS='|' read -r label family bin kind <<<"$info"
  for k in $LOG_NS; do
    seal_case="$family/log_n:$k"
    heal_case="$family/log_n:$k"
    case $kind in
      bits) heal_case+="/bits:40" ;;
      dnum)
        heal_case+="/dnum:$(q_count "$k")"
        [[ $k == 16 ]] && need_n16_ks=1
        ;;
    esac
    rows_tsv+="$op"$'\t'"$label"$'\t'"$k"$'\t'"$seal_case"$'\t'"$bin"$'\t'"$heal_case"$'\n'
    seal_cases+=("$seal_case")
    if [[ $bin == math ]]; then math_cases+=("$heal_case"); else ckks_cases+=("$heal_case"); fi
  done
done

filter_of() { # case names -> anchored alternation for --benchmark_filter
  local IFS='|'
  echo "^($*)\$"
}

# ---- running -------------------------------------------------------------------------------------
raw=$OUT/raw
mkdir -p "$raw"

pin=()
if [[ $PIN_CPU != none ]] && command -v taskset >/dev/null && taskset -c "$PIN_CPU" true 2>/dev/null; then
  pin=(taskset -c "$PIN_CPU")
elif [[ $PIN_CPU != none ]]; then
  warn "not pinned (taskset missing or core $PIN_CPU unavailable)"
fi

columns=(seal)
if [[ $SKIP_HEAL != 1 ]]; then
  columns+=(avx2 scalar)
  [[ $INCLUDE_NATIVE == 1 ]] && columns+=(native)
fi

# run_one OUTFILE BINARY FILTER [env assignments / -u NAME ...]
run_one() {
  local out=$1 bin=$2 filter=$3
  shift 3
  local log=${out%.json}.log start=$SECONDS
  rm -f "$out"
  # env's options (-u) must come before its assignments: callers pass -u first.
  if env "$@" OMP_NUM_THREADS=1 "${pin[@]}" "$bin" --benchmark_filter="$filter" \
    --benchmark_repetitions="$REPETITIONS" --benchmark_min_time="$MIN_TIME" \
    --benchmark_report_aggregates_only=true --benchmark_out="$out" --benchmark_out_format=json \
    >"$log" 2>&1; then
    echo "    $(basename "$out") ($((SECONDS - start)) s)"
  else
    warn "$bin failed (exit $?) after $((SECONDS - start)) s; see $log (its cells stay n/a)"
  fi
  [[ -s $out ]] || warn "no JSON from $bin (see $log)"
}

if [[ $TABLE_ONLY != 1 ]]; then
  [[ -x $SEAL_ANCHOR ]] || die "no SEAL driver at $SEAL_ANCHOR (build it as in ../shared/anchors/he-baseline-avx2.md, with -march=x86-64-v3)"
  if [[ $SKIP_HEAL != 1 ]]; then
    for b in "$heal_math" "$heal_ckks"; do
      [[ -x $b ]] || die "no HEAL benchmark at $b: build the release preset first (or SKIP_HEAL=1)"
      # Without HEAL_SIMD support the avx2 and scalar columns would silently be the same code.
      grep -q HEAL_SIMD "$b" || die "$b does not know HEAL_SIMD (build predates run-time SIMD dispatch)"
    done
    grep -qw avx2 /proc/cpuinfo 2>/dev/null || warn "this CPU has no AVX2: HEAL_SIMD=avx2 falls back to scalar"
  fi
  load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
  if awk -v l="$load" 'BEGIN { exit !(l >= 1) }'; then
    warn "load average $load: something else is running (a build?); timings will be noisy"
  fi
  rm -f "$raw"/p*-*.json "$raw"/p*-*.log
  heal_env=(-u HEAL_SIMD)
  [[ $need_n16_ks == 1 ]] && heal_env+=(HEAL_BENCH_N16_KS=1)
  total=$SECONDS
  for ((p = 1; p <= PASSES; p++)); do
    echo "pass $p/$PASSES"
    for col in "${columns[@]}"; do
      if [[ $col == seal ]]; then
        run_one "$raw/p$p-seal-seal.json" "$SEAL_ANCHOR" "$(filter_of "${seal_cases[@]}")"
        continue
      fi
      simd=()
      [[ $col != native ]] && simd=(HEAL_SIMD="$col")
      if ((${#math_cases[@]})); then
        run_one "$raw/p$p-$col-math.json" "$heal_math" "$(filter_of "${math_cases[@]}")" "${heal_env[@]}" "${simd[@]}"
      fi
      if ((${#ckks_cases[@]})); then
        run_one "$raw/p$p-$col-ckks.json" "$heal_ckks" "$(filter_of "${ckks_cases[@]}")" "${heal_env[@]}" "${simd[@]}"
      fi
    done
  done
  echo "all passes: $((SECONDS - total)) s"
fi

# ---- medians -> table ----------------------------------------------------------------------------
# One record per (column, pass, case): the median of the repetitions (or the single run when
# REPETITIONS=1), in microseconds.
medians=$OUT/medians.jsonl
: >"$medians"
shopt -s nullglob
for f in "$raw"/p*-*-*.json; do
  base=$(basename "$f" .json)          # p<pass>-<column>-<binary>
  IFS=- read -r pass col _ <<<"$base"
  jq -c --arg col "$col" --argjson pass "${pass#p}" --arg tf "$TIME_FIELD" '
    def us: .[$tf] * ({"ns": 0.001, "us": 1, "ms": 1000, "s": 1000000}[.time_unit // "ns"]);
    [.benchmarks[] | select((.error_occurred // false) | not)]
    | group_by(.run_name)[]
    | (map(select(.aggregate_name == "median")) | first) as $m
    | if $m then {col: $col, pass: $pass, case: $m.run_name, us: ($m | us)}
      else (map(select((.run_type // "iteration") == "iteration") | us) | sort) as $v
        | select($v | length > 0)
        | {col: $col, pass: $pass, case: .[0].run_name, us: $v[($v | length) / 2 | floor]}
      end' "$f" >>"$medians" || warn "could not parse $f"
done
[[ -s $medians ]] || die "no results in $raw"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
avx512=$(grep -o 'avx512[a-z]*' /proc/cpuinfo 2>/dev/null | sort -u | paste -sd ' ' || true)
heal_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then heal_rev+="+dirty"; fi

printf '%s' "$rows_tsv" | jq -R -s -c '
  split("\n") | map(select(length > 0) | split("\t")
    | {op: .[0], label: .[1], log_n: (.[2] | tonumber), seal_case: .[3], heal_bin: .[4], heal_case: .[5]})' \
  >"$OUT/mapping.json"

cols_json=$(printf '%s\n' "${columns[@]}" | jq -R -s -c 'split("\n") | map(select(length > 0))')
[[ $TABLE_ONLY == 1 ]] && cols_json=$(jq -s -c 'map(.col) | unique | ["seal", "avx2", "scalar", "native"] as $o | [$o[] as $c | select(index($c)) | $c]' "$medians")

jq -n --slurpfile m "$medians" --slurpfile rows "$OUT/mapping.json" --argjson cols "$cols_json" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$cpu" --arg avx512 "$avx512" \
  --arg seal "$SEAL_ANCHOR" --arg heal_build "$HEAL_BUILD" --arg heal_rev "$heal_rev" \
  --arg tf "$TIME_FIELD" --arg pin "${pin[*]:-none}" \
  --argjson passes "$PASSES" --argjson reps "$REPETITIONS" --argjson min_time "$MIN_TIME" '
  def cell($col; $case):
    [$m[] | select(.col == $col and .case == $case)] | sort_by(.pass) as $p
    | if ($p | length) == 0 then null
      else ($p | map(.us) | sort) as $v
        | {us: $v[0], unconfirmed: (($v | length) > 1 and $v[1] > 1.15 * $v[0]),
           per_pass: ($p | map({pass, us}))}
      end;
  def ratio($a; $b): if $a == null or $b == null then null else $a.us / $b.us end;
  {meta: {date: $date, cpu: $cpu, avx512: $avx512, seal_driver: $seal, heal_build: $heal_build,
          heal_commit: $heal_rev, passes: $passes, repetitions: $reps, min_time_s: $min_time,
          time_field: $tf, statistic: "lowest per-pass median", pinning: $pin, columns: $cols},
   rows: [$rows[0][] as $r
     | (cell("seal"; $r.seal_case)) as $s
     | {op: $r.op, label: $r.label, log_n: $r.log_n, n: (pow(2; $r.log_n) | round),
        seal_case: $r.seal_case, heal_case: $r.heal_case, seal: $s}
     + ([$cols[] | select(. != "seal") as $c | (cell($c; $r.heal_case)) as $h
          | {("heal_" + $c): $h, ("ratio_" + $c): ratio($h; $s)}] | add // {})]}' >"$OUT/table.json"

jq -r '
  def grp: if test("^[0-9]{4,}$")
    then explode | reverse | [range(0; length; 3) as $i | .[$i:$i + 3] | reverse | implode] | reverse | join(",")
    else . end;
  def fix($d): (. * pow(10; $d) | round) as $t | pow(10; $d) as $s
    | "\($t / $s | floor).\(($t % $s) + $s | tostring | .[1:])";
  def num: if . >= 100 then round | tostring | grp elif . >= 10 then fix(1) else fix(2) end;
  def t: if . == null then "n/a" else (.us | num) + (if .unconfirmed then "*" else "" end) end;
  def r: if . == null then "n/a" else fix(2) end;
  .meta as $x | ($x.columns | map(select(. != "seal"))) as $hc
  | "# SEAL 4.4.3 vs HEAL, single thread (\($x.date))",
    "",
    "CPU: \($x.cpu) (AVX-512: \(if $x.avx512 == "" then "none" else $x.avx512 end)); pinning: \($x.pinning).",
    "SEAL driver: `\($x.seal_driver)`; HEAL build: `\($x.heal_build)` at \($x.heal_commit).",
    "\($x.passes) interleaved pass(es) x \($x.repetitions) repetitions of >= \($x.min_time_s) s; cell = lowest per-pass median of \($x.time_field), in µs; * = two fastest passes differ by > 15 %. ratio = HEAL / SEAL (< 1: HEAL faster). HEAL key switching: dnum = number of Q primes, one 60-bit special prime (SEAL'"'"'s shape).",
    "",
    "| op | N | SEAL µs" + ([$hc[] | " | HEAL \(.) µs | ratio \(.)/SEAL"] | join("")) + " |",
    "|---|---:|---:" + ([$hc[] | "|---:|---:"] | join("")) + "|",
    (.rows[] as $r
     | "| \($r.label) | 2^\($r.log_n) | \($r.seal | t)"
       + ([$hc[] as $c | " | \($r["heal_" + $c] | t) | \($r["ratio_" + $c] | r)"] | join("")) + " |")
  ' "$OUT/table.json" >"$OUT/table.md"

cat "$OUT/table.md"
echo
echo "wrote $OUT/table.md and $OUT/table.json (raw runs in $raw)"
