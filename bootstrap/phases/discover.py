"""Phase ``discover``: each node's hardware topology and OS facts, in exactly one SSH command per node.

The command carries the probe and the controller's pynvml; the answer is validated by the
Topology model and saved as ``<state_dir>/topology/<host>.json`` for the phases after it.
"""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from deploys.cluster_state import parse_cluster
from deploys.node_state import parse_observed

from ..os_support.facts import OsFactsError
from ..phase_support.probe import probe_output, save_topology
from ..phase_support.queries import cluster_query, state_query
from ..phase_support.roles import first_control_plane
from ..runner import Phase, RideAlong, RunContext
from ..topology.discovery import ProbeError, probe_command
from ..topology.model import Topology


class DiscoverPhase(Phase):
    name = "discover"
    title = "Discover hardware topology"

    def __init__(self, read_state: bool = False) -> None:
        # apply: the same command also reads every file, package and unit kubehaus manages there
        self.read_state = read_state

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.connected())

    def run(self, ctx: RunContext) -> None:
        command = probe_command()
        if self.read_state:
            command = f"{state_query(ctx.inventory.spec).command()}; {command}"
            self._read_cluster(ctx)

        def discover(host: PyinfraHost) -> tuple[Topology, list[str]]:
            rides = ctx.ride_along.get(host.data.get("kubehaus_host"), [])
            return probe_output(host, "; ".join([*(r.command for r in rides), command]))

        for name, answer in ctx.on_connected_hosts(discover):
            if isinstance(answer, Exception):
                for ride in ctx.ride_along.pop(name, []):
                    ride.settle(answer.lines if isinstance(answer, ProbeError) else None)
                ctx.fail(self, name, str(answer))
                continue
            result, lines = answer
            for ride in ctx.ride_along.pop(name, []):
                ride.settle(lines)
            if self.read_state:
                ctx.observed[name] = parse_observed(lines)
            try:
                save_topology(ctx, name, result)
            except OsFactsError as exc:
                ctx.fail(self, name, f"its operating system cannot be read: {exc}")
                continue
            summary = (
                f"{ctx.os_facts[name].describe()}: {len(result.gpus)} GPU(s), {len(result.nics)} RDMA "
                f"NIC(s), {len(result.numa)} NUMA node(s)"
            )
            ctx.progress.host_done(self, name, True, summary)
        for rides in ctx.ride_along.values():  # hosts that gave no answer
            for ride in rides:
                ride.settle(None)
        ctx.ride_along.clear()

    @staticmethod
    def _read_cluster(ctx: RunContext) -> None:
        """The cluster read rides along on the first control plane (phases after trust it until a change)."""
        first = first_control_plane(ctx).name

        def settle(lines: list[str] | None) -> None:
            ctx.cluster_read = parse_cluster(lines) if lines is not None else None

        ride = RideAlong(cluster_query(ctx.inventory.spec).command(), settle)
        ctx.ride_along.setdefault(first, []).append(ride)
