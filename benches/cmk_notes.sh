#!/usr/bin/env bash
# How many CMEK findings are notes ("cannot be decided") where validate runs as a
# new user would, without deployment context flags (issue 9's measure; notes
# handing an `existing` vault's settings to `check` are not counted):
#   1. every AVM template, no parameters file;
#   2. the AVM key-vault module with each parameters file in tests/fixtures/rules/avm
#      (--region, --sp-object-id, --key-suffix only);
#   3. every quickstart with its parameters file.
#
#   bash benches/cmk_notes.sh [path/to/cmek-arm]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus
if [ ! -d "$corpus/avm" ]; then
  echo "skipped: $corpus is absent"
  exit 0
fi
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-target}/release/cmek-arm
fi
sp=11111111-1111-1111-1111-111111111111
# CMK notes in a JSON report on stdin, leaving out those about vaults the template
# declares `existing` (issue 12: the rules that `check` confirms live, by design).
notes() {
  python3 -c 'import json,sys; print(sum(1 for f in json.load(sys.stdin)["findings"] if f["rule"].startswith("CMK") and f["level"] == "note" and "declared `existing`" not in f["message"]))'
}
avm=$("$bin" validate "$corpus"/avm/*.json --format json 2>/dev/null | notes || true)
kv=0
for p in tests/fixtures/rules/avm/*.parameters.json; do
  n=$("$bin" validate "$corpus/avm/key-vault__vault.json" --parameters "$p" \
    --region eastus --sp-object-id "$sp" --key-suffix tidb --format json 2>/dev/null | notes || true)
  kv=$((kv + n))
done
qs=0
while IFS= read -r t; do
  args=("$t")
  [ -f "$(dirname "$t")/azuredeploy.parameters.json" ] && args+=(--parameters "$(dirname "$t")/azuredeploy.parameters.json")
  n=$("$bin" validate "${args[@]}" --format json 2>/dev/null | notes || true)
  qs=$((qs + n))
done < <(find "$corpus/quickstarts" -name azuredeploy.json | sort)
echo "CMK notes: AVM templates $avm, AVM key-vault module x $(ls tests/fixtures/rules/avm/*.parameters.json | wc -l) parameters files $kv, quickstarts $qs"
