"""Burn-in's pure part: tools per level, dcgmi and nccl-tests output judged, absent never passed."""

from __future__ import annotations

import json

import pytest

from bootstrap.health.burn_in import (
    DCGM_MEDIUM,
    DCGM_QUICK,
    NCCL_ALL_REDUCE,
    NVBANDWIDTH,
    judge,
    plan,
    verdict,
)


def dcgm(*results: tuple[str, int, str], runtime_error: str | None = None) -> str:
    """A document in the shape of NVIDIA/DCGM testing/python3/dcgm_diag_schema.json."""
    tests = [
        {
            "name": name,
            "results": [{"entity_group": "GPU", "entity_group_id": 1, "entity_id": gpu, "status": status,
                         **({"warnings": [{"error_category": 1, "error_id": 2, "error_severity": 3,
                                           "warning": "NVLink 4 down"}]} if status != "Pass" else {})}],
            "test_summary": {"status": status},
        }
        for name, gpu, status in results
    ]  # fmt: skip
    diagnostic: dict = {"test_categories": [{"category": "Hardware", "tests": tests}]}
    if runtime_error:
        diagnostic["runtime_error"] = runtime_error
    return json.dumps({"DCGM Diagnostic": diagnostic, "metadata": {"version": "4.2.3"}})


def test_levels_and_arguments() -> None:
    assert [t for t, _ in plan("quick", 8)] == [DCGM_QUICK]
    medium = plan("medium", 8)
    assert [t for t, _ in medium] == [DCGM_MEDIUM, NCCL_ALL_REDUCE, NVBANDWIDTH]
    assert medium[0][1] == ["dcgmi", "diag", "-r", "2", "-j"]
    assert medium[1][1][-2:] == ["-g", "8"]


def test_dcgm_pass_fail_warn_skip() -> None:
    assert judge(DCGM_QUICK, dcgm(("software", 0, "Pass"), ("pcie", 1, "Skip"))).outcome == "passed"
    failed = judge(DCGM_QUICK, dcgm(("software", 0, "Pass"), ("nvlink", 3, "Fail")))
    assert failed.outcome == "failed" and failed.details == ["nvlink on GPU 3 failed: NVLink 4 down"]
    warned = judge(DCGM_QUICK, dcgm(("memory", 2, "Warn")))
    assert warned.outcome == "passed" and warned.details == ["memory on GPU 2 warned: NVLink 4 down"]


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "not json",
        json.dumps({"DCGM GPU Diagnostic": {}}),
        dcgm(),
        dcgm(("x", 0, "Pass"), runtime_error="no GPUs"),
    ],
)
def test_unreadable_dcgm_output_is_an_error_not_a_pass(stdout: str) -> None:
    assert judge(DCGM_MEDIUM, stdout).outcome == "error"


def test_an_unknown_dcgm_status_fails() -> None:
    assert judge(DCGM_QUICK, dcgm(("software", 0, "Exploded"))).outcome == "failed"


NCCL = """#
#                                             out-of-place                       in-place
#       size     count   type redop root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
  1073741824 268435456  float   sum   -1   4870.1  220.47  385.83      0   4868.9  220.53  385.92      0
# Out of bounds values : {wrong} {ok}
# Avg bus bandwidth    : {bus}
#
"""


def test_nccl_results_and_bandwidth() -> None:
    good = NCCL.format(wrong=0, ok="OK", bus="385.875")
    assert judge(NCCL_ALL_REDUCE, good).details == ["average bus bandwidth 385.875 GB/s"]
    assert judge(NCCL_ALL_REDUCE, good, min_bus_gbps=300).outcome == "passed"
    slow = judge(NCCL_ALL_REDUCE, good, min_bus_gbps=400)
    assert slow.outcome == "failed" and "below 400 GB/s" in slow.details[0]
    wrong = judge(NCCL_ALL_REDUCE, NCCL.format(wrong=3, ok="FAILED", bus="385.875"))
    assert wrong.outcome == "failed" and "3 out-of-bounds" in wrong.details[0]
    assert judge(NCCL_ALL_REDUCE, "Segmentation fault").outcome == "error"


def test_absent_tools_are_reported_never_passed() -> None:
    results = [judge(tool, None) for tool, _ in plan("medium", 8)]
    assert [r.outcome for r in results] == ["absent"] * 3
    assert results[1].details == ["all_reduce_perf is not installed on the node"]
    summary = verdict("medium", results)
    assert (summary.blocks_join, summary.complete) == (False, False)


def test_nvbandwidth_is_not_judged_without_expectations() -> None:
    assert judge(NVBANDWIDTH, '{"nvbandwidth": {}}').outcome == "error"


def test_verdict_holds_the_node_on_failure_or_error() -> None:
    passed = judge(DCGM_MEDIUM, dcgm(("software", 0, "Pass")))
    failed = judge(DCGM_MEDIUM, dcgm(("software", 0, "Fail")))
    assert verdict("quick", [passed]).complete and not verdict("quick", [passed]).blocks_join
    assert verdict("medium", [passed, failed]).blocks_join
    assert verdict("medium", [passed, judge(NCCL_ALL_REDUCE, "")]).blocks_join
    assert not verdict("quick", []).complete
