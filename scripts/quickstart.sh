#!/usr/bin/env bash
# The quick start's main job, from a fresh machine (as root): installs kubehaus, boots the lab's
# simulated GPU machines, validates the shipped inventories, and has kubehaus connect to them
# with strict host keys and report their facts. (Once apply lands, this applies the lab instead.)
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
echo "== kubehaus facts inventory/lab.yaml   (report saved under /var/lib/kubehaus/lab/kubehaus-lab/state/runs/)"
kubehaus facts inventory/lab.yaml

echo
echo "The lab stays up to explore: kubehaus lab ssh dgx-2, kubehaus lab status; remove it with: kubehaus lab down"
