"""The quick start's claims, checked (scripts/quickstart.sh calls this; tests call the functions).

Each check reads what a command left (its exit code, its JSON run report, ``helm list -o json``) and
returns the problems it found; none means the claim holds. A claim is about success, never only
about the absence of changes: "0 changes" over an add-on that was never installed is a failure.

    python -m bootstrap.quickstart first-apply CODE REPORT.json
    python -m bootstrap.quickstart second-apply CODE REPORT.json
    python -m bootstrap.quickstart releases INVENTORY HELM-LIST.json

Exit status 0 when the claim holds; 1 with a message naming the claim and every problem.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .outcome import EXIT_HELD_OUT, HELD_OUT, judge_apply

CLAIMS = {
    "first-apply": "the first apply converges with dgx-2 held out by the health gate, and nothing failed",
    "second-apply": "the second apply changes nothing, and nothing failed",
    "releases": "helm lists each add-on release at its pinned version",
}


def _held_out_run(code: int, report: dict[str, Any]) -> list[str]:
    """A converged run with nodes held out: exit code, the recorded outcome and our own judgement agree."""
    problems = []
    judged = judge_apply(report)  # judged again from the report's facts, not taken from its outcome
    if code != EXIT_HELD_OUT:
        problems.append(f"apply exited {code}, not {EXIT_HELD_OUT} (converged, nodes held out)")
    recorded = report.get("outcome") or {}
    if recorded.get("exit_code") != code:
        problems.append(
            f"the report's outcome says exit code {recorded.get('exit_code')}, apply exited {code}"
        )
    problems += [f"failed: {failure}" for failure in judged["failed"]]
    if judged["result"] != HELD_OUT and not judged["failed"]:
        problems.append(f"outcome {judged['result']!r}: no node was held out, the lab holds dgx-2 out")
    if "dgx-2" not in judged["held_out"]:
        problems.append("dgx-2 was not held out by the health gate")
    steps = report.get("steps", [])
    kinds = {step["step"] for step in steps}
    for wanted in ("init", "join", "add-on"):
        if wanted not in kinds:
            problems.append(f"the report records no {wanted} step")
    return problems


def check_first_apply(code: int, report: dict[str, Any]) -> list[str]:
    return _held_out_run(code, report)


def check_second_apply(code: int, report: dict[str, Any]) -> list[str]:
    problems = _held_out_run(code, report)
    for name, entry in report.get("hosts", {}).items():
        if entry.get("changes"):
            problems.append(f"{name} changed: {', '.join(entry['changes'])}")
    problems += [
        f"{s['step']} {s['name']} changed something" for s in report.get("steps", []) if s["result"] == "done"
    ]
    return problems


def expected_releases(inventory: Path) -> list[tuple[str, str, str]]:
    """(release, namespace, "<chart>-<version>") for every chart add-on the inventory enables."""
    from .inventory import load_inventory
    from .phase_support.queries import addon_charts

    charts = addon_charts(load_inventory(inventory).spec)  # Dranet's too, from v1.1 (its chart)
    return [(c.release, c.namespace, f"{c.name}-{c.version}") for c in charts]


def check_releases(expected: list[tuple[str, str, str]], listed: list[dict[str, Any]]) -> list[str]:
    """Each expected release is listed, deployed, at its pinned chart version."""
    problems = []
    if not expected:
        problems.append("the inventory enables no chart add-on: nothing to check")
    found = {(row.get("name"), row.get("namespace")): row for row in listed}
    for release, namespace, chart in expected:
        row = found.get((release, namespace))
        if row is None:
            problems.append(f"release {release} in {namespace} is not installed")
        elif row.get("chart") != chart or row.get("status") != "deployed":
            have = f"{row.get('chart')} {row.get('status')}"
            problems.append(f"release {release} in {namespace}: {have}, wanted {chart} deployed")
    return problems


def _show(report: dict[str, Any], verb: str) -> None:
    from rich.console import Console

    from .cli.apply import show_outcome, show_report

    show_report("text", report.get("cluster", "?"), report, verb)
    if report.get("outcome"):
        show_outcome(Console(highlight=False), report["outcome"])


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in CLAIMS:
        print(__doc__, file=sys.stderr)
        return 2
    claim, first, second = argv
    try:
        if claim == "releases":
            listed = json.loads(Path(second).read_text() or "[]")
            problems = check_releases(expected_releases(Path(first)), listed)
            for row in listed:
                print(f"  {row.get('namespace')}/{row.get('name')}: {row.get('chart')} {row.get('status')}")
        else:
            report = json.loads(Path(second).read_text())
            _show(report, claim.replace("-", " "))
            check = check_first_apply if claim == "first-apply" else check_second_apply
            problems = check(int(first), report)
    except (OSError, ValueError) as exc:
        problems = [f"cannot read what the command left: {exc}"]
    if problems:
        print(f"CLAIM FAILED: {CLAIMS[claim]}", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"claim holds: {CLAIMS[claim]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
