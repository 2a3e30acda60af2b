#!/usr/bin/env bash
# Whole-process benchmark: `cmek-arm validate` over every Azure Verified Modules
# template in one call, side by side with Python's json.load merely parsing the
# same files (the issue's baseline), in the same run. Prints, for each, the best
# wall time of N runs and the peak RSS; with hyperfine installed, also the mean
# and standard deviation of N more runs each.
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
bin=${CARGO_TARGET_DIR:-target}/release/cmek-arm
files=("$corpus"/*.json)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
python_cmd=(python3 benches/json_load.py "${files[@]}")
validate_cmd=("$bin" validate "${files[@]}")

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
echo -n "python json.load:      "; best "${python_cmd[@]}"
echo -n "cmek-arm validate:     "; best "${validate_cmd[@]}"
if command -v hyperfine >/dev/null; then
  # validate exits 1 (the corpus has error findings): -i keeps hyperfine going.
  quote() { printf '%q ' "$@"; }
  hyperfine -N -i --warmup 2 --runs "$runs" \
    -n "python json.load" "$(quote "${python_cmd[@]}")" \
    -n "cmek-arm validate" "$(quote "${validate_cmd[@]}") " 2>&1 |
    grep -E '^(Benchmark|  Time|  Range)'
fi
