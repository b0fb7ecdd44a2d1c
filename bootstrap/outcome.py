"""What an apply's run report adds up to, and its exit code (pure: the report is the only input).

Three outcomes an operator's pipeline must tell apart: converged with every node in the cluster;
converged, but the health gate held nodes out as its policy says (quarantined, or joined with a
NoSchedule taint under policy taint); and failed: anything that did not happen as asked (an aborted
run, a node that failed or could not be reached, a cluster step that failed: init, a join, an
add-on). A failure always wins: a run that failed anywhere never exits like one that converged.
"""

from __future__ import annotations

from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HELD_OUT = 0, 1, 2, 3
CONVERGED, HELD_OUT, FAILED = "converged", "converged, nodes held out", "failed"
MEMBER_STATES = ("joined", "member", "control plane")
EXIT_CODES_HELP = """\
exit codes:
  0  converged: every selected node is in the cluster, every cluster step succeeded
  3  converged, but the health gate held nodes out as its policy says (quarantined, or joined
     with a NoSchedule taint under policy taint); nothing failed
  1  something failed: the run aborted, a node failed a phase or was unreachable, or a cluster
     step (kubeadm init, a join, an add-on) failed or was not attempted
  2  usage or inventory error (nothing was contacted)
The run report's "outcome" says which, and why; its "steps" say how each cluster step went."""


def held_out_reason(entry: dict[str, Any]) -> str | None:
    """Why the health gate kept this node out (None: it did not)."""
    action = entry.get("health", {}).get("action")
    cluster = entry.get("cluster", "")
    if action == "quarantine" and cluster.startswith("quarantined"):
        return cluster
    if action == "taint" and cluster.startswith(MEMBER_STATES) and "tainted" in cluster:
        return cluster
    return None


def judge_apply(report: dict[str, Any]) -> dict[str, Any]:
    """The outcome of an apply report: result, exit code, what failed and who was held out."""
    failed: list[str] = []
    held: dict[str, str] = {}
    if report.get("aborted"):
        failed.append(f"aborted: {report['aborted']}")
    for name, entry in report.get("hosts", {}).items():
        if entry.get("status") != "ok":
            failed.append(f"{name}: failed in {entry.get('failed_phase')}: {entry.get('error')}")
            continue
        reason = held_out_reason(entry)
        if reason is not None:
            held[name] = reason
        elif not entry.get("cluster", "").startswith(MEMBER_STATES):
            failed.append(f"{name}: not in the cluster ({entry.get('cluster') or 'no join was attempted'})")
    for step in report.get("steps", []):
        if step["result"] in ("failed", "not attempted"):
            failed.append(
                f"{step['step']} {step['name']}: {step['result']}: {step.get('detail', '')}".rstrip(": ")
            )
    if failed:
        result, code = FAILED, EXIT_FAILED
    elif held:
        result, code = HELD_OUT, EXIT_HELD_OUT
    else:
        result, code = CONVERGED, EXIT_OK
    return {"result": result, "exit_code": code, "failed": failed, "held_out": held}
