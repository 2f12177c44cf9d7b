#!/usr/bin/env bash
# Portable-SIMD audit: HEAL is compiled for a baseline without AVX (x86-64-v2), and every AVX2 /
# AVX-512 kernel carries one of the HEAL_TARGET_* attributes (heal/math/simd.h), which put it in a
# section .text.heal_simd_*. This script disassembles every object file of a build and fails if
# any VEX (c4/c5) or EVEX (62) encoded instruction lies outside those sections: such an
# instruction would run without a CPU check and crash with SIGILL on CPUs that lack it.
#   tools/check_simd_isolation.sh [BUILD_DIR]      (default build/release)
# Skipped (exit 0) when the build is not x86-64, or was configured with HEAL_NATIVE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}

if [ "$(uname -m)" != x86_64 ]; then
  echo "check_simd_isolation: not x86-64, skipped"
  exit 0
fi
if grep -q '^HEAL_NATIVE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "check_simd_isolation: $build was built with HEAL_NATIVE=ON (runs only on its own CPU), skipped"
  exit 0
fi
mapfile -t objs < <(find "$build" -name '*.o' -path '*CMakeFiles*' | sort)
if [ ${#objs[@]} -eq 0 ]; then
  echo "check_simd_isolation: no object files under $build" >&2
  exit 1
fi

# Prints "object<TAB>section<TAB>function<TAB>instruction" for each VEX/EVEX instruction outside
# the kernel sections, and "kernels<TAB>N" with the number of instructions inside them.
audit() {
  objdump -d -w "$1" 2>/dev/null | awk -v obj="$1" -F'\t' '
    /^Disassembly of section / { sec = $0; sub(/^Disassembly of section /, "", sec); sub(/:$/, "", sec); next }
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
    NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
      n = split($2, b, " ")
      i = 1
      while (i <= n && (b[i] == "67" || b[i] == "2e" || b[i] == "3e" || b[i] == "26" || b[i] == "36" || b[i] == "64" || b[i] == "65")) i++
      if (i <= n && (b[i] == "c4" || b[i] == "c5" || b[i] == "62")) {
        if (sec ~ /^\.text\.heal_simd_/) kern++
        else printf "%s\t%s\t%s\t%s\n", obj, sec, fn, $3
      }
    }
    END { printf "kernels\t%d\n", kern + 0 }'
}
export -f audit

out=$(printf '%s\n' "${objs[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'audit "$1"' _ {})
kernels=$(printf '%s\n' "$out" | awk -F'\t' '$1 == "kernels" { s += $2 } END { print s + 0 }')
bad=$(printf '%s\n' "$out" | awk -F'\t' '$1 != "kernels" && NF == 4')
if [ -n "$bad" ]; then
  echo "check_simd_isolation: AVX/AVX-512 instructions outside the dispatched kernels:" >&2
  printf '%s\n' "$bad" | head -40 >&2
  echo "($(printf '%s\n' "$bad" | wc -l) instructions; mark the function with a HEAL_TARGET_* attribute and dispatch on simd_level())" >&2
  exit 1
fi
echo "check_simd_isolation: ${#objs[@]} object files, ${kernels} vector instructions, all inside .text.heal_simd_* kernels"
