"""connect + facts against a real OpenSSH server on loopback: strict host keys, TOFU, reports."""

from __future__ import annotations

import json
import os
import socket
import textwrap
from pathlib import Path

import pytest

from bootstrap.cli import main

from .sshd import LoopbackSSHD

pytestmark = pytest.mark.ssh


def inventory_for(server: LoopbackSSHD, tmp_path: Path, extra_hosts: str = "") -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        cluster: {{name: loop, state_dir: {tmp_path / "state"}}}
        ssh: {{user: root, port: {server.port}, private_key: {server.client_key}}}
        hosts:
          - {{name: node-a, address: 127.0.0.1, roles: [control-plane]}}
        """)
        + extra_hosts
    )
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["facts", *args, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_unknown_host_key_is_refused_with_the_fix(sshd: LoopbackSSHD, tmp_path: Path, capsys) -> None:
    code, report = run_json(capsys, str(inventory_for(sshd, tmp_path)))
    assert code == 1
    entry = report["hosts"]["node-a"]
    assert entry["failed_phase"] == "connect"
    assert "host key unknown" in entry["error"] and "--trust-new-host-keys" in entry["error"]
    assert (tmp_path / "state" / "known_hosts").read_text() == ""


def test_known_host_key_connects_and_facts_are_saved(sshd: LoopbackSSHD, tmp_path: Path, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(sshd.known_hosts_line())
    code, report = run_json(capsys, str(inventory_for(sshd, tmp_path)))
    assert code == 0, report
    facts = json.loads((state / "facts" / "node-a.json").read_text())
    assert facts == report["hosts"]["node-a"]["facts"]
    assert facts["kernel"] == Path("/proc/sys/kernel/osrelease").read_text().strip()
    assert facts["hostname"] == socket.gethostname()
    assert facts["cpus"] >= 1 and facts["memory_kib"] > 0


def test_trust_on_first_use_records_the_key_then_strict_works(
    sshd: LoopbackSSHD, tmp_path: Path, capsys
) -> None:
    path = str(inventory_for(sshd, tmp_path))
    code, _ = run_json(capsys, path, "--trust-new-host-keys")
    assert code == 0
    recorded = (tmp_path / "state" / "known_hosts").read_text()
    assert recorded.split() == sshd.known_hosts_line().split()
    code, _ = run_json(capsys, path)
    assert code == 0


def test_changed_host_key_is_refused_even_with_trust_flag(sshd: LoopbackSSHD, tmp_path: Path, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbSbxbi3rMp3Vb6MhZ8Zr3zI4yJbQx0t6O1oWzJ2yDq"
    (state / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    code, report = run_json(capsys, str(inventory_for(sshd, tmp_path)), "--trust-new-host-keys")
    assert code == 1
    assert "HOST KEY CHANGED" in report["hosts"]["node-a"]["error"]


def test_an_unreachable_host_does_not_stop_the_others(sshd: LoopbackSSHD, tmp_path: Path, capsys) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    extra = f"  - {{name: node-b, address: 127.0.0.2, ssh: {{port: {closed_port}}}}}\n"
    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(sshd.known_hosts_line())
    code, report = run_json(capsys, str(inventory_for(sshd, tmp_path, extra)))
    assert code == 1
    assert report["hosts"]["node-a"]["status"] == "ok"
    assert report["hosts"]["node-b"]["failed_phase"] == "connect"


def test_runs_do_not_leak_connections(sshd: LoopbackSSHD, tmp_path: Path, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(sshd.known_hosts_line())
    path = str(inventory_for(sshd, tmp_path))
    run_json(capsys, path)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        assert run_json(capsys, path)[0] == 0
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_hung_node_is_failed_after_the_timeout(
    sshd: LoopbackSSHD, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap.inventory import load_inventory
    from bootstrap.phase_support import probe
    from bootstrap.phases import ConnectPhase, DiscoverPhase, discover
    from bootstrap.runner import Runner
    from bootstrap.state_dir import StateDir

    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(sshd.known_hosts_line())
    monkeypatch.setattr(discover, "probe_command", lambda: "sleep 30")
    monkeypatch.setattr(probe, "PROBE_TIMEOUT_SECONDS", 1)
    inventory = load_inventory(inventory_for(sshd, tmp_path))
    report = Runner(inventory, [ConnectPhase(), DiscoverPhase()], state_dir=StateDir(state)).run()
    entry = report.hosts["node-a"]
    assert (entry["status"], entry["failed_phase"]) == ("failed", "discover")
    assert "did not finish within 1 s" in entry["error"]


def test_parallel_sets_the_pool_size(sshd: LoopbackSSHD, tmp_path: Path) -> None:
    from bootstrap.cli import build_parser
    from bootstrap.inventory import load_inventory
    from bootstrap.phases import ConnectPhase
    from bootstrap.runner import Runner, RunOptions
    from bootstrap.state_dir import StateDir

    state = tmp_path / "state"
    state.mkdir()
    (state / "known_hosts").write_text(sshd.known_hosts_line())
    runner = Runner(
        load_inventory(inventory_for(sshd, tmp_path)),
        [ConnectPhase()],
        RunOptions(parallel=3),
        state_dir=StateDir(state),
    )
    assert runner.run().ok
    assert runner.ctx.state is not None and runner.ctx.state.pool.size == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["discover", "inv.yaml", "--parallel", "0"])
