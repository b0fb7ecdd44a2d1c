"""The health watch on a joined lab machine: a fault at runtime taints it, recovery releases it.

Lab khwatch: one CPU control plane and one DGX H100. apply installs the node check, applies its
credential and issues the node its token; then the machine loses an NVLink while it runs
(``kubehaus lab fault``'s function) and the check, on its timer, sets the condition and the taint
within one interval; with the fault removed both clear after the profile's healthy runs. The
node holds no admin credential, its token is refused outside the policy, and a re-apply changes
nothing. The interval is the smallest the inventory allows (1 minute), so this test takes minutes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from bootstrap.health.verdict import UNHEALTHY_TAINT_KEY
from bootstrap.lab.runtime_faults import set_faults

from .lab_fixture import KUBECTL, Lab, apply_json, booted, on

pytestmark = pytest.mark.lab

WATCH_LAB = """\
name: khwatch
subnet: 198.18.37.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100}
"""
INTERVAL = 60  # seconds: interval_minutes 1
CLEAR_AFTER = 2  # healthy_runs_to_clear
SLACK = 45  # the timer's AccuracySec (30 s) and the run itself


def node(lab: Lab, name: str) -> dict[str, Any]:
    result = on(lab, "cp-1", f"{KUBECTL} get node {name} -o json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def health(found: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(condition status, reason, our taint's value) on a Node."""
    condition = next(
        (c for c in found["status"].get("conditions", []) if c["type"] == "KubehausHardwareHealthy"), {}
    )
    taint = next((t for t in found["spec"].get("taints") or [] if t["key"] == UNHEALTHY_TAINT_KEY), None)
    return condition.get("status"), condition.get("reason"), (taint or {}).get("value")


def wait_for(lab: Lab, wanted: Any, seconds: float, what: str) -> tuple[str | None, str | None, str | None]:
    deadline = time.monotonic() + seconds
    seen = []
    while True:
        state = health(node(lab, "dgx-1"))
        if not seen or seen[-1] != state:
            seen.append(state)
        if wanted(state):
            return state
        if time.monotonic() > deadline:
            journal = on(lab, "dgx-1", "journalctl -u kubehaus-health.service --no-pager | tail -20").stdout
            pytest.fail(f"{what}: not within {seconds:.0f} s; seen {seen}\n{journal}")
        time.sleep(5)


NODE_TOKEN_REQUEST = """
import json, ssl, sys, urllib.request
token = open('/etc/kubehaus/health/token').read().strip()
context = ssl.create_default_context(cafile='/etc/kubernetes/pki/ca.crt')
method, path, body = sys.argv[1], sys.argv[2], sys.argv[3]
request = urllib.request.Request(sys.argv[4] + path, data=body.encode() or None, method=method)
request.add_header('Authorization', 'Bearer ' + token)
request.add_header('Content-Type', 'application/merge-patch+json')
try:
    urllib.request.urlopen(request, context=context, timeout=20)
    print(200)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""


def as_node(lab: Lab, server: str, method: str, path: str, body: dict[str, Any] | None = None) -> str:
    script = NODE_TOKEN_REQUEST.replace("'", "'\"'\"'")
    payload = json.dumps(body) if body is not None else ""
    command = f"python3 -c '{script}' {method} {path} '{payload}' {server}"
    result = on(lab, "dgx-1", command)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_runtime_nvlink_fault_taints_the_node_and_recovery_releases_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for lab in booted(WATCH_LAB, tmp_path_factory):
        inventory = yaml.safe_load(lab.inventory.read_text())
        for profile in inventory["profiles"].values():
            profile["health_watch"] = {"interval_minutes": 1, "healthy_runs_to_clear": CLEAR_AFTER}
        path = lab.inventory.with_name("inventory-watch.yaml")
        path.write_text(yaml.safe_dump(inventory))
        code, report, stderr = apply_json(path)
        assert code == 0 and report["outcome"]["failed"] == [], stderr[-3000:]
        token_steps = {s["name"]: s["result"] for s in report["steps"] if s["step"] == "health token"}
        assert token_steps == {"cp-1": "done", "dgx-1": "done"}
        # the first report after the token arrived: healthy
        wait_for(lab, lambda s: s[0] == "True", 2 * INTERVAL + SLACK, "the first healthy report")

        set_faults(lab.spec.name, "dgx-1", ["nvlink-down"])
        _status, reason, taint = wait_for(
            lab, lambda s: s[0] == "False" and s[2] is not None, INTERVAL + SLACK, "the condition and taint"
        )
        assert "NVLINK_DOWN" in (reason or "").split(",") and taint == "NVLINK_DOWN"

        set_faults(lab.spec.name, "dgx-1", [])
        wait_for(
            lab, lambda s: s[0] == "True" and s[2] is None, CLEAR_AFTER * INTERVAL + 2 * SLACK, "release"
        )

        # no admin credential on the node: neither kubeadm's admin.conf nor its token anywhere there
        admin = on(lab, "cp-1", "grep -o 'token: .*' /etc/kubernetes/admin.conf").stdout.split()[-1]
        assert len(admin) > 16
        where = "/etc /var/lib /root /usr/lib/kubehaus"
        search = f"test ! -e /etc/kubernetes/admin.conf && grep -rlF -- '{admin}' {where}; echo rc=$?"
        found = on(lab, "dgx-1", search)
        assert found.stdout.strip().endswith("rc=1"), found.stdout  # grep found nothing
        config = json.loads(on(lab, "dgx-1", "cat /etc/kubehaus/health/config.json").stdout)
        server = config["api_server"]
        # the node's token: refused outside the policy and RBAC, allowed on its own Node
        assert as_node(lab, server, "GET", "/api/v1/nodes/dgx-1") == "200"
        assert as_node(lab, server, "PATCH", "/api/v1/nodes/cp-1", {"spec": {"unschedulable": True}}) == "403"
        label = {"metadata": {"labels": {"kubehaus.io/x": "y"}}}
        assert as_node(lab, server, "PATCH", "/api/v1/nodes/dgx-1", label) == "403"
        assert as_node(lab, server, "GET", "/api/v1/namespaces/kube-system/secrets") == "403"

        code, again, stderr = apply_json(path)
        assert code == 0 and again["outcome"]["failed"] == [], stderr[-3000:]
        assert {h: e.get("changes") for h, e in again["hosts"].items()} == {h: [] for h in again["hosts"]}
