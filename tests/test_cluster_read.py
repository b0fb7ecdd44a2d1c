"""The cluster read that rides in the first control plane's discovery command, and what trusts it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bootstrap.inventory import load_inventory
from bootstrap.lock import LockRecord, claim_answer, claim_command, this_run_record
from bootstrap.phase_support.artifacts import addon_manifests
from bootstrap.phases import addons as addons_phase
from bootstrap.phases.lock import LOCK_SECTION, LockPhase
from bootstrap.plan import Artifacts
from bootstrap.runner import LockClaim, RunContext, RunOptions
from bootstrap.state_dir import StateDir
from deploys.cluster_state import ClusterQuery, parse_cluster

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "inventory" / "dgx-h100-pod.yaml"

FAKE_KUBECTL = """#!/bin/sh
case "$*" in
  *"get nodes -o json"*) echo '{"items": [{"metadata": {"name": "cp-1"}}, {"metadata": {"name": "g"}}]}' ;;
  *"get --raw /version"*) echo '{"gitVersion": "v1.34.2"}' ;;
  *"apply --dry-run=server"*)
    for a in "$@"; do case $a in
      *changed*) echo "queue.scheduling.run.ai/$a configured (server dry run)" ;;
      *.yaml) echo "queue.scheduling.run.ai/$a unchanged (server dry run)" ;;
    esac; done ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"""
FAKE_HELM = """#!/bin/sh
case "$*" in
  *"list -A"*) echo '[{"name": "kai", "namespace": "kai-scheduler", "chart": "kai-scheduler-v0.12.0",'\
    '"status": "deployed"}, {"name": "kai", "namespace": "elsewhere", "chart": "kai-scheduler-v0.11.0"}]' ;;
  *"get values"*) echo '{"a": 1}' ;;
esac
"""


def read(query: ClusterQuery, tools: Path) -> list[str]:
    env = dict(os.environ, PATH=f"{tools}:{os.environ['PATH']}")
    command = f"{query.command()}; echo '{{\"probe\": true}}'"  # as in discovery: other output follows
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env).stdout.splitlines()


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    for name, text in {"kubectl": FAKE_KUBECTL, "helm": FAKE_HELM}.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return tmp_path


def test_one_command_reads_nodes_version_dry_runs_and_releases(tmp_path: Path, tools: Path) -> None:
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_text("apiVersion: v1\n")
    query = ClusterQuery(str(kubeconfig), ("/x/a.yaml", "/x/b.yaml"), (("kai", "kai-scheduler"),))
    seen = parse_cluster(read(query, tools))
    assert seen is not None
    assert set(seen.nodes or {}) == {"cp-1", "g"} and seen.version == "1.34.2"
    assert seen.pending == {"/x/a.yaml": [], "/x/b.yaml": []}  # one dry run of both: nothing to change
    release = seen.releases[("kai", "kai-scheduler")]
    assert release is not None and release["values"] == {"a": 1}
    # one listing of every namespace, kept to the release's own: what `helm -n kai-scheduler list` shows
    assert [r["chart"] for r in release["releases"]] == ["kai-scheduler-v0.12.0"]
    # one manifest with something to change: none is known in state, each step dry-runs its own
    changed = ClusterQuery(str(kubeconfig), ("/x/a.yaml", "/x/changed.yaml"))
    seen = parse_cluster(read(changed, tools))
    assert seen is not None and seen.pending == {}


def test_no_admin_kubeconfig_means_no_cluster(tmp_path: Path, tools: Path) -> None:
    query = ClusterQuery(str(tmp_path / "absent.conf"), ("/x/same.yaml",), (("kai", "kai-scheduler"),))
    seen = parse_cluster(read(query, tools))
    assert seen is not None and seen.nodes == {} and seen.pending == {} and seen.releases == {}


def test_a_read_cut_short_or_unreadable_is_not_trusted(tmp_path: Path, tools: Path) -> None:
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_text("")
    lines = read(ClusterQuery(str(kubeconfig), ("/x/same.yaml",)), tools)
    assert parse_cluster(lines[:-3]) is None  # no end marker: the connection broke
    broken = [line if not line.startswith('{"items"') else "{not json" for line in lines]
    seen = parse_cluster(broken)
    assert seen is not None and seen.nodes is None  # the phases then read the nodes themselves
    assert seen.pending == {"/x/same.yaml": []}
    # the sections' files could not be made (mktemp failed): nothing read, which is not "no cluster"
    seen = parse_cluster(["@@KUBEHAUS-CLUSTER end"])
    assert seen is not None and seen.nodes is None and seen.version is None


def test_the_reads_run_at_once(tmp_path: Path, tools: Path) -> None:
    """Each section is its own kubectl or helm process: they run in parallel, printed in order."""
    slow = tools / "kubectl"
    slow.write_text(FAKE_KUBECTL.replace("#!/bin/sh\n", "#!/bin/sh\nsleep 1\n"))
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_text("")
    query = ClusterQuery(str(kubeconfig), tuple(f"/x/same{i}.yaml" for i in range(4)))
    began = time.monotonic()
    seen = parse_cluster(read(query, tools))
    assert time.monotonic() - began < 2.5  # three one-second kubectl calls, not one after another
    assert (
        seen is not None
        and seen.version == "1.34.2"
        and set(seen.pending) == {f"/x/same{i}.yaml" for i in range(4)}
    )
    assert all(pending == [] for pending in seen.pending.values())


def test_the_read_covers_exactly_the_manifests_and_charts_the_addons_phase_applies(
    tmp_path: Path,
) -> None:
    inventory = load_inventory(EXAMPLE)
    ctx = context(tmp_path, dry_run=True)
    ctx.inventory = inventory
    # the manifests as the plan phase fetched them
    manifests = {m.url: b"kind: ConfigMap\n" for m in addon_manifests(inventory.spec)}
    ctx.artifacts = Artifacts({}, manifests=manifests)
    steps = addons_phase.AddonsPhase()._steps(ctx)
    query = addons_phase.cluster_query(inventory.spec)
    assert list(query.manifests) == [s.file.path for s in steps if isinstance(s, addons_phase.ManifestStep)]
    replaced = [
        (s.release, s.namespace) for s in steps if isinstance(s, addons_phase.RemovalStep) and s.release
    ]
    installed = [(s.chart.release, s.chart.namespace) for s in steps if isinstance(s, addons_phase.ChartStep)]
    assert list(query.releases) == [*replaced, *installed]  # the renamed DRA chart's old release too
    assert replaced == [("nvidia-dra-driver-gpu", "nvidia-dra-driver-gpu")]
    # the health check's credential, CNI, Dranet's DeviceClass, KAI's objects (Dranet v1.4 is a chart)
    assert len(query.manifests) == 4 and len(installed) == 3
    assert query.manifests[0] == "/etc/kubehaus/addons/kubehaus-health-credential.yaml"
    pruned = [s for s in steps if isinstance(s, addons_phase.RemovalStep) and s.kept_queues is not None]
    names = tuple(q.name for q in inventory.spec.addons.kai_scheduler.queues)
    assert query.queues and [s.kept_queues for s in pruned] == [names]  # the KAI queues it keeps


def test_the_add_ons_named_when_a_manifest_cannot_be_fetched_are_the_steps_own_titles(tmp_path: Path) -> None:
    """A failed fetch reports every add-on step as not attempted, by the titles the steps carry
    (built without the documents): the same as when the manifests are there, removals aside."""
    inventory = load_inventory(EXAMPLE)
    ctx = context(tmp_path, dry_run=True)
    ctx.inventory = inventory
    ctx.artifacts = Artifacts({}, manifests={})
    phase = addons_phase.AddonsPhase()
    with pytest.raises(OSError, match="not fetched"):
        phase._steps(ctx)
    titles = phase.enabled(ctx)
    ctx.artifacts = Artifacts(
        {}, manifests={m.url: b"kind: ConfigMap\n" for m in addon_manifests(inventory.spec)}
    )
    steps = phase._steps(ctx)
    assert titles == [s.title for s in steps if not isinstance(s, addons_phase.RemovalStep)]
    assert titles[0] == "health check credential" and titles[1].startswith("CNI ")
    assert "KAI queues and topology" in titles


def context(tmp_path: Path, dry_run: bool = False) -> RunContext:
    inventory = load_inventory(EXAMPLE)
    return RunContext(
        inventory=inventory,
        options=RunOptions(dry_run=dry_run),
        state_dir=StateDir(tmp_path / "state").ensure(),
        progress=Progress(),
        selected=inventory.select(None),
    )


class Progress:
    def __init__(self) -> None:
        self.done: list[tuple[str, bool, str]] = []

    def phase_started(self, phase: object, hosts: int) -> None:
        pass

    def host_done(self, phase: object, host: str, ok: bool, detail: str = "") -> None:
        self.done.append((host, ok, detail))

    def phase_finished(self, phase: object, seconds: float) -> None:
        pass


def test_the_read_is_trusted_until_the_run_changes_something(tmp_path: Path) -> None:
    seen = parse_cluster(["@@KUBEHAUS-CLUSTER end"])
    ctx = context(tmp_path)
    host = ctx.inventory.hosts[-1].name
    ctx.cluster_read = seen
    assert ctx.cluster_view() is seen
    ctx.hosts[host].changes = []
    assert ctx.cluster_view() is seen  # a host with nothing changed
    ctx.hosts[host].changes = ["os: sysctl drop-in"]
    assert ctx.cluster_view() is None
    ctx.hosts[host].changes = None
    ctx.hosts[host].phases_run = ["hooks:before-os"]  # a hook may have changed anything
    assert ctx.cluster_view() is None
    plan = context(tmp_path, dry_run=True)  # a plan changes nothing: its read holds throughout
    plan.cluster_read = seen
    plan.hosts[host].changes = ["os: sysctl drop-in"]
    assert plan.cluster_view() is seen


class FakeHost:
    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.commands: list[str] = []

    def run_shell_command(self, command: str, **_: object) -> tuple[bool, object]:
        self.commands.append(command)
        lines = self.answers.pop(0)
        return True, type("Output", (), {"stdout_lines": lines, "stderr_lines": []})()


def locked(tmp_path: Path, answers: list[list[str]]) -> tuple[RunContext, FakeHost]:
    """The claim as apply's discovery makes it: sent inside its command, nothing sent on its own."""
    ctx = context(tmp_path)
    host = FakeHost(answers)
    first = ctx.inventory.control_planes[0].name
    ctx.hosts[first].connection = host  # type: ignore[assignment]
    ctx.lock_claim = LockClaim(this_run_record())
    assert host.commands == []  # nothing sent yet: the acquire waits for discovery's command
    assert LOCK_SECTION in claim_command(ctx.lock_claim.record)
    return ctx, host


def settle(ctx: RunContext, lines: list[str] | None) -> None:
    """Discovery's command printed ``lines`` (None: no answer came); the lock phase after it decides."""
    assert ctx.lock_claim is not None
    ctx.lock_claim.answer = claim_answer(lines)
    LockPhase().run(ctx)


def test_the_lock_taken_inside_discoverys_command(tmp_path: Path) -> None:
    ctx, host = locked(tmp_path, [])
    settle(ctx, ["@@KUBEHAUS-CLUSTER end", LOCK_SECTION, "KUBEHAUS-LOCKED", f"{LOCK_SECTION}-end", "{}"])
    assert ctx.aborted is None and len(ctx.at_end) == 1 and host.commands == []
    ctx.at_end[0]()  # the release: the only other command of a no-op run on this host
    assert len(host.commands) == 1 and "rm -f" in host.commands[0]


def test_a_lock_held_by_another_apply_stops_the_run(tmp_path: Path) -> None:
    ctx, host = locked(tmp_path, [])
    other = LockRecord("bob@elsewhere (pid 7)", *[datetime.now(UTC).isoformat(timespec="seconds")] * 3)
    settle(ctx, [LOCK_SECTION, "KUBEHAUS-HELD", other.to_json(), f"{LOCK_SECTION}-end"])
    assert ctx.aborted is not None and "bob@elsewhere" in ctx.aborted and ctx.at_end == []
    assert host.commands == []


def test_no_answer_from_discovery_takes_the_lock_on_its_own(tmp_path: Path) -> None:
    stale = LockRecord("x@y (pid 1)", *[(datetime.now(UTC) - timedelta(hours=1)).isoformat()] * 3)
    ctx, host = locked(tmp_path, [["KUBEHAUS-HELD", stale.to_json()], ["KUBEHAUS-LOCKED"]])
    settle(ctx, None)
    assert len(host.commands) == 2  # the acquire, then the takeover of the stale lock
    assert ctx.aborted is None and len(ctx.at_end) == 1


def test_our_own_record_found_again_is_ours(tmp_path: Path) -> None:
    ctx, host = locked(tmp_path, [])
    assert ctx.lock_claim is not None
    command = claim_command(ctx.lock_claim.record)
    # the acquire ran but its answer was lost; asked again, the lock holds this run's own record
    ours = json.loads(command.split("printf '%s\\n' '", 1)[1].split("'", 1)[0])
    host.answers.append(["KUBEHAUS-HELD", LockRecord(**ours).to_json()])
    settle(ctx, None)
    assert ctx.aborted is None and len(ctx.at_end) == 1


def test_a_lost_connection_stops_the_run_before_any_change(tmp_path: Path) -> None:
    ctx, host = locked(tmp_path, [])

    def broken(command: str, **_: object) -> None:
        raise OSError("connection reset by peer")

    host.run_shell_command = broken  # type: ignore[method-assign]
    settle(ctx, None)
    assert ctx.aborted is not None and "connection reset" in ctx.aborted and ctx.at_end == []
