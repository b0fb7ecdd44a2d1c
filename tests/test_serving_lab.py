"""Apply fails, naming the node, when the DRA GPU driver's kubelet plugin never registers there.

The smallest lab that shows it: a control plane and one DGX H100 whose kubelet stand-in runs the
plugin's pod but publishes no ResourceSlice for gpu.nvidia.com (the lab machine's
``plugins_unregistered``). Everything else serves: KAI's Deployments and queues, Dranet's pod and its
dra.net slice on the node, so the failure names exactly one thing. The wait is cut to 30 seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from bootstrap.outcome import EXIT_OK

from .lab_fixture import KUBECTL, Lab, apply_json, booted, on

pytestmark = pytest.mark.lab

SERVING_LAB = """\
name: khserve
subnet: 198.18.41.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100, plugins_unregistered: [gpu.nvidia.com], topology: {block: b1, rack: r1}}
"""


@pytest.fixture(scope="module")
def failed_apply(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, int, dict]]:
    for lab in booted(SERVING_LAB, tmp_path_factory):
        inventory = yaml.safe_load(lab.inventory.read_text())
        inventory["addons"]["serving_timeout_seconds"] = 30
        path = lab.inventory.with_name("inventory-serving.yaml")
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        code, report, _stderr = apply_json(path)
        yield lab, code, report


def test_apply_fails_naming_the_node_whose_plugin_did_not_register(
    failed_apply: tuple[Lab, int, dict],
) -> None:
    lab, code, report = failed_apply
    assert code != EXIT_OK and not report["ok"]
    (step,) = [s for s in report["steps"] if s["step"] == "serving"]
    assert step["result"] == "failed" and step["host"] == "cp-1"
    assert step["detail"] == (
        "add-ons not serving after 30s: DRA GPU driver: dgx-1: no ResourceSlice of driver gpu.nvidia.com "
        "(its kubelet plugin has not registered)"
    )
    assert report["hosts"]["cp-1"]["failed_phase"] == "serving"
    # every add-on step itself went through: it is the serving check that failed the run
    assert {s["result"] for s in report["steps"] if s["step"] == "add-on"} == {"done"}
    pods = json.loads(on(lab, "cp-1", f"{KUBECTL} get pods -A -o json").stdout)["items"]
    plugin = [p for p in pods if p["metadata"]["name"] == "dra-driver-nvidia-gpu-kubelet-plugin-dgx-1"]
    assert len(plugin) == 1 and plugin[0]["status"]["phase"] == "Running"  # it runs, unregistered
