#!/usr/bin/env bash
# The quick start's main job, from a fresh machine. It installs kubehaus, then shows what this
# version does end to end: every shipped inventory validated offline, and one broken inventory
# reported with every located error at once. (Once the lab lands, this brings up simulated GPU
# machines and runs apply against them.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo
echo "== kubehaus validate inventory/*.yaml"
kubehaus validate inventory/*.yaml

echo
echo "== a broken inventory: every error at once, located (exit code 2 expected)"
set +e
kubehaus validate tests/inventories/broken/many-errors-at-once.yaml
code=$?
set -e
[ "$code" -eq 2 ] || { echo "expected exit code 2, got $code" >&2; exit 1; }

echo
echo "Next: point an inventory at your servers and run"
echo "  kubehaus facts YOUR-INVENTORY.yaml --trust-new-host-keys   # first contact records host keys"
