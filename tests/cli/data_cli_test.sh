#!/usr/bin/env bash
# CLI acceptance checks for `heal data` on the real datasets (issue 2).
# Usage: data_cli_test.sh HEAL_BINARY SHARED_DATA_DIR
source "$(dirname "$0")/lib.sh" "$@" pneumoniamnist.npz

out=$("$heal" data info "$data/pneumoniamnist.npz")
echo "$out"
grep -Eq 'train +4708 +1x28x28 +1214 .*/ 3494 ' <<<"$out" || fail "pneumoniamnist train counts"
grep -Eq 'val +524 +1x28x28 +135 .*/ 389 ' <<<"$out" || fail "pneumoniamnist val counts"
grep -Eq 'test +624 +1x28x28 +234 .*/ 390 ' <<<"$out" || fail "pneumoniamnist test counts"

out=$("$heal" data info "$data/breastmnist.npz")
grep -Eq 'train +546 ' <<<"$out" && grep -Eq 'val +78 ' <<<"$out" && grep -Eq 'test +156 ' <<<"$out" || fail "breastmnist counts"

out=$("$heal" --data "$data" data info covid_ct)
echo "$out"
grep -Eq 'train +425 ' <<<"$out" && grep -Eq 'val +118 ' <<<"$out" && grep -Eq 'test +203 ' <<<"$out" || fail "covid_ct counts"

# JSON output parses and carries the counts.
"$heal" data info "$data/pneumoniamnist.npz" --json | grep -q '"count": 4708' || fail "json output"

# Dirichlet(0.5) partition: a per-hospital class table, reproducible for a seed, different for another.
a=$("$heal" data partition "$data/pneumoniamnist.npz" --hospitals 3 --scheme dirichlet:0.5 --seed 7)
b=$("$heal" data partition "$data/pneumoniamnist.npz" --hospitals 3 --scheme dirichlet:0.5 --seed 7)
c=$("$heal" data partition "$data/pneumoniamnist.npz" --hospitals 3 --scheme dirichlet:0.5 --seed 8)
echo "$a"
[ "$a" = "$b" ] || fail "partition not reproducible"
[ "$a" != "$c" ] || fail "partition ignores the seed"
grep -Eq '^ +total +1214 +3494 +4708' <<<"$a" || fail "partition totals"

# Missing data explains what to do.
if HEAL_DATA= "$heal" data info /nonexistent/pneumoniamnist.npz 2>err.txt; then fail "missing file accepted"; fi
cat err.txt; rm -f err.txt
echo "data CLI checks passed"
