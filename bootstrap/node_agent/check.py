"""kubehaus's node-local hardware health check: runs ON a joined node, from its systemd timer.

The same probe and the same rules as the join gate: ``bootstrap.topology.probe``,
``bootstrap.topology.model``, ``bootstrap.health.rules``, ``.verdict``, ``.watch`` and
``.watch_state`` are installed next to this file (``lib/``) from the controller's own sources,
unchanged, with ``pydantic`` replaced by the standard-library subset in ``pydantic_subset.py`` (the
node has no pydantic, and gets nothing new to depend on). The profile's expectations and the watch
policy come rendered by apply into the config file, every default already filled in, so the node
only reads them.

One run: probe, rules, verdict; read this Node with the node-bound token; ``watch.decide`` with
what the last run left (the verdict file); patch the Node's spec (taint, cordon) and status (the
KubehausHardwareHealthy condition); write the verdict file. A run whose API calls fail keeps the
last run's state (the next run retries from it) and exits non-zero. Standard library only, and
Python 3.10 (Ubuntu 22.04) or later.
"""

from __future__ import annotations

import enum
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")
CONFIG_SCHEMA = "kubehaus.health-watch-config/v1"
API_TIMEOUT = 20
NESTED_RECORDS = ("thresholds",)  # the expectations' sub-models; every other dict stays a dict


class Record:
    """A rendered model (expectations, policy) read back: its fields as read-only attributes."""

    def __init__(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key in NESTED_RECORDS and isinstance(value, dict):
                value = Record(value)
            object.__setattr__(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a rendered record is read-only")


def _backport_strenum() -> None:
    """enum.StrEnum is 3.11's; Ubuntu 22.04's python3 is 3.10 (the findings' Severity uses it)."""
    if hasattr(enum, "StrEnum"):
        return

    class StrEnum(str, enum.Enum):  # noqa: UP042 - what 3.11's enum.StrEnum is
        __str__ = str.__str__
        __format__ = str.__format__  # type: ignore[assignment]

        @staticmethod
        def _generate_next_value_(name: str, start: int, count: int, last: list) -> str:
            return name.lower()

    enum.StrEnum = StrEnum  # type: ignore[attr-defined,misc]


def load_shipped() -> dict[str, Any]:
    """The shipped modules, imported from ``lib/`` with our pydantic subset as ``pydantic``."""
    _backport_strenum()
    if LIB not in sys.path:
        sys.path.insert(0, LIB)
    import pydantic  # only after lib/ is on the path

    if os.path.dirname(os.path.abspath(pydantic.__file__)) != LIB:
        raise RuntimeError(f"pydantic was imported from {pydantic.__file__}, not from {LIB}")
    from bootstrap.health import rules, verdict, watch, watch_state
    from bootstrap.topology import model, probe

    return {
        "rules": rules,
        "verdict": verdict,
        "watch": watch,
        "watch_state": watch_state,
        "model": model,
        "probe": probe,
    }


class ApiFailure(RuntimeError):
    pass


class Api:
    """The API server with this node's token (re-read every run, so a refreshed token is used)."""

    def __init__(self, server: str, ca_file: str, token_file: str) -> None:
        with open(token_file, encoding="utf-8") as handle:
            self.token = handle.read().strip()
        self.server = server.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_file)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT, context=self.context) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise ApiFailure(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (OSError, ValueError) as exc:
            raise ApiFailure(f"{method} {path}: {exc}") from None


def node_path(name: str) -> str:
    return "/api/v1/nodes/" + urllib.parse.quote(name, safe="")


def judge(shipped: dict[str, Any], config: dict[str, Any]) -> Any:
    """This run's verdict from a fresh probe; Unknown (never a fault, never health) if it crashed."""
    node, policy = config["node"], config["health_policy"]
    verdicts = shipped["verdict"]
    try:
        topology = shipped["model"].Topology.model_validate(shipped["probe"].probe())
        findings = shipped["rules"].evaluate(topology, Record(config["expectations"]))
    except Exception as exc:  # any crash of the probe or rules is a failed check
        return verdicts.unknown(node, policy, f"{type(exc).__name__}: {exc}"[:500])
    return verdicts.decide(node, findings, policy)


def write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def run_once(config: dict[str, Any], shipped: dict[str, Any], api: Api, now: str) -> int:
    watch, watch_state = shipped["watch"], shipped["watch_state"]
    verdict = judge(shipped, config)
    path = node_path(config["node"])
    previous_text = read_text(config["verdict_file"])
    spec_done = False  # once the taint or cordon is on the Node, the state must say so
    try:
        node = api.request("GET", path)
        previous = watch_state.state_from_verdict_file(previous_text, node)
        unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        decision = watch.decide(previous, verdict, Record(config["watch"]), now, unschedulable)
        spec_patch, status_patch = watch.node_patches(node, decision.changes)
        if spec_patch is not None:
            api.request("PATCH", path, spec_patch, "application/merge-patch+json")
        spec_done = True
        # conditions merge on their type only in a strategic merge patch
        api.request("PATCH", path + "/status", status_patch, "application/strategic-merge-patch+json")
    except ApiFailure as exc:
        # the verdict is kept locally. The state stays the last run's, so the next run retries,
        # unless the spec patch went through: then the state is this run's, or a taint or cordon
        # just set would be one no later run claims (and never removes)
        kept = watch_state.state_from_verdict_file(previous_text, {})
        state = decision.state if spec_done else kept
        write_atomically(config["verdict_file"], watch_state.verdict_file(now, verdict, state))
        print(f"kubehaus-health: the Node could not be updated: {exc}", file=sys.stderr)
        return 1
    write_atomically(config["verdict_file"], watch_state.verdict_file(now, verdict, decision.state))
    codes = ",".join(watch.failing_codes(verdict)) or "-"
    print(f"kubehaus-health: {config['node']}: {decision.changes.condition['status']} ({codes})")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "--config":
        print("usage: check.py --config /etc/kubehaus/health/config.json", file=sys.stderr)
        return 2
    try:
        with open(argv[2], encoding="utf-8") as handle:
            config = json.load(handle)
        if config.get("schema") != CONFIG_SCHEMA:
            raise ValueError(f"schema {config.get('schema')!r}, expected {CONFIG_SCHEMA}")
        if not os.path.exists(config["token_file"]):
            # issued after the join (docs/health-watch.md): a run before it has nothing to report to
            print(f"kubehaus-health: no node token at {config['token_file']} yet: nothing sent")
            return 0
        api = Api(config["api_server"], config["ca_file"], config["token_file"])
    except (OSError, ValueError, KeyError) as exc:
        print(f"kubehaus-health: cannot start: {exc}", file=sys.stderr)
        return 2
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return run_once(config, load_shipped(), api, now)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
