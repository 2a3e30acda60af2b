#!/usr/bin/env bash
# Whole-process timing of `cmek-arm render` (issue 2: "well under 10 ms"), with
# `cmek-arm --version` (process start-up alone) as the baseline in the same run.
# Usage: benches/render.sh [path/to/cmek-arm] [runs]  (default: target/release/cmek-arm,
# built first if missing; 300 runs). Uses hyperfine when installed, else a date +%s%N loop.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/cmek-arm}"
runs="${2:-300}"
if [[ ! -x "$bin" ]]; then
  cargo build --release --bin cmek-arm
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
args=(render --region eastus --vault-name kv-cmek-01 --key-name tidb-cmek-a1b2c3
      --sp-object-id 3f2504e0-4f89-41d3-9a0c-0305e82c3301 --allow-ip 203.0.113.0/24
      --tag env=prod --out "$out" --force)
"$bin" "${args[@]}" >/dev/null   # fail early if the render itself fails
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 10 --runs "$runs" -N -n render "$bin ${args[*]}" -n baseline "$bin --version"
else
  for cmd in render baseline; do
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do
      if [[ $cmd == render ]]; then "$bin" "${args[@]}"; else "$bin" --version; fi >/dev/null
    done
    end=$(date +%s%N)
    echo "$cmd: mean $(( (end - start) / runs / 1000 )) µs over $runs runs"
  done
fi
