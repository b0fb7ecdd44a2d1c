"""An apply killed with SIGKILL at a random point, 20 times, each followed by a plain re-apply.

Every re-apply must converge to exactly the state an uninterrupted run leaves: the checksum and
mode of every file under /etc, /var/lib/kubelet, /var/lib/kubehaus, /usr/local and /opt, every
package with its version, dpkg status and hold, the cluster objects and Helm releases in the stand-in
API server's store, and no apply lock left on the control plane.

The lab is the smallest that runs the whole stack: a control plane and one DGX H100 (driver, fabric
manager, containerd, kubelet, join, add-ons, labels). The kills are of two kinds:
- a first apply on machines booted afresh from the lab's base image (lab down and up: about 5 s);
- a re-apply with work to do: the inventory alternates between the lab's (A) and a changed one (B:
  another containerd version, kubelet reservations, a rack label, KAI queue quotas, Helm values).

Where it is killed: after a delay drawn uniformly between 0 and the measured duration of the same
uninterrupted apply in this lab, so kills fall across the whole run, inside operations as well as
between phases, in proportion to the time each step takes. The whole process group is killed (the
controller dies); what it started on the nodes runs on or dies with its SSH session, as it would.
The delays come from a seeded generator, as fractions of the measured duration: the seed is printed,
and ``KUBEHAUS_KILL_SEED=N`` replays the same fractions (the step one lands in varies a little with
the machine's load). A run that converges before its kill (a late fraction, a faster run) is not
counted: the next fraction is drawn.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bootstrap.health.watch import CONDITION_TYPE
from bootstrap.lab.machines import down, up
from bootstrap.lock import LOCK_FILE
from bootstrap.render.health_unit import STATE_DIR

from .lab_fixture import Lab, booted, on

pytestmark = pytest.mark.lab

KILL_LAB = """\
name: khkill
subnet: 198.18.27.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100, topology: {block: b1, rack: r1}}
"""
SEED_VARIABLE = "KUBEHAUS_KILL_SEED"
FIRST_APPLY_KILLS = 10
REAPPLY_KILLS = 10
API_STORE = "/var/lib/kubehaus-standin/apiserver/state.json"

# Files whose content is made afresh for every cluster or machine (keys, certificates, credentials):
# their presence and mode are compared, not their bytes.
PER_CLUSTER = {
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_ed25519_key.pub",
    "/etc/kubehaus/health/token",  # the node's health check token, issued for this cluster's Node
}
PER_CLUSTER_DIRECTORIES = ("/etc/kubernetes/pki/",)  # the cluster's CA, serving and etcd certificates
# Written by the node's own health check on its timer, not by apply: whether it has run yet when the
# state is read depends on the clock (its condition on the Node is left out below for that reason)
NODE_CHECK_STATE = f"{STATE_DIR}/"
MIRROR_KEYRING = "/etc/apt/keyrings/kubehaus-mirror.gpg"  # must be the current lab mirror's key
SERVER_METADATA = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")

# Run on each machine: every file's mode and checksum, every package, the holds, the API store, the lock.
SNAPSHOT = f"""
import hashlib, json, os, subprocess
files = {{}}
for top in ("/etc", "/var/lib/kubelet", "/var/lib/kubehaus", "/usr/local", "/opt"):
    for root, _, names in os.walk(top):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                files[path] = "link " + os.readlink(path)
            else:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                files[path] = oct(os.lstat(path).st_mode & 0o7777) + " " + digest
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split("\\n")
store = None
if os.path.exists({API_STORE!r}):
    with open({API_STORE!r}) as f:
        store = json.load(f)
print(json.dumps({{
    "files": files,
    "packages": out("dpkg-query", "-W", "-f=${{Package}} ${{Version}} ${{db:Status-Abbrev}}\\n"),
    "holds": out("apt-mark", "showhold"),
    "dpkg_updates": sorted(os.listdir("/var/lib/dpkg/updates")),
    "store": store,
    "lock": os.path.exists({LOCK_FILE!r}),
}}))
"""


def cluster_objects(store: dict | None) -> dict | None:
    """The API store without what the server makes per write (uids, versions, times) or per cluster."""
    if store is None:
        return None
    objects = {}
    for key, item in store["objects"].items():
        item = json.loads(json.dumps(item))
        for field in SERVER_METADATA:
            item.get("metadata", {}).pop(field, None)
        item.get("status", {}).get("nodeInfo", {}).pop("bootID", None)
        if "conditions" in item.get("status", {}):
            item["status"]["conditions"] = [
                c for c in item["status"]["conditions"] if c.get("type") != CONDITION_TYPE
            ]
        for reference in item.get("metadata", {}).get("ownerReferences", []):
            reference.pop("uid", None)  # the owner's uid, made per cluster like the object's own
        objects[key] = item
    releases = {
        key: {k: v for k, v in release.items() if k not in ("revision", "updated")}
        for key, release in store["releases"].items()
    }
    return {
        "objects": objects,
        "releases": releases,
        "kubelet_config": store["kubelet_config"],
        "version": store["version"],
        "endpoint": store["endpoint"],
    }


def machine_state(lab: Lab, machine: str) -> dict:
    result = on(lab, machine, f"python3 -c {shlex.quote(SNAPSHOT)}")
    assert result.returncode == 0, result.stderr
    raw = json.loads(result.stdout)
    keyring = (lab.paths.mirror / "kubehaus-archive-keyring.gpg").read_bytes()
    files = {}
    for path, entry in raw["files"].items():
        if path.startswith(NODE_CHECK_STATE):
            continue
        if path in PER_CLUSTER or path.startswith(PER_CLUSTER_DIRECTORIES):
            entry = entry.split(" ")[0]
        elif path == MIRROR_KEYRING:
            mode, digest = entry.split(" ")
            entry = f"{mode} {'the mirror key' if digest == hashlib.sha256(keyring).hexdigest() else digest}"
        files[path] = entry
    return {
        "files": files,
        "packages": raw["packages"],
        "holds": raw["holds"],
        "dpkg_updates": raw["dpkg_updates"],
        "cluster": cluster_objects(raw["store"]),
        "lock": raw["lock"],
    }


def lab_state(lab: Lab) -> dict:
    return {m.name: machine_state(lab, m.name) for m in lab.spec.machines}


def differences(expected: dict, actual: dict, where: str = "") -> list[str]:
    """Each path at which two states differ, with both values (short)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                found.append(f"{where}/{key}: missing (expected {str(expected[key])[:120]})")
            elif key not in expected:
                found.append(f"{where}/{key}: unexpected {str(actual[key])[:120]}")
            else:
                found += differences(expected[key], actual[key], f"{where}/{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and expected != actual:
        extra = [x for x in actual if x not in expected]
        missing = [x for x in expected if x not in actual]
        return [f"{where}: unexpected {str(extra)[:300]}, missing {str(missing)[:300]}"]
    return [] if expected == actual else [f"{where}: expected {str(expected)[:200]}, got {str(actual)[:200]}"]


@dataclass
class Applied:
    code: int
    seconds: float
    report: dict
    stderr: str


def apply(inventory: Path) -> Applied:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", str(inventory), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    return Applied(result.returncode, seconds, report, result.stderr)


FAILED_UNITS = (
    "for u in $(systemctl --failed --no-legend --plain | cut -d' ' -f1); do "
    'echo "== $u"; journalctl -u "$u" --no-pager -o short-precise | tail -n 25; done'
)


def failed_units(lab: Lab) -> str:
    """Each machine's failed units and the end of their journals, for a failure's message."""
    return "\n".join(f"-- {m.name}:\n{on(lab, m.name, FAILED_UNITS).stdout}" for m in lab.spec.machines)


def converged(lab: Lab, run: Applied, where: str) -> None:
    if run.code != 0 or run.report.get("outcome", {}).get("result") != "converged":
        pytest.fail(
            f"{where}: exit {run.code}: {run.report.get('aborted') or run.report.get('outcome')}\n"
            f"{run.stderr[-3000:]}\n{failed_units(lab)}"
        )


@dataclass
class Kill:
    delay: float
    step: str  # the last phase the killed apply had announced


def killed_apply(lab: Lab, inventory: Path, delay: float, log: Path, where: str) -> Kill | None:
    """Start an apply, SIGKILL its process group after ``delay`` seconds. None: it converged first
    (a delay near the end of the measured duration, on a run a little faster than that one)."""
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bootstrap", "apply", str(inventory), "-o", "json"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    phases = [line[3:] for line in log.read_text().splitlines() if line.startswith("== ")]
    if process.returncode == 0:
        return None
    if process.returncode != -signal.SIGKILL:
        pytest.fail(
            f"{where}: the apply ended (exit {process.returncode}) before its kill at {delay:.2f}s:\n"
            f"{log.read_text()[-3000:]}\n{failed_units(lab)}"
        )
    return Kill(delay, phases[-1] if phases else "(before the first phase)")


def changed_inventory(inventory: Path) -> Path:
    """Inventory B: each node deploy and each cluster step has work to do coming from A, and back.

    Values change; nothing is added: apply leaves a host label or a KAI queue that the inventory
    no longer names in the cluster, so B back to A would not reach A's state (see the README)."""
    data = yaml.safe_load(inventory.read_text())
    data.setdefault("versions", {})["containerd"] = "1.7.24"  # the mirror's other real containerd
    data["addons"]["dra_gpu_driver"] = {"compute_domains": True}
    queues = data["addons"]["kai_scheduler"]["queues"]
    queues[0]["resources"]["gpu"]["quota"] = 16
    queues[1]["resources"]["gpu"]["limit"] = 12
    dgx = next(h for h in data["hosts"] if h["name"] == "dgx-1")
    dgx["topology"]["rack"] = "r2"
    dgx["kubelet"] = {"system_reserved": {"cpu": "1", "memory": "2Gi"}}
    changed = inventory.with_name("inventory-b.yaml")
    changed.write_text(yaml.safe_dump(data, sort_keys=False))
    return changed


@pytest.fixture(scope="module")
def kill_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(KILL_LAB, tmp_path_factory)


def reboot_fresh(lab: Lab) -> None:
    """Machines booted anew from the base image, a new mirror key and cluster state: a first apply."""
    down(lab.spec.name, log=lambda _m: None)
    up(lab.spec, inventory_out=lab.inventory, log=lambda _m: None)


def test_an_apply_killed_anywhere_converges_on_the_next(kill_lab: Lab, tmp_path: Path) -> None:
    lab, started = kill_lab, time.monotonic()
    seed = int(os.environ.get(SEED_VARIABLE) or random.SystemRandom().randrange(2**32))
    print(f"\ninterrupted-run seed: {seed} (replay with {SEED_VARIABLE}={seed})")
    rng = random.Random(seed)
    a, b = lab.inventory, changed_inventory(lab.inventory)

    first = apply(a)  # the uninterrupted runs: their end states are what every kill must reach
    converged(lab, first, f"seed {seed}, the uninterrupted first apply")
    want = {a: lab_state(lab)}
    to_b = apply(b)
    converged(lab, to_b, f"seed {seed}, the uninterrupted A->B")
    want[b] = lab_state(lab)
    back = apply(a)
    converged(lab, back, f"seed {seed}, the uninterrupted B->A")
    assert differences(want[a], lab_state(lab)) == [], "B back to A does not reach A's state"
    print(f"uninterrupted: first {first.seconds:.1f}s, A->B {to_b.seconds:.1f}s, B->A {back.seconds:.1f}s")

    kills: list[tuple[str, Kill]] = []
    at, attempts = a, 0  # the inventory the lab is converged to
    while len(kills) < FIRST_APPLY_KILLS + REAPPLY_KILLS:
        attempts += 1
        assert attempts <= 2 * (FIRST_APPLY_KILLS + REAPPLY_KILLS), "too many applies ended before their kill"
        if len(kills) < FIRST_APPLY_KILLS:
            reboot_fresh(lab)
            target, kind, window = a, "first apply", first.seconds
        else:  # from A, where the last first apply converged: to B, back to A, ...
            target = b if at == a else a
            kind = "re-apply A->B" if target == b else "re-apply B->A"
            window = to_b.seconds if target == b else back.seconds
        fraction = rng.random()
        where = f"seed {seed}, kill {len(kills) + 1} ({kind})"
        kill = killed_apply(lab, target, fraction * window, tmp_path / f"killed-{attempts}.log", where)
        if kill is None:
            print(f"        {kind}: converged before its kill at {fraction:.0%} of {window:.1f}s; again")
            at = target
            continue
        number = len(kills) + 1
        print(f"kill {number:2}: {kind}, SIGKILL at {kill.delay:5.2f}s ({fraction:4.0%}), in '{kill.step}'")
        kills.append((kind, kill))
        again = apply(target)
        converged(lab, again, f"{where} at {kill.delay:.2f}s in '{kill.step}', its re-apply")
        at = target
        state = lab_state(lab)
        assert differences(want[target], state) == [], (
            f"seed {seed}, kill {number} ({kind} at {kill.delay:.2f}s in '{kill.step}'): "
            "the re-apply did not reach the uninterrupted state"
        )
        assert not any(machine["lock"] for machine in state.values())
    print(
        f"{len(kills)} kills and re-applies in {attempts} attempts, {time.monotonic() - started:.0f}s in all"
    )
    steps = {kill.step for _, kill in kills}
    assert len(steps) >= 4, f"the kills fell in too few steps to mean much: {sorted(steps)}"
