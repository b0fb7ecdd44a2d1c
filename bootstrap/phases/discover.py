"""Phase ``discover``: each node's hardware topology, in exactly one SSH command per node.

The command carries the probe and the controller's pynvml; the answer is validated by the
Topology model and saved as ``<state_dir>/topology/<host>.json`` for the phases after it.
"""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from deploys.cluster_state import parse_cluster
from deploys.node_state import parse_observed

from ..runner import Phase, RideAlong, RunContext
from ..topology.discovery import ProbeError, parse_probe_output, probe_command
from ..topology.model import Topology
from ..topology.shipping import NO_PYTHON_MESSAGE
from .addons import cluster_query
from .node_roles import first_control_plane
from .state_check import state_query

# A real DGX answers in about a second; a node that takes minutes has a hung driver or disk, and
# must not hold up the discovery of the rest.
PROBE_TIMEOUT_SECONDS = 120


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
            ctx.topologies[name] = result
            ctx.state_dir.write_json(
                ctx.state_dir.topology_file(name), result.model_dump(mode="json"), indent=False
            )
            summary = (
                f"{len(result.gpus)} GPU(s), {len(result.nics)} RDMA NIC(s), {len(result.numa)} NUMA node(s)"
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
