# Shared start of the CLI shell checks. Usage, first line of a check:
#   source "$(dirname "$0")/lib.sh" "$@" <dataset file or folder the check needs>
# Sets: heal (the binary), data (the shared data directory), work (a scratch directory removed on
# exit); defines fail and json_number. Skips the check (exit 0) when the dataset is absent.
set -euo pipefail
heal=$1
data=$2
fail() { echo "FAIL: $*"; exit 1; }
# The number after "KEY": in JSON read from stdin (one key per line, as `--json` prints).
json_number() { grep "\"$1\"" | head -1 | sed 's/.*: *//; s/,$//'; }
if [ ! -e "$data/$3" ]; then echo "shared data not found at $data: skipping"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
