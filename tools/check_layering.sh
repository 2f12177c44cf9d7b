#!/usr/bin/env bash
# Fails when a header or source includes a HEAL layer its layer may not use (docs/architecture.md),
# or when a quarantined dependency (libtorch, SQLite, the EVM backend and its libraries) leaks outside
# its folder.
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [core]="core"
  [math]="math core"
  [smpc]="smpc math core"
  [ckks]="ckks math core"
  [io]="io core"
  [deid]="deid core"
  [nn]="nn io core"
  [he_infer]="he_infer ckks nn math core"
  [he_train]="he_train ckks math core"
  [ledger]="ledger core"
  [fl]="fl smpc ckks math ledger core"
  [net]="net fl core"
  [apps]="apps he_train he_infer smpc fl ledger nn io ckks math core"
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

# The EVM backend (heal_ledger_evm) is quarantined like libtorch: besides its own folder, only the
# URI opener (src/ledger/open, heal_ledger_open, itself linked only by front ends), the CLI, a node,
# tests and fuzz targets include or link it; fl and every other layer see only the Ledger interface.
front_ends='cli/|src/node/|node/|tests/|fuzz/|examples/'
# heal_apps_fl (src/apps/fl: the simulated federation behind `heal fl simulate` and `heal demo`) and
# heal_apps_ensemble (src/apps/ensemble: `heal fl ensemble simulate`) open ledgers by URI and deploy the
# contract, so they count as front ends; in turn, only front ends may link them (checked below), which
# keeps the EVM client and the opener quarantined.
fe_pipelines='src/apps/fl/|src/apps/ensemble/'
evm_users="^(src/ledger/backends/evm/|include/heal/ledger/backends/evm|src/ledger/open/|$front_ends|$fe_pipelines)"
while IFS= read -r hit; do
  echo "layering: $hit: the EVM backend may only be included by ledger/open, cli (or a node), tests and fuzz targets"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"](heal/)?ledger/backends/evm' include src cli tests fuzz \
           --include='*.h' --include='*.cpp' 2>/dev/null | grep -vE "$evm_users")
# Who links a quarantined target (CMake comments ignored).
cmake_links() {
  grep -rnE "$1" --include=CMakeLists.txt --include='*.cmake' --exclude-dir=build --exclude-dir=node_modules \
    --exclude-dir=.git . 2>/dev/null | sed 's|^\./||' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#'
}
while IFS= read -r hit; do
  echo "layering: $hit: only ledger/open, cli (or a node), tests and fuzz targets may link heal_ledger_evm"
  bad=1
done < <(cmake_links 'heal_ledger_evm|heal::ledger_evm' \
           | grep -vE "^(src/ledger/backends/evm/|src/ledger/open/|$front_ends|$fe_pipelines)")
while IFS= read -r hit; do
  echo "layering: $hit: heal_ledger_open links every backend: only front ends (cli, a node, tests) may link it"
  bad=1
done < <(cmake_links 'heal_ledger_open|heal::ledger_open' | grep -vE "^(src/ledger/open/|$front_ends|$fe_pipelines)")
while IFS= read -r hit; do
  echo "layering: $hit: heal_apps_fl opens ledgers by URI (EVM client included): only front ends may link it"
  bad=1
done < <(cmake_links 'heal_apps_fl|heal::apps_fl' | grep -vE "^($front_ends|$fe_pipelines)")
while IFS= read -r hit; do
  echo "layering: $hit: heal_apps_ensemble deploys the EVM contract: only front ends may link it"
  bad=1
done < <(cmake_links 'heal_apps_ensemble|heal::apps_ensemble' | grep -vE "^($front_ends|$fe_pipelines)")

# GDCM (DICOM de-identification) only in src/deid; heal_deid linked only by front ends and its tests.
while IFS= read -r hit; do
  echo "layering: $hit: GDCM headers may only be included under src/deid"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"]gdcm[A-Z]' include src cli --include='*.h' --include='*.cpp' \
           | grep -vE '^src/deid/')
while IFS= read -r hit; do
  echo "layering: $hit: only cli (or a node), tests and fuzz targets may link heal_deid (GDCM)"
  bad=1
done < <(cmake_links 'heal_deid|heal::deid|gdcmMSFF' | grep -vE "^(src/deid/|$front_ends)")

# Crypto++ only in the EVM backend; libsecp256k1 only in ledger identities and the EVM backend.
while IFS= read -r hit; do
  echo "layering: $hit: Crypto++ may only be included under src/ledger/backends/evm"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"]cryptopp/' include src cli --include='*.h' --include='*.cpp' \
           | grep -vE '^src/ledger/backends/evm/')
while IFS= read -r hit; do
  echo "layering: $hit: libsecp256k1 may only be included by src/ledger/identity.cpp and src/ledger/backends/evm"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"]secp256k1' include src cli --include='*.h' --include='*.cpp' \
           | grep -vE '^(src/ledger/identity\.cpp|src/ledger/backends/evm/)')

# gRPC and protobuf only in the network transport (src/net/grpc, heal_net_grpc), which front ends (cli, a
# node), tests and fuzz targets link; fl and every other layer see only fl::Transport.
while IFS= read -r hit; do
  echo "layering: $hit: gRPC / protobuf headers may only be included under src/net/grpc (and tests)"
  bad=1
done < <(grep -rnE '#include[[:space:]]*[<"](grpc|grpcpp|google/protobuf)/|#include[[:space:]]*[<"][a-z_]+\.(grpc\.)?pb\.h' \
           include src cli --include='*.h' --include='*.cpp' | grep -vE '^src/net/grpc/')
while IFS= read -r hit; do
  echo "layering: $hit: only cli (or a node), tests and fuzz targets may link heal_net_grpc (gRPC)"
  bad=1
done < <(cmake_links 'heal_net_grpc|heal::net_grpc|gRPC::|protobuf::' \
           | grep -vE "^(CMakeLists\.txt:[0-9]+:.*(option|TARGET gRPC|heal_net_grpc\))|src/net/grpc/|$front_ends)")

if [ $bad -ne 0 ]; then
  echo "layering check FAILED"
  exit 1
fi
echo "layering check passed"
