#!/usr/bin/env bash
# Time and peak memory of `cmek-arm validate` on templates built to exhaust a
# validator: the fixtures in tests/fixtures/hostile (each answered with the
# ARM004 finding of the bound it reaches; the test suite checks which) and
# three generated ones at ARM's 4 MB size limit. The bound to meet: any
# template of at most 4 MB within 2 s of CPU and 512 MB.
#
#   bash benches/hostile.sh            (or CMEK_ARM_BIN=path/to/cmek-arm to time another build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CMEK_ARM_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=$(realpath "${CARGO_TARGET_DIR:-target}")/release/cmek-arm
fi
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT

python3 - "$gen" <<'EOF'
import json, sys
out = sys.argv[1]
S = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
     "contentVersion": "1.0.0.0"}
def vault(name, **extra):
    return dict({"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01", "name": name,
                 "location": "[resourceGroup().location]",
                 "properties": {"tenantId": "[subscription().tenantId]", "sku": {"family": "A", "name": "standard"},
                                "enablePurgeProtection": True, "enableRbacAuthorization": True}}, **extra)
# 800 literal vaults with 5 KB of tags each: a 4 MB template within every ARM limit.
tags = {f"tag{i:03}": "v" * 40 for i in range(90)}
t = dict(S, resources=[vault(f"kv{i:04}", tags=tags) for i in range(800)])
json.dump(t, open(f"{out}/4mb-literal-vaults.json", "w"))
# 512 variables of 8 KB expressions each that build and copy arrays.
expr = "[length(concat(" + ", ".join(["range(0, 9000)"] * 480) + "))]"
t = dict(S, variables={f"v{i}": expr for i in range(512)}, resources=[],
         outputs={f"o{i}": {"type": "int", "value": f"[variables('v{i}')]"} for i in range(64)})
json.dump(t, open(f"{out}/4mb-heavy-expressions.json", "w"))
# Nested deployments, each copied 800 times, holding 4 MB of inline templates.
inner = dict(S, resources=[vault("[concat('kv', copyIndex())]", copy={"name": "v", "count": 800}, tags={f"t{i}": "x" * 30 for i in range(20)})])
dep = lambda i: {"type": "Microsoft.Resources/deployments", "apiVersion": "2025-04-01", "name": f"[concat('d{i}-', copyIndex())]",
                 "copy": {"name": f"d{i}", "count": 800},
                 "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "template": inner}}
t = dict(S, resources=[dep(i) for i in range(2400)])
json.dump(t, open(f"{out}/4mb-nested-copies.json", "w"))
EOF

times=$gen/time.txt
printf '%-32s %8s %8s %8s  %s\n' template bytes "CPU s" "peak MB" "exit"
for f in tests/fixtures/hostile/*.json "$gen"/*.json; do
  code=0
  /usr/bin/time -o "$times" -f '%U %S %M' "$bin" validate "$f" --format json >/dev/null 2>&1 || code=$?
  read -r user sys rss < <(tail -1 "$times")
  printf '%-32s %8s %8.2f %8d  %s\n' "$(basename "$f")" "$(wc -c <"$f")" \
    "$(echo "$user + $sys" | bc)" $(( rss / 1024 )) "$code"
done
