"""The lab spec and the inventory the lab writes for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import InventoryError, load_inventory
from bootstrap.lab.inventory_writer import render_lab_inventory
from bootstrap.lab.paths import LabPaths
from bootstrap.lab.spec import load_spec, parse_spec

REPO = Path(__file__).parent.parent


def test_embedded_default_matches_the_issue() -> None:
    spec = load_spec(None)
    assert [(m.name, m.role, m.profile, m.faults) for m in spec.machines] == [
        ("cp-1", "control-plane", "cpu-only", []),
        ("dgx-1", "worker", "dgx-h100", []),
        ("dgx-2", "worker", "dgx-h100", ["nvlink-down"]),
        ("l40s-1", "worker", "l40s-pcie", []),
    ]
    assert spec.bridge_address == "198.18.0.1"
    assert [spec.address_of(m) for m in spec.machines] == [
        "198.18.0.10",
        "198.18.0.11",
        "198.18.0.12",
        "198.18.0.13",
    ]


def test_committed_lab_inventory_is_what_lab_up_writes() -> None:
    spec = load_spec(None)
    assert (
        render_lab_inventory(spec, LabPaths.for_lab(spec.name))
        == (REPO / "inventory" / "lab.yaml").read_text()
    )


def test_lab_inventory_is_valid_and_expects_the_simulated_hardware(tmp_path: Path) -> None:
    spec = load_spec(None)
    path = tmp_path / "lab.yaml"
    path.write_text(render_lab_inventory(spec, LabPaths(tmp_path)))
    (tmp_path / "id_ed25519").write_text("key")
    inventory = load_inventory(path)
    assert inventory.warnings == []
    dgx = inventory.spec.profiles["dgx-h100"]
    assert (dgx.gpus.count, dgx.gpus.nvlinks_per_gpu, dgx.nvswitches, dgx.numa_nodes) == (8, 18, 4, 2)
    assert inventory.spec.profiles["l40s-pcie"].gpus.nvlinks_per_gpu == 0
    assert inventory.known_hosts == tmp_path / "known_hosts"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("machines: [{name: a, profile: dgx-h100}]", "control-plane"),
        ("machines: [{name: a, role: control-plane, profile: dgx-h200}]", "unknown profile"),
        ("machines: [{name: a, role: control-plane, profile: cpu-only, faults: [meteor]}]", "unknown fault"),
        (
            "subnet: 10.0.0.0/24\nmachines: [{name: a, role: control-plane, profile: cpu-only}]",
            "198.18.0.0/15",
        ),
        ("machines: [{name: a-very-long-name, role: control-plane, profile: cpu-only}]", "11 characters"),
        (
            "machines:\n  - {name: a, role: control-plane, profile: cpu-only}\n"
            "  - {name: a, profile: cpu-only}",
            "repeat",
        ),
    ],
)
def test_bad_specs_are_refused_with_a_location(text: str, needle: str) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_spec(text, "spec.yaml")
    assert any(needle in d.message for d in caught.value.diagnostics)
    assert all(d.file == "spec.yaml" and d.line >= 1 for d in caught.value.diagnostics)
