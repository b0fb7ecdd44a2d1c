"""Which hosts each apply phase works on, decided from the inventory, topology and health verdicts."""

from __future__ import annotations

from ..inventory.models import Host
from ..plan import node
from ..runner import RunContext

JOINING_ACTIONS = ("join", "taint")


def connected_hosts(ctx: RunContext) -> list[Host]:
    names = set(ctx.connected())
    return [h for h in ctx.active() if h.name in names]


def hosts_to_deploy(ctx: RunContext) -> list[Host]:
    """Connected hosts the node-side deploys run on: all but those found already in their desired state."""
    return [h for h in connected_hosts(ctx) if not ctx.hosts[h.name].in_sync]


def is_gpu_host(ctx: RunContext, host: Host) -> bool:
    return node.is_gpu_host(ctx.inventory, host, ctx.hosts[host.name].topology)


def has_fabric_manager(ctx: RunContext, host: Host) -> bool:
    return node.has_fabric_manager(ctx.inventory, host, ctx.hosts[host.name].topology)


def first_control_plane(ctx: RunContext) -> Host:
    return ctx.inventory.control_planes[0]


def control_plane_ready(ctx: RunContext) -> bool:
    """The first control plane is connected and has not failed: the cluster phases can run."""
    first = first_control_plane(ctx)
    return first.name in ctx.connected() and not ctx.failed(first.name)


def may_join(ctx: RunContext, host: Host) -> bool:
    record = ctx.hosts[host.name]
    verdict = record.verdict
    return verdict is not None and verdict.action in JOINING_ACTIONS and record.failure is None
