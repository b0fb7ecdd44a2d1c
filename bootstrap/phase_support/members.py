"""The nodes that are or will be in the cluster, with their topology: what cluster-wide objects (the KAI
Topology, the serving checks) are computed over, the same in a limited run as in a full one."""

from __future__ import annotations

from ..inventory.models import Host
from ..runner import RunContext
from ..topology.model import Topology
from .roles import may_join


def cluster_topologies(ctx: RunContext) -> dict[str, tuple[Host, Topology]]:
    """Every node that is or will be in the cluster, with its topology: hosts outside --limit count
    too, with the topology saved by their last discovery, so a limited run never reshapes
    cluster-wide objects (nor checks less of them)."""
    found = {}
    for host in ctx.inventory.hosts:
        record = ctx.hosts[host.name]
        if record.verdict is not None and not may_join(ctx, host):
            continue
        topology = record.topology
        if topology is None:
            saved = ctx.state_dir.topology_file(host.name)
            if not saved.exists():
                continue
            topology = Topology.model_validate_json(saved.read_text())
        found[host.name] = (host, topology)
    return found
