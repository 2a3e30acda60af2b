#!/usr/bin/env bash
# Whole-process benchmark: `cmek-arm validate` over every Azure Verified Modules
# template in one call, side by side with Python's json.load merely parsing the
# same files (the issue's baseline). Prints wall time (best of N) and peak RSS.
#
#   bash benches/validate_avm.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus/avm
if [ ! -d "$corpus" ]; then
  echo "skipped: $corpus is absent (it lives beside the repo in CI and on developer machines)"
  exit 0
fi
runs=${1:-10}
cargo build --release --quiet
bin=target/release/cmek-arm
files=("$corpus"/*.json)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

best() { # best wall time in ms of running "$@" $runs times; peak RSS of the last run in MB
  local best_ms=999999 rss=0
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    /usr/bin/time -o "$tmp" -f '%M' "$@" >/dev/null 2>&1 || true
    rss=$(tail -1 "$tmp")
    end=$(date +%s%N)
    local ms=$(( (end - start) / 1000000 ))
    (( ms < best_ms )) && best_ms=$ms
  done
  echo "$best_ms ms (best of $runs), peak RSS $(( rss / 1024 )) MB"
}

echo "files: ${#files[@]} ($(du -ch "${files[@]}" | tail -1 | cut -f1))"
echo -n "python json.load:      "; best python3 -c 'import json,sys
for p in sys.argv[1:]:
    with open(p, "rb") as f: json.load(f)' "${files[@]}"
echo -n "cmek-arm validate:     "; best "$bin" validate "${files[@]}"
