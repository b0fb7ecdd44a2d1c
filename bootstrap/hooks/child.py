"""Runs one hook playbook with ansible-runner, in a child process of its own.

ansible-runner hangs under gevent's monkey-patching, which the rest of kubehaus needs, so this
module never imports the engine: ``python -m bootstrap.hooks.child SPEC.json`` runs the playbook
and prints one JSON line per event the parent cares about (task started, host ok / changed /
failed / unreachable / skipped), then a last line with the run's status.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def message_of(result: dict[str, Any]) -> str:
    for key in ("msg", "stderr", "reason"):
        value = result.get(key)
        if value:
            return str(value).strip().splitlines()[-1][:500]
    return "failed (no message)"


def on_event(event: dict[str, Any]) -> bool:
    kind = event.get("event", "")
    data = event.get("event_data", {})
    if kind == "playbook_on_task_start":
        emit(event="task", task=data.get("task", ""))
    elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped"):
        result = data.get("res", {}) or {}
        status = kind.removeprefix("runner_on_")
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        if status == "ok" and result.get("changed"):
            status = "changed"
        emit(
            event=status,
            host=data.get("host", ""),
            task=data.get("task", ""),
            message=message_of(result) if status in ("failed", "unreachable") else "",
        )
    return False  # keep ansible-runner's artifacts small: events are not stored as files


def main() -> int:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    # the playbook runs with this interpreter's ansible (the same virtual environment as kubehaus)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    import ansible_runner

    result = ansible_runner.run(
        private_data_dir=spec["private_data_dir"],
        playbook=spec["playbook"],
        inventory=spec["inventory"],
        limit=",".join(spec["hosts"]),
        quiet=True,
        event_handler=on_event,
        envvars={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_RETRY_FILES_ENABLED": "False"},
        timeout=spec.get("timeout", 3600),
    )
    emit(event="end", status=result.status, rc=result.rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
