"""The node-side unit: systemd service and timer, per-node config and verdict file, hostile values."""

from __future__ import annotations

import configparser
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.health.expectations import Expectations
from bootstrap.health.findings import Finding, Severity
from bootstrap.health.verdict import decide, unknown
from bootstrap.health.watch import HeldTaint, LocalState
from bootstrap.health.watch_state import state_from_verdict_file, verdict_file
from bootstrap.inventory.models import HealthWatch
from bootstrap.render.encode import UnsafeValue, systemd_exec, systemd_unit, systemd_value
from bootstrap.render.health_unit import (
    CONFIG_PATH,
    node_config,
    service_unit,
    timer_unit,
)


def parsed(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_the_service_is_a_oneshot_running_the_check_with_its_config() -> None:
    unit = parsed(service_unit())
    assert unit["Service"]["Type"] == "oneshot"
    assert unit["Service"]["ExecStart"] == (
        f'"/usr/bin/python3" "-S" "/usr/lib/kubehaus/health/check.py" "--config" "{CONFIG_PATH}"'
    )
    assert unit["Service"]["NoNewPrivileges"] == "yes"


@pytest.mark.parametrize("minutes", [1, 5, 1440])
def test_the_timer_runs_every_interval(minutes: int) -> None:
    timer = parsed(timer_unit(minutes))
    assert timer["Timer"]["OnUnitActiveSec"] == f"{minutes}min"
    assert timer["Timer"]["Unit"] == "kubehaus-health.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


EXPECTED = Expectations(gpu_count=8, gpu_model="H100", nvlinks_per_gpu=18, nvswitches=4)


@given(st.text(max_size=40))
def test_node_values_reach_only_the_json_config(hostile: str) -> None:
    text = node_config(hostile, EXPECTED, HealthWatch(), "taint", hostile)
    document = json.loads(text)
    assert document["node"] == hostile and document["api_server"] == hostile
    assert document["expectations"]["gpu_count"] == 8
    assert document["watch"] == {"action": "NoSchedule", "healthy_runs_to_clear": 3, "interval_minutes": 5}


@given(st.text(max_size=30))
def test_no_value_adds_a_directive(value: str) -> None:
    try:
        text = systemd_unit(
            [
                (
                    "Service",
                    [("Environment", systemd_value(value)), ("ExecStart", systemd_exec(["/bin/x", value]))],
                )
            ]
        )
    except UnsafeValue:
        return
    unit = parsed(text)
    assert list(unit.sections()) == ["Service"]
    assert list(unit["Service"]) == ["Environment", "ExecStart"]
    assert unit["Service"]["Environment"] == value.replace("%", "%%")


@pytest.mark.parametrize("value", ["a\nExecStartPre=/bin/sh", "a\\", "x\rUser=root", " lead"])
def test_values_that_would_end_the_line_are_refused(value: str) -> None:
    with pytest.raises(UnsafeValue):
        systemd_value(value)


def test_exec_arguments_are_escaped_for_systemd() -> None:
    assert systemd_exec(["/bin/echo", 'a "b" $HOME 100% \\']) == '"/bin/echo" "a \\"b\\" $$HOME 100%% \\\\"'
    with pytest.raises(UnsafeValue, match="absolute path"):
        systemd_exec(["echo"])
    with pytest.raises(UnsafeValue):
        systemd_exec(["/bin/echo", "a\nb"])
    with pytest.raises(UnsafeValue):
        systemd_unit([("Service]\n[Unit", [])])
    with pytest.raises(UnsafeValue):
        systemd_unit([("Service", [("Exec Start", "x")])])


NVLINK = Finding(code="NVLINK_DOWN", severity=Severity.FAIL, message="GPU 3: 17 of 18", remedy="r", gpu=3)


def test_the_verdict_file_round_trips_the_state() -> None:
    state = LocalState(healthy_streak=0, condition_status="False", last_transition="t0",
                       taint=HeldTaint(value="NVLINK_DOWN", effect="NoSchedule"))  # fmt: skip
    text = verdict_file("2026-12-02T07:00:00Z", decide("gpu1", [NVLINK], "taint"), state)
    document = json.loads(text)
    assert document["schema"] == "kubehaus.health-watch-verdict/v1"
    assert (document["verdict"], document["consecutive_healthy_runs"]) == ("unhealthy", 0)
    assert document["findings"][0]["code"] == "NVLINK_DOWN"
    assert state_from_verdict_file(text, {}) == state
    assert (
        json.loads(verdict_file("t", unknown("gpu1", "taint", "probe died"), LocalState()))["verdict"]
        == "unknown"
    )


@pytest.mark.parametrize(
    "text", [None, "", "{", '{"schema": "other"}', '{"schema": "kubehaus.health-watch-verdict/v1"}']
)
def test_a_lost_verdict_file_never_strands_our_taint(text: str | None) -> None:
    taint = {"key": "kubehaus.io/unhealthy", "value": "GPU_LOST", "effect": "NoExecute"}
    condition = {"type": "KubehausHardwareHealthy", "status": "False", "lastTransitionTime": "t0"}
    node = {"spec": {"unschedulable": True, "taints": [taint]}, "status": {"conditions": [condition]}}
    state = state_from_verdict_file(text, node)
    assert state.taint == HeldTaint(value="GPU_LOST", effect="NoExecute")
    assert (state.condition_status, state.last_transition, state.cordoned) == ("False", "t0", False)
    assert state_from_verdict_file(text, {}) == LocalState()
