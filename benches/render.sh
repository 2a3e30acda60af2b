#!/usr/bin/env bash
# Whole-process timing of `cmek-arm render` (issue 2: "well under 10 ms"), with
# `cmek-arm --version` (process start-up alone) as the baseline in the same run.
# Two render cases: into a new directory (the issue's "Done when" command: three
# new files), and over existing files with --force (ext4 then starts writing the
# new data back at each rename, so a replacing write costs more).
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
      --tag env=prod)
"$bin" "${args[@]}" --out "$out/replace" >/dev/null   # fail early if the render itself fails
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 10 --runs "$runs" -N \
    --prepare "rm -rf $out/new" -n "render, new files" "$bin ${args[*]} --out $out/new" \
    --prepare true -n "render --force, replacing files" "$bin ${args[*]} --force --out $out/replace" \
    --prepare true -n "baseline: --version" "$bin --version"
else
  for case in new replace baseline; do
    total=0
    for _ in $(seq "$runs"); do
      rm -rf "$out/new"
      start=$(date +%s%N)
      case $case in
        new) "$bin" "${args[@]}" --out "$out/new" ;;
        replace) "$bin" "${args[@]}" --force --out "$out/replace" ;;
        baseline) "$bin" --version ;;
      esac >/dev/null
      end=$(date +%s%N)
      total=$(( total + end - start ))
    done
    echo "$case: mean $(( total / runs / 1000 )) µs over $runs runs"
  done
fi
