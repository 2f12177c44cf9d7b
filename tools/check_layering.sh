#!/usr/bin/env bash
# Fails when a header or source includes a HEAL layer its layer may not use (docs/architecture.md),
# or when a quarantined dependency (libtorch, SQLite) leaks outside its folder.
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [core]="core"
  [math]="math core"
  [ckks]="ckks math core"
  [io]="io core"
  [nn]="nn io core"
  [he_infer]="he_infer ckks nn math core"
  [ledger]="ledger core"
  [fl]="fl ckks math ledger core"
)

bad=0
for layer in "${!allowed[@]}"; do
  for dir in "include/heal/$layer" "src/$layer"; do
    [ -d "$dir" ] || continue
    while IFS= read -r hit; do
      file=${hit%%:*}
      rest=${hit#*:}; line=${rest%%:*}
      used=$(sed -E 's/.*heal\/([a-z_]+)\/.*/\1/' <<<"$rest")
      if [[ " ${allowed[$layer]} " != *" $used "* ]]; then
        echo "layering: $file:$line: layer '$layer' may not include 'heal/$used/' (allowed: ${allowed[$layer]})"
        bad=1
      fi
    done < <(grep -rnE '#include[[:space:]]*[<"]heal/[a-z_]+/' "$dir" --include='*.h' --include='*.cpp' | sed -E 's/^([^:]+):([0-9]+):/\1:\2:/')
  done
done

# libtorch only in nn/torch.
while IFS= read -r hit; do
  echo "layering: $hit: libtorch may only be included under src/nn/torch or include/heal/nn/torch"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"](torch|ATen|c10)/' include src --include='*.h' --include='*.cpp' | grep -vE '^(src/nn/torch/|include/heal/nn/torch/)')

# SQLite only in ledger backends.
while IFS= read -r hit; do
  echo "layering: $hit: sqlite3.h may only be included under src/ledger/backends"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"]sqlite3\.h' include src --include='*.h' --include='*.cpp' | grep -vE '^src/ledger/backends/')

if [ $bad -ne 0 ]; then
  echo "layering check FAILED"
  exit 1
fi
echo "layering check passed"
