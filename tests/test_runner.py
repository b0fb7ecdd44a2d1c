"""The phase runner, with phases that touch no host."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bootstrap.facts import parse_facts
from bootstrap.inventory import load_inventory
from bootstrap.runner import Phase, RunContext, Runner, RunOptions
from bootstrap.state_dir import StateDir


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def phase_started(self, phase: Phase, hosts: int) -> None:
        self.events.append(("start", phase.name, hosts))

    def host_done(self, phase: Phase, host: str, ok: bool, detail: str = "") -> None:
        self.events.append(("host", phase.name, host, ok))

    def phase_finished(self, phase: Phase, seconds: float) -> None:
        self.events.append(("end", phase.name))


class FailHost(Phase):
    name, title = "first", "Fail one host"

    def run(self, ctx: RunContext) -> None:
        ctx.fail(self, "w1", "boom")


class SeeActive(Phase):
    name, title = "second", "Record active hosts"
    seen: list[str]

    def run(self, ctx: RunContext) -> None:
        self.seen = [h.name for h in ctx.active()]


class Never(Phase):
    name, title = "never", "Skipped phase"

    def should_run(self, ctx: RunContext) -> bool:
        return False

    def run(self, ctx: RunContext) -> None:
        raise AssertionError("must not run")


@pytest.fixture
def inventory(tmp_path: Path):
    path = tmp_path / "inv.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        cluster: {{name: lab, state_dir: {tmp_path / "state"}}}
        hosts:
          - {{name: cp, address: 198.18.0.2, roles: [control-plane]}}
          - {{name: w1, address: 198.18.0.3}}
          - {{name: w2, address: 198.18.0.4}}
        """)
    )
    return load_inventory(path)


def test_failed_hosts_leave_later_phases_and_the_report_says_why(inventory, tmp_path: Path) -> None:
    recorder, second = Recorder(), SeeActive()
    report = Runner(inventory, [FailHost(), Never(), second], progress=recorder).run()
    assert second.seen == ["cp", "w2"]
    assert not report.ok
    assert report.hosts["w1"] == {"status": "failed", "failed_phase": "first", "error": "boom"}
    assert [(p.name, p.ran) for p in report.phases] == [("first", True), ("never", False), ("second", True)]
    assert recorder.events[0] == ("start", "first", 3)
    assert ("host", "first", "w1", False) in recorder.events
    saved = list((tmp_path / "state" / "runs").glob("*/report.json"))
    assert len(saved) == 1
    assert json.loads(saved[0].read_text())["hosts"]["w1"]["error"] == "boom"


def test_limit_restricts_the_run(inventory) -> None:
    second = SeeActive()
    Runner(inventory, [second], RunOptions(limit=["worker"])).run()
    assert second.seen == ["w1", "w2"]


def test_state_dir_is_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "s").ensure()
    assert (state.root.stat().st_mode & 0o777) == 0o700
    state.write_json(state.facts_file("a"), {"x": 1})
    assert (state.facts_file("a").stat().st_mode & 0o777) == 0o600


def test_fact_parsing_tolerates_missing_tools() -> None:
    lines = [
        "os_id=debian",
        "os_version=12",
        "os_name=Debian 12",
        "kernel=6.1",
        "arch=x86_64",
        "hostname=n1",
        "cpus=224",
        "sockets=",
        "cpu_model=Intel Xeon Platinum 8480C",
        "memory_kib=2113470000",
        "python3=/usr/bin/python3",
        "init=systemd",
    ]
    facts = parse_facts(lines)
    assert (facts.cpus, facts.sockets, facts.memory_kib) == (224, 0, 2113470000)
    with pytest.raises(ValueError, match="kernel"):
        parse_facts([line for line in lines if not line.startswith("kernel=")])
