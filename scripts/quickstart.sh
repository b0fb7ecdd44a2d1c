#!/usr/bin/env bash
# The quick start's main job, from a fresh machine (as root): installs kubehaus, boots the lab's
# simulated GPU machines, validates the shipped inventories, discovers every machine's GPU/NVLink/
# NUMA topology and runs the health gate, ending in its verdict report. (Once apply lands, this
# applies the lab instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo
echo "== kubehaus lab up   (the default lab: cp-1, dgx-1, dgx-2 with a down NVLink, l40s-1)"
if kubehaus lab status --name kubehaus-lab >/dev/null 2>&1; then
    echo "the lab is already up; reusing it"
else
    kubehaus lab up
fi
kubehaus lab status --name kubehaus-lab

echo
echo "== kubehaus validate inventory/*.yaml"
kubehaus validate inventory/*.yaml

echo
echo "== kubehaus discover inventory/lab.yaml   (one SSH command per machine; topologies saved under the lab's state dir)"
kubehaus discover inventory/lab.yaml --limit dgx-2,l40s-1

echo
echo "== kubehaus verify inventory/lab.yaml   (the health gate; dgx-2 has a down NVLink and is quarantined)"
set +e
kubehaus verify inventory/lab.yaml
code=$?
set -e
[ "$code" -eq 1 ] || { echo "expected exit code 1 (dgx-2 unhealthy), got $code" >&2; exit 1; }

echo
echo "Report: /var/lib/kubehaus/lab/kubehaus-lab/state/health.json (kubehaus verify -o json prints it)."
echo "The lab stays up to explore: kubehaus lab ssh dgx-2, kubehaus lab status; remove it with: kubehaus lab down"
