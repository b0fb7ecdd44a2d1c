"""Probe a node, keep its topology, judge it: the sequence discovery, rediscovery and an upgrade's
health re-check share (written once, here)."""

from __future__ import annotations

from datetime import UTC, datetime

from pyinfra.api import Host as PyinfraHost

from ..health.expectations import expectations_for
from ..health.rules import evaluate
from ..health.verdict import Verdict, decide, health_report, unknown
from ..inventory.models import Host
from ..os_support.facts import facts_of
from ..runner import RunContext
from ..topology.discovery import ProbeError, parse_probe_output, probe_command
from ..topology.model import Topology
from ..topology.shipping import NO_PYTHON_MESSAGE

# A real DGX answers in about a second; a node that takes minutes has a hung driver or disk, and
# must not hold up the discovery of the rest.
PROBE_TIMEOUT_SECONDS = 120


def probe_host(host: PyinfraHost, command: str) -> Topology:
    """Run the probe on one node (one SSH command) and validate its answer."""
    return probe_output(host, command)[0]


def probe_output(host: PyinfraHost, command: str) -> tuple[Topology, list[str]]:
    """The probe's validated answer, and every line the command printed (a state read before it)."""
    try:
        ok, output = host.run_shell_command(
            command, print_output=False, print_input=False, _timeout=PROBE_TIMEOUT_SECONDS
        )
    except TimeoutError:
        raise ProbeError(
            f"the probe did not finish within {PROBE_TIMEOUT_SECONDS} s: a hung NVML call or "
            "driver? Check `nvidia-smi` and the kernel log on the node"
        ) from None
    stderr = "\n".join(output.stderr_lines).strip()
    lines = list(output.stdout_lines)
    if not ok:
        if NO_PYTHON_MESSAGE in stderr:
            raise ProbeError(stderr.replace("kubehaus: ", ""), lines)
        raise ProbeError(f"probe failed: {stderr[-500:] or 'no error output'}", lines)
    try:
        return parse_probe_output("\n".join(lines)), lines
    except ProbeError as exc:
        raise ProbeError(str(exc), lines) from None


def save_topology(ctx: RunContext, name: str, topology: Topology) -> None:
    """The host's topology and OS facts for the phases after this one, and the topology in the state
    directory for later runs. Raises OsFactsError (nothing kept) where its OS facts cannot be read."""
    record = ctx.hosts[name]
    record.os_facts = facts_of(topology.os)
    record.topology = topology
    ctx.state_dir.write_json(
        ctx.state_dir.topology_file(name), topology.model_dump(mode="json"), indent=False
    )


def judge(ctx: RunContext, host: Host) -> Verdict:
    """The host's verdict from what discovery saw (``unknown`` if it saw nothing); kept in ctx."""
    inventory = ctx.inventory
    policy = inventory.health_policy_of(host)
    record = ctx.hosts[host.name]
    topology = record.topology
    if topology is None:
        failure = record.failure
        reason = f"{failure.phase}: {failure.message}" if failure else "not discovered"
        verdict = unknown(host.name, policy, reason)
    else:
        first_gpu = topology.gpus[0].name if topology.gpus else None
        expected = expectations_for(inventory.profile_of(host), inventory.spec.health.thresholds, first_gpu)
        verdict = decide(host.name, evaluate(topology, expected), policy)
    record.verdict = verdict
    return verdict


def verdicts(ctx: RunContext) -> list[Verdict]:
    """Every verdict of the run, in inventory order."""
    return [record.verdict for record in ctx.hosts.values() if record.verdict is not None]


def write_health_report(ctx: RunContext) -> None:
    report = health_report(ctx.inventory.name, datetime.now(UTC).isoformat(timespec="seconds"), verdicts(ctx))
    ctx.state_dir.write_json(ctx.state_dir.root / "health.json", report)


def rejudge(ctx: RunContext, name: str, topology: Topology) -> Verdict:
    """A fresh probe's answer kept, judged, and the health report rewritten with its verdict."""
    save_topology(ctx, name, topology)
    verdict = judge(ctx, ctx.inventory.host(name))
    write_health_report(ctx)
    return verdict


def probe_and_judge(ctx: RunContext, name: str) -> tuple[Topology, Verdict]:
    """Probe one host again (one SSH command), then :func:`rejudge` it."""
    topology = probe_host(ctx.connection(name), probe_command())
    return topology, rejudge(ctx, name, topology)
