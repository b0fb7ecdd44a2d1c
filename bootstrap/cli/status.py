"""``kubehaus status``: the fleet as the cluster sees it, from the node-local health check."""

from __future__ import annotations

import argparse
import json
import sys

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_runner, load_or_report, register_host_verb

HELP = "show each node's hardware health as the cluster sees it (verdict, last check, findings, holds)"
DESCRIPTION = """\
Read every Node from the first control plane (one kubectl get nodes over SSH, with the admin
kubeconfig there; only that host is contacted) and show, per inventory host and any other node:
the health the node-local check last wrote (healthy, unhealthy, recovering, unknown, stale when
its last check is older than three intervals, not-reported, not-joined), the time of the last
check, its findings, the kubehaus.io/unhealthy taint or cordon it holds, other taints, and the
kubelet, container runtime, kernel and OS versions. Everything shown comes from the cluster; no
node is probed. Saved as <state_dir>/status.json (schema kubehaus.status/v1).
"""
EPILOG = """\
examples:
  kubehaus status inventory/lab.yaml
  kubehaus status site.yaml -o json | jq '.nodes[] | select(.health != "healthy") | .node'

exit codes: 0 read, every node healthy; 1 some node not healthy, or the cluster could not be
read; 2 usage or inventory error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    register_host_verb(verbs, "status", HELP, DESCRIPTION, EPILOG, run)


def run(args: argparse.Namespace) -> int:
    from ..health.fleet_status import status_table
    from ..phases import status_phases
    from ..phases.status import STATUS_FILE

    inventory = load_or_report(args.inventory)
    if inventory is None:
        return EXIT_USAGE
    if args.limit:
        print(
            "status reads the cluster from the first control plane only: --limit does not apply",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args.limit = [inventory.control_planes[0].name]  # the cluster is read from there, nothing else
    runner = build_runner(args, inventory, status_phases())
    if runner is None:
        return EXIT_USAGE
    path = runner.ctx.state_dir.root / STATUS_FILE
    path.unlink(missing_ok=True)  # a report left by an earlier run is never shown as this one's
    report = runner.run()
    if not report.ok or not path.exists():
        failures = [f"{n}: {e.get('error')}" for n, e in report.hosts.items() if e.get("status") != "ok"]
        print("could not read the cluster: " + ("; ".join(failures) or "no answer"), file=sys.stderr)
        return EXIT_FAILED
    status = json.loads(path.read_text())
    if args.output == "json":
        print(json.dumps(status, indent=2))
    else:
        from ..health.fleet_status import NodeStatus

        print(status_table([NodeStatus.model_validate(n) for n in status["nodes"]]), end="")
    return EXIT_OK if status["healthy"] else EXIT_FAILED
