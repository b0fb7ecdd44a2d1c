"""Phase ``discover``: each node's hardware topology, in exactly one SSH command per node.

The command carries the probe and the controller's pynvml; the answer is validated by the
Topology model and saved as ``<state_dir>/topology/<host>.json`` for the phases after it.
"""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from ..runner import Phase, RunContext
from ..topology.discovery import ProbeError, parse_probe_output, probe_command
from ..topology.model import Topology
from ..topology.shipping import NO_PYTHON_MESSAGE

# A real DGX answers in about a second; a node that takes minutes has a hung driver or disk, and
# must not hold up the discovery of the rest.
PROBE_TIMEOUT_SECONDS = 120


class DiscoverPhase(Phase):
    name = "discover"
    title = "Discover hardware topology"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.connected())

    def run(self, ctx: RunContext) -> None:
        command = probe_command()
        for name, result in ctx.on_connected_hosts(lambda host: probe_host(host, command)):
            if isinstance(result, Exception):
                ctx.fail(self, name, str(result))
                continue
            ctx.topologies[name] = result
            ctx.state_dir.write_json(ctx.state_dir.topology_file(name), result.model_dump(mode="json"))
            summary = (
                f"{len(result.gpus)} GPU(s), {len(result.nics)} RDMA NIC(s), {len(result.numa)} NUMA node(s)"
            )
            ctx.progress.host_done(self, name, True, summary)


def probe_host(host: PyinfraHost, command: str) -> Topology:
    """Run the probe on one node (one SSH command) and validate its answer."""
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
    if not ok:
        if NO_PYTHON_MESSAGE in stderr:
            raise ProbeError(stderr.replace("kubehaus: ", ""))
        raise ProbeError(f"probe failed: {stderr[-500:] or 'no error output'}")
    return parse_probe_output("\n".join(output.stdout_lines))
