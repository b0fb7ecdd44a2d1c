"""Phase ``discover``: each node's hardware topology and OS facts, in exactly one SSH command per node.

The command carries the probe and the controller's pynvml; the answer is validated by the
Topology model and saved as ``<state_dir>/topology/<host>.json`` for the phases after it.
"""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from deploys.cluster_state import parse_cluster
from deploys.node_state import parse_observed

from ..lock import claim_answer, claim_command, this_run_record
from ..os_support.facts import OsFactsError
from ..phase_support.probe import probe_output, save_topology
from ..phase_support.queries import cluster_query, state_query
from ..phase_support.roles import first_control_plane
from ..runner import LockClaim, Phase, RunContext
from ..topology.discovery import ProbeError, probe_command
from ..topology.model import Topology


class DiscoverPhase(Phase):
    name = "discover"
    title = "Discover hardware topology"

    def __init__(self, read_state: bool = False, claim_lock: bool = False) -> None:
        # apply: the same command also reads every file, package and unit kubehaus manages there, and
        # on the first control plane the cluster and (claim_lock) the apply lock's acquire, decided by
        # the lock phase after this one: a no-op re-run costs no round trip of its own for either
        self.read_state = read_state
        self.claim_lock = claim_lock

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.connected())

    def run(self, ctx: RunContext) -> None:
        command = probe_command()
        first = first_control_plane(ctx).name
        rides: list[str] = []  # what rides along in the first control plane's command, before the probe
        if self.claim_lock and not ctx.options.dry_run and first in ctx.connected():
            ctx.lock_claim = LockClaim(this_run_record())
            rides.append(claim_command(ctx.lock_claim.record))
        if self.read_state:
            command = f"{state_query(ctx.inventory.spec).command()}; {command}"
            rides.append(cluster_query(ctx.inventory.spec).command())

        def discover(host: PyinfraHost) -> tuple[Topology, list[str]]:
            mine = rides if host.data.get("kubehaus_host") == first else []
            return probe_output(host, "; ".join([*mine, command]))

        answered: list[str] | None = None  # every line the first control plane's command printed
        for name, answer in ctx.on_connected_hosts(discover):
            if isinstance(answer, Exception):
                if name == first and isinstance(answer, ProbeError):
                    answered = answer.lines
                ctx.fail(self, name, str(answer))
                continue
            result, lines = answer
            if name == first:
                answered = lines
            if self.read_state:
                ctx.hosts[name].observed = parse_observed(lines)
            try:
                save_topology(ctx, name, result)
            except OsFactsError as exc:
                ctx.fail(self, name, f"its operating system cannot be read: {exc}")
                continue
            summary = (
                f"{ctx.hosts[name].os_facts.describe()}: {len(result.gpus)} GPU(s), {len(result.nics)} RDMA "
                f"NIC(s), {len(result.numa)} NUMA node(s)"
            )
            ctx.progress.host_done(self, name, True, summary)
        if ctx.lock_claim is not None:
            ctx.lock_claim.answer = claim_answer(answered)
        if self.read_state:
            # the phases after trust it until the run changes something (ctx.cluster_view)
            ctx.cluster_read = parse_cluster(answered) if answered is not None else None
