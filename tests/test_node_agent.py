"""The node-local check, installed as apply installs it, run by python3 -S with no pydantic.

The parity test is what makes the node's rules the join gate's rules: every lab fault (and the
healthy machines) probed here, judged by the controller with pydantic and by the installed tree
with the standard-library subset, must give the same findings, field for field.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bootstrap.health.expectations import Expectations, expectations_for
from bootstrap.health.rules import evaluate
from bootstrap.inventory.models import HealthThresholds, HealthWatch, Profile
from bootstrap.lab.inventory_writer import expectations as lab_profile
from bootstrap.lab.profiles import FAULT_HOME, FAULTS, PROFILES, build_machine
from bootstrap.node_agent.bundle import program_files
from bootstrap.render.health_unit import PROGRAM_DIR
from bootstrap.topology.model import Topology

from .probe_helpers import raw_probe

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)"
)


def install(root: Path) -> Path:
    """The check's files under ``root`` as apply writes them; returns the program directory."""
    for path, content in program_files():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return root / PROGRAM_DIR.lstrip("/")


def run_on_node(program: Path, script: str, stdin: Any) -> Any:
    """``script`` with the installed check imported, as the node's python3 -S runs it."""
    prelude = (
        "import importlib.util, json, sys\n"
        f"sys.path.insert(0, {str(program)!r})\n"
        "assert importlib.util.find_spec('pydantic') is None, 'pydantic is importable'\n"
        "import check\nshipped = check.load_shipped()\n"
        "data = json.load(sys.stdin)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", prelude + script],
        input=json.dumps(stdin),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def node_probe(profile: str, faults: list[str], root: Path, library: Path, monkeypatch) -> dict[str, Any]:
    """The probe's own JSON (before any validation), with the driver services the lab runs."""
    hardware = build_machine("node-1", profile, faults)
    data = raw_probe(hardware, root, library, monkeypatch)
    for key in ("fabric_manager", "persistenced", "imex"):
        service = getattr(hardware, key)
        if service and hardware.driver_preinstalled:
            data[key] = {"installed": True, "active": service.active, "version": service.version}
    return data


def expected_json(profile: str, **thresholds: object) -> dict[str, Any]:
    profile_model = Profile.model_validate(lab_profile(build_machine("p", profile)))
    return expectations_for(profile_model, HealthThresholds.model_validate(thresholds)).model_dump(
        mode="json"
    )


PARITY = """
out = []
for case in data:
    topology = shipped['model'].Topology.model_validate(case['raw'])
    findings = shipped['rules'].evaluate(topology, check.Record(case['expected']))
    out.append([f.model_dump(mode='json') for f in findings])
print(json.dumps(out))
"""


def test_the_node_judges_every_lab_machine_as_the_gate_does(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    cases = [(p, []) for p in PROFILES] + [(FAULT_HOME.get(f, "dgx-h100"), [f]) for f in sorted(FAULTS)]
    cases += [("dgx-h100", ["gpu-lost", "nvlink-down"]), ("dgx-h100", ["nvswitch-dead", "nvlink-crc-errors"])]
    inputs, wanted = [], []
    for index, (profile, faults) in enumerate(cases):
        raw = node_probe(profile, faults, tmp_path / f"root{index}", sim_library, monkeypatch)
        # severity overrides and thresholds reach the node through the rendered expectations
        expected = expected_json(profile, xid_ignore=[13], pcie_downtrained="warn")
        expected["severity"] = {"NVLINK_ERRORS": "warn", "ECC_MODE": "ignore"}
        findings = evaluate(Topology.model_validate(raw), Expectations.model_validate(expected))
        inputs.append({"raw": raw, "expected": expected})
        wanted.append([f.model_dump(mode="json") for f in findings])
    assert sum(1 for w in wanted if w) >= len(FAULTS) - 2  # the faults are seen, not all empty
    assert run_on_node(install(tmp_path / "node"), PARITY, inputs) == wanted


RUNS = """
class FakeApi:
    '''The Node as the API server keeps it: merge patch on spec, conditions merged on type.'''
    def __init__(self, node):
        self.node, self.calls = node, []
    def request(self, method, path, body=None, content_type=''):
        self.calls.append((method, path, content_type))
        if method == 'GET':
            return json.loads(json.dumps(self.node))
        if path.endswith('/status'):
            conditions = [c for c in self.node['status']['conditions']
                          if c['type'] != body['status']['conditions'][0]['type']]
            self.node['status']['conditions'] = conditions + body['status']['conditions']
        else:
            self.node['spec'].update(body['spec'])
        return self.node

api = FakeApi({'metadata': {'name': 'gpu-1', 'resourceVersion': '7'},
               'spec': {'taints': [{'key': 'example.com/mine', 'effect': 'NoSchedule'}]},
               'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}})
config = data['config']
seen = []
for index, raw in enumerate(data['runs']):
    shipped['probe'].probe = lambda raw=raw: raw
    code = check.run_once(config, shipped, api, '2026-12-02T10:%02d:00Z' % index)
    ours = [c for c in api.node['status']['conditions'] if c['type'] == 'KubehausHardwareHealthy'][0]
    with open(config['verdict_file']) as handle:
        verdict = json.load(handle)
    seen.append({'code': code, 'status': ours['status'], 'reason': ours['reason'],
                 'taints': api.node['spec']['taints'], 'verdict': verdict['verdict'],
                 'streak': verdict['consecutive_healthy_runs']})
print(json.dumps(seen))
"""


def test_a_fault_taints_the_node_and_n_healthy_runs_release_it(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    healthy = node_probe("dgx-h100", [], tmp_path / "ok", sim_library, monkeypatch)
    faulty = node_probe("dgx-h100", ["nvlink-down"], tmp_path / "bad", sim_library, monkeypatch)
    crashed = {"not": "a topology"}  # a probe whose answer does not fit: Unknown, not a fault
    config = {
        "node": "gpu-1",
        "health_policy": "taint",
        "watch": HealthWatch(healthy_runs_to_clear=2).model_dump(mode="json"),
        "expectations": expected_json("dgx-h100"),
        "verdict_file": str(tmp_path / "state" / "verdict.json"),
    }
    runs = [healthy, faulty, faulty, healthy, crashed, healthy, healthy]
    seen = run_on_node(install(tmp_path / "node"), RUNS, {"config": config, "runs": runs})
    operator = {"key": "example.com/mine", "effect": "NoSchedule"}
    ours = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    assert [(s["status"], s["reason"]) for s in seen] == [
        ("True", "HardwareHealthy"),
        ("False", "NVLINK_DOWN"),
        ("False", "NVLINK_DOWN"),
        ("False", "Recovering"),
        ("Unknown", "CheckFailed"),  # resets the count: a crashed probe is not proof of health
        ("False", "Recovering"),
        ("True", "HardwareHealthy"),
    ]
    assert [s["taints"] for s in seen] == [[operator]] + [[operator, ours]] * 5 + [[operator]]
    assert [s["verdict"] for s in seen] == ["healthy", "unhealthy", "unhealthy", "healthy", "unknown"] + [
        "healthy"
    ] * 2
    assert [s["streak"] for s in seen] == [1, 0, 0, 1, 0, 1, 2]
    assert all(s["code"] == 0 for s in seen)


def test_an_api_failure_keeps_the_last_state_and_fails_the_run(tmp_path: Path) -> None:
    script = """
class DownApi:
    def request(self, *args, **kwargs):
        raise check.ApiFailure('GET /api/v1/nodes/gpu-1: HTTP 403: forbidden')
shipped['probe'].probe = lambda: {'not': 'a topology'}
code = check.run_once(data, shipped, DownApi(), 'now')
print(json.dumps([code, json.load(open(data['verdict_file']))]))
"""
    config = {
        "node": "gpu-1",
        "health_policy": "taint",
        "watch": HealthWatch().model_dump(mode="json"),
        "expectations": {},
        "verdict_file": str(tmp_path / "verdict.json"),
    }
    code, verdict = run_on_node(install(tmp_path / "node"), script, config)
    assert code == 1
    assert verdict["verdict"] == "unknown" and verdict["state"]["healthy_streak"] == 0


def test_the_shipped_tree_parses_as_python_3_10() -> None:
    """Ubuntu 22.04 (DGX OS 6) has python3.10: no syntax newer than that in anything shipped."""
    for path, content in program_files():
        if path.endswith(".py"):
            ast.parse(content, filename=path, feature_version=(3, 10))


REFUSALS = """
out = []
for raw in data:
    try:
        shipped['model'].Topology.model_validate(raw)
        out.append(None)
    except shipped['pydantic'].ValidationError as exc:
        out.append(str(exc))
print(json.dumps(out))
"""


def test_the_node_refuses_what_the_controller_refuses(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    """A probe answer the controller's model refuses is refused on the node too (a failed check)."""
    from pydantic import ValidationError

    good = node_probe("dgx-h100", [], tmp_path / "ok", sim_library, monkeypatch)

    def changed(edit) -> dict[str, Any]:
        raw = json.loads(json.dumps(good))
        edit(raw)
        return raw

    bad = [
        changed(lambda r: r.update(surprise=1)),  # extra field
        changed(lambda r: r["gpus"][0].update(index="zero")),  # wrong type
        changed(lambda r: r["gpus"][0]["nvlinks"][0].update(remote_type="cable")),  # not a Literal
        changed(lambda r: r["gpus"][0].update(bus_id="not-a-bus-id")),  # AfterValidator refuses
        changed(lambda r: r.pop("cpu")),  # required field missing
        changed(lambda r: r["gpus"][0]["nvlinks"][0].update(active=None)),  # None for a bool
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            Topology.model_validate(raw)
    script = REFUSALS.replace("shipped['pydantic']", "sys.modules['pydantic']")
    refused = run_on_node(install(tmp_path / "node"), script, [good, *bad])
    assert refused[0] is None
    assert all(refused[1:]), refused


class ApiServer:
    """A TLS server (the lab CA's certificate) answering as the API server does for one Node."""

    def __init__(self, tmp_path: Path, node: dict[str, Any]) -> None:
        import http.server
        import ssl
        import threading

        from bootstrap.lab.lab_ca import ensure_ca, issue_server_certificate

        self.ca = ensure_ca(tmp_path / "ca", "khwatch")
        issued = issue_server_certificate(self.ca.parent, tmp_path / "tls", "apiserver", [], ["127.0.0.1"])
        self.node, self.requests = node, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def answer(self, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, "", self.headers["Authorization"], None))
                self.answer(server.node)

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                kind = self.headers["Content-Type"]
                server.requests.append(("PATCH", self.path, kind, self.headers["Authorization"], body))
                if self.path.endswith("/status"):
                    server.node["status"]["conditions"] = body["status"]["conditions"]
                else:
                    server.node["spec"].update(body["spec"])
                self.answer(server.node)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.certificate, issued.key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_the_installed_check_probes_judges_and_patches_its_node_over_tls(
    tmp_path: Path, sim_library: Path
) -> None:
    """check.py as the service runs it: the real probe (the simulated NVML as libnvidia-ml.so.1,
    a DGX H100 with an NVLink down), the Node read and patched over TLS verified against the
    cluster CA, with the node's bearer token."""
    from bootstrap.lab.nvml_profile import render_nvml_profile
    from bootstrap.lab.sysfs import render_sysfs, write_tree

    hardware = build_machine("gpu-1", "dgx-h100", ["nvlink-down"])
    root = tmp_path / "sys"
    write_tree(render_sysfs(hardware), root)
    (tmp_path / "nvml-profile").write_text(render_nvml_profile(hardware))
    libraries = tmp_path / "libs"
    libraries.mkdir()
    shutil.copy(sim_library, libraries / "libnvidia-ml.so.1")
    node = {"metadata": {"name": "gpu 1", "resourceVersion": "3"}, "spec": {}, "status": {}}
    api = ApiServer(tmp_path, node)
    # the probe reads the driver services with this machine's systemctl, which has none of them
    expectations = expected_json("dgx-h100") | {"fabric_manager": False}
    (tmp_path / "token").write_text("node-token-123\n")
    config = {
        "schema": "kubehaus.health-watch-config/v1",
        "node": "gpu 1",  # quoted into the URL path, never spliced
        "health_policy": "taint",
        "watch": HealthWatch().model_dump(mode="json"),
        "expectations": expectations,
        "api_server": api.url,
        "ca_file": str(api.ca),
        "token_file": str(tmp_path / "token"),
        "verdict_file": str(tmp_path / "state" / "verdict.json"),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    program = install(tmp_path / "node")
    env = {
        "PATH": "/usr/bin:/bin",
        "LD_LIBRARY_PATH": str(libraries),
        "KUBEHAUS_SYSFS_ROOT": str(root),
        "KUBEHAUS_LAB_NVML_PROFILE": str(tmp_path / "nvml-profile"),
    }

    def check() -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-S",
            "-I",
            str(program / "check.py"),
            "--config",
            str(tmp_path / "config.json"),
        ]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)

    result = check()
    assert result.returncode == 0, result.stderr[-3000:]
    assert [(m, p, k) for m, p, k, _, _ in api.requests] == [
        ("GET", "/api/v1/nodes/gpu%201", ""),
        ("PATCH", "/api/v1/nodes/gpu%201", "application/merge-patch+json"),
        ("PATCH", "/api/v1/nodes/gpu%201/status", "application/strategic-merge-patch+json"),
    ]
    assert {auth for _, _, _, auth, _ in api.requests} == {"Bearer node-token-123"}
    spec_patch = api.requests[1][4]
    assert spec_patch["metadata"] == {"resourceVersion": "3"}
    assert api.node["spec"]["taints"] == [
        {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    ]
    (condition,) = api.node["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "KubehausHardwareHealthy",
        "False",
        "NVLINK_DOWN",
    )
    verdict = json.loads((tmp_path / "state" / "verdict.json").read_text())
    assert verdict["verdict"] == "unhealthy" and [f["code"] for f in verdict["findings"]] == ["NVLINK_DOWN"]
    assert "node-token-123" not in result.stdout + result.stderr
    # a server whose certificate the cluster CA did not sign is refused before the token is sent
    from bootstrap.lab.lab_ca import ensure_ca

    config["ca_file"] = str(ensure_ca(tmp_path / "other-ca", "other"))
    (tmp_path / "config.json").write_text(json.dumps(config))
    seen = len(api.requests)
    refused = check()
    api.httpd.shutdown()
    assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert len(api.requests) == seen


def test_a_taint_set_before_a_failed_status_patch_is_still_cleared_later(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    healthy = node_probe("dgx-h100", [], tmp_path / "ok", sim_library, monkeypatch)
    faulty = node_probe("dgx-h100", ["nvlink-down"], tmp_path / "bad", sim_library, monkeypatch)
    script = (
        RUNS.split("api = FakeApi(")[0]
        + """
class StatusFailsOnce(FakeApi):
    failed = False
    def request(self, method, path, body=None, content_type=''):
        if path.endswith('/status') and not self.failed:
            self.failed = True
            raise check.ApiFailure('PATCH status: HTTP 503')
        return super().request(method, path, body, content_type)

api = StatusFailsOnce({'metadata': {'name': 'gpu-1'}, 'spec': {}, 'status': {'conditions': []}})
out = []
for index, raw in enumerate(data['runs']):
    shipped['probe'].probe = lambda raw=raw: raw
    code = check.run_once(data['config'], shipped, api, '2026-12-02T10:%02d:00Z' % index)
    out.append([code, api.node['spec'].get('taints', [])])
print(json.dumps(out))
"""
    )
    config = {
        "node": "gpu-1",
        "health_policy": "taint",
        "watch": HealthWatch(healthy_runs_to_clear=2).model_dump(mode="json"),
        "expectations": expected_json("dgx-h100"),
        "verdict_file": str(tmp_path / "state" / "verdict.json"),
    }
    seen = run_on_node(
        install(tmp_path / "node"), script, {"config": config, "runs": [faulty, healthy, healthy]}
    )
    ours = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    assert seen == [[1, [ours]], [0, [ours]], [0, []]]
