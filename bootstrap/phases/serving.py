"""Phase ``serving``: after the add-ons (and the labels their DaemonSets select on), wait until each
serves, bounded by ``addons.serving_timeout_seconds``; a check still unmet then fails the run on the
first control plane, its message naming the add-on, the object and the node (phase_support/serving.py).

It reads the cluster with kubectl from the first control plane every few seconds and says what it
still waits for about every 20 seconds. A plan does not wait: nothing was installed.
"""

from __future__ import annotations

import json
import shlex
import time

import gevent
from pyinfra.api import Host as PyinfraHost

from ..phase_support.maintenance import MaintenanceError, kubectl
from ..phase_support.members import cluster_topologies
from ..phase_support.roles import control_plane_ready, first_control_plane
from ..phase_support.serving import DRANET_NAMESPACE, Expected, Observed, checked_tainted, problems, summary
from ..render import addons as render
from ..render.sources import kai_chart
from ..runner import Phase, RunContext

POLL_SECONDS, PROGRESS_SECONDS = 3, 20


def read(control_plane: PyinfraHost, key: str, namespace: str) -> list[str]:
    """One of Expected.reads() with kubectl, as JSON lines."""
    if key == "deployments":
        return kubectl(control_plane, f"get deployments -n {shlex.quote(namespace)} -o json")
    if key == "queues":
        return kubectl(control_plane, "get queues.scheduling.run.ai -o json")
    if key == "resourceslices":
        return kubectl(control_plane, "get resourceslices.resource.k8s.io -o json")
    return kubectl(control_plane, f"get pods -n {DRANET_NAMESPACE} -o json")  # dranet-pods


def observe(control_plane: PyinfraHost, wanted: Expected) -> Observed:
    observed = Observed()
    for key in wanted.reads():
        try:
            observed.items[key] = json.loads("\n".join(read(control_plane, key, wanted.kai_namespace or "")))[
                "items"
            ]
        except (MaintenanceError, ValueError, KeyError) as exc:
            observed.errors[key] = str(exc)
    return observed


def expected(ctx: RunContext) -> Expected:
    """From the inventory and the members' topologies: a node the health gate tainted is left out
    (the DaemonSets need not land there), as is one its own health check has tainted since (the
    taint as discovery read it), and one this run already failed (unreachable, or
    failed in an earlier phase: the run fails for it anyway, and waiting on it would say nothing)."""
    addons = ctx.inventory.spec.addons
    nodes = (ctx.cluster_read.nodes if ctx.cluster_read is not None else None) or {}
    members = {
        name: topology
        for name, (_host, topology) in cluster_topologies(ctx).items()
        if ctx.hosts[name].failure is None
        and (ctx.hosts[name].verdict is None or ctx.hosts[name].verdict.taint is None)
        and not checked_tainted(nodes.get(name))  # the node's own check tainted it since
    }
    kai = addons.kai_scheduler
    return Expected(
        kai_namespace=kai_chart(ctx.inventory.spec).namespace if kai.enabled else None,
        queues=tuple(d["metadata"]["name"] for d in render.kai_queues(kai)) if kai.enabled else (),
        gpu_nodes=tuple(sorted(n for n, t in members.items() if t.gpus))
        if addons.dra_gpu_driver.enabled
        else (),
        rdma_nodes=tuple(sorted(n for n, t in members.items() if t.nics)) if addons.dranet.enabled else (),
    )


class ServingPhase(Phase):
    name = "serving"
    title = "Check that the add-ons serve"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx) and not ctx.options.dry_run and bool(expected(ctx).reads())

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx).name
        control_plane = ctx.connection(first)
        wanted = expected(ctx)
        timeout = ctx.inventory.spec.addons.serving_timeout_seconds
        started = time.monotonic()
        said = started
        while True:
            unmet = problems(wanted, observe(control_plane, wanted))
            waited = time.monotonic() - started
            if not unmet:
                detail = f"{summary(wanted)} (after {waited:.0f}s)"
                ctx.progress.host_done(self, first, True, detail)
                # a check changes nothing: "in place" (a report's "done" means something changed)
                ctx.cluster_step("serving", "add-ons serve", first, "in place", detail)
                return
            text = "; ".join(f"{addon}: {', '.join(items)}" for addon, items in sorted(unmet.items()))
            if waited >= timeout:
                message = f"add-ons not serving after {timeout}s: {text}"
                ctx.fail(self, first, message)
                ctx.cluster_step("serving", "add-ons serve", first, "failed", message)
                return
            if time.monotonic() - said >= PROGRESS_SECONDS:
                said = time.monotonic()
                ctx.progress.host_done(self, first, True, f"waiting ({waited:.0f}s of {timeout}s): {text}")
            gevent.sleep(POLL_SECONDS)
